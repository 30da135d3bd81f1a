//! Protocol M (0x4D), PROTOCOL.md §7: 41-byte records (K with a little-endian u24 digital field
//! and a second ADC), 53 with the extra block of status bit 8.

use super::k::{EXTRA_BLOCK, extra_block};
use super::legacy::{Clock, write_common_record};
use super::wire::{Writer, int, or_default};
use astra_proto::v1::Position;

pub fn encode(imei: &str, records: &[Position]) -> Vec<u8> {
    super::legacy_frame(b'M', imei, records, record)
}

/// One M record (41 or 53 bytes).
pub fn record(p: &Position) -> Vec<u8> {
    let analog = or_default(&p.analog);
    let mut w = Writer::new();
    write_common_record(&mut w, p, Clock::Single, |w| {
        w.u24_le(p.io.as_ref().map_or(0, |io| io.raw))
            .u8(int(analog.adc1_raw, "adc1_raw"))
            .u8(int(analog.adc2_raw, "adc2_raw"));
    });
    if p.status_flags & EXTRA_BLOCK != 0 {
        extra_block(&mut w, p);
    }
    w.into_bytes()
}
