//! Deduplication ids and subject tokens (DESIGN §3.1): a position's `Nats-Msg-Id` is
//! `<imei>:<device time as unix seconds>:<sequence>`, so the same record collapses however
//! often (and in whichever packet) it is published.

use astra_proto::v1::Position;

/// `Nats-Msg-Id` of a position.
pub fn position_msg_id(p: &Position) -> String {
    let time = p.device_time.map_or(0, |t| t.seconds);
    format!("{}:{time}:{}", p.imei, p.sequence)
}

/// `Nats-Msg-Id` of a DLQ entry: the source stream and sequence, so a redelivered bad frame
/// does not fill the DLQ twice.
pub fn dlq_msg_id(source_stream: &str, source_sequence: u64) -> String {
    format!("dlq:{source_stream}:{source_sequence}")
}

/// A string usable as one subject token: non-empty, without `.`, `*`, `>` or whitespace.
/// IMEIs are digits; anything else (a corrupt or hostile value) becomes `unknown`.
pub fn subject_token(candidate: &str) -> Option<&str> {
    let ok = !candidate.is_empty()
        && candidate.len() <= 64
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(candidate)
}

/// The IMEI token for subjects: the first usable of the candidates, else `unknown`.
pub fn imei_token<'a>(candidates: &[&'a str]) -> &'a str {
    candidates
        .iter()
        .find_map(|c| subject_token(c))
        .unwrap_or("unknown")
}

/// The last token of a subject (`astra.raw.<imei>` → `<imei>`).
pub fn last_token(subject: &str) -> &str {
    subject.rsplit('.').next().unwrap_or(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use astra_proto::Timestamp;

    #[test]
    fn position_id_is_imei_time_sequence() {
        let p = Position {
            imei: "860873041761486".into(),
            sequence: 31,
            device_time: Some(Timestamp::from_unix(1_722_356_254)),
            ..Default::default()
        };
        assert_eq!(position_msg_id(&p), "860873041761486:1722356254:31");
    }

    #[test]
    fn tokens() {
        assert_eq!(imei_token(&["", "357322043523841"]), "357322043523841");
        assert_eq!(imei_token(&["a.b", "x>"]), "unknown");
        assert_eq!(last_token("astra.raw.123"), "123");
        assert_eq!(last_token("plain"), "plain");
    }
}
