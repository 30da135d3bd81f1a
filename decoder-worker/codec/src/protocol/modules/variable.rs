//! The variable-length X modules, which carry their own length field: beacons (44, current
//! layout), Astra generic CAN (45) and Astra generic debug (47). Each length is checked against
//! the bytes present before anything is allocated from it.

use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{Beacon, Beacons, CanEntry, DebugNvData, GenericCan, GenericDebug, Position};

/// Bit 44, current layout: u8 count, u16 B, 4 reserved, then B bytes of beacon entries. The
/// entries must fill B exactly and their number must equal the count.
pub fn beacons(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let count = usize::from(r.u8()?);
    let length = usize::from(r.u16()?);
    r.skip(4)?;
    let mut entries = r.take(length)?;
    let bad = DecodeError::BadModuleLength { bit: 44, length };
    let mut beacons = Vec::new();
    while !entries.is_empty() {
        beacons.push(beacon(&mut entries).map_err(|_| bad.clone())?);
    }
    if beacons.len() != count {
        return Err(bad);
    }
    p.beacons = Some(Box::new(Beacons { beacons }));
    Ok(())
}

/// One beacon entry: MAC, i8 RSSI, u8 companion, u16 last seen s, u8 type, u8 M, M bytes.
fn beacon(e: &mut Reader<'_>) -> Result<Beacon, DecodeError> {
    let mac = e
        .bytes(6)?
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let rssi_dbm = i32::from(e.i8()?);
    let companion = u32::from(e.u8()?);
    let last_seen_s = u32::from(e.u16()?);
    let kind = e.u8()?;
    let meta_len = usize::from(e.u8()?);
    let metadata = e.bytes(meta_len)?;
    // Type 1 metadata is the height, u16 cm; shorter metadata leaves it unset.
    let height_cm = match kind {
        1 => Reader::new(metadata).u16().ok().map(u32::from),
        _ => None,
    };
    Ok(Beacon {
        mac,
        rssi_dbm,
        companion,
        last_seen_s,
        r#type: u32::from(kind),
        metadata: metadata.to_vec(),
        height_cm,
    })
}

/// Bit 45: u16 L (the module size, counting itself), 4 reserved, (L − 6)/13 entries of u32 CAN
/// ID, 8 data bytes, u8 age s.
pub fn generic_can(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let length = usize::from(r.u16()?);
    let Some(entry_bytes) = length.checked_sub(6).filter(|n| n % 13 == 0) else {
        return Err(DecodeError::BadModuleLength { bit: 45, length });
    };
    // `take` checks that all L − 2 remaining bytes exist before the entries are read.
    let mut m = r.take(length - 2)?;
    m.skip(4)?;
    let mut entries = Vec::with_capacity(entry_bytes / 13);
    for _ in 0..entry_bytes / 13 {
        entries.push(CanEntry {
            can_id: m.u32()?,
            data: m.bytes(8)?.to_vec(),
            age_s: u32::from(m.u8()?),
        });
    }
    p.generic_can = Some(Box::new(GenericCan { entries }));
    Ok(())
}

/// Bit 47: u16 N (the bytes that follow), u8 type, N − 1 bytes of payload. Type 1 (NV data) is
/// also parsed when the payload is long enough; the payload is always kept.
pub fn debug(r: &mut Reader<'_>, p: &mut Position) -> Result<(), DecodeError> {
    let length = usize::from(r.u16()?);
    if length == 0 {
        return Err(DecodeError::BadModuleLength { bit: 47, length });
    }
    let mut m = r.take(length)?;
    let kind = m.u8()?;
    let payload = m.bytes(length - 1)?;
    let nv = match kind {
        1 => nv_data(&mut Reader::new(payload)).ok(),
        _ => None,
    };
    p.debug = Some(Box::new(GenericDebug {
        r#type: u32::from(kind),
        nv,
        payload: payload.to_vec(),
    }));
    Ok(())
}

/// NV data: 2-byte inner length (skipped), u16 flags, u32 PC, u32 LR, 15 × u16 watchdog levels,
/// 8-byte ASCII service name: 50 bytes.
fn nv_data(m: &mut Reader<'_>) -> Result<DebugNvData, DecodeError> {
    // PROTOCOL.md: little-endian inside this module. OXT reads flags, PC and LR with the same
    // little-endian helper as the watchdog levels, so all four are read little-endian.
    let u32_le = |m: &mut Reader<'_>| -> Result<u32, DecodeError> {
        let lo = m.u16_le()?;
        let hi = m.u16_le()?;
        Ok(u32::from(hi) << 16 | u32::from(lo))
    };
    m.skip(2)?;
    let flags = u32::from(m.u16_le()?);
    let pc = u32_le(m)?;
    let lr = u32_le(m)?;
    let mut watchdog_levels = Vec::with_capacity(15);
    for _ in 0..15 {
        watchdog_levels.push(u32::from(m.u16_le()?));
    }
    Ok(DebugNvData {
        flags,
        pc,
        lr,
        watchdog_levels,
        service: m.ascii(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{bytes, decode, decode_err};
    use crate::error::DecodeError;
    use crate::options::Layout::{Current, Legacy};
    use astra_proto::v1::{Beacon, CanEntry, DebugNvData};

    const BEACON_1: &str = "AABBCCDDEEFF C5 01 003C 01 02 00AF";
    const BEACON_2: &str = "001122334455 A0 00 0005 00 00";

    #[test]
    fn bit44_beacons() {
        // B = 14 + 12 = 26.
        let p = decode(
            44,
            Current,
            &format!("02 001A 00000000 {BEACON_1} {BEACON_2}"),
        );
        assert_eq!(
            p.beacons.unwrap().beacons,
            vec![
                Beacon {
                    mac: "AA:BB:CC:DD:EE:FF".into(),
                    rssi_dbm: -59,
                    companion: 1,
                    last_seen_s: 60,
                    r#type: 1,
                    metadata: vec![0x00, 0xAF],
                    height_cm: Some(175),
                },
                Beacon {
                    mac: "00:11:22:33:44:55".into(),
                    rssi_dbm: -96,
                    companion: 0,
                    last_seen_s: 5,
                    r#type: 0,
                    metadata: vec![],
                    height_cm: None,
                },
            ]
        );
    }

    #[test]
    fn bit44_height_needs_two_metadata_bytes() {
        let p = decode(
            44,
            Current,
            "01 000D 00000000 AABBCCDDEEFF C5 01 003C 01 01 07",
        );
        let b = &p.beacons.unwrap().beacons[0];
        assert_eq!((b.height_cm, b.metadata.clone()), (None, vec![7]));
    }

    #[test]
    fn bit44_bad_lengths() {
        let bad = |length| DecodeError::BadModuleLength { bit: 44, length };
        // Count says 2, one entry present.
        assert_eq!(
            decode_err(44, Current, &format!("02 000E 00000000 {BEACON_1}")),
            bad(14)
        );
        // B ends inside the second entry.
        assert_eq!(
            decode_err(
                44,
                Current,
                &format!("02 0014 00000000 {BEACON_1} {BEACON_2}")
            ),
            bad(20)
        );
        // Metadata length runs past B.
        assert_eq!(
            decode_err(
                44,
                Current,
                "01 000D 00000000 AABBCCDDEEFF C5 01 003C 01 02 00"
            ),
            bad(13)
        );
        // B larger than the bytes present is a truncated frame.
        assert!(matches!(
            decode_err(44, Current, &format!("01 0020 00000000 {BEACON_1}")),
            DecodeError::Truncated { needed: 32, .. }
        ));
    }

    #[test]
    fn bit44_module_size_is_seven_plus_b() {
        let data = bytes(&format!("01 000E 00000000 {BEACON_1} 99"));
        let mut r = crate::reader::Reader::new(&data);
        let mut p = astra_proto::v1::Position::default();
        super::beacons(&mut r, &mut p).unwrap();
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn bit45_generic_can() {
        let p = decode(
            45,
            Legacy,
            "0020 00000000 18FEF100 0102030405060708 05 0CF00400 FFFFFFFFFFFFFFFF 00",
        );
        assert_eq!(
            p.generic_can.unwrap().entries,
            vec![
                CanEntry {
                    can_id: 0x18FE_F100,
                    data: (1..=8).collect(),
                    age_s: 5,
                },
                CanEntry {
                    can_id: 0x0CF0_0400,
                    data: vec![0xFF; 8],
                    age_s: 0,
                },
            ]
        );
        let empty = decode(45, Legacy, "0006 00000000");
        assert_eq!(empty.generic_can.unwrap().entries, vec![]);
    }

    #[test]
    fn bit45_bad_lengths() {
        for (hex, length) in [
            ("0000", 0),
            ("0005 000000", 5),
            ("0007 0000000000", 7),
            ("0012 00000000 000000000000000000000000", 18),
        ] {
            assert_eq!(
                decode_err(45, Legacy, hex),
                DecodeError::BadModuleLength { bit: 45, length },
                "{hex}"
            );
        }
        // A valid L with too few bytes behind it is a truncated frame, found before allocating.
        assert!(matches!(
            decode_err(45, Legacy, "FFF6 00000000"),
            DecodeError::Truncated { needed: 0xFFF4, .. }
        ));
    }

    const NV: &str = "0030 3412 78563412 EFBEADDE
        0100 0200 0300 0400 0500 0600 0700 0800 0900 0A00 0B00 0C00 0D00 0E00 FFFF
        5744475F53564300";

    #[test]
    fn bit47_debug_nv_data_is_little_endian() {
        let p = decode(47, Legacy, &format!("0033 01 {NV}"));
        let d = p.debug.unwrap();
        assert_eq!(d.r#type, 1);
        assert_eq!(d.payload.len(), 50);
        assert_eq!(
            d.nv,
            Some(DebugNvData {
                flags: 0x1234,
                pc: 0x1234_5678,
                lr: 0xDEAD_BEEF,
                watchdog_levels: (1..=14).chain([0xFFFF]).collect(),
                service: "WDG_SVC".into(),
            })
        );
    }

    #[test]
    fn bit47_debug_short_nv_and_other_types_keep_the_payload() {
        let short = decode(47, Legacy, "0004 01 003012").debug.unwrap();
        assert_eq!(
            (short.r#type, short.nv, short.payload),
            (1, None, vec![0, 0x30, 0x12])
        );
        let other = decode(47, Legacy, "0003 02 ABCD").debug.unwrap();
        assert_eq!(
            (other.r#type, other.nv, other.payload),
            (2, None, vec![0xAB, 0xCD])
        );
        let bare = decode(47, Legacy, "0001 02").debug.unwrap();
        assert_eq!(bare.payload, Vec::<u8>::new());
        // Longer NV payloads are parsed from their start and kept whole.
        let long = decode(47, Legacy, &format!("0035 01 {NV} 9999"))
            .debug
            .unwrap();
        assert_eq!(long.payload.len(), 52);
        assert_eq!(long.nv.unwrap().service, "WDG_SVC");
    }

    #[test]
    fn bit47_bad_lengths() {
        assert_eq!(
            decode_err(47, Legacy, "0000 01"),
            DecodeError::BadModuleLength { bit: 47, length: 0 }
        );
        assert!(matches!(
            decode_err(47, Legacy, "0010 01 00"),
            DecodeError::Truncated { needed: 16, .. }
        ));
    }
}
