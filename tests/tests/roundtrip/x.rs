//! Protocol X: module sets over bits 0-47 in both firmware layouts, $MODE,4 and $MODE,6; one
//! captured frame; every fixed module size.

use crate::common::{assert_encodes, at, config, draw};
use crate::modules::{ALL_MODULES, any_mask, core_mask, modular};
use astra_codec::{DecodeOptions, Layout, decode_frame};
use astra_proto::v1::{DebugNvData, GenericDebug, Position};
use astra_tests::encoder::x_modules::nv_payload;
use astra_tests::encoder::{EncodeOptions, Protocol, XMode, encode};
use proptest::prelude::*;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn x_mode4_core_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode4, core_mask)?;
    }

    #[test]
    fn x_mode6_core_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode6, core_mask)?;
    }

    /// One module at a time, so a failure names its bit.
    #[test]
    fn x_single_module(mut d in draw(), bit in 0u8..48, mode4 in any::<bool>()) {
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, Protocol::X, mode, |_| 1 << bit)?;
    }

    #[test]
    fn x_mode4_any_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode4, any_mask)?;
    }

    #[test]
    fn x_mode6_any_modules(mut d in draw()) {
        modular(&mut d, Protocol::X, XMode::Mode6, any_mask)?;
    }

    /// Every module at once: the largest reports (about 800 bytes each).
    #[test]
    fn x_and_z_all_modules(mut d in draw(), z in any::<bool>(), mode4 in any::<bool>()) {
        let protocol = if z { Protocol::Z } else { Protocol::X };
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, protocol, mode, |_| ALL_MODULES)?;
    }
}

/// Captured vector traccar-X-mode4-1: modules 0 and 1, IMEI in the header.
#[test]
fn x_mode4_example_matches_capture() {
    let p = Position {
        sequence: 31,
        module_mask: 0b11,
        device_time: at(0x53d3_d49e),
        reason_flags: 0x0010_2000,
        status_flags: 0x0009,
        external_voltage_v: Some(12.2),
        battery_percent: Some(35),
        fix_time: at(0x53d3_d49d),
        latitude: Some(52.138826),
        longitude: Some(-0.326804),
        speed_kmh: Some(0.0),
        max_speed_kmh: Some(0.0),
        course_deg: Some(320.0),
        altitude_m: Some(0.0),
        journey_distance_m: Some(0.0),
        ..Default::default()
    };
    assert_encodes(
        Protocol::X,
        "860873041761486",
        p,
        &EncodeOptions::mode4(),
        "58003201052196881ae0ce1f00000000000353d3d49e0010200000093d2353d3d49d031b934afffb036c0000a0000000e0eb",
    );
}

/// Every fixed module size, checked against PROTOCOL.md §10.3 through the encoder's output.
#[test]
fn x_module_sizes() {
    const SIZES: [usize; 48] = [
        2,
        18,
        4,
        4,
        8,
        1,
        4,
        1,
        9,
        12,
        2,
        5,
        20,
        18,
        25,
        13,
        9,
        25,
        8,
        17,
        18,
        3,
        4,
        6,
        4,
        73,
        7,
        20,
        38,
        20,
        5,
        12,
        18,
        2,
        9,
        44,
        32,
        39,
        6,
        39,
        39,
        42,
        22,
        28,
        11,
        6,
        13,
        1 + 2,
    ];
    for bit in 0..48u8 {
        let p = Position {
            module_mask: 1 << bit,
            ..Default::default()
        };
        let x = encode(Protocol::X, "", &[p], &EncodeOptions::default());
        // id + length + count + 17-byte header + module + CRC.
        assert_eq!(
            x.len(),
            3 + 1 + 17 + SIZES[usize::from(bit)] + 2,
            "X bit {bit}"
        );
    }
    let current = EncodeOptions::default().with_layout(Layout::Current);
    for (bit, size) in [(9u8, 8), (44, 7)] {
        let p = Position {
            module_mask: 1 << bit,
            ..Default::default()
        };
        let x = encode(Protocol::X, "", &[p], &current);
        assert_eq!(
            x.len(),
            3 + 1 + 17 + size + 2,
            "X bit {bit}, current layout"
        );
    }
}

/// NV data given only as fields (no payload) is laid out little-endian after a 2-byte inner
/// length, and decodes back to the same fields.
#[test]
fn debug_nv_from_fields() {
    let nv = DebugNvData {
        flags: 0x0102,
        pc: 0x0304_0506,
        lr: 0x0708_090A,
        watchdog_levels: (1..=15).collect(),
        service: "GNSS".to_owned(),
    };
    let payload = nv_payload(&nv);
    assert_eq!(payload.len(), 50);
    assert_eq!(&payload[2..12], &[2, 1, 6, 5, 4, 3, 0x0A, 9, 8, 7]);
    let p = Position {
        module_mask: 1 << 47,
        debug: Some(Box::new(GenericDebug {
            r#type: 1,
            nv: Some(nv.clone()),
            payload: Vec::new(),
        })),
        ..Default::default()
    };
    let bytes = encode(
        Protocol::X,
        "860873041761486",
        &[p],
        &EncodeOptions::mode4(),
    );
    let decoded = decode_frame(&bytes, None, &DecodeOptions::default()).expect("decode");
    let debug = decoded[0].debug.clone().expect("module 47");
    assert_eq!(debug.nv, Some(nv));
    assert_eq!(debug.payload, payload);
}
