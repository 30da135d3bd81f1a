//! Alarms: the device's alarm reasons, the GPS-jammer status bit, and digital inputs mapped to an
//! alarm kind per device (e.g. input 2 = panic for a lone-worker button). An alarm is raised when
//! it becomes active and not again while it stays active on consecutive reports.

use super::{Context, Emitter, Fix};
use astra_proto::v1::{DeviceState, EventType, Reason};

/// Reason bits that are alarms, and the kind each raises.
const REASON_ALARMS: &[(Reason, &str)] = &[
    (Reason::PanicSwitchActivated, "panic"),
    (Reason::CollisionAlarm, "collision"),
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

pub(super) fn on_fix(state: &mut DeviceState, fix: &Fix<'_>, cx: &Context<'_>, out: &mut Emitter) {
    let active = active_alarms(fix, cx);
    raise_new(state, &active, fix, "", out);
    state.active_alarms = active;
}

/// A late report (older than the newest processed): its alarms are raised unless active now;
/// the state is left alone.
pub(super) fn on_late(state: &DeviceState, fix: &Fix<'_>, cx: &Context<'_>, out: &mut Emitter) {
    raise_new(state, &active_alarms(fix, cx), fix, "late", out);
}

/// Raises each of `active` that is not active in `state` already.
fn raise_new(
    state: &DeviceState,
    active: &[String],
    fix: &Fix<'_>,
    reason: &str,
    out: &mut Emitter,
) {
    for kind in active {
        if !state.active_alarms.contains(kind) {
            let cause = format!("{}:{kind}", fix.key);
            let e = out.emit(EventType::Alarm, &cause, fix.t, Some(fix.p));
            e.alarm = kind.clone();
            reason.clone_into(&mut e.reason);
        }
    }
}

/// The alarm kinds active on one report, sorted and unique.
fn active_alarms(fix: &Fix<'_>, cx: &Context<'_>) -> Vec<String> {
    let mut kinds: Vec<String> = REASON_ALARMS
        .iter()
        .filter(|(reason, _)| fix.has(*reason))
        .map(|(_, kind)| (*kind).to_owned())
        .collect();
    let p = fix.p;
    let power_cut = p
        .external_voltage_v
        .is_some_and(|v| v < cx.settings.power_cut_below_v);
    if fix.has(Reason::ExternalPower) && power_cut {
        kinds.push("power_cut".to_owned());
    }
    if p.status.as_ref().is_some_and(|s| s.jammer_detected) {
        kinds.push("jammer".to_owned());
    }
    let inputs = p.io.as_ref().map_or(0, |io| io.inputs);
    for (&input, kind) in cx.config.map(|c| &c.input_alarms).into_iter().flatten() {
        let high = (1..=32).contains(&input) && inputs & (1 << (input - 1)) != 0;
        if high {
            kinds.push(if kind.is_empty() {
                format!("input_{input}")
            } else {
                kind.clone()
            });
        }
    }
    kinds.sort();
    kinds.dedup();
    kinds
}
