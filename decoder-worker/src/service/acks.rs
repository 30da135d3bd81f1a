//! Which deliveries of a partition's consumer may be acknowledged. The consumer acks with
//! `AckPolicy::All`: acking stream sequence S acknowledges every message of the consumer up to
//! S, so S may only be acked once every message delivered up to S is done. [`AckTracker`] keeps
//! the delivered, unacknowledged messages in stream order with their done marks, and tells the
//! partition loop three things:
//!
//! * whether a delivery is new, or a redelivery of a frame still held here (after `ack_wait`;
//!   ignored, it is being handled) or of one already acknowledged (the ack was lost: ack again);
//! * when deliveries were lost on the way: every delivery, redeliveries included, takes the
//!   consumer's next sequence, so a jump (or a step back, when a restarted server forgot some)
//!   means a frame this replica never saw may lie before the next one. Acking past it would
//!   skip it, and a device's later frame would overtake it, so the partition rebinds instead;
//! * the highest sequence that may be acked now, and how many frames that ack covers.

use std::collections::BTreeMap;

/// What a delivery is, as far as acknowledging goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery<A> {
    /// Not seen before: handle it.
    New,
    /// A redelivery of a frame still held here (queued, in progress, or done with its ack not
    /// sent yet): nothing to do.
    Held,
    /// A redelivery of a frame whose ack was sent (and lost): ack it again with this handle.
    Acked(A),
    /// Not the consumer's next delivery: some were lost (or the server forgot some).
    OutOfStep { expected: u64, got: u64 },
}

/// An acknowledgement that may be sent: `sequence` with the handle of its delivery, covering
/// `frames` frames.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ack<A> {
    pub(crate) sequence: u64,
    pub(crate) handle: A,
    pub(crate) frames: usize,
}

struct Slot<A> {
    done: bool,
    handle: A,
}

/// The acknowledgement state of one partition consumer. `A` is the handle an ack is sent with
/// (an `async_nats` `Acker`; anything in tests).
pub(crate) struct AckTracker<A> {
    /// Delivered, not yet ready to be acked (the first is not done), by stream sequence.
    open: BTreeMap<u64, Slot<A>>,
    /// The prefix that is done and not yet acked: its last sequence and handle, and its size.
    ready: Option<(u64, A)>,
    ready_frames: usize,
    /// Highest stream sequence acked (or below which the consumer started).
    acked: u64,
    /// Highest stream sequence delivered.
    highest: u64,
    /// The consumer sequence the next delivery must carry.
    next_delivery: u64,
}

impl<A> AckTracker<A> {
    /// A tracker for a consumer that starts after stream sequence `floor` and whose next
    /// delivery carries consumer sequence `next_delivery`.
    pub(crate) fn new(floor: u64, next_delivery: u64) -> Self {
        Self {
            open: BTreeMap::new(),
            ready: None,
            ready_frames: 0,
            acked: floor,
            highest: floor,
            next_delivery,
        }
    }

    /// Records a delivery; a new one is held (not done) until [`AckTracker::done`].
    pub(crate) fn deliver(
        &mut self,
        stream_sequence: u64,
        consumer_sequence: u64,
        handle: A,
    ) -> Delivery<A> {
        if consumer_sequence != self.next_delivery {
            return Delivery::OutOfStep {
                expected: self.next_delivery,
                got: consumer_sequence,
            };
        }
        self.next_delivery = self.next_delivery.saturating_add(1);
        if stream_sequence <= self.highest {
            return if stream_sequence <= self.acked {
                Delivery::Acked(handle)
            } else {
                Delivery::Held
            };
        }
        self.highest = stream_sequence;
        self.open.insert(
            stream_sequence,
            Slot {
                done: false,
                handle,
            },
        );
        Delivery::New
    }

    /// Marks a frame done; the done prefix becomes ready to be acked.
    pub(crate) fn done(&mut self, stream_sequence: u64) {
        if let Some(slot) = self.open.get_mut(&stream_sequence) {
            slot.done = true;
        }
        while let Some(entry) = self.open.first_entry() {
            if !entry.get().done {
                break;
            }
            let (sequence, slot) = entry.remove_entry();
            // Only the last handle is needed: one ack covers everything before it.
            self.ready = Some((sequence, slot.handle));
            self.ready_frames += 1;
        }
    }

    /// Frames done and covered by the next ack.
    pub(crate) fn ready(&self) -> usize {
        self.ready_frames
    }

    /// Frames delivered and not yet covered by an ack (to bound how many a partition holds).
    pub(crate) fn held(&self) -> usize {
        self.open.len() + self.ready_frames
    }

    /// The ack to send now, if any frame is ready; it counts as sent.
    pub(crate) fn take_ack(&mut self) -> Option<Ack<A>> {
        let (sequence, handle) = self.ready.take()?;
        let frames = std::mem::take(&mut self.ready_frames);
        self.acked = sequence;
        Some(Ack {
            sequence,
            handle,
            frames,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delivers stream sequences `seqs` in order, from consumer sequence 1.
    fn delivered(seqs: &[u64]) -> AckTracker<u64> {
        let mut t = AckTracker::new(0, 1);
        for (i, s) in seqs.iter().enumerate() {
            let d = t.deliver(*s, i as u64 + 1, *s);
            assert_eq!(d, Delivery::New);
        }
        t
    }

    #[test]
    fn acks_only_the_done_prefix() {
        // Sequences of one partition are not contiguous in the stream.
        let mut t = delivered(&[3, 7, 8, 12]);
        t.done(8);
        assert_eq!(t.ready(), 0, "3 and 7 are not done");
        assert_eq!(t.take_ack(), None);
        t.done(3);
        assert_eq!(t.ready(), 1);
        t.done(7);
        assert_eq!(t.ready(), 3);
        assert_eq!(t.held(), 4);
        assert_eq!(
            t.take_ack(),
            Some(Ack {
                sequence: 8,
                handle: 8,
                frames: 3
            })
        );
        assert_eq!(t.held(), 1);
        assert_eq!(t.take_ack(), None);
        t.done(12);
        assert_eq!(t.take_ack().map(|a| a.sequence), Some(12));
        assert_eq!(t.held(), 0);
    }

    #[test]
    fn redeliveries_are_held_or_acked_again() {
        let mut t = delivered(&[5, 6, 9]);
        t.done(5);
        assert_eq!(t.take_ack().map(|a| a.sequence), Some(5));
        t.done(9);
        // 5 was acked (the ack got lost), 6 is in progress, 9 is done but waits for 6.
        assert_eq!(t.deliver(5, 4, 50), Delivery::Acked(50));
        assert_eq!(t.deliver(6, 5, 60), Delivery::Held);
        assert_eq!(t.deliver(9, 6, 90), Delivery::Held);
        t.done(6);
        assert_eq!(
            t.take_ack(),
            Some(Ack {
                sequence: 9,
                handle: 9,
                frames: 2
            })
        );
        // A later new frame is still new.
        assert_eq!(t.deliver(11, 7, 11), Delivery::New);
    }

    #[test]
    fn a_lost_delivery_is_noticed() {
        let mut t = delivered(&[1, 2]);
        assert_eq!(
            t.deliver(4, 4, 4),
            Delivery::OutOfStep {
                expected: 3,
                got: 4
            }
        );
        // A restarted server that forgot deliveries steps back: also out of step.
        assert_eq!(
            t.deliver(3, 2, 3),
            Delivery::OutOfStep {
                expected: 3,
                got: 2
            }
        );
    }

    #[test]
    fn a_consumer_started_at_a_floor_acks_above_it() {
        let mut t = AckTracker::new(100, 1);
        assert_eq!(t.deliver(101, 1, 101), Delivery::New);
        assert_eq!(t.deliver(90, 2, 90), Delivery::Acked(90));
        t.done(101);
        assert_eq!(t.take_ack().map(|a| (a.sequence, a.frames)), Some((101, 1)));
    }
}
