//! One-time codes by message: issue, resend cool-down, expiry, attempt limit, single use.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
#![cfg(feature = "totp")]

use std::time::Duration;

use pbxsec_core::{Clock, ManualClock, UnixTime};
use pbxsec_password::second_factor::{
    Error, OneTimeCodeConfig, OneTimeCodes, PendingCode, Rejection,
};
use proptest::prelude::*;

fn codes() -> OneTimeCodes {
    OneTimeCodes::new(OneTimeCodeConfig::yeastar_email()).unwrap()
}

fn wrong_for(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

#[test]
fn a_code_is_six_digits_and_consumed_on_success() {
    let c = codes();
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    let mut pending = None;
    let issued = c.issue(&mut pending, clock.wall()).unwrap();
    assert_eq!(issued.code.expose().len(), 6);
    assert!(issued.code.expose().bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        issued.expires_at,
        clock.wall().saturating_add(Duration::from_secs(600))
    );
    assert_eq!(
        issued.resend_after,
        clock.wall().saturating_add(Duration::from_secs(60))
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        c.verify(&mut pending, issued.code.expose(), clock.wall()),
        Ok(())
    );
    assert!(pending.is_none());
    assert_eq!(
        c.verify(&mut pending, issued.code.expose(), clock.wall()),
        Err(Rejection::NotIssued)
    );
}

#[test]
fn resend_waits_for_the_cool_down_and_replaces_the_code() {
    let c = codes();
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    let mut pending = None;
    let first = c.issue(&mut pending, clock.wall()).unwrap();
    clock.advance(Duration::from_secs(45));
    match c.issue(&mut pending, clock.wall()) {
        Err(Error::ResendTooSoon { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(15));
        }
        other => panic!("{other:?}"),
    }
    clock.advance(Duration::from_secs(15));
    let second = c.issue(&mut pending, clock.wall()).unwrap();
    if first.code.expose() != second.code.expose() {
        assert_eq!(
            c.verify(&mut pending, first.code.expose(), clock.wall()),
            Err(Rejection::Invalid)
        );
    }
    assert_eq!(
        c.verify(&mut pending, second.code.expose(), clock.wall()),
        Ok(())
    );
}

#[test]
fn an_expired_code_is_refused_and_removed() {
    let c = codes();
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    let mut pending = None;
    let issued = c.issue(&mut pending, clock.wall()).unwrap();
    clock.advance(Duration::from_secs(599));
    let mut copy = pending.clone();
    assert_eq!(
        c.verify(&mut copy, issued.code.expose(), clock.wall()),
        Ok(())
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        c.verify(&mut pending, issued.code.expose(), clock.wall()),
        Err(Rejection::Expired)
    );
    assert!(pending.is_none());
}

#[test]
fn attempts_are_limited_per_code() {
    let c = codes();
    let at = UnixTime::from_secs(1_800_000_000);
    let mut pending = None;
    let issued = c.issue(&mut pending, at).unwrap();
    let wrong = wrong_for(issued.code.expose());
    for i in 1..=5u8 {
        let bad = if i == 3 { "12-456" } else { wrong.as_str() };
        let got = c.verify(&mut pending, bad, at);
        assert!(matches!(
            got,
            Err(Rejection::Invalid | Rejection::Malformed)
        ));
        assert_eq!(pending.as_ref().unwrap().attempts(), i);
    }
    // The right code no longer helps: a new one must be sent.
    assert_eq!(
        c.verify(&mut pending, issued.code.expose(), at),
        Err(Rejection::AttemptsExhausted)
    );
}

#[test]
fn spaces_are_ignored_and_garbage_is_malformed() {
    let c = codes();
    let at = UnixTime::from_secs(1_800_000_000);
    let mut pending = None;
    let issued = c.issue(&mut pending, at).unwrap();
    let (a, b) = issued.code.expose().split_at(3);
    assert_eq!(
        c.verify(&mut pending.clone(), &format!(" {a} {b}"), at),
        Ok(())
    );
    for bad in ["", "12345", "1234567", "12345x", "12345678901234567890"] {
        assert_eq!(
            c.verify(&mut pending.clone(), bad, at),
            Err(Rejection::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn pending_code_serialises_and_hides_in_debug() {
    let c = codes();
    let at = UnixTime::from_secs(1_800_000_000);
    let mut pending = None;
    let issued = c.issue(&mut pending, at).unwrap();
    let shown = format!("{pending:?} {issued:?}");
    assert!(!shown.contains(issued.code.expose()), "{shown}");
    let json = serde_json::to_string(&pending).unwrap();
    let mut back: Option<PendingCode> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pending);
    assert_eq!(c.verify(&mut back, issued.code.expose(), at), Ok(()));
}

#[test]
fn config_is_validated() {
    let base = OneTimeCodeConfig::yeastar_email();
    for config in [
        OneTimeCodeConfig {
            digits: 3,
            ..base.clone()
        },
        OneTimeCodeConfig {
            digits: 11,
            ..base.clone()
        },
        OneTimeCodeConfig {
            ttl: Duration::from_secs(10),
            ..base.clone()
        },
        OneTimeCodeConfig {
            resend_cooldown: Duration::from_secs(700),
            ..base.clone()
        },
        OneTimeCodeConfig {
            max_attempts: 0,
            ..base.clone()
        },
    ] {
        assert!(matches!(
            OneTimeCodes::new(config),
            Err(Error::Config { .. })
        ));
    }
    let config: OneTimeCodeConfig =
        serde_json::from_str(r#"{"digits":8,"ttl":"5m","resend_cooldown":"30s"}"#).unwrap();
    let c = OneTimeCodes::new(config).unwrap();
    let mut pending = None;
    let issued = c.issue(&mut pending, UnixTime::from_secs(1)).unwrap();
    assert_eq!(issued.code.expose().len(), 8);
    assert!(serde_json::from_str::<OneTimeCodeConfig>(r#"{"timeout":"5m"}"#).is_err());
}

#[derive(Clone, Debug)]
enum Op {
    Issue,
    Right,
    Wrong,
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Issue),
        Just(Op::Right),
        Just(Op::Wrong),
        (1u64..400).prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Reference model: (issued_at, attempts) or nothing.
    #[test]
    fn matches_the_model(ops in proptest::collection::vec(op(), 0..30)) {
        let c = codes();
        let mut t = 1_800_000_000u64;
        let mut pending = None;
        let mut code = String::new();
        let mut model: Option<(u64, u8)> = None;
        for op in ops {
            let at = UnixTime::from_secs(t);
            match op {
                Op::Wait(s) => t += s,
                Op::Issue => {
                    let got = c.issue(&mut pending, at);
                    match model {
                        Some((issued, _)) if t < issued + 60 => {
                            prop_assert!(matches!(got, Err(Error::ResendTooSoon { .. })), "{:?}", got);
                        }
                        _ => {
                            code = got.unwrap().code.expose().to_owned();
                            model = Some((t, 0));
                        }
                    }
                }
                Op::Right | Op::Wrong => {
                    let typed = if matches!(op, Op::Right) { code.clone() } else { wrong_for(&code) };
                    let got = c.verify(&mut pending, &typed, at);
                    let expected = match model {
                        None => Err(Rejection::NotIssued),
                        Some((issued, _)) if t >= issued + 600 => {
                            model = None;
                            Err(Rejection::Expired)
                        }
                        Some((_, attempts)) if attempts >= 5 => Err(Rejection::AttemptsExhausted),
                        Some((issued, attempts)) => {
                            if matches!(op, Op::Right) {
                                model = None;
                                Ok(())
                            } else {
                                model = Some((issued, attempts + 1));
                                Err(Rejection::Invalid)
                            }
                        }
                    };
                    prop_assert_eq!(got, expected);
                }
            }
            prop_assert_eq!(pending.as_ref().map(|p| (p.issued_at().as_secs(), p.attempts())), model);
        }
    }
}
