//! Property tests of the codec's safety contract: no input panics, every error is a value, the
//! framer reassembles a stream identically however it is fragmented, and the decoder never
//! returns more records than the frame has room for.

use astra_codec::crc::crc16_modbus;
use astra_codec::frame::{FrameKind, check};
use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, Layout, decode_frame};
use proptest::prelude::*;

const K2: &str = "4b00320524c1da58769e6d0322617effe874024453065600a800000100080000643e0000000000000000000000069500e7bb";
const X1: &str = "58003201052196881ae0ce1f00000000000353d3d49e0010200000093d2353d3d49d031b934afffb036c0000a0000000e0eb";

/// Makes the length field and CRC of `bytes` consistent, so decoding gets past the checks.
fn seal(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 5 && bytes.len() <= usize::from(u16::MAX) {
        let len = u16::try_from(bytes.len()).unwrap();
        bytes[1..3].copy_from_slice(&len.to_be_bytes());
        let n = bytes.len();
        let crc = crc16_modbus(&bytes[..n - 2]);
        bytes[n - 2..].copy_from_slice(&crc.to_be_bytes());
    }
    bytes
}

fn protocol_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'K'),
        Just(b'M'),
        Just(b'V'),
        Just(b'C'),
        Just(b'X'),
        Just(b'Z'),
        Just(b'Y'),
        any::<u8>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_sealed_frames_never_panic(
        id in protocol_byte(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
        current in any::<bool>(),
        with_login in 0u8..3,
    ) {
        let mut bytes = vec![id, 0, 0];
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&[0, 0]);
        let frame = seal(bytes);
        let login = match with_login {
            1 => Some(parse_login(b"$ASTRA;AT240;860873041761486;;7.0.1;X;1").unwrap()),
            2 => Some(parse_login(b"$ASTRA;AT402;860873043967941;;7.0.61.35;Z;0").unwrap()),
            _ => None,
        };
        let layout = if current { Layout::Current } else { Layout::Legacy };
        match decode_frame(&frame, login.as_ref(), &DecodeOptions { layout }) {
            // The smallest record (X report header) is 17 bytes.
            Ok(positions) => prop_assert!(positions.len() <= frame.len() / 17),
            Err(e) => prop_assert!(!e.kind().is_empty() && !e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_frame(&bytes, None, &DecodeOptions::default());
        let _ = parse_login(&bytes);
        if let Ok(Some((_, len))) = check(&bytes, 4096) {
            prop_assert!(len >= 1 && len <= bytes.len());
        }
    }

    #[test]
    fn mutated_real_frames_never_panic(pos in 0usize..50, value in any::<u8>(), x in any::<bool>()) {
        let mut bytes = hex::decode(if x { X1 } else { K2 }).unwrap();
        if let Some(b) = bytes.get_mut(pos) {
            *b = value;
        }
        let _ = decode_frame(&seal(bytes), None, &DecodeOptions::default());
    }

    #[test]
    fn framing_is_independent_of_fragmentation(cuts in proptest::collection::vec(1usize..40, 1..30)) {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"$ASTRA;AT240;860873041761486;;7.0.1;X;1\r\n");
        stream.extend_from_slice(&hex::decode(K2).unwrap());
        stream.push(0x06);
        stream.extend_from_slice(&hex::decode(X1).unwrap());
        stream.extend_from_slice(b"$POLL,OK\r");
        stream.extend_from_slice(&hex::decode(K2).unwrap());
        let expected = [FrameKind::Line, FrameKind::Binary(b'K'), FrameKind::Ack,
            FrameKind::Binary(b'X'), FrameKind::Line, FrameKind::Binary(b'K')];

        // Feed the stream in chunks of the given sizes, as a socket would deliver it.
        let mut buf: Vec<u8> = Vec::new();
        let mut got = Vec::new();
        let mut offset = 0;
        let mut sizes = cuts.iter().cycle();
        while offset < stream.len() {
            let n = (*sizes.next().unwrap()).min(stream.len() - offset);
            buf.extend_from_slice(&stream[offset..offset + n]);
            offset += n;
            while let Some((kind, len)) = check(&buf, 4096).unwrap() {
                got.push((kind, buf[..len].to_vec()));
                buf.drain(..len);
            }
        }
        prop_assert!(buf.is_empty());
        // A CR LF split between CR and LF yields the line at CR and a Blank for the LF: devices
        // end some replies with a bare CR, so the framer cannot wait for an LF that may never come.
        let kinds: Vec<FrameKind> =
            got.iter().map(|(k, _)| *k).filter(|k| *k != FrameKind::Blank).collect();
        prop_assert_eq!(kinds, expected.to_vec());
        let joined: Vec<u8> = got.into_iter().flat_map(|(_, b)| b).collect();
        prop_assert_eq!(joined, stream);
    }
}
