//! Protocol K (0x4B; AT200/AT210), PROTOCOL.md §6: 38-byte records, 50 with the extra block.

use super::legacy::{decode_records, km_record};
use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{Analog, DigitalIo, Position};

pub const RECORD: usize = 38;

pub fn decode(body: Reader<'_>) -> Result<Vec<Position>, DecodeError> {
    decode_records(body, "K", RECORD, |r, p| km_record(r, p, inputs))
}

/// K's inputs: one digital byte and ADC1.
fn inputs(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    // The bit map of this byte is not published; keep it whole.
    p.io = Some(DigitalIo {
        raw: u32::from(r.u8()?),
        ..Default::default()
    });
    let adc1 = r.u8()?;
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc1_v: Some(f64::from(adc1) / 50.0),
        ..Default::default()
    });
    Ok(())
}
