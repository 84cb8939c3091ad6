//! ACL entries: a network, an action, and what else narrows them.

use std::fmt;
use std::str::FromStr;

use pbxsec_core::{Transport, UnixTime, Verdict};

use crate::error::excerpt;
use crate::{Error, Network, Result};

/// What an entry does to the sources it matches.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let the source through (to the next check).
    Allow,
    /// Drop the source silently.
    Block,
}

impl Action {
    /// [`Verdict::Accept`] for `Allow`, [`Verdict::Drop`] for `Block` (an ACL
    /// drops silently, so a scanner learns nothing).
    pub const fn verdict(self) -> Verdict {
        match self {
            Self::Allow => Verdict::Accept,
            Self::Block => Verdict::Drop,
        }
    }

    /// `true` for [`Action::Allow`].
    pub const fn is_allow(self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// The transport protocol an entry applies to (MyPBX and Yeastar firewall
/// rules: UDP, TCP or both), or the protocol of a packet being checked.
///
/// As a lookup argument, `Both` means "not known": only entries for both
/// protocols can match it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// UDP only.
    Udp,
    /// TCP only (also TLS, WebSocket and HTTP, which run over TCP).
    Tcp,
    /// Both UDP and TCP (the default).
    #[default]
    Both,
}

impl Protocol {
    /// Whether an entry for `self` applies to a packet of protocol `packet`.
    pub const fn matches(self, packet: Self) -> bool {
        matches!(
            (self, packet),
            (Self::Both, _) | (Self::Udp, Self::Udp) | (Self::Tcp, Self::Tcp)
        )
    }
}

impl From<Transport> for Protocol {
    /// UDP for [`Transport::Udp`], TCP for the transports that run over TCP,
    /// `Both` ("not known") for any transport added later.
    fn from(t: Transport) -> Self {
        match t {
            Transport::Udp => Self::Udp,
            Transport::Tcp
            | Transport::Tls
            | Transport::Ws
            | Transport::Wss
            | Transport::Http
            | Transport::Https => Self::Tcp,
            _ => Self::Both,
        }
    }
}

/// An inclusive range of ports, written `5060` or `10000-20000`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    start: u16,
    end: u16,
}

impl PortRange {
    /// Every port, `0-65535`.
    pub const ALL: Self = Self {
        start: 0,
        end: u16::MAX,
    };

    /// `start..=end`; `None` if `start > end`.
    pub const fn new(start: u16, end: u16) -> Option<Self> {
        if start <= end {
            Some(Self { start, end })
        } else {
            None
        }
    }

    /// One port.
    pub const fn single(port: u16) -> Self {
        Self {
            start: port,
            end: port,
        }
    }

    /// The first port.
    pub const fn start(&self) -> u16 {
        self.start
    }

    /// The last port (inclusive).
    pub const fn end(&self) -> u16 {
        self.end
    }

    /// How many ports the range holds (1 to 65536).
    pub const fn width(&self) -> u32 {
        self.end as u32 - self.start as u32 + 1
    }

    /// `true` if `port` is in the range.
    pub const fn contains(&self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl fmt::Debug for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortRange({self})")
    }
}

impl FromStr for PortRange {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidPortRange { input: excerpt(s) };
        let port = |t: &str| t.trim().parse::<u16>().map_err(|_| bad());
        match s.split_once('-') {
            Some((a, b)) => Self::new(port(a)?, port(b)?).ok_or_else(bad),
            None => Ok(Self::single(port(s)?)),
        }
    }
}

impl serde::Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port (5060) or a port range (\"10000-20000\")")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<PortRange, E> {
                u16::try_from(v)
                    .map(PortRange::single)
                    .map_err(|_| E::custom("a port is at most 65535"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<PortRange, E> {
                u16::try_from(v)
                    .map(PortRange::single)
                    .map_err(|_| E::custom("a port is 0 to 65535"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<PortRange, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// One access-control entry: a network, what to do with it, and optional
/// narrowing by protocol and port range and an expiry.
///
/// In configs (serde), an entry is written
/// `{ network = "41.202.0.0/255.255.0.0", action = "block", comment = "...",
/// expires = "2026-12-01T00:00:00Z", protocol = "udp", ports = "5060-5080" }`;
/// only `network` and `action` are required.
///
/// * `expires` is wall-clock time ([`UnixTime`], read through
///   [`pbxsec_core::Clock::wall`]) because automatic entries (a ban turned
///   into a Block entry, Vodia's temporary entries) are written to disk and
///   must keep their meaning across restarts. The entry matches while
///   `now < expires`.
/// * An entry with `protocol = both` and no `ports` (or `ports = "0-65535"`)
///   is *unrestricted*: it applies to every packet of its network, including
///   checks made without a port ([`crate::CompiledAcl::check`]). An entry
///   restricted to a protocol or a port range only applies to
///   [`crate::CompiledAcl::check_port`] calls that match it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The source network.
    pub network: Network,
    /// Allow or Block.
    pub action: Action,
    /// Free text for the operator (empty by default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// When the entry stops matching (none: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<UnixTime>,
    /// The protocol the entry applies to (default both).
    #[serde(default, skip_serializing_if = "is_both")]
    pub protocol: Protocol,
    /// The destination ports the entry applies to (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
}

fn is_both(p: &Protocol) -> bool {
    *p == Protocol::Both
}

impl Entry {
    /// An unrestricted, permanent entry without comment.
    pub const fn new(network: Network, action: Action) -> Self {
        Self {
            network,
            action,
            comment: String::new(),
            expires: None,
            protocol: Protocol::Both,
            ports: None,
        }
    }

    /// An Allow entry for a written network (any form [`Network`] parses).
    pub fn allow(network: &str) -> Result<Self> {
        Ok(Self::new(network.parse()?, Action::Allow))
    }

    /// A Block entry for a written network (any form [`Network`] parses).
    pub fn block(network: &str) -> Result<Self> {
        Ok(Self::new(network.parse()?, Action::Block))
    }

    /// The same entry with a comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = comment.into();
        self
    }

    /// The same entry, expiring at `expires`.
    pub const fn expiring(mut self, expires: UnixTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// The same entry, restricted to a protocol and a port range.
    pub const fn on_ports(mut self, protocol: Protocol, ports: PortRange) -> Self {
        self.protocol = protocol;
        self.ports = Some(ports);
        self
    }

    /// The same entry, restricted to a protocol (all ports).
    pub const fn on_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// `true` if the entry applies to every protocol and port.
    pub fn is_unrestricted(&self) -> bool {
        self.protocol == Protocol::Both && self.ports.is_none_or(|p| p == PortRange::ALL)
    }

    /// How many ports the entry covers (65536 without a port range); the
    /// narrower entry wins among entries of the same prefix.
    pub fn port_width(&self) -> u32 {
        self.ports.map_or(PortRange::ALL.width(), |p| p.width())
    }

    /// `true` while the entry has not expired at `now`.
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.expires.is_none_or(|e| now < e)
    }

    /// `true` if the entry applies to a packet of `protocol` to `port`
    /// (`None`: a check without a port, to which only unrestricted entries
    /// apply). The network is not looked at.
    pub fn applies_to(&self, port: Option<(Protocol, u16)>) -> bool {
        match port {
            None => self.is_unrestricted(),
            Some((proto, port)) => {
                self.protocol.matches(proto) && self.ports.is_none_or(|p| p.contains(port))
            }
        }
    }

    /// What makes two entries the same rule for add-or-overwrite: the
    /// network, the protocol and the port range (`0-65535` counts as none).
    pub fn key(&self) -> EntryKey {
        EntryKey {
            network: self.network,
            protocol: self.protocol,
            ports: self.ports.filter(|p| *p != PortRange::ALL),
        }
    }
}

/// The identity of an entry for add-or-overwrite ([`Entry::key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryKey {
    /// The network.
    pub network: Network,
    /// The protocol.
    pub protocol: Protocol,
    /// The port range (`None`: all ports).
    pub ports: Option<PortRange>,
}
