//! Overspeed journeys.

use super::*;

fn moving(speeds: &[(i64, f64)]) -> Vec<Position> {
    speeds
        .iter()
        .map(|&(s, v)| fix(s).ign(true).speed(v).place(at(s as f64 * 30.0, 0.0)))
        .collect()
}

fn overspeeds(events: Vec<String>) -> Vec<String> {
    events
        .into_iter()
        .filter(|e| e.contains("overspeed"))
        .collect()
}

#[test]
fn one_event_per_excursion_rearmed_only_below_the_hysteresis() {
    let mut j = Journey::new();
    j.config.speed_limit_kmh = Some(100.0);
    let events = j.drive(moving(&[
        (0, 90.0),
        (10, 110.0),
        (20, 120.0),
        (30, 97.0),
        (40, 110.0),
        (50, 94.0),
        (60, 105.0),
    ]));
    assert_eq!(overspeeds(events), ["10:overspeed", "60:overspeed"]);
}

#[test]
fn overspeed_carries_speed_and_limit() {
    let mut j = Journey::new();
    j.config.speed_limit_kmh = Some(100.0);
    j.feed(fix(0).speed(50.0));
    let events = j.feed_events(fix(10).speed(131.5));
    assert_eq!(labels(&events), ["device_moving", "overspeed"]);
    let events = &events[1..];
    assert_eq!(events[0].speed_kmh, Some(131.5));
    assert_eq!(events[0].speed_limit_kmh, Some(100.0));
    assert_eq!(events[0].reason, "server");
}

#[test]
fn minimum_duration_holds_back_short_excursions() {
    let mut j = Journey::new();
    j.settings.speed_limit_kmh = Some(100.0);
    j.settings.overspeed_min_s = 30;
    let events = j.drive(moving(&[
        (0, 110.0),
        (20, 110.0),
        (25, 90.0),
        (40, 110.0),
        (60, 110.0),
        (70, 110.0),
    ]));
    assert_eq!(overspeeds(events), ["70:overspeed"]);
}

#[test]
fn no_limit_means_no_server_overspeed() {
    let mut j = Journey::new();
    let events = j.drive(moving(&[(0, 180.0), (10, 190.0)]));
    assert!(overspeeds(events).is_empty());
}

#[test]
fn the_strictest_geofence_limit_applies_inside_it() {
    let mut j = Journey::new();
    j.config.speed_limit_kmh = Some(100.0);
    j.fences.add("school", at(0.0, 0.0), 500.0, Some(30.0), 0);
    let events = j.drive(vec![fix(0).speed(20.0), fix(10).speed(40.0)]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "0:geofence_enter(school)",
            "10:device_moving",
            "10:overspeed",
        ]
    );
    assert_eq!(j.state.inside_geofences, ["school"]);
}

#[test]
fn the_devices_own_speed_alarm_raises_overspeed_without_a_limit() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).speed(80.0).reason(Reason::SpeedOverthreshold),
        fix(10).speed(82.0).reason(Reason::SpeedOverthreshold),
        fix(20).speed(60.0),
        fix(30).speed(85.0).reason(Reason::SpeedOverthreshold),
    ]);
    assert_eq!(overspeeds(events), ["0:overspeed", "30:overspeed"]);
}
