//! Networks (address + prefix length) and the forms PBX UIs write them in.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use pbxsec_core::canonical_ip;

use crate::error::excerpt;
use crate::{Error, Result};

/// An IPv4 or IPv6 network: an address with every bit below the prefix
/// length clear, and the prefix length.
///
/// Parsed from every form a PBX UI or config shows:
///
/// | written | meaning |
/// |---|---|
/// | `192.168.5.0/255.255.255.0` | dotted netmask (must be contiguous) |
/// | `192.168.5.0/24` | prefix length |
/// | `103.224.182.210` | one host (`/32`) |
/// | `2001:db8::/32` | IPv6 prefix |
/// | `fe80::1` | one IPv6 host (`/128`) |
/// | `2001:db8::/ffff:ffff::` | IPv6 netmask (rare, accepted) |
///
/// Surrounding whitespace is ignored. **Host bits set under the mask
/// (`192.168.5.7/24`) are refused** with [`Error::HostBitsSet`], which names
/// the network the operator probably meant (`192.168.5.0/24`): an ACL entry
/// is a security rule, and silently widening `192.168.5.7/24` to the whole
/// subnet could allow more than the operator meant (or block more). An
/// IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) becomes the IPv4 network
/// it carries (`10.0.0.0/8`), because sources are judged as IPv4 too (see
/// [`pbxsec_core::canonical_ip`]).
///
/// `Display` writes `address/length` (`192.168.5.0/24`), which parses back
/// to the same value; serde uses that string and accepts every form above.
///
/// ```
/// use pbxsec_acl::Network;
///
/// let n: Network = "192.168.5.0/255.255.255.0".parse()?;
/// assert_eq!(n.to_string(), "192.168.5.0/24");
/// assert!(n.contains("192.168.5.77".parse().unwrap()));
/// assert!("192.168.5.7/24".parse::<Network>().is_err()); // host bits: refused
/// assert!("10.0.0.0/255.0.255.0".parse::<Network>().is_err()); // not contiguous
/// # Ok::<(), pbxsec_acl::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Network {
    addr: IpAddr,
    len: u8,
}

impl Network {
    /// The network `addr/len`. Fails if `len` is over 32 (IPv4) or 128
    /// (IPv6) or if host bits are set; an IPv4-mapped IPv6 network with a
    /// length of at least 96 becomes IPv4.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self> {
        Self::checked(addr, len, || format!("{addr}/{len}"))
    }

    /// The network that holds one host (`/32` or `/128`), canonical.
    pub fn host(addr: IpAddr) -> Self {
        match canonical_ip(addr) {
            IpAddr::V4(a) => Self {
                addr: IpAddr::V4(a),
                len: 32,
            },
            IpAddr::V6(a) => Self {
                addr: IpAddr::V6(a),
                len: 128,
            },
        }
    }

    /// The network that holds `addr` with `len` bits of prefix, clearing
    /// host bits (the lenient constructor; [`Network::new`] refuses them).
    /// `len` is capped at the family's maximum.
    pub fn truncating(addr: IpAddr, len: u8) -> Self {
        match addr {
            IpAddr::V4(a) => {
                let len = len.min(32);
                Self {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(len))),
                    len,
                }
            }
            IpAddr::V6(a) => {
                let len = len.min(128);
                let net = Self {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(len))),
                    len,
                };
                net.unmapped()
            }
        }
    }

    fn checked(addr: IpAddr, len: u8, input: impl Fn() -> String) -> Result<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(Error::PrefixTooLong {
                input: input(),
                len: len.into(),
                max,
            });
        }
        let network = Self::truncating(addr, len);
        let same = match (addr, network.addr) {
            (IpAddr::V4(a), IpAddr::V4(n)) => a == n,
            (IpAddr::V6(a), IpAddr::V6(n)) => a == n,
            // An IPv4-mapped network became IPv4: compare as mapped.
            (IpAddr::V6(a), IpAddr::V4(n)) => a == n.to_ipv6_mapped(),
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        };
        if same {
            Ok(network)
        } else {
            Err(Error::HostBitsSet {
                input: input(),
                network,
            })
        }
    }

    /// An IPv4-mapped IPv6 network of length >= 96 as IPv4.
    fn unmapped(self) -> Self {
        if let IpAddr::V6(a) = self.addr {
            if self.len >= 96 {
                if let Some(v4) = a.to_ipv4_mapped() {
                    return Self {
                        addr: IpAddr::V4(v4),
                        len: self.len - 96,
                    };
                }
            }
        }
        self
    }

    /// The network address (host bits clear).
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length (0–32 for IPv4, 0–128 for IPv6).
    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    /// `true` for an IPv4 network.
    pub const fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The netmask, e.g. `255.255.255.0` for a `/24`.
    pub fn netmask(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(mask32(self.len))),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(mask128(self.len))),
        }
    }

    /// `true` if `ip` (made canonical first) lies in this network. IPv4
    /// networks never contain IPv6 addresses and the reverse.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical_ip(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.len) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.len) == u128::from(n),
            _ => false,
        }
    }

    /// `true` if `other` lies inside this network (or equals it).
    pub fn covers(&self, other: &Self) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }
}

pub(crate) const fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

pub(crate) const fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({self})")
    }
}

impl FromStr for Network {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        if text.is_empty() {
            return Err(Error::Empty);
        }
        let input = || excerpt(text);
        let (addr_part, mask_part) = match text.split_once('/') {
            Some((a, m)) => (a.trim(), Some(m.trim())),
            None => (text, None),
        };
        let addr: IpAddr = addr_part
            .parse()
            .map_err(|_| Error::InvalidAddress { input: input() })?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let len = match mask_part {
            None => max,
            Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
                // Saturating, so a long run of digits is "too long", not garbage.
                let value = m.bytes().fold(0u16, |acc, b| {
                    acc.saturating_mul(10).saturating_add(u16::from(b - b'0'))
                });
                match u8::try_from(value) {
                    Ok(v) if v <= max => v,
                    _ => {
                        return Err(Error::PrefixTooLong {
                            input: input(),
                            len: value.min(255),
                            max,
                        });
                    }
                }
            }
            Some(m) => mask_len(addr, m).map_err(|contiguous| {
                if contiguous {
                    Error::InvalidMask { input: input() }
                } else {
                    Error::NonContiguousMask {
                        input: input(),
                        mask: excerpt(m),
                    }
                }
            })?,
        };
        Self::checked(addr, len, input)
    }
}

/// The prefix length of a written netmask of `addr`'s family; `Err(true)`
/// if it is not a netmask at all, `Err(false)` if it is not contiguous.
fn mask_len(addr: IpAddr, mask: &str) -> std::result::Result<u8, bool> {
    let (bits, ones, width) = match (addr, mask.parse::<IpAddr>()) {
        (IpAddr::V4(_), Ok(IpAddr::V4(m))) => {
            let m = u32::from(m);
            (u128::from(m) << 96, m.leading_ones(), 32)
        }
        (IpAddr::V6(_), Ok(IpAddr::V6(m))) => {
            let m = u128::from(m);
            (m, m.leading_ones(), 128)
        }
        _ => return Err(true),
    };
    let len = u8::try_from(ones).map_err(|_| true)?;
    let expected = mask128(len) >> (128 - width) << (128 - width);
    if bits == expected {
        Ok(len)
    } else {
        Err(false)
    }
}

impl serde::Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Network;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a network such as \"192.168.5.0/24\" or \"2001:db8::/32\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Network, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}
