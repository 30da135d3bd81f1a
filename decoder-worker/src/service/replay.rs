//! `decoder-worker replay`: after a decoder fix, re-decode the DLQ (all, or by IMEI and received
//! time) or a range of ASTRA_RAW (by stream sequence or received time) through an ordered
//! (ephemeral) consumer, and publish the positions with the same deduplication ids as `run`.
//! DLQ entries that now decode are removed (or, with `--keep`, only reported); those that still
//! fail stay where they are. One JSON line per frame goes to stdout, then a summary line; the
//! exit status is 1 if any frame still fails.

use super::config::{ReplayArgs, ReplayFilter, ReplaySource};
use super::dlq::{self, DlqEntry, ERROR_KIND_HEADER, INVALID_RAW_FRAME};
use super::enrich::Enricher;
use super::ids::{imei_token, last_token, subject_token};
use super::pool::{DecodeJob, DecoderPool, session_login};
use super::publisher::Publisher;
use astra_platform::streams;
use astra_proto::v1::RawFrame;
use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use futures::StreamExt;
use prost::Message as _;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy)]
enum Source {
    Dlq { keep: bool },
    Raw { dlq: bool },
}

/// What happened to one frame.
enum Outcome {
    /// Outside the time filter.
    Skipped,
    Decoded {
        positions: usize,
        duplicates: usize,
        removed: bool,
    },
    Failed {
        kind: String,
        error: String,
    },
}

#[derive(Default)]
struct Summary {
    scanned: u64,
    skipped: u64,
    decoded: u64,
    positions: u64,
    duplicates: u64,
    removed: u64,
    failed: u64,
}

/// Replays what `args` selects; exit code 1 if any frame still fails, 0 otherwise.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    match args.source {
        ReplaySource::Dlq(a) => replay_stream(Source::Dlq { keep: a.keep }, a.filter, None).await,
        ReplaySource::Raw(a) => {
            let range = (a.from_seq, a.to_seq);
            replay_stream(Source::Raw { dlq: a.dlq }, a.filter, Some(range)).await
        }
    }
}

/// Stored subjects of a device's frames in ASTRA_RAW: `astra.raw.<partition>.<imei>` (any
/// partition count), and `astra.raw.<imei>` for frames stored before the stream had its
/// partition transform.
fn raw_subjects(imei: &str) -> Vec<String> {
    vec![format!("astra.raw.*.{imei}"), streams::raw_subject(imei)]
}

struct Replayer {
    source: Source,
    filter: ReplayFilter,
    pool: DecoderPool,
    publisher: Publisher,
    stream: jetstream::stream::Stream,
    enricher: Enricher,
}

async fn replay_stream(
    source: Source,
    filter: ReplayFilter,
    range: Option<(Option<u64>, Option<u64>)>,
) -> anyhow::Result<ExitCode> {
    let (stream_name, subjects_of): (&str, fn(&str) -> Vec<String>) = match source {
        Source::Dlq { .. } => (streams::DLQ, |imei| vec![streams::dlq_subject(imei)]),
        Source::Raw { .. } => (streams::RAW, raw_subjects),
    };
    let subjects = filter
        .imei
        .iter()
        .map(|i| {
            subject_token(i)
                .map(subjects_of)
                .ok_or_else(|| anyhow::anyhow!("--imei {i:?} is not a valid IMEI"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .concat();
    let (from_seq, to_seq) = range.unwrap_or((None, None));
    let deliver_policy = match (from_seq, filter.since) {
        (Some(start_sequence), _) => DeliverPolicy::ByStartSequence { start_sequence },
        // Only ASTRA_RAW is in received order; DLQ entries are filtered one by one.
        (None, Some(since)) if range.is_some() => DeliverPolicy::ByStartTime {
            start_time: async_nats::datetime::from_nanos(
                i128::from(since.timestamp()) * 1_000_000_000,
            )
            .map_err(|e| anyhow::anyhow!("--since: {e}"))?,
        },
        _ => DeliverPolicy::All,
    };

    let client = filter.common.nats.connect("decoder-worker-replay").await?;
    let js = jetstream::new(client.clone());
    let layout = filter.common.nats.layout();
    let replicas = layout.replicas;
    for name in [streams::RAW, streams::POSITIONS, streams::DLQ] {
        streams::ensure_stream(&js, name, &layout).await?;
    }
    // The same accuracy and address as `run` would add (not needed when nothing is published).
    let enricher = if filter.dry_run {
        Enricher::without_addresses()
    } else {
        let registry = prometheus::Registry::new();
        Enricher::build(&filter.common.geocode, &js, replicas, &registry).await?
    };
    let stream = js.get_stream(stream_name).await?;
    let mut config = OrderedConfig {
        deliver_policy,
        ..Default::default()
    };
    if subjects.len() == 1 {
        config.filter_subject = subjects.into_iter().next().unwrap_or_default();
    } else {
        config.filter_subjects = subjects;
    }
    let consumer = stream.create_consumer(config).await?;
    // Replay what is there now: the count fixes the end even while new frames arrive.
    let total = usize::try_from(consumer.cached_info().num_pending).unwrap_or(usize::MAX);
    tracing::info!(stream = stream_name, total, "replaying");

    let in_flight = filter.in_flight.max(1);
    let replayer = Replayer {
        source,
        pool: DecoderPool::start(filter.common.threads()),
        publisher: Publisher::new(js, filter.common.instance()),
        filter,
        stream,
        enricher,
    };
    let messages = consumer.messages().await?.take(total).take_while(|m| {
        let in_range = match (m, to_seq) {
            (Ok(m), Some(to)) => m.info().map_or(true, |i| i.stream_sequence <= to),
            _ => true,
        };
        std::future::ready(in_range)
    });
    let mut results = messages
        .map(|m| {
            let replayer = &replayer;
            async move {
                let m = m?;
                replayer.one(&m).await
            }
        })
        .buffered(in_flight);

    let mut summary = Summary::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while let Some(result) = results.next().await {
        let (line, outcome) = result?;
        summary.scanned += 1;
        match &outcome {
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Decoded {
                positions,
                duplicates,
                removed,
            } => {
                summary.decoded += 1;
                summary.positions += u64::try_from(*positions).unwrap_or(u64::MAX);
                summary.duplicates += u64::try_from(*duplicates).unwrap_or(u64::MAX);
                summary.removed += u64::from(*removed);
            }
            Outcome::Failed { .. } => summary.failed += 1,
        }
        if let Some(line) = line {
            writeln!(out, "{line}")?;
        }
    }
    client.flush().await?;
    writeln!(
        out,
        "{}",
        json!({"summary": {
            "stream": stream_name,
            "scanned": summary.scanned,
            "skipped": summary.skipped,
            "decoded": summary.decoded,
            "positions": summary.positions,
            "duplicates": summary.duplicates,
            "removed": summary.removed,
            "failed": summary.failed,
            "dry_run": replayer.filter.dry_run,
        }})
    )?;
    out.flush()?;
    Ok(ExitCode::from(u8::from(summary.failed > 0)))
}

impl Replayer {
    /// Replays one stored message; returns its report line (none when skipped) and outcome.
    async fn one(
        &self,
        msg: &jetstream::Message,
    ) -> anyhow::Result<(Option<serde_json::Value>, Outcome)> {
        let sequence = msg
            .info()
            .map_err(|e| anyhow::anyhow!("message without JetStream info: {e}"))?
            .stream_sequence;
        let subject_imei = last_token(&msg.subject);
        let previous_kind = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(ERROR_KIND_HEADER))
            .map(|v| v.as_str().to_owned());
        let outcome = match RawFrame::decode(msg.payload.clone()) {
            Err(e) => Outcome::Failed {
                kind: INVALID_RAW_FRAME.to_owned(),
                error: format!("payload is not a RawFrame: {e}"),
            },
            Ok(raw) => {
                if !self.in_time_range(&raw) {
                    return Ok((None, Outcome::Skipped));
                }
                self.decode_and_publish(msg, sequence, raw, subject_imei)
                    .await?
            }
        };
        let mut line = json!({
            "stream": self.stream_name(),
            "seq": sequence,
            "imei": subject_imei,
        });
        if let Some(kind) = previous_kind {
            line["previous_kind"] = json!(kind);
        }
        match &outcome {
            Outcome::Decoded {
                positions,
                duplicates,
                removed,
            } => {
                line["result"] = json!("decoded");
                line["positions"] = json!(positions);
                line["duplicates"] = json!(duplicates);
                line["removed"] = json!(removed);
            }
            Outcome::Failed { kind, error } => {
                line["result"] = json!("failed");
                line["kind"] = json!(kind);
                line["error"] = json!(error);
            }
            Outcome::Skipped => {}
        }
        Ok((Some(line), outcome))
    }

    async fn decode_and_publish(
        &self,
        msg: &jetstream::Message,
        sequence: u64,
        raw: RawFrame,
        subject_imei: &str,
    ) -> anyhow::Result<Outcome> {
        let imei = imei_token(&[&raw.imei, subject_imei]).to_owned();
        let received_time = raw.received_time;
        let job = DecodeJob {
            frame: raw.frame.into(),
            login: session_login(raw.login),
            layout: self.filter.common.layout,
        };
        let dry_run = self.filter.dry_run;
        match self.pool.decode(job).await? {
            Ok(mut positions) => {
                for p in &mut positions {
                    p.received_time = received_time;
                }
                let duplicates = if dry_run {
                    0
                } else {
                    self.enricher.enrich(&mut positions).await;
                    self.publisher
                        .publish_positions(&mut positions, &imei)
                        .await?
                };
                let removed = match self.source {
                    Source::Dlq { keep: false } if !dry_run => {
                        self.stream.delete_message(sequence).await?
                    }
                    _ => false,
                };
                Ok(Outcome::Decoded {
                    positions: positions.len(),
                    duplicates,
                    removed,
                })
            }
            Err(e) => {
                if let (Source::Raw { dlq: true }, false) = (self.source, dry_run) {
                    let text = e.to_string();
                    let entry = DlqEntry {
                        imei: &imei,
                        payload: msg.payload.clone(),
                        kind: e.kind(),
                        error: &text,
                        source_stream: streams::RAW,
                        source_sequence: sequence,
                        source_subject: &msg.subject,
                        layout: self.filter.common.layout,
                    };
                    dlq::publish(&self.publisher, entry).await?;
                }
                Ok(Outcome::Failed {
                    kind: e.kind().to_owned(),
                    error: e.to_string(),
                })
            }
        }
    }

    fn stream_name(&self) -> &'static str {
        match self.source {
            Source::Dlq { .. } => streams::DLQ,
            Source::Raw { .. } => streams::RAW,
        }
    }

    /// Whether the gateway's receive time lies in `[since, until)`; frames without one only
    /// pass when no time filter is set.
    fn in_time_range(&self, raw: &RawFrame) -> bool {
        let (since, until) = (self.filter.since, self.filter.until);
        if since.is_none() && until.is_none() {
            return true;
        }
        let Some(t) = raw.received_time.and_then(|t| t.to_datetime()) else {
            return false;
        };
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u)
    }
}
