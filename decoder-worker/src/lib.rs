//! Astra Telematics decoder library and the pieces of the decoder-worker service.

pub mod cli;
pub mod codec;
pub mod geocode;
#[cfg(feature = "service")]
pub mod platform;
#[cfg(feature = "service")]
pub mod service;

pub use codec::{DecodeError, DecodeOptions, Layout, decode_frame};
