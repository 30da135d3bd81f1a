//! Validation of Fleet API input that is not a geofence: IMEIs and device settings. Geofences are
//! checked by [`crate::geofence::validate`].

use astra_codec::imei::luhn_ok;
use astra_proto::v1::DeviceConfig;

/// Digital inputs a device can map to alarms (AT devices have up to 8).
const INPUTS: std::ops::RangeInclusive<u32> = 1..=8;
const MAX_ALARM_KIND: usize = 32;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum DeviceError {
    #[error("imei {0:?} is not an IMEI (15 digits with a valid Luhn check digit)")]
    Imei(String),
    #[error("{field} must be a finite number of at least 0, got {value}")]
    Negative { field: &'static str, value: f64 },
    #[error("{field} must be a finite number above 0, got {value}")]
    NotPositive { field: &'static str, value: f64 },
    #[error("{field} must be at least 1 when set")]
    Zero { field: &'static str },
    #[error("input_alarms: {0} is not a digital input number (1-8)")]
    Input(u32),
    #[error("input_alarms[{input}]: alarm kind {kind:?} must be 1-32 characters of a-z, 0-9 and _")]
    AlarmKind { input: u32, kind: String },
    #[error("groups[{0}] is empty")]
    EmptyGroup(usize),
}

/// A textual IMEI as users send it: 15 digits whose last one is the Luhn check digit.
pub(crate) fn validate_imei(imei: &str) -> Result<(), DeviceError> {
    if luhn_ok(imei) {
        Ok(())
    } else {
        Err(DeviceError::Imei(imei.to_owned()))
    }
}

pub(crate) fn validate_device(d: &DeviceConfig) -> Result<(), DeviceError> {
    validate_imei(&d.imei)?;
    // Limits and margins where 0 is meaningful (no margin, stop at any speed, never a power cut).
    for (field, value) in [
        ("speed_limit_kmh", d.speed_limit_kmh),
        ("overspeed_hysteresis_kmh", d.overspeed_hysteresis_kmh),
        ("power_cut_below_v", d.power_cut_below_v),
    ] {
        if let Some(value) = value
            && !(value.is_finite() && value >= 0.0)
        {
            return Err(DeviceError::Negative { field, value });
        }
    }
    // Thresholds where 0 would make every fix count as movement or a tow.
    for (field, value) in [
        ("moving_speed_kmh", d.moving_speed_kmh),
        ("moving_distance_m", d.moving_distance_m),
        ("tow_speed_kmh", d.tow_speed_kmh),
        ("tow_distance_m", d.tow_distance_m),
    ] {
        if let Some(value) = value
            && !(value.is_finite() && value > 0.0)
        {
            return Err(DeviceError::NotPositive { field, value });
        }
    }
    // Zero would mean "offline / idle / stopped at once" or "moving without a fix": a mistake,
    // not a setting. (overspeed_min_s = 0 is the default: one fix above the limit is enough.)
    for (field, value) in [
        ("offline_after_s", d.offline_after_s),
        ("long_idle_after_s", d.long_idle_after_s),
        ("stopped_after_s", d.stopped_after_s),
        ("moving_fixes", d.moving_fixes),
    ] {
        if value == Some(0) {
            return Err(DeviceError::Zero { field });
        }
    }
    // Sorted, so the error names the same input whatever the map's iteration order.
    let mut inputs: Vec<(&u32, &String)> = d.input_alarms.iter().collect();
    inputs.sort_unstable();
    for (&input, kind) in inputs {
        if !INPUTS.contains(&input) {
            return Err(DeviceError::Input(input));
        }
        let kind_ok = !kind.is_empty()
            && kind.len() <= MAX_ALARM_KIND
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !kind_ok {
            return Err(DeviceError::AlarmKind {
                input,
                kind: kind.clone(),
            });
        }
    }
    if let Some(index) = d.groups.iter().position(|g| g.trim().is_empty()) {
        return Err(DeviceError::EmptyGroup(index));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceConfig {
        DeviceConfig {
            imei: "860873041761486".into(),
            name: "van 7".into(),
            groups: vec!["vans".into()],
            speed_limit_kmh: Some(90.0),
            offline_after_s: Some(300),
            long_idle_after_s: Some(600),
            input_alarms: [(2, "panic".to_owned())].into(),
            moving_speed_kmh: Some(6.0),
            tow_distance_m: Some(150.0),
            overspeed_hysteresis_kmh: Some(0.0),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_a_full_config() {
        assert_eq!(validate_device(&device()), Ok(()));
        assert_eq!(
            validate_device(&DeviceConfig {
                imei: "866224026657899".into(),
                ..Default::default()
            }),
            Ok(())
        );
    }

    #[test]
    fn rejects_each_bad_field() {
        type Change = Box<dyn Fn(&mut DeviceConfig)>;
        let cases: Vec<(Change, DeviceError)> = vec![
            (
                Box::new(|d| d.imei = "866224026657898".into()),
                DeviceError::Imei("866224026657898".into()),
            ),
            (
                Box::new(|d| d.imei = "86622402665789".into()),
                DeviceError::Imei("86622402665789".into()),
            ),
            (
                Box::new(|d| d.imei = "86622402665789x".into()),
                DeviceError::Imei("86622402665789x".into()),
            ),
            (
                Box::new(|d| d.speed_limit_kmh = Some(-1.0)),
                DeviceError::Negative {
                    field: "speed_limit_kmh",
                    value: -1.0,
                },
            ),
            (
                Box::new(|d| d.power_cut_below_v = Some(-0.5)),
                DeviceError::Negative {
                    field: "power_cut_below_v",
                    value: -0.5,
                },
            ),
            (
                Box::new(|d| d.moving_speed_kmh = Some(0.0)),
                DeviceError::NotPositive {
                    field: "moving_speed_kmh",
                    value: 0.0,
                },
            ),
            (
                Box::new(|d| d.tow_distance_m = Some(f64::INFINITY)),
                DeviceError::NotPositive {
                    field: "tow_distance_m",
                    value: f64::INFINITY,
                },
            ),
            (
                Box::new(|d| d.offline_after_s = Some(0)),
                DeviceError::Zero {
                    field: "offline_after_s",
                },
            ),
            (
                Box::new(|d| d.long_idle_after_s = Some(0)),
                DeviceError::Zero {
                    field: "long_idle_after_s",
                },
            ),
            (
                Box::new(|d| d.moving_fixes = Some(0)),
                DeviceError::Zero {
                    field: "moving_fixes",
                },
            ),
            (
                Box::new(|d| {
                    d.input_alarms.insert(9, "panic".into());
                }),
                DeviceError::Input(9),
            ),
            (
                Box::new(|d| {
                    d.input_alarms.insert(0, "panic".into());
                }),
                DeviceError::Input(0),
            ),
            (
                Box::new(|d| {
                    d.input_alarms.insert(3, "Lone Worker".into());
                }),
                DeviceError::AlarmKind {
                    input: 3,
                    kind: "Lone Worker".into(),
                },
            ),
            (
                Box::new(|d| d.groups.push(String::new())),
                DeviceError::EmptyGroup(1),
            ),
        ];
        for (change, want) in cases {
            let mut d = device();
            change(&mut d);
            assert_eq!(validate_device(&d), Err(want));
        }
        assert!(
            validate_device(&DeviceConfig {
                speed_limit_kmh: Some(f64::NAN),
                ..device()
            })
            .is_err()
        );
        assert_eq!(
            DeviceError::Imei("1".into()).to_string(),
            "imei \"1\" is not an IMEI (15 digits with a valid Luhn check digit)"
        );
    }
}
