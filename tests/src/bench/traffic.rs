//! Device traffic for the load generator: which kinds of device (protocol, X mode, transport) a
//! run mixes, the frames each sends, and an asynchronous link that delivers them the way a
//! tracker does (one packet in flight, waiting for its 0x06).
//!
//! Frame `idx` of device `n` carries report `idx % 6` of the scripted journey
//! ([`crate::journey::report`]: standing, 40 km/h, 120 km/h, panic, journey stop, ignition
//! off), with device time [`BASE_TIME`] + `idx` seconds and sequence `idx % 256`. So the
//! device time identifies the frame in the position and in the event it causes, and with
//! `--speed-limit-kmh 100` every sixth frame raises an OVERSPEED.

use crate::device::AsyncDevice;
use crate::encoder::{EncodeOptions, Protocol, encode};
use crate::journey::{self, Kind, REPORTS};
use astra_proto::Timestamp;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpStream, UdpSocket};

/// Device time of frame 0 (2026-01-01T00:00:00Z).
pub const BASE_TIME: i64 = journey::T0;

/// Parses a mix: `all` (every protocol over TCP, X and Z in both modes, and K, C, X over UDP),
/// `tcp`, `udp`, or a comma list of `K`, `M`, `V`, `C`, `X4`, `X6`, `Z`, `K/udp`, `C/udp`,
/// `X/udp`. Device `n` of a run is of kind `n % len`.
pub fn parse_mix(s: &str) -> Result<Vec<Kind>, String> {
    match s {
        "all" => return Ok(Kind::all()),
        "tcp" => return Ok(Kind::all().into_iter().filter(|k| !k.udp).collect()),
        "udp" => return Ok(Kind::all().into_iter().filter(|k| k.udp).collect()),
        _ => {}
    }
    s.split(',')
        .map(|t| match t.trim() {
            "K" => Ok(Kind::tcp(Protocol::K)),
            "M" => Ok(Kind::tcp(Protocol::M)),
            "V" => Ok(Kind::tcp(Protocol::V)),
            "C" => Ok(Kind::tcp(Protocol::C)),
            "X4" => Ok(Kind::mode4(Protocol::X)),
            "X6" | "X" => Ok(Kind::tcp(Protocol::X)),
            "Z" | "Z6" => Ok(Kind::tcp(Protocol::Z)),
            "Z4" => Ok(Kind::mode4(Protocol::Z)),
            "K/udp" => Ok(Kind::udp(Protocol::K)),
            "C/udp" => Ok(Kind::udp(Protocol::C)),
            "X/udp" => Ok(Kind::udp(Protocol::X)),
            other => Err(format!("unknown device kind {other:?}")),
        })
        .collect()
}

/// A short name: `K`, `X6`, `K/udp` …
pub fn kind_name(k: Kind) -> String {
    let mut name = k.protocol.name().to_owned();
    if k.protocol.is_modular() {
        name.push(if k.mode == crate::encoder::XMode::Mode4 {
            '4'
        } else {
            '6'
        });
    }
    if k.udp {
        name.push_str("/udp");
    }
    name
}

/// Frame `idx` of device `n` (see the module documentation).
pub fn frame(kind: Kind, imei: &str, n: u32, idx: u32) -> Vec<u8> {
    // The journey's latitude grows with n; keep it on Earth for any device number.
    let mut r = journey::report(n % 1000, idx % REPORTS);
    let t = Timestamp::from_unix(BASE_TIME + i64::from(idx));
    r.device_time = Some(t);
    r.fix_time = Some(t);
    r.sequence = idx % 256;
    if kind.protocol.is_modular() {
        // Module 1: GPS data (position, speed).
        r.module_mask = 1 << 1;
    }
    let opts = EncodeOptions {
        mode: kind.mode,
        ..EncodeOptions::default()
    };
    encode(kind.protocol, imei, &[r], &opts)
}

/// The frame index a device time stands for (see [`frame`]).
pub fn frame_index(device_time_s: i64) -> Option<u32> {
    u32::try_from(device_time_s - BASE_TIME).ok()
}

/// Device number of an IMEI made by [`crate::device::imei`].
pub fn device_number(imei: &str) -> Option<u32> {
    imei.get(8..14)?.parse().ok()
}

/// A device's connection to a gateway.
pub enum Link {
    Tcp(AsyncDevice<TcpStream>),
    Udp(AsyncDevice<UdpSocket>),
}

/// Why a frame was not acknowledged.
#[derive(Debug)]
pub enum SendError {
    Timeout,
    Io(io::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("no ack"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

/// How long a device waits for the acknowledgement of its login line.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A UDP device re-sends a datagram after this long without its ack.
const UDP_RESEND: Duration = Duration::from_secs(1);

impl Link {
    /// Connects (TCP: from `src`, logging in first when the kind does; UDP: a socket bound to
    /// `src` and connected to the gateway).
    pub async fn open(
        gateway: SocketAddr,
        src: Option<Ipv4Addr>,
        kind: Kind,
        imei: &str,
    ) -> io::Result<Self> {
        if kind.udp {
            let ip = src.unwrap_or(Ipv4Addr::LOCALHOST);
            return Ok(Link::Udp(AsyncDevice::udp(gateway, ip.into()).await?));
        }
        let mut device = AsyncDevice::new(super::connect_from(src, gateway).await?);
        if let Some(login) = kind.login(imei) {
            device.log_in(&login, LOGIN_TIMEOUT).await?;
        }
        Ok(Link::Tcp(device))
    }

    /// Sends one frame and waits for its acknowledgement. UDP re-sends after a second without
    /// one, as the devices do (the gateway's dedup collapses the copy).
    pub async fn send(&mut self, frame: &[u8], timeout: Duration) -> Result<(), SendError> {
        let acked = match self {
            Link::Tcp(device) => device.send_and_wait(frame, timeout).await,
            Link::Udp(device) => {
                // A late ack of an earlier copy must not count for this frame; an error left on
                // the socket by an earlier datagram (ICMP unreachable) is not this frame's.
                let _ = device.drain_acks(Duration::ZERO).await;
                let deadline = tokio::time::Instant::now() + timeout;
                loop {
                    device.send(frame).await.map_err(SendError::Io)?;
                    let until = (tokio::time::Instant::now() + UDP_RESEND).min(deadline);
                    let wait = until.saturating_duration_since(tokio::time::Instant::now());
                    match device.wait_ack(wait).await {
                        Ok(false) if until < deadline => {}
                        other => break other,
                    }
                }
            }
        };
        match acked {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::Timeout),
            Err(e) => Err(SendError::Io(e)),
        }
    }

    /// Closes a TCP connection (the gateway then reports the session closed).
    pub async fn close(self) {
        if let Link::Tcp(device) = self {
            device.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astra_codec::login::parse_login;
    use astra_codec::{DecodeOptions, decode_frame};

    #[test]
    fn every_kind_of_the_mix_decodes_with_its_frame_index() {
        let imei = crate::device::imei(123_456);
        assert_eq!(device_number(&imei), Some(123_456));
        for kind in parse_mix("all").unwrap() {
            let login = kind
                .login(&imei)
                .map(|l| parse_login(l.trim_ascii_end()).unwrap());
            for idx in [0u32, 2, 257, 100_000] {
                let f = frame(kind, &imei, 123_456, idx);
                let p = decode_frame(&f, login.as_ref(), &DecodeOptions::default()).unwrap();
                let t = p[0].device_time.as_ref().unwrap().seconds;
                assert_eq!(frame_index(t), Some(idx), "{}", kind_name(kind));
            }
        }
        assert_eq!(parse_mix("tcp").unwrap().len(), 7);
        assert_eq!(parse_mix("K,X6,C/udp").unwrap().len(), 3);
        assert!(parse_mix("Q").is_err());
    }
}
