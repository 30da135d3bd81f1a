//! What a simulated device does: play back a route of segments (drive to a waypoint at a speed,
//! stay, raise reason bits, lose the network), wander at random, or send an exact script of
//! reports. [`Mover`] turns a route or random walk into the vehicle's state at each report time,
//! in device time.

use astra_proto::v1::Position;
use std::time::Duration;

/// Reason bit 0: timed interval elapsed (every periodic report).
pub const REASON_TIMED: u32 = 1 << 0;
/// Reason bit 4: panic switch activated.
pub const REASON_PANIC: u32 = 1 << 4;
/// Reason bit 6: journey start (set when the ignition comes on).
pub const REASON_JOURNEY_START: u32 = 1 << 6;
/// Reason bit 7: journey stop (set when the ignition goes off).
pub const REASON_JOURNEY_STOP: u32 = 1 << 7;
/// Reason bit 16: towing alarm.
pub const REASON_TOWING: u32 = 1 << 16;
/// Status bit 0: ignition on.
pub const STATUS_IGNITION: u32 = 1 << 0;
/// Status bit 5: stored (buffered) report.
pub const STATUS_STORED: u32 = 1 << 5;

/// A point on the Earth, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// Great-circle distance in metres.
    pub fn distance_m(self, other: Point) -> f64 {
        const R: f64 = 6_371_008.8;
        let (la1, la2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = la2 - la1;
        let dlon = (other.lon - self.lon).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * R * h.sqrt().min(1.0).asin()
    }

    /// Initial bearing towards `other`, degrees 0..360.
    pub fn bearing_deg(self, other: Point) -> f64 {
        let (la1, la2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlon = (other.lon - self.lon).to_radians();
        let y = dlon.sin() * la2.cos();
        let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlon.cos();
        y.atan2(x).to_degrees().rem_euclid(360.0)
    }

    /// The point `fraction` of the way to `other` (linear; legs are short).
    pub fn towards(self, other: Point, fraction: f64) -> Point {
        Point::new(
            self.lat + (other.lat - self.lat) * fraction,
            self.lon + (other.lon - self.lon) * fraction,
        )
    }

    /// The point `distance_m` away on `bearing_deg` (flat-Earth approximation).
    pub fn offset(self, bearing_deg: f64, distance_m: f64) -> Point {
        let b = bearing_deg.to_radians();
        let dlat = distance_m * b.cos() / 111_320.0;
        let dlon = distance_m * b.sin() / (111_320.0 * self.lat.to_radians().cos().max(0.01));
        Point::new(self.lat + dlat, self.lon + dlon)
    }
}

/// One piece of a route.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Drive in a straight line to `to` at `speed_kmh`. With the ignition off this is a tow.
    Drive {
        to: Point,
        speed_kmh: f64,
        ignition: bool,
    },
    /// Stand still for `secs` device seconds, ignition as given (on = idling).
    Stay { secs: f64, ignition: bool },
    /// Set these reason bits on the next report (e.g. [`REASON_PANIC`]).
    Flag { reasons: u32 },
    /// Lose the network for `secs` device seconds: the TCP connection drops (a UDP device stops
    /// sending), reports are buffered and sent once the device is back.
    Offline { secs: f64 },
}

impl Segment {
    pub fn drive(lat: f64, lon: f64, speed_kmh: f64) -> Self {
        Self::Drive {
            to: Point::new(lat, lon),
            speed_kmh,
            ignition: true,
        }
    }

    /// Moved with the ignition off (on a truck, or pushed).
    pub fn tow(lat: f64, lon: f64, speed_kmh: f64) -> Self {
        Self::Drive {
            to: Point::new(lat, lon),
            speed_kmh,
            ignition: false,
        }
    }

    pub fn stay(secs: f64, ignition: bool) -> Self {
        Self::Stay { secs, ignition }
    }

    pub fn flag(reasons: u32) -> Self {
        Self::Flag { reasons }
    }

    pub fn offline(secs: f64) -> Self {
        Self::Offline { secs }
    }

    /// Device seconds the segment takes from `from` (0 for flags and network loss).
    fn duration_s(&self, from: Point) -> f64 {
        match self {
            Self::Drive { to, speed_kmh, .. } if *speed_kmh > 0.0 => {
                from.distance_m(*to) / (speed_kmh / 3.6)
            }
            Self::Stay { secs, .. } => secs.max(0.0),
            _ => 0.0,
        }
    }
}

/// A route: segments played in order from `start`, looped or not (at its end the device stays
/// where it is with the ignition as it was).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub start: Point,
    /// Ignition before the first segment.
    pub ignition: bool,
    pub segments: Vec<Segment>,
    pub looped: bool,
}

impl Route {
    pub fn new(start: Point, segments: Vec<Segment>) -> Self {
        Self {
            start,
            ignition: true,
            segments,
            looped: true,
        }
    }

    /// Starts with the ignition off.
    pub fn parked(mut self) -> Self {
        self.ignition = false;
        self
    }

    pub fn once(mut self) -> Self {
        self.looped = false;
        self
    }

    /// Waypoints with speeds, driven in order (and back to the first when looped).
    pub fn waypoints(points: &[(f64, f64, f64)]) -> Self {
        let start = points
            .first()
            .map_or(Point::new(0.0, 0.0), |p| Point::new(p.0, p.1));
        let mut segments: Vec<Segment> = points
            .iter()
            .skip(1)
            .map(|&(lat, lon, v)| Segment::drive(lat, lon, v))
            .collect();
        if let Some(&(lat, lon, v)) = points.first() {
            segments.push(Segment::drive(lat, lon, v));
        }
        Self::new(start, segments)
    }

    /// Device seconds one pass over the route takes.
    pub fn duration_s(&self) -> f64 {
        let mut here = self.start;
        let mut total = 0.0;
        for s in &self.segments {
            total += s.duration_s(here);
            if let Segment::Drive { to, .. } = s {
                here = *to;
            }
        }
        total
    }
}

/// Wandering around a centre: drives to random points within the radius at random speeds, with
/// an occasional stop (ignition off or idling).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomWalk {
    pub center: Point,
    pub radius_m: f64,
    pub min_speed_kmh: f64,
    pub max_speed_kmh: f64,
    /// Chance of a stop after each leg (0..1).
    pub stop_chance: f64,
    /// Mixed with the IMEI, so devices differ but runs repeat.
    pub seed: u64,
}

impl RandomWalk {
    pub fn around(center: Point, radius_m: f64) -> Self {
        Self {
            center,
            radius_m,
            min_speed_kmh: 20.0,
            max_speed_kmh: 70.0,
            stop_chance: 0.25,
            seed: 1,
        }
    }
}

/// One step of a script: exact reports, pauses and connection drops, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Queue this report exactly as given (the stored bit is added if the device is offline
    /// and `mark_stored` is on).
    Report(Box<Position>),
    /// Wait this much wall time before the next step (reports already queued keep being sent).
    Wait(Duration),
    /// Drop the connection now and stay offline for this much wall time; reports queued
    /// meanwhile are buffered.
    Disconnect(Duration),
    /// Wait until everything queued so far is acknowledged.
    Flush,
}

impl Step {
    pub fn report(p: Position) -> Self {
        Self::Report(Box::new(p))
    }
}

/// What a device does.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    Route(Route),
    RandomWalk(RandomWalk),
    Script(Vec<Step>),
}

/// Longest stay or offline spell a route may ask for (about 115 days): longer ones overflow the
/// simulator's clock.
const MAX_PAUSE_S: f64 = 1e7;

impl Behaviour {
    /// A script of reports only, sent as fast as acknowledgements allow.
    pub fn reports(reports: Vec<Position>) -> Self {
        Self::Script(reports.into_iter().map(Step::report).collect())
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Route(r) => {
                let moves = r.segments.iter().any(|s| match s {
                    Segment::Drive { speed_kmh, .. } => *speed_kmh > 0.0,
                    Segment::Stay { secs, .. } => *secs > 0.0,
                    _ => false,
                });
                if r.looped && !moves {
                    return Err("a looped route needs a drive or a stay that takes time".into());
                }
                for s in &r.segments {
                    if let Segment::Stay { secs, .. } | Segment::Offline { secs } = s
                        && !(secs.is_finite() && *secs <= MAX_PAUSE_S)
                    {
                        return Err(format!("bad pause {s:?}: at most {MAX_PAUSE_S} s"));
                    }
                    if let Segment::Drive { speed_kmh, to, .. } = s
                        && !(speed_kmh.is_finite()
                            && *speed_kmh >= 0.0
                            && to.lat.abs() <= 90.0
                            && to.lon.abs() <= 180.0)
                    {
                        return Err(format!("bad drive segment {s:?}"));
                    }
                }
                Ok(())
            }
            Self::RandomWalk(w) => {
                if w.radius_m > 0.0
                    && w.min_speed_kmh > 0.0
                    && w.max_speed_kmh >= w.min_speed_kmh
                    && w.center.lat.abs() < 85.0
                {
                    Ok(())
                } else {
                    Err("random walk needs a positive radius and 0 < min speed ≤ max speed".into())
                }
            }
            Self::Script(_) => Ok(()),
        }
    }
}

impl Default for Behaviour {
    fn default() -> Self {
        Self::RandomWalk(RandomWalk::around(Point::new(51.5074, -0.1278), 3000.0))
    }
}

/// The vehicle's state at one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: Point,
    pub speed_kmh: f64,
    pub course_deg: f64,
    pub ignition: bool,
    /// Reason bits of this report (timed interval, journey start/stop, flags).
    pub reasons: u32,
    pub journey_m: f64,
    pub odometer_m: f64,
    /// The network is lost from this report on, for this many device seconds.
    pub offline_s: Option<f64>,
}

/// A small deterministic PRNG (xorshift64*), enough for wandering.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// Seeded from text (an IMEI) and a number.
    pub fn from_text(text: &str, seed: u64) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Self::new(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

enum Source {
    Route { route: Route, next: usize },
    Random { walk: RandomWalk, rng: Rng },
}

impl Source {
    /// The next segment, `None` at the end of a route that does not loop.
    fn next(&mut self) -> Option<Segment> {
        match self {
            Self::Route { route, next } => {
                if *next >= route.segments.len() {
                    if !route.looped || route.segments.is_empty() {
                        return None;
                    }
                    *next = 0;
                }
                let s = route.segments.get(*next).cloned();
                *next += 1;
                s
            }
            Self::Random { walk, rng } => {
                let stop = rng.unit() < walk.stop_chance;
                if stop {
                    let ignition = rng.unit() < 0.3;
                    return Some(Segment::stay(rng.range(30.0, 240.0), ignition));
                }
                let bearing = rng.range(0.0, 360.0);
                let dist = walk.radius_m * rng.unit().sqrt();
                let to = walk.center.offset(bearing, dist);
                let speed = rng.range(walk.min_speed_kmh, walk.max_speed_kmh);
                Some(Segment::Drive {
                    to,
                    speed_kmh: speed,
                    ignition: true,
                })
            }
        }
    }
}

enum Active {
    Drive {
        to: Point,
        speed_kmh: f64,
        ignition: bool,
    },
    Stay {
        left_s: f64,
        ignition: bool,
    },
}

/// Plays a route or random walk forward in device time.
pub struct Mover {
    source: Source,
    here: Point,
    active: Option<Active>,
    ignition: bool,
    /// Ignition on the last sample, for journey start/stop reasons.
    reported_ignition: Option<bool>,
    course_deg: f64,
    pending_reasons: u32,
    pending_offline: Option<f64>,
    journey_m: f64,
    odometer_m: f64,
}

impl Mover {
    /// `None` for a script (it has no motion).
    pub fn new(behaviour: &Behaviour, imei: &str) -> Option<Self> {
        let (source, here, ignition) = match behaviour {
            Behaviour::Route(r) => (
                Source::Route {
                    route: r.clone(),
                    next: 0,
                },
                r.start,
                r.ignition,
            ),
            Behaviour::RandomWalk(w) => {
                let mut rng = Rng::from_text(imei, w.seed);
                let start = w
                    .center
                    .offset(rng.range(0.0, 360.0), w.radius_m * rng.unit().sqrt());
                (
                    Source::Random {
                        walk: w.clone(),
                        rng,
                    },
                    start,
                    true,
                )
            }
            Behaviour::Script(_) => return None,
        };
        Some(Self {
            source,
            here,
            active: None,
            ignition,
            reported_ignition: None,
            course_deg: 0.0,
            pending_reasons: 0,
            pending_offline: None,
            journey_m: 0.0,
            odometer_m: 0.0,
        })
    }

    /// Makes sure a segment that takes time is active (flags and network loss are collected on
    /// the way). `false` at the end of a non-looping route.
    fn ensure_active(&mut self) -> bool {
        // A looped route of zero-time segments is refused by validation; this bound is a guard.
        for _ in 0..10_000 {
            if self.active.is_some() {
                return true;
            }
            let Some(segment) = self.source.next() else {
                return false;
            };
            match segment {
                Segment::Flag { reasons } => self.pending_reasons |= reasons,
                Segment::Offline { secs } => {
                    self.pending_offline = Some(self.pending_offline.unwrap_or(0.0).max(secs));
                }
                Segment::Drive {
                    to,
                    speed_kmh,
                    ignition,
                } => {
                    self.ignition = ignition;
                    if speed_kmh > 0.0 && self.here.distance_m(to) > 0.5 {
                        self.active = Some(Active::Drive {
                            to,
                            speed_kmh,
                            ignition,
                        });
                    } else {
                        self.here = to;
                    }
                }
                Segment::Stay { secs, ignition } => {
                    self.ignition = ignition;
                    if secs > 0.0 {
                        self.active = Some(Active::Stay {
                            left_s: secs,
                            ignition,
                        });
                    }
                }
            }
        }
        false
    }

    /// Advances `dt_s` device seconds and returns the state for a report at that moment.
    pub fn advance(&mut self, dt_s: f64) -> Sample {
        let mut dt = dt_s.max(0.0);
        while self.ensure_active() {
            if dt <= 0.0 {
                break;
            }
            match &mut self.active {
                Some(Active::Drive { to, speed_kmh, .. }) => {
                    let to = *to;
                    let v = *speed_kmh / 3.6;
                    let d = self.here.distance_m(to);
                    let need = d / v;
                    self.course_deg = self.here.bearing_deg(to);
                    if dt >= need {
                        self.here = to;
                        self.add_distance(d);
                        dt -= need;
                        self.active = None;
                    } else {
                        self.here = self.here.towards(to, dt * v / d);
                        self.add_distance(dt * v);
                        dt = 0.0;
                    }
                }
                Some(Active::Stay { left_s, .. }) => {
                    if dt >= *left_s {
                        dt -= *left_s;
                        self.active = None;
                    } else {
                        *left_s -= dt;
                        dt = 0.0;
                    }
                }
                None => break,
            }
        }
        let (speed_kmh, ignition) = match &self.active {
            Some(Active::Drive {
                to,
                speed_kmh,
                ignition,
            }) => {
                self.course_deg = self.here.bearing_deg(*to);
                (*speed_kmh, *ignition)
            }
            Some(Active::Stay { ignition, .. }) => (0.0, *ignition),
            None => (0.0, self.ignition),
        };
        let mut reasons = REASON_TIMED | std::mem::take(&mut self.pending_reasons);
        match (self.reported_ignition, ignition) {
            (Some(false), true) => {
                reasons |= REASON_JOURNEY_START;
                self.journey_m = 0.0;
            }
            (Some(true), false) => reasons |= REASON_JOURNEY_STOP,
            _ => {}
        }
        self.reported_ignition = Some(ignition);
        Sample {
            at: self.here,
            speed_kmh,
            course_deg: self.course_deg,
            ignition,
            reasons,
            journey_m: self.journey_m,
            odometer_m: self.odometer_m,
            offline_s: self.pending_offline.take(),
        }
    }

    /// Plays `secs` forward without reporting (flags and network loss on the way are dropped).
    pub fn skip(&mut self, secs: f64) {
        let ignition = self.reported_ignition;
        self.advance(secs);
        self.reported_ignition = ignition;
        self.pending_reasons = 0;
        self.pending_offline = None;
        self.journey_m = 0.0;
        self.odometer_m = 0.0;
    }

    fn add_distance(&mut self, d: f64) {
        self.journey_m += d;
        self.odometer_m += d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mover(route: Route) -> Mover {
        Mover::new(&Behaviour::Route(route), "357322040000011").unwrap()
    }

    #[test]
    fn drives_stays_and_flags_in_device_time() {
        let a = Point::new(51.5, -0.1);
        let b = a.offset(90.0, 1000.0);
        let route = Route::new(
            a,
            vec![
                Segment::Drive {
                    to: b,
                    speed_kmh: 36.0,
                    ignition: true,
                },
                Segment::flag(REASON_PANIC),
                Segment::stay(60.0, false),
                Segment::offline(30.0),
                Segment::Drive {
                    to: a,
                    speed_kmh: 36.0,
                    ignition: false,
                },
            ],
        );
        let mut m = mover(route);
        let s = m.advance(0.0);
        assert_eq!((s.speed_kmh, s.ignition), (36.0, true));
        let s = m.advance(50.0);
        assert!((s.at.distance_m(b) - 500.0).abs() < 5.0, "{s:?}");
        // Arrives after 100 s: the flag is picked up and the stay begins, ignition off.
        let s = m.advance(55.0);
        assert_eq!(s.speed_kmh, 0.0);
        assert!(!s.ignition);
        assert_ne!(s.reasons & REASON_PANIC, 0);
        assert_ne!(s.reasons & REASON_JOURNEY_STOP, 0);
        let s = m.advance(10.0);
        assert_eq!(s.reasons & REASON_PANIC, 0);
        // After the stay: network loss, then a tow (ignition off, moving).
        let s = m.advance(60.0);
        assert_eq!(s.offline_s, Some(30.0));
        assert_eq!((s.speed_kmh, s.ignition), (36.0, false));
        assert!(s.odometer_m > 1000.0);
    }

    #[test]
    fn random_walk_stays_near_its_centre() {
        let c = Point::new(51.5, -0.1);
        let mut m = Mover::new(
            &Behaviour::RandomWalk(RandomWalk::around(c, 2000.0)),
            "357322040000011",
        )
        .unwrap();
        for _ in 0..500 {
            let s = m.advance(30.0);
            assert!(s.at.distance_m(c) <= 2100.0, "{s:?}");
            assert!(s.speed_kmh == 0.0 || (20.0..=70.0).contains(&s.speed_kmh));
        }
    }

    #[test]
    fn looped_route_of_flags_only_is_refused() {
        let r = Route::new(Point::new(0.0, 0.0), vec![Segment::flag(1)]);
        assert!(Behaviour::Route(r).validate().is_err());
    }
}
