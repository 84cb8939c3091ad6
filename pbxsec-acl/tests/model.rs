//! Property tests: the compiled table against a brute-force reference that scans every entry.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pbxsec_acl::{Acl, Action, CompiledAcl, Entry, Network, PortRange, Protocol, SharedAcl};
use pbxsec_core::{UnixTime, canonical_ip};
use proptest::prelude::*;

/// The rule, written the obvious way: scan every entry.
fn reference(acl: &Acl, ip: IpAddr, port: Option<(Protocol, u16)>, now: UnixTime) -> Action {
    let ip = canonical_ip(ip);
    let live: Vec<&Entry> = acl.entries.iter().filter(|e| e.is_live(now)).collect();
    if live.is_empty() {
        return acl.when_empty;
    }
    let matching: Vec<&&Entry> = live
        .iter()
        .filter(|e| e.network.contains(ip) && e.applies_to(port))
        .collect();
    let Some(best) = matching
        .iter()
        .map(|e| (e.network.prefix_len(), std::cmp::Reverse(e.port_width())))
        .max()
    else {
        return acl.no_match;
    };
    let tied = matching
        .iter()
        .filter(|e| (e.network.prefix_len(), std::cmp::Reverse(e.port_width())) == best);
    if tied.clone().any(|e| e.action == Action::Block) {
        Action::Block
    } else {
        Action::Allow
    }
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![Just(Action::Allow), Just(Action::Block)]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Udp),
        Just(Protocol::Tcp),
        Just(Protocol::Both)
    ]
}

/// IPv4 addresses from a small space, so entries overlap and nest.
fn v4_addr() -> impl Strategy<Value = u32> {
    (
        prop_oneof![Just(10u32), Just(11), Just(192)],
        0u32..4,
        0u32..4,
        any::<u8>(),
    )
        .prop_map(|(top, a, b, low)| (top << 24) | (a << 22) | (b << 8) | u32::from(low))
}

/// IPv6 addresses from a small space.
fn v6_addr() -> impl Strategy<Value = u128> {
    (
        prop_oneof![Just(0x2001u128), Just(0xfe80)],
        0u128..4,
        0u128..4,
        any::<u8>(),
    )
        .prop_map(|(top, a, b, low)| (top << 112) | (a << 100) | (b << 40) | u128::from(low))
}

fn network() -> impl Strategy<Value = Network> {
    prop_oneof![
        (v4_addr(), 0u8..=32)
            .prop_map(|(a, l)| Network::truncating(IpAddr::V4(Ipv4Addr::from(a)), l)),
        (v6_addr(), 0u8..=128)
            .prop_map(|(a, l)| Network::truncating(IpAddr::V6(Ipv6Addr::from(a)), l)),
    ]
}

fn ports() -> impl Strategy<Value = Option<PortRange>> {
    prop_oneof![
        3 => Just(None),
        1 => (5058u16..5064, 0u16..4).prop_map(|(s, w)| PortRange::new(s, s + w)),
        1 => Just(Some(PortRange::ALL)),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        network(),
        action(),
        prop_oneof![3 => Just(None), 1 => (1000u64..1010).prop_map(|t| Some(UnixTime::from_secs(t)))],
        prop_oneof![3 => Just(Protocol::Both), 1 => protocol()],
        ports(),
    )
        .prop_map(|(network, action, expires, protocol, ports)| Entry {
            network,
            action,
            comment: String::new(),
            expires,
            protocol,
            ports,
        })
}

fn acl() -> impl Strategy<Value = Acl> {
    (prop::collection::vec(entry(), 0..40), action(), action()).prop_map(
        |(entries, no_match, when_empty)| Acl {
            entries,
            no_match,
            when_empty,
        },
    )
}

fn source() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4_addr().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        v4_addr().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
        v6_addr().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn port() -> impl Strategy<Value = (Protocol, u16)> {
    (protocol(), 5056u16..5070)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_reference(
        acl in acl(),
        sources in prop::collection::vec((source(), port()), 1..40),
        later in 0u64..14,
    ) {
        let built = UnixTime::from_secs(1000);
        let table = acl.compile(built).unwrap();
        for now in [built, UnixTime::from_secs(1000 + later)] {
            for &(ip, (proto, p)) in &sources {
                prop_assert_eq!(table.check(ip, now), reference(&acl, ip, None, now), "check {} at {:?}", ip, now);
                prop_assert_eq!(
                    table.check_port(ip, proto, p, now),
                    reference(&acl, ip, Some((proto, p)), now),
                    "check_port {} {:?} {} at {:?}", ip, proto, p, now
                );
                let decided = table.matching_entry(ip, Some((proto, p)), now);
                if let Some(e) = decided {
                    prop_assert!(e.network.contains(ip));
                    prop_assert_eq!(e.action, reference(&acl, ip, Some((proto, p)), now));
                }
                match ip {
                    IpAddr::V4(a) => prop_assert_eq!(table.check_v4(a, now), table.check(ip, now)),
                    IpAddr::V6(a) => prop_assert_eq!(table.check_v6(a, now), table.check(ip, now)),
                }
            }
        }
        // After a refresh past the expiries the fast path gives the same answers.
        let now = UnixTime::from_secs(1000 + later);
        let shared = SharedAcl::new(table);
        shared.refresh(now).unwrap();
        for &(ip, (proto, p)) in &sources {
            prop_assert_eq!(shared.check(ip, now), reference(&acl, ip, None, now));
            prop_assert_eq!(shared.check_port(ip, proto, p, now), reference(&acl, ip, Some((proto, p)), now));
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 80, ..ProptestConfig::default() })]

    /// Sparse random prefixes over the whole address space (lengths 0–32),
    /// looked up at, just inside and just outside each prefix.
    #[test]
    fn trie_matches_reference_on_sparse_tables(
        prefixes in prop::collection::vec((any::<u32>(), 0u8..=32, action()), 0..300),
        probes in prop::collection::vec(any::<u32>(), 0..100),
    ) {
        let mut acl = Acl::vodia();
        acl.no_match = Action::Block;
        acl.extend_overwriting(prefixes.iter().map(|&(a, l, act)| {
            Entry::new(Network::truncating(IpAddr::V4(Ipv4Addr::from(a)), l), act)
        }));
        let table = CompiledAcl::new(&acl, UnixTime::EPOCH).unwrap();
        let mut addrs: Vec<u32> = probes;
        for &(a, l, _) in &prefixes {
            let n = Network::truncating(IpAddr::V4(Ipv4Addr::from(a)), l);
            let IpAddr::V4(base) = n.addr() else { unreachable!() };
            let base = u32::from(base);
            let size = if l == 0 { u32::MAX } else { (1u32 << (32 - u32::from(l))).wrapping_sub(1) };
            addrs.extend([base, base.wrapping_add(size), base.wrapping_sub(1), base.wrapping_add(size).wrapping_add(1), a]);
        }
        for a in addrs {
            let ip = IpAddr::V4(Ipv4Addr::from(a));
            prop_assert_eq!(table.check(ip, UnixTime::EPOCH), reference(&acl, ip, None, UnixTime::EPOCH), "{}", ip);
        }
    }

    /// The same over IPv6 (lengths 0–128).
    #[test]
    fn trie_matches_reference_on_sparse_v6_tables(
        prefixes in prop::collection::vec((any::<u128>(), 0u8..=128, action()), 0..200),
        probes in prop::collection::vec(any::<u128>(), 0..50),
    ) {
        let mut acl = Acl::permit_list();
        acl.extend_overwriting(prefixes.iter().map(|&(a, l, act)| {
            Entry::new(Network::truncating(IpAddr::V6(Ipv6Addr::from(a)), l), act)
        }));
        let table = CompiledAcl::new(&acl, UnixTime::EPOCH).unwrap();
        let mut addrs: Vec<u128> = probes;
        for &(a, l, _) in &prefixes {
            let host = if l == 128 { 0 } else { u128::MAX >> u32::from(l) };
            let base = a & !host;
            addrs.extend([base, base | host, base.wrapping_sub(1), (base | host).wrapping_add(1), a]);
        }
        for a in addrs {
            let ip = IpAddr::V6(Ipv6Addr::from(a));
            prop_assert_eq!(table.check(ip, UnixTime::EPOCH), reference(&acl, ip, None, UnixTime::EPOCH), "{}", ip);
        }
    }

    /// Parsing what `Display` writes gives the same network back.
    #[test]
    fn network_display_round_trips(n in network()) {
        prop_assert_eq!(n.to_string().parse::<Network>().unwrap(), n);
        // And the dotted-mask form for IPv4.
        if n.is_ipv4() {
            let dotted = format!("{}/{}", n.addr(), n.netmask());
            prop_assert_eq!(dotted.parse::<Network>().unwrap(), n);
        }
    }

    /// CSV export then import gives the same entries back.
    #[test]
    fn csv_round_trips(entries in prop::collection::vec((network(), action(), "[ -~]{0,12}"), 0..30)) {
        let mut acl = Acl::vodia();
        acl.extend_overwriting(entries.into_iter().map(|(n, a, c)| Entry::new(n, a).with_comment(c)));
        let back = Acl::from_csv(&acl.to_csv()).unwrap();
        prop_assert_eq!(back, acl);
    }
}

/// Longest-prefix match with one hash lookup per length: the reference for
/// tables too large to scan for every probe (unrestricted entries, one per
/// network).
fn lpm_reference(live: &HashMap<(u32, u8), Action>, a: u32, no_match: Action) -> Action {
    (0..=32u8)
        .rev()
        .find_map(|len| {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            live.get(&(a & mask, len)).copied()
        })
        .unwrap_or(no_match)
}

/// SplitMix64, for large deterministic tables from one proptest seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Tables from a handful to 5000 IPv4 networks, so both layouts of the
    /// IPv4 trie (one bucket per slot up to 4096 networks, a direct table
    /// with shared buckets and nodes above) and the switch between them are
    /// exercised, plus a cluster of nested and neighbouring prefixes in one
    /// /12 that fills slots past a bucket's capacity (those take nodes).
    /// Some entries expire, so the exact slow path is checked on both
    /// layouts too; mapped IPv6 sources must be judged as IPv4.
    #[test]
    fn ipv4_layouts_match_reference(
        n in prop_oneof![0usize..60, 4060usize..4130, 4130usize..5000],
        cluster in prop_oneof![0usize..12, 12usize..300],
        cluster_at in any::<u32>(),
        seed in any::<u64>(),
        probes in prop::collection::vec(any::<u32>(), 100),
    ) {
        let mut rng = seed;
        let mut nets: Vec<(u32, u8)> = Vec::new();
        for _ in 0..n {
            let r = splitmix(&mut rng);
            let len = 8 + (r % 25) as u8;
            nets.push(((r >> 32) as u32 & (u32::MAX << (32 - u32::from(len))), len));
        }
        for _ in 0..cluster {
            let r = splitmix(&mut rng);
            let len = 13 + (r % 20) as u8;
            let a = (cluster_at & 0xfff0_0000) | ((r >> 32) as u32 & 0x000f_ffff);
            nets.push((a & (u32::MAX << (32 - u32::from(len))), len));
        }
        let built = UnixTime::from_secs(1000);
        let expiry = UnixTime::from_secs(1005);
        let mut acl = Acl::vodia();
        acl.no_match = Action::Block;
        let mut entries: HashMap<(u32, u8), (Action, bool)> = HashMap::new();
        let mut list = Vec::new();
        for (i, &(a, len)) in nets.iter().enumerate() {
            let act = if splitmix(&mut rng) & 1 == 0 { Action::Allow } else { Action::Block };
            let expires = i % 7 == 3;
            let mut e = Entry::new(Network::new(IpAddr::V4(Ipv4Addr::from(a)), len).unwrap(), act);
            if expires {
                e.expires = Some(expiry);
            }
            list.push(e);
            entries.insert((a, len), (act, expires));
        }
        acl.extend_overwriting(list);
        let table = acl.compile(built).unwrap();
        let mut addrs = probes;
        for &(a, len) in nets.iter().step_by(3) {
            let last = a | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            addrs.extend([a, last, a.wrapping_sub(1), last.wrapping_add(1), a | (last >> 1 & !a)]);
        }
        for now in [built, UnixTime::from_secs(1010)] {
            let live: HashMap<(u32, u8), Action> = entries
                .iter()
                .filter(|(_, (_, expires))| now < expiry || !expires)
                .map(|(&k, &(act, _))| (k, act))
                .collect();
            let none = if live.is_empty() { acl.when_empty } else { acl.no_match };
            for &a in &addrs {
                let want = lpm_reference(&live, a, none);
                let ip = Ipv4Addr::from(a);
                prop_assert_eq!(table.check_v4(ip, now), want, "{} at {:?}", ip, now);
                prop_assert_eq!(table.check(IpAddr::V6(ip.to_ipv6_mapped()), now), want, "mapped {}", ip);
            }
        }
    }
}
