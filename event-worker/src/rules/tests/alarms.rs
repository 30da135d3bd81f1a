//! Alarm journeys.

use super::*;

#[test]
fn a_repeated_alarm_is_raised_once_while_it_stays_active() {
    let mut j = Journey::new();
    let panic = Reason::PanicSwitchActivated;
    let events = j.drive(vec![
        fix(0).reason(panic),
        fix(10).reason(panic),
        fix(20),
        fix(30).reason(panic).reason(Reason::CollisionAlarm),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "0:alarm(panic)",
            "30:alarm(collision)",
            "30:alarm(panic)",
        ]
    );
}

#[test]
fn every_alarm_reason_has_its_kind() {
    let cases = [
        (Reason::Tamper, "tamper"),
        (Reason::RollOver, "roll_over"),
        (Reason::UnauthorisedDriverAlarm, "unauthorised_driver"),
        (Reason::LowBattery, "low_battery"),
        (Reason::LowExternalVoltage, "low_external_voltage"),
        (Reason::MotionDetectedWhilstParked, "motion_while_parked"),
        (Reason::AccelThresholdMax, "harsh_acceleration"),
        (Reason::DecelThresholdMax, "harsh_braking"),
        (Reason::CorneringThresholdMax, "harsh_cornering"),
    ];
    for (reason, kind) in cases {
        let mut j = Journey::new();
        j.feed(fix(0));
        assert_eq!(j.feed(fix(10).reason(reason)), [format!("alarm({kind})")]);
    }
}

#[test]
fn a_mapped_digital_input_is_an_alarm_while_high() {
    let mut j = Journey::new();
    j.config.input_alarms.insert(2, "panic".into());
    j.config.input_alarms.insert(3, String::new());
    let events = j.drive(vec![
        fix(0).inputs(0b001),
        fix(10).inputs(0b011),
        fix(20).inputs(0b011),
        fix(30).inputs(0b001),
        fix(40).inputs(0b110),
    ]);
    assert_eq!(
        events,
        [
            "0:device_online",
            "10:alarm(panic)",
            "40:alarm(input_3)",
            "40:alarm(panic)",
        ]
    );
}

#[test]
fn jammer_status_and_power_cut() {
    let mut j = Journey::new();
    let events = j.drive(vec![
        fix(0),
        fix(10).jammer(),
        fix(20).jammer(),
        fix(30).reason(Reason::ExternalPower).volts(12.4),
        fix(40).reason(Reason::ExternalPower).volts(0.2),
    ]);
    assert_eq!(
        events,
        ["0:device_online", "10:alarm(jammer)", "40:alarm(power_cut)"]
    );
}
