//! Record an event for a random key and get the decision: pbxsec's GCRA
//! `RateLimiter` (and exact `ThresholdCounter`) against governor's keyed
//! limiter (DashMap state), quick_cache and a 16-shard `Mutex<HashMap>` with
//! ahash, on the same keys in the same run, with one dependent random load
//! over 64 MiB as the memory-latency floor; then one thread against two on
//! distinct keys.
//!
//! `cargo bench -p pbxsec-ratelimit --bench ratelimit`
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant as StdInstant};

use criterion::{Criterion, criterion_group, criterion_main};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter as Governor};
use pbxsec_core::Instant;
use pbxsec_ratelimit::{RateConfig, RateLimiter, ThresholdConfig, ThresholdCounter};

const RATE: u32 = 500;
const INTERVAL: u64 = 1_000_000_000 / RATE as u64;
const TOLERANCE: u64 = INTERVAL * RATE as u64;
/// Random indexes into the key set, walked in order (a power of two).
const SEQ: usize = 1 << 22;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` distinct IPv4 keys and a random walk over them.
fn workload(n: usize, seed: u64) -> (Vec<IpAddr>, Vec<u32>) {
    let mut s = seed;
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let ip = Ipv4Addr::from((splitmix(&mut s) >> 32) as u32);
        if seen.insert(ip) {
            keys.push(IpAddr::V4(ip));
        }
    }
    let seq = (0..SEQ)
        .map(|_| (splitmix(&mut s) % n as u64) as u32)
        .collect();
    (keys, seq)
}

/// GCRA on a plain u64 TAT, shared by the peer baselines.
#[inline]
fn gcra(tat: &mut u64, now: u64) -> bool {
    let new_tat = (*tat).max(now) + INTERVAL;
    if new_tat - now <= TOLERANCE {
        *tat = new_tat;
        true
    } else {
        false
    }
}

struct ShardedMutexMap {
    shards: Vec<Mutex<HashMap<IpAddr, u64, ahash::RandomState>>>,
    hasher: ahash::RandomState,
}

impl ShardedMutexMap {
    fn new() -> Self {
        Self {
            shards: (0..16)
                .map(|_| Mutex::new(HashMap::with_hasher(ahash::RandomState::new())))
                .collect(),
            hasher: ahash::RandomState::new(),
        }
    }
    #[inline]
    fn check(&self, key: &IpAddr, now: u64) -> bool {
        let i = (self.hasher.hash_one(key) >> 60) as usize;
        let mut map = self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gcra(map.entry(*key).or_insert(0), now)
    }
}

/// A random cyclic permutation over 64 MiB of u64: each step is one
/// dependent random load.
fn chase_table() -> Vec<u64> {
    let n = (64 << 20) / 8;
    let mut order: Vec<usize> = (0..n).collect();
    let mut s = 42;
    for i in (1..n).rev() {
        let j = (splitmix(&mut s) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut next = vec![0u64; n];
    for w in 0..n {
        next[order[w]] = order[(w + 1) % n] as u64;
    }
    next
}

fn bench_checks(c: &mut Criterion) {
    let floor = chase_table();
    for &(n, label) in &[(1_000usize, "1k"), (1_000_000, "1M")] {
        let (keys, seq) = workload(n, 7 + n as u64);
        let mut g = c.benchmark_group(format!("check_random_keys/{label}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));

        let ours: RateLimiter<IpAddr> =
            RateLimiter::new(RateConfig::new(RATE, Duration::from_secs(1)).with_capacity(n))
                .unwrap();
        let mut i = 0usize;
        let mut now = 1_000_000u64;
        g.bench_function("pbxsec_ratelimit", |b| {
            b.iter(|| {
                i = (i + 1) & (SEQ - 1);
                now += 100;
                let k = &keys[seq[i] as usize];
                black_box(ours.check(k, Instant::from_nanos(now)))
            })
        });
        drop(ours);

        let gov_clock = FakeRelativeClock::default();
        let gov = Governor::dashmap_with_clock(
            Quota::per_second(NonZeroU32::new(RATE).unwrap()),
            gov_clock.clone(),
        );
        g.bench_function("governor_keyed_dashmap", |b| {
            b.iter(|| {
                i = (i + 1) & (SEQ - 1);
                gov_clock.advance(Duration::from_nanos(100));
                let k = &keys[seq[i] as usize];
                black_box(gov.check_key(k).is_ok())
            })
        });
        drop(gov);

        let qc: quick_cache::sync::Cache<IpAddr, u64> = quick_cache::sync::Cache::new(n);
        g.bench_function("quick_cache", |b| {
            b.iter(|| {
                i = (i + 1) & (SEQ - 1);
                now += 100;
                let k = keys[seq[i] as usize];
                let mut tat = qc.get(&k).unwrap_or(0);
                let ok = gcra(&mut tat, now);
                if ok {
                    qc.insert(k, tat);
                }
                black_box(ok)
            })
        });
        drop(qc);

        let mm = ShardedMutexMap::new();
        g.bench_function("mutex_hashmap_16_ahash", |b| {
            b.iter(|| {
                i = (i + 1) & (SEQ - 1);
                now += 100;
                black_box(mm.check(&keys[seq[i] as usize], now))
            })
        });
        drop(mm);

        let th: ThresholdCounter<IpAddr> = ThresholdCounter::new(
            ThresholdConfig::new(40, Duration::from_secs(2)).with_capacity(n),
        )
        .unwrap();
        g.bench_function("pbxsec_threshold_exact", |b| {
            b.iter(|| {
                i = (i + 1) & (SEQ - 1);
                now += 100;
                black_box(th.record(&keys[seq[i] as usize], 1, Instant::from_nanos(now)))
            })
        });
        drop(th);

        let mut p = 0u64;
        g.bench_function("floor_dependent_load_64MiB", |b| {
            b.iter(|| {
                p = floor[p as usize];
                black_box(p)
            })
        });
        g.finish();
    }
}

/// Distinct keys per thread: one thread doing `iters` checks, then two
/// threads doing `iters` checks each. Throughput ratio = 2 * t1 / t2.
fn bench_threads(c: &mut Criterion) {
    let n = 1_000_000;
    let (keys, seq) = workload(n, 99);
    let ours: RateLimiter<IpAddr> =
        RateLimiter::new(RateConfig::new(RATE, Duration::from_secs(1)).with_capacity(n)).unwrap();
    let run = |t: usize, iters: u64| {
        let mut now = 1_000_000u64;
        let mut j = t * (SEQ / 2);
        for _ in 0..iters {
            j = (j + 1) & (SEQ - 1);
            now += 100;
            // Thread t uses only keys with index parity t: disjoint sets.
            let idx = (seq[j] as usize & !1) | t;
            black_box(ours.check(&keys[idx.min(n - 1)], Instant::from_nanos(now)));
        }
    };
    let mut g = c.benchmark_group("threads_distinct_keys_1M");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("one_thread_x_iters", |b| {
        b.iter_custom(|iters| {
            let start = StdInstant::now();
            run(0, iters);
            start.elapsed()
        })
    });
    g.bench_function("two_threads_x_iters_each", |b| {
        b.iter_custom(|iters| {
            let start = StdInstant::now();
            std::thread::scope(|s| {
                s.spawn(|| run(0, iters));
                s.spawn(|| run(1, iters));
            });
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_checks, bench_threads);
criterion_main!(benches);
