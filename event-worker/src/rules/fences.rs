//! Geofence enter / exit. Membership changes only on a valid fix; a fence with a dwell time
//! confirms an entry or exit only once the device has stayed on the new side that long, so a fix
//! jittering across the boundary raises nothing. Crossings the device reports itself (the
//! geofence byte of K/M/V/C, X module 7) are raised too, naming the device's fence index.

use super::{Context, Emitter, Fix, Settings, millis, timestamp};
use astra_proto::v1::{DeviceState, EventType, PendingGeofence, Reason};

pub(super) fn on_fix(state: &mut DeviceState, fix: &Fix<'_>, cx: &Context<'_>, out: &mut Emitter) {
    device_reported(fix, out);
    let Some(here) = &fix.point else {
        return;
    };
    let groups = cx.config.map_or(&[][..], |c| c.groups.as_slice());
    let hits = cx
        .fences
        .containing(here.latitude, here.longitude, &state.imei, groups);
    let mut ids: Vec<String> = hits
        .iter()
        .map(|h| h.id.clone())
        .chain(state.inside_geofences.iter().cloned())
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let inside_now = hits.iter().any(|h| h.id == id);
        let confirmed = state.inside_geofences.contains(&id);
        let Some(fence) = hits
            .iter()
            .find(|h| h.id == id)
            .cloned()
            .or_else(|| cx.fences.fence(&id))
        else {
            // Deleted or no longer assigned to this device: forget it without an event.
            state.inside_geofences.retain(|f| *f != id);
            state.pending_geofences.retain(|p| p.id != id);
            continue;
        };
        if inside_now == confirmed {
            state.pending_geofences.retain(|p| p.id != id);
            continue;
        }
        if fence.dwell_s > 0 {
            let pending = state
                .pending_geofences
                .iter()
                .find(|p| p.id == id && p.entering == inside_now)
                .and_then(|p| millis(p.since));
            let Some(since) = pending else {
                state.pending_geofences.retain(|p| p.id != id);
                state.pending_geofences.push(PendingGeofence {
                    id: id.clone(),
                    entering: inside_now,
                    since: Some(timestamp(fix.t)),
                });
                continue;
            };
            if fix.t - since < Settings::ms(u64::from(fence.dwell_s)) {
                continue;
            }
            state.pending_geofences.retain(|p| p.id != id);
        }
        let kind = if inside_now {
            state.inside_geofences.push(id.clone());
            state.inside_geofences.sort();
            EventType::GeofenceEnter
        } else {
            state.inside_geofences.retain(|f| *f != id);
            EventType::GeofenceExit
        };
        let e = out.emit(kind, &format!("{}:{id}", fix.key), fix.t, Some(fix.p));
        e.geofence_id = id;
        e.geofence_name = fence.name;
        e.speed_limit_kmh = fence.speed_limit_kmh;
    }
}

fn device_reported(fix: &Fix<'_>, out: &mut Emitter) {
    let Some(report) = fix.p.geofence.as_ref() else {
        return;
    };
    if !fix.has(Reason::Geofence) {
        return;
    }
    let kind = if report.entry {
        EventType::GeofenceEnter
    } else {
        EventType::GeofenceExit
    };
    let cause = format!("{}:device{}", fix.key, report.index);
    let e = out.emit(kind, &cause, fix.t, Some(fix.p));
    e.device_geofence_index = Some(report.index);
    e.reason = "device".to_owned();
}
