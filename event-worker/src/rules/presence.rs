//! Online / offline. Sessions (gateway) and positions (decoder) arrive on different streams with
//! different lags, so they are related by the gateway's receive time: a frame received before
//! the session closed never brings the device back online.

use super::{Emitter, Fix, Outcome, Settings, millis, timestamp};
use astra_proto::v1::{DeviceState, EventType, SessionEvent, SessionEventKind, Transport};

pub(super) fn on_frame(state: &mut DeviceState, fix: &Fix<'_>, out: &mut Emitter) {
    let after_close = millis(state.closed_at).is_none_or(|closed| fix.received > closed);
    if !state.online && after_close {
        state.online = true;
        out.emit(EventType::DeviceOnline, &fix.key, fix.t, Some(fix.p));
    }
    if millis(state.last_received).is_none_or(|r| fix.received > r) {
        state.last_received = Some(timestamp(fix.received));
    }
}

pub(super) fn on_session(state: &mut DeviceState, s: &SessionEvent, out: &mut Emitter) -> Outcome {
    if s.imei.is_empty() || s.imei != state.imei {
        return Outcome::Ignored;
    }
    let Some(time) = millis(s.time) else {
        return Outcome::Ignored;
    };
    let cause = format!("s{}", s.session_id);
    match SessionEventKind::try_from(s.kind) {
        Ok(SessionEventKind::Connected | SessionEventKind::LoggedIn) => {
            if millis(state.closed_at).is_some_and(|closed| time < closed) {
                return Outcome::Ignored;
            }
            state.session_id = s.session_id.clone();
            state.udp = s.transport == Transport::Udp as i32;
            if millis(state.last_received).is_none_or(|r| time > r) {
                state.last_received = s.time;
            }
            if !state.online {
                state.online = true;
                let position = state.last_position.clone();
                out.emit(EventType::DeviceOnline, &cause, time, position.as_ref());
            }
            Outcome::Applied
        }
        Ok(SessionEventKind::Disconnected) => {
            // A device that reconnected elsewhere first: the old session's close is stale.
            if !state.session_id.is_empty() && state.session_id != s.session_id {
                return Outcome::Ignored;
            }
            state.closed_at = s.time;
            state.session_id.clear();
            if state.online {
                state.online = false;
                let position = state.last_position.clone();
                let reason = s.reason.clone();
                let e = out.emit(EventType::DeviceOffline, &cause, time, position.as_ref());
                e.reason = reason;
            }
            Outcome::Applied
        }
        _ => Outcome::Ignored,
    }
}

pub(super) fn on_tick(state: &mut DeviceState, now: i64, s: &Settings, out: &mut Emitter) {
    let Some(received) = millis(state.last_received) else {
        return;
    };
    let deadline = received.saturating_add(Settings::ms(s.offline_after_s));
    if state.online && now >= deadline {
        state.online = false;
        let position = state.last_position.clone();
        let e = out.emit(
            EventType::DeviceOffline,
            &format!("t{received}"),
            deadline,
            position.as_ref(),
        );
        e.reason = "no frame".to_owned();
        e.duration_s = Some(u32::try_from(s.offline_after_s).unwrap_or(u32::MAX));
    }
}
