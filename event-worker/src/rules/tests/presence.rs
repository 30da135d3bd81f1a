//! Online / offline journeys.

use super::*;
use SessionEventKind::{Connected, Disconnected, LoggedIn};

#[test]
fn first_frame_brings_a_device_online_once() {
    let mut j = Journey::new();
    assert_eq!(j.feed(fix(0)), ["device_online"]);
    assert!(j.feed(fix(30)).is_empty());
}

#[test]
fn session_login_and_close() {
    let mut j = Journey::new();
    assert_eq!(j.session(Connected, "a", 0), ["device_online"]);
    assert!(j.session(LoggedIn, "a", 1).is_empty());
    assert!(j.feed(fix(5)).is_empty());
    assert_eq!(j.session(Disconnected, "a", 100), ["device_offline"]);
    assert!(!j.state.online);
}

#[test]
fn a_position_decoded_after_its_session_closed_does_not_bring_the_device_back() {
    let mut j = Journey::new();
    j.session(LoggedIn, "a", 0);
    j.session(Disconnected, "a", 100);
    // Received at 91 s, before the close at 100 s, but processed after it.
    let late_decoded = fix(90);
    assert!(j.feed(late_decoded).is_empty());
    assert!(!j.state.online);
    // A frame received after the close is a new connection.
    assert_eq!(j.feed(fix(200)), ["device_online"]);
}

#[test]
fn reconnect_storm_yields_one_online_and_offline_per_real_change() {
    let mut j = Journey::new();
    let mut labels = Vec::new();
    labels.extend(j.session(LoggedIn, "a", 0));
    // The device reconnects through another gateway before the first socket is closed.
    labels.extend(j.session(LoggedIn, "b", 10));
    labels.extend(j.session(Disconnected, "a", 11));
    labels.extend(j.session(LoggedIn, "c", 20));
    labels.extend(j.session(Disconnected, "b", 21));
    labels.extend(j.session(Disconnected, "c", 30));
    labels.extend(j.session(LoggedIn, "d", 40));
    labels.extend(j.session(Disconnected, "d", 41));
    assert_eq!(
        labels,
        [
            "device_online",
            "device_offline",
            "device_online",
            "device_offline"
        ]
    );
}

#[test]
fn a_silent_device_with_an_open_socket_times_out() {
    let mut j = Journey::new();
    j.session(LoggedIn, "a", 0);
    j.feed(fix(10).ign(false));
    // Last frame received at 11 s; offline after 600 s without one.
    assert!(j.tick(610).is_empty());
    let events = j.tick_events(611);
    assert_eq!(labels(&events), ["device_offline"]);
    assert_eq!(events[0].occurred_at, Some(timestamp(T0 + 611_000)));
    assert_eq!(events[0].reason, "no frame");
    assert!(j.tick(700).is_empty());
    assert_eq!(j.feed(fix(800).ign(false)), ["device_online"]);
}

#[test]
fn offline_time_is_configurable_per_device() {
    let mut j = Journey::new();
    j.config.offline_after_s = Some(60);
    j.feed(fix(0));
    assert!(j.tick(60).is_empty());
    assert_eq!(j.tick(61), ["device_offline"]);
}

#[test]
fn duplicates_and_late_positions_change_nothing() {
    let mut j = Journey::new();
    j.feed(fix(0).ign(true));
    j.feed(fix(60).ign(true));
    let before = j.state.clone();
    assert_eq!(
        j.feed_outcome(fix(60).ign(true)),
        (Outcome::Duplicate, vec![])
    );
    let late = fix(30).ign(false).speed(150.0);
    assert_eq!(j.feed_outcome(late), (Outcome::Late, vec![]));
    assert_eq!(j.state, before);
}

#[test]
fn a_late_report_still_raises_its_alarm_unless_it_is_active() {
    let mut j = Journey::new();
    j.feed(fix(0));
    j.feed(fix(60).reason(Reason::CollisionAlarm));
    let before = j.state.clone();
    let late = fix(30).reason(Reason::PanicSwitchActivated);
    let events = j.feed_events(late.clone());
    assert_eq!(labels(&events), ["alarm(panic)"]);
    assert_eq!(events[0].reason, "late");
    assert_eq!(j.state, before, "a late report changes no state");
    // The collision is active: a late report of it adds nothing.
    let late = fix(40).reason(Reason::CollisionAlarm);
    assert!(j.feed_events(late).is_empty());
}
