//! Turning Astra bytes into `Position`s: framing, CRC, login lines and every protocol variant.
//! No runtime, no I/O: the gateway splits streams with [`frame`], the decoder-worker decodes
//! with [`decode_frame`], tools and tests use the rest.
//!
//! Imports run one way: `decode` → `protocol` → (`reader`, `imei`, `time`, `options`, `error`);
//! `options` and `error` are leaves.

pub mod crc; // CRC-16/MODBUS of binary frames
pub mod decode; // frame in, positions out: the dispatch to the protocol variants
pub(crate) mod error; // `DecodeError`, one variant per way a frame can fail
pub mod frame; // splitting a byte stream into binary frames, lines and ACKs
pub mod imei; // binary IMEIs and the Luhn check
pub mod login; // the `$ASTRA;...` login line of $MODE,6
pub mod options; // `Layout` and `DecodeOptions` (leaf: imports nothing of the crate)
pub(crate) mod protocol; // one module per protocol variant, and the X modules
pub(crate) mod reader; // bounds-checked cursor over device bytes
pub mod time; // GPS-epoch timestamps

pub use decode::{decode_frame, frame_imei};
pub use error::DecodeError;
pub use options::{DecodeOptions, Layout};
