//! `Whitelist::contains` (on every packet): the run-time updatable
//! whitelist (an `ArcSwap` of an immutable version) against the fixed one it
//! replaced (a `Vec<IpNet>` scanned linearly and a `HashSet` of keys), that
//! same fixed one behind a `RwLock` (the obvious updatable design), and a
//! plain `HashSet<IpAddr>` for exact keys, on the same probes in the same
//! run. Then `BanList::check` of a clear address with no network ban and
//! with 1000 network bans over three prefix lengths (the cost network bans
//! add to every check). Times are thread CPU time (see `ThreadCpu`).
//!
//! `cargo bench -p pbxsec-ratelimit --bench whitelist`
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

mod common;

use std::collections::HashSet;
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::RwLock;
use std::time::Duration;

use common::ThreadCpu;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ipnet::IpNet;
use pbxsec_core::{Clock, ManualClock, canonical_ip};
use pbxsec_ratelimit::{BanConfig, BanList, Whitelist};

/// The whitelist as it was before it became updatable (fixed at
/// construction), for `IpAddr` keys.
struct Fixed {
    nets: Vec<IpNet>,
    keys: HashSet<IpAddr>,
}

impl Fixed {
    #[inline]
    fn contains(&self, key: &IpAddr) -> bool {
        if !self.keys.is_empty() && self.keys.contains(key) {
            return true;
        }
        if self.nets.is_empty() {
            return false;
        }
        let ip = canonical_ip(*key);
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

const PROBES: usize = 1024;

/// Deterministic pseudo-random addresses, about one in eight inside
/// 10.0.0.0/8 (so some probes hit).
fn probes() -> Vec<IpAddr> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..PROBES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            let first = if b[4] % 8 == 0 { 10 } else { b[5] | 1 };
            IpAddr::from([first, b[1], b[2], b[3]])
        })
        .collect()
}

fn case(nets: usize, keys: usize, probes: &[IpAddr]) -> (Vec<IpNet>, Vec<IpAddr>) {
    let nets = (0..nets)
        .map(|i| {
            let len = [8u8, 16, 24, 28][i % 4];
            IpNet::new(IpAddr::from([10, (i * 7) as u8, (i * 13) as u8, 0]), len)
                .unwrap()
                .trunc()
        })
        .collect();
    let keys = probes.iter().step_by(3).take(keys).copied().collect();
    (nets, keys)
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let probes = probes();
    let mut g = c.benchmark_group("whitelist_contains");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    g.sample_size(30);
    for (name, nets, keys) in [
        ("empty", 0, 0),
        ("4_nets", 4, 0),
        ("64_nets", 64, 0),
        ("300_keys", 0, 300),
    ] {
        let (nets, keys) = case(nets, keys, &probes);
        let ours: Whitelist<IpAddr> = Whitelist::from_nets(nets.clone());
        for k in &keys {
            ours.add_key(*k);
        }
        let fixed = Fixed {
            nets: nets.clone(),
            keys: keys.iter().copied().collect(),
        };
        let locked = RwLock::new(Fixed {
            nets: nets.clone(),
            keys: keys.iter().copied().collect(),
        });
        let set: HashSet<IpAddr> = keys.iter().copied().collect();
        // All agree.
        for p in &probes {
            assert_eq!(ours.contains(p), fixed.contains(p));
        }
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("pbxsec_arcswap", name), |b| {
            b.iter(|| {
                i = (i + 1) & (PROBES - 1);
                ours.contains(black_box(&probes[i]))
            })
        });
        g.bench_function(BenchmarkId::new("fixed_before", name), |b| {
            b.iter(|| {
                i = (i + 1) & (PROBES - 1);
                fixed.contains(black_box(&probes[i]))
            })
        });
        g.bench_function(BenchmarkId::new("fixed_in_rwlock", name), |b| {
            b.iter(|| {
                i = (i + 1) & (PROBES - 1);
                locked.read().unwrap().contains(black_box(&probes[i]))
            })
        });
        if nets.is_empty() {
            g.bench_function(BenchmarkId::new("std_hashset", name), |b| {
                b.iter(|| {
                    i = (i + 1) & (PROBES - 1);
                    set.contains(black_box(&probes[i]))
                })
            });
        }
    }
    g.finish();
}

fn ban_check(c: &mut Criterion<ThreadCpu>) {
    let probes = probes();
    let clock = ManualClock::default();
    let mut g = c.benchmark_group("ban_check");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    g.sample_size(30);
    for nets in [0usize, 1000] {
        let bans: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
        for i in 0..1000u32 {
            let b = i.to_be_bytes();
            bans.ban(&IpAddr::from([192, 0, b[2], b[3]]), "r", "rule", &clock);
        }
        for i in 0..nets {
            let j = (i / 3) as u16;
            let [hi, lo] = j.to_be_bytes();
            let net: IpNet = match i % 3 {
                0 => IpNet::new(IpAddr::from([100 + hi, lo, 0, 0]), 16).unwrap(),
                1 => IpNet::new(IpAddr::from([198, hi, lo, 0]), 24).unwrap(),
                _ => format!("2001:db8:{j:x}::/48").parse().unwrap(),
            };
            bans.ban_net(net.trunc(), None, "r", "admin", &clock);
        }
        assert_eq!(bans.network_bans(clock.now()), nets);
        let now = clock.now();
        let mut i = 0usize;
        g.bench_function(
            BenchmarkId::new("pbxsec_check_clear", format!("{nets}_net_bans")),
            |b| {
                b.iter(|| {
                    i = (i + 1) & (PROBES - 1);
                    bans.check(black_box(&probes[i]), now)
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench, ban_check
}
criterion_main!(benches);
