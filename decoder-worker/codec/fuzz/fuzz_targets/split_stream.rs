//! Feeds an arbitrary byte stream to the framer, split wherever the fuzzer likes, and checks
//! it never panics, always makes progress and never returns a frame longer than the buffer or
//! the configured maximum; then parses every line as a login.
#![no_main]

use astra_codec::frame::{FrameKind, check, verify};
use astra_codec::login::parse_login;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let max = 1024;
    let mut rest = data;
    while let Ok(Some((kind, len))) = check(rest, max) {
        assert!(len >= 1 && len <= rest.len() && len <= max.max(1));
        let (frame, tail) = rest.split_at(len);
        match kind {
            FrameKind::Binary(_) => {
                let _ = verify(frame);
            }
            FrameKind::Line => {
                let _ = parse_login(frame);
            }
            FrameKind::Ack | FrameKind::Blank => {}
        }
        rest = tail;
    }
});
