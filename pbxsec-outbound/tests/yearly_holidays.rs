//! Yearly recurring holidays ("12-25" every year) in a named time zone, across daylight-saving changes, driven by ManualClock; a proptest against dated holidays written out year by year.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use pbxsec_core::{Clock, ManualClock, UnixTime};
use pbxsec_outbound::{
    Call, DenyCode, Holiday, OutboundConfig, OutboundPolicy, RouteConfig, RoutePattern,
    TimeConditionConfig, WeeklyRange,
};
use proptest::prelude::*;

const ALL_DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn holiday(date: &str, until: Option<&str>) -> Holiday {
    Holiday {
        name: None,
        date: date.to_owned(),
        until: until.map(str::to_owned),
    }
}

/// Open all day every day, except `holidays`.
fn always(tz: &str, holidays: Vec<Holiday>) -> TimeConditionConfig {
    TimeConditionConfig {
        time_zone: tz.to_owned(),
        weekly: vec![WeeklyRange {
            days: ALL_DAYS.iter().map(|d| (*d).to_owned()).collect(),
            from: "00:00".to_owned(),
            to: "24:00".to_owned(),
        }],
        holidays,
    }
}

fn config(office: TimeConditionConfig) -> OutboundConfig {
    OutboundConfig {
        time_conditions: BTreeMap::from([("office".to_owned(), office)]),
        routes: vec![RouteConfig {
            patterns: vec![RoutePattern::new("X.")],
            everyone: true,
            time_condition: Some("office".to_owned()),
            ..RouteConfig::new("office-hours")
        }],
        ..OutboundConfig::default()
    }
}

fn policy(office: TimeConditionConfig) -> OutboundPolicy {
    OutboundPolicy::try_from(config(office)).unwrap()
}

fn at(s: &str) -> UnixTime {
    s.parse().unwrap()
}

fn open(p: &OutboundPolicy, wall: UnixTime) -> bool {
    match p.decide(&Call::new("100", "5551234"), wall).decision.code() {
        None => true,
        Some(DenyCode::OutsideHours) => false,
        Some(other) => panic!("unexpected {other}"),
    }
}

/// The first and last closed minute (UTC) of a holiday, checked one minute
/// either side, driven by a ManualClock.
fn assert_closed_between(p: &OutboundPolicy, first: &str, last: &str) {
    let clock = ManualClock::new(at(first));
    assert!(
        open(p, clock.wall().saturating_sub_secs(60)),
        "open before {first}"
    );
    assert!(!open(p, clock.wall()), "closed at {first}");
    clock.set_wall(at(last));
    assert!(!open(p, clock.wall()), "closed at {last}");
    clock.advance(Duration::from_secs(60));
    assert!(open(p, clock.wall()), "open after {last}");
}

trait SubSecs {
    fn saturating_sub_secs(self, s: u64) -> UnixTime;
}

impl SubSecs for UnixTime {
    fn saturating_sub_secs(self, s: u64) -> Self {
        Self::from_millis(self.as_millis().saturating_sub(s * 1000))
    }
}

#[test]
fn christmas_every_year_in_berlin() {
    let p = policy(always("Europe/Berlin", vec![holiday("12-25", None)]));
    // CET (UTC+1) in December: the local day 25 December is 23:00 UTC on
    // the 24th to 22:59 UTC on the 25th, every year.
    for year in [2026, 2027, 2030, 2040] {
        assert_closed_between(
            &p,
            &format!("{year}-12-24T23:00:00Z"),
            &format!("{year}-12-25T22:59:00Z"),
        );
    }
    // The rest of the year is open.
    assert!(open(&p, at("2027-06-25T12:00:00Z")));
}

#[test]
fn yearly_and_dated_holidays_together() {
    let p = policy(always(
        "America/New_York",
        vec![
            holiday("12-25", None),
            holiday("2026-11-26", None), // Thanksgiving 2026 (dated: it moves)
            holiday("07-04", None),
        ],
    ));
    // EST (UTC-5).
    assert_closed_between(&p, "2026-12-25T05:00:00Z", "2026-12-26T04:59:00Z");
    assert_closed_between(&p, "2026-11-26T05:00:00Z", "2026-11-27T04:59:00Z");
    // Thanksgiving 2027 is on another day: 26 November 2027 is open.
    assert!(open(&p, at("2027-11-26T15:00:00Z")));
    // EDT (UTC-4) in July.
    assert_closed_between(&p, "2027-07-04T04:00:00Z", "2027-07-05T03:59:00Z");
}

#[test]
fn a_yearly_range_over_the_new_year() {
    let p = policy(always(
        "America/New_York",
        vec![holiday("12-31", Some("01-01"))],
    ));
    for year in [2026, 2031] {
        let next = year + 1;
        assert_closed_between(
            &p,
            &format!("{year}-12-31T05:00:00Z"),
            &format!("{next}-01-02T04:59:00Z"),
        );
    }
    assert!(open(&p, at("2027-01-02T12:00:00Z")));
    assert!(open(&p, at("2027-12-30T12:00:00Z")));
}

/// A yearly holiday on a daylight-saving day lasts 23 or 25 hours: it is a
/// local day.
#[test]
fn yearly_holidays_on_daylight_saving_days() {
    // Europe/Berlin springs forward on Sunday 29 March 2026: the local day
    // runs from 23:00 UTC (CET) to 22:00 UTC (CEST), 23 hours.
    let p = policy(always("Europe/Berlin", vec![holiday("03-29", None)]));
    assert_closed_between(&p, "2026-03-28T23:00:00Z", "2026-03-29T21:59:00Z");
    // In 2027 the change is on 28 March; 29 March is a CEST day (24 hours).
    assert_closed_between(&p, "2027-03-28T22:00:00Z", "2027-03-29T21:59:00Z");

    // America/New_York falls back on Sunday 1 November 2026: 00:00 EDT is
    // 04:00 UTC and the next midnight (EST) is 05:00 UTC, 25 hours later.
    let p = policy(always("America/New_York", vec![holiday("11-01", None)]));
    assert_closed_between(&p, "2026-11-01T04:00:00Z", "2026-11-02T04:59:00Z");
    // In 2027 the change is on 7 November; 1 November is an EDT day.
    assert_closed_between(&p, "2027-11-01T04:00:00Z", "2027-11-02T03:59:00Z");
}

#[test]
fn leap_day_is_a_holiday_in_leap_years_only() {
    let p = policy(always("UTC", vec![holiday("02-29", None)]));
    assert!(!open(&p, at("2028-02-29T12:00:00Z")));
    assert!(open(&p, at("2027-02-28T12:00:00Z")));
    assert!(open(&p, at("2027-03-01T12:00:00Z")));
}

#[test]
fn yearly_holiday_config_errors_name_the_field() {
    for (date, until, field, what) in [
        ("13-01", None, "date", "not a day of the year"),
        ("02-30", None, "date", "not a day of the year"),
        ("1-225", None, "date", "not a day of the year"),
        ("12-24", Some("2026-12-26"), "until", "must too"),
        ("2026-12-24", Some("12-26"), "until", "not a date"),
        ("12-2a", None, "date", "not a day of the year"),
    ] {
        let c = config(always(
            "UTC",
            vec![holiday("01-01", None), holiday(date, until)],
        ));
        let err = OutboundPolicy::try_from(c).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("time_conditions.office.holidays[1].{field}:"))
                && err.contains(what),
            "{date} {until:?}: {err}"
        );
    }
    // serde: the same field, written like a dated one.
    let c: TimeConditionConfig = serde_json::from_str(
        r#"{ "holidays": [ { "name": "Christmas", "date": "12-25" }, { "date": "12-31", "until": "01-01" } ] }"#,
    )
    .unwrap();
    assert_eq!(c.holidays[1].until.as_deref(), Some("01-01"));
    let back: TimeConditionConfig =
        serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

/// Days of the year without 29 February (its expansion differs by year).
fn month_day() -> impl Strategy<Value = (u8, u8)> {
    (1u8..=12, 1u8..=28)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A yearly holiday (possibly over the new year) decides exactly as the
    /// same holiday written out as dated holidays for every year, at random
    /// instants between 2024 and 2031, in a zone with daylight saving.
    #[test]
    fn yearly_equals_dated_year_by_year(
        ranges in proptest::collection::vec((month_day(), month_day()), 1..4),
        instants in proptest::collection::vec(1_704_067_200u64..1_956_528_000, 40),
        zone in prop_oneof![Just("Europe/Berlin"), Just("America/New_York"), Just("Australia/Sydney")],
    ) {
        let yearly: Vec<Holiday> = ranges
            .iter()
            .map(|&((m1, d1), (m2, d2))| holiday(&format!("{m1:02}-{d1:02}"), Some(&format!("{m2:02}-{d2:02}"))))
            .collect();
        let mut dated = Vec::new();
        for &((m1, d1), (m2, d2)) in &ranges {
            for year in 2023..=2032 {
                let over_new_year = (m2, d2) < (m1, d1);
                let end_year = if over_new_year { year + 1 } else { year };
                dated.push(holiday(
                    &format!("{year}-{m1:02}-{d1:02}"),
                    Some(&format!("{end_year}-{m2:02}-{d2:02}")),
                ));
            }
        }
        let a = policy(always(zone, yearly));
        let b = policy(always(zone, dated));
        for s in instants {
            let wall = UnixTime::from_secs(s);
            prop_assert_eq!(open(&a, wall), open(&b, wall), "at {}", wall);
        }
    }
}
