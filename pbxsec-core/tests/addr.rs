//! Canonical IP addresses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
use std::net::{IpAddr, SocketAddr};

use pbxsec_core::{canonical_ip, canonical_socket_addr};
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipv4_is_unchanged() {
    assert_eq!(canonical_ip(ip("203.0.113.7")), ip("203.0.113.7"));
    assert_eq!(canonical_ip(ip("0.0.0.0")), ip("0.0.0.0"));
}

#[test]
fn plain_ipv6_is_unchanged() {
    for s in ["2001:db8::1", "::1", "::", "fe80::1", "fc00::5"] {
        assert_eq!(canonical_ip(ip(s)), ip(s), "{s}");
    }
}

#[test]
fn ipv4_mapped_becomes_ipv4() {
    assert_eq!(canonical_ip(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
    assert_eq!(canonical_ip(ip("::ffff:0a01:0203")), ip("10.1.2.3"));
    assert_eq!(
        canonical_ip(ip("::ffff:255.255.255.255")),
        ip("255.255.255.255")
    );
}

#[test]
fn ipv4_compatible_stays_ipv6() {
    // Deprecated form; converting it would turn ::1 into 0.0.0.1.
    assert_eq!(canonical_ip(ip("::10.1.2.3")), ip("::10.1.2.3"));
    assert!(canonical_ip(ip("::10.1.2.3")).is_ipv6());
}

#[test]
fn nat64_stays_ipv6() {
    assert_eq!(
        canonical_ip(ip("64:ff9b::cb00:7107")),
        ip("64:ff9b::cb00:7107")
    );
}

#[test]
fn socket_addr_keeps_port() {
    let a: SocketAddr = "[::ffff:192.0.2.1]:5060".parse().unwrap();
    assert_eq!(canonical_socket_addr(a), "192.0.2.1:5060".parse().unwrap());
}

proptest! {
    /// Reference model: mapped iff the first 80 bits are 0 and the next 16 are 1.
    #[test]
    fn agrees_with_reference(bits in any::<u128>(), mapped in any::<bool>()) {
        let bits = if mapped { (bits & 0xffff_ffff) | 0xffff_0000_0000 } else { bits };
        let v6 = std::net::Ipv6Addr::from(bits);
        let expected = if bits >> 32 == 0xffff {
            IpAddr::V4(std::net::Ipv4Addr::from((bits & 0xffff_ffff) as u32))
        } else {
            IpAddr::V6(v6)
        };
        prop_assert_eq!(canonical_ip(IpAddr::V6(v6)), expected);
        // Idempotent.
        prop_assert_eq!(canonical_ip(expected), expected);
    }
}
