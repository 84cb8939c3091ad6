//! Lookup and build speed: pbxsec-acl against prefix-trie, iptrie
//! (LCTrieMap), ip_network_table and a linear scan, on the same tables and
//! addresses. Run: `cargo bench -p pbxsec-acl --bench lookup`.
#![allow(missing_docs)] // criterion's macros generate undocumented pub fns
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

mod common;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{v4_lookups, v4_prefixes, v6_lookups, v6_prefixes};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ip_network::{Ipv4Network, Ipv6Network};
use ip_network_table::IpNetworkTable;
use ipnet::{Ipv4Net, Ipv6Net};
use iptrie::{Ipv4LCTrieMap, Ipv4Prefix, Ipv4RTrieMap, Ipv6LCTrieMap, Ipv6Prefix, Ipv6RTrieMap};
use pbxsec_acl::{Acl, Action, CompiledAcl, Entry, Network};
use pbxsec_core::UnixTime;
use prefix_trie::PrefixMap;

const LOOKUPS: usize = 1024;
const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

fn action(v: u8) -> Action {
    if v == 2 { Action::Block } else { Action::Allow }
}

fn ours_v4(p: &[(u32, u8, u8)]) -> CompiledAcl {
    let acl = Acl {
        entries: p
            .iter()
            .map(|&(a, l, v)| {
                Entry::new(
                    Network::new(IpAddr::V4(Ipv4Addr::from(a)), l).unwrap(),
                    action(v),
                )
            })
            .collect(),
        no_match: Action::Allow,
        when_empty: Action::Allow,
    };
    acl.compile(NOW).unwrap()
}

fn ours_v6(p: &[(u128, u8, u8)]) -> CompiledAcl {
    let acl = Acl {
        entries: p
            .iter()
            .map(|&(a, l, v)| {
                Entry::new(
                    Network::new(IpAddr::V6(Ipv6Addr::from(a)), l).unwrap(),
                    action(v),
                )
            })
            .collect(),
        no_match: Action::Allow,
        when_empty: Action::Allow,
    };
    acl.compile(NOW).unwrap()
}

fn pt_v4(p: &[(u32, u8, u8)]) -> PrefixMap<Ipv4Net, u8> {
    let mut m = PrefixMap::new();
    for &(a, l, v) in p {
        m.insert(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap(), v);
    }
    m
}

fn pt_v6(p: &[(u128, u8, u8)]) -> PrefixMap<Ipv6Net, u8> {
    let mut m = PrefixMap::new();
    for &(a, l, v) in p {
        m.insert(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap(), v);
    }
    m
}

fn lc_v4(p: &[(u32, u8, u8)]) -> Ipv4LCTrieMap<u8> {
    let mut m = Ipv4RTrieMap::with_root(0u8);
    for &(a, l, v) in p {
        m.insert(Ipv4Prefix::new(Ipv4Addr::from(a), l).unwrap(), v);
    }
    m.compress()
}

fn lc_v6(p: &[(u128, u8, u8)]) -> Ipv6LCTrieMap<u8> {
    let mut m = Ipv6RTrieMap::with_root(0u8);
    for &(a, l, v) in p {
        m.insert(Ipv6Prefix::new(Ipv6Addr::from(a), l).unwrap(), v);
    }
    m.compress()
}

fn nt_v4(p: &[(u32, u8, u8)]) -> IpNetworkTable<u8> {
    let mut t = IpNetworkTable::new();
    for &(a, l, v) in p {
        t.insert(Ipv4Network::new(Ipv4Addr::from(a), l).unwrap(), v);
    }
    t
}

fn nt_v6(p: &[(u128, u8, u8)]) -> IpNetworkTable<u8> {
    let mut t = IpNetworkTable::new();
    for &(a, l, v) in p {
        t.insert(Ipv6Network::new(Ipv6Addr::from(a), l).unwrap(), v);
    }
    t
}

/// Linear scan over (network, mask, len, value), keeping the longest match.
fn linear_v4(p: &[(u32, u8, u8)], a: u32) -> u8 {
    let mut best = (0u8, 0u8, false);
    for &(n, l, v) in p {
        let mask = if l == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(l))
        };
        if a & mask == n && (!best.2 || l > best.0) {
            best = (l, v, true);
        }
    }
    best.1
}

fn blocked(v: u8) -> u32 {
    u32::from(v == 2)
}

fn v4_group(c: &mut Criterion, name: &str, n: usize, linear: bool) {
    let p = v4_prefixes(n, 8, 32, 0xAC10 + n as u64);
    let addrs = v4_lookups(&p, LOOKUPS, 7);
    let ours = ours_v4(&p);
    let pt = pt_v4(&p);
    let lc = lc_v4(&p);
    let nt = nt_v4(&p);
    // Every structure must give the same answers before we time them.
    for &a in &addrs {
        let want = ours.check_v4(Ipv4Addr::from(a), NOW) == Action::Block;
        let ip = Ipv4Addr::from(a);
        assert_eq!(
            pt.get_lpm(&Ipv4Net::new(ip, 32).unwrap())
                .map_or(0, |(_, v)| blocked(*v)),
            u32::from(want)
        );
        assert_eq!(blocked(*lc.lookup(&ip).1), u32::from(want));
        assert_eq!(
            nt.longest_match_ipv4(ip).map_or(0, |(_, v)| blocked(*v)),
            u32::from(want)
        );
        if linear {
            assert_eq!(blocked(linear_v4(&p, a)), u32::from(want));
        }
    }
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    g.bench_function("pbxsec-acl", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                acc += u32::from(ours.check_v4(Ipv4Addr::from(a), NOW) == Action::Block);
            }
            acc
        })
    });
    g.bench_function("prefix-trie", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                let k = Ipv4Net::new(Ipv4Addr::from(a), 32).unwrap();
                acc += pt.get_lpm(&k).map_or(0, |(_, v)| blocked(*v));
            }
            acc
        })
    });
    g.bench_function("iptrie-LCTrieMap", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                acc += blocked(*lc.lookup(&Ipv4Addr::from(a)).1);
            }
            acc
        })
    });
    g.bench_function("ip_network_table", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                acc += nt
                    .longest_match_ipv4(Ipv4Addr::from(a))
                    .map_or(0, |(_, v)| blocked(*v));
            }
            acc
        })
    });
    if linear {
        g.bench_function("linear-scan", |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for &a in black_box(&addrs) {
                    acc += blocked(linear_v4(&p, a));
                }
                acc
            })
        });
    }
    g.finish();
}

fn v4_1k(c: &mut Criterion) {
    v4_group(c, "lookup_v4_1k", 1_000, true);
}

fn v4_100k(c: &mut Criterion) {
    v4_group(c, "lookup_v4_100k", 100_000, false);
}

fn v6_20k(c: &mut Criterion) {
    let p = v6_prefixes(20_000, 16, 64, 0x6);
    let addrs = v6_lookups(&p, LOOKUPS, 8);
    let ours = ours_v6(&p);
    let pt = pt_v6(&p);
    let lc = lc_v6(&p);
    let nt = nt_v6(&p);
    for &a in &addrs {
        let ip = Ipv6Addr::from(a);
        let want = u32::from(ours.check_v6(ip, NOW) == Action::Block);
        assert_eq!(
            pt.get_lpm(&Ipv6Net::new(ip, 128).unwrap())
                .map_or(0, |(_, v)| blocked(*v)),
            want
        );
        assert_eq!(blocked(*lc.lookup(&ip).1), want);
        assert_eq!(
            nt.longest_match_ipv6(ip).map_or(0, |(_, v)| blocked(*v)),
            want
        );
    }
    let mut g = c.benchmark_group("lookup_v6_20k");
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    g.bench_function("pbxsec-acl", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                acc += u32::from(ours.check_v6(Ipv6Addr::from(a), NOW) == Action::Block);
            }
            acc
        })
    });
    g.bench_function("prefix-trie", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                let k = Ipv6Net::new(Ipv6Addr::from(a), 128).unwrap();
                acc += pt.get_lpm(&k).map_or(0, |(_, v)| blocked(*v));
            }
            acc
        })
    });
    g.bench_function("iptrie-LCTrieMap", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                acc += blocked(*lc.lookup(&Ipv6Addr::from(a)).1);
            }
            acc
        })
    });
    g.bench_function("ip_network_table", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &a in black_box(&addrs) {
                acc += nt
                    .longest_match_ipv6(Ipv6Addr::from(a))
                    .map_or(0, |(_, v)| blocked(*v));
            }
            acc
        })
    });
    g.finish();
}

fn build_100k(c: &mut Criterion) {
    let p = v4_prefixes(100_000, 8, 32, 0xAC10 + 100_000);
    let acl = Acl {
        entries: p
            .iter()
            .map(|&(a, l, v)| {
                Entry::new(
                    Network::new(IpAddr::V4(Ipv4Addr::from(a)), l).unwrap(),
                    action(v),
                )
            })
            .collect(),
        no_match: Action::Allow,
        when_empty: Action::Allow,
    };
    let mut g = c.benchmark_group("build_v4_100k");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("pbxsec-acl", "from Acl"), |b| {
        b.iter(|| acl.compile(NOW).unwrap())
    });
    g.bench_function("prefix-trie", |b| b.iter(|| pt_v4(black_box(&p))));
    g.bench_function("iptrie-LCTrieMap", |b| b.iter(|| lc_v4(black_box(&p))));
    g.bench_function("ip_network_table", |b| b.iter(|| nt_v4(black_box(&p))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = v4_1k, v4_100k, v6_20k, build_100k
}
criterion_main!(benches);
