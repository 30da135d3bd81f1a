//! The dead-letter queue: a frame that does not decode is published to `astra.dlq.<imei>` in
//! ASTRA_DLQ. The payload is the original `RawFrame` protobuf, unchanged (so a replay decodes
//! exactly what the gateway stored); the verdict and the frame's origin travel in headers:
//!
//! | header | value |
//! |---|---|
//! | `Astra-Error-Kind` | `DecodeError::kind()` (`bad_crc`, `trailing_bytes` …), or `invalid_raw_frame` |
//! | `Astra-Error` | the error text |
//! | `Astra-Source-Stream`, `Astra-Source-Sequence`, `Astra-Source-Subject` | where the frame was read |
//! | `Astra-Layout` | the module layout the decoder used (`legacy` / `current`) |
//! | `Astra-Decoder-Instance`, `Astra-Decoder-Version` | who decided |
//! | `Nats-Msg-Id` | `dlq:<source stream>:<source sequence>` |

use super::error::ServiceError;
use super::ids::dlq_msg_id;
use super::publisher::{INSTANCE_HEADER, Publisher};
use astra_codec::Layout;
use astra_platform::streams;
use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;

pub const ERROR_KIND_HEADER: &str = "Astra-Error-Kind";
pub const ERROR_HEADER: &str = "Astra-Error";
pub const SOURCE_STREAM_HEADER: &str = "Astra-Source-Stream";
pub const SOURCE_SEQUENCE_HEADER: &str = "Astra-Source-Sequence";
pub const SOURCE_SUBJECT_HEADER: &str = "Astra-Source-Subject";
pub const LAYOUT_HEADER: &str = "Astra-Layout";
pub const VERSION_HEADER: &str = "Astra-Decoder-Version";

/// Kind used when the message is not even a `RawFrame`.
pub const INVALID_RAW_FRAME: &str = "invalid_raw_frame";

/// One frame for the DLQ.
pub struct DlqEntry<'a> {
    /// Subject token of the device (already sanitised).
    pub imei: &'a str,
    /// The original message payload (a `RawFrame`, or whatever arrived).
    pub payload: Bytes,
    pub kind: &'a str,
    pub error: &'a str,
    pub source_stream: &'a str,
    pub source_sequence: u64,
    pub source_subject: &'a str,
    pub layout: Layout,
}

/// Publishes an entry and waits for its ack.
pub async fn publish(publisher: &Publisher, entry: DlqEntry<'_>) -> Result<(), ServiceError> {
    let subject = streams::dlq_subject(entry.imei);
    let mut headers = HeaderMap::new();
    headers.insert(ERROR_KIND_HEADER, header_value(entry.kind).as_str());
    headers.insert(ERROR_HEADER, header_value(entry.error).as_str());
    headers.insert(
        SOURCE_STREAM_HEADER,
        header_value(entry.source_stream).as_str(),
    );
    headers.insert(
        SOURCE_SEQUENCE_HEADER,
        entry.source_sequence.to_string().as_str(),
    );
    headers.insert(
        SOURCE_SUBJECT_HEADER,
        header_value(entry.source_subject).as_str(),
    );
    headers.insert(LAYOUT_HEADER, layout_name(entry.layout));
    headers.insert(INSTANCE_HEADER, publisher.instance());
    headers.insert(VERSION_HEADER, env!("CARGO_PKG_VERSION"));
    let publish = PublishMessage::build()
        .payload(entry.payload)
        .headers(headers)
        .message_id(dlq_msg_id(entry.source_stream, entry.source_sequence));
    let ack = publisher
        .jetstream()
        .send_publish(subject.clone(), publish)
        .await
        .map_err(|source| ServiceError::Publish {
            subject: subject.clone(),
            source,
        })?;
    ack.await
        .map_err(|source| ServiceError::Publish { subject, source })?;
    Ok(())
}

pub fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Legacy => "legacy",
        Layout::Current => "current",
    }
}

/// Header values must be one line of printable text; error texts are capped at 512 bytes.
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(512)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_single_line() {
        assert_eq!(header_value("a\r\nb"), "a  b");
        assert_eq!(header_value(&"x".repeat(600)).len(), 512);
    }
}
