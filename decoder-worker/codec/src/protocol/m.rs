//! Protocol M (0x4D; AT110/AT240 without CAN), PROTOCOL.md §7: 41-byte records, 53 with the
//! extra block. No captured packet exists; layout from OpenGTS and KDC.

use super::legacy::{decode_records, km_record};
use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{Analog, DigitalIo, Position};

pub const RECORD: usize = 41;

pub fn decode(body: Reader<'_>) -> Result<Vec<Position>, DecodeError> {
    decode_records(body, "M", RECORD, |r, p| km_record(r, p, inputs))
}

/// M's inputs: a little-endian u24 of digitals, ADC1 and ADC2.
fn inputs(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    // Read little-endian, so the byte at offset 20 is "digitals #1" (OpenGTS, KDC).
    p.io = Some(DigitalIo {
        raw: r.u24_le()?,
        ..Default::default()
    });
    let adc1 = r.u8()?;
    let adc2 = r.u8()?;
    p.analog = Some(Analog {
        adc1_raw: u32::from(adc1),
        adc2_raw: u32::from(adc2),
        adc1_v: Some(f64::from(adc1) / 50.0),
        adc2_v: Some(f64::from(u32::from(adc2) * 59) / 1000.0),
    });
    Ok(())
}
