//! The one simulated tracker connection of the test support: a device on a real socket (TCP, or
//! UDP for the legacy AT100 datagrams) that logs in with its `$…` line when it has one, sends
//! frames, and reads what a gateway sends back — lone 0x06 bytes acknowledge a packet, `$…`
//! lines are commands. What the gateway sent is interpreted in one place, [`Inbox`]; the socket
//! comes in two flavours over it because the callers do: [`Device`] with blocking sockets for
//! threads (the simulator fleet, journeys, plain `#[test]`s), [`AsyncDevice`] on tokio for
//! async tests and the load tools (one task per device, so 100 000 connections are cheap).
//! Also here: the IMEIs and the K frames tests give such devices.

mod async_io;
mod blocking;

pub use async_io::{AsyncDevice, Read, Wire};
pub use blocking::Device;

use crate::encoder::{EncodeOptions, Protocol, encode, luhn_complete};
use astra_proto::Timestamp;
use astra_proto::v1::Position;
use std::collections::VecDeque;
use std::fmt;

/// The acknowledgement byte: the gateway has stored the packet (or accepted the login line).
pub const ACK: u8 = 0x06;

/// Longest command line kept; a gateway never sends one this long, a broken one might.
const MAX_LINE: usize = 4096;

/// How a device reaches the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// One datagram per frame, acked by a 0x06 datagram (legacy AT100); IMEI in every header.
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// What a device has received and not yet consumed: acknowledgements and command lines. Bytes
/// go in as they arrive ([`feed`](Self::feed)); a 0x06 outside a command line is one
/// acknowledgement, a `$` starts a command line that ends at CR or LF, anything else is noise.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    acks: usize,
    /// The unfinished command line (starting with `$`), if one is being read.
    line: Vec<u8>,
    /// Complete command lines (without CR LF), oldest first.
    lines: VecDeque<String>,
}

impl Inbox {
    pub fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if !self.line.is_empty() {
                if b == b'\n' || b == b'\r' {
                    let text = String::from_utf8_lossy(&self.line).into_owned();
                    self.lines.push_back(text);
                    self.line.clear();
                } else if self.line.len() < MAX_LINE {
                    self.line.push(b);
                }
            } else if b == b'$' {
                self.line.push(b);
            } else if b == ACK {
                self.acks += 1;
            }
        }
    }

    /// Consumes one acknowledgement, if one arrived.
    pub fn take_ack(&mut self) -> bool {
        let had = self.acks > 0;
        self.acks = self.acks.saturating_sub(1);
        had
    }

    /// The oldest complete command line, if any.
    pub fn next_line(&mut self) -> Option<String> {
        self.lines.pop_front()
    }

    /// Every complete command line received so far, oldest first.
    pub fn take_lines(&mut self) -> Vec<String> {
        self.lines.drain(..).collect()
    }

    /// Forgets everything (a new connection starts with nothing pending).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// A deterministic, Luhn-valid IMEI for device number `n` of a test or simulation.
pub fn imei(n: u32) -> String {
    luhn_complete(&format!("35732204{n:06}"))
}

/// A K record: `seq` and `time` make it unique; the position moves with `seq`.
pub fn k_record(seq: u8, time_unix: i64) -> Position {
    Position {
        sequence: u32::from(seq),
        latitude: Some(51.5 + f64::from(seq) / 1e4),
        longitude: Some(-0.125),
        fix_time: Some(Timestamp::from_unix(time_unix)),
        speed_kmh: Some(42.0),
        course_deg: Some(90.0),
        reason_flags: 1,
        status_flags: 1,
        battery_percent: Some(90),
        external_voltage_v: Some(12.4),
        satellites: Some(8),
        gsm_level: Some(10),
        ..Default::default()
    }
}

/// One K frame holding `records` consecutive records starting at `first_seq`.
pub fn k_frame(imei: &str, first_seq: u8, records: u8, time_unix: i64) -> Vec<u8> {
    let recs: Vec<Position> = (0..records)
        .map(|i| k_record(first_seq.wrapping_add(i), time_unix + i64::from(i)))
        .collect();
    encode(Protocol::K, imei, &recs, &EncodeOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_and_command_lines_are_told_apart() {
        let mut inbox = Inbox::default();
        inbox.feed(&[ACK, ACK]);
        inbox.feed(b"$PO");
        inbox.feed(b"LL\r\n\x06$IMEI\n");
        inbox.feed(b"noise\x06");
        assert_eq!(inbox.acks, 4);
        assert!(inbox.take_ack());
        assert_eq!(inbox.next_line().as_deref(), Some("$POLL"));
        assert_eq!(inbox.take_lines(), vec!["$IMEI".to_owned()]);
        inbox.clear();
        assert!(!inbox.take_ack());
    }

    #[test]
    fn imeis_are_luhn_valid_and_numbered() {
        let a = imei(7);
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("35732204000007"));
        assert_ne!(imei(7), imei(8));
    }
}
