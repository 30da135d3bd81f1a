//! Tow: the device's towing reason (and towing end), or, for devices that do not report it,
//! ignition off while the vehicle moves at tow speed or leaves the spot where it was parked.
//! A tow ends with the device's towing end, the ignition coming on, or the vehicle stopping.

use super::{Emitter, Fix, Settings, distance_m, millis};
use astra_proto::v1::{DeviceState, EventType, Reason};

pub(super) fn on_fix(state: &mut DeviceState, fix: &Fix<'_>, s: &Settings, out: &mut Emitter) {
    if fix.has(Reason::Towing) {
        start(state, fix, "device", out);
    } else if !fix.p.ignition {
        let dragged = match (&state.parked_at, &fix.point) {
            (Some(parked), Some(here)) => distance_m(parked, here) >= s.tow_distance_m,
            _ => false,
        };
        if fix.speed >= s.tow_speed_kmh || dragged {
            start(state, fix, "server", out);
        }
    }
    let ended = if fix.has(Reason::TowingEnd) {
        Some("device")
    } else if fix.p.ignition {
        Some("ignition on")
    } else if just_stopped(out) && !fix.has(Reason::Towing) {
        Some("stopped")
    } else {
        None
    };
    if let Some(reason) = ended
        && state.towing
    {
        state.towing = false;
        state.parked_at = if fix.p.ignition { None } else { fix.point };
        out.emit(EventType::TowEnd, &fix.key, fix.t, Some(fix.p))
            .reason = reason.to_owned();
    }
}

/// A tow in progress ends once a timer stopped the vehicle.
pub(super) fn on_time(state: &mut DeviceState, out: &mut Emitter) {
    let Some(stopped) = out
        .events
        .iter()
        .find(|e| e.r#type == EventType::DeviceStopped as i32)
        .cloned()
    else {
        return;
    };
    if state.towing {
        state.towing = false;
        state.parked_at = state.last_fix;
        let at = millis(stopped.occurred_at).unwrap_or(0);
        let cause = format!("t{at}");
        let position = stopped.position.as_ref();
        out.emit(EventType::TowEnd, &cause, at, position).reason = "stopped".to_owned();
    }
}

fn just_stopped(out: &Emitter) -> bool {
    out.events
        .iter()
        .any(|e| e.r#type == EventType::DeviceStopped as i32)
}

fn start(state: &mut DeviceState, fix: &Fix<'_>, by: &str, out: &mut Emitter) {
    if state.towing {
        return;
    }
    state.towing = true;
    let e = out.emit(EventType::Tow, &fix.key, fix.t, Some(fix.p));
    e.reason = by.to_owned();
    e.speed_kmh = fix.p.speed_kmh;
}
