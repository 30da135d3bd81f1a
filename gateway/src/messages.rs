//! The messages other parts of the gateway send to a [`Session`](crate::session::Session)
//! actor: a command line to write to its device, and the news that the device logged in
//! again under another session. They live here, in a module that imports nothing of the
//! crate, so the command inbox, the registry and the takeover watch hold `Recipient`s of
//! these messages rather than `Addr<Session>`, and the session module is imported by nobody
//! but the listener that starts sessions.

use actix::Message;
use tokio::sync::oneshot;

/// A command line for a session to write; the device's reply goes back on `reply` (dropping
/// it unanswered means "not connected").
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Command {
    pub(crate) line: String,
    pub(crate) reply: oneshot::Sender<String>,
}

/// Another session logged in with this session's IMEI: close this one.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct TakeOver {
    pub(crate) session_id: String,
    pub(crate) gateway_id: String,
}
