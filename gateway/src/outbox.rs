//! What a session still owes its device, in order: one 0x06 per frame (written only once
//! JetStream has stored the frame), the login ack, and command lines (written after every ack
//! queued before them). Items leave strictly from the front, so acks go out in the order the
//! frames arrived.

use bytes::Bytes;
use std::collections::VecDeque;
use tokio::sync::OwnedSemaphorePermit;

/// What to write once it is this item's turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Write {
    /// The ack of a stored frame.
    FrameAck,
    /// The ack of an accepted login line.
    LoginAck,
    /// A command line, CR LF included.
    Line(Bytes),
}

enum Item {
    Frame {
        seq: u64,
        msg_id: String,
        stored: bool,
        /// Holds one of the session's in-flight slots until the ack is written.
        _slot: Option<OwnedSemaphorePermit>,
    },
    LoginAck,
    Line(Bytes),
}

#[derive(Default)]
pub(crate) struct Outbox {
    items: VecDeque<Item>,
}

impl Outbox {
    pub(crate) fn push_frame(
        &mut self,
        seq: u64,
        msg_id: String,
        slot: Option<OwnedSemaphorePermit>,
    ) {
        self.items.push_back(Item::Frame {
            seq,
            msg_id,
            stored: false,
            _slot: slot,
        });
    }

    pub(crate) fn push_login_ack(&mut self) {
        self.items.push_back(Item::LoginAck);
    }

    pub(crate) fn push_line(&mut self, line: Bytes) {
        self.items.push_back(Item::Line(line));
    }

    /// Whether a frame with this message id still waits for its ack: a device re-sending a
    /// packet it has no ack for yet gets one ack, not one per copy (an extra ack would be
    /// taken as the ack of its next packet).
    pub(crate) fn is_pending(&self, msg_id: &str) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, Item::Frame { msg_id: m, .. } if m == msg_id))
    }

    /// Marks frame `seq` as stored; false if no such frame is waiting.
    pub(crate) fn mark_stored(&mut self, seq: u64) -> bool {
        for item in &mut self.items {
            if let Item::Frame { seq: s, stored, .. } = item
                && *s == seq
            {
                *stored = true;
                return true;
            }
        }
        false
    }

    /// The front item if it can be written now.
    pub(crate) fn pop_ready(&mut self) -> Option<Write> {
        let ready = match self.items.front()? {
            Item::Frame { stored, .. } => *stored,
            Item::LoginAck | Item::Line(_) => true,
        };
        if !ready {
            return None;
        }
        Some(match self.items.pop_front()? {
            Item::Frame { .. } => Write::FrameAck,
            Item::LoginAck => Write::LoginAck,
            Item::Line(line) => Write::Line(line),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_in_arrival_order_and_lines_after_earlier_acks() {
        let mut o = Outbox::default();
        o.push_frame(1, "id1".into(), None);
        o.push_frame(2, "id2".into(), None);
        o.push_line(Bytes::from_static(b"$POLL\r\n"));
        o.push_frame(3, "id3".into(), None);
        assert!(o.is_pending("id2"));
        assert!(!o.is_pending("id4"));
        assert!(o.mark_stored(2));
        assert_eq!(o.pop_ready(), None);
        assert!(o.mark_stored(1));
        assert_eq!(o.pop_ready(), Some(Write::FrameAck));
        assert_eq!(o.pop_ready(), Some(Write::FrameAck));
        assert_eq!(
            o.pop_ready(),
            Some(Write::Line(Bytes::from_static(b"$POLL\r\n")))
        );
        assert_eq!(o.pop_ready(), None);
        assert!(o.mark_stored(3));
        assert_eq!(o.pop_ready(), Some(Write::FrameAck));
        assert!(o.is_empty());
        assert!(!o.mark_stored(9));
    }
}
