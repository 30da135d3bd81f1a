//! Protocol Z: the proprietary X build of AT402 scooter trackers (login protocol id `Z`). The
//! header and most modules are as in X; these bits have other sizes, summed from the reads of
//! the official parser (PROTOCOL.md §10.3 "Protocol Z", docs/oxt-module-layouts.md §5). That
//! parser names none of their fields, so they are kept whole as opaque modules.

use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{OpaqueModule, Position};

/// Size of a module whose Z layout differs from X, or `None` if Z uses the X layout.
pub fn module_size(bit: u8) -> Option<usize> {
    Some(match bit {
        17 => 17,
        19 => 10,
        20 => 19,
        25 => 6,
        30 => 1,
        31 => 25,
        32 => 46,
        33 => 38,
        34 => 106,
        35 => 9,
        36 => 31,
        37 => 26,
        38 => 71,
        _ => return None,
    })
}

pub fn decode_module(
    bit: u8,
    size: usize,
    r: &mut Reader<'_>,
    p: &mut Position,
) -> Result<(), DecodeError> {
    p.opaque_modules.push(OpaqueModule {
        bit: u32::from(bit),
        data: r.bytes(size)?.to_vec(),
    });
    Ok(())
}
