//! Protocol K: 38-byte records, 50 with the extra block; one captured frame.

use crate::common::{Draw, assert_encodes, at, config, draw, legacy_round_trip};
use crate::legacy::{km_extra, legacy_record};
use astra_proto::v1::{Analog, DigitalIo, Position};
use astra_tests::encoder::legacy::Clock;
use astra_tests::encoder::{EncodeOptions, Protocol};
use proptest::prelude::*;

fn gen_k(d: &mut Draw, extra: Option<bool>) -> Position {
    let (mut p, extra) = legacy_record(d, Clock::Single, Draw::u24, extra, |d, p| {
        p.io = Some(DigitalIo {
            raw: u32::from(d.u8()),
            ..Default::default()
        });
        let adc1 = d.u8();
        p.analog = Some(Analog {
            adc1_raw: u32::from(adc1),
            adc1_v: Some(f64::from(adc1) / 50.0),
            ..Default::default()
        });
    });
    if extra {
        km_extra(d, &mut p);
    }
    p
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn k_round_trip_mixed(mut d in draw()) {
        legacy_round_trip(&mut d, Protocol::K, 8, |d| gen_k(d, None))?;
    }

    #[test]
    fn k_round_trip_with_and_without_extra(mut d in draw(), extra in any::<bool>()) {
        legacy_round_trip(&mut d, Protocol::K, 4, |d| gen_k(d, Some(extra)))?;
    }
}

/// Captured vector traccar-K-2 (PROTOCOL.md §13).
#[test]
fn k_example_matches_capture() {
    let p = Position {
        sequence: 109,
        latitude: Some(52.58483),
        longitude: Some(-1.543166),
        fix_time: at(1_146_291_798),
        speed_kmh: Some(0.0),
        course_deg: Some(336.0),
        reason_flags: 1,
        status_flags: 0x0008,
        battery_percent: Some(100),
        external_voltage_v: Some(12.4),
        altitude_m: Some(120.0),
        satellites: Some(5),
        gsm_level: Some(9),
        ..Default::default()
    };
    assert_encodes(
        Protocol::K,
        "862950025797534",
        p,
        &EncodeOptions::default(),
        "4b00320524c1da58769e6d0322617effe874024453065600a800000100080000643e0000000000000000000000069500e7bb",
    );
}
