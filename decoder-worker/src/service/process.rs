//! What `run` does with one message of ASTRA_RAW: decode it on the pool, publish its positions
//! (or the frame to the DLQ), and only when JetStream has acknowledged all of that, ack the raw
//! message.
//!
//! A device's frames are handled one at a time, in delivery order (a lock stripe per IMEI), and
//! a transient NATS failure is retried in place for a while before falling back to a delayed
//! negative ack: a later frame of the same device must not overtake an earlier one, or the
//! event-worker would see the earlier position as late and raise none of its events.

use super::dlq::{self, DlqEntry, INVALID_RAW_FRAME};
use super::enrich::Enricher;
use super::error::ServiceError;
use super::ids::{imei_token, last_token};
use super::metrics::Metrics;
use super::pool::{DecodeJob, DecoderPool, session_login};
use super::publisher::Publisher;
use astra_codec::Layout;
use astra_platform::partition::partition_of;
use astra_platform::streams;
use astra_platform::trace;
use astra_proto::v1::RawFrame;
use async_nats::jetstream::{self, AckKind};
use prost::Message as _;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Lock stripes serialising the frames of one device (devices sharing a stripe just wait).
const STRIPES: u32 = 1024;
static DEVICE_LOCKS: LazyLock<Vec<tokio::sync::Mutex<()>>> =
    LazyLock::new(|| (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect());

/// How long a failing frame is retried in place before it is negatively acknowledged.
const RETRY_IN_PLACE: Duration = Duration::from_secs(30);

fn stripe(subject: &str) -> &'static tokio::sync::Mutex<()> {
    // The platform's partition hash of the subject (astra.raw.<imei>): one device, one stripe.
    let i = usize::try_from(partition_of(subject, STRIPES)).unwrap_or(0);
    // In bounds: `partition_of` is below STRIPES, the length of DEVICE_LOCKS.
    &DEVICE_LOCKS[i]
}

/// Back-off of negative acks: `base · 2^(delivered-1)`, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn delay(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max)
    }
}

/// Everything needed to handle raw messages; shared by the concurrent handlers of a replica.
pub struct Worker {
    pub pool: DecoderPool,
    pub publisher: Publisher,
    pub metrics: Metrics,
    pub layout: Layout,
    pub backoff: Backoff,
    /// Accuracy and address, added before publishing.
    pub enricher: Enricher,
}

impl Worker {
    /// Handles one message to the end: ack on success, delayed nak on a transient failure.
    pub async fn handle(&self, msg: jetstream::Message) {
        self.metrics.frames_consumed.inc();
        let (sequence, delivered) = msg
            .info()
            .map(|i| (i.stream_sequence, i.delivered))
            .unwrap_or((0, 1));
        if delivered > 1 {
            self.metrics.frames_redelivered.inc();
        }
        let span = trace::continue_from(
            tracing::info_span!("decode", subject = %msg.subject, sequence),
            msg.headers.as_ref(),
        );
        self.handle_in(msg, sequence, delivered)
            .instrument(span)
            .await;
    }

    async fn handle_in(&self, msg: jetstream::Message, sequence: u64, delivered: i64) {
        // tokio's Mutex is fair: frames of one device take the stripe in delivery order.
        let _device = stripe(&msg.subject).lock().await;
        let started = Instant::now();
        let mut attempt: i64 = 1;
        let mut result = self.process(&msg, sequence).await;
        while let Err((stage, e)) = &result {
            if started.elapsed() >= RETRY_IN_PLACE {
                break;
            }
            self.metrics.naks.with_label_values(&[stage]).inc();
            let delay = self.backoff.delay(attempt);
            tracing::warn!(sequence, attempt, stage, error = %e, ?delay, "transient failure, retrying in place");
            // Keep the message ours while retrying.
            let _ = msg.ack_with(AckKind::Progress).await;
            tokio::time::sleep(delay).await;
            attempt += 1;
            result = self.process(&msg, sequence).await;
        }
        match result {
            Ok(()) => {
                if let Err(e) = msg.ack().await {
                    // JetStream redelivers after ack_wait; the dedup ids collapse the re-publish.
                    self.metrics.ack_failures.inc();
                    tracing::warn!(sequence, error = %e, "ack failed; frame will be redelivered");
                }
            }
            Err((stage, e)) => {
                self.metrics.naks.with_label_values(&[stage]).inc();
                let delay = self.backoff.delay(delivered);
                tracing::warn!(sequence, delivered, stage, error = %e, ?delay, "transient failure, retrying later");
                if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                    tracing::warn!(sequence, error = %e, "nak failed; frame will be redelivered after ack_wait");
                }
            }
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
