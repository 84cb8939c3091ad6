//! Time conditions: business hours per weekday and holidays, in a named
//! time zone.
//!
//! Local time is computed with [`jiff`] from the IANA time zone database that
//! jiff bundles into the binary (feature `tzdb-bundle-always`), so a decision
//! reads no file and gives the same answer on every machine; daylight-saving
//! transitions follow that database. The wall clock comes from the caller
//! (`pbxsec_core::Clock::wall`).

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use pbxsec_core::UnixTime;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A time condition as written in a configuration.
///
/// Open when the local date is not a holiday and the local time lies in one
/// of the `weekly` ranges for that weekday. With no `weekly` ranges it is
/// never open. Holidays are dated (`"2026-12-24"`) or recur every year
/// (`"12-25"`); both are whole local days in `time_zone`, so a holiday on a
/// day when the clocks change lasts 23 or 25 hours.
///
/// ```
/// # use pbxsec_outbound::{TimeConditionConfig, WeeklyRange};
/// let office: TimeConditionConfig = serde_json::from_str(r#"{
///     "time_zone": "Europe/Berlin",
///     "weekly": [ { "days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00" } ],
///     "holidays": [ { "date": "2026-12-24", "until": "2026-12-26" },
///                   { "name": "Christmas Day", "date": "12-25" },
///                   { "name": "New Year", "date": "12-31", "until": "01-01" } ]
/// }"#).unwrap();
/// assert_eq!(office.weekly.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConditionConfig {
    /// IANA time zone name, such as `"Europe/Berlin"`. Default: `"UTC"`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Open ranges. Default: none (never open).
    #[serde(default)]
    pub weekly: Vec<WeeklyRange>,
    /// Days on which it is closed all day. Default: none.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

/// Open from `from` to `to` (local time, `"HH:MM"`, `to` may be `"24:00"`)
/// on each of `days` (`"mon"` ... `"sun"`, or the full English names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyRange {
    /// The weekdays this range applies to.
    pub days: Vec<String>,
    /// Start of the range, inclusive.
    pub from: String,
    /// End of the range, exclusive; must be after `from` (a range across
    /// midnight is written as two ranges).
    pub to: String,
}

/// A holiday: closed on `date`, or from `date` to `until` inclusive.
///
/// Dated: `"YYYY-MM-DD"` (`"2026-12-24"`). Every year: `"MM-DD"` (`"12-25"`),
/// with `until` written the same way; a yearly range may run over the new
/// year (`"12-31"` until `"01-01"`). A yearly `"02-29"` is a holiday in leap
/// years only. `date` and `until` must be of the same kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// A name for people (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first (or only) day: `"YYYY-MM-DD"`, or `"MM-DD"` every year.
    pub date: String,
    /// The last day, inclusive, written like `date`. Default: `date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A compiled time condition.
#[derive(Clone, Debug)]
pub struct TimeCondition {
    tz: TimeZone,
    /// Per weekday (Monday = 0), open minute ranges `[from, to)`.
    week: [Vec<(u16, u16)>; 7],
    /// Sorted, non-overlapping holiday date ranges (inclusive).
    holidays: Vec<(Date, Date)>,
    /// Sorted, non-overlapping yearly ranges of (month, day), inclusive;
    /// ranges over the new year are split in two.
    yearly: Vec<(MonthDay, MonthDay)>,
}

/// A day of the year, `(month, day)`, ordered through the year.
type MonthDay = (i8, i8);

/// Sorts and merges inclusive ranges (linear after the sort).
fn merge<T: Ord + Copy>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// `true` if `x` is inside one of the sorted, non-overlapping `ranges`.
fn in_ranges<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let idx = ranges.partition_point(|&(_, end)| end < x);
    ranges.get(idx).is_some_and(|&(start, _)| start <= x)
}

impl TimeCondition {
    /// Compiles a configuration; `field` names it in errors.
    pub(crate) fn new(config: &TimeConditionConfig, field: &str) -> Result<Self, Error> {
        let tz = TimeZone::get(&config.time_zone).map_err(|_| {
            Error::config(
                format!("{field}.time_zone"),
                format!(
                    "{:?} is not a time zone in the IANA database",
                    crate::error::excerpt(&config.time_zone)
                ),
            )
        })?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (i, range) in config.weekly.iter().enumerate() {
            let f = format!("{field}.weekly[{i}]");
            let from =
                parse_hhmm(&range.from).map_err(|p| Error::config(format!("{f}.from"), p))?;
            let to = parse_hhmm(&range.to).map_err(|p| Error::config(format!("{f}.to"), p))?;
            if to <= from {
                return Err(Error::config(
                    format!("{f}.to"),
                    "must be after `from`; write a range across midnight as two ranges",
                ));
            }
            if range.days.is_empty() {
                return Err(Error::config(format!("{f}.days"), "no day given"));
            }
            for (j, day) in range.days.iter().enumerate() {
                let d = parse_day(day).map_err(|p| Error::config(format!("{f}.days[{j}]"), p))?;
                if let Some(slot) = week.get_mut(d) {
                    slot.push((from, to));
                }
            }
        }
        let mut holidays = Vec::with_capacity(config.holidays.len());
        let mut yearly = Vec::new();
        for (i, h) in config.holidays.iter().enumerate() {
            let f = format!("{field}.holidays[{i}]");
            if h.date.len() == 5 {
                let start =
                    parse_month_day(&h.date).map_err(|p| Error::config(format!("{f}.date"), p))?;
                let end = match &h.until {
                    Some(u) if u.len() == 5 => {
                        parse_month_day(u).map_err(|p| Error::config(format!("{f}.until"), p))?
                    }
                    Some(_) => {
                        return Err(Error::config(
                            format!("{f}.until"),
                            "`date` recurs every year (MM-DD), so `until` must too",
                        ));
                    }
                    None => start,
                };
                if end < start {
                    // Over the new year.
                    yearly.push((start, (12, 31)));
                    yearly.push(((1, 1), end));
                } else {
                    yearly.push((start, end));
                }
                continue;
            }
            let start = parse_date(&h.date).map_err(|p| Error::config(format!("{f}.date"), p))?;
            let end = match &h.until {
                Some(u) => parse_date(u).map_err(|p| Error::config(format!("{f}.until"), p))?,
                None => start,
            };
            if end < start {
                return Err(Error::config(format!("{f}.until"), "is before `date`"));
            }
            holidays.push((start, end));
        }
        Ok(Self {
            tz,
            week,
            holidays: merge(holidays),
            yearly: merge(yearly),
        })
    }

    /// `true` when the condition is open at wall-clock time `wall`.
    pub fn is_open(&self, wall: UnixTime) -> bool {
        let Ok(millis) = i64::try_from(wall.as_millis()) else {
            return false;
        };
        let Ok(ts) = Timestamp::from_millisecond(millis) else {
            return false;
        };
        let local = self.tz.to_offset(ts).to_datetime(ts);
        let date = local.date();
        if in_ranges(&self.holidays, date) || in_ranges(&self.yearly, (date.month(), date.day())) {
            return false;
        }
        let day = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
            .unwrap_or(u16::MAX);
        self.week
            .get(day)
            .is_some_and(|ranges| ranges.iter().any(|&(f, t)| f <= minute && minute < t))
    }
}

fn parse_hhmm(s: &str) -> Result<u16, String> {
    let bad = || {
        format!(
            "{:?} is not a time; write HH:MM (00:00 to 24:00)",
            crate::error::excerpt(s)
        )
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_day(s: &str) -> Result<usize, String> {
    let day = match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => {
            return Err(format!(
                "{:?} is not a weekday; write mon, tue, wed, thu, fri, sat or sun",
                crate::error::excerpt(s)
            ));
        }
    };
    Ok(usize::from(day.to_monday_zero_offset().unsigned_abs()))
}

/// `"MM-DD"`, a day that exists in a leap year.
fn parse_month_day(s: &str) -> Result<MonthDay, String> {
    let bad = || {
        format!(
            "{:?} is not a day of the year; write MM-DD (every year) or YYYY-MM-DD",
            crate::error::excerpt(s)
        )
    };
    let (m, d) = s.split_once('-').ok_or_else(bad)?;
    if m.len() != 2 || d.len() != 2 || !m.bytes().chain(d.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let m: i8 = m.parse().map_err(|_| bad())?;
    let d: i8 = d.parse().map_err(|_| bad())?;
    // 2024 is a leap year: 02-29 is a valid yearly holiday.
    Date::new(2024, m, d).map_err(|_| bad())?;
    Ok((m, d))
}

fn parse_date(s: &str) -> Result<Date, String> {
    let bad = || {
        format!(
            "{:?} is not a date; write YYYY-MM-DD",
            crate::error::excerpt(s)
        )
    };
    if s.len() != 10 {
        return Err(bad());
    }
    s.parse::<Date>().map_err(|_| bad())
}
