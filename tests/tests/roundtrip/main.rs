//! Round trips through the test encoder and the decoder: random records of every protocol (and,
//! for X/Z, random module sets over bits 0-47 in both firmware layouts) are encoded, decoded and
//! compared with the original `Position`, which the generators build exactly as the decoder
//! contract defines the derived fields. A few fixed examples pin the encoder's bytes to
//! hand-written hex, two of them captured device frames.
//!
//! The generators draw every wire field as a raw integer from proptest bytes and derive the
//! `Position` from it (doubles as integer arithmetic and one division), so every value is
//! representable and compares bit-exactly.
//!
//! `common` holds the draws, the decoder contract for derived fields and the round-trip plumbing;
//! `legacy` the record fields K, M and V share; `modules` the X/Z module generators; each
//! protocol's file its own generator, properties and fixed examples. Failing cases are kept next
//! to the file that found them (`k.proptest-regressions`, …).

mod c;
mod common;
mod k;
mod legacy;
mod m;
mod modules;
mod v;
mod x;
mod z;

use astra_tests::encoder::{frame, imei_bytes, luhn_complete};

#[test]
fn frame_and_imei_helpers() {
    // 8 + 7 zero-padded digits: 01234567 / 0012345 (PROTOCOL.md §2).
    assert_eq!(
        imei_bytes("012345670012345"),
        [0x00, 0x12, 0xD6, 0x87, 0x00, 0x30, 0x39]
    );
    // "123456789" has the catalogued CRC-16/MODBUS 0x4B37; the frame adds 5 bytes.
    let f = frame(b'K', b"3456789");
    assert_eq!(&f[..3], &[b'K', 0x00, 12]);
    assert_eq!(f.len(), 12);
    assert_eq!(luhn_complete("86087304176148"), "860873041761486");
}
