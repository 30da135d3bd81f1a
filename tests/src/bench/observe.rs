//! Watching what the pipeline makes of a load run: a core-NATS subscriber on
//! `astra.position.>` and `astra.event.>` that notes, for every position and event of the run's
//! devices, which frame it came from (device number from the IMEI, frame index from the device
//! time, see [`super::traffic`]) and when it arrived. The load generator joins these with the
//! frames' send times for the end-to-end latencies.

use super::now_us;
use super::traffic::{device_number, frame_index};
use astra_proto::v1::{Event, Position};
use futures::StreamExt;
use prost::Message as _;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One position or event of a device of the run.
#[derive(Debug, Clone)]
pub struct Seen {
    pub device: u32,
    pub frame: u32,
    /// When the subscriber got it (µs since the epoch).
    pub at_us: u64,
    /// Positions: the gateway's `received_time` (µs since the epoch), 0 if absent.
    pub gateway_us: u64,
    /// Events: the type, as in the subject (`overspeed` …); empty for positions.
    pub event: String,
    /// Events: raised by processing a position (the cause in the event id is `p…`), rather
    /// than by a session change or a timer, whose delay from a frame is not a pipeline latency.
    pub from_frame: bool,
}

/// A running subscriber; [`Observer::stop`] returns what it saw.
pub struct Observer {
    positions: Arc<AtomicU64>,
    events: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Vec<Seen>>>,
}

impl Observer {
    /// Subscribes (and flushes, so nothing published after this returns is missed).
    pub async fn start(url: &str, devices: Range<u32>) -> Result<Self, async_nats::Error> {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await?;
        let positions = Arc::new(AtomicU64::new(0));
        let events = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for (subject, counter, is_event) in [
            ("astra.position.>", positions.clone(), false),
            ("astra.event.>", events.clone(), true),
        ] {
            let mut sub = client.subscribe(subject).await?;
            let mut stopped = stopped.clone();
            let devices = devices.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let message = tokio::select! {
                        m = sub.next() => m,
                        _ = stopped.changed() => None,
                    };
                    let Some(m) = message else { break };
                    let at_us = now_us();
                    let parsed = if is_event {
                        parse_event(&m.subject, &m.payload)
                    } else {
                        parse_position(&m.subject, &m.payload)
                    };
                    if let Some(mut s) = parsed.filter(|s| devices.contains(&s.device)) {
                        s.at_us = at_us;
                        counter.fetch_add(1, Ordering::Relaxed);
                        seen.push(s);
                    }
                }
                seen
            }));
        }
        client.flush().await?;
        Ok(Self {
            positions,
            events,
            stop,
            tasks,
        })
    }

    /// Positions and events seen so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.positions.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
        )
    }

    /// Stops the subscriptions; returns (positions, events).
    pub async fn stop(self) -> (Vec<Seen>, Vec<Seen>) {
        let _ = self.stop.send(true);
        let mut out = Vec::new();
        for t in self.tasks {
            out.push(t.await.unwrap_or_default());
        }
        let events = out.pop().unwrap_or_default();
        let positions = out.pop().unwrap_or_default();
        (positions, events)
    }
}

fn micros(t: &astra_proto::Timestamp) -> u64 {
    u64::try_from(t.seconds).unwrap_or(0) * 1_000_000 + u64::try_from(t.nanos / 1000).unwrap_or(0)
}

fn parse_position(subject: &str, payload: &[u8]) -> Option<Seen> {
    let imei = subject.strip_prefix("astra.position.")?;
    let device = device_number(imei)?;
    let p = Position::decode(payload).ok()?;
    Some(Seen {
        device,
        frame: frame_index(p.device_time.as_ref()?.seconds)?,
        at_us: 0,
        gateway_us: p.received_time.as_ref().map_or(0, micros),
        event: String::new(),
        from_frame: false,
    })
}

fn parse_event(subject: &str, payload: &[u8]) -> Option<Seen> {
    let rest = subject.strip_prefix("astra.event.")?;
    let (imei, kind) = rest.split_once('.')?;
    let device = device_number(imei)?;
    let e = Event::decode(payload).ok()?;
    let position = e.position.as_ref()?;
    Some(Seen {
        device,
        frame: frame_index(position.device_time.as_ref()?.seconds)?,
        at_us: 0,
        gateway_us: 0,
        event: kind.to_owned(),
        from_frame: e
            .id
            .rsplit(':')
            .next()
            .is_some_and(|cause| cause.starts_with('p')),
    })
}
