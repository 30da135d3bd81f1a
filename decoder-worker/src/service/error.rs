//! Errors of the decoding service. Decode failures are not errors here: they are an outcome
//! (the frame goes to the DLQ); these are the failures of the machinery around decoding. NATS
//! failures keep async-nats' own error, whose `kind()` tells a timeout from a refusal.

use async_nats::jetstream::context::{GetStreamError, PublishError};
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
        source: PublishError,
    },
    /// The stream ASTRA_RAW could not be looked up.
    #[error("cannot get stream ASTRA_RAW: {0}")]
    GetStream(#[source] GetStreamError),
}
