//! Moving / stopped and distance journeys.

use super::*;

#[test]
fn two_fast_fixes_make_a_device_moving_and_three_slow_minutes_stop_it() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0),
        fix(10).speed(20.0),
        fix(20).speed(25.0).place(at(60.0, 0.0)),
        fix(80).speed(2.0).place(at(120.0, 0.0)),
        fix(199).place(at(120.0, 0.0)),
        fix(200).place(at(120.0, 0.0)),
    ]);
    assert_eq!(
        events,
        ["0:device_online", "20:device_moving", "200:device_stopped"]
    );
}

#[test]
fn stopped_occurs_when_the_stop_time_ran_out() {
    let mut j = Journey::new();
    j.drive(vec![fix(0).speed(20.0), fix(10).speed(20.0)]);
    let events = j.feed_events(fix(400));
    assert_eq!(labels(&events), ["device_stopped"]);
    assert_eq!(events[0].occurred_at, Some(timestamp(T0 + 190_000)));
}

#[test]
fn one_fast_fix_alone_is_not_movement() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0),
        fix(10).speed(30.0),
        fix(20),
        fix(30).speed(30.0),
    ]);
    assert_eq!(events, ["0:device_online"]);
}

#[test]
fn creeping_beyond_the_moving_distance_is_movement() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0),
        fix(120).speed(3.0).place(at(100.0, 0.0)),
        fix(240).speed(3.0).place(at(210.0, 0.0)),
    ]);
    assert_eq!(events, ["0:device_online", "240:device_moving"]);
}

#[test]
fn gps_drift_while_parked_is_not_movement() {
    let mut j = Journey::new();
    let mut fixes = vec![fix(0).ign(false)];
    for i in 1..30 {
        let jitter = if i % 2 == 0 { 40.0 } else { -40.0 };
        fixes.push(fix(i * 60).ign(false).place(at(jitter, -jitter)).speed(1.0));
    }
    assert_eq!(j.drive(fixes), ["0:device_online"]);
}

#[test]
fn journey_reasons_start_and_stop_at_once() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).reason(Reason::JourneyStart),
        fix(30).speed(40.0).place(at(300.0, 0.0)),
        fix(60).reason(Reason::JourneyStop).place(at(350.0, 0.0)),
    ]);
    assert_eq!(
        events,
        ["0:device_online", "0:device_moving", "60:device_stopped"]
    );
}

#[test]
fn a_moving_device_that_falls_silent_is_stopped_by_the_timer() {
    let mut j = Journey::new();
    j.drive(vec![
        fix(0).speed(50.0),
        fix(10).speed(50.0).place(at(140.0, 0.0)),
    ]);
    // Received at 11 s; device time then runs with the wall clock.
    assert!(j.tick(190).is_empty());
    let events = j.tick_events(191);
    assert_eq!(labels(&events), ["device_stopped"]);
    assert_eq!(events[0].occurred_at, Some(timestamp(T0 + 190_000)));
}

#[test]
fn ignition_flapping_raises_every_change() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).ign(false),
        fix(1).ign(true),
        fix(2).ign(false),
        fix(3).ign(true),
        fix(4).ign(true),
        fix(5).ign(false),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "1:ignition_on",
            "2:ignition_off",
            "3:ignition_on",
            "5:ignition_off",
        ]
    );
}

#[test]
fn distance_adds_valid_legs_and_skips_impossible_jumps() {
    let mut j = Journey::new();
    j.drive(vec![
        fix(0),
        fix(10).place(at(100.0, 0.0)),
        fix(20).invalid().place(at(5000.0, 0.0)),
        // 50 km in 10 s: a GPS jump, not a leg.
        fix(30).place(at(50_100.0, 0.0)),
        fix(40).place(at(200.0, 0.0)),
        fix(50).place(at(300.0, 0.0)),
    ]);
    assert!(
        (j.state.distance_m - 200.0).abs() < 0.5,
        "{}",
        j.state.distance_m
    );
}
