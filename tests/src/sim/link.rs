//! A device's connection to a gateway: a TCP stream (with the `$MODE,6` login line and its ack)
//! or a UDP socket, with "send a frame" and "wait for one 0x06". Command lines the server sends
//! on TCP are read and set aside; only lone 0x06 bytes count as acknowledgements.

use super::config::Transport;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

pub const ACK: u8 = 0x06;

pub enum Link {
    Tcp {
        stream: TcpStream,
        /// Acks read but not yet consumed.
        acks: usize,
        /// Bytes of an unfinished `$…` command line.
        line: Vec<u8>,
        /// Complete command lines received (without CR LF), oldest first.
        lines: Vec<String>,
    },
    Udp {
        socket: UdpSocket,
        acks: usize,
    },
}

impl Link {
    /// Connects (TCP) or binds a socket towards `addr` (UDP). With a login line, sends it and
    /// waits up to `timeout` for its ack.
    pub fn open(
        transport: Transport,
        addr: SocketAddr,
        login: Option<&[u8]>,
        timeout: Duration,
    ) -> io::Result<Self> {
        match transport {
            Transport::Tcp => {
                let stream = TcpStream::connect_timeout(&addr, timeout)?;
                stream.set_nodelay(true)?;
                let mut link = Self::Tcp {
                    stream,
                    acks: 0,
                    line: Vec::new(),
                    lines: Vec::new(),
                };
                if let Some(line) = login {
                    link.send(line)?;
                    if !link.wait_ack(timeout)? {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "login line not acknowledged",
                        ));
                    }
                }
                Ok(link)
            }
            Transport::Udp => {
                let local: SocketAddr = if addr.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                let socket = UdpSocket::bind(local)?;
                socket.connect(addr)?;
                Ok(Self::Udp { socket, acks: 0 })
            }
        }
    }

    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        match self {
            Self::Tcp { stream, .. } => stream.write_all(frame),
            Self::Udp { socket, .. } => socket.send(frame).map(|_| ()),
        }
    }

    /// Waits up to `timeout` for one acknowledgement: `Ok(false)` on timeout, an error when the
    /// server closed the connection.
    pub fn wait_ack(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.take_ack() {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.fill(left)?;
        }
    }

    /// Consumes acknowledgements that already arrived or arrive within `grace` (stray acks of
    /// re-sent UDP datagrams, which carry no sequence number); returns how many.
    pub fn drain_acks(&mut self, grace: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + grace;
        let mut n = 0;
        loop {
            while self.take_ack() {
                n += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(n);
            }
            self.fill(left)?;
        }
    }

    /// Command lines the server sent since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        match self {
            Self::Tcp { lines, .. } => std::mem::take(lines),
            Self::Udp { .. } => Vec::new(),
        }
    }

    fn take_ack(&mut self) -> bool {
        let acks = match self {
            Self::Tcp { acks, .. } | Self::Udp { acks, .. } => acks,
        };
        if *acks > 0 {
            *acks -= 1;
            true
        } else {
            false
        }
    }

    /// One read with a timeout; a timeout is not an error.
    fn fill(&mut self, timeout: Duration) -> io::Result<()> {
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        let mut buf = [0u8; 2048];
        let read = match self {
            Self::Tcp { stream, .. } => {
                stream.set_read_timeout(timeout)?;
                stream.read(&mut buf)
            }
            Self::Udp { socket, .. } => {
                socket.set_read_timeout(timeout)?;
                socket.recv(&mut buf)
            }
        };
        let n = match read {
            Ok(0) if matches!(self, Self::Tcp { .. }) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let data = buf.get(..n).unwrap_or_default();
        match self {
            Self::Udp { acks, .. } => *acks += data.iter().filter(|&&b| b == ACK).count(),
            Self::Tcp {
                acks, line, lines, ..
            } => {
                for &b in data {
                    if !line.is_empty() {
                        if b == b'\n' || b == b'\r' {
                            let text = String::from_utf8_lossy(line).into_owned();
                            lines.push(text);
                            line.clear();
                        } else if line.len() < 4096 {
                            line.push(b);
                        }
                    } else if b == b'$' {
                        line.push(b);
                    } else if b == ACK {
                        *acks += 1;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Self::Tcp { stream, .. } = self {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}
