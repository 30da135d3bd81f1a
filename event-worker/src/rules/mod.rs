//! The rules of DESIGN §5 as a pure state machine: `apply(state, input, context)` updates a
//! device's `DeviceState` and returns the events the input raised. No I/O and no clock of its own
//! (the caller passes `now`), so journeys are table-tested and a replay after a failover yields
//! the same events with the same ids.

mod alarm;
mod fences;
mod idle;
mod motion;
mod overspeed;
mod presence;
pub(crate) mod settings;
mod time;
mod tow;

pub(crate) use settings::Settings;
pub(crate) use time::{millis, timestamp};

use astra_proto::Timestamp;
use astra_proto::v1::{
    DeviceConfig, DeviceState, Event, EventType, LatLon, Position, Reason, SessionEvent,
};
use geo::{Distance, Haversine, Point};

/// A geofence that contains a point, as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FenceHit {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) speed_limit_kmh: Option<f64>,
    pub(crate) dwell_s: u32,
}

/// Where the rules find geofences (the live index in the service, a fixed list in tests).
pub(crate) trait FenceLookup {
    /// Fences that apply to the device and contain the point, sorted by id.
    fn containing(&self, lat: f64, lon: f64, imei: &str, groups: &[String]) -> Vec<FenceHit>;
    /// One fence by id (None once it was deleted).
    fn fence(&self, id: &str) -> Option<FenceHit>;
}

/// Everything a rule may consult besides the device's own state.
pub(crate) struct Context<'a> {
    /// Thresholds already resolved for this device (`Settings::for_device`).
    pub(crate) settings: &'a Settings,
    pub(crate) config: Option<&'a DeviceConfig>,
    pub(crate) fences: &'a dyn FenceLookup,
    /// Wall-clock time of processing: `detected_at` of events, and the clock of timer rules.
    pub(crate) now: Timestamp,
}

pub(crate) enum Input<'a> {
    Position(&'a Position),
    Session(&'a SessionEvent),
    /// Time passes with no input: offline, stopped and long-idle deadlines.
    Tick,
}

/// What happened to one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    /// Older than the newest position already processed: no state change; the only event it
    /// can raise is an alarm it reports that is not active now.
    Late,
    /// The very record processed last, again.
    Duplicate,
    /// Not about this device's state (a session event without an IMEI, a stale session).
    Ignored,
}

/// Applies one input; returns the outcome and the events, in a fixed order.
pub(crate) fn apply(
    state: &mut DeviceState,
    input: Input<'_>,
    cx: &Context<'_>,
) -> (Outcome, Vec<Event>) {
    let mut out = Emitter::new(&state.imei, cx.now);
    let outcome = match input {
        Input::Position(p) => on_position(state, p, cx, &mut out),
        Input::Session(s) => presence::on_session(state, s, &mut out),
        Input::Tick => {
            on_tick(state, cx, &mut out);
            Outcome::Applied
        }
    };
    if outcome == Outcome::Applied {
        state.updated_at = Some(cx.now);
    }
    (outcome, out.events)
}

/// The rules' view of one position.
pub(crate) struct Fix<'a> {
    pub(crate) p: &'a Position,
    /// Device time (RTC, else fix time, else receive time), ms since the epoch.
    pub(crate) t: i64,
    /// Gateway receive time, ms.
    pub(crate) received: i64,
    /// Key naming this position in event ids.
    pub(crate) key: String,
    pub(crate) point: Option<LatLon>,
    pub(crate) speed: f64,
}

impl Fix<'_> {
    pub(crate) fn has(&self, reason: Reason) -> bool {
        self.p.reasons.contains(&(reason as i32))
    }
}

fn on_position(
    state: &mut DeviceState,
    p: &Position,
    cx: &Context<'_>,
    out: &mut Emitter,
) -> Outcome {
    let Some(t) = millis(p.device_time)
        .or(millis(p.fix_time))
        .or(millis(p.received_time))
    else {
        return Outcome::Ignored;
    };
    let point = match (p.valid, p.latitude, p.longitude) {
        (true, Some(latitude), Some(longitude)) => Some(LatLon {
            latitude,
            longitude,
        }),
        _ => None,
    };
    let fix = Fix {
        p,
        t,
        received: millis(p.received_time).unwrap_or(t),
        key: format!("p{t}.{}", p.sequence),
        point,
        speed: p.speed_kmh.filter(|s| s.is_finite()).unwrap_or(0.0),
    };
    if let Some(newest) = millis(state.newest_device_time) {
        if t < newest {
            // No state change; but an alarm the device raised in it is a fact of its own (a
            // panic press must survive a re-ordering), unless that alarm is active anyway.
            alarm::on_late(state, &fix, cx, out);
            return Outcome::Late;
        }
        let last = state.last_position.as_ref();
        if t == newest && last.is_some_and(|l| l.sequence == p.sequence) {
            return Outcome::Duplicate;
        }
    }
    let first = state.last_position.is_none();
    presence::on_frame(state, &fix, out);
    if !first && state.ignition != p.ignition {
        let kind = if p.ignition {
            EventType::IgnitionOn
        } else {
            EventType::IgnitionOff
        };
        out.emit(kind, &fix.key, t, Some(p));
    }
    if first || state.ignition != p.ignition {
        // Where the vehicle was parked is where its ignition went off.
        state.parked_at = if p.ignition { None } else { fix.point };
    }
    state.ignition = p.ignition;
    motion::on_fix(state, &fix, cx.settings, out);
    fences::on_fix(state, &fix, cx, out);
    overspeed::on_fix(state, &fix, cx, out);
    alarm::on_fix(state, &fix, cx, out);
    tow::on_fix(state, &fix, cx.settings, out);
    idle::on_fix(state, &fix, cx.settings, out);

    state.newest_device_time = Some(timestamp(t));
    state.last_seen = Some(timestamp(
        fix.received.max(millis(state.last_seen).unwrap_or(0)),
    ));
    state.inputs = p.io.as_ref().map_or(0, |io| io.inputs);
    let mut snapshot = p.clone();
    snapshot.late = false;
    state.last_position = Some(snapshot);
    Outcome::Applied
}

fn on_tick(state: &mut DeviceState, cx: &Context<'_>, out: &mut Emitter) {
    let Some(now) = millis(Some(cx.now)) else {
        return;
    };
    presence::on_tick(state, now, cx.settings, out);
    // Timer rules run in device time: the newest device time plus the wall time since its frame.
    if let (Some(newest), Some(received)) = (
        millis(state.newest_device_time),
        millis(state.last_received),
    ) {
        let device_now = newest.saturating_add(now.saturating_sub(received).max(0));
        motion::on_time(state, device_now, cx.settings, out);
        tow::on_time(state, out);
        idle::on_time(state, device_now, cx.settings, out);
    }
}

/// Collects events with ids derived from their cause, so a re-processed input re-publishes the
/// same `Nats-Msg-Id` and JetStream drops the copy.
pub(crate) struct Emitter {
    imei: String,
    now: Timestamp,
    pub(crate) events: Vec<Event>,
}

impl Emitter {
    fn new(imei: &str, now: Timestamp) -> Self {
        Self {
            imei: imei.to_owned(),
            now,
            events: Vec::new(),
        }
    }

    /// Adds an event and returns it for type-specific details.
    pub(crate) fn emit(
        &mut self,
        kind: EventType,
        cause: &str,
        occurred_ms: i64,
        position: Option<&Position>,
    ) -> &mut Event {
        let id = format!("{}:{}:{cause}", self.imei, subject_token(kind));
        self.events.push(Event {
            id,
            imei: self.imei.clone(),
            r#type: kind as i32,
            occurred_at: Some(timestamp(occurred_ms)),
            detected_at: Some(self.now),
            position: position.cloned(),
            ..Default::default()
        });
        let last = self.events.len() - 1;
        &mut self.events[last]
    }
}

/// The last token of an event's subject, `astra.event.<imei>.<token>`.
pub(crate) fn subject_token(kind: EventType) -> String {
    kind.as_str_name()
        .trim_start_matches("EVENT_TYPE_")
        .to_ascii_lowercase()
}

/// Great-circle distance in metres: geo's haversine on the mean Earth radius. Where geo has no
/// value (rounding just past antipodal, or a coordinate that is not a number) the distance is
/// half the circumference, as the rules have always counted it: far, never NaN.
pub(crate) fn distance_m(a: &LatLon, b: &LatLon) -> f64 {
    let d = Haversine.distance(
        Point::new(a.longitude, a.latitude),
        Point::new(b.longitude, b.latitude),
    );
    if d.is_nan() {
        std::f64::consts::PI * Haversine.radius()
    } else {
        d
    }
}

#[cfg(test)]
mod tests;
