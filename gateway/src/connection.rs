//! The read side of a device's TCP socket and its buffer, as in mini-redis: [`Connection`]
//! reads until [`frame::check`] finds a whole frame, then hands out exactly those bytes. It
//! also enforces the per-connection byte rate (by throttling reads) and the idle timeout. The
//! write side lives in the [`Session`](crate::session::Session) actor, which orders acks.

use crate::throttle::Throttle;
use astra_codec::frame::{self, FrameError, FrameKind};
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

/// One whole frame as it came off the wire.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) kind: FrameKind,
    pub(crate) bytes: Bytes,
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    #[error("stream out of step ({source}); first bytes: {head}")]
    Corrupt { source: FrameError, head: String },
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("connection closed by device in the middle of a frame ({0} bytes buffered)")]
    Truncated(usize),
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
}

impl ConnectionError {
    /// Short label for metrics and session events.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Corrupt {
                source: FrameError::UnknownLeadingByte(_),
                ..
            } => "unknown_leading_byte",
            Self::Corrupt {
                source: FrameError::LineTooLong { .. },
                ..
            } => "line_too_long",
            Self::Corrupt { .. } => "bad_length",
            Self::Idle(_) => "idle_timeout",
            Self::Truncated(_) => "truncated",
            Self::Io(_) => "io_error",
        }
    }
}

pub(crate) struct Connection {
    socket: OwnedReadHalf,
    buffer: BytesMut,
    max_frame: usize,
    idle_timeout: Duration,
    throttle: Throttle,
}

/// How many leading bytes a corrupt-stream log shows.
const HEAD_BYTES: usize = 16;

impl Connection {
    pub(crate) fn new(
        socket: OwnedReadHalf,
        max_frame: usize,
        idle_timeout: Duration,
        bytes_per_sec: u64,
    ) -> Self {
        Self {
            socket,
            buffer: BytesMut::with_capacity(1024),
            max_frame,
            idle_timeout,
            throttle: Throttle::new(bytes_per_sec),
        }
    }

    /// The next frame; `Ok(None)` when the device closed the connection cleanly between frames.
    /// `bytes_read` is told how many bytes each socket read returned (for metrics).
    pub(crate) async fn read_frame(
        &mut self,
        mut bytes_read: impl FnMut(usize),
    ) -> Result<Option<Frame>, ConnectionError> {
        loop {
            if let Some(frame) = self.parse_frame()? {
                return Ok(Some(frame));
            }
            let read =
                tokio::time::timeout(self.idle_timeout, self.socket.read_buf(&mut self.buffer))
                    .await
                    .map_err(|_| ConnectionError::Idle(self.idle_timeout))??;
            if read == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(ConnectionError::Truncated(self.buffer.len()))
                };
            }
            bytes_read(read);
            self.throttle.consume(read).await;
        }
    }

    fn parse_frame(&mut self) -> Result<Option<Frame>, ConnectionError> {
        match frame::check(&self.buffer, self.max_frame) {
            Ok(Some((kind, len))) => Ok(Some(Frame {
                kind,
                bytes: self.buffer.split_to(len).freeze(),
            })),
            Ok(None) => Ok(None),
            Err(source) => {
                let head = self.buffer.get(..HEAD_BYTES).unwrap_or(&self.buffer);
                Err(ConnectionError::Corrupt {
                    source,
                    head: hex::encode(head),
                })
            }
        }
    }
}
