//! Overspeed: above the strictest applicable limit (the device's, and those of the geofences it
//! is inside) for the minimum duration, or the device's own speed alarm. One event per
//! excursion; it re-arms only below limit − hysteresis, so a speed hovering at the limit does
//! not raise a storm.

use super::{Context, Emitter, Fix, Settings, millis, timestamp};
use astra_proto::v1::{DeviceState, EventType, Reason};

pub(super) fn on_fix(state: &mut DeviceState, fix: &Fix<'_>, cx: &Context<'_>, out: &mut Emitter) {
    let s = cx.settings;
    let limit = limit(state, cx);
    let reported = fix.has(Reason::SpeedOverthreshold);
    if reported && !state.overspeeding {
        raise(state, fix, limit, "device", out);
        return;
    }
    let Some(limit) = limit else {
        // No limit to re-arm against: the device's alarm ends with its first report without it.
        if !reported {
            state.overspeeding = false;
            state.over_limit_since = None;
        }
        return;
    };
    if fix.speed > limit {
        let since = *state.over_limit_since.get_or_insert(timestamp(fix.t));
        let since = millis(Some(since)).unwrap_or(fix.t);
        if !state.overspeeding && fix.t - since >= Settings::ms(s.overspeed_min_s) {
            raise(state, fix, Some(limit), "server", out);
        }
    } else {
        state.over_limit_since = None;
        if fix.speed <= limit - s.overspeed_hysteresis_kmh && !reported {
            state.overspeeding = false;
        }
    }
}

/// The strictest of the device limit and the limits of the geofences it is inside.
fn limit(state: &DeviceState, cx: &Context<'_>) -> Option<f64> {
    state
        .inside_geofences
        .iter()
        .filter_map(|id| cx.fences.fence(id)?.speed_limit_kmh)
        .chain(cx.settings.speed_limit_kmh)
        .filter(|l| l.is_finite())
        .reduce(f64::min)
}

fn raise(state: &mut DeviceState, fix: &Fix<'_>, limit: Option<f64>, by: &str, out: &mut Emitter) {
    state.overspeeding = true;
    let e = out.emit(EventType::Overspeed, &fix.key, fix.t, Some(fix.p));
    e.speed_kmh = fix.p.speed_kmh;
    e.speed_limit_kmh = limit;
    e.reason = by.to_owned();
}
