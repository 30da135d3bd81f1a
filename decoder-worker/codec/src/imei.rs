//! The 7-byte binary IMEI (PROTOCOL.md §2): u32 TAC+FAC as 8 zero-padded digits, then u24
//! serial+check as 7 zero-padded digits. OpenGTS (no padding) and the official TS parser
//! (right-padding) are wrong when a leading zero occurs; Traccar and KDC's `%08d%07d` is right.

use super::error::DecodeError;
use super::reader::Reader;

pub(crate) fn read_binary_imei(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let head = r.u32()?;
    let tail = r.u24()?;
    if head > 99_999_999 || tail > 9_999_999 {
        return Err(DecodeError::InvalidImei(format!(
            "binary IMEI parts {head} / {tail} exceed 8 / 7 digits"
        )));
    }
    Ok(format!("{head:08}{tail:07}"))
}

/// Luhn check of a 15-digit IMEI.
pub fn luhn_ok(imei: &str) -> bool {
    if imei.len() != 15 || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = imei
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Validates a textual IMEI (from a login line or a user): 15 ASCII digits.
pub(crate) fn validate(imei: &str) -> Result<(), DecodeError> {
    if imei.len() == 15 && imei.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(DecodeError::InvalidImei(format!(
            "{imei:?} is not 15 digits"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_both_parts() {
        let bytes = [0x00, 0x12, 0xD6, 0x87, 0x00, 0x30, 0x39]; // 1234567, 12345
        let imei = read_binary_imei(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(imei, "012345670012345");
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok("860873041761486"));
        assert!(luhn_ok("866224026657899"));
        assert!(!luhn_ok("866224026657898"));
        assert!(!luhn_ok("86622402665789"));
    }

    #[test]
    fn too_many_digits() {
        let bytes = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0];
        assert!(matches!(
            read_binary_imei(&mut Reader::new(&bytes)),
            Err(DecodeError::InvalidImei(_))
        ));
    }
}
