//! Publishing positions to ASTRA_POSITIONS: every record of a frame is sent at once (pipelined)
//! with its deduplication id, then every publish ack is awaited; only then may the caller ack
//! the raw frame upstream.

use super::error::ServiceError;
use super::ids::{imei_token, position_msg_id};
use astra_platform::streams;
use astra_proto::v1::Position;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use prost::Message as _;

/// Header naming the replica that published a message (for tracing work across replicas).
pub const INSTANCE_HEADER: &str = "Astra-Decoder-Instance";

#[derive(Clone)]
pub struct Publisher {
    js: jetstream::Context,
    instance: String,
}

impl Publisher {
    pub fn new(js: jetstream::Context, instance: String) -> Self {
        Self { js, instance }
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Publishes every position and waits for all acks; the current span's trace context goes
    /// with them. A position without an IMEI gets
    /// `fallback_imei` (the frame's). Returns how many JetStream reported as duplicates.
    pub async fn publish_positions(
        &self,
        positions: &mut [Position],
        fallback_imei: &str,
    ) -> Result<usize, ServiceError> {
        let mut pending = Vec::with_capacity(positions.len());
        // The same for every position of the frame: built once.
        let mut headers = HeaderMap::new();
        headers.insert(INSTANCE_HEADER, self.instance.as_str());
        // The frame's trace continues on its positions (see platform/trace.rs).
        astra_platform::trace::inject(&tracing::Span::current(), &mut headers);
        for p in positions.iter_mut() {
            if p.imei.is_empty() {
                fallback_imei.clone_into(&mut p.imei);
            }
            let subject = streams::position_subject(imei_token(&[&p.imei, fallback_imei]));
            let publish = PublishMessage::build()
                .payload(p.encode_to_vec().into())
                .headers(headers.clone())
                .message_id(position_msg_id(p));
            let ack = self
                .js
                .send_publish(subject.clone(), publish)
                .await
                .map_err(|source| ServiceError::Publish {
                    subject: subject.clone(),
                    source,
                })?;
            pending.push((subject, ack));
        }
        let mut duplicates = 0;
        for (subject, ack) in pending {
            let ack = ack
                .await
                .map_err(|source| ServiceError::Publish { subject, source })?;
            if ack.duplicate {
                duplicates += 1;
            }
        }
        Ok(duplicates)
    }
}
