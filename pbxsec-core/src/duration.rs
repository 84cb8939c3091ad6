//! Human durations in configuration: `"90s"`, `"10m"`, `"1h"`, `"7d"`, `"1h30m"`.
//!
//! # Syntax
//!
//! One or more groups of `<digits><unit>`, with no spaces, summed:
//!
//! | unit | meaning |
//! |---|---|
//! | `ns` | nanoseconds |
//! | `us` | microseconds |
//! | `ms` | milliseconds |
//! | `s` | seconds |
//! | `m` | minutes |
//! | `h` | hours |
//! | `d` | days (24 h; durations ignore calendars and DST) |
//! | `w` | weeks (7 d) |
//!
//! A string of digits alone (`"90"`) and an integer in the config file
//! (`ban_time = 90`) both mean seconds, as the products' web forms do. Groups
//! may come in any order and the same unit may repeat; they are added up.
//! Anything else (`"10 minutes please"`, `"-5s"`, `"1.5h"`, a value too large
//! for [`std::time::Duration`]) is an [`Error::Duration`] naming the byte
//! where reading failed.
//!
//! # Writing
//!
//! [`format_duration`] writes the canonical form: the units `d`, `h`, `m`,
//! `s`, `ms`, `us`, `ns` from largest to smallest, zero groups left out
//! (`5400 s` is `"1h30m"`, zero is `"0s"`). Parsing what it wrote gives the
//! same `Duration` back, exactly.
//!
//! # In serde configs
//!
//! Use [`HumanDuration`] as a field type, or keep a plain `Duration` with
//! `#[serde(with = "pbxsec_core::duration::serde")]` (and an
//! `Option<Duration>` with `#[serde(default, with = "pbxsec_core::duration::serde_opt")]`):
//!
//! ```
//! use std::time::Duration;
//!
//! #[derive(serde::Deserialize)]
//! struct Jail {
//!     #[serde(with = "pbxsec_core::duration::serde")]
//!     ban_time: Duration,
//! }
//! let jail: Jail = serde_json::from_str(r#"{ "ban_time": "1h30m" }"#).unwrap();
//! assert_eq!(jail.ban_time, Duration::from_secs(5400));
//! let jail: Jail = serde_json::from_str(r#"{ "ban_time": 600 }"#).unwrap();
//! assert_eq!(jail.ban_time, Duration::from_secs(600));
//! ```

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{DurationProblem, Error, excerpt};

const NANOS_PER: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

/// The largest number of nanoseconds a `Duration` holds.
const MAX_NANOS: u128 = (u64::MAX as u128) * 1_000_000_000 + 999_999_999;

fn err(input: &str, position: usize, problem: DurationProblem) -> Error {
    Error::Duration {
        input: excerpt(input),
        position,
        problem,
    }
}

/// Parses a human duration (see the [module docs](self) for the syntax).
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::parse_duration;
///
/// assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
/// assert!(parse_duration("10 minutes please").is_err());
/// ```
///
/// # Errors
///
/// [`Error::Duration`] with the byte offset of the first thing that could not
/// be read and what was wrong there.
pub fn parse_duration(input: &str) -> Result<Duration, Error> {
    let bytes = input.as_bytes();
    if bytes.is_empty() {
        return Err(err(input, 0, DurationProblem::Empty));
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        let secs: u64 = input
            .parse()
            .map_err(|_| err(input, 0, DurationProblem::Overflow))?;
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u128 = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let digits_start = pos;
        let mut value: u128 = 0;
        while let Some(&b) = bytes.get(pos).filter(|b| b.is_ascii_digit()) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(b - b'0')))
                .filter(|&v| v <= MAX_NANOS)
                .ok_or_else(|| err(input, digits_start, DurationProblem::Overflow))?;
            pos += 1;
        }
        if pos == digits_start {
            let problem = if bytes.get(pos) == Some(&b'-') {
                DurationProblem::Negative
            } else {
                DurationProblem::ExpectedNumber
            };
            return Err(err(input, pos, problem));
        }
        let unit_start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_alphabetic) {
            pos += 1;
        }
        let unit = input.get(unit_start..pos).unwrap_or_default();
        if unit.is_empty() {
            return Err(err(input, unit_start, DurationProblem::MissingUnit));
        }
        let per = NANOS_PER
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, per)| per)
            .ok_or_else(|| err(input, unit_start, DurationProblem::UnknownUnit))?;
        total = value
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .filter(|&v| v <= MAX_NANOS)
            .ok_or_else(|| err(input, digits_start, DurationProblem::Overflow))?;
    }
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| err(input, 0, DurationProblem::Overflow))?;
    // The remainder is below 1e9, so it fits a u32.
    let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// Writes a duration in canonical form (`"1h30m"`, `"0s"`); see the
/// [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::format_duration;
///
/// assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
/// assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
/// assert_eq!(format_duration(Duration::ZERO), "0s");
/// ```
pub fn format_duration(d: Duration) -> String {
    let mut out = String::new();
    let mut rest = d.as_nanos();
    // Largest to smallest, without weeks: "14d" reads better than "2w".
    for &(name, per) in NANOS_PER.iter().rev().skip(1) {
        let n = rest / per;
        if n > 0 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{n}{name}");
            rest %= per;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// A `Duration` that reads and writes itself as a human duration.
///
/// Deserialises from a string in the [module's syntax](self) or from an
/// integer number of seconds; serialises in canonical form.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::HumanDuration;
///
/// let d: HumanDuration = "10m".parse().unwrap();
/// assert_eq!(Duration::from(d), Duration::from_secs(600));
/// assert_eq!(d.to_string(), "10m");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl FromStr for HumanDuration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_duration(s).map(Self)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl ::serde::Serialize for HumanDuration {
    fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> ::serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl ::serde::de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"90s\", \"10m\", \"1h\", \"7d\", or whole seconds")
            }
            fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Ok(HumanDuration(Duration::from_secs(v)))
            }
            fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                u64::try_from(v)
                    .map(|s| HumanDuration(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `#[serde(with = "pbxsec_core::duration::serde")]` for plain `Duration`
/// fields; the same formats as [`HumanDuration`].
pub mod serde {
    use super::HumanDuration;
    use std::time::Duration;

    /// Serialises `d` in canonical human form.
    ///
    /// # Errors
    ///
    /// Whatever the serializer reports.
    pub fn serialize<S: ::serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        ::serde::Serialize::serialize(&HumanDuration(*d), s)
    }

    /// Deserialises a human duration or whole seconds.
    ///
    /// # Errors
    ///
    /// A message naming what could not be read.
    pub fn deserialize<'de, D: ::serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <HumanDuration as ::serde::Deserialize>::deserialize(d).map(|h| h.0)
    }
}

/// `#[serde(default, with = "pbxsec_core::duration::serde_opt")]` for
/// `Option<Duration>` fields: a human duration, whole seconds, or absent /
/// `null` for `None`.
///
/// ```
/// use std::time::Duration;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Limits {
///     #[serde(default, skip_serializing_if = "Option::is_none", with = "pbxsec_core::duration::serde_opt")]
///     max_call: Option<Duration>,
/// }
/// let l: Limits = serde_json::from_str(r#"{ "max_call": "5m" }"#).unwrap();
/// assert_eq!(l.max_call, Some(Duration::from_secs(300)));
/// let l: Limits = serde_json::from_str("{}").unwrap();
/// assert_eq!(l.max_call, None);
/// assert_eq!(serde_json::to_string(&l).unwrap(), "{}");
/// ```
pub mod serde_opt {
    use super::HumanDuration;
    use std::time::Duration;

    /// Serialises `Some(d)` in canonical human form and `None` as none.
    ///
    /// # Errors
    ///
    /// Whatever the serializer reports.
    pub fn serialize<S: ::serde::Serializer>(
        d: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        ::serde::Serialize::serialize(&d.map(HumanDuration), s)
    }

    /// Deserialises a human duration, whole seconds, or `null`.
    ///
    /// # Errors
    ///
    /// A message naming what could not be read.
    pub fn deserialize<'de, D: ::serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(<Option<HumanDuration> as ::serde::Deserialize>::deserialize(d)?.map(|h| h.0))
    }
}
