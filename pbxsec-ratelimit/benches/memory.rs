//! Measured memory: bytes per tracked key (from the process's resident set
//! size, `/proc/self/statm`) for pbxsec's rate levels and exact thresholds
//! and for governor's keyed limiter, and the resident memory after 10M
//! distinct keys were offered to structures with capacity 1M.
//!
//! `cargo bench -p pbxsec-ratelimit --bench memory` (Linux only; prints a
//! table, no timing).
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter as Governor};
use pbxsec_core::Instant;
use pbxsec_ratelimit::{RateConfig, RateLimiter, ThresholdConfig, ThresholdCounter};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The i-th distinct IPv4 key (a bijection on u32, so all distinct).
fn key(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(0x9E37_79B1) ^ 0x5bd1_e995))
}

fn report(what: &str, keys: u64, before: u64, after: u64) {
    let delta = after.saturating_sub(before);
    println!(
        "{what:<58} keys {keys:>9}  rss delta {:>8.1} MiB  {:>7.1} B/key  (process rss {:.1} MiB)",
        delta as f64 / 1048576.0,
        delta as f64 / keys as f64,
        after as f64 / 1048576.0
    );
}

/// Each scenario runs in a fresh process (this binary, re-run with
/// `PBXSEC_MEM_SCENARIO` set), so memory freed by one is not reused by the
/// next and every resident-set delta is the scenario's own.
fn main() {
    const SCENARIOS: [&str; 5] = [
        "rate",
        "threshold1",
        "threshold10m",
        "threshold39",
        "governor",
    ];
    match std::env::var("PBXSEC_MEM_SCENARIO") {
        Ok(name) => scenario(&name),
        Err(_) => {
            let exe = std::env::current_exe().unwrap();
            for name in SCENARIOS {
                let out = std::process::Command::new(&exe)
                    .env("PBXSEC_MEM_SCENARIO", name)
                    .output()
                    .unwrap();
                print!("{}", String::from_utf8_lossy(&out.stdout));
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

fn scenario(name: &str) {
    const M: u32 = 1_000_000;
    let now = |i: u32| Instant::from_nanos(1_000_000 + u64::from(i) * 100);
    match name {
        "rate" => {
            let before = rss_bytes();
            let rl: RateLimiter<IpAddr> = RateLimiter::new(
                RateConfig::new(500, Duration::from_secs(1)).with_capacity(M as usize),
            )
            .unwrap();
            for i in 0..M {
                black_box(rl.check(&key(i), now(i)));
            }
            report(
                "pbxsec RateLimiter<IpAddr> cap 1M, 1M keys",
                u64::from(M),
                before,
                rss_bytes(),
            );
            for i in M..10 * M {
                black_box(rl.check(&key(i), now(i)));
            }
            report(
                "pbxsec RateLimiter<IpAddr> cap 1M, 10M keys offered",
                u64::from(M),
                before,
                rss_bytes(),
            );
            // The same flood at one instant: every key stays live, so the
            // table is full and evicts.
            let rl2: RateLimiter<IpAddr> = RateLimiter::new(
                RateConfig::new(500, Duration::from_secs(1)).with_capacity(M as usize),
            )
            .unwrap();
            let before2 = rss_bytes();
            for i in 0..10 * M {
                black_box(rl2.check(&key(i), Instant::from_nanos(1)));
            }
            report(
                "  same, 10M keys offered at one instant (all live)",
                u64::from(M),
                before2,
                rss_bytes(),
            );
            println!(
                "    live keys held {}, live keys evicted {}",
                rl2.len(Instant::from_nanos(1)),
                rl2.evictions()
            );
        }
        "threshold1" => {
            let before = rss_bytes();
            let th: ThresholdCounter<IpAddr> = ThresholdCounter::new(
                ThresholdConfig::new(40, Duration::from_secs(2)).with_capacity(M as usize),
            )
            .unwrap();
            for i in 0..M {
                black_box(th.record(&key(i), 1, now(i)));
            }
            report(
                "pbxsec ThresholdCounter<IpAddr> 40/2s cap 1M, 1 event/key",
                u64::from(M),
                before,
                rss_bytes(),
            );
        }
        "threshold10m" => {
            let before = rss_bytes();
            let th: ThresholdCounter<IpAddr> = ThresholdCounter::new(
                ThresholdConfig::new(40, Duration::from_secs(2)).with_capacity(M as usize),
            )
            .unwrap();
            for i in 0..10 * M {
                black_box(th.record(&key(i), 1, Instant::from_nanos(1 + u64::from(i))));
            }
            report(
                "pbxsec ThresholdCounter cap 1M, 10M keys offered (all live)",
                u64::from(M),
                before,
                rss_bytes(),
            );
            println!(
                "    keys held {}, live keys evicted {}",
                th.len(Instant::from_nanos(10 * u64::from(M))),
                th.evictions()
            );
        }
        "threshold39" => {
            let before = rss_bytes();
            let n = 100_000u32;
            let th: ThresholdCounter<IpAddr> = ThresholdCounter::new(
                ThresholdConfig::new(40, Duration::from_secs(2)).with_capacity(n as usize),
            )
            .unwrap();
            for round in 0..39u32 {
                for i in 0..n {
                    black_box(th.record(
                        &key(i),
                        1,
                        Instant::from_nanos(1_000_000 + u64::from(round) * 1000),
                    ));
                }
            }
            report(
                "pbxsec ThresholdCounter 40/2s, 39 events/key (the most)",
                u64::from(n),
                before,
                rss_bytes(),
            );
        }
        _ => {
            let before = rss_bytes();
            let clock = FakeRelativeClock::default();
            let gov = Governor::dashmap_with_clock(
                Quota::per_second(NonZeroU32::new(500).unwrap()),
                clock.clone(),
            );
            for i in 0..M {
                clock.advance(Duration::from_nanos(100));
                black_box(gov.check_key(&key(i)).is_ok());
            }
            report(
                "governor keyed (DashMap) 1M keys",
                u64::from(M),
                before,
                rss_bytes(),
            );
            for i in M..10 * M {
                clock.advance(Duration::from_nanos(100));
                black_box(gov.check_key(&key(i)).is_ok());
            }
            report(
                "governor keyed (DashMap) 10M keys offered",
                10 * u64::from(M),
                before,
                rss_bytes(),
            );
            println!(
                "    governor holds {} keys until retain_recent is called",
                gov.len()
            );
        }
    }
}
