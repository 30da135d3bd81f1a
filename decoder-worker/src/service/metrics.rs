//! Prometheus metrics of the decoder service, served by `platform::admin` on `/metrics`.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Raw frames taken from ASTRA_RAW (including redeliveries).
    pub frames_consumed: IntCounter,
    /// Frames that may have been handled before: delivered again, or taken over from a
    /// partition's previous owner that had them delivered.
    pub frames_redelivered: IntCounter,
    /// Position publishes JetStream dropped as duplicates of an earlier one (same id).
    pub duplicates: IntCounter,
    /// Positions decoded, by protocol letter.
    pub records_decoded: IntCounterVec,
    /// Frames that failed to decode, by `DecodeError::kind()` (plus `invalid_raw_frame`).
    pub decode_errors: IntCounterVec,
    /// Frames written to ASTRA_DLQ.
    pub dlq_published: IntCounter,
    /// Transient failures retried in place, by stage (`publish`, `dlq`, `pool`).
    pub naks: IntCounterVec,
    /// Acks to JetStream that failed (the frames are delivered again and deduplicated).
    pub ack_failures: IntCounter,
    /// Messages of ASTRA_RAW not yet delivered, summed over the partitions bound here.
    pub consumer_pending: IntGauge,
    /// Messages delivered but not yet acknowledged, summed over the partitions bound here.
    pub consumer_ack_pending: IntGauge,
    /// Partitions of ASTRA_RAW whose lease this replica holds.
    pub partitions_owned: IntGauge,
    /// Time from the first publish of a frame's positions to the last publish ack.
    pub publish_latency: Histogram,
    /// gRPC Decode calls, by outcome (`ok`, error kind).
    pub grpc_requests: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let frames_consumed = IntCounter::new(
            "astra_decoder_frames_consumed_total",
            "Raw frames taken from ASTRA_RAW (including redeliveries)",
        )?;
        let frames_redelivered = IntCounter::new(
            "astra_decoder_frames_redelivered_total",
            "Raw frames that may have been handled before (delivered again, or taken over from a partition's previous owner)",
        )?;
        let duplicates = IntCounter::new(
            "astra_decoder_duplicate_positions_total",
            "Position publishes JetStream dropped as duplicates (same Nats-Msg-Id)",
        )?;
        let records_decoded = IntCounterVec::new(
            Opts::new(
                "astra_decoder_records_decoded_total",
                "Positions decoded, by protocol",
            ),
            &["protocol"],
        )?;
        let decode_errors = IntCounterVec::new(
            Opts::new(
                "astra_decoder_decode_errors_total",
                "Frames that failed to decode, by error kind",
            ),
            &["kind"],
        )?;
        let dlq_published = IntCounter::new(
            "astra_decoder_dlq_published_total",
            "Frames written to ASTRA_DLQ",
        )?;
        let naks = IntCounterVec::new(
            Opts::new(
                "astra_decoder_naks_total",
                "Transient failures retried in place, by stage",
            ),
            &["stage"],
        )?;
        let ack_failures = IntCounter::new(
            "astra_decoder_ack_failures_total",
            "Acks to JetStream that failed",
        )?;
        let consumer_pending = IntGauge::new(
            "astra_decoder_consumer_pending",
            "ASTRA_RAW messages not yet delivered, summed over the partitions this replica holds (lag)",
        )?;
        let consumer_ack_pending = IntGauge::new(
            "astra_decoder_consumer_ack_pending",
            "Messages delivered but not yet acknowledged, summed over the partitions this replica holds",
        )?;
        let partitions_owned = IntGauge::new(
            "astra_decoder_partitions_owned",
            "Partitions of ASTRA_RAW whose lease this replica holds",
        )?;
        let publish_latency = Histogram::with_opts(
            HistogramOpts::new(
                "astra_decoder_publish_latency_seconds",
                "Time to publish a frame's positions until every ack arrived",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )?;
        let grpc_requests = IntCounterVec::new(
            Opts::new(
                "astra_decoder_grpc_requests_total",
                "gRPC Decode calls, by outcome",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(frames_consumed.clone()))?;
        registry.register(Box::new(frames_redelivered.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(records_decoded.clone()))?;
        registry.register(Box::new(decode_errors.clone()))?;
        registry.register(Box::new(dlq_published.clone()))?;
        registry.register(Box::new(naks.clone()))?;
        registry.register(Box::new(ack_failures.clone()))?;
        registry.register(Box::new(consumer_pending.clone()))?;
        registry.register(Box::new(consumer_ack_pending.clone()))?;
        registry.register(Box::new(partitions_owned.clone()))?;
        registry.register(Box::new(publish_latency.clone()))?;
        registry.register(Box::new(grpc_requests.clone()))?;
        Ok(Self {
            registry,
            frames_consumed,
            frames_redelivered,
            duplicates,
            records_decoded,
            decode_errors,
            dlq_published,
            naks,
            ack_failures,
            consumer_pending,
            consumer_ack_pending,
            partitions_owned,
            publish_latency,
            grpc_requests,
        })
    }
}
