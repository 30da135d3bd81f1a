//! Rule thresholds (DESIGN §5). Global defaults come from flags / environment; a device's
//! `DeviceConfig` in KV `astra-devices` overrides the ones it sets.

use astra_proto::v1::DeviceConfig;

#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Settings {
    /// A device with no frame for this long is offline (seconds).
    #[arg(long, env = "ASTRA_OFFLINE_AFTER_S", default_value_t = 600)]
    pub offline_after_s: u64,
    /// Speed at or above which a fix counts as movement (km/h).
    #[arg(long, env = "ASTRA_MOVING_SPEED_KMH", default_value_t = 5.0)]
    pub moving_speed_kmh: f64,
    /// Consecutive fixes at or above the moving speed that make a device moving.
    #[arg(long, env = "ASTRA_MOVING_FIXES", default_value_t = 2)]
    pub moving_fixes: u32,
    /// Displacement from where it stood that makes a device moving (metres).
    #[arg(long, env = "ASTRA_MOVING_DISTANCE_M", default_value_t = 200.0)]
    pub moving_distance_m: f64,
    /// Time without movement after which a moving device is stopped (seconds).
    #[arg(long, env = "ASTRA_STOPPED_AFTER_S", default_value_t = 180)]
    pub stopped_after_s: u64,
    /// Speed limit for every device without its own (km/h); unset = overspeed only from geofence
    /// limits and the device's own speed alarm.
    #[arg(long, env = "ASTRA_SPEED_LIMIT_KMH")]
    pub speed_limit_kmh: Option<f64>,
    /// How long the speed must stay above the limit before OVERSPEED (seconds).
    #[arg(long, env = "ASTRA_OVERSPEED_MIN_S", default_value_t = 0)]
    pub overspeed_min_s: u64,
    /// An overspeed excursion ends only below limit − this (km/h).
    #[arg(long, env = "ASTRA_OVERSPEED_HYSTERESIS_KMH", default_value_t = 5.0)]
    pub overspeed_hysteresis_kmh: f64,
    /// With ignition off, a speed at or above this is a tow (km/h).
    #[arg(long, env = "ASTRA_TOW_SPEED_KMH", default_value_t = 10.0)]
    pub tow_speed_kmh: f64,
    /// With ignition off, a displacement at or above this from where it was parked is a tow (m).
    #[arg(long, env = "ASTRA_TOW_DISTANCE_M", default_value_t = 100.0)]
    pub tow_distance_m: f64,
    /// Ignition on and not moving for this long is a long idle (seconds).
    #[arg(long, env = "ASTRA_LONG_IDLE_AFTER_S", default_value_t = 300)]
    pub long_idle_after_s: u64,
    /// An external-power report below this voltage is a power cut (volts).
    #[arg(long, env = "ASTRA_POWER_CUT_BELOW_V", default_value_t = 6.0)]
    pub power_cut_below_v: f64,
    /// Consecutive fixes implying a higher speed are a GPS jump, left out of the distance (km/h).
    #[arg(long, env = "ASTRA_MAX_PLAUSIBLE_SPEED_KMH", default_value_t = 350.0)]
    pub max_plausible_speed_kmh: f64,
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
    pub fn for_device(&self, config: Option<&DeviceConfig>) -> Settings {
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
