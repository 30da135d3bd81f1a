//! [`Device`]: the simulated tracker on blocking sockets, for threads. It keeps every frame sent
//! with [`send`](Device::send) until its acknowledgement, and after
//! [`reconnect`](Device::reconnect) sends them again — as a real device keeps its buffer.

use super::{Inbox, Transport};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// How long [`Device::connect`] waits for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Device::connect`] waits for the acknowledgement of the login line.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

enum Socket {
    Tcp(TcpStream),
    /// Connected to the gateway, so only its datagrams arrive.
    Udp(UdpSocket),
}

/// A simulated tracker connected to a gateway (see the [module](super) documentation).
pub struct Device {
    addr: SocketAddr,
    transport: Transport,
    login: Option<Vec<u8>>,
    connect_timeout: Duration,
    login_timeout: Duration,
    socket: Socket,
    inbox: Inbox,
    /// Frames sent with `send` and not yet acknowledged, oldest first.
    unacked: VecDeque<Vec<u8>>,
}

impl Device {
    /// Connects over TCP; with a login line, sends it and waits for its acknowledgement.
    pub fn connect(addr: SocketAddr, login: Option<&[u8]>) -> io::Result<Self> {
        Self::open_with(Transport::Tcp, addr, login, CONNECT_TIMEOUT, LOGIN_TIMEOUT)
    }

    /// Connects (TCP) or binds a socket towards `addr` (UDP). With a login line (TCP only: a
    /// UDP device has its IMEI in every header), sends it; `timeout` bounds the connection and
    /// the wait for the login's acknowledgement.
    pub fn open(
        transport: Transport,
        addr: SocketAddr,
        login: Option<&[u8]>,
        timeout: Duration,
    ) -> io::Result<Self> {
        Self::open_with(transport, addr, login, timeout, timeout)
    }

    fn open_with(
        transport: Transport,
        addr: SocketAddr,
        login: Option<&[u8]>,
        connect_timeout: Duration,
        login_timeout: Duration,
    ) -> io::Result<Self> {
        let mut device = Self {
            addr,
            transport,
            login: login.map(<[u8]>::to_vec),
            connect_timeout,
            login_timeout,
            socket: Self::socket(transport, addr, connect_timeout)?,
            inbox: Inbox::default(),
            unacked: VecDeque::new(),
        };
        device.log_in()?;
        Ok(device)
    }

    fn socket(transport: Transport, addr: SocketAddr, timeout: Duration) -> io::Result<Socket> {
        match transport {
            Transport::Tcp => {
                let stream = TcpStream::connect_timeout(&addr, timeout)?;
                stream.set_nodelay(true)?;
                Ok(Socket::Tcp(stream))
            }
            Transport::Udp => {
                let any: SocketAddr = if addr.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                let socket = UdpSocket::bind(any)?;
                socket.connect(addr)?;
                Ok(Socket::Udp(socket))
            }
        }
    }

    fn log_in(&mut self) -> io::Result<()> {
        let Some(line) = self.login.clone() else {
            return Ok(());
        };
        if self.transport == Transport::Udp {
            return Ok(());
        }
        self.write(&line)?;
        if !self.next_ack(self.login_timeout)? {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "login line not acknowledged",
            ));
        }
        Ok(())
    }

    /// The device's own address (what the gateway records as the remote address).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.socket {
            Socket::Tcp(s) => s.local_addr(),
            Socket::Udp(s) => s.local_addr(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.socket {
            Socket::Tcp(s) => s.write_all(bytes),
            Socket::Udp(s) => s.send(bytes).map(|_| ()),
        }
    }

    /// Sends a frame without waiting; it stays pending until acknowledged.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.write(frame)?;
        self.unacked.push_back(frame.to_vec());
        Ok(())
    }

    /// Sends bytes the device does not keep: garbage, partial frames, or a frame whose
    /// re-sending the caller looks after itself.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes)
    }

    /// Waits up to `timeout` for one acknowledgement (which settles the oldest pending frame):
    /// `Ok(false)` on timeout, an error when the server closed the connection.
    pub fn wait_ack(&mut self, timeout: Duration) -> io::Result<bool> {
        let acked = self.next_ack(timeout)?;
        if acked {
            self.unacked.pop_front();
        }
        Ok(acked)
    }

    /// Waits for one acknowledgement without settling a pending frame (the login line's).
    fn next_ack(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.inbox.take_ack() {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.fill(left)?;
        }
    }

    /// Sends a frame and waits for its acknowledgement, as a device does.
    pub fn send_and_wait(&mut self, frame: &[u8], timeout: Duration) -> io::Result<bool> {
        self.send(frame)?;
        self.wait_ack(timeout)
    }

    /// Consumes acknowledgements that already arrived or arrive within `grace` (stray acks of
    /// re-sent UDP datagrams, which carry no sequence number); returns how many.
    pub fn drain_acks(&mut self, grace: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + grace;
        let mut n = 0;
        loop {
            while self.inbox.take_ack() {
                n += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(n);
            }
            self.fill(left)?;
        }
    }

    /// Frames still waiting for an acknowledgement.
    pub fn pending(&self) -> usize {
        self.unacked.len()
    }

    /// Connects again (after the server dropped us), logs in again, and re-sends every
    /// unacknowledged frame.
    pub fn reconnect(&mut self) -> io::Result<()> {
        self.socket = Self::socket(self.transport, self.addr, self.connect_timeout)?;
        self.inbox.clear();
        self.log_in()?;
        let pending: Vec<Vec<u8>> = self.unacked.iter().cloned().collect();
        for frame in pending {
            self.write(&frame)?;
        }
        Ok(())
    }

    /// Command lines the server sent and nobody read yet (without CR LF), oldest first.
    pub fn take_lines(&mut self) -> Vec<String> {
        self.inbox.take_lines()
    }

    /// Waits for a command line from the server (without CR LF).
    pub fn read_line(&mut self, timeout: Duration) -> io::Result<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.inbox.next_line() {
                return Ok(Some(line));
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
        self.write(format!("{line}\r\n").as_bytes())
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

    /// One read with a timeout into the inbox; a timeout is not an error, the server closing
    /// a TCP connection is (`UnexpectedEof`).
    fn fill(&mut self, timeout: Duration) -> io::Result<()> {
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        let mut buf = [0u8; 4096];
        let read = match &mut self.socket {
            Socket::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                match s.read(&mut buf) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "server closed the connection",
                        ));
                    }
                    other => other,
                }
            }
            Socket::Udp(s) => {
                s.set_read_timeout(timeout)?;
                s.recv(&mut buf)
            }
        };
        match read {
            Ok(n) => {
                self.inbox.feed(buf.get(..n).unwrap_or_default());
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

impl Drop for Device {
    fn drop(&mut self) {
        if let Socket::Tcp(s) = &self.socket {
            // Both directions at once, so the gateway sees the session end now.
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}
