//! Errors of the decoding service. Decode failures are not errors here: they are an outcome
//! (the frame goes to the DLQ); these are the failures of the machinery around decoding.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServiceError {
    /// The decoding actor pool is gone (the actix system is stopping).
    #[error("decoder pool unavailable: {0}")]
    Pool(#[from] actix::MailboxError),
    /// A JetStream publish was refused or not acknowledged.
    #[error("publish to {subject} failed: {source}")]
    Publish {
        subject: String,
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    /// Acknowledging a message to JetStream failed.
    #[error("ack failed: {0}")]
    Ack(String),
    /// A stream or consumer operation failed.
    #[error("{what}: {message}")]
    JetStream { what: &'static str, message: String },
}

impl ServiceError {
    pub fn jetstream(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::JetStream {
            what,
            message: e.to_string(),
        }
    }
}
