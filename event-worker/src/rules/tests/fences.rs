//! Geofence journeys.

use super::*;

#[test]
fn enter_and_exit_a_circle() {
    let mut j = Journey::new();
    j.fences.add("depot", at(1000.0, 0.0), 200.0, None, 0);
    let events = j.drive(vec![
        fix(0),
        fix(60).place(at(900.0, 0.0)),
        fix(120).place(at(1100.0, 0.0)),
        fix(180).place(at(1300.0, 0.0)),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "60:device_moving",
            "60:geofence_enter(depot)",
            "180:geofence_exit(depot)",
        ]
    );
}

#[test]
fn the_event_names_the_fence() {
    let mut j = Journey::new();
    j.fences.add("depot", at(0.0, 0.0), 200.0, Some(20.0), 0);
    let events = j.feed_events(fix(0));
    assert_eq!(events[1].geofence_id, "depot");
    assert_eq!(events[1].geofence_name, "fence depot");
    assert_eq!(events[1].speed_limit_kmh, Some(20.0));
    assert_eq!(
        events[1].id,
        "356938035643809:geofence_enter:p1767225600000.0:depot"
    );
}

/// Fixes jittering 20 m either side of a boundary 200 m north of HOME.
fn jitter(from: i64, count: i64) -> Vec<Position> {
    (0..count)
        .map(|i| {
            let north = if i % 2 == 0 { 180.0 } else { 220.0 };
            fix(from + i * 10).place(at(north, 0.0))
        })
        .collect()
}

#[test]
fn jitter_across_the_boundary_without_dwell_toggles() {
    let mut j = Journey::new();
    j.fences.add("yard", HOME, 200.0, None, 0);
    j.feed(fix(0).place(at(190.0, 0.0)));
    let events = j.drive(jitter(10, 4));
    assert_eq!(
        events,
        [
            "20:geofence_exit(yard)",
            "30:geofence_enter(yard)",
            "40:geofence_exit(yard)"
        ]
    );
}

#[test]
fn dwell_absorbs_jitter_and_confirms_a_real_crossing() {
    let mut j = Journey::new();
    j.fences.add("yard", HOME, 200.0, None, 60);
    // Inside since 0 s: confirmed at 60 s.
    let start = at(190.0, 0.0);
    let mut fixes = vec![
        fix(0).place(start),
        fix(30).place(start),
        fix(60).place(start),
    ];
    fixes.extend(jitter(70, 12));
    // Then outside for good.
    fixes.extend([
        fix(200).place(at(350.0, 0.0)),
        fix(240).place(at(350.0, 0.0)),
        fix(260).place(at(350.0, 0.0)),
    ]);
    assert_eq!(
        j.drive(fixes),
        // Outside since the last jitter fix at 180 s: the exit is confirmed 60 s later.
        [
            "0:device_online",
            "60:geofence_enter(yard)",
            "240:geofence_exit(yard)"
        ]
    );
}

#[test]
fn an_invalid_fix_changes_no_membership() {
    let mut j = Journey::new();
    j.fences.add("yard", HOME, 200.0, None, 0);
    j.feed(fix(0).place(at(500.0, 0.0)));
    assert!(j.feed(fix(10).invalid()).is_empty());
    assert!(j.state.inside_geofences.is_empty());
}

#[test]
fn a_deleted_fence_is_forgotten_without_an_exit() {
    let mut j = Journey::new();
    j.fences.add("yard", HOME, 200.0, None, 0);
    j.feed(fix(0));
    j.fences.0.clear();
    assert!(j.feed(fix(10).place(at(150.0, 100.0))).is_empty());
    assert!(j.state.inside_geofences.is_empty());
}

#[test]
fn crossings_reported_by_the_device_name_its_fence_index() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0).reason(Reason::Geofence).device_fence(true, 3),
        fix(60).reason(Reason::Geofence).device_fence(false, 3),
        // The geofence byte without the geofence reason is not a crossing.
        fix(70).device_fence(true, 4),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "0:geofence_enter(device 3)",
            "60:geofence_exit(device 3)",
        ]
    );
}
