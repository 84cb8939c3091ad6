//! Table tests from the products' own examples and defaults.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::net::IpAddr;
use std::time::Duration;

use pbxsec_acl::{Acl, Action, CSV_HEADER, Entry, Error, Finding, PortRange, Protocol, SharedAcl};
use pbxsec_core::{Clock, ManualClock, Transport, UnixTime, Verdict};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const T0: UnixTime = UnixTime::from_secs(1_700_000_000);

#[test]
fn portsip_block_a_range_allow_one_host() {
    // PortSIP's example: block 41.202.0.0/255.255.0.0, allow 103.224.182.210.
    let mut acl = Acl::vodia();
    acl.insert(Entry::block("41.202.0.0/255.255.0.0").unwrap());
    acl.insert(Entry::allow("103.224.182.210").unwrap());
    let t = acl.compile(T0).unwrap();
    let cases = [
        ("41.202.0.1", Action::Block),
        ("41.202.255.255", Action::Block),
        ("::ffff:41.202.7.7", Action::Block),
        ("41.203.0.1", Action::Allow),
        ("103.224.182.210", Action::Allow),
        ("8.8.8.8", Action::Allow),
        ("2001:db8::1", Action::Allow),
    ];
    for (src, want) in cases {
        assert_eq!(t.check(ip(src), T0), want, "{src}");
    }
    assert_eq!(t.check(ip("41.202.0.1"), T0).verdict(), Verdict::Drop);
    assert_eq!(t.check(ip("8.8.8.8"), T0).verdict(), Verdict::Accept);
    // Under "Drop All" the same list lets only the ITSP host in.
    let mut strict = acl.clone();
    strict.no_match = Action::Block;
    let t = strict.compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Block);
    assert_eq!(t.check(ip("103.224.182.210"), T0), Action::Allow);
}

#[test]
fn local_network_only() {
    let t = Acl::local_network_only().compile(T0).unwrap();
    let allowed = [
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.10",
        "169.254.3.4",
        "127.0.0.1",
        "::1",
        "fd12:3456::1",
        "fc00::1",
        "fe80::1",
        "::ffff:192.168.1.10",
    ];
    for src in allowed {
        assert_eq!(t.check(ip(src), T0), Action::Allow, "{src}");
    }
    let blocked = [
        "172.32.0.1",
        "172.15.255.255",
        "192.169.0.1",
        "8.8.8.8",
        "11.0.0.1",
        "2001:db8::1",
        "fec0::1",
        "::2",
        "::ffff:8.8.8.8",
    ];
    for src in blocked {
        assert_eq!(t.check(ip(src), T0), Action::Block, "{src}");
    }
}

#[test]
fn mapped_ipv6_cannot_bypass_an_ipv4_block() {
    let mut acl = Acl::vodia();
    acl.insert(Entry::block("10.0.0.0/8").unwrap());
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("::ffff:10.1.2.3"), T0), Action::Block);
    assert_eq!(
        t.check_v6("::ffff:10.1.2.3".parse().unwrap(), T0),
        Action::Block
    );
    assert_eq!(
        t.check_port(ip("::ffff:10.1.2.3"), Protocol::Udp, 5060, T0),
        Action::Block
    );
    // IPv4-compatible and NAT64 addresses stay IPv6 (see pbxsec_core::canonical_ip).
    assert_eq!(t.check(ip("::10.1.2.3"), T0), Action::Allow);
    assert_eq!(t.check(ip("64:ff9b::a01:203"), T0), Action::Allow);
}

#[test]
fn expired_entries_stop_matching_at_their_expiry() {
    let clock = ManualClock::new(T0);
    let mut acl = Acl::vodia();
    acl.insert(Entry::allow("10.0.0.0/8").unwrap());
    // An automatic entry: block one host for ten minutes.
    let until = clock.wall().saturating_add(Duration::from_secs(600));
    acl.insert(Entry::block("10.9.9.9").unwrap().expiring(until));
    let shared = SharedAcl::new(acl.compile(clock.wall()).unwrap());
    assert_eq!(shared.check(ip("10.9.9.9"), clock.wall()), Action::Block);
    clock.advance(Duration::from_secs(599));
    assert_eq!(shared.check(ip("10.9.9.9"), clock.wall()), Action::Block);
    clock.advance(Duration::from_secs(1));
    // Exactly at the expiry it stops matching, before any rebuild.
    assert_eq!(shared.check(ip("10.9.9.9"), clock.wall()), Action::Allow);
    assert!(shared.refresh(clock.wall()).unwrap());
    assert!(!shared.refresh(clock.wall()).unwrap());
    assert_eq!(shared.check(ip("10.9.9.9"), clock.wall()), Action::Allow);
    assert_eq!(shared.snapshot().entries().len(), 1);
    // Entries already expired at compile time are left out.
    let t = acl.compile(clock.wall()).unwrap();
    assert_eq!(t.entries().len(), 1);
    // TryFrom keeps them all and still judges the expiry exactly.
    let t = pbxsec_acl::CompiledAcl::try_from(&acl).unwrap();
    assert_eq!(t.entries().len(), 2);
    assert_eq!(t.check(ip("10.9.9.9"), clock.wall()), Action::Allow);
    assert_eq!(t.check(ip("10.9.9.9"), T0), Action::Block);
}

#[test]
fn empty_list_meanings() {
    // Vodia: empty means off.
    let t = Acl::vodia().compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Allow);
    // Yeastar S-Series AMI permitted IPs: empty denies everyone.
    let t = Acl::permit_list().compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Block);
    assert_eq!(t.check(ip("127.0.0.1"), T0), Action::Block);
    // Configurable independently: empty off, but no match blocks.
    let mut acl = Acl::vodia();
    acl.no_match = Action::Block;
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Allow);
    acl.insert(Entry::allow("192.168.0.0/16").unwrap());
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Block);
    // A list whose only entry expired is empty again.
    let mut acl = Acl::vodia();
    acl.no_match = Action::Block;
    acl.insert(
        Entry::allow("192.168.0.0/16")
            .unwrap()
            .expiring(UnixTime::from_secs(1_700_000_010)),
    );
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Block);
    assert_eq!(
        t.check(ip("8.8.8.8"), UnixTime::from_secs(1_700_000_010)),
        Action::Allow
    );
}

#[test]
fn mypbx_drop_all_with_firewall_rules() {
    // MyPBX firewall: accept SIP over UDP from the ITSP, accept the LAN, drop all else.
    let mut acl = Acl::mypbx_drop_all();
    acl.insert(
        Entry::allow("203.0.113.0/24")
            .unwrap()
            .on_ports(Protocol::Udp, PortRange::new(5060, 5061).unwrap()),
    );
    acl.insert(Entry::allow("192.168.1.0/24").unwrap());
    let t = acl.compile(T0).unwrap();
    assert_eq!(
        t.check_port(ip("203.0.113.5"), Protocol::Udp, 5060, T0),
        Action::Allow
    );
    assert_eq!(
        t.check_port(ip("203.0.113.5"), Transport::Udp.into(), 5061, T0),
        Action::Allow
    );
    assert_eq!(
        t.check_port(ip("203.0.113.5"), Protocol::Tcp, 5060, T0),
        Action::Block
    );
    assert_eq!(
        t.check_port(ip("203.0.113.5"), Transport::Tls.into(), 5061, T0),
        Action::Block
    );
    assert_eq!(
        t.check_port(ip("203.0.113.5"), Protocol::Udp, 80, T0),
        Action::Block
    );
    // Without a port only unrestricted entries apply.
    assert_eq!(t.check(ip("203.0.113.5"), T0), Action::Block);
    assert_eq!(
        t.check_port(ip("192.168.1.9"), Protocol::Tcp, 22, T0),
        Action::Allow
    );
    assert_eq!(
        t.check_port(ip("8.8.8.8"), Protocol::Udp, 5060, T0),
        Action::Block
    );
}

#[test]
fn narrower_port_range_wins_and_a_tie_blocks() {
    let mut acl = Acl::vodia();
    acl.insert(Entry::block("198.51.100.0/24").unwrap());
    acl.insert(
        Entry::allow("198.51.100.0/24")
            .unwrap()
            .on_ports(Protocol::Both, PortRange::new(5060, 5080).unwrap()),
    );
    acl.insert(
        Entry::block("198.51.100.0/24")
            .unwrap()
            .on_ports(Protocol::Udp, PortRange::single(5070)),
    );
    // Same width as the previous one, other protocol: a tie for UDP-or-TCP checks only.
    acl.insert(
        Entry::allow("198.51.100.0/24")
            .unwrap()
            .on_ports(Protocol::Both, PortRange::single(5075)),
    );
    acl.insert(
        Entry::block("198.51.100.0/24")
            .unwrap()
            .on_ports(Protocol::Tcp, PortRange::single(5075)),
    );
    let t = acl.compile(T0).unwrap();
    let src = ip("198.51.100.7");
    assert_eq!(t.check(src, T0), Action::Block);
    assert_eq!(t.check_port(src, Protocol::Udp, 5060, T0), Action::Allow);
    assert_eq!(t.check_port(src, Protocol::Udp, 5070, T0), Action::Block);
    assert_eq!(t.check_port(src, Protocol::Tcp, 5070, T0), Action::Allow);
    assert_eq!(t.check_port(src, Protocol::Udp, 5075, T0), Action::Allow);
    assert_eq!(t.check_port(src, Protocol::Tcp, 5075, T0), Action::Block);
    assert_eq!(t.check_port(src, Protocol::Tcp, 443, T0), Action::Block);
    // A longer prefix beats a narrower port range.
    acl.insert(Entry::allow("198.51.100.7").unwrap());
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check_port(src, Protocol::Udp, 5070, T0), Action::Allow);
    assert_eq!(
        t.matching_entry(src, Some((Protocol::Udp, 5070)), T0)
            .unwrap()
            .network,
        "198.51.100.7".parse().unwrap()
    );
}

#[test]
fn exact_duplicates_with_opposite_actions_block() {
    let mut acl = Acl::vodia();
    acl.entries.push(Entry::allow("10.0.0.0/8").unwrap());
    acl.entries.push(Entry::block("10.0.0.0/8").unwrap());
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("10.1.1.1"), T0), Action::Block);
    assert_eq!(
        acl.lint(),
        vec![Finding::ConflictingDuplicate {
            first: 0,
            second: 1
        }]
    );
}

#[test]
fn seeds_worked_scenario() {
    // Whole LAN allowed, one home worker and the ITSP's range allowed, everything else blocked.
    let mut acl = Acl::permit_list();
    acl.insert(
        Entry::allow("192.168.1.0/24")
            .unwrap()
            .with_comment("office LAN"),
    );
    acl.insert(
        Entry::allow("198.51.100.23")
            .unwrap()
            .with_comment("home worker"),
    );
    acl.insert(Entry::allow("203.0.113.0/28").unwrap().with_comment("ITSP"));
    let t = acl.compile(T0).unwrap();
    for (src, want) in [
        ("192.168.1.50", Action::Allow),
        ("198.51.100.23", Action::Allow),
        ("198.51.100.24", Action::Block),
        ("203.0.113.14", Action::Allow),
        ("203.0.113.16", Action::Block),
        ("45.9.148.1", Action::Block),
    ] {
        assert_eq!(t.check(ip(src), T0), want, "{src}");
    }
}

#[test]
fn yeastar_p_series_defaults_accept_the_local_network_and_what_no_rule_drops() {
    let mut acl = Acl::yeastar_p_series_defaults();
    assert_eq!(acl.entries.len(), 4);
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("172.20.1.1"), T0), Action::Allow);
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Allow);
    acl.insert(Entry::block("8.8.8.0/24").unwrap());
    let t = acl.compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Block);
    let t = Acl::allow_all().compile(T0).unwrap();
    assert_eq!(t.check(ip("8.8.8.8"), T0), Action::Allow);
    assert_eq!(t.check(ip("2001:db8::1"), T0), Action::Allow);
}

#[test]
fn vodia_csv_import_export() {
    let mut acl = Acl::vodia();
    acl.insert(Entry::allow("10.0.0.0/8").unwrap().with_comment("old"));
    let n = acl
        .import_csv(&format!(
            "{CSV_HEADER}\r\n41.202.0.0;16;disabled;block; with semicolon\r\n\
             103.224.182.210;32;Enabled;ITSP\n\n2001:db8::;32;enabled;\n10.0.0.0;255.0.0.0;disabled;new\n"
        ))
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(acl.entries.len(), 4);
    // Overwritten in place, never deleted.
    assert_eq!(acl.entries[0].action, Action::Block);
    assert_eq!(acl.entries[0].comment, "new");
    assert_eq!(acl.entries[1].comment, "block; with semicolon");
    let csv = acl.to_csv();
    assert_eq!(
        csv,
        "Address;Netmask;status;comment\n10.0.0.0;8;disabled;new\n41.202.0.0;16;disabled;block; with semicolon\n\
         103.224.182.210;32;enabled;ITSP\n2001:db8::;32;enabled;\n"
    );
    assert_eq!(Acl::from_csv(&csv).unwrap(), acl);

    // Expiring and port-restricted entries are not exported.
    acl.insert(Entry::block("1.2.3.4").unwrap().expiring(T0));
    acl.insert(Entry::allow("1.2.3.5").unwrap().on_protocol(Protocol::Udp));
    assert_eq!(acl.to_csv(), csv);
}

#[test]
fn csv_errors_name_the_line_and_import_nothing() {
    let mut acl = Acl::vodia();
    acl.insert(Entry::allow("10.0.0.0/8").unwrap());
    let before = acl.clone();
    type Check = fn(&Error) -> bool;
    let cases: [(&str, Check); 5] = [
        ("1.1.1.0;24;enabled;a\n2.2.2.0;24;maybe;b\n", |e| {
            matches!(e, Error::CsvStatus { line: 2, .. })
        }),
        ("1.1.1.0;24;enabled;a\n\n2.2.2.0;24\n", |e| {
            matches!(e, Error::CsvFields { line: 3, fields: 2 })
        }),
        ("1.1.1.7;24;enabled;a\n", |e| {
            matches!(e, Error::CsvNetwork { line: 1, .. })
        }),
        ("1.1.1.0;33;enabled;a\n", |e| {
            matches!(e, Error::CsvNetwork { line: 1, .. })
        }),
        ("1.1.1.0;255.0.255.0;enabled;a\n", |e| {
            matches!(e, Error::CsvNetwork { line: 1, .. })
        }),
    ];
    for (text, check) in cases {
        let e = acl.import_csv(text).unwrap_err();
        assert!(check(&e), "{text:?}: {e:?}");
        assert!(e.to_string().starts_with("line "), "{e}");
        assert_eq!(acl, before);
    }
}

#[test]
fn lint_reports_what_first_match_would_decide_differently() {
    let mut acl = Acl::vodia();
    acl.entries.push(Entry::block("10.0.0.0/8").unwrap()); // 0
    acl.entries.push(Entry::allow("10.1.0.0/16").unwrap()); // 1: overrides 0
    acl.entries.push(Entry::allow("10.1.2.0/24").unwrap()); // 2: same action as 1, overrides 0
    acl.entries.push(Entry::allow("10.1.0.0/16").unwrap()); // 3: duplicate of 1
    acl.entries.push(
        Entry::block("10.1.0.0/16")
            .unwrap()
            .on_ports(Protocol::Udp, PortRange::single(5060)),
    ); // 4: overrides 1 for its port
    let findings = acl.lint();
    for f in [
        Finding::Shadows {
            specific: 1,
            broader: 0,
        },
        Finding::Shadows {
            specific: 2,
            broader: 0,
        },
        Finding::Duplicate {
            first: 1,
            second: 3,
        },
        Finding::Shadows {
            specific: 4,
            broader: 1,
        },
    ] {
        assert!(findings.contains(&f), "{f:?} missing in {findings:?}");
    }
    assert!(!findings.contains(&Finding::Shadows {
        specific: 2,
        broader: 1
    }));
    assert_eq!(findings.len(), 5, "{findings:?}"); // 3 also overrides 0
    assert!(Acl::local_network_only().lint().is_empty());
}

#[test]
fn shared_acl_swaps_atomically() {
    let shared = SharedAcl::new(Acl::vodia().compile(T0).unwrap());
    assert_eq!(shared.check(ip("8.8.8.8"), T0), Action::Allow);
    let old = shared.snapshot();
    let mut acl = Acl::vodia();
    acl.insert(Entry::block("8.8.8.8").unwrap());
    shared.store(acl.compile(T0).unwrap());
    assert_eq!(shared.check(ip("8.8.8.8"), T0), Action::Block);
    // A reader holding the old snapshot keeps it.
    assert_eq!(old.check(ip("8.8.8.8"), T0), Action::Allow);
    assert_eq!(shared.with(|t| t.to_acl()), acl);
    // Readers on other threads see one table or the other, never a mix.
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            for _ in 0..10_000 {
                let a = shared.check(ip("8.8.8.8"), T0);
                let b = shared.check(ip("8.8.4.4"), T0);
                assert_eq!(b, Action::Allow);
                assert!(matches!(a, Action::Allow | Action::Block));
            }
        });
        for i in 0..100 {
            let acl = if i % 2 == 0 {
                Acl::vodia()
            } else {
                acl.clone()
            };
            shared.store(acl.compile(T0).unwrap());
        }
        reader.join().unwrap();
    });
}
