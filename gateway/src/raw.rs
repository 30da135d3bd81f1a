//! Building the `RawFrame` a gateway publishes to `astra.raw.<imei>`, and its `Nats-Msg-Id`: a
//! hash of the IMEI and the frame bytes, so a packet the device re-sends (because its ack was
//! lost or withheld) collapses in JetStream's duplicate window.

use astra_proto::Timestamp;
use astra_proto::v1::{LoginInfo, RawFrame, Transport};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// What identifies where a frame came from.
#[derive(Debug, Clone)]
pub(crate) struct Origin<'a> {
    pub(crate) transport: Transport,
    pub(crate) remote: SocketAddr,
    pub(crate) gateway_id: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) login: Option<&'a LoginInfo>,
}

pub(crate) fn raw_frame(imei: &str, frame: &[u8], origin: &Origin<'_>) -> RawFrame {
    let protocol = frame
        .first()
        .filter(|b| b.is_ascii_uppercase())
        .map(|&b| char::from(b).to_string())
        .unwrap_or_default();
    RawFrame {
        imei: imei.to_owned(),
        protocol,
        transport: origin.transport.into(),
        remote_addr: origin.remote.to_string(),
        gateway_id: origin.gateway_id.to_owned(),
        received_time: Some(Timestamp::now()),
        login: origin.login.cloned(),
        frame: frame.to_vec(),
        session_id: origin.session_id.to_owned(),
    }
}

/// `Nats-Msg-Id` of a raw frame: hex of the first 16 bytes of SHA-256(imei ‖ 0 ‖ frame).
pub(crate) fn message_id(imei: &str, frame: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(imei.as_bytes());
    h.update([0u8]);
    h.update(frame);
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// Starts the frame's trace: its `traceparent` travels on the raw message, and the decoder and
/// event-worker continue it (see `astra_platform::trace`).
pub(crate) fn trace_headers(imei: &str, transport: &str) -> async_nats::HeaderMap {
    let span = tracing::info_span!("frame", imei, transport);
    astra_platform::trace::headers_for(&span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_depends_on_imei_and_bytes() {
        let a = message_id("862950025797534", b"K\x00\x05ab");
        assert_eq!(a.len(), 32);
        assert_eq!(a, message_id("862950025797534", b"K\x00\x05ab"));
        assert_ne!(a, message_id("862950025797535", b"K\x00\x05ab"));
        assert_ne!(a, message_id("862950025797534", b"K\x00\x05ac"));
    }
}
