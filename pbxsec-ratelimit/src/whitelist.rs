//! Keys that are never counted nor banned, updatable at run time.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use ipnet::IpNet;

use crate::key::key_ip;

/// Up to this many networks of one address family are scanned linearly;
/// more are looked up by prefix length (one hash lookup per distinct length).
const LINEAR_MAX: usize = 8;

/// Networks of one address family, as `(network bits, mask)` pairs.
#[derive(Clone)]
struct NetSet<T> {
    /// Used when there are at most [`LINEAR_MAX`] networks.
    linear: Vec<(T, T)>,
    /// Used otherwise: per distinct mask, the set of network bits.
    by_mask: Vec<(T, HashSet<T, ahash::RandomState>)>,
}

impl<T: Copy + Eq + Hash + std::ops::BitAnd<Output = T>> NetSet<T> {
    fn build(nets: impl Iterator<Item = (T, T)>) -> Self {
        let all: Vec<(T, T)> = nets.collect();
        if all.len() <= LINEAR_MAX {
            return Self {
                linear: all,
                by_mask: Vec::new(),
            };
        }
        let mut by_mask: Vec<(T, HashSet<T, ahash::RandomState>)> = Vec::new();
        for (net, mask) in all {
            if let Some((_, set)) = by_mask.iter_mut().find(|(m, _)| *m == mask) {
                set.insert(net);
            } else {
                let mut set = HashSet::with_hasher(ahash::RandomState::new());
                set.insert(net);
                by_mask.push((mask, set));
            }
        }
        Self {
            linear: Vec::new(),
            by_mask,
        }
    }

    #[inline]
    fn contains(&self, addr: T) -> bool {
        self.linear.iter().any(|&(net, mask)| addr & mask == net)
            || self
                .by_mask
                .iter()
                .any(|(mask, set)| set.contains(&(addr & *mask)))
    }
}

/// One immutable version of the whitelist; updates build a new one.
struct Entries<K> {
    /// The networks, truncated, without duplicates, in insertion order.
    nets: Vec<IpNet>,
    v4: NetSet<u32>,
    v6: NetSet<u128>,
    keys: HashSet<K, ahash::RandomState>,
}

impl<K> Entries<K> {
    fn new(nets: Vec<IpNet>, keys: HashSet<K, ahash::RandomState>) -> Self {
        let v4 = NetSet::build(nets.iter().filter_map(|n| match n {
            IpNet::V4(n) => Some((u32::from(n.network()), u32::from(n.netmask()))),
            IpNet::V6(_) => None,
        }));
        let v6 = NetSet::build(nets.iter().filter_map(|n| match n {
            IpNet::V6(n) => Some((u128::from(n.network()), u128::from(n.netmask()))),
            IpNet::V4(_) => None,
        }));
        Self { nets, v4, v6, keys }
    }

    fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.keys.is_empty()
    }

    #[inline]
    fn contains_ip(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }
}

/// Canonical form of a whitelisted network: host bits cleared, and an
/// IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as its IPv4 network,
/// because addresses are made canonical before they are matched.
pub(crate) fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net {
        if let Some(v4) = n.network().to_ipv4_mapped() {
            if n.prefix_len() >= 96 {
                if let Ok(v4net) = ipnet::Ipv4Net::new(v4, n.prefix_len() - 96) {
                    return IpNet::V4(v4net.trunc());
                }
            }
        }
    }
    net.trunc()
}

/// The canonical networks, first occurrence kept, in order (linear time).
fn dedup_nets(nets: impl IntoIterator<Item = IpNet>) -> Vec<IpNet> {
    let mut seen = HashSet::with_hasher(ahash::RandomState::new());
    nets.into_iter()
        .map(canonical_net)
        .filter(|n| seen.insert(*n))
        .collect()
}

/// Keys that are never counted nor banned: IP networks (matched against
/// IP-bearing keys: `IpAddr`, `SocketAddr`, `(IpAddr, u16)`, ...) and exact
/// keys of any type.
///
/// Share one whitelist between structures with an `Arc`:
/// [`RateLimiter::with_whitelist`](crate::RateLimiter::with_whitelist),
/// [`ThresholdCounter::with_whitelist`](crate::ThresholdCounter::with_whitelist),
/// [`BanList::with_whitelist`](crate::BanList::with_whitelist).
///
/// # Changing it at run time
///
/// [`add_net`](Self::add_net), [`remove_net`](Self::remove_net),
/// [`add_key`](Self::add_key), [`remove_key`](Self::remove_key),
/// [`replace`](Self::replace) and [`clear`](Self::clear) take `&self`, so an
/// operator can add a trunk's address to the `Arc<Whitelist>` every
/// structure already shares, while packets are being checked. Readers never
/// block and never wait for a writer: the whitelist is an immutable version
/// behind an [`arc_swap::ArcSwap`]; an update copies the current version
/// (O(entries)), changes the copy and swaps it in, and a
/// [`contains`](Self::contains) running at the same time sees either the
/// old version or the new one, never a half-made one. Writers are
/// serialised by a mutex that readers never touch.
///
/// Whitelisting a key that is banned does not touch the ban list by itself,
/// but [`BanList::check`](crate::BanList::check) never reports a
/// whitelisted key as banned, and the ban list lifts such bans (with
/// [`UnbanCause::Whitelisted`](crate::UnbanCause::Whitelisted)) on its next
/// [`expire`](crate::BanList::expire), or at once through
/// [`BanList::whitelist_net`](crate::BanList::whitelist_net) /
/// [`BanList::whitelist_key`](crate::BanList::whitelist_key).
///
/// # Cost of `contains`
///
/// An empty whitelist costs one atomic load. Otherwise: one `ArcSwap` load
/// (a few nanoseconds, no lock), a hash lookup if exact keys are
/// whitelisted, and for IP-bearing keys a scan of at most eight
/// `(network, mask)` pairs of the address's family, or, with more networks,
/// one hash lookup per distinct prefix length. See the crate README for
/// the measured figures.
///
/// ```
/// use std::net::IpAddr;
/// use pbxsec_ratelimit::Whitelist;
///
/// let wl: Whitelist<IpAddr> = Whitelist::from_nets(["10.0.0.0/8".parse().unwrap()]);
/// assert!(wl.contains(&"10.1.2.3".parse().unwrap()));
/// assert!(wl.contains(&"::ffff:10.1.2.3".parse().unwrap())); // canonical form
/// assert!(!wl.contains(&"192.0.2.1".parse().unwrap()));
///
/// // At run time, through a shared reference:
/// assert!(wl.add_net("192.0.2.0/28".parse().unwrap()));
/// assert!(wl.contains(&"192.0.2.1".parse().unwrap()));
/// assert!(wl.remove_net(&"10.0.0.0/8".parse().unwrap()));
/// assert!(!wl.contains(&"10.1.2.3".parse().unwrap()));
/// ```
pub struct Whitelist<K> {
    current: ArcSwap<Entries<K>>,
    /// Serialises writers (read-copy-update); readers never take it.
    writer: Mutex<()>,
    /// `true` while nothing is whitelisted: the fast path of `contains`.
    empty: AtomicBool,
    /// Bumped by every change.
    generation: AtomicU64,
}

impl<K> Default for Whitelist<K> {
    fn default() -> Self {
        Self::from_entries(Entries::new(
            Vec::new(),
            HashSet::with_hasher(ahash::RandomState::new()),
        ))
    }
}

impl<K: Clone> Clone for Whitelist<K> {
    /// An independent whitelist holding what this one holds now.
    fn clone(&self) -> Self {
        let e = self.current.load();
        Self::from_entries(Entries::new(e.nets.clone(), e.keys.clone()))
    }
}

impl<K: fmt::Debug> fmt::Debug for Whitelist<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.current.load();
        f.debug_struct("Whitelist")
            .field("nets", &e.nets)
            .field("keys", &e.keys)
            .field("generation", &self.generation())
            .finish()
    }
}

impl<K> Whitelist<K> {
    fn from_entries(entries: Entries<K>) -> Self {
        Self {
            empty: AtomicBool::new(entries.is_empty()),
            current: ArcSwap::from_pointee(entries),
            writer: Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// The networks whitelisted now (canonical, host bits cleared).
    pub fn nets(&self) -> Vec<IpNet> {
        self.current.load().nets.clone()
    }

    /// `true` when nothing is whitelisted.
    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    /// How many times the whitelist has been changed since it was made
    /// (builders do not count). The ban list uses it to notice changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// `true` if a whitelisted network contains the whole of `net`.
    pub fn covers_net(&self, net: &IpNet) -> bool {
        let net = canonical_net(*net);
        self.current.load().nets.iter().any(|n| n.contains(&net))
    }

    /// `true` if the canonical form of `ip` is inside a whitelisted network.
    #[inline]
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        if self.empty.load(Ordering::Acquire) {
            return false;
        }
        self.current
            .load()
            .contains_ip(pbxsec_core::canonical_ip(ip))
    }
}

impl<K: Hash + Eq + 'static> Whitelist<K> {
    /// `true` if `key` is whitelisted (exactly, or by a network containing
    /// its canonical IP address). Never blocks.
    #[inline]
    pub fn contains(&self, key: &K) -> bool {
        if self.empty.load(Ordering::Acquire) {
            return false;
        }
        let e = self.current.load();
        if !e.keys.is_empty() && e.keys.contains(key) {
            return true;
        }
        match key_ip(key) {
            Some(ip) => e.contains_ip(ip),
            None => false,
        }
    }
}

impl<K: Hash + Eq + 'static> Whitelist<K> {
    /// `true` if `key` itself was whitelisted ([`with_key`](Self::with_key),
    /// [`add_key`](Self::add_key)); networks are not consulted.
    #[inline]
    pub(crate) fn holds_key(&self, key: &K) -> bool {
        !self.empty.load(Ordering::Acquire) && self.current.load().keys.contains(key)
    }
}

impl<K: Hash + Eq + Clone + 'static> Whitelist<K> {
    /// An empty whitelist.
    pub fn new() -> Self {
        Self::default()
    }

    /// A whitelist of IP networks.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self::from_entries(Entries::new(
            dedup_nets(nets),
            HashSet::with_hasher(ahash::RandomState::new()),
        ))
    }

    /// Adds a network (builder).
    #[must_use]
    pub fn with_net(self, net: IpNet) -> Self {
        self.add_net(net);
        self
    }

    /// Adds an exact key (builder).
    #[must_use]
    pub fn with_key(self, key: K) -> Self {
        self.add_key(key);
        self
    }

    /// The exact keys whitelisted now.
    pub fn keys(&self) -> Vec<K> {
        self.current.load().keys.iter().cloned().collect()
    }

    /// Applies `f` to a copy of the current version and swaps the copy in
    /// if `f` returns `true`.
    fn update(
        &self,
        f: impl FnOnce(&mut Vec<IpNet>, &mut HashSet<K, ahash::RandomState>) -> bool,
    ) -> bool {
        let _w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let cur = self.current.load_full();
        let mut nets = cur.nets.clone();
        let mut keys = cur.keys.clone();
        if !f(&mut nets, &mut keys) {
            return false;
        }
        let next = Entries::new(nets, keys);
        let empty = next.is_empty();
        self.current.store(Arc::new(next));
        self.empty.store(empty, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Whitelists a network at run time; `false` if it already was.
    pub fn add_net(&self, net: IpNet) -> bool {
        let net = canonical_net(net);
        self.update(|nets, _| {
            if nets.contains(&net) {
                return false;
            }
            nets.push(net);
            true
        })
    }

    /// Removes a network (exactly as added, host bits ignored); `false` if
    /// it was not whitelisted.
    pub fn remove_net(&self, net: &IpNet) -> bool {
        let net = canonical_net(*net);
        self.update(|nets, _| {
            let before = nets.len();
            nets.retain(|n| *n != net);
            nets.len() != before
        })
    }

    /// Whitelists an exact key at run time; `false` if it already was.
    pub fn add_key(&self, key: K) -> bool {
        self.update(|_, keys| keys.insert(key))
    }

    /// Removes an exact key; `false` if it was not whitelisted.
    pub fn remove_key(&self, key: &K) -> bool {
        self.update(|_, keys| keys.remove(key))
    }

    /// Replaces everything with these networks and keys, in one step:
    /// readers see the old whitelist or the new one, never a mix.
    pub fn replace(
        &self,
        nets: impl IntoIterator<Item = IpNet>,
        keys: impl IntoIterator<Item = K>,
    ) {
        let new_nets = dedup_nets(nets);
        let new_keys: HashSet<K, ahash::RandomState> = {
            let mut s = HashSet::with_hasher(ahash::RandomState::new());
            s.extend(keys);
            s
        };
        self.update(|nets, keys| {
            *nets = new_nets;
            *keys = new_keys;
            true
        });
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.update(|nets, keys| {
            nets.clear();
            keys.clear();
            true
        });
    }
}
