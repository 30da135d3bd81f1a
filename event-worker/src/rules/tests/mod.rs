//! Scripted journeys: a device's inputs in order, and the exact events they must raise.

mod alarms;
mod fences;
mod motion;
mod presence;
mod speed;
mod tow_idle;

use super::{Context, FenceHit, FenceLookup, Input, Outcome, Settings, apply, distance_m};
use super::{millis, timestamp};
use astra_proto::v1::{
    DeviceConfig, DeviceState, DigitalIo, Event, EventType, GeofenceReport, LatLon, Position,
    Reason, SessionEvent, SessionEventKind, Status,
};

pub(crate) const IMEI: &str = "356938035643809";
/// 2026-01-01T00:00:00Z in ms: journeys count seconds from here.
pub(crate) const T0: i64 = 1_767_225_600_000;
pub(crate) const HOME: LatLon = LatLon {
    latitude: 51.5,
    longitude: -0.12,
};

/// A point `north` and `east` metres from HOME.
pub(crate) fn at(north: f64, east: f64) -> LatLon {
    let m_per_deg = 111_195.0;
    LatLon {
        latitude: HOME.latitude + north / m_per_deg,
        longitude: HOME.longitude + east / (m_per_deg * HOME.latitude.to_radians().cos()),
    }
}

/// A position `s` seconds into the journey with ignition on, received one second later.
pub(crate) fn fix(s: i64) -> Position {
    Position {
        imei: IMEI.into(),
        protocol: "X".into(),
        sequence: u32::try_from(s).unwrap_or(0),
        device_time: Some(timestamp(T0 + s * 1000)),
        received_time: Some(timestamp(T0 + s * 1000 + 1000)),
        valid: true,
        latitude: Some(HOME.latitude),
        longitude: Some(HOME.longitude),
        speed_kmh: Some(0.0),
        ignition: true,
        ..Default::default()
    }
}

pub(crate) trait PositionExt {
    fn speed(self, kmh: f64) -> Self;
    fn ign(self, on: bool) -> Self;
    fn place(self, p: LatLon) -> Self;
    fn reason(self, r: Reason) -> Self;
    fn invalid(self) -> Self;
    fn inputs(self, bits: u32) -> Self;
    fn jammer(self) -> Self;
    fn volts(self, v: f64) -> Self;
    fn device_fence(self, entry: bool, index: u32) -> Self;
}

impl PositionExt for Position {
    fn speed(mut self, kmh: f64) -> Self {
        self.speed_kmh = Some(kmh);
        self
    }
    fn ign(mut self, on: bool) -> Self {
        self.ignition = on;
        self
    }
    fn place(mut self, p: LatLon) -> Self {
        self.latitude = Some(p.latitude);
        self.longitude = Some(p.longitude);
        self
    }
    fn reason(mut self, r: Reason) -> Self {
        self.reasons.push(r as i32);
        self
    }
    fn invalid(mut self) -> Self {
        self.valid = false;
        self
    }
    fn inputs(mut self, bits: u32) -> Self {
        self.io = Some(DigitalIo {
            inputs: bits,
            ..Default::default()
        });
        self
    }
    fn jammer(mut self) -> Self {
        self.status = Some(Status {
            jammer_detected: true,
            ..Default::default()
        });
        self
    }
    fn volts(mut self, v: f64) -> Self {
        self.external_voltage_v = Some(v);
        self
    }
    fn device_fence(mut self, entry: bool, index: u32) -> Self {
        self.geofence = Some(GeofenceReport {
            raw: index | if entry { 0x80 } else { 0 },
            entry,
            index,
        });
        self
    }
}

/// Circles as fences, for journeys.
#[derive(Default)]
pub(crate) struct Circles(pub Vec<(FenceHit, LatLon, f64)>);

impl Circles {
    pub(crate) fn add(
        &mut self,
        id: &str,
        center: LatLon,
        radius_m: f64,
        limit: Option<f64>,
        dwell_s: u32,
    ) {
        let hit = FenceHit {
            id: id.into(),
            name: format!("fence {id}"),
            speed_limit_kmh: limit,
            dwell_s,
        };
        self.0.push((hit, center, radius_m));
    }
}

impl FenceLookup for Circles {
    fn containing(&self, lat: f64, lon: f64, _: &str, _: &[String]) -> Vec<FenceHit> {
        let here = LatLon {
            latitude: lat,
            longitude: lon,
        };
        let mut hits: Vec<FenceHit> = self
            .0
            .iter()
            .filter(|(_, c, r)| distance_m(c, &here) <= *r)
            .map(|(h, _, _)| h.clone())
            .collect();
        hits.sort_by(|a, b| a.id.cmp(&b.id));
        hits
    }
    fn fence(&self, id: &str) -> Option<FenceHit> {
        self.0
            .iter()
            .find(|(h, _, _)| h.id == id)
            .map(|(h, _, _)| h.clone())
    }
}

/// One device driven through a journey.
pub(crate) struct Journey {
    pub(crate) state: DeviceState,
    pub(crate) settings: Settings,
    pub(crate) config: DeviceConfig,
    pub(crate) fences: Circles,
    /// Wall clock of the last input, ms.
    pub(crate) now: i64,
}

impl Journey {
    pub(crate) fn new() -> Self {
        Self {
            state: DeviceState {
                imei: IMEI.into(),
                ..Default::default()
            },
            settings: Settings::default(),
            config: DeviceConfig {
                imei: IMEI.into(),
                ..Default::default()
            },
            fences: Circles::default(),
            now: T0,
        }
    }

    fn run(&mut self, input: Input<'_>, now: i64) -> (Outcome, Vec<Event>) {
        self.now = now;
        let settings = self.settings.for_device(Some(&self.config));
        let cx = Context {
            settings: &settings,
            config: Some(&self.config),
            fences: &self.fences,
            now: timestamp(now),
        };
        apply(&mut self.state, input, &cx)
    }

    /// Feeds a position (processed when it was received) and returns its events as labels.
    pub(crate) fn feed(&mut self, p: Position) -> Vec<String> {
        let now = millis(p.received_time).unwrap_or(self.now);
        let (outcome, events) = self.run(Input::Position(&p), now);
        assert_eq!(outcome, Outcome::Applied, "position at {:?}", p.device_time);
        labels(&events)
    }

    pub(crate) fn feed_outcome(&mut self, p: Position) -> (Outcome, Vec<String>) {
        let now = millis(p.received_time).unwrap_or(self.now);
        let (outcome, events) = self.run(Input::Position(&p), now);
        (outcome, labels(&events))
    }

    pub(crate) fn feed_events(&mut self, p: Position) -> Vec<Event> {
        let now = millis(p.received_time).unwrap_or(self.now);
        self.run(Input::Position(&p), now).1
    }

    /// A session event `s` seconds into the journey.
    pub(crate) fn session(&mut self, kind: SessionEventKind, session: &str, s: i64) -> Vec<String> {
        let event = SessionEvent {
            imei: IMEI.into(),
            kind: kind as i32,
            session_id: session.into(),
            reason: if kind == SessionEventKind::Disconnected {
                "closed by device".into()
            } else {
                String::new()
            },
            time: Some(timestamp(T0 + s * 1000)),
            ..Default::default()
        };
        labels(&self.run(Input::Session(&event), T0 + s * 1000).1)
    }

    /// Wall-clock time `s` seconds into the journey passes without input.
    pub(crate) fn tick(&mut self, s: i64) -> Vec<String> {
        labels(&self.run(Input::Tick, T0 + s * 1000).1)
    }

    pub(crate) fn tick_events(&mut self, s: i64) -> Vec<Event> {
        self.run(Input::Tick, T0 + s * 1000).1
    }

    /// Feeds a series and returns every event label with the second it came at.
    pub(crate) fn drive(&mut self, fixes: Vec<Position>) -> Vec<String> {
        let mut all = Vec::new();
        for p in fixes {
            let s = (millis(p.device_time).unwrap_or(T0) - T0) / 1000;
            for l in self.feed(p) {
                all.push(format!("{s}:{l}"));
            }
        }
        all
    }
}

/// `type` plus the detail that identifies it: alarm kind, geofence, device fence index.
pub(crate) fn labels(events: &[Event]) -> Vec<String> {
    events.iter().map(label).collect()
}

pub(crate) fn label(e: &Event) -> String {
    let kind = EventType::try_from(e.r#type)
        .map(super::subject_token)
        .unwrap_or_default();
    if !e.alarm.is_empty() {
        format!("{kind}({})", e.alarm)
    } else if !e.geofence_id.is_empty() {
        format!("{kind}({})", e.geofence_id)
    } else if let Some(i) = e.device_geofence_index {
        format!("{kind}(device {i})")
    } else {
        kind
    }
}

#[test]
fn event_ids_name_device_type_and_cause() {
    let mut j = Journey::new();
    let events = j.feed_events(fix(0).reason(Reason::PanicSwitchActivated));
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "356938035643809:device_online:p1767225600000.0",
            "356938035643809:alarm:p1767225600000.0:panic",
        ]
    );
    assert_eq!(events[1].occurred_at, Some(timestamp(T0)));
    assert_eq!(events[1].detected_at, Some(timestamp(T0 + 1000)));
}

#[test]
fn a_new_owner_resuming_from_the_checkpoint_raises_the_same_events() {
    let script = |j: &mut Journey, range: std::ops::Range<usize>| {
        let fixes = [
            fix(0).ign(true),
            fix(60).ign(true).speed(30.0).place(at(0.0, 400.0)),
            fix(120).ign(true).speed(120.0).place(at(0.0, 4000.0)),
            fix(180).ign(false).place(at(0.0, 5000.0)),
        ];
        let mut events = Vec::new();
        for p in fixes.into_iter().skip(range.start).take(range.len()) {
            events.extend(j.feed_events(p));
        }
        events
    };
    let limited = || {
        let mut j = Journey::new();
        j.config.speed_limit_kmh = Some(100.0);
        j
    };
    let all = script(&mut limited(), 0..4);
    let mut before = limited();
    let head = script(&mut before, 0..2);
    let mut after = limited();
    after.state = before.state.clone();
    let tail = script(&mut after, 2..4);
    let ids = |v: &[Event]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&[head, tail].concat()), ids(&all));
    assert_eq!(
        labels(&all),
        [
            "device_online",
            "device_moving",
            "overspeed",
            "ignition_off"
        ]
    );
}
