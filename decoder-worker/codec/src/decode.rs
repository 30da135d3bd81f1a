//! Entry point: one verified binary frame (plus the session's login, for $MODE,6) in,
//! every record of it out as a `Position`.

use super::error::DecodeError;
use super::frame;
use super::imei;
use super::protocol::{c, k, m, v, x};
use super::reader::Reader;
use astra_proto::v1::{LoginInfo, ModuleLayout, Position};

/// Which firmware generation's layout applies to X modules 9 and 44 (PROTOCOL.md §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Layout {
    /// Module 9 = trailer ID (12 bytes), module 44 = CM2010 scooter (11 bytes): OXN V2.8,
    /// Traccar and the official TS parser before 2025-09; what deployed devices run.
    #[default]
    Legacy,
    /// Module 9 = driver alcohol test (8 bytes), module 44 = beacons (variable): firmware since
    /// 2025-09.
    Current,
}

impl Layout {
    pub fn from_proto(l: ModuleLayout) -> Option<Self> {
        match l {
            ModuleLayout::Unspecified => None,
            ModuleLayout::Legacy => Some(Self::Legacy),
            ModuleLayout::Current => Some(Self::Current),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    pub layout: Layout,
}

/// Decodes a whole binary frame: checks length and CRC, then every record.
///
/// `login` is the session's login line ($MODE,6); without it an X/Z frame must carry its IMEI
/// in the header ($MODE,4).
pub fn decode_frame(
    bytes: &[u8],
    login: Option<&LoginInfo>,
    opts: &DecodeOptions,
) -> Result<Vec<Position>, DecodeError> {
    frame::verify(bytes)?;
    let id = bytes[0];
    // The body: everything after id and length, before the CRC (verify() checked the sizes).
    let body = Reader::at(&bytes[3..bytes.len() - 2], 3);
    match id {
        b'K' => k::decode(body),
        b'M' => m::decode(body),
        b'V' => v::decode(body),
        b'C' => c::decode(body),
        b'X' | b'Z' => x::decode(id, body, login, opts),
        other if frame::is_protocol_id(other) => {
            Err(DecodeError::UnsupportedProtocol(char::from(other)))
        }
        other => Err(DecodeError::UnknownProtocol(other)),
    }
}

/// The IMEI a frame's header carries, if its protocol puts one there: C/K/M/V always, X/Z only
/// in $MODE,4 (the caller says whether the session logged in). Used by the gateway to identify a
/// device without decoding records.
pub fn frame_imei(bytes: &[u8], logged_in: bool) -> Result<Option<String>, DecodeError> {
    let mut r = Reader::new(bytes);
    let id = r.u8()?;
    r.skip(2)?;
    match id {
        b'C' | b'K' | b'M' | b'V' => imei::read_binary_imei(&mut r).map(Some),
        b'X' | b'Z' | b'Y' if logged_in => Ok(None),
        b'X' | b'Z' => {
            r.skip(1)?;
            match imei::read_binary_imei(&mut r) {
                Ok(imei) if imei::luhn_ok(&imei) => Ok(Some(imei)),
                Ok(_) | Err(DecodeError::InvalidImei(_)) => Err(DecodeError::MissingLogin),
                Err(e) => Err(e),
            }
        }
        _ => Ok(None),
    }
}
