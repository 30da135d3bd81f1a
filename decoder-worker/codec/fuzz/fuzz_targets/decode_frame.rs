//! Feeds arbitrary bytes to the frame decoder, with a valid CRC patched in so the fuzzer gets
//! past the checksum and into the record parsers, in both module layouts, with and without a
//! login line (X/Z mode 6 and mode 4).
#![no_main]

use astra_codec::crc::crc16_modbus;
use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, Layout, decode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Raw input as given (exercises length and CRC checks).
    let opts = DecodeOptions {
        layout: Layout::Legacy,
    };
    let _ = decode_frame(rest, None, &opts);

    // Same input with its length field and CRC made consistent.
    let mut frame = rest.to_vec();
    if frame.len() >= 5 && frame.len() <= usize::from(u16::MAX) {
        let len = frame.len() as u16;
        frame[1..3].copy_from_slice(&len.to_be_bytes());
        let crc = crc16_modbus(&frame[..frame.len() - 2]);
        let n = frame.len();
        frame[n - 2..].copy_from_slice(&crc.to_be_bytes());
    }
    let layout = if selector & 1 == 0 {
        Layout::Legacy
    } else {
        Layout::Current
    };
    let opts = DecodeOptions { layout };
    let login = match selector >> 1 & 3 {
        1 => parse_login(b"$ASTRA;AT240;860873041761486;;7.0.1;X;1").ok(),
        2 => parse_login(b"$ASTRA;AT402;860873043967941;;7.0.61.35;Z;0").ok(),
        _ => None,
    };
    if let Ok(positions) = decode_frame(&frame, login.as_ref(), &opts) {
        // A frame can never yield more records than it has room for.
        assert!(positions.len() <= frame.len() / 17 + 1);
    }
});
