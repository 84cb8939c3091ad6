//! Time conditions across daylight-saving changes in Europe/Berlin and America/New_York, driven by ManualClock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use pbxsec_core::{Clock, ManualClock, UnixTime};
use pbxsec_outbound::{
    Call, DenyCode, ExtensionConfig, Holiday, OutboundConfig, OutboundPolicy, RouteConfig,
    RoutePattern, TimeConditionConfig, WeeklyRange,
};

const ALL_DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hours(tz: &str, from: &str, to: &str, holidays: &[&str]) -> TimeConditionConfig {
    TimeConditionConfig {
        time_zone: tz.to_owned(),
        weekly: vec![WeeklyRange {
            days: ALL_DAYS.iter().map(|d| (*d).to_owned()).collect(),
            from: from.to_owned(),
            to: to.to_owned(),
        }],
        holidays: holidays
            .iter()
            .map(|d| Holiday {
                name: None,
                date: (*d).to_owned(),
                until: None,
            })
            .collect(),
    }
}

/// One route open only during `office`.
fn policy(office: TimeConditionConfig) -> OutboundPolicy {
    let c = OutboundConfig {
        time_conditions: BTreeMap::from([("office".to_owned(), office)]),
        routes: vec![RouteConfig {
            patterns: vec![RoutePattern::new("X.")],
            everyone: true,
            time_condition: Some("office".to_owned()),
            ..RouteConfig::new("office-hours")
        }],
        ..OutboundConfig::default()
    };
    OutboundPolicy::try_from(c).unwrap()
}

fn at(s: &str) -> UnixTime {
    s.parse().unwrap()
}

/// Steps a ManualClock through 24 hours from `start` (UTC) in 30-minute
/// steps and returns the UTC half-hours (as minutes after `start`) at which
/// a call goes through.
fn open_minutes(policy: &OutboundPolicy, start: &str) -> Vec<u64> {
    let clock = ManualClock::new(at(start));
    let mut open = Vec::new();
    for step in 0..48u64 {
        let out = policy.decide(&Call::new("100", "5551234"), clock.wall());
        match out.decision.code() {
            None => open.push(step * 30),
            Some(DenyCode::OutsideHours) => {}
            Some(other) => panic!("unexpected {other}"),
        }
        clock.advance(Duration::from_secs(1800));
    }
    open
}

fn range(from_min: u64, to_min: u64) -> Vec<u64> {
    (from_min..to_min).step_by(30).collect()
}

#[test]
fn berlin_spring_forward() {
    let p = policy(hours("Europe/Berlin", "08:00", "18:00", &[]));
    // Saturday 28 March 2026: CET (UTC+1), open 07:00-17:00 UTC.
    assert_eq!(
        open_minutes(&p, "2026-03-28T00:00:00Z"),
        range(7 * 60, 17 * 60)
    );
    // Sunday 29 March: clocks go 02:00 -> 03:00, CEST (UTC+2), open 06:00-16:00 UTC.
    assert_eq!(
        open_minutes(&p, "2026-03-29T00:00:00Z"),
        range(6 * 60, 16 * 60)
    );
}

#[test]
fn berlin_fall_back() {
    let p = policy(hours("Europe/Berlin", "08:00", "18:00", &[]));
    assert_eq!(
        open_minutes(&p, "2026-10-24T00:00:00Z"),
        range(6 * 60, 16 * 60)
    );
    assert_eq!(
        open_minutes(&p, "2026-10-25T00:00:00Z"),
        range(7 * 60, 17 * 60)
    );
}

#[test]
fn new_york_both_changes() {
    let p = policy(hours("America/New_York", "08:00", "18:00", &[]));
    // EST (UTC-5) before 8 March 2026, EDT (UTC-4) from then on.
    assert_eq!(
        open_minutes(&p, "2026-03-07T00:00:00Z"),
        range(13 * 60, 23 * 60)
    );
    assert_eq!(
        open_minutes(&p, "2026-03-08T00:00:00Z"),
        range(12 * 60, 22 * 60)
    );
    // Back to EST on 1 November 2026.
    assert_eq!(
        open_minutes(&p, "2026-10-31T00:00:00Z"),
        range(12 * 60, 22 * 60)
    );
    assert_eq!(
        open_minutes(&p, "2026-11-01T00:00:00Z"),
        range(13 * 60, 23 * 60)
    );
}

#[test]
fn the_skipped_and_repeated_hours() {
    // Open 02:00-03:00 local: on the spring-forward night that hour does not
    // exist in Berlin; on the fall-back night it happens twice.
    let p = policy(hours("Europe/Berlin", "02:00", "03:00", &[]));
    assert_eq!(open_minutes(&p, "2026-03-29T00:00:00Z"), Vec::<u64>::new());
    assert_eq!(open_minutes(&p, "2026-10-25T00:00:00Z"), range(0, 120));
}

#[test]
fn holidays_follow_the_local_date() {
    let p = policy(hours("America/New_York", "00:00", "24:00", &["2026-12-25"]));
    let call = Call::new("100", "5551234");
    let clock = ManualClock::new(at("2026-12-25T04:30:00Z")); // 23:30 on the 24th in New York
    assert!(p.decide(&call, clock.wall()).decision.is_allowed());
    clock.advance(Duration::from_secs(3600)); // 00:30 on the 25th
    assert_eq!(
        p.decide(&call, clock.wall()).decision.code(),
        Some(DenyCode::OutsideHours)
    );
    clock.set_wall(at("2026-12-26T04:59:00Z")); // 23:59 on the 25th
    assert_eq!(
        p.decide(&call, clock.wall()).decision.code(),
        Some(DenyCode::OutsideHours)
    );
    clock.advance(Duration::from_secs(60));
    assert!(p.decide(&call, clock.wall()).decision.is_allowed());
}

#[test]
fn weekdays_only() {
    let mut office = hours("Europe/Berlin", "09:00", "17:00", &[]);
    office.weekly[0].days = vec!["monday".to_owned(), "Fri".to_owned()];
    let p = policy(office);
    let call = Call::new("100", "5551234");
    // 2026-11-23 is a Monday, 2026-11-24 a Tuesday, 2026-11-27 a Friday.
    assert!(
        p.decide(&call, at("2026-11-23T10:00:00Z"))
            .decision
            .is_allowed()
    );
    assert!(
        !p.decide(&call, at("2026-11-24T10:00:00Z"))
            .decision
            .is_allowed()
    );
    assert!(
        p.decide(&call, at("2026-11-27T15:59:00Z"))
            .decision
            .is_allowed()
    );
    assert!(
        !p.decide(&call, at("2026-11-27T16:00:00Z"))
            .decision
            .is_allowed()
    );
}

#[test]
fn extension_switch_outside_business_hours() {
    let mut c = OutboundConfig {
        time_conditions: BTreeMap::from([(
            "office".to_owned(),
            hours("Europe/Berlin", "08:00", "18:00", &[]),
        )]),
        business_hours: Some("office".to_owned()),
        routes: vec![RouteConfig {
            patterns: vec![RoutePattern::new("X.")],
            everyone: true,
            ..RouteConfig::new("any")
        }],
        ..OutboundConfig::default()
    };
    c.extensions.insert(
        "200".to_owned(),
        ExtensionConfig {
            disable_outbound_calls_outside_business_hours: true,
            ..ExtensionConfig::default()
        },
    );
    let p = OutboundPolicy::try_from(c.clone()).unwrap();
    let night = at("2026-03-29T20:00:00Z");
    assert_eq!(
        p.decide(&Call::new("200", "5551234"), night)
            .decision
            .code(),
        Some(DenyCode::OutsideHours)
    );
    assert!(
        p.decide(&Call::new("201", "5551234"), night)
            .decision
            .is_allowed()
    );
    assert!(
        p.decide(&Call::new("200", "5551234"), at("2026-03-29T06:30:00Z"))
            .decision
            .is_allowed()
    );
    // The switch without business hours is a load error.
    c.business_hours = None;
    let err = OutboundPolicy::try_from(c).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("extensions.200.disable_outbound_calls_outside_business_hours:"),
        "{err}"
    );
}
