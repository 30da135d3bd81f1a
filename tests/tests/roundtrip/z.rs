//! Protocol Z: X with opaque Z-only modules.

use crate::common::{assert_encodes, at, config, draw};
use crate::modules::{any_mask, core_mask, modular};
use astra_proto::v1::{OpaqueModule, Position};
use astra_tests::encoder::{EncodeOptions, Protocol, XMode};
use proptest::prelude::*;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn z_core_modules(mut d in draw(), mode4 in any::<bool>()) {
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, Protocol::Z, mode, core_mask)?;
    }

    #[test]
    fn z_single_module(mut d in draw(), bit in 0u8..48) {
        modular(&mut d, Protocol::Z, XMode::Mode6, |_| 1 << bit)?;
    }

    #[test]
    fn z_any_modules(mut d in draw(), mode4 in any::<bool>()) {
        let mode = if mode4 { XMode::Mode4 } else { XMode::Mode6 };
        modular(&mut d, Protocol::Z, mode, any_mask)?;
    }
}

/// A hand-assembled Z packet in $MODE,6: module 0 (as X) and Z module 30 (1 opaque byte).
#[test]
fn z_example() {
    let p = Position {
        sequence: 7,
        module_mask: 1 << 30 | 1,
        device_time: at(0x1234_5678),
        reason_flags: 0x8000_0001,
        status_flags: 0x0004,
        external_voltage_v: Some(4.2),
        battery_percent: Some(77),
        opaque_modules: vec![OpaqueModule {
            bit: 30,
            data: vec![0xEE],
        }],
        ..Default::default()
    };
    let expected = concat!(
        "5a001a",       // 'Z', length 26
        "01",           // one report, no IMEI ($MODE,6)
        "07",           // seq
        "000040000001", // module mask: bits 30 and 0
        "12345678",     // RTC time
        "80000001",     // reason
        "0004",         // status: GPS invalid
        "154d",         // module 0: 4.2 V × 5, 77 %
        "ee",           // Z module 30
        "dea5",         // CRC
    );
    assert_encodes(
        Protocol::Z,
        "860873043967941",
        p,
        &EncodeOptions::default(),
        expected,
    );
}
