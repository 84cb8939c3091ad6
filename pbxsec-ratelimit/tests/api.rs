//! Behaviour of each public type, driven by `ManualClock`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::net::IpAddr;
use std::time::Duration;

use pbxsec_core::{Clock, ManualClock};
use pbxsec_ratelimit::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn gcra_rate_and_burst() {
    let clock = ManualClock::default();
    let rl: RateLimiter<u32> =
        RateLimiter::new(RateConfig::new(10, Duration::from_secs(1)).with_burst(3)).unwrap();
    for _ in 0..3 {
        assert_eq!(rl.check(&1, clock.now()), RateDecision::Allow);
    }
    match rl.check(&1, clock.now()) {
        RateDecision::Deny { retry_after } => assert_eq!(retry_after, Duration::from_millis(100)),
        other => panic!("{other:?}"),
    }
    assert!(
        rl.check(&2, clock.now()).is_allowed(),
        "keys are independent"
    );
    clock.advance(Duration::from_millis(100));
    assert!(rl.check(&1, clock.now()).is_allowed());
    assert!(!rl.check(&1, clock.now()).is_allowed());
    assert_eq!(rl.remaining(&1, clock.now()), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(rl.remaining(&1, clock.now()), 3);
    assert!(
        !rl.check_n(&1, 4, clock.now()).is_allowed(),
        "weight above burst"
    );
    assert!(rl.check_n(&1, 3, clock.now()).is_allowed());
}

#[test]
fn rate_config_validation() {
    assert!(RateLimiter::<u32>::new(RateConfig::new(0, Duration::from_secs(1))).is_err());
    assert!(RateLimiter::<u32>::new(RateConfig::new(1, Duration::ZERO)).is_err());
    assert!(
        RateLimiter::<u32>::new(RateConfig::new(1, Duration::from_secs(1)).with_burst(0)).is_err()
    );
    assert!(
        RateLimiter::<u32>::new(RateConfig::new(1, Duration::from_secs(1)).with_capacity(0))
            .is_err()
    );
    let err = ThresholdCounter::<u32>::new(ThresholdConfig::new(0, Duration::from_secs(1)))
        .err()
        .unwrap();
    assert!(err.to_string().contains("limit"), "{err}");
    let bad: Result<RateConfig, _> =
        serde_json::from_str(r#"{"rate": 1, "per": "1s", "bogus": 1}"#);
    assert!(bad.is_err());
}

#[test]
fn threshold_flags_on_the_limit_event_with_weights() {
    let clock = ManualClock::default();
    let t: ThresholdCounter<IpAddr> = ThresholdCounter::new(ThresholdConfig::vodia(
        5,
        Duration::from_secs(60),
        Duration::from_secs(3600),
    ))
    .unwrap();
    let a = ip("192.0.2.1");
    assert_eq!(
        t.record(&a, VODIA_TLS_WEIGHT, clock.now()),
        ThresholdDecision::Below { total: 3 }
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        t.record(&a, VODIA_TCP_WEIGHT, clock.now()),
        ThresholdDecision::Below { total: 4 }
    );
    clock.advance(Duration::from_secs(30)); // the TLS connection leaves the window
    assert_eq!(
        t.record(&a, VODIA_TLS_WEIGHT, clock.now()),
        ThresholdDecision::Below { total: 4 }
    );
    assert_eq!(
        t.record(&a, VODIA_TLS_WEIGHT, clock.now()),
        ThresholdDecision::Reached { total: 7 }
    );
    assert_eq!(t.count(&a, clock.now()), 0, "cleared on reach");
}

#[test]
fn concurrency_guards_release_on_drop() {
    let lim: ConcurrencyLimiter<&str> =
        ConcurrencyLimiter::new(ConcurrencyConfig::new(30)).unwrap();
    let guards: Vec<_> = (0..30)
        .map(|_| lim.try_acquire(&"trunk").unwrap())
        .collect();
    assert_eq!(
        lim.try_acquire(&"trunk").unwrap_err(),
        ConcurrencyDenied::LimitReached { limit: 30 }
    );
    assert_eq!(lim.in_use(&"trunk"), 30);
    drop(guards);
    assert_eq!(lim.in_use(&"trunk"), 0);
    assert_eq!(lim.keys_in_use(), 0);
    let small: ConcurrencyLimiter<u32> = ConcurrencyLimiter::new(ConcurrencyConfig {
        max_concurrent: 1,
        capacity: 2,
    })
    .unwrap();
    let _a = small.try_acquire(&1).unwrap();
    let _b = small.try_acquire(&2).unwrap();
    assert_eq!(
        small.try_acquire(&3).unwrap_err(),
        ConcurrencyDenied::TooManyKeys { capacity: 2 }
    );
}

#[test]
fn ban_list_basics() {
    let clock = ManualClock::default();
    let cfg = BanConfig {
        whitelist: vec!["10.0.0.0/8".parse().unwrap()],
        ..BanConfig::default()
    };
    let bans: BanList<IpAddr> = BanList::new(cfg).unwrap();
    assert_eq!(
        bans.ban(&ip("10.1.1.1"), "x", "r", &clock),
        BanOutcome::Whitelisted
    );
    let BanOutcome::Banned(change) = bans.ban(&ip("2001:db8:0:1::5"), "scan", "ua", &clock) else {
        panic!()
    };
    assert_eq!(change.key, ip("2001:db8:0:1::"));
    assert!(bans.is_banned(&ip("2001:db8:0:1:ffff::1"), clock.now()));
    assert!(!bans.is_banned(&ip("2001:db8:0:2::1"), clock.now()));
    let b = bans.get(&ip("2001:db8:0:1::9"), clock.now()).unwrap();
    assert_eq!(
        (b.reason.as_str(), b.rule.as_str(), b.repeat),
        ("scan", "ua", 0)
    );
    assert_eq!(bans.list(clock.now()).len(), 1);
    assert!(bans.unban(&ip("2001:db8:0:1::5"), &clock).is_some());
    assert!(bans.is_empty(clock.now()));
    assert_eq!(bans.drain_changes().len(), 2);
}
