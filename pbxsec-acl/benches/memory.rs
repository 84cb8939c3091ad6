//! Heap bytes per prefix of pbxsec-acl and the peers, measured with a
//! counting global allocator on the same random tables as the lookup bench.
//! Run: `cargo bench -p pbxsec-acl --bench memory`.
#![allow(missing_docs)] // criterion's macros generate undocumented pub fns
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failed run

mod common;

use std::alloc::System;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{v4_prefixes, v6_prefixes};
use ip_network::{Ipv4Network, Ipv6Network};
use ip_network_table::IpNetworkTable;
use ipnet::{Ipv4Net, Ipv6Net};
use iptrie::{Ipv4Prefix, Ipv4RTrieMap, Ipv6Prefix, Ipv6RTrieMap};
use pbxsec_acl::{Acl, Action, Entry, Network};
use pbxsec_core::UnixTime;
use prefix_trie::PrefixMap;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Net heap bytes held by what `build` returns (allocations minus frees
/// while building, the value kept alive).
fn held<T>(build: impl FnOnce() -> T) -> (usize, T) {
    let region = Region::new(GLOBAL);
    let value = build();
    let s = region.change();
    // stats_alloc already counts a realloc's growth in `bytes_allocated`
    // and its shrinking in `bytes_deallocated` (`bytes_reallocated` is the
    // same change again, so adding it would count it twice).
    let net = s.bytes_allocated as isize - s.bytes_deallocated as isize;
    (net.max(0) as usize, value)
}

fn report(name: &str, n: usize, bytes: usize) {
    println!(
        "{name:<40} {n:>7} prefixes {bytes:>11} B {:>8.1} B/prefix",
        bytes as f64 / n as f64
    );
}

fn main() {
    for n in [1_000usize, 100_000] {
        let p = v4_prefixes(n, 8, 32, 0xAC10 + n as u64);
        let acl = Acl {
            entries: p
                .iter()
                .map(|&(a, l, v)| {
                    let act = if v == 2 { Action::Block } else { Action::Allow };
                    Entry::new(Network::new(IpAddr::V4(Ipv4Addr::from(a)), l).unwrap(), act)
                })
                .collect(),
            no_match: Action::Allow,
            when_empty: Action::Allow,
        };
        let (all, t) = held(|| acl.compile(UnixTime::EPOCH).unwrap());
        report("v4 pbxsec-acl (with stored entries)", n, all);
        report(
            "v4 pbxsec-acl (lookup structures)",
            n,
            t.lookup_heap_bytes(),
        );
        drop(t);
        let (b, m) = held(|| {
            let mut m = PrefixMap::<Ipv4Net, u8>::new();
            for &(a, l, v) in &p {
                m.insert(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap(), v);
            }
            m
        });
        report("v4 prefix-trie", n, b);
        drop(m);
        let (b, m) = held(|| {
            let mut m = Ipv4RTrieMap::with_root(0u8);
            for &(a, l, v) in &p {
                m.insert(Ipv4Prefix::new(Ipv4Addr::from(a), l).unwrap(), v);
            }
            m.compress()
        });
        report("v4 iptrie LCTrieMap", n, b);
        drop(m);
        let (b, m) = held(|| {
            let mut t = IpNetworkTable::new();
            for &(a, l, v) in &p {
                t.insert(Ipv4Network::new(Ipv4Addr::from(a), l).unwrap(), v);
            }
            t
        });
        report("v4 ip_network_table", n, b);
        drop(m);
    }
    let n = 20_000;
    let p = v6_prefixes(n, 16, 64, 0x6);
    let acl = Acl {
        entries: p
            .iter()
            .map(|&(a, l, v)| {
                let act = if v == 2 { Action::Block } else { Action::Allow };
                Entry::new(Network::new(IpAddr::V6(Ipv6Addr::from(a)), l).unwrap(), act)
            })
            .collect(),
        no_match: Action::Allow,
        when_empty: Action::Allow,
    };
    let (all, t) = held(|| acl.compile(UnixTime::EPOCH).unwrap());
    report("v6 pbxsec-acl (with stored entries)", n, all);
    report(
        "v6 pbxsec-acl (lookup structures)",
        n,
        t.lookup_heap_bytes(),
    );
    drop(t);
    let (b, m) = held(|| {
        let mut m = PrefixMap::<Ipv6Net, u8>::new();
        for &(a, l, v) in &p {
            m.insert(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap(), v);
        }
        m
    });
    report("v6 prefix-trie", n, b);
    drop(m);
    let (b, m) = held(|| {
        let mut m = Ipv6RTrieMap::with_root(0u8);
        for &(a, l, v) in &p {
            m.insert(Ipv6Prefix::new(Ipv6Addr::from(a), l).unwrap(), v);
        }
        m.compress()
    });
    report("v6 iptrie LCTrieMap", n, b);
    drop(m);
    let (b, m) = held(|| {
        let mut t = IpNetworkTable::new();
        for &(a, l, v) in &p {
            t.insert(Ipv6Network::new(Ipv6Addr::from(a), l).unwrap(), v);
        }
        t
    });
    report("v6 ip_network_table", n, b);
    drop(m);
}
