//! Property tests against simple reference models that store every event.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use pbxsec_core::{Clock, Instant, ManualClock, UnixTime};
use pbxsec_ratelimit::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Every event's (time, weight), per key, since the key was last cleared.
#[derive(Default)]
struct ThresholdModel {
    events: HashMap<u8, Vec<(u64, u32)>>,
}

impl ThresholdModel {
    fn in_window(&self, key: u8, now: u64, window: u64) -> u64 {
        self.events
            .get(&key)
            .map(|v| {
                v.iter()
                    .filter(|(t, _)| now - t < window)
                    .map(|&(_, w)| u64::from(w))
                    .sum()
            })
            .unwrap_or(0)
    }
}

fn ops() -> impl Strategy<Value = Vec<(u8, u64, u32)>> {
    // (key, time step in ms, weight)
    prop::collection::vec((0u8..6, 0u64..1500, 0u32..4), 1..300)
}

proptest! {
    #![proptest_config(config())]

    /// Flagged if and only if the weights in one window reach the limit, on
    /// exactly that event; totals below the limit are exact.
    #[test]
    fn threshold_is_exact(ops in ops(), limit in 1u32..12, window_ms in 1u64..4000, clear in any::<bool>()) {
        let window = window_ms * 1_000_000;
        let cfg = ThresholdConfig::new(limit, Duration::from_millis(window_ms))
            .with_capacity(1024)
            .with_clear_on_reach(clear);
        let counter: ThresholdCounter<u8> = ThresholdCounter::new(cfg).unwrap();
        let mut model = ThresholdModel::default();
        let mut now = 0u64;
        for (key, step, weight) in ops {
            now += step * 1_000_000;
            if weight > 0 {
                model.events.entry(key).or_default().push((now, weight));
            }
            let sum = model.in_window(key, now, window);
            let got = counter.record(&key, weight, Instant::from_nanos(now));
            if weight > 0 && sum >= u64::from(limit) {
                match got {
                    ThresholdDecision::Reached { total } => {
                        prop_assert!(total >= u64::from(limit) && total <= sum, "total {} sum {}", total, sum);
                        if clear {
                            prop_assert_eq!(total, sum);
                        }
                    }
                    other => prop_assert!(false, "expected Reached (sum {}), got {:?}", sum, other),
                }
                if clear {
                    model.events.remove(&key);
                }
            } else if weight == 0 {
                // Weight 0 only reports; the total is exact below the limit.
                match got {
                    ThresholdDecision::Below { total } => prop_assert_eq!(total.min(u64::from(limit)), sum.min(u64::from(limit))),
                    other => prop_assert!(false, "weight 0 gave {:?}", other),
                }
            } else {
                prop_assert_eq!(got, ThresholdDecision::Below { total: sum });
            }
            prop_assert_eq!(counter.count(&key, Instant::from_nanos(now)).min(u64::from(limit)), model.in_window(key, now, window).min(u64::from(limit)));
        }
        prop_assert_eq!(counter.evictions(), 0);
    }

    /// Under heavy eviction (a table of 4 slots, 40 keys) a key may be
    /// forgotten, but it is never flagged without `limit` events in a window.
    #[test]
    fn threshold_never_flags_falsely_under_eviction(ops in prop::collection::vec((0u8..40, 0u64..300, 1u32..3), 1..400), limit in 1u32..6) {
        let window = 1_000_000_000u64;
        let counter: ThresholdCounter<u8> = ThresholdCounter::new(
            ThresholdConfig::new(limit, Duration::from_secs(1)).with_capacity(4).with_clear_on_reach(false),
        ).unwrap();
        let mut model = ThresholdModel::default();
        let mut now = 0u64;
        for (key, step, weight) in ops {
            now += step * 1_000_000;
            model.events.entry(key).or_default().push((now, weight));
            let got = counter.record(&key, weight, Instant::from_nanos(now));
            if got.is_reached() {
                prop_assert!(model.in_window(key, now, window) >= u64::from(limit));
            }
        }
    }

    /// GCRA agrees with a leaky bucket used as a meter (level in nanoseconds
    /// of emission interval, drained by elapsed time).
    #[test]
    fn gcra_matches_meter(ops in prop::collection::vec((0u8..4, 0u64..400, 1u32..4), 1..300), rate in 1u32..20, burst in 1u32..8) {
        let per = 1_000_000_000u64;
        let interval = per / u64::from(rate);
        let rl: RateLimiter<u8> = RateLimiter::new(
            RateConfig::new(rate, Duration::from_nanos(per)).with_burst(burst).with_capacity(1024),
        ).unwrap();
        // key -> (level, last time)
        let mut meter: HashMap<u8, (u64, u64)> = HashMap::new();
        let mut now = 0u64;
        for (key, step, n) in ops {
            now += step * 1_000_000;
            let (level, last) = meter.get(&key).copied().unwrap_or((0, now));
            let drained = level.saturating_sub(now - last);
            let need = u64::from(n) * interval;
            let allowed = drained + need <= u64::from(burst) * interval;
            let got = rl.check_n(&key, n, Instant::from_nanos(now));
            prop_assert_eq!(got.is_allowed(), allowed, "key {} now {}", key, now);
            if let RateDecision::Deny { retry_after } = got {
                prop_assert_eq!(retry_after.as_nanos() as u64, drained + need - u64::from(burst) * interval);
            }
            meter.insert(key, (if allowed { drained + need } else { drained }, now));
        }
        prop_assert_eq!(rl.evictions(), 0);
    }
}

proptest! {
    // 64 cases: half of them allocate two 10 MB tables.
    #![proptest_config(ProptestConfig { cases: 64, ..config() })]

    /// `check_batch` decides exactly as `check` on each key in order:
    /// batches of 0 to 40 keys (across several internal chunks), repeated
    /// keys, IPv6 keys folded to one /64, a whitelisted key; on a table
    /// small enough to be walked key by key and on one large enough
    /// (over 8 MiB) to be batched.
    #[test]
    fn check_batch_matches_check(batches in prop::collection::vec((prop::collection::vec(0usize..10, 0..40), 0u64..300), 1..40), rate in 1u32..20, burst in 1u32..8, capacity in prop_oneof![Just(1024usize), Just(300_000)]) {
        let pool: Vec<IpAddr> = [
            "192.0.2.1", "192.0.2.2", "198.51.100.7", "203.0.113.9",
            "2001:db8::1", "2001:db8::2", "2001:db8::ffff:1", "2001:db8:1::1",
            "10.0.0.1", "::ffff:192.0.2.1",
        ].iter().map(|s| s.parse().unwrap()).collect();
        let wl: IpAddr = "10.0.0.1".parse().unwrap();
        let config = RateConfig::new(rate, Duration::from_secs(1)).with_burst(burst).with_capacity(capacity);
        let whitelist = || std::sync::Arc::new(Whitelist::new().with_key(wl));
        let one: RateLimiter<IpAddr> = RateLimiter::new(config.clone()).unwrap().with_whitelist(whitelist());
        let batched: RateLimiter<IpAddr> = RateLimiter::new(config).unwrap().with_whitelist(whitelist());
        let mut now = 0u64;
        let mut out = Vec::new();
        for (idx, step) in batches {
            now += step * 1_000_000;
            let at = Instant::from_nanos(now);
            let keys: Vec<IpAddr> = idx.iter().map(|&i| pool[i]).collect();
            batched.check_batch(&keys, at, &mut out);
            prop_assert_eq!(out.len(), keys.len());
            for (k, got) in keys.iter().zip(&out) {
                prop_assert_eq!(*got, one.check(k, at), "key {} now {}", k, now);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..config() })]

    /// `record_batch` decides exactly as `record` on each key in order
    /// (totals included), on a small table and on a batched (over 8 MiB) one.
    #[test]
    fn record_batch_matches_record(batches in prop::collection::vec((prop::collection::vec(0u32..12, 0..40), 0u64..400, 0u32..3), 1..40), limit in 1u32..12, capacity in prop_oneof![Just(1024usize), Just(100_000)]) {
        let config = ThresholdConfig::new(limit, Duration::from_secs(1)).with_capacity(capacity);
        let one: ThresholdCounter<u32> = ThresholdCounter::new(config.clone()).unwrap();
        let batched: ThresholdCounter<u32> = ThresholdCounter::new(config).unwrap();
        let mut now = 0u64;
        let mut out = Vec::new();
        for (keys, step, weight) in batches {
            now += step * 1_000_000;
            let at = Instant::from_nanos(now);
            batched.record_batch(&keys, weight, at, &mut out);
            prop_assert_eq!(out.len(), keys.len());
            for (k, got) in keys.iter().zip(&out) {
                prop_assert_eq!(*got, one.record(k, weight, at), "key {} now {}", k, now);
            }
        }
    }
}

// ---------------------------------------------------------------- bans

#[derive(Clone, Debug)]
enum Op {
    Ban(u8),
    Unban(u8),
    Advance(u64),
    Check,
    SnapshotRestore,
}

fn ban_ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0u8..6).prop_map(Op::Ban),
            1 => (0u8..6).prop_map(Op::Unban),
            4 => (1u64..5000).prop_map(Op::Advance),
            2 => Just(Op::Check),
            1 => Just(Op::SnapshotRestore),
        ],
        1..120,
    )
}

#[derive(Clone, Copy, Default, Debug)]
struct ModelRec {
    active: bool,
    until: Option<u64>, // None = permanent (when active)
    bans: u32,
    last_ban: u64,
    grace_until: u64,
}

struct BanModel {
    recs: HashMap<u8, ModelRec>,
    base: u64,
    factor: u64,
    max: u64,
    permanent_after: u32,
    memory: u64,
    grace: u64,
}

impl BanModel {
    fn active(&self, k: u8, now: u64) -> bool {
        self.recs
            .get(&k)
            .is_some_and(|r| r.active && r.until.is_none_or(|u| u > now))
    }
    /// Returns whether the key is banned by this call.
    fn ban(&mut self, k: u8, now: u64) -> bool {
        if k == 0 {
            return false; // whitelisted
        }
        if self.active(k, now) {
            let r = self.recs.get_mut(&k).unwrap();
            if let Some(u) = r.until {
                if now + self.base > u {
                    r.until = Some(now + self.base);
                    return true;
                }
            }
            return false;
        }
        let r = self.recs.entry(k).or_default();
        if r.grace_until > now {
            return false;
        }
        let repeat = if r.last_ban + self.memory > now && r.bans > 0 {
            r.bans
        } else {
            0
        };
        let until = if repeat + 1 >= self.permanent_after {
            None
        } else {
            let mut d = self.base;
            for _ in 0..repeat {
                d = (d * self.factor).min(self.max);
            }
            Some(now + d.min(self.max))
        };
        *r = ModelRec {
            active: true,
            until,
            bans: repeat + 1,
            last_ban: now,
            grace_until: 0,
        };
        true
    }
    fn unban(&mut self, k: u8, now: u64) -> bool {
        if !self.active(k, now) {
            return false;
        }
        let grace = self.grace;
        let r = self.recs.get_mut(&k).unwrap();
        r.active = false;
        r.grace_until = if grace > 0 { now + grace } else { 0 };
        true
    }
}

const S: u64 = 1_000_000_000;

proptest! {
    #![proptest_config(config())]

    /// Ban expiry, escalation (factor, cap, permanent after K), repeat
    /// memory, unban grace, whitelist and snapshot round trips agree with a
    /// model that applies the documented rules directly.
    #[test]
    fn ban_list_matches_model(ops in ban_ops(), factor in 1u32..4, perm in 2u32..6, grace_s in 0u64..2000, memory_s in 1u64..20_000) {
        let base_s = 600u64;
        let max_s = 4 * base_s;
        let cfg = BanConfig {
            ban_for: Duration::from_secs(base_s),
            escalation: Escalation {
                factor,
                max_ban: Some(Duration::from_secs(max_s)),
                permanent_after: Some(perm),
                repeat_memory: Duration::from_secs(memory_s),
                recidive: None,
            },
            unban_grace: Duration::from_secs(grace_s),
            whitelist: vec![],
            ..BanConfig::default()
        };
        let wl = std::sync::Arc::new(Whitelist::new().with_key(0u8));
        let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
        let mut list: BanList<u8> = BanList::new(cfg.clone()).unwrap().with_whitelist(wl.clone());
        let mut model = BanModel {
            recs: HashMap::new(),
            base: base_s * S,
            factor: u64::from(factor),
            max: max_s * S,
            permanent_after: perm,
            memory: memory_s * S,
            grace: grace_s * S,
        };
        for op in ops {
            let now = clock.now().as_nanos();
            match op {
                Op::Ban(k) => {
                    let expect = model.ban(k, now);
                    let got = list.ban(&k, "r", "rule", &clock);
                    prop_assert_eq!(matches!(got, BanOutcome::Banned(_)), expect, "ban {} -> {:?}", k, got);
                    if k == 0 {
                        prop_assert_eq!(got, BanOutcome::Whitelisted);
                    }
                }
                Op::Unban(k) => {
                    let expect = model.unban(k, now);
                    prop_assert_eq!(list.unban(&k, &clock).is_some(), expect);
                }
                Op::Advance(s) => {
                    clock.advance(Duration::from_secs(s));
                    let _ = list.expire(&clock);
                }
                Op::Check => {}
                Op::SnapshotRestore => {
                    let snap = list.snapshot(&clock);
                    let json = serde_json::to_string(&snap).unwrap();
                    let back: BanSnapshot<u8> = serde_json::from_str(&json).unwrap();
                    prop_assert_eq!(&back, &snap);
                    let fresh: BanList<u8> = BanList::new(cfg.clone()).unwrap().with_whitelist(wl.clone());
                    let n = fresh.restore(&back, &clock);
                    prop_assert_eq!(n, list.len(clock.now()));
                    list = fresh;
                }
            }
            let now = clock.now();
            for k in 0u8..6 {
                let want = model.active(k, now.as_nanos());
                let got = list.check(&k, now);
                prop_assert_eq!(got.is_banned(), want, "key {} at {:?}", k, now);
                if let BanCheck::Banned { until } = got {
                    let m = model.recs[&k];
                    prop_assert_eq!(until.map(Instant::as_nanos), m.until);
                }
            }
        }
    }
}

#[test]
fn snapshot_drops_expired_bans_on_restore() {
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    let list: BanList<String> = BanList::new(BanConfig::default()).unwrap();
    list.ban_for(&"a".to_owned(), Duration::from_secs(60), "x", "r", &clock);
    list.ban_for(&"b".to_owned(), Duration::from_secs(7200), "y", "r", &clock);
    list.ban_permanent(&"c".to_owned(), "admin", "manual", &clock);
    let json = serde_json::to_string(&list.snapshot(&clock)).unwrap();
    // The process is down for 30 minutes.
    let later = ManualClock::new(UnixTime::from_secs(1_800_000_000 + 1800));
    let snap: BanSnapshot<String> = serde_json::from_str(&json).unwrap();
    let restored: BanList<String> = BanList::new(BanConfig::default()).unwrap();
    assert_eq!(restored.restore(&snap, &later), 2);
    assert!(!restored.is_banned(&"a".to_owned(), later.now()));
    let b = restored.get(&"b".to_owned(), later.now()).unwrap();
    assert_eq!(
        b.until.unwrap().saturating_duration_since(later.now()),
        Duration::from_secs(5400)
    );
    assert_eq!((b.reason.as_str(), b.rule.as_str()), ("y", "r"));
    assert_eq!(
        restored.check(&"c".to_owned(), later.now()),
        BanCheck::Banned { until: None }
    );
    // "a" is remembered as a repeat offender for a day.
    let BanOutcome::Banned(change) = restored.ban(&"a".to_owned(), "again", "r", &later) else {
        panic!()
    };
    assert!(matches!(change.change, BanAction::Ban { repeat: 1, .. }));
}

/// A `BoundedMap` value for the model tests: a count, idle at zero.
#[derive(Default)]
struct Count(u64);

impl SlotValue for Count {
    fn is_idle(&self, _now: Instant) -> bool {
        self.0 == 0
    }
    fn keep_score(&self, _now: Instant) -> u64 {
        self.0
    }
}

#[derive(Clone, Debug)]
enum MapOp {
    Add(u8, u64),
    Get(u8),
    Zero(u8),
    Remove(u8),
}

fn map_ops(keys: u8) -> impl Strategy<Value = Vec<MapOp>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..keys, 1u64..5).prop_map(|(k, w)| MapOp::Add(k, w)),
            2 => (0..keys).prop_map(MapOp::Get),
            1 => (0..keys).prop_map(MapOp::Zero),
            1 => (0..keys).prop_map(MapOp::Remove),
        ],
        1..300,
    )
}

proptest! {
    #![proptest_config(config())]

    /// `WindowCounter::record` and `WindowCounter::hit` make the decision of
    /// a model that stores every event; `record`'s totals below the limit
    /// are exact; `hit` never holds more than `limit` events.
    #[test]
    fn window_counter_is_exact(ops in prop::collection::vec((0u64..1500, 0u32..4), 1..300), limit in 1u32..12, window_ms in 1u64..4000, clear in any::<bool>()) {
        let window = window_ms * 1_000_000;
        let rule = WindowLimit::new(limit, Duration::from_millis(window_ms), clear).unwrap();
        let (mut rec, mut hit) = (WindowCounter::new(), WindowCounter::new());
        let mut events: Vec<(u64, u32)> = Vec::new();
        let mut now = 0u64;
        for (step, weight) in ops {
            now += step * 1_000_000;
            if weight > 0 {
                events.push((now, weight));
            }
            let sum: u64 = events.iter().filter(|(t, _)| now - t < window).map(|&(_, w)| u64::from(w)).sum();
            let reached = weight > 0 && sum >= u64::from(limit);
            let got = rec.record(weight, Instant::from_nanos(now), rule);
            let got_hit = hit.hit(weight, Instant::from_nanos(now), rule);
            prop_assert_eq!(got.is_reached(), reached, "record: sum {} got {:?}", sum, got);
            prop_assert_eq!(got_hit, reached, "hit: sum {}", sum);
            if sum < u64::from(limit) {
                prop_assert_eq!(got, ThresholdDecision::Below { total: sum });
            } else if !reached {
                // Weight 0 over a full window: a lower bound of at least the limit.
                let bound = matches!(got, ThresholdDecision::Below { total } if total >= u64::from(limit));
                prop_assert!(bound, "{:?} with {} in the window", got, sum);
            } else if clear {
                prop_assert_eq!(got, ThresholdDecision::Reached { total: sum });
                events.clear();
            }
            prop_assert!(hit.len() <= limit as usize, "hit holds {} events", hit.len());
            prop_assert!(rec.len() <= limit as usize);
            prop_assert_eq!(rec.count(Instant::from_nanos(now), rule.window()), rec.in_window(Instant::from_nanos(now), rule.window()));
        }
    }

    /// With room for every key, a `BoundedMap` is exactly a `HashMap`.
    #[test]
    fn bounded_map_matches_hashmap(ops in map_ops(24)) {
        let map: BoundedMap<u8, Count> = BoundedMap::new(1024).unwrap();
        let mut model: HashMap<u8, u64> = HashMap::new();
        let now = Instant::from_nanos(0);
        for op in ops {
            match op {
                MapOp::Add(k, w) => {
                    // A zero (idle) entry may have given its slot to another key.
                    let live = model.get(&k).is_some_and(|&v| v > 0);
                    let (v, found) = map.entry(&k, now, |c, found| { c.0 += w; (c.0, found) });
                    *model.entry(k).or_default() += w;
                    prop_assert!(found != Found::Evicted);
                    if live {
                        prop_assert_eq!(found, Found::Present);
                    }
                    prop_assert_eq!(v, model[&k]);
                }
                MapOp::Get(k) => match model.get(&k) {
                    Some(&v) if v > 0 => prop_assert_eq!(map.get(&k, |c| c.0), Some(v)),
                    Some(_) => {
                        let idle = matches!(map.get(&k, |c| c.0), None | Some(0));
                        prop_assert!(idle);
                    }
                    None => prop_assert_eq!(map.get(&k, |c| c.0), None),
                },
                MapOp::Zero(k) => {
                    map.get(&k, |c| c.0 = 0);
                    if let Some(v) = model.get_mut(&k) { *v = 0; }
                }
                MapOp::Remove(k) => {
                    let removed = map.remove(&k);
                    if model.remove(&k).is_some_and(|v| v > 0) {
                        prop_assert!(removed);
                    }
                }
            }
        }
        // An idle (zero) entry may have been reused by another key, never a live one.
        prop_assert_eq!(map.evictions(), 0);
        prop_assert_eq!(map.live_len(now), model.values().filter(|&&v| v > 0).count());
    }

    /// Under eviction (one bucket pair for 40 keys) a `BoundedMap` only
    /// forgets: a value is never above the model's, live keys never exceed
    /// the slots, and every live eviction is counted.
    #[test]
    fn bounded_map_only_forgets(ops in map_ops(40)) {
        let map: BoundedMap<u8, Count> = BoundedMap::new(4).unwrap();
        let mut model: HashMap<u8, u64> = HashMap::new();
        let now = Instant::from_nanos(0);
        let mut evicted = 0;
        for op in ops {
            match op {
                MapOp::Add(k, w) => {
                    let (v, found) = map.entry(&k, now, |c, found| { c.0 += w; (c.0, found) });
                    *model.entry(k).or_default() += w;
                    evicted += u64::from(found == Found::Evicted);
                    prop_assert!(v <= model[&k]);
                }
                MapOp::Get(k) => {
                    if let Some(v) = map.get(&k, |c| c.0) {
                        prop_assert!(v <= model.get(&k).copied().unwrap_or(0));
                    }
                }
                MapOp::Zero(k) => {
                    map.get(&k, |c| c.0 = 0);
                    if let Some(v) = model.get_mut(&k) { *v = 0; }
                }
                MapOp::Remove(k) => {
                    map.remove(&k);
                    model.remove(&k);
                }
            }
            prop_assert!(map.live_len(now) <= map.slots());
        }
        prop_assert_eq!(map.evictions(), evicted);
    }
}
