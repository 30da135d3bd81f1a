//! The Protocol X modules, bits 0-47 (PROTOCOL.md §10.3). There is no per-module length on the
//! wire, so each module must read exactly its documented size; the variable-length ones
//! (44 current layout, 45, 47) carry their own length field.

use super::common::{degrees, journey_m};
use super::z;
use crate::codec::decode::Layout;
use crate::codec::error::DecodeError;
use crate::codec::reader::Reader;
use crate::codec::time::from_gps;
use astra_proto::v1::Position;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    X,
    Z,
}

/// Decodes module `bit` from `r` into `p`.
pub fn decode_module(
    bit: u8,
    r: &mut Reader<'_>,
    p: &mut Position,
    variant: Variant,
    layout: Layout,
) -> Result<(), DecodeError> {
    if let (Variant::Z, Some(size)) = (variant, z::module_size(bit)) {
        return z::decode_module(bit, size, r, p);
    }
    let _ = layout;
    match bit {
        0 => {
            p.external_voltage_v = Some(f64::from(r.u8()?) / 5.0);
            p.battery_percent = Some(u32::from(r.u8()?));
        }
        1 => {
            p.fix_time = Some(from_gps(r.u32()?));
            p.latitude = Some(degrees(r.i32()?));
            p.longitude = Some(degrees(r.i32()?));
            p.speed_kmh = Some(f64::from(r.u8()?) * 2.0);
            p.max_speed_kmh = Some(f64::from(r.u8()?) * 2.0);
            p.course_deg = Some(f64::from(r.u8()?) * 2.0);
            p.altitude_m = Some(f64::from(r.u8()?) * 20.0);
            p.journey_distance_m = Some(journey_m(r.u16()?));
        }
        _ => return Err(DecodeError::UnknownModule { bit }),
    }
    Ok(())
}
