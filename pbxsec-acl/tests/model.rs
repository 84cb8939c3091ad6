//! Property tests: the compiled table against a brute-force reference that scans every entry.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

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
