//! Turning Astra bytes into `Position`s: framing, CRC, login lines and every protocol variant.

pub mod crc;
pub mod decode;
pub mod error;
pub mod frame;
pub mod imei;
pub mod login;
pub mod protocol;
pub mod reader;
pub mod time;

pub use decode::{DecodeOptions, Layout, decode_frame, frame_imei};
pub use error::DecodeError;
