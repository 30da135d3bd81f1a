//! Entry point: one verified binary frame (plus the session's login, for $MODE,6) in,
//! every record of it out as a `Position`. The only module that dispatches to the protocol
//! variants; nothing under `protocol/` imports it.

use crate::error::DecodeError;
use crate::frame;
use crate::imei;
use crate::protocol::{c, k, m, v, x};
use crate::reader::Reader;
use astra_proto::v1::{LoginInfo, Position};

use crate::options::DecodeOptions;

/// Decodes a whole binary frame: checks length and CRC, then every record.
///
/// `login` is the session's login line ($MODE,6); without it an X/Z frame must carry its IMEI
/// in the header ($MODE,4).
pub fn decode_frame(
    bytes: &[u8],
    login: Option<&LoginInfo>,
    opts: &DecodeOptions,
) -> Result<Vec<Position>, DecodeError> {
    frame::verify(bytes)?;
    // The body: everything after id and length, before the CRC. verify() checked the sizes;
    // the pattern keeps that from being an unchecked index all the same.
    let [id, _, _, body @ .., _, _] = bytes else {
        return Err(DecodeError::Truncated {
            offset: 0,
            needed: frame::MIN_FRAME,
            available: bytes.len(),
        });
    };
    let body = Reader::at(body, 3);
    match *id {
        b'K' => k::decode(body),
        b'M' => m::decode(body),
        b'V' => v::decode(body),
        b'C' => c::decode(body),
        b'X' | b'Z' => x::decode(*id, body, login, opts),
        other if frame::is_protocol_id(other) => {
            Err(DecodeError::UnsupportedProtocol(char::from(other)))
        }
        other => Err(DecodeError::UnknownProtocol(other)),
    }
}

/// The IMEI a frame's header carries, if its protocol puts one there: C/K/M/V always, X/Z only
/// in $MODE,4 (the caller says whether the session logged in). Used by the gateway to identify a
/// device without decoding records.
pub fn frame_imei(bytes: &[u8], logged_in: bool) -> Result<Option<String>, DecodeError> {
    let mut r = Reader::new(bytes);
    let id = r.u8()?;
    r.skip(2)?;
    match id {
        b'C' | b'K' | b'M' | b'V' => imei::read_binary_imei(&mut r).map(Some),
        b'X' | b'Z' | b'Y' if logged_in => Ok(None),
        b'X' | b'Z' => {
            r.skip(1)?;
            match imei::read_binary_imei(&mut r) {
                Ok(imei) if imei::luhn_ok(&imei) => Ok(Some(imei)),
                Ok(_) | Err(DecodeError::InvalidImei(_)) => Err(DecodeError::MissingLogin),
                Err(e) => Err(e),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Layout;
    use crate::protocol::modules::test_util::{all_modules_legacy, bytes, x_packet};

    #[test]
    fn full_packet_with_every_module_consumes_exactly() {
        let modules = all_modules_legacy();
        let frame = x_packet((1u64 << 48) - 1, &modules);
        let opts = DecodeOptions {
            layout: Layout::Legacy,
        };
        let positions = decode_frame(&frame, None, &opts).unwrap();
        assert_eq!(positions.len(), 1);
        let p = &positions[0];
        assert_eq!(p.imei, "860873041761486");
        assert_eq!(p.sequence, 7);
        assert_eq!(p.module_mask, 0xFFFF_FFFF_FFFF);
        // A few values whose fill byte is easy to follow.
        assert_eq!(p.external_voltage_v, Some(0.0));
        assert_eq!(p.latitude, Some(f64::from(0x0101_0101) / 1e6));
        assert_eq!(p.mcc, Some(0x0606));
        assert_eq!(p.driver_id, "0808080808080808");
        assert_eq!(p.trailer_id.as_ref().unwrap().status, 9);
        assert_eq!(p.alcohol_test, None);
        assert_eq!(p.axle_weight_kg, Some(0x0A0A));
        assert_eq!(p.econ_status, Some(0x15_1515));
        assert_eq!(p.opaque_modules[0].data, vec![24; 4]);
        assert_eq!(p.sim_imsi.as_ref().unwrap().raw, vec![26; 7]);
        assert_eq!(p.cash_in_transit_status, Some(38));
        assert_eq!(p.cm2010.as_ref().unwrap().soc_percent, 44);
        assert_eq!(p.beacons, None);
        assert_eq!(p.heinzmann.as_ref().unwrap().soc_percent, 46);
        let can = &p.generic_can.as_ref().unwrap().entries;
        assert_eq!(can.len(), 1);
        assert_eq!(can[0].can_id, 0x18FE_F100);
        let nv = p.debug.as_ref().unwrap().nv.as_ref().unwrap();
        assert_eq!(nv.service, "GNSS_SVC");
        assert_eq!(nv.watchdog_levels.len(), 15);
        // Every module decoded something.
        assert!(p.gnss_extended.is_some() && p.stars_acim.is_some() && p.car2.is_some());
        assert_eq!(p.environment_sensors.len(), 6);

        // One byte more or less than the modules need is refused.
        let mut longer = modules.clone();
        longer.push(0);
        assert!(matches!(
            decode_frame(&x_packet((1u64 << 48) - 1, &longer), None, &opts),
            Err(DecodeError::TrailingBytes { remaining: 1, .. })
        ));
        let shorter = &modules[..modules.len() - 1];
        assert!(matches!(
            decode_frame(&x_packet((1u64 << 48) - 1, shorter), None, &opts),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn full_packet_in_current_layout_uses_alcohol_test_and_beacons() {
        let mut modules = Vec::new();
        // Bit 9 alcohol test (8 B), then bit 44 beacons with no entries (7 B).
        modules.extend(bytes("01 0123 0000000000"));
        modules.extend(bytes("00 0000 00000000"));
        let frame = x_packet((1 << 9) | (1 << 44), &modules);
        let opts = DecodeOptions {
            layout: Layout::Current,
        };
        let p = &decode_frame(&frame, None, &opts).unwrap()[0];
        assert!(p.alcohol_test.as_ref().unwrap().passed);
        assert_eq!(p.beacons.as_ref().unwrap().beacons, vec![]);
        assert_eq!(p.trailer_id, None);
        assert_eq!(p.cm2010, None);
    }
}
