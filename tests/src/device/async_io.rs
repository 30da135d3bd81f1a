//! [`AsyncDevice`]: the simulated tracker on tokio sockets, for async tests and the load tools.
//! Besides the tracker's own moves (log in, send, wait for the 0x06, read command lines) it has
//! byte-exact reads ([`read_raw`](AsyncDevice::read_raw),
//! [`read_exact_within`](AsyncDevice::read_exact_within),
//! [`closed_within`](AsyncDevice::closed_within)) for tests that check exactly what a gateway
//! writes; those bypass the inbox, so a test uses one kind of read or the other.

use super::Inbox;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

/// A socket an [`AsyncDevice`] talks over: a TCP stream, or a UDP socket connected to the
/// gateway.
pub trait Wire: Send {
    /// Whether a read of 0 bytes means the gateway closed the connection (a stream) rather
    /// than an empty datagram.
    const STREAM: bool;

    fn send_bytes(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    fn recv_bytes(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
}

impl Wire for TcpStream {
    const STREAM: bool = true;

    async fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        AsyncWriteExt::write_all(self, bytes).await
    }

    async fn recv_bytes(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        AsyncReadExt::read(self, buf).await
    }
}

impl Wire for UdpSocket {
    const STREAM: bool = false;

    async fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send(bytes).await.map(|_| ())
    }

    async fn recv_bytes(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).await
    }
}

/// What one raw read saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Bytes(Vec<u8>),
    /// The gateway closed the connection (or it failed).
    Closed,
    /// Nothing arrived in time.
    Nothing,
}

/// A simulated tracker on a tokio socket (see the [module](super) documentation).
pub struct AsyncDevice<S = TcpStream> {
    /// The socket. Public for tests that look at it (its local address is the session's remote
    /// address) or drive it themselves (split it to write and read at once).
    pub stream: S,
    inbox: Inbox,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl AsyncDevice<TcpStream> {
    /// Connects over TCP; with a login line, sends it and waits for its acknowledgement.
    /// `timeout` bounds each of the two.
    pub async fn connect(
        addr: SocketAddr,
        login: Option<&[u8]>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connect timed out"))??;
        stream.set_nodelay(true)?;
        let mut device = Self::new(stream);
        if let Some(line) = login {
            device.log_in(line, timeout).await?;
        }
        Ok(device)
    }

    /// Closes the connection (the gateway then reports the session closed).
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// True if the gateway closes the connection within `timeout` (bytes before that are
    /// ignored).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

impl AsyncDevice<UdpSocket> {
    /// A UDP device: a socket bound to `local` (any port) and connected to the gateway at
    /// `addr`, so only the gateway's datagrams arrive.
    pub async fn udp(addr: SocketAddr, local: IpAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
        socket.connect(addr).await?;
        Ok(Self::new(socket))
    }
}

impl<S: Wire> AsyncDevice<S> {
    /// A device on a socket made elsewhere (e.g. bound to a chosen source address).
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            inbox: Inbox::default(),
        }
    }

    /// Sends the login line and waits up to `timeout` for its acknowledgement.
    pub async fn log_in(&mut self, line: &[u8], timeout: Duration) -> io::Result<()> {
        self.send(line).await?;
        if self.wait_ack(timeout).await? {
            Ok(())
        } else {
            Err(timed_out("login line not acknowledged"))
        }
    }

    /// Writes bytes: a frame, a reply, garbage.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.send_bytes(bytes).await
    }

    /// Waits up to `timeout` for one acknowledgement: `Ok(false)` on timeout, an error when the
    /// gateway closed the connection.
    pub async fn wait_ack(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.inbox.take_ack() {
                return Ok(true);
            }
            if !self.fill(deadline).await? || Instant::now() >= deadline {
                return Ok(self.inbox.take_ack());
            }
        }
    }

    /// Sends a frame and waits for its acknowledgement, as a device does.
    pub async fn send_and_wait(&mut self, frame: &[u8], timeout: Duration) -> io::Result<bool> {
        self.send(frame).await?;
        self.wait_ack(timeout).await
    }

    /// Consumes acknowledgements that already arrived or arrive within `grace` (a late ack of
    /// an earlier copy of a UDP datagram must not count for the next one); returns how many.
    pub async fn drain_acks(&mut self, grace: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + grace;
        let mut n = 0;
        loop {
            while self.inbox.take_ack() {
                n += 1;
            }
            if !self.fill(deadline).await? || Instant::now() >= deadline {
                while self.inbox.take_ack() {
                    n += 1;
                }
                return Ok(n);
            }
        }
    }

    /// Command lines the gateway sent and nobody read yet (without CR LF), oldest first.
    pub fn take_lines(&mut self) -> Vec<String> {
        self.inbox.take_lines()
    }

    /// Waits for a command line from the gateway (without CR LF).
    pub async fn read_line(&mut self, timeout: Duration) -> io::Result<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.inbox.next_line() {
                return Ok(Some(line));
            }
            if !self.fill(deadline).await? {
                return Ok(self.inbox.next_line());
            }
        }
    }

    /// Writes a reply line (CR LF added).
    pub async fn reply(&mut self, line: &str) -> io::Result<()> {
        self.send(format!("{line}\r\n").as_bytes()).await
    }

    /// One read into the inbox, until `deadline`: `Ok(false)` if nothing came in time, an
    /// error when the gateway closed the connection (`UnexpectedEof`) or the read failed.
    async fn fill(&mut self, deadline: Instant) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, self.stream.recv_bytes(&mut buf)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) if S::STREAM => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "gateway closed the connection",
            )),
            Ok(Ok(n)) => {
                self.inbox.feed(buf.get(..n).unwrap_or_default());
                Ok(true)
            }
            Ok(Err(e)) => Err(e),
        }
    }

    /// Byte-exact: what one read returns within `wait`.
    pub async fn read_raw(&mut self, wait: Duration) -> Read {
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(wait, self.stream.recv_bytes(&mut buf)).await {
            Err(_) => Read::Nothing,
            Ok(Ok(0) | Err(_)) => Read::Closed,
            Ok(Ok(k)) => Read::Bytes(buf.get(..k).unwrap_or_default().to_vec()),
        }
    }

    /// Byte-exact: reads `n` bytes within `timeout` (fewer if the connection closes or time
    /// runs out).
    pub async fn read_exact_within(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(n);
        let mut buf = [0u8; 1024];
        while out.len() < n {
            let want = (n - out.len()).min(buf.len());
            let Some(chunk) = buf.get_mut(..want) else {
                break;
            };
            match tokio::time::timeout_at(deadline, self.stream.recv_bytes(chunk)).await {
                Ok(Ok(0) | Err(_)) | Err(_) => break,
                Ok(Ok(k)) => out.extend_from_slice(chunk.get(..k).unwrap_or_default()),
            }
        }
        out
    }
}
