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

#[test]
fn ban_changes_travel_between_nodes() {
    let clock = ManualClock::default();
    let node = |name: &str| -> BanList<IpAddr> {
        BanList::new(BanConfig {
            origin: name.to_owned(),
            unban_grace: Duration::from_secs(300),
            ..BanConfig::default()
        })
        .unwrap()
    };
    let (a, b) = (node("pbx-a"), node("pbx-b"));
    let x = ip("2001:db8:aa::1");
    a.ban_for(
        &x,
        Duration::from_secs(600),
        "50 failed auths",
        "sip-auth",
        &clock,
    );
    let wire: Vec<String> = a
        .drain_changes()
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
    assert_eq!(wire.len(), 1);
    assert!(
        wire[0].contains(r#""origin":"pbx-a""#) && wire[0].contains(r#""action":"ban""#),
        "{}",
        wire[0]
    );
    for w in &wire {
        let c: BanChange<IpAddr> = serde_json::from_str(w).unwrap();
        assert!(b.apply_remote(&c, &clock));
        assert!(!a.apply_remote(&c, &clock), "own changes are ignored");
    }
    assert!(
        b.drain_changes().is_empty(),
        "remote changes are not echoed"
    );
    let ban = b.get(&ip("2001:db8:aa::99"), clock.now()).unwrap();
    assert_eq!(
        (ban.reason.as_str(), ban.rule.as_str()),
        ("50 failed auths", "sip-auth")
    );
    assert_eq!(
        ban.until.unwrap().saturating_duration_since(clock.now()),
        Duration::from_secs(600)
    );

    // B's administrator unbans with grace; A follows and honours the grace.
    let unban = b.unban(&x, &clock).unwrap();
    assert!(matches!(
        unban.change,
        BanAction::Unban {
            cause: UnbanCause::Manual,
            grace_until: Some(_)
        }
    ));
    assert!(a.apply_remote(&unban, &clock));
    assert!(!a.is_banned(&x, clock.now()));
    assert!(matches!(
        a.ban(&x, "again", "sip-auth", &clock),
        BanOutcome::InGrace { .. }
    ));
    clock.advance(Duration::from_secs(301));
    assert!(matches!(
        a.ban(&x, "again", "sip-auth", &clock),
        BanOutcome::Banned(_)
    ));

    // Expiry is reported as a change too.
    clock.advance(Duration::from_secs(7200));
    let expired = a.expire(&clock);
    assert_eq!(expired.len(), 1);
    assert!(matches!(
        expired[0].change,
        BanAction::Unban {
            cause: UnbanCause::Expired,
            ..
        }
    ));
}

#[test]
fn ban_list_capacity_keeps_permanent_bans_and_drops_the_soonest() {
    let clock = ManualClock::default();
    let bans: BanList<u32> = BanList::new(BanConfig {
        capacity: 3,
        ..BanConfig::default()
    })
    .unwrap();
    bans.ban_permanent(&1, "admin", "manual", &clock);
    bans.ban_for(&2, Duration::from_secs(60), "short", "r", &clock);
    bans.ban_for(&3, Duration::from_secs(600), "long", "r", &clock);
    assert!(matches!(
        bans.ban_for(&4, Duration::from_secs(300), "new", "r", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(
        !bans.is_banned(&2, clock.now()),
        "the ban nearest its end made room"
    );
    assert!(
        bans.is_banned(&1, clock.now())
            && bans.is_banned(&3, clock.now())
            && bans.is_banned(&4, clock.now())
    );
    let full: BanList<u32> = BanList::new(BanConfig {
        capacity: 1,
        ..BanConfig::default()
    })
    .unwrap();
    full.ban_permanent(&1, "admin", "manual", &clock);
    assert_eq!(full.ban(&2, "x", "r", &clock), BanOutcome::Full);
}

#[test]
fn counters_do_not_count_whitelisted_keys() {
    let clock = ManualClock::default();
    let wl = std::sync::Arc::new(Whitelist::from_nets(["192.168.0.0/16".parse().unwrap()]));
    let t: ThresholdCounter<IpAddr> =
        ThresholdCounter::new(ThresholdConfig::new(1, Duration::from_secs(1)))
            .unwrap()
            .with_whitelist(wl.clone());
    let r: RateLimiter<IpAddr> = RateLimiter::new(RateConfig::new(1, Duration::from_secs(1)))
        .unwrap()
        .with_whitelist(wl);
    let inside = ip("::ffff:192.168.3.4");
    for _ in 0..10 {
        assert_eq!(
            t.record(&inside, 5, clock.now()),
            ThresholdDecision::Whitelisted
        );
        assert_eq!(r.check(&inside, clock.now()), RateDecision::Whitelisted);
    }
    assert!(t.is_empty(clock.now()) && r.is_empty(clock.now()));
    assert!(t.record(&ip("192.0.2.1"), 1, clock.now()).is_reached());
}

#[test]
fn ipv6_keys_fold_to_the_configured_prefix_for_counting() {
    let clock = ManualClock::default();
    let mut cfg = ThresholdConfig::new(3, Duration::from_secs(10));
    let t64: ThresholdCounter<IpAddr> = ThresholdCounter::new(cfg.clone()).unwrap();
    cfg.ipv6_prefix = 48;
    let t48: ThresholdCounter<IpAddr> = ThresholdCounter::new(cfg).unwrap();
    let addrs = ["2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:2::3"];
    let d64: Vec<bool> = addrs
        .iter()
        .map(|a| t64.record(&ip(a), 1, clock.now()).is_reached())
        .collect();
    let d48: Vec<bool> = addrs
        .iter()
        .map(|a| t48.record(&ip(a), 1, clock.now()).is_reached())
        .collect();
    assert_eq!(d64, [false, false, false]);
    assert_eq!(d48, [false, false, true]);
    // (IpAddr, port) keys fold the address and keep the port.
    let tp: ThresholdCounter<(IpAddr, u16)> =
        ThresholdCounter::new(ThresholdConfig::new(2, Duration::from_secs(10))).unwrap();
    assert!(
        !tp.record(&(ip("2001:db8::1"), 5060), 1, clock.now())
            .is_reached()
    );
    assert!(
        tp.record(&(ip("2001:db8::2"), 5060), 1, clock.now())
            .is_reached()
    );
    assert!(
        !tp.record(&(ip("2001:db8::2"), 5061), 1, clock.now())
            .is_reached()
    );
}

#[test]
fn a_full_table_evicts_few_keys_early_and_never_grows() {
    // `capacity` keys, all live (each within its rate window), offered once.
    for capacity in [1_000usize, 50_000] {
        let clock = ManualClock::default();
        let rl: RateLimiter<u64> =
            RateLimiter::new(RateConfig::new(1, Duration::from_secs(3600)).with_capacity(capacity))
                .unwrap();
        let slots = rl.capacity();
        for k in 0..capacity as u64 {
            assert!(rl.check(&k, clock.now()).is_allowed());
        }
        let early = rl.evictions();
        eprintln!("{early} of {capacity} evicted early");
        assert!(
            (early as f64) < capacity as f64 * 0.01,
            "{early} of {capacity} evicted early"
        );
        // A flood of 10x more distinct keys: still the same slots, never more keys than slots.
        for k in capacity as u64..11 * capacity as u64 {
            rl.check(&k, clock.now());
        }
        assert_eq!(rl.capacity(), slots);
        assert!(rl.len(clock.now()) <= slots);
    }
}

#[test]
fn eviction_prefers_spent_keys_so_an_offender_survives_a_flood() {
    let clock = ManualClock::default();
    let t: ThresholdCounter<u64> =
        ThresholdCounter::new(ThresholdConfig::new(50, Duration::from_secs(60)).with_capacity(64))
            .unwrap();
    // A real offender with 40 failures.
    for _ in 0..40 {
        t.record(&0, 1, clock.now());
    }
    // A flood of 100 000 spoofed sources, one failure each.
    for k in 1..100_000u64 {
        t.record(&k, 1, clock.now());
    }
    assert_eq!(
        t.count(&0, clock.now()),
        40,
        "one-event keys never push out a 40-event key"
    );
    for _ in 0..9 {
        assert!(!t.record(&0, 1, clock.now()).is_reached());
    }
    assert!(t.record(&0, 1, clock.now()).is_reached());
}

/// A GCRA key that went idle (a phone registering once a minute) keeps its
/// slot while empty slots remain: new keys take those first, so the idle
/// key's next event finds it present instead of inserting it again.
#[test]
fn empty_slots_are_taken_before_idle_ones() {
    #[derive(Default)]
    struct Count(u64);
    impl SlotValue for Count {
        fn is_idle(&self, _now: pbxsec_core::Instant) -> bool {
            self.0 == 0
        }
        fn keep_score(&self, _now: pbxsec_core::Instant) -> u64 {
            self.0
        }
    }
    let now = pbxsec_core::Instant::from_nanos(0);
    let map: BoundedMap<u32, Count> = BoundedMap::new(1000).unwrap();
    // 50 keys, all idle (count 0), then 50 new keys: 100 keys in 1500
    // slots, so (but for odds near 1e-8) every new key has an empty slot in
    // one of its buckets.
    for k in 0..50 {
        assert_eq!(map.entry(&k, now, |_, found| found), Found::Inserted);
    }
    for k in 1000..1050 {
        map.entry(&k, now, |c, _| c.0 = 1);
    }
    for k in 0..50 {
        assert_eq!(
            map.entry(&k, now, |_, found| found),
            Found::Present,
            "key {k}"
        );
    }
    assert_eq!(map.evictions(), 0);
}
