//! Protocols X (0x58) and Z (0x5A), PROTOCOL.md §10: a packet header (report count, and the IMEI
//! in $MODE,4), then per report a 17-byte header and the modules of its 48-bit mask in ascending
//! bit order (written by [`super::x_modules`]).

use super::wire::{Writer, gps_time, int};
use super::x_modules::{Variant, write_module};
use astra_codec::Layout;
use astra_proto::v1::Position;

/// Highest module bit with a known layout.
pub const MAX_MODULE_BIT: u8 = 47;

/// Encodes an X (`letter` = b'X') or Z (b'Z') packet. `imei` is `Some` for $MODE,4 (IMEI in the
/// header) and `None` for $MODE,6 (the session's login line names the device).
///
/// # Panics
/// With no records or more than 255, a mask bit above 47, or a value that does not fit.
pub fn encode(letter: u8, imei: Option<&str>, records: &[Position], layout: Layout) -> Vec<u8> {
    let variant = match letter {
        b'X' => Variant::X,
        b'Z' => Variant::Z,
        other => panic!("not an X/Z letter: {other:#04x}"),
    };
    assert!(
        !records.is_empty(),
        "an X/Z packet needs at least one report"
    );
    let mut w = Writer::new();
    w.u8(int(records.len() as i64, "report count"));
    if let Some(imei) = imei {
        w.bytes(&super::imei_bytes(imei));
    }
    for p in records {
        w.bytes(&report(p, variant, layout));
    }
    super::frame(letter, &w.into_bytes())
}

/// One report: header, then every module of `p.module_mask`.
pub fn report(p: &Position, variant: Variant, layout: Layout) -> Vec<u8> {
    assert!(
        p.module_mask >> (MAX_MODULE_BIT + 1) == 0,
        "module mask {:#x} has bits above {MAX_MODULE_BIT}",
        p.module_mask
    );
    let mut w = Writer::new();
    w.u8(int(p.sequence, "sequence"))
        .u48(p.module_mask)
        .u32(gps_time(p.device_time.as_ref(), "device_time"))
        .u32(p.reason_flags)
        .u16(int(p.status_flags, "status_flags"));
    for bit in 0..=MAX_MODULE_BIT {
        if p.module_mask & (1 << bit) != 0 {
            write_module(&mut w, bit, p, variant, layout);
        }
    }
    w.into_bytes()
}
