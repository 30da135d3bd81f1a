//! Field meanings shared by every protocol: reason bits, status bits, signal quality, scales.

use crate::error::DecodeError;
use crate::reader::Reader;
use astra_proto::v1::{Accelerometer, GeofenceReport, Position, Reason, Status};

/// Named reasons for the set bits of a reason field (bit n → enum value n + 1).
pub fn reasons(flags: u32) -> Vec<i32> {
    (0..32)
        .filter(|bit| flags & (1 << bit) != 0)
        .filter_map(|bit| Reason::try_from(bit + 1).ok())
        .map(|r| r as i32)
        .collect()
}

/// Sets the reason fields of a position.
pub fn set_reasons(pos: &mut Position, flags: u32) {
    pos.reason_flags = flags;
    pos.reasons = reasons(flags);
}

/// Sets the status fields. X meanings (PROTOCOL.md §5) are applied to K/M/V too: bits 0, 2 and 4
/// are documented there, and bits 3 and 5 occur in the K vectors with plausible X meanings.
pub fn set_status(pos: &mut Position, flags: u16) {
    let bit = |n: u16| flags & (1 << n) != 0;
    pos.status_flags = u32::from(flags);
    pos.ignition = bit(0);
    pos.valid = !bit(2);
    pos.stored = bit(5);
    pos.status = Some(Status {
        ignition: bit(0),
        private_mode: bit(1),
        gps_invalid: bit(2),
        roaming: bit(3),
        more_reports_follow: bit(4),
        stored: bit(5),
        immobilised: bit(6),
        serial_device_error: bit(7),
        jammer_detected: bit(8),
        luggage_locked: bit(9),
        backup_battery_charging: bit(10),
        extra_block: false,
    });
}

/// Signal-quality byte: low nibble satellites in use, high nibble GSM level 0-15.
/// dBm follows the official parsers (−111 + 4·n); OpenGTS's table differs (PROTOCOL.md §10.3).
pub fn set_signal(pos: &mut Position, byte: u8) {
    let level = byte >> 4;
    pos.satellites = Some(u32::from(byte & 0x0F));
    pos.gsm_level = Some(u32::from(level));
    pos.gsm_dbm = Some(-111 + 4 * i32::from(level));
}

/// The geofence byte: bit 7 entry (1) / exit (0), bits 0-6 index.
pub fn geofence(byte: u8) -> GeofenceReport {
    GeofenceReport {
        raw: u32::from(byte),
        entry: byte & 0x80 != 0,
        index: u32::from(byte & 0x7F),
    }
}

/// Six accelerometer extremes in wire order (X max, X min, Y max, Y min, Z max, Z min), ÷10 m/s².
pub fn accelerometer(raw: [u8; 6]) -> Accelerometer {
    let v = raw.map(|b| f64::from(b) / 10.0);
    Accelerometer {
        x_max_ms2: v[0],
        x_min_ms2: v[1],
        y_max_ms2: v[2],
        y_min_ms2: v[3],
        z_max_ms2: v[4],
        z_min_ms2: v[5],
        raw: raw.to_vec(),
    }
}

/// Coordinates in millionths of a degree.
pub fn degrees(micro: i32) -> f64 {
    f64::from(micro) / 1e6
}

/// Journey distance in units of 0.1 km, as metres.
pub fn journey_m(tenth_km: u16) -> f64 {
    f64::from(tenth_km) * 100.0
}

/// Driver-ID bytes as uppercase hex.
pub fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// Reads a 6-byte accelerometer block.
pub fn read_accel(r: &mut Reader<'_>) -> Result<Accelerometer, DecodeError> {
    let b = r.bytes(6)?;
    let mut raw = [0u8; 6];
    raw.copy_from_slice(b);
    Ok(accelerometer(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_bits_map_to_enum() {
        assert_eq!(
            reasons(0x0010_2000),
            vec![
                Reason::IdlingOngoing as i32,
                Reason::CorneringThresholdMax as i32
            ]
        );
        assert_eq!(reasons(0x8000_0001), vec![1, 32]);
    }

    #[test]
    fn signal_nibbles() {
        let mut p = Position::default();
        set_signal(&mut p, 0x7E);
        assert_eq!(
            (p.satellites, p.gsm_level, p.gsm_dbm),
            (Some(14), Some(7), Some(-83))
        );
    }
}
