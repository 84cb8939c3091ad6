//! Entry and network parsing: every form a PBX UI shows, and the typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_acl::{Acl, Action, Entry, Error, Network, PortRange, Protocol};
use pbxsec_core::UnixTime;

fn net(s: &str) -> Network {
    s.parse().unwrap()
}

#[test]
fn every_written_form_parses() {
    let cases = [
        ("192.168.5.0/255.255.255.0", "192.168.5.0/24"),
        ("192.168.5.0/24", "192.168.5.0/24"),
        ("41.202.0.0/255.255.0.0", "41.202.0.0/16"),
        ("103.224.182.210", "103.224.182.210/32"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("fe80::1", "fe80::1/128"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("0.0.0.0/0.0.0.0", "0.0.0.0/0"),
        ("::/0", "::/0"),
        ("10.0.0.0/255.255.255.255", "10.0.0.0/32"),
        ("  10.0.0.0 / 8  ", "10.0.0.0/8"),
        ("2001:db8::/ffff:ffff::", "2001:db8::/32"),
        // IPv4-mapped IPv6 becomes the IPv4 network it carries.
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:10.1.2.3", "10.1.2.3/32"),
    ];
    for (input, shown) in cases {
        assert_eq!(net(input).to_string(), shown, "{input}");
    }
    assert_eq!(net("192.168.5.0/24").prefix_len(), 24);
    assert_eq!(net("192.168.5.0/24").netmask().to_string(), "255.255.255.0");
}

#[test]
fn bad_inputs_are_typed_errors_that_name_the_input() {
    let e = "10.0.0.0/255.0.255.0".parse::<Network>().unwrap_err();
    assert!(matches!(e, Error::NonContiguousMask { .. }), "{e:?}");
    assert!(e.to_string().contains("10.0.0.0/255.0.255.0"));

    let e = "10.0.0.0/33".parse::<Network>().unwrap_err();
    assert!(
        matches!(
            e,
            Error::PrefixTooLong {
                len: 33,
                max: 32,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("10.0.0.0/33"));

    let e = "2001:db8::/129".parse::<Network>().unwrap_err();
    assert!(
        matches!(
            e,
            Error::PrefixTooLong {
                len: 129,
                max: 128,
                ..
            }
        ),
        "{e:?}"
    );

    let e = "10.0.0.0/99999999999999".parse::<Network>().unwrap_err();
    assert!(matches!(e, Error::PrefixTooLong { len: 255, .. }), "{e:?}");

    for garbage in ["garbage", "10.0.0", "10.0.0.256/8", "/8", "10.0.0.0/8/8x"] {
        let e = garbage.parse::<Network>().unwrap_err();
        assert!(
            matches!(e, Error::InvalidAddress { .. } | Error::InvalidMask { .. }),
            "{garbage}: {e:?}"
        );
        assert!(
            e.to_string().contains(garbage.split('/').next().unwrap()),
            "{e}"
        );
    }
    assert_eq!("".parse::<Network>().unwrap_err(), Error::Empty);
    assert_eq!("   ".parse::<Network>().unwrap_err(), Error::Empty);
    // A mask of the other family is not a mask.
    assert!(matches!(
        "10.0.0.0/ffff::".parse::<Network>().unwrap_err(),
        Error::InvalidMask { .. }
    ));
    // Long garbage is cut in the message.
    let long = "x".repeat(10_000);
    assert!(long.parse::<Network>().unwrap_err().to_string().len() < 200);
}

#[test]
fn host_bits_under_the_mask_are_refused_with_the_meant_network() {
    let e = "192.168.5.7/24".parse::<Network>().unwrap_err();
    assert_eq!(
        e,
        Error::HostBitsSet {
            input: "192.168.5.7/24".into(),
            network: net("192.168.5.0/24"),
        }
    );
    assert!(e.to_string().contains("did you mean 192.168.5.0/24"));
    assert!("192.168.5.7/255.255.255.0".parse::<Network>().is_err());
    assert!("2001:db8::1/32".parse::<Network>().is_err());
    // The lenient constructor clears them instead.
    assert_eq!(
        Network::truncating("192.168.5.7".parse().unwrap(), 24),
        net("192.168.5.0/24")
    );
}

#[test]
fn port_ranges() {
    assert_eq!(
        "5060".parse::<PortRange>().unwrap(),
        PortRange::single(5060)
    );
    assert_eq!(
        "10000-20000".parse::<PortRange>().unwrap(),
        PortRange::new(10000, 20000).unwrap()
    );
    assert_eq!(PortRange::new(10000, 20000).unwrap().width(), 10001);
    for bad in ["", "x", "20000-10000", "70000", "1-2-3", "-5"] {
        assert!(
            matches!(
                bad.parse::<PortRange>(),
                Err(Error::InvalidPortRange { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn entries_and_tables_round_trip_through_serde() {
    let acl = Acl {
        entries: vec![
            Entry::block("41.202.0.0/255.255.0.0")
                .unwrap()
                .with_comment("range"),
            Entry::allow("103.224.182.210").unwrap(),
            Entry::block("203.0.113.9")
                .unwrap()
                .expiring(UnixTime::from_secs(1_800_000_000)),
            Entry::allow("198.51.100.0/24")
                .unwrap()
                .on_ports(Protocol::Udp, PortRange::new(5060, 5061).unwrap()),
        ],
        no_match: Action::Block,
        when_empty: Action::Allow,
    };
    let json = serde_json::to_string(&acl).unwrap();
    assert!(json.contains(r#""network":"41.202.0.0/16""#), "{json}");
    assert!(json.contains(r#""ports":"5060-5061""#), "{json}");
    assert!(json.contains(r#""protocol":"udp""#), "{json}");
    assert!(
        json.contains(r#""expires":"2027-01-15T08:00:00.000Z""#),
        "{json}"
    );
    let back: Acl = serde_json::from_str(&json).unwrap();
    assert_eq!(back, acl);

    // Config files may use any written form, and defaults are Vodia's.
    let cfg: Acl = serde_json::from_str(
        r#"{"entries":[{"network":"10.0.0.0/255.0.0.0","action":"allow","ports":5060}]}"#,
    )
    .unwrap();
    assert_eq!(cfg.entries[0].network, net("10.0.0.0/8"));
    assert_eq!(cfg.entries[0].ports, Some(PortRange::single(5060)));
    assert_eq!(cfg.no_match, Action::Allow);
    assert_eq!(cfg.when_empty, Action::Allow);

    // Invalid networks and unknown fields are load-time errors.
    assert!(
        serde_json::from_str::<Acl>(r#"{"entries":[{"network":"10.0.0.7/8","action":"allow"}]}"#)
            .is_err()
    );
    assert!(serde_json::from_str::<Acl>(r#"{"entries":[],"default":"allow"}"#).is_err());
    assert!(
        serde_json::from_str::<Entry>(r#"{"network":"10.0.0.0/8","action":"allow","x":1}"#)
            .is_err()
    );
}
