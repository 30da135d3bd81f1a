//! How far to trust a fix: `Position.accuracy_m` and `Position.accuracy_source`, filled in by the
//! service before it publishes (the codec only copies what the device sends, so `decode` output
//! stays exactly what is on the wire).
//!
//! In order of preference:
//!
//! 1. the device's own estimated position error (X module 43, or X module 37 on Askoll
//!    scooters): `GNSS_REPORTED`;
//! 2. HDOP × [`UERE_M`]: `HDOP`;
//! 3. an HDOP guessed from the number of satellites in use ([`estimated_hdop`]) × [`UERE_M`]:
//!    `SATELLITES_ESTIMATED`.
//!
//! An invalid fix has no accuracy (`None`, `UNSPECIFIED`), whatever the device sent: its
//! coordinates are the last known ones, not a measurement.

use astra_proto::v1::{AccuracySource, Position};

/// User equivalent range error, metres: the 1-σ ranging error assumed for a consumer GNSS
/// receiver. Horizontal error ≈ HDOP × UERE.
pub const UERE_M: f64 = 5.0;

/// A plausible HDOP for `satellites` in use, for devices that send only the count: few
/// satellites mean a poor geometry. 0 satellites gives `None`.
///
/// | satellites | 1–3 | 4 | 5 | 6 | 7 | 8 | 9–10 | 11+ |
/// |---|---|---|---|---|---|---|---|---|
/// | HDOP | 10 | 4 | 2.5 | 2 | 1.6 | 1.4 | 1.2 | 1 |
/// | accuracy (× 5 m) | 50 m | 20 m | 12.5 m | 10 m | 8 m | 7 m | 6 m | 5 m |
pub fn estimated_hdop(satellites: u32) -> Option<f64> {
    Some(match satellites {
        0 => return None,
        1..=3 => 10.0,
        4 => 4.0,
        5 => 2.5,
        6 => 2.0,
        7 => 1.6,
        8 => 1.4,
        9..=10 => 1.2,
        _ => 1.0,
    })
}

/// The accuracy of `p` and where it comes from; `None` when the fix is invalid or nothing
/// allows an estimate.
pub fn accuracy(p: &Position) -> Option<(f64, AccuracySource)> {
    if !p.valid {
        return None;
    }
    let positive = |v: f64| (v.is_finite() && v > 0.0).then_some(v);
    // A reported error of 0 m means "not known", not a perfect fix.
    let reported = p
        .accuracy_m
        .and_then(positive)
        .or_else(|| {
            p.gnss_extended
                .as_ref()
                .and_then(|g| positive(f64::from(g.position_error_m)))
        })
        .or_else(|| {
            p.askoll_es2
                .as_ref()
                .and_then(|a| positive(f64::from(a.position_error_m)))
        });
    if let Some(m) = reported {
        return Some((m, AccuracySource::GnssReported));
    }
    let hdop = p
        .hdop
        .and_then(positive)
        .or_else(|| p.askoll_es2.as_ref().and_then(|a| positive(a.hdop)));
    if let Some(h) = hdop {
        return Some((round_dm(h * UERE_M), AccuracySource::Hdop));
    }
    let h = estimated_hdop(p.satellites?)?;
    Some((round_dm(h * UERE_M), AccuracySource::SatellitesEstimated))
}

/// Sets `accuracy_m` and `accuracy_source` of `p` (clears both for an invalid fix).
pub fn fill_accuracy(p: &mut Position) {
    match accuracy(p) {
        Some((m, source)) => {
            p.accuracy_m = Some(m);
            p.accuracy_source = source as i32;
        }
        None => {
            p.accuracy_m = None;
            p.accuracy_source = AccuracySource::Unspecified as i32;
        }
    }
}

/// Rounds to 0.1 m, so HDOP × UERE prints as 6.5, not 6.500000000000001.
fn round_dm(m: f64) -> f64 {
    (m * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use astra_proto::v1::{AskollEs2, GnssExtended};

    fn fix() -> Position {
        Position {
            valid: true,
            latitude: Some(51.06),
            longitude: Some(-1.31),
            ..Default::default()
        }
    }

    fn filled(mut p: Position) -> (Option<f64>, AccuracySource) {
        fill_accuracy(&mut p);
        (p.accuracy_m, p.accuracy_source())
    }

    #[test]
    fn the_devices_own_estimate_wins() {
        // As the codec decodes X module 43: hdop 1.3, position error 4 m.
        let p = Position {
            hdop: Some(1.3),
            accuracy_m: Some(4.0),
            satellites: Some(9),
            ..fix()
        };
        assert_eq!(filled(p), (Some(4.0), AccuracySource::GnssReported));
        let p = Position {
            askoll_es2: Some(Box::new(AskollEs2 {
                hdop: 0.9,
                position_error_m: 3,
                ..Default::default()
            })),
            ..fix()
        };
        assert_eq!(filled(p), (Some(3.0), AccuracySource::GnssReported));
    }

    #[test]
    fn hdop_times_uere_when_the_error_is_not_known() {
        // Module 43 with a position error of 0: not known.
        let p = Position {
            hdop: Some(1.3),
            accuracy_m: Some(0.0),
            gnss_extended: Some(Box::new(GnssExtended {
                hdop: 1.3,
                position_error_m: 0,
                ..Default::default()
            })),
            satellites: Some(4),
            ..fix()
        };
        assert_eq!(filled(p), (Some(6.5), AccuracySource::Hdop));
        let p = Position {
            askoll_es2: Some(Box::new(AskollEs2 {
                hdop: 2.1,
                ..Default::default()
            })),
            ..fix()
        };
        assert_eq!(filled(p), (Some(10.5), AccuracySource::Hdop));
    }

    #[test]
    fn satellite_count_gives_an_estimate_marked_as_such() {
        let with = |n| {
            filled(Position {
                satellites: Some(n),
                ..fix()
            })
        };
        assert_eq!(with(3), (Some(50.0), AccuracySource::SatellitesEstimated));
        assert_eq!(with(4), (Some(20.0), AccuracySource::SatellitesEstimated));
        assert_eq!(with(5), (Some(12.5), AccuracySource::SatellitesEstimated));
        assert_eq!(with(8), (Some(7.0), AccuracySource::SatellitesEstimated));
        assert_eq!(with(10), (Some(6.0), AccuracySource::SatellitesEstimated));
        assert_eq!(with(15), (Some(5.0), AccuracySource::SatellitesEstimated));
        assert_eq!(with(0), (None, AccuracySource::Unspecified));
        assert_eq!(filled(fix()), (None, AccuracySource::Unspecified));
    }

    #[test]
    fn an_invalid_fix_has_no_accuracy() {
        let p = Position {
            valid: false,
            hdop: Some(1.3),
            accuracy_m: Some(4.0),
            satellites: Some(9),
            ..fix()
        };
        assert_eq!(filled(p), (None, AccuracySource::Unspecified));
    }
}
