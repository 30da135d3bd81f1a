//! The decoding pool: CPU-bound decoding runs in actix `SyncArbiter` actors, one OS thread each
//! (one per core by default), so it never blocks the async threads that talk to NATS. Callers
//! share one mailbox; whichever actor is free takes the next frame.

use super::error::ServiceError;
use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use astra_codec::{DecodeError, DecodeOptions, Layout, decode_frame};
use astra_proto::v1::{LoginInfo, Position};
use bytes::Bytes;

/// One frame to decode.
pub struct DecodeJob {
    pub frame: Bytes,
    /// The session's login ($MODE,6), from `RawFrame.login`.
    pub login: Option<LoginInfo>,
    pub layout: Layout,
}

impl Message for DecodeJob {
    type Result = Result<Vec<Position>, DecodeError>;
}

/// A decoding actor: stateless, so any of them decodes any frame.
struct DecodeActor;

impl Actor for DecodeActor {
    type Context = SyncContext<Self>;
}

impl Handler<DecodeJob> for DecodeActor {
    type Result = Result<Vec<Position>, DecodeError>;

    fn handle(&mut self, job: DecodeJob, _: &mut Self::Context) -> Self::Result {
        let opts = DecodeOptions { layout: job.layout };
        decode_frame(&job.frame, job.login.as_ref(), &opts)
    }
}

/// Handle to the pool; cheap to clone.
#[derive(Clone)]
pub struct DecoderPool {
    addr: Addr<DecodeActor>,
}

impl DecoderPool {
    /// Starts `threads` decoding actors. Must be called inside a running actix `System`.
    pub fn start(threads: usize) -> Self {
        let addr = SyncArbiter::start(threads.max(1), || DecodeActor);
        Self { addr }
    }

    /// Decodes a frame on one of the actors. The outer error means the pool is gone; the inner
    /// one is the decoder's verdict on the frame.
    pub async fn decode(
        &self,
        job: DecodeJob,
    ) -> Result<Result<Vec<Position>, DecodeError>, ServiceError> {
        Ok(self.addr.send(job).await?)
    }
}

/// The `RawFrame.login` to hand to the decoder: `None` when the gateway left it empty.
pub fn session_login(login: Option<LoginInfo>) -> Option<LoginInfo> {
    login.filter(|l| !l.imei.is_empty() || !l.protocol.is_empty() || !l.line.is_empty())
}
