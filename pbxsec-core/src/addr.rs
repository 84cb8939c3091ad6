//! Canonical IP addresses.
//!
//! A dual-stack socket reports an IPv4 peer as the IPv4-mapped IPv6 address
//! `::ffff:a.b.c.d`. If one check judged that as IPv6 and another as IPv4, a
//! `Block 10.0.0.0/8` rule or a ban on `203.0.113.7` could be bypassed just by
//! connecting to the other socket. Every pbxsec crate therefore passes each
//! address through [`canonical_ip`] before judging, counting or banning it.
//!
//! What becomes IPv4, and what stays IPv6:
//!
//! | form | example | result |
//! |---|---|---|
//! | IPv4 | `203.0.113.7` | unchanged |
//! | IPv4-mapped IPv6 (RFC 4291 2.5.5.2) | `::ffff:203.0.113.7` | `203.0.113.7` |
//! | IPv4-compatible IPv6 (RFC 4291 2.5.5.1, deprecated) | `::203.0.113.7` | unchanged, judged as IPv6 |
//! | NAT64 well-known prefix (RFC 6052) | `64:ff9b::cb00:7107` | unchanged, judged as IPv6 |
//! | other IPv6 | `2001:db8::1` | unchanged |
//!
//! IPv4-compatible addresses are deprecated and no socket produces them, and
//! `::` and `::1` fall inside that range, so converting them would turn the
//! IPv6 loopback into `0.0.0.1`. A NAT64 address is a real IPv6 peer whose
//! packets came through a translator; the embedded IPv4 address is not the
//! sender's, so to rule on NAT64 peers write IPv6 entries for `64:ff9b::/96`.

use std::net::{IpAddr, SocketAddr};

/// The address as pbxsec judges it: IPv4-mapped IPv6 becomes IPv4.
///
/// ```
/// use std::net::IpAddr;
/// use pbxsec_core::canonical_ip;
///
/// let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
/// assert_eq!(canonical_ip(mapped), "10.1.2.3".parse::<IpAddr>().unwrap());
/// let loopback6: IpAddr = "::1".parse().unwrap();
/// assert_eq!(canonical_ip(loopback6), loopback6);
/// ```
#[inline]
pub const fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// [`canonical_ip`] applied to a socket address; the port is kept.
#[inline]
pub fn canonical_socket_addr(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}
