//! Protocol K (0x4B), PROTOCOL.md §6: 38-byte records, 50 when status bit 8 adds the extra block
//! (7-byte driver ID, u24 lifetime odometer km, u16 hours).

use super::legacy::{Clock, write_common_record};
use super::wire::{Writer, hex_bytes, int};
use astra_proto::v1::Position;

/// Status bit 8: the record carries the extra block (K, M and V).
pub const EXTRA_BLOCK: u32 = 1 << 8;

pub fn encode(imei: &str, records: &[Position]) -> Vec<u8> {
    super::legacy_frame(b'K', imei, records, record)
}

/// One K record (38 or 50 bytes).
pub fn record(p: &Position) -> Vec<u8> {
    let mut w = Writer::new();
    write_common_record(&mut w, p, Clock::Single, |w| {
        w.u8(int(p.io.as_ref().map_or(0, |io| io.raw), "io.raw"))
            .u8(int(p.analog.as_ref().map_or(0, |a| a.adc1_raw), "adc1_raw"));
    });
    if p.status_flags & EXTRA_BLOCK != 0 {
        extra_block(&mut w, p);
    }
    w.into_bytes()
}

/// The 12-byte extra block shared by K and M.
pub fn extra_block(w: &mut Writer, p: &Position) {
    w.bytes(&hex_bytes(&p.driver_id, 7, "driver_id"))
        .u24(odometer_km(p))
        .u16(int(p.engine_hours.unwrap_or(0), "engine_hours"));
}

/// `odometer_m` in whole km (the wire unit of every lifetime odometer).
pub fn odometer_km(p: &Position) -> u32 {
    let m = i64::try_from(p.odometer_m.unwrap_or(0)).unwrap_or(i64::MAX);
    super::wire::div(m, 1000, "odometer_m")
}
