//! Many threads on shared and distinct keys: the counts add up exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pbxsec_core::{Clock, Instant, ManualClock};
use pbxsec_ratelimit::*;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 2_000;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn all_types_are_send_and_sync() {
    assert_send_sync::<RateLimiter<String>>();
    assert_send_sync::<ThresholdCounter<String>>();
    assert_send_sync::<ConcurrencyLimiter<String>>();
    assert_send_sync::<ConcurrencyGuard<String>>();
    assert_send_sync::<BanList<String>>();
    assert_send_sync::<Whitelist<String>>();
}

#[test]
fn threshold_counts_add_up_across_threads() {
    let t: Arc<ThresholdCounter<u64>> = Arc::new(
        ThresholdCounter::new(
            ThresholdConfig::new(60_000, Duration::from_secs(3600)).with_capacity(1024),
        )
        .unwrap(),
    );
    let now = Instant::from_nanos(5);
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let t = Arc::clone(&t);
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    t.record(&0, 1, now); // shared key
                    t.record(&(100 + th), 2, now); // own key
                    t.record(&(1 + i % 8), 1, now); // keys shared by all
                }
            });
        }
    });
    assert_eq!(t.count(&0, now), THREADS * PER_THREAD);
    for th in 0..THREADS {
        assert_eq!(t.count(&(100 + th), now), 2 * PER_THREAD);
    }
    let shared: u64 = (1..=8).map(|k| t.count(&k, now)).sum();
    assert_eq!(shared, THREADS * PER_THREAD);
    assert_eq!(t.evictions(), 0);
}

#[test]
fn threshold_flags_exactly_once_per_limit_across_threads() {
    let t: Arc<ThresholdCounter<u8>> =
        Arc::new(ThresholdCounter::new(ThresholdConfig::new(10, Duration::from_secs(60))).unwrap());
    let reached = AtomicU32::new(0);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..PER_THREAD {
                    if t.record(&7, 1, Instant::from_nanos(1)).is_reached() {
                        reached.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    // clear_on_reach: every 10th event flags.
    assert_eq!(
        u64::from(reached.load(Ordering::Relaxed)),
        THREADS * PER_THREAD / 10
    );
}

#[test]
fn rate_limiter_allows_exactly_the_burst_across_threads() {
    let rl: RateLimiter<u32> =
        RateLimiter::new(RateConfig::new(1000, Duration::from_secs(1)).with_burst(3000)).unwrap();
    let allowed_shared = AtomicU32::new(0);
    let allowed_own = AtomicU32::new(0);
    std::thread::scope(|s| {
        for th in 0..THREADS as u32 {
            let (rl, a, b) = (&rl, &allowed_shared, &allowed_own);
            s.spawn(move || {
                for _ in 0..PER_THREAD {
                    if rl.check(&0, Instant::from_nanos(1)).is_allowed() {
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                    if rl.check(&(th + 1), Instant::from_nanos(1)).is_allowed() {
                        b.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(allowed_shared.load(Ordering::Relaxed), 3000);
    assert_eq!(
        u64::from(allowed_own.load(Ordering::Relaxed)),
        THREADS * PER_THREAD
    );
}

#[test]
fn concurrency_never_exceeds_the_limit_and_never_leaks() {
    let lim: ConcurrencyLimiter<&str> = ConcurrencyLimiter::new(ConcurrencyConfig::new(3)).unwrap();
    let peak = AtomicU32::new(0);
    let held = AtomicU32::new(0);
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let (lim, peak, held) = (lim.clone(), &peak, &held);
            s.spawn(move || {
                let own = ["a", "b", "c", "d"][th as usize];
                for _ in 0..PER_THREAD {
                    if let Ok(g) = lim.try_acquire(&"trunk") {
                        let n = held.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        held.fetch_sub(1, Ordering::SeqCst);
                        drop(g);
                    }
                    let _mine = lim.try_acquire(&own).unwrap();
                }
            });
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(lim.in_use(&"trunk"), 0);
    assert_eq!(lim.keys_in_use(), 0);
}

#[test]
fn ban_list_from_many_threads() {
    let clock = ManualClock::default();
    let bans: BanList<u64> = BanList::new(BanConfig::default()).unwrap();
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let (bans, clock) = (&bans, &clock);
            s.spawn(move || {
                for i in 0..200 {
                    bans.ban(&(th * 1000 + i), "t", "r", clock);
                    bans.ban(&999_999, "shared", "r", clock);
                    assert!(bans.is_banned(&(th * 1000 + i), clock.now()));
                }
            });
        }
    });
    assert_eq!(bans.len(clock.now()), (THREADS * 200 + 1) as usize);
    let changes = bans.drain_changes();
    assert_eq!(changes.len(), (THREADS * 200 + 1) as usize);
    let mut seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=THREADS * 200 + 1).collect::<Vec<_>>());
}

/// Batches (which read every key's fingerprints and slot line before
/// updating any, each under its own lock) beside
/// single calls, on a table large enough to batch: no deadlock, and the
/// counts add up exactly.
#[test]
fn batches_and_single_calls_add_up_across_threads() {
    // Both tables take over 8 MiB (24 and 14 MB): their batch methods batch.
    let t: ThresholdCounter<u64> = ThresholdCounter::new(
        ThresholdConfig::new(60_000, Duration::from_secs(3600)).with_capacity(200_000),
    )
    .unwrap();
    let rl: RateLimiter<u64> = RateLimiter::new(
        RateConfig::new(1_000, Duration::from_secs(1))
            .with_burst(100_000)
            .with_capacity(300_000),
    )
    .unwrap();
    let now = Instant::from_nanos(5);
    let allowed = AtomicU32::new(0);
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let (t, rl, allowed) = (&t, &rl, &allowed);
            s.spawn(move || {
                let mut out = Vec::new();
                let mut decisions = Vec::new();
                for i in 0..PER_THREAD / 20 {
                    // 20 keys spread over the table, 10 shared by all
                    // threads, each twice in the batch.
                    let keys: Vec<u64> = (0..10).chain(0..10).map(|k| k * 7919 + i % 3).collect();
                    if th % 2 == 0 {
                        t.record_batch(&keys, 1, now, &mut out);
                        rl.check_batch(&keys, now, &mut decisions);
                    } else {
                        for k in &keys {
                            t.record(k, 1, now);
                            decisions.push(rl.check(k, now));
                        }
                    }
                    let ok = decisions.iter().filter(|d| d.is_allowed()).count();
                    allowed.fetch_add(ok as u32, Ordering::Relaxed);
                    decisions.clear();
                }
            });
        }
    });
    let total: u64 = (0..10)
        .flat_map(|k| (0..3).map(move |r| k * 7919 + r))
        .map(|k| t.count(&k, now))
        .sum();
    assert_eq!(total, THREADS * (PER_THREAD / 20) * 20);
    assert_eq!(
        u64::from(allowed.load(Ordering::Relaxed)),
        THREADS * (PER_THREAD / 20) * 20
    );
    assert_eq!(t.evictions(), 0);
}
