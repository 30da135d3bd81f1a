//! What `run` does with one frame of ASTRA_RAW: decode it on the pool, publish its positions
//! (or the frame to the DLQ), and report it done only when JetStream has acknowledged all of
//! that; the partition loop (`partition.rs`) then acknowledges it upstream.
//!
//! A transient NATS failure is retried in place, with back-off, until it succeeds: the
//! partition hands a device's next frame over only when this one is done, so a frame is never
//! set aside for later (a negative ack would let the device's next frame overtake it, and the
//! event-worker would then drop the earlier position as late). Only when the partition is being
//! stopped is a failing frame abandoned; it stays unacknowledged and the partition's next owner
//! handles it, still before the device's later frames.

use super::dlq::{self, DlqEntry, INVALID_RAW_FRAME};
use super::enrich::Enricher;
use super::error::ServiceError;
use super::ids::{imei_token, last_token};
use super::metrics::Metrics;
use super::pool::{DecodeJob, DecoderPool, session_login};
use super::publisher::Publisher;
use astra_codec::Layout;
use astra_platform::shutdown::Shutdown;
use astra_platform::streams;
use astra_platform::trace;
use astra_proto::v1::RawFrame;
use async_nats::jetstream::{self, AckKind};
use prost::Message as _;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Pause between attempts of a failing frame: `base · 2^(attempt-1)`, at most `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    pub(crate) fn delay(&self, attempt: i64) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max)
    }
}

/// How handling a frame ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Positions (or the DLQ entry) acknowledged by JetStream: the frame may be acked.
    Done,
    /// Given up because the partition is stopping; the frame must not be acked.
    Abandoned,
}

/// Everything needed to handle raw frames; shared by every partition of a replica.
pub(crate) struct Worker {
    pub(crate) pool: DecoderPool,
    pub(crate) publisher: Publisher,
    pub(crate) metrics: Metrics,
    pub(crate) layout: Layout,
    pub(crate) backoff: Backoff,
    /// Accuracy and address, added before publishing.
    pub(crate) enricher: Enricher,
}

impl Worker {
    /// Handles one frame to the end (retrying transient failures in place) unless `stop`
    /// fires while it is failing. `redelivered`: another delivery of it may have been handled
    /// before (by this consumer, or by the partition's previous owner).
    pub(crate) async fn handle(
        &self,
        msg: &jetstream::Message,
        sequence: u64,
        redelivered: bool,
        stop: &mut Shutdown,
    ) -> Outcome {
        self.metrics.frames_consumed.inc();
        if redelivered {
            self.metrics.frames_redelivered.inc();
        }
        let span = trace::continue_from(
            tracing::info_span!("decode", subject = %msg.subject, sequence),
            msg.headers.as_ref(),
        );
        self.handle_in(msg, sequence, stop).instrument(span).await
    }

    async fn handle_in(
        &self,
        msg: &jetstream::Message,
        sequence: u64,
        stop: &mut Shutdown,
    ) -> Outcome {
        let mut attempt: i64 = 1;
        loop {
            let Err((stage, e)) = self.process(msg, sequence).await else {
                return Outcome::Done;
            };
            self.metrics.naks.with_label_values(&[stage]).inc();
            if stop.is_shutdown() {
                tracing::warn!(sequence, stage, error = %e, "partition stopping; frame left to the next owner");
                return Outcome::Abandoned;
            }
            let delay = self.backoff.delay(attempt);
            tracing::warn!(sequence, attempt, stage, error = %e, ?delay, "transient failure, retrying in place");
            // Keeps JetStream from delivering it again while it is retried here.
            let _ = msg.ack_with(AckKind::Progress).await;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.recv() => return Outcome::Abandoned,
            }
            attempt += 1;
        }
    }

    async fn process(
        &self,
        msg: &jetstream::Message,
        sequence: u64,
    ) -> Result<(), (&'static str, ServiceError)> {
        let subject_imei = last_token(&msg.subject);
        let raw = match RawFrame::decode(msg.payload.clone()) {
            Ok(raw) => raw,
            Err(e) => {
                self.metrics
                    .decode_errors
                    .with_label_values(&[INVALID_RAW_FRAME])
                    .inc();
                let text = format!("payload is not a RawFrame: {e}");
                let imei = imei_token(&[subject_imei]);
                return self
                    .to_dlq(msg, imei, INVALID_RAW_FRAME, &text, sequence)
                    .await;
            }
        };
        let imei = imei_token(&[&raw.imei, subject_imei]);
        let job = DecodeJob {
            frame: raw.frame.into(),
            login: session_login(raw.login),
            layout: self.layout,
        };
        match self.pool.decode(job).await.map_err(|e| ("pool", e))? {
            Ok(mut positions) => {
                for p in &mut positions {
                    p.received_time = raw.received_time;
                    self.metrics
                        .records_decoded
                        .with_label_values(&[protocol_label(&p.protocol)])
                        .inc();
                }
                // Bounded by the geocoder timeout: a slow geocoder costs addresses, not time.
                self.enricher.enrich(&mut positions).await;
                let start = Instant::now();
                let duplicates = self
                    .publisher
                    .publish_positions(&mut positions, imei)
                    .await
                    .map_err(|e| ("publish", e))?;
                self.metrics
                    .duplicates
                    .inc_by(u64::try_from(duplicates).unwrap_or(u64::MAX));
                self.metrics
                    .publish_latency
                    .observe(start.elapsed().as_secs_f64());
                Ok(())
            }
            Err(e) => {
                let kind = e.kind();
                self.metrics.decode_errors.with_label_values(&[kind]).inc();
                tracing::debug!(sequence, imei, kind, error = %e, "frame does not decode; to DLQ");
                self.to_dlq(msg, imei, kind, &e.to_string(), sequence).await
            }
        }
    }

    async fn to_dlq(
        &self,
        msg: &jetstream::Message,
        imei: &str,
        kind: &str,
        error: &str,
        sequence: u64,
    ) -> Result<(), (&'static str, ServiceError)> {
        let entry = DlqEntry {
            imei,
            payload: msg.payload.clone(),
            kind,
            error,
            source_stream: streams::RAW,
            source_sequence: sequence,
            source_subject: &msg.subject,
            layout: self.layout,
        };
        dlq::publish(&self.publisher, entry)
            .await
            .map_err(|e| ("dlq", e))?;
        self.metrics.dlq_published.inc();
        Ok(())
    }
}

/// Protocol label for metrics: the decoder's letter, bounded to one character.
fn protocol_label(protocol: &str) -> &str {
    match protocol.len() {
        1 => protocol,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        };
        assert_eq!(b.delay(1), Duration::from_millis(500));
        assert_eq!(b.delay(2), Duration::from_secs(1));
        assert_eq!(b.delay(4), Duration::from_secs(4));
        assert_eq!(b.delay(100), Duration::from_secs(30));
        assert_eq!(b.delay(-5), Duration::from_millis(500));
    }
}
