//! Tracker updates (a wrong password from a random known source, through
//! `observe_into` with one reused `Report`) with 1k and 1M tracked sources, beside one dependent random memory load (the floor)
//! in the same run. Each is measured as wall time and as the thread's CPU
//! time (the machine is shared; CPU time leaves out time spent descheduled).
//! Then (`interleaved`, printed after criterion's groups) the 1M-source
//! update and the floor once more, in alternating blocks, so that each
//! ratio compares the two under the same conditions.
#![allow(missing_docs)] // criterion's macros generate undocumented pub fns
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench set-up: a panic is a failed bench

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant as StdInstant};

use cpu_time::ThreadTime;
use criterion::{Criterion, criterion_group};
use pbxsec_core::{Instant, Transport, UnixTime};
use pbxsec_ratelimit::BATCH;
use pbxsec_sip::digest::DigestOutcome;
use pbxsec_sip::tracker::{Packet, Report, Rule, Seen, Tracker, TrackerConfig};

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A single random cycle over `len` slots (Sattolo), for pointer chasing.
fn chase_table(len: usize) -> Vec<u64> {
    let mut t: Vec<u64> = (0..len as u64).collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for i in (1..len).rev() {
        let j = (rng.next() % i as u64) as usize;
        t.swap(i, j);
    }
    t
}

/// The i-th source address: computed, not loaded from a table, because a
/// packet's source address is at hand (in the packet, in cache) when it is
/// observed (loading it from a 32 MB table would add a cache miss of the
/// harness to every 1M-source update).
#[inline(always)]
fn source(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i * 7)), 5060)
}

fn tracker(n: usize) -> Tracker {
    // PortSIP's failure limit (50) with the NAT treatment on, and a window
    // of n × 10 ms: with one packet per simulated millisecond, a source sees
    // one failure per n ms on average, so each holds about 10 failures in
    // its window (events enter and leave it, as in a steady state) and none
    // reaches 50 (no update is a cheap "already banned" drop).
    let window = Duration::from_millis(10 * n as u64);
    let config = TrackerConfig {
        failed_auth: Some(Rule::new(50, window, Duration::from_secs(3600))),
        capacity: n.max(1024),
        ..TrackerConfig::default()
    };
    Tracker::new(config).unwrap()
}

struct Run {
    tracker: Tracker,
    report: Report,
    sources: usize,
    rng: XorShift,
    now: u64,
}

impl Run {
    fn new(n: usize) -> Self {
        let mut run = Self {
            tracker: tracker(n),
            report: Report::new(),
            sources: n,
            rng: XorShift(0x2545_f491_4f6c_dd1d),
            now: 1_000_000_000,
        };
        // Every source tracked before measuring, then the windows filled
        // to their steady state (one window length of random updates).
        for i in 0..n {
            let src = source(i as u32);
            run.update(src);
        }
        for _ in 0..10 * n {
            run.random_update();
        }
        assert!(
            run.tracker
                .bans()
                .list(Instant::from_nanos(run.now))
                .is_empty()
        );
        run
    }

    fn update(&mut self, source: SocketAddr) -> usize {
        self.now += 1_000_000; // 1 ms between packets
        self.update_at(source, self.now)
    }

    fn update_at(&mut self, source: SocketAddr, now: u64) -> usize {
        let p = Packet {
            source,
            transport: Transport::Udp,
            now: Instant::from_nanos(now),
            wall: UnixTime::from_millis(1_800_000_000_000 + now / 1_000_000),
        };
        // The daemon's hot path: one report reused for every packet.
        self.tracker.observe_into(
            &p,
            Seen::Credentials {
                extension: "1000",
                outcome: DigestOutcome::WrongPassword,
            },
            &mut self.report,
        );
        self.report.decisions.len() + self.report.events.len()
    }

    fn random_update(&mut self) -> usize {
        self.random_updates(1)
    }

    /// `iters` updates from random known sources, 1 ms apart. The
    /// generator and the clock are locals of the loop (in registers), not
    /// fields read back from memory on every update: each update's source
    /// would otherwise wait for a store the previous update made after its
    /// table work, i.e. for its cache miss (the same loop shape as the
    /// rate limiter's benchmark, `pbxsec-ratelimit/benches/ratelimit.rs`).
    fn random_updates(&mut self, iters: u64) -> usize {
        let (mut rng, mut now) = (XorShift(self.rng.0), self.now);
        let mut acc = 0;
        for _ in 0..iters {
            // Multiply-shift range reduction (no division in the loop).
            let i = ((u128::from(rng.next()) * self.sources as u128) >> 64) as u32;
            now += 1_000_000;
            acc += black_box(self.update_at(source(i), now));
        }
        (self.rng, self.now) = (rng, now);
        acc
    }

    /// About `iters` updates as [`random_updates`](Self::random_updates)
    /// makes them, fed [`BATCH`] at a time to `Tracker::observe_batch` (a
    /// front door receiving datagrams in batches).
    fn random_batches(&mut self, iters: u64, reports: &mut Vec<Report>) -> usize {
        let (mut rng, mut now) = (XorShift(self.rng.0), self.now);
        let mut acc = 0;
        let mut batch = Vec::with_capacity(BATCH);
        let mut done = 0;
        while done < iters {
            batch.clear();
            for _ in 0..BATCH {
                let i = ((u128::from(rng.next()) * self.sources as u128) >> 64) as u32;
                now += 1_000_000;
                batch.push((
                    Packet {
                        source: source(i),
                        transport: Transport::Udp,
                        now: Instant::from_nanos(now),
                        wall: UnixTime::from_millis(1_800_000_000_000 + now / 1_000_000),
                    },
                    Seen::Credentials {
                        extension: "1000",
                        outcome: DigestOutcome::WrongPassword,
                    },
                ));
            }
            self.tracker.observe_batch(&batch, reports);
            acc += reports
                .iter()
                .map(|r| r.decisions.len() + r.events.len())
                .sum::<usize>();
            done += BATCH as u64;
        }
        (self.rng, self.now) = (rng, now);
        black_box(acc)
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracker_update");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);

    let floor = chase_table(32 << 20); // 256 MiB of u64
    let mut p = 0u64;
    g.bench_function("floor_dependent_load_256MiB/wall", |b| {
        b.iter(|| {
            p = floor[p as usize];
            black_box(p)
        })
    });
    g.bench_function("floor_dependent_load_256MiB/cpu", |b| {
        b.iter_custom(|iters| {
            let t = ThreadTime::now();
            for _ in 0..iters {
                p = floor[p as usize];
            }
            black_box(p);
            t.elapsed()
        })
    });
    drop(floor);

    for (n, name) in [(1_000usize, "1k"), (1_000_000, "1M")] {
        let mut run = Run::new(n);
        g.bench_function(format!("{name}_sources/wall"), |b| {
            b.iter_custom(|iters| {
                let start = StdInstant::now();
                black_box(run.random_updates(iters));
                start.elapsed()
            })
        });
        g.bench_function(format!("{name}_sources/cpu"), |b| {
            b.iter_custom(|iters| {
                let t = ThreadTime::now();
                black_box(run.random_updates(iters));
                t.elapsed()
            })
        });
        let mut reports = Vec::new();
        g.bench_function(format!("{name}_sources_batch16_per_update/cpu"), |b| {
            b.iter_custom(|iters| {
                let t = ThreadTime::now();
                black_box(run.random_batches(iters, &mut reports));
                t.elapsed()
            })
        });
    }
    g.finish();
}

/// Blocks of each kind in [`interleaved`], and operations per block.
const BLOCKS: usize = 20;
const BLOCK_OPS: u64 = 200_000;

/// The 1M-source update (one at a time, and through `observe_batch`) and
/// the floor, measured in alternating blocks of [`BLOCK_OPS`] operations
/// (thread CPU time), [`BLOCKS`] of each: on a shared machine whose memory
/// latency drifts within seconds, criterion's figures for the two are
/// taken seconds apart, where each round of blocks here compares them
/// under the same conditions. Printed (not recorded by criterion): the
/// median time per operation of each kind, and the median, 10th and 90th
/// percentile of the rounds' ratios to the floor.
fn interleaved() {
    let mut run = Run::new(1_000_000);
    let floor = chase_table(32 << 20);
    let mut p = 0u64;
    let mut reports = Vec::new();
    let mut rounds: Vec<[f64; 3]> = Vec::with_capacity(BLOCKS);
    for _ in 0..BLOCKS {
        let per_op = |d: Duration| d.as_nanos() as f64 / BLOCK_OPS as f64;
        let t = ThreadTime::now();
        for _ in 0..BLOCK_OPS {
            p = floor[p as usize];
        }
        black_box(p);
        let f = per_op(t.elapsed());
        let t = ThreadTime::now();
        black_box(run.random_updates(BLOCK_OPS));
        let one = per_op(t.elapsed());
        let t = ThreadTime::now();
        black_box(run.random_batches(BLOCK_OPS, &mut reports));
        rounds.push([f, one, per_op(t.elapsed())]);
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: usize| v[(v.len() - 1) * q / 100];
        (at(50), at(10), at(90))
    };
    let col = |i: usize| rounds.iter().map(|r| r[i]).collect::<Vec<_>>();
    let ratio = |i: usize| rounds.iter().map(|r| r[i] / r[0]).collect::<Vec<_>>();
    println!(
        "tracker_interleaved/1M_sources: {BLOCKS} rounds of {BLOCK_OPS} operations each, cpu time per operation (median): floor {:.1} ns, observe_into {:.1} ns, observe_batch {:.1} ns",
        stats(col(0)).0,
        stats(col(1)).0,
        stats(col(2)).0
    );
    for (name, i) in [("observe_into", 1), ("observe_batch", 2)] {
        let (m, lo, hi) = stats(ratio(i));
        println!(
            "tracker_interleaved/1M_sources: {name} / floor, per round: median {m:.3}, p10 {lo:.3}, p90 {hi:.3}"
        );
    }
}

criterion_group!(benches, bench);

/// Criterion's groups, then [`interleaved`] when no filter was given or
/// the filter is part of `tracker_interleaved`.
fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    benches();
    if filter.is_none_or(|f| "tracker_interleaved".contains(f.as_str())) {
        interleaved();
    }
    Criterion::default().configure_from_args().final_summary();
}
