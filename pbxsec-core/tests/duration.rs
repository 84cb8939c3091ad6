//! Human durations: good and bad inputs, round trip, serde.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
use std::time::Duration;

use pbxsec_core::{DurationProblem, Error, HumanDuration, format_duration, parse_duration};
use proptest::prelude::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn good_inputs() {
    let table: &[(&str, Duration)] = &[
        ("90s", secs(90)),
        ("10m", secs(600)),
        ("1h", secs(3600)),
        ("7d", secs(7 * 86_400)),
        ("2w", secs(14 * 86_400)),
        ("1h30m", secs(5400)),
        ("30m1h", secs(5400)),
        ("1m1m", secs(120)),
        ("0s", Duration::ZERO),
        ("0", Duration::ZERO),
        ("90", secs(90)),
        ("1500ms", Duration::from_millis(1500)),
        ("1s500ms", Duration::from_millis(1500)),
        ("7us", Duration::from_micros(7)),
        ("9ns", Duration::from_nanos(9)),
        ("18446744073709551615", secs(u64::MAX)),
    ];
    for (input, expected) in table {
        assert_eq!(parse_duration(input).as_ref(), Ok(expected), "{input}");
    }
}

fn problem(input: &str) -> (usize, DurationProblem) {
    match parse_duration(input) {
        Err(Error::Duration {
            position, problem, ..
        }) => (position, problem),
        other => panic!("{input:?} gave {other:?}"),
    }
}

#[test]
fn bad_inputs_name_what_and_where() {
    assert_eq!(problem(""), (0, DurationProblem::Empty));
    assert_eq!(
        problem("10 minutes please"),
        (2, DurationProblem::MissingUnit)
    );
    assert_eq!(problem("10minutes"), (2, DurationProblem::UnknownUnit));
    assert_eq!(problem("1h30"), (4, DurationProblem::MissingUnit));
    assert_eq!(problem("h"), (0, DurationProblem::ExpectedNumber));
    assert_eq!(problem("-5s"), (0, DurationProblem::Negative));
    assert_eq!(problem("1.5h"), (1, DurationProblem::MissingUnit));
    assert_eq!(problem(" 5s"), (0, DurationProblem::ExpectedNumber));
    assert_eq!(problem("5s "), (2, DurationProblem::ExpectedNumber));
    assert_eq!(problem("5S"), (1, DurationProblem::UnknownUnit));
    assert_eq!(
        problem("18446744073709551616"),
        (0, DurationProblem::Overflow)
    );
    assert_eq!(
        problem("99999999999999999999w"),
        (0, DurationProblem::Overflow)
    );
    assert_eq!(
        problem("18446744073709551615s1s"),
        (21, DurationProblem::Overflow)
    );
    assert_eq!(
        problem("999999999999999999999999999999999999999999999999999s"),
        (0, DurationProblem::Overflow)
    );
}

#[test]
fn error_message_is_readable_and_bounded() {
    let err = parse_duration("10 minutes please").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid duration \"10 minutes please\" at byte 2: missing unit after the number; use ns, us, ms, s, m, h, d or w"
    );
    let long = "x".repeat(1_000_000);
    let msg = parse_duration(&long).unwrap_err().to_string();
    assert!(
        msg.len() < 300,
        "an error must not copy a huge input: {} bytes",
        msg.len()
    );
}

#[test]
fn canonical_format() {
    assert_eq!(format_duration(secs(5400)), "1h30m");
    assert_eq!(format_duration(secs(600)), "10m");
    assert_eq!(format_duration(secs(90)), "1m30s");
    assert_eq!(format_duration(secs(7 * 86_400)), "7d");
    assert_eq!(format_duration(Duration::ZERO), "0s");
    assert_eq!(format_duration(Duration::new(1, 1)), "1s1ns");
    assert_eq!(
        format_duration(Duration::MAX),
        "213503982334601d7h15s999ms999us999ns"
    );
}

#[test]
fn serde_accepts_strings_and_integers_and_rejects_nonsense() {
    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Cfg {
        ban: HumanDuration,
        #[serde(with = "pbxsec_core::duration::serde")]
        window: Duration,
    }
    let cfg: Cfg = serde_json::from_str(r#"{"ban":"1h","window":60}"#).unwrap();
    assert_eq!(
        cfg,
        Cfg {
            ban: HumanDuration(secs(3600)),
            window: secs(60)
        }
    );
    assert_eq!(
        serde_json::to_string(&cfg).unwrap(),
        r#"{"ban":"1h","window":"1m"}"#
    );
    let err = serde_json::from_str::<Cfg>(r#"{"ban":"10 minutes please","window":1}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("10 minutes please"), "{err}");
    assert!(serde_json::from_str::<Cfg>(r#"{"ban":-5,"window":1}"#).is_err());
    assert!(serde_json::from_str::<Cfg>(r#"{"ban":1.5,"window":1}"#).is_err());
}

proptest! {
    #[test]
    fn format_then_parse_is_identity(s in any::<u64>(), n in 0u32..1_000_000_000) {
        let d = Duration::new(s, n);
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    #[test]
    fn parse_never_panics(input in "\\PC{0,40}") {
        let _ = parse_duration(&input);
    }

    /// Reference model: a sum of (value × unit) groups, computed in u128.
    #[test]
    fn parse_agrees_with_sum_of_groups(groups in proptest::collection::vec((0u64..100_000, 0usize..8), 1..6)) {
        const UNITS: [(&str, u128); 8] = [("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
            ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000), ("w", 604_800_000_000_000)];
        let text: String = groups.iter().map(|&(v, u)| format!("{v}{}", UNITS[u].0)).collect();
        let nanos: u128 = groups.iter().map(|&(v, u)| u128::from(v) * UNITS[u].1).sum();
        let expected = Duration::new((nanos / 1_000_000_000) as u64, (nanos % 1_000_000_000) as u32);
        prop_assert_eq!(parse_duration(&text), Ok(expected));
    }
}
