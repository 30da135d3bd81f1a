//! Moving / stopped, and the server-computed distance. Movement is a fix at or above the moving
//! speed, or a displacement of at least the moving distance from where the device last moved or
//! stood; GPS drift while parked stays inside that radius and moves nothing.

use super::{Emitter, Fix, Settings, distance_m, millis, timestamp};
use astra_proto::v1::{DeviceState, EventType, Motion, Reason};

pub(super) fn on_fix(state: &mut DeviceState, fix: &Fix<'_>, s: &Settings, out: &mut Emitter) {
    add_distance(state, fix, s);
    let fast = fix.speed >= s.moving_speed_kmh;
    state.fast_fixes = if fast {
        state.fast_fixes.saturating_add(1)
    } else {
        0
    };
    let displaced = match (&state.stop_anchor, &fix.point) {
        (Some(anchor), Some(here)) => distance_m(anchor, here) >= s.moving_distance_m,
        _ => false,
    };
    if (fast || displaced || state.stop_anchor.is_none())
        && let Some(here) = fix.point
    {
        state.stop_anchor = Some(here);
    }
    if fast || displaced {
        state.last_motion_at = Some(timestamp(fix.t));
    }
    let moving = Motion::Moving as i32;
    if state.motion == moving {
        if fix.has(Reason::JourneyStop) {
            stop(state, fix.t, out, Some(fix));
        } else if !fast && !displaced {
            stop_if_due(state, fix.t, s, out, Some(fix));
        }
    } else if fix.has(Reason::JourneyStart) || state.fast_fixes >= s.moving_fixes || displaced {
        state.motion = moving;
        state.last_motion_at = Some(timestamp(fix.t));
        state.moving_cause = fix.key.clone();
        out.emit(EventType::DeviceMoving, &fix.key, fix.t, Some(fix.p));
    } else {
        state.motion = Motion::Stopped as i32;
    }
}

/// Stops a moving device once no movement was seen for the stop time (device time).
pub(super) fn on_time(state: &mut DeviceState, device_now: i64, s: &Settings, out: &mut Emitter) {
    stop_if_due(state, device_now, s, out, None);
}

fn stop_if_due(
    state: &mut DeviceState,
    device_now: i64,
    s: &Settings,
    out: &mut Emitter,
    fix: Option<&Fix<'_>>,
) {
    if state.motion != Motion::Moving as i32 {
        return;
    }
    let Some(last) = millis(state.last_motion_at) else {
        return;
    };
    let deadline = last.saturating_add(Settings::ms(s.stopped_after_s));
    if device_now >= deadline {
        stop(state, deadline, out, fix);
    }
}

fn stop(state: &mut DeviceState, at: i64, out: &mut Emitter, fix: Option<&Fix<'_>>) {
    state.motion = Motion::Stopped as i32;
    state.fast_fixes = 0;
    if let Some(here) = fix.and_then(|f| f.point) {
        state.stop_anchor = Some(here);
    }
    let cause = format!("m{}", state.moving_cause);
    let position = match fix {
        Some(f) => Some(f.p.clone()),
        None => state.last_position.clone(),
    };
    out.emit(EventType::DeviceStopped, &cause, at, position.as_ref());
}

/// Adds the leg from the previous valid fix unless it implies an impossible speed (a GPS jump).
fn add_distance(state: &mut DeviceState, fix: &Fix<'_>, s: &Settings) {
    let Some(here) = fix.point else {
        return;
    };
    if let (Some(prev), Some(prev_t)) = (&state.last_fix, millis(state.last_fix_time)) {
        let d = distance_m(prev, &here);
        let hours = (fix.t - prev_t) as f64 / 3_600_000.0;
        if hours > 0.0 && d / 1000.0 / hours <= s.max_plausible_speed_kmh {
            state.distance_m += d;
        }
    }
    state.last_fix = Some(here);
    state.last_fix_time = Some(timestamp(fix.t));
}
