//! The Protocol X modules, bits 0-47 (PROTOCOL.md §10.3). There is no per-module length on the
//! wire, so each module must consume exactly its documented size: every fixed-size module is
//! read through a sub-reader of that size ([`fixed`] is the size table), and the variable-length
//! ones (44 in the current layout, 45, 47) carry their own length field.
//!
//! Scaled values are computed as exact integer arithmetic followed by one division by an integer
//! (×0.1 → `raw / 10.0`), so each result is the double nearest the true decimal value.

mod basic;
mod device;
mod ev;
mod fleet;
mod scooters;
mod variable;
mod vehicle;

use super::z;
use crate::error::DecodeError;
use crate::options::Layout;
use crate::reader::Reader;
use astra_proto::v1::Position;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    X,
    Z,
}

/// Decodes one fixed-size module from a reader holding exactly its bytes.
type ModuleFn = fn(&mut Reader<'_>, &mut Position) -> Result<(), DecodeError>;

/// Size and decoder of a fixed-size X module; `None` for the variable-length ones and for bits
/// without a layout.
fn fixed(bit: u8, layout: Layout) -> Option<(usize, ModuleFn)> {
    use Layout::{Current, Legacy};
    Some(match (bit, layout) {
        (0, _) => (2, basic::device_power),
        (1, _) => (18, basic::gps),
        (2, _) => (4, basic::digital_io),
        (3, _) => (4, basic::analogues),
        (4, _) => (8, basic::driver_behaviour),
        (5, _) => (1, basic::signal_quality),
        (6, _) => (4, basic::gsm_network),
        (7, _) => (1, basic::geofences),
        (8, _) => (9, basic::driver_id),
        (9, Legacy) => (12, basic::trailer_id),
        (9, Current) => (8, basic::alcohol_test),
        (10, _) => (2, basic::fms_journey_start),
        (11, _) => (5, basic::stop_report),
        (12, _) => (20, vehicle::fms_in_journey),
        (13, _) => (18, vehicle::obd_in_journey),
        (14, _) => (25, vehicle::obd_dtcs),
        (15, _) => (13, vehicle::fms_journey_stop),
        (16, _) => (9, vehicle::obd_journey_stop),
        (17, _) => (25, fleet::carrier_temperatures),
        (18, _) => (8, fleet::one_wire_temperatures),
        (19, _) => (17, fleet::carrier_alarms),
        (20, _) => (18, scooters::rayvolt),
        (21, _) => (3, fleet::econ_status),
        (22, _) => (4, fleet::gritter),
        (23, _) => (6, fleet::redforge_weight),
        (24, _) => (4, fleet::econ_one_gram),
        (25, _) => (73, vehicle::nmea2000),
        (26, _) => (7, device::sim_imsi),
        (27, _) => (20, device::sim_iccid),
        (28, _) => (38, vehicle::fms_driver_ids),
        (29, _) => (20, vehicle::fms_in_journey_high_res),
        (30, _) => (5, vehicle::fms_driver_working_states),
        (31, _) => (12, scooters::segway_ninebot),
        (32, _) => (18, device::environment_sensors),
        (33, _) => (2, scooters::going_green_core),
        (34, _) => (9, scooters::ecooter),
        (35, _) => (44, scooters::torrot_muvi),
        (36, _) => (32, scooters::ecooter_serials),
        (37, _) => (39, ev::askoll_es2),
        (38, _) => (6, fleet::cash_in_transit),
        (39, _) => (39, scooters::torrot_muvi_battery),
        (40, _) => (39, device::battery_statistics),
        (41, _) => (42, ev::stars_acim),
        (42, _) => (22, ev::car2),
        (43, _) => (28, device::gnss_extended),
        (44, Legacy) => (11, ev::cm2010),
        (46, _) => (13, ev::heinzmann),
        _ => return None,
    })
}

/// Decodes module `bit` from `r` into `p`.
pub fn decode_module(
    bit: u8,
    r: &mut Reader<'_>,
    p: &mut Position,
    variant: Variant,
    layout: Layout,
) -> Result<(), DecodeError> {
    if let (Variant::Z, Some(size)) = (variant, z::module_size(bit)) {
        return z::decode_module(bit, size, r, p);
    }
    match (bit, layout) {
        (44, Layout::Current) => variable::beacons(r, p),
        (45, _) => variable::generic_can(r, p),
        (47, _) => variable::debug(r, p),
        _ => {
            let (size, decode) = fixed(bit, layout).ok_or(DecodeError::UnknownModule { bit })?;
            // The module always consumes exactly `size` bytes of the report.
            let mut m = r.take(size)?;
            decode(&mut m, p)
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::{Variant, decode_module, fixed};
    use crate::crc::crc16_modbus;
    use crate::error::DecodeError;
    use crate::options::Layout;
    use crate::reader::Reader;
    use astra_proto::v1::Position;

    /// Hex with optional whitespace to bytes.
    pub fn bytes(hex: &str) -> Vec<u8> {
        hex::decode(hex.split_whitespace().collect::<String>()).expect("test hex")
    }

    /// Decodes one X module given as hex and checks that it consumed every byte.
    pub fn decode(bit: u8, layout: Layout, hex: &str) -> Position {
        let data = bytes(hex);
        let mut r = Reader::new(&data);
        let mut p = Position::default();
        decode_module(bit, &mut r, &mut p, Variant::X, layout).expect("module decodes");
        assert_eq!(r.remaining(), 0, "module {bit} left bytes unread");
        p
    }

    /// The error decoding one X module given as hex.
    pub fn decode_err(bit: u8, layout: Layout, hex: &str) -> DecodeError {
        let data = bytes(hex);
        let mut p = Position::default();
        decode_module(bit, &mut Reader::new(&data), &mut p, Variant::X, layout)
            .expect_err("module must fail")
    }

    /// The bytes of every module 0-47 in the legacy layout: fixed modules filled with their bit
    /// number, then a one-entry generic CAN module and an NV-data debug module.
    pub fn all_modules_legacy() -> Vec<u8> {
        let mut out = Vec::new();
        for bit in 0..=47u8 {
            match bit {
                // L = 19: length (2) + reserved (4) + one 13-byte entry.
                45 => out.extend(bytes("0013 00000000  18FEF100 0102030405060708 05")),
                // N = 51: type 1 + 50 bytes of NV data.
                47 => out.extend(bytes(
                    "0033 01  0030 3412 78563412 EFBEADDE
                     0100 0200 0300 0400 0500 0600 0700 0800 0900 0A00 0B00 0C00 0D00 0E00 0F00
                     474E53535F535643",
                )),
                _ => {
                    let (size, _) = fixed(bit, Layout::Legacy).unwrap();
                    out.extend(std::iter::repeat_n(bit, size));
                }
            }
        }
        out
    }

    /// A $MODE,4 X packet with one report carrying `modules` under `mask`.
    pub fn x_packet(mask: u64, modules: &[u8]) -> Vec<u8> {
        let mut p = vec![b'X', 0, 0, 1];
        p.extend(bytes("05 21 96 88 1a e0 ce")); // IMEI 860873041761486
        p.push(7); // sequence
        p.extend(&mask.to_be_bytes()[2..]);
        p.extend(bytes("2A0B1C4D 00000041 0001"));
        p.extend(modules);
        let total = u16::try_from(p.len() + 2).unwrap();
        p[1..3].copy_from_slice(&total.to_be_bytes());
        let crc = crc16_modbus(&p);
        p.extend(crc.to_be_bytes());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_module_reads_exactly_its_size() {
        for layout in [Layout::Legacy, Layout::Current] {
            for bit in 0..=47u8 {
                let Some((size, decode)) = fixed(bit, layout) else {
                    continue;
                };
                for fill in [0x00, 0x5A, 0xFF] {
                    let data = vec![fill; size];
                    let mut m = Reader::new(&data);
                    let mut p = Position::default();
                    decode(&mut m, &mut p).unwrap();
                    assert!(m.is_empty(), "bit {bit} ({layout:?}) under-reads");
                }
            }
        }
    }

    #[test]
    fn only_the_variable_modules_lack_a_fixed_size() {
        let variable: Vec<(u8, Layout)> = [Layout::Legacy, Layout::Current]
            .into_iter()
            .flat_map(|l| (0..=47u8).map(move |b| (b, l)))
            .filter(|&(b, l)| fixed(b, l).is_none())
            .collect();
        assert_eq!(
            variable,
            vec![
                (45, Layout::Legacy),
                (47, Layout::Legacy),
                (44, Layout::Current),
                (45, Layout::Current),
                (47, Layout::Current)
            ]
        );
    }

    #[test]
    fn unknown_bit_is_refused() {
        let mut p = Position::default();
        let err = decode_module(
            48,
            &mut Reader::new(&[0; 64]),
            &mut p,
            Variant::X,
            Layout::Legacy,
        );
        assert_eq!(err, Err(DecodeError::UnknownModule { bit: 48 }));
    }

    #[test]
    fn truncated_fixed_module_consumes_nothing_and_reports_its_size() {
        let mut r = Reader::at(&[0; 10], 100);
        let mut p = Position::default();
        let err = decode_module(1, &mut r, &mut p, Variant::X, Layout::Legacy);
        assert_eq!(
            err,
            Err(DecodeError::Truncated {
                offset: 100,
                needed: 18,
                available: 10
            })
        );
    }

    #[test]
    fn z_variant_keeps_its_own_sizes() {
        let data = [0xAB; 17];
        let mut r = Reader::new(&data);
        let mut p = Position::default();
        decode_module(17, &mut r, &mut p, Variant::Z, Layout::Legacy).unwrap();
        assert!(r.is_empty());
        assert_eq!(p.opaque_modules.len(), 1);
        assert_eq!(p.carrier_temperatures, None);
    }
}
