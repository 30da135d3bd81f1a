//! Long idle: ignition on and not moving for the idle time (or the device's own idling-start
//! reason). One LONG_IDLE per idle period, and LONG_IDLE_END with the period's duration.

use super::{Emitter, Fix, Settings, millis, timestamp};
use astra_proto::v1::{DeviceState, EventType, Reason};

pub(super) fn on_fix(state: &mut DeviceState, fix: &Fix<'_>, s: &Settings, out: &mut Emitter) {
    let slow = fix.speed < s.moving_speed_kmh && !just_moved(state, fix);
    let idling =
        fix.p.ignition && !fix.has(Reason::IdlingEnd) && (slow || fix.has(Reason::IdlingStart));
    if !idling {
        end(state, fix, out);
        return;
    }
    let since = *state.idle_since.get_or_insert(timestamp(fix.t));
    let since = millis(Some(since)).unwrap_or(fix.t);
    let long_enough = fix.t.saturating_sub(since) >= Settings::ms(s.long_idle_after_s);
    if !state.idle_reported && (long_enough || fix.has(Reason::IdlingStart)) {
        state.idle_reported = true;
        let e = out.emit(
            EventType::LongIdle,
            &format!("i{since}"),
            fix.t,
            Some(fix.p),
        );
        e.duration_s = Some(seconds(fix.t - since));
        e.reason = if long_enough { "server" } else { "device" }.to_owned();
    }
}

/// Raises LONG_IDLE when a device idles past the idle time without reporting.
pub(super) fn on_time(state: &mut DeviceState, device_now: i64, s: &Settings, out: &mut Emitter) {
    let Some(since) = millis(state.idle_since) else {
        return;
    };
    let deadline = since.saturating_add(Settings::ms(s.long_idle_after_s));
    if state.ignition && !state.idle_reported && device_now >= deadline {
        state.idle_reported = true;
        let position = state.last_position.clone();
        let e = out.emit(
            EventType::LongIdle,
            &format!("i{since}"),
            deadline,
            position.as_ref(),
        );
        e.duration_s = Some(seconds(deadline - since));
        e.reason = "server".to_owned();
    }
}

fn end(state: &mut DeviceState, fix: &Fix<'_>, out: &mut Emitter) {
    let Some(since) = millis(state.idle_since.take()) else {
        return;
    };
    if std::mem::take(&mut state.idle_reported) {
        let e = out.emit(
            EventType::LongIdleEnd,
            &format!("i{since}"),
            fix.t,
            Some(fix.p),
        );
        e.duration_s = Some(seconds(fix.t - since));
    }
}

/// The motion rule saw movement on this very fix (a displacement without speed).
fn just_moved(state: &DeviceState, fix: &Fix<'_>) -> bool {
    millis(state.last_motion_at) == Some(fix.t)
}

fn seconds(ms: i64) -> u32 {
    u32::try_from(ms.max(0) / 1000).unwrap_or(u32::MAX)
}
