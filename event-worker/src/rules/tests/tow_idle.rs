//! Tow and long-idle journeys.

use super::*;

#[test]
fn the_devices_towing_reason_and_towing_end() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).ign(false),
        fix(10).ign(false).reason(Reason::Towing),
        fix(20).ign(false).reason(Reason::Towing),
        fix(30).ign(false).reason(Reason::TowingEnd),
    ]);
    assert_eq!(events, ["0:device_online", "10:tow", "30:tow_end"]);
}

#[test]
fn dragged_with_ignition_off_is_a_tow_that_ends_with_ignition_on() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).ign(true),
        fix(10).ign(false),
        fix(70).ign(false).speed(4.0).place(at(60.0, 0.0)),
        fix(130).ign(false).speed(4.0).place(at(130.0, 0.0)),
        fix(140).ign(false).speed(3.0).place(at(140.0, 0.0)),
        fix(150).ign(true).place(at(140.0, 0.0)),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "10:ignition_off",
            "130:tow",
            "150:ignition_on",
            "150:tow_end",
        ]
    );
}

#[test]
fn ignition_off_at_tow_speed_is_a_tow_that_ends_when_it_stops() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).ign(false),
        fix(10).ign(false).speed(15.0).place(at(40.0, 0.0)),
        fix(20).ign(false).speed(15.0).place(at(80.0, 0.0)),
        fix(30).ign(false).speed(15.0).place(at(120.0, 0.0)),
        fix(300).ign(false).place(at(120.0, 0.0)),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "10:tow",
            "20:device_moving",
            "300:device_stopped",
            "300:tow_end",
        ]
    );
}

#[test]
fn long_idle_once_per_period_with_its_duration_at_the_end() {
    let mut j = Journey::new();
    let mut fixes: Vec<Position> = (0..=6).map(|m| fix(m * 60).ign(true)).collect();
    fixes.push(fix(400).ign(true).speed(30.0));
    let mut events = Vec::new();
    for p in fixes {
        events.extend(j.feed_events(p));
    }
    assert_eq!(
        labels(&events),
        ["device_online", "long_idle", "long_idle_end"]
    );
    assert_eq!(events[1].occurred_at, Some(timestamp(T0 + 300_000)));
    assert_eq!(events[1].duration_s, Some(300));
    assert_eq!(events[2].duration_s, Some(400));
}

#[test]
fn idling_start_from_the_device_raises_long_idle_at_once() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).ign(true).speed(40.0),
        fix(60).ign(true).reason(Reason::IdlingStart),
        fix(90).ign(true).reason(Reason::IdlingOngoing),
        fix(120).ign(true).reason(Reason::IdlingEnd),
    ]);
    assert_eq!(
        events,
        ["0:device_online", "60:long_idle", "120:long_idle_end"]
    );
}

#[test]
fn idle_without_reports_is_caught_by_the_timer() {
    let mut j = Journey::new();
    j.config.long_idle_after_s = Some(120);
    j.feed(fix(0).ign(true));
    // Received at 1 s: device time reaches 120 s at wall time 121 s.
    assert!(j.tick(120).is_empty());
    let events = j.tick_events(121);
    assert_eq!(labels(&events), ["long_idle"]);
    assert_eq!(events[0].duration_s, Some(120));
    assert!(j.tick(500).iter().all(|e| e != "long_idle"));
}
