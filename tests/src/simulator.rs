//! A simulated Astra device: opens a TCP connection like a tracker, logs in ($MODE,6) if asked,
//! sends frames and waits for the 0x06 acknowledgement of each, answers command lines, and keeps
//! every unacknowledged frame to re-send after a reconnect — as a real device keeps its buffer.

use crate::encoder::{EncodeOptions, Protocol, encode, luhn_complete};
use astra_proto::Timestamp;
use astra_proto::v1::Position;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const ACK: u8 = 0x06;

/// A deterministic, Luhn-valid IMEI for device number `n` of a simulation.
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

pub struct Device {
    addr: SocketAddr,
    login: Option<Vec<u8>>,
    stream: TcpStream,
    /// Frames sent but not yet acknowledged, oldest first.
    unacked: VecDeque<Vec<u8>>,
    /// Bytes read that were not yet consumed (command lines).
    inbox: Vec<u8>,
}

impl Device {
    /// Connects; with a login line, sends it and waits for its acknowledgement.
    pub fn connect(addr: SocketAddr, login: Option<&[u8]>) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        let mut device = Self {
            addr,
            login: login.map(<[u8]>::to_vec),
            stream,
            unacked: VecDeque::new(),
            inbox: Vec::new(),
        };
        device.log_in()?;
        Ok(device)
    }

    fn log_in(&mut self) -> io::Result<()> {
        if let Some(line) = self.login.clone() {
            self.stream.write_all(&line)?;
            if !self.read_ack(Duration::from_secs(10))? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "login not acknowledged",
                ));
            }
        }
        Ok(())
    }

    /// Sends a frame without waiting; it stays pending until acknowledged.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.stream.write_all(frame)?;
        self.unacked.push_back(frame.to_vec());
        Ok(())
    }

    /// Sends raw bytes that are not a frame the device keeps (garbage, partial frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Waits for one acknowledgement; `Ok(false)` on timeout, an error if the server closed.
    pub fn read_ack(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.inbox.iter().position(|&b| b == ACK) {
                self.inbox.remove(i);
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.fill(left)?;
        }
    }

    /// Waits for the acknowledgement of the oldest pending frame.
    pub fn wait_ack(&mut self, timeout: Duration) -> io::Result<bool> {
        let acked = self.read_ack(timeout)?;
        if acked {
            self.unacked.pop_front();
        }
        Ok(acked)
    }

    /// Sends a frame and waits for its acknowledgement, as a device does.
    pub fn send_and_wait(&mut self, frame: &[u8], timeout: Duration) -> io::Result<bool> {
        self.send(frame)?;
        self.wait_ack(timeout)
    }

    /// Frames still waiting for an acknowledgement.
    pub fn pending(&self) -> usize {
        self.unacked.len()
    }

    /// Reconnects (after the server dropped us) and re-sends every unacknowledged frame.
    pub fn reconnect(&mut self) -> io::Result<()> {
        self.stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
        self.stream.set_nodelay(true)?;
        self.inbox.clear();
        self.log_in()?;
        let pending: Vec<Vec<u8>> = self.unacked.iter().cloned().collect();
        for frame in pending {
            self.stream.write_all(&frame)?;
        }
        Ok(())
    }

    /// Waits for a command line from the server (without CR LF).
    pub fn read_line(&mut self, timeout: Duration) -> io::Result<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let start = self.inbox.iter().position(|&b| b == b'$');
            let end = start.and_then(|s| {
                let tail = self.inbox.get(s..)?;
                tail.iter().position(|&b| b == b'\n').map(|e| s + e + 1)
            });
            if let (Some(start), Some(end)) = (start, end) {
                let line: Vec<u8> = self.inbox.drain(start..end).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(Some(text.trim_end().to_owned()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.fill(left)?;
        }
    }

    /// Writes a reply line (CR LF added).
    pub fn reply(&mut self, line: &str) -> io::Result<()> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())
    }

    /// Whether the server has closed the connection (waits up to `timeout` to find out).
    pub fn is_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.fill(left) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return true,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(_) | Ok(()) => {}
            }
        }
    }

    fn fill(&mut self, timeout: Duration) -> io::Result<()> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            )),
            Ok(n) => {
                self.inbox
                    .extend_from_slice(buf.get(..n).unwrap_or_default());
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
