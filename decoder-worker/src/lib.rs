//! Astra Telematics decoder library and the pieces of the decoder-worker service.

pub mod cli;
pub mod codec;

pub use codec::{DecodeError, DecodeOptions, Layout, decode_frame};
