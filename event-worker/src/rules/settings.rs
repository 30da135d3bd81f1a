//! Rule thresholds (DESIGN §5). Global defaults come from flags / environment; a device's
//! `DeviceConfig` in KV `astra-devices` overrides the ones it sets.
//!
//! The time thresholds are duration flags (`--offline-after 10m`, bare numbers are seconds) whose
//! old `-s` names stay as hidden aliases. Inside they are kept in whole seconds, the unit of the
//! per-device overrides and of the events' `duration_s`.

use astra_platform::duration::parse_duration;
use astra_proto::v1::DeviceConfig;

#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(next_help_heading = "Event rules")]
pub(crate) struct Settings {
    /// A device with no frame for this long is offline.
    #[arg(
        long = "offline-after",
        alias = "offline-after-s",
        env = "ASTRA_OFFLINE_AFTER",
        default_value = "10m",
        value_name = "DURATION",
        value_parser = whole_seconds
    )]
    pub(crate) offline_after_s: u64,
    /// Speed at or above which a fix counts as movement (km/h).
    #[arg(long, env = "ASTRA_MOVING_SPEED_KMH", default_value_t = 5.0)]
    pub(crate) moving_speed_kmh: f64,
    /// Consecutive fixes at or above the moving speed that make a device moving.
    #[arg(long, env = "ASTRA_MOVING_FIXES", default_value_t = 2)]
    pub(crate) moving_fixes: u32,
    /// Displacement from where it stood that makes a device moving (metres).
    #[arg(long, env = "ASTRA_MOVING_DISTANCE_M", default_value_t = 200.0)]
    pub(crate) moving_distance_m: f64,
    /// Time without movement after which a moving device is stopped.
    #[arg(
        long = "stopped-after",
        alias = "stopped-after-s",
        env = "ASTRA_STOPPED_AFTER",
        default_value = "3m",
        value_name = "DURATION",
        value_parser = whole_seconds
    )]
    pub(crate) stopped_after_s: u64,
    /// Speed limit for every device without its own (km/h); unset = overspeed only from geofence
    /// limits and the device's own speed alarm.
    #[arg(long, env = "ASTRA_SPEED_LIMIT_KMH")]
    pub(crate) speed_limit_kmh: Option<f64>,
    /// How long the speed must stay above the limit before OVERSPEED.
    #[arg(
        long = "overspeed-min",
        alias = "overspeed-min-s",
        env = "ASTRA_OVERSPEED_MIN",
        default_value = "0s",
        value_name = "DURATION",
        value_parser = whole_seconds
    )]
    pub(crate) overspeed_min_s: u64,
    /// An overspeed excursion ends only below limit − this (km/h).
    #[arg(long, env = "ASTRA_OVERSPEED_HYSTERESIS_KMH", default_value_t = 5.0)]
    pub(crate) overspeed_hysteresis_kmh: f64,
    /// With ignition off, a speed at or above this is a tow (km/h).
    #[arg(long, env = "ASTRA_TOW_SPEED_KMH", default_value_t = 10.0)]
    pub(crate) tow_speed_kmh: f64,
    /// With ignition off, a displacement at or above this from where it was parked is a tow (m).
    #[arg(long, env = "ASTRA_TOW_DISTANCE_M", default_value_t = 100.0)]
    pub(crate) tow_distance_m: f64,
    /// Ignition on and not moving for this long is a long idle.
    #[arg(
        long = "long-idle-after",
        alias = "long-idle-after-s",
        env = "ASTRA_LONG_IDLE_AFTER",
        default_value = "5m",
        value_name = "DURATION",
        value_parser = whole_seconds
    )]
    pub(crate) long_idle_after_s: u64,
    /// An external-power report below this voltage is a power cut (volts).
    #[arg(long, env = "ASTRA_POWER_CUT_BELOW_V", default_value_t = 6.0)]
    pub(crate) power_cut_below_v: f64,
    /// Consecutive fixes implying a higher speed are a GPS jump, left out of the distance (km/h).
    #[arg(long, env = "ASTRA_MAX_PLAUSIBLE_SPEED_KMH", default_value_t = 350.0)]
    pub(crate) max_plausible_speed_kmh: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            offline_after_s: 600,
            moving_speed_kmh: 5.0,
            moving_fixes: 2,
            moving_distance_m: 200.0,
            stopped_after_s: 180,
            speed_limit_kmh: None,
            overspeed_min_s: 0,
            overspeed_hysteresis_kmh: 5.0,
            tow_speed_kmh: 10.0,
            tow_distance_m: 100.0,
            long_idle_after_s: 300,
            power_cut_below_v: 6.0,
            max_plausible_speed_kmh: 350.0,
        }
    }
}

impl Settings {
    /// The thresholds for one device: its own where its config sets them, else the global ones.
    pub(crate) fn for_device(&self, config: Option<&DeviceConfig>) -> Settings {
        let mut s = self.clone();
        let Some(c) = config else {
            return s;
        };
        let secs = |v: Option<u32>, d: u64| v.map_or(d, u64::from);
        s.speed_limit_kmh = c.speed_limit_kmh.or(s.speed_limit_kmh);
        s.offline_after_s = secs(c.offline_after_s, s.offline_after_s);
        s.long_idle_after_s = secs(c.long_idle_after_s, s.long_idle_after_s);
        s.stopped_after_s = secs(c.stopped_after_s, s.stopped_after_s);
        s.overspeed_min_s = secs(c.overspeed_min_s, s.overspeed_min_s);
        s.moving_fixes = c.moving_fixes.unwrap_or(s.moving_fixes);
        s.moving_speed_kmh = c.moving_speed_kmh.unwrap_or(s.moving_speed_kmh);
        s.moving_distance_m = c.moving_distance_m.unwrap_or(s.moving_distance_m);
        s.overspeed_hysteresis_kmh = c
            .overspeed_hysteresis_kmh
            .unwrap_or(s.overspeed_hysteresis_kmh);
        s.tow_speed_kmh = c.tow_speed_kmh.unwrap_or(s.tow_speed_kmh);
        s.tow_distance_m = c.tow_distance_m.unwrap_or(s.tow_distance_m);
        s.power_cut_below_v = c.power_cut_below_v.unwrap_or(s.power_cut_below_v);
        s
    }

    pub(crate) fn ms(seconds: u64) -> i64 {
        i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// A time threshold: the platform duration syntax, in whole seconds. A fraction is refused
/// rather than rounded, so `1500ms` cannot silently become one second.
fn whole_seconds(text: &str) -> Result<u64, String> {
    let duration = parse_duration(text)?;
    if duration.subsec_nanos() != 0 {
        return Err(format!(
            "{:?} is not a whole number of seconds (the rules count seconds)",
            text.trim()
        ));
    }
    Ok(duration.as_secs())
}

#[cfg(test)]
mod tests {
    use super::whole_seconds;

    #[test]
    fn thresholds_in_whole_seconds() {
        assert_eq!(whole_seconds("600"), Ok(600));
        assert_eq!(whole_seconds("10m"), Ok(600));
        assert_eq!(whole_seconds("1m30s"), Ok(90));
        assert_eq!(whole_seconds("1d"), Ok(86_400));
        assert_eq!(whole_seconds("2000ms"), Ok(2));
        assert_eq!(whole_seconds("0"), Ok(0));
        assert!(whole_seconds("0.5").is_err());
        assert!(whole_seconds("1500ms").is_err());
        assert!(whole_seconds("ten").is_err());
    }
}
