//! Protocol X (0x58) and its proprietary build Z (0x5A), PROTOCOL.md §10: a packet header with a
//! report count (and the IMEI in $MODE,4), then reports made of a 17-byte header and the modules
//! named by a 48-bit mask, in ascending bit order.

use super::common::{set_reasons, set_status};
use super::modules::{Variant, decode_module};
use crate::error::DecodeError;
use crate::imei::{luhn_ok, read_binary_imei};
use crate::options::DecodeOptions;
use crate::reader::Reader;
use crate::time::from_gps;
use astra_proto::v1::{LoginInfo, Position};

/// Report header: seq (1) + mask (6) + RTC (4) + reason (4) + status (2).
pub const REPORT_HEADER: usize = 17;
/// Highest module bit with a known layout.
pub const MAX_MODULE_BIT: u8 = 47;

pub fn decode(
    id: u8,
    mut body: Reader<'_>,
    login: Option<&LoginInfo>,
    opts: &DecodeOptions,
) -> Result<Vec<Position>, DecodeError> {
    let frame_letter = char::from(id);
    // The login's protocol id decides the module layouts (the official parser passes it to the
    // report parser); a 'Z' frame from an 'X' login is inconsistent and refused.
    let variant = match (login.map(|l| l.protocol.as_str()), id) {
        (Some("Y"), _) => return Err(DecodeError::UnsupportedProtocol('Y')),
        (Some("X"), b'Z') => {
            return Err(DecodeError::ProtocolMismatch {
                login: 'X',
                frame: 'Z',
            });
        }
        (Some("Z"), _) | (_, b'Z') => Variant::Z,
        _ => Variant::X,
    };
    let count = body.u8()?;
    if count == 0 {
        return Err(DecodeError::NoReports);
    }
    // Mode is a property of the session: a login line means $MODE,6 (no IMEI in the header).
    let imei = match login {
        Some(l) => l.imei.clone(),
        None => {
            // Without a login this must be $MODE,4; bytes that are no valid IMEI mean the
            // frame is really $MODE,6 and the caller lacks the session's login line.
            match read_binary_imei(&mut body) {
                Ok(imei) if luhn_ok(&imei) => imei,
                Ok(_) | Err(DecodeError::InvalidImei(_)) => return Err(DecodeError::MissingLogin),
                Err(e) => return Err(e),
            }
        }
    };
    let protocol = match variant {
        Variant::X => frame_letter.to_string(),
        Variant::Z => "Z".to_owned(),
    };
    let mut out = Vec::with_capacity(usize::from(count).min(body.remaining() / REPORT_HEADER));
    for _ in 0..count {
        // Filled where it lies (see legacy::decode_records).
        out.push(Position::default());
        let Some(p) = out.last_mut() else {
            break;
        };
        report(&mut body, variant, opts, p)?;
        p.imei.clone_from(&imei);
        p.protocol.clone_from(&protocol);
    }
    if !body.is_empty() {
        return Err(DecodeError::TrailingBytes {
            remaining: body.remaining(),
            record_len: 0,
        });
    }
    Ok(out)
}

fn report(
    r: &mut Reader<'_>,
    variant: Variant,
    opts: &DecodeOptions,
    p: &mut Position,
) -> Result<(), DecodeError> {
    p.sequence = u32::from(r.u8()?);
    let mask = r.u48()?;
    p.module_mask = mask;
    p.device_time = Some(from_gps(r.u32()?));
    set_reasons(p, r.u32()?);
    set_status(p, r.u16()?);
    for bit in 0..=MAX_MODULE_BIT {
        if mask & (1u64 << bit) != 0 {
            decode_module(bit, r, p, variant, opts.layout)?;
        }
    }
    Ok(())
}
