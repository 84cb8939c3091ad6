//! Keys that are never counted nor banned.

use std::collections::HashSet;
use std::hash::Hash;

use ipnet::IpNet;

use crate::key::key_ip;

/// Keys that are never counted nor banned: IP networks (matched against
/// IP-bearing keys: `IpAddr`, `SocketAddr`, `(IpAddr, u16)`, ...) and exact
/// keys of any type.
///
/// Share one whitelist between structures with an `Arc`:
/// [`RateLimiter::with_whitelist`](crate::RateLimiter::with_whitelist),
/// [`ThresholdCounter::with_whitelist`](crate::ThresholdCounter::with_whitelist),
/// [`BanList::with_whitelist`](crate::BanList::with_whitelist).
///
/// ```
/// use std::net::IpAddr;
/// use pbxsec_ratelimit::Whitelist;
///
/// let wl: Whitelist<IpAddr> = Whitelist::from_nets(["10.0.0.0/8".parse().unwrap()]);
/// assert!(wl.contains(&"10.1.2.3".parse().unwrap()));
/// assert!(wl.contains(&"::ffff:10.1.2.3".parse().unwrap())); // canonical form
/// assert!(!wl.contains(&"192.0.2.1".parse().unwrap()));
/// ```
#[derive(Clone, Debug)]
pub struct Whitelist<K> {
    nets: Vec<IpNet>,
    keys: HashSet<K>,
}

impl<K> Default for Whitelist<K> {
    fn default() -> Self {
        Self {
            nets: Vec::new(),
            keys: HashSet::new(),
        }
    }
}

impl<K: Hash + Eq + 'static> Whitelist<K> {
    /// An empty whitelist.
    pub fn new() -> Self {
        Self::default()
    }

    /// A whitelist of IP networks.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            nets: nets.into_iter().map(|n| n.trunc()).collect(),
            keys: HashSet::new(),
        }
    }

    /// Adds a network.
    #[must_use]
    pub fn with_net(mut self, net: IpNet) -> Self {
        self.nets.push(net.trunc());
        self
    }

    /// Adds an exact key.
    #[must_use]
    pub fn with_key(mut self, key: K) -> Self {
        self.keys.insert(key);
        self
    }

    /// The networks.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// `true` when nothing is whitelisted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.keys.is_empty()
    }

    /// `true` if `key` is whitelisted (exactly, or by a network containing
    /// its canonical IP address).
    #[inline]
    pub fn contains(&self, key: &K) -> bool {
        if !self.keys.is_empty() && self.keys.contains(key) {
            return true;
        }
        if self.nets.is_empty() {
            return false;
        }
        match key_ip(key) {
            Some(ip) => self.nets.iter().any(|n| n.contains(&ip)),
            None => false,
        }
    }
}
