//! The one error type of the decoder: a precise variant per way a frame can fail.

use thiserror::Error;

/// Why a frame, a login line or a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("length field says {declared} bytes but the frame has {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("length field {declared} is below the smallest frame ({min} bytes)")]
    LengthTooSmall { declared: usize, min: usize },
    #[error("length field {declared} exceeds the maximum frame size {max}")]
    FrameTooLarge { declared: usize, max: usize },
    #[error("bad CRC: trailer {trailer:#06x}, computed {computed:#06x}")]
    BadCrc { trailer: u16, computed: u16 },
    #[error("unknown protocol id {0:#04x}")]
    UnknownProtocol(u8),
    #[error("protocol {0} is known but its layout is not published, so it cannot be decoded")]
    UnsupportedProtocol(char),
    #[error("unknown module bit {bit}")]
    UnknownModule { bit: u8 },
    #[error("module bit {bit} declares an invalid length {length}")]
    BadModuleLength { bit: u8, length: usize },
    #[error("invalid IMEI: {0}")]
    InvalidImei(String),
    #[error("invalid login line: {0}")]
    InvalidLogin(String),
    #[error("X/Z frame carries no valid IMEI and no login line was given ($MODE,6 needs one)")]
    MissingLogin,
    #[error("login line announces protocol {login} but the frame is protocol {frame}")]
    ProtocolMismatch { login: char, frame: char },
    #[error("report count is zero")]
    NoReports,
    #[error("{remaining} bytes left over after the last record (record size {record_len})")]
    TrailingBytes { remaining: usize, record_len: usize },
}

impl DecodeError {
    /// Stable machine name, used in metrics labels, DLQ headers and the gRPC reply.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::LengthMismatch { .. } => "length_mismatch",
            Self::LengthTooSmall { .. } => "length_too_small",
            Self::FrameTooLarge { .. } => "frame_too_large",
            Self::BadCrc { .. } => "bad_crc",
            Self::UnknownProtocol(_) => "unknown_protocol",
            Self::UnsupportedProtocol(_) => "unsupported_protocol",
            Self::UnknownModule { .. } => "unknown_module",
            Self::BadModuleLength { .. } => "bad_module_length",
            Self::InvalidImei(_) => "invalid_imei",
            Self::InvalidLogin(_) => "invalid_login",
            Self::MissingLogin => "missing_login",
            Self::ProtocolMismatch { .. } => "protocol_mismatch",
            Self::NoReports => "no_reports",
            Self::TrailingBytes { .. } => "trailing_bytes",
        }
    }
}
