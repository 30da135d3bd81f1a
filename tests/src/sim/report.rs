//! Turns the vehicle's state at a report time into the `Position` a device of a given protocol
//! variant would send: values are quantised to the wire's resolution (so what the decoder
//! returns equals what was sent) and kept inside each field's range.

use super::config::SimProtocol;
use super::motion::{STATUS_IGNITION, STATUS_STORED, Sample};
use astra_proto::Timestamp;
use astra_proto::v1::{DigitalIo, Position};

/// X/Z modules every simulated report carries: power (0), GPS (1), digital I/O (2), signal (5).
pub const X_MODULES: u64 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 5;

fn quantise(v: f64, step: f64, max: f64) -> f64 {
    ((v / step).round() * step).clamp(0.0, max)
}

/// The report of `imei` at device time `unix` (whole seconds) from `sample`.
pub fn position(
    protocol: SimProtocol,
    imei: &str,
    sample: &Sample,
    sequence: u8,
    unix: i64,
    stored: bool,
) -> Position {
    let time = Timestamp::from_unix(unix);
    let mut status = 0;
    if sample.ignition {
        status |= STATUS_IGNITION;
    }
    let stored = stored && protocol.has_stored_bit();
    if stored {
        status |= STATUS_STORED;
    }
    let micro = |deg: f64| (deg * 1e6).round() / 1e6;
    let course = quantise(sample.course_deg, 2.0, 360.0) % 360.0;
    let voltage = if sample.ignition { 14.0 } else { 12.6 };
    let modular = matches!(
        protocol,
        SimProtocol::X4 | SimProtocol::X6 | SimProtocol::Z4 | SimProtocol::Z6
    );
    Position {
        imei: imei.to_owned(),
        protocol: protocol.protocol().name().to_owned(),
        sequence: u32::from(sequence),
        device_time: Some(time),
        fix_time: Some(time),
        valid: true,
        latitude: Some(micro(sample.at.lat)),
        longitude: Some(micro(sample.at.lon)),
        altitude_m: Some(40.0),
        speed_kmh: Some(quantise(sample.speed_kmh, 2.0, 254.0)),
        max_speed_kmh: Some(quantise(sample.speed_kmh, 2.0, 254.0)),
        course_deg: Some(course),
        satellites: Some(9),
        gsm_level: Some(12),
        reason_flags: sample.reasons & protocol.reason_mask(),
        status_flags: status,
        ignition: sample.ignition,
        stored,
        battery_percent: Some(95),
        external_voltage_v: Some(voltage),
        journey_distance_m: Some(quantise(sample.journey_m % 6_500_000.0, 100.0, 6_500_000.0)),
        module_mask: if modular { X_MODULES } else { 0 },
        io: modular.then(|| DigitalIo {
            inputs: u32::from(sample.ignition),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Sets the stored/buffered bit on a scripted report (if the variant has one).
pub fn mark_stored(protocol: SimProtocol, p: &mut Position) {
    if protocol.has_stored_bit() {
        p.status_flags |= STATUS_STORED;
        p.stored = true;
    }
}
