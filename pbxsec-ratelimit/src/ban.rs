//! The ban list: bans with reasons, expiry, escalation, grace, whitelist,
//! change notifications and snapshots.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use pbxsec_core::{Clock, Instant, UnixTime};
use serde::{Deserialize, Serialize};

use crate::key::{IpFold, fold_is_identity, fold_key, key_ip};
use crate::rate::{
    check_capacity, check_prefixes, default_capacity, default_v4, default_v6, opt_duration,
};
use crate::table::KeyHasher;
use crate::whitelist::{Whitelist, canonical_net};
use crate::{Error, Result};

/// The default base ban duration: one hour.
pub const DEFAULT_BAN: Duration = Duration::from_secs(3600);
/// The default repeat memory: one day (fail2ban's `recidive` `findtime`).
pub const DEFAULT_REPEAT_MEMORY: Duration = Duration::from_secs(86_400);
/// The default number of unread changes kept for [`BanList::drain_changes`].
pub const DEFAULT_MAX_PENDING_CHANGES: usize = 4096;
/// The default cap on network bans ([`BanConfig::max_network_bans`]).
pub const DEFAULT_MAX_NETWORK_BANS: usize = 1024;
/// The largest allowed [`BanConfig::max_network_bans`].
pub const MAX_NETWORK_BANS: usize = 65_536;

/// How repeat offenders are punished harder.
///
/// A ban's length is `base × factor^repeat`, capped at `max_ban`, where
/// `repeat` is how many earlier bans of the same key are remembered (bans
/// less than `repeat_memory` before this one, chained). fail2ban's
/// `bantime.increment = true` doubles per repeat: `factor = 2`;
/// `bantime.maxtime` is `max_ban`. Then, if `recidive` is set and this is at
/// least its `after_bans`-th remembered ban, the ban lasts at least its
/// `ban_for` (fail2ban's `recidive` jail: 5 bans within a day, banned for a
/// week). Finally, if `permanent_after = Some(k)`, the k-th remembered ban
/// and every later one is permanent, until an administrator unbans it
/// (Yeastar P-Series: temporary denials, then a permanent ban).
///
/// The default has `factor = 1` (no escalation), no cap, no recidive, no
/// permanent ban, and remembers repeats for one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Multiplier per remembered repeat (default 1; at least 1).
    #[serde(default = "one")]
    pub factor: u32,
    /// The longest a non-permanent ban may last (default: no cap).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_ban: Option<Duration>,
    /// The k-th remembered ban and later ones are permanent (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent_after: Option<u32>,
    /// How long after a ban another ban counts as a repeat (default 1 day).
    #[serde(
        default = "default_repeat_memory",
        with = "pbxsec_core::duration::serde"
    )]
    pub repeat_memory: Duration,
    /// A long ban after repeated bans (fail2ban `recidive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recidive: Option<Recidive>,
}

/// fail2ban's `recidive` jail as a rule: the `after_bans`-th ban within the
/// repeat memory lasts at least `ban_for`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recidive {
    /// Which remembered ban triggers it (fail2ban: `maxretry = 5`).
    pub after_bans: u32,
    /// How long that ban lasts at least (fail2ban: `bantime = 1w`).
    #[serde(with = "pbxsec_core::duration::serde")]
    pub ban_for: Duration,
}

fn one() -> u32 {
    1
}
fn default_repeat_memory() -> Duration {
    DEFAULT_REPEAT_MEMORY
}
fn default_ban() -> Duration {
    DEFAULT_BAN
}
fn default_origin() -> String {
    "local".to_owned()
}
fn default_pending() -> usize {
    DEFAULT_MAX_PENDING_CHANGES
}
fn default_max_nets() -> usize {
    DEFAULT_MAX_NETWORK_BANS
}

impl Default for Escalation {
    fn default() -> Self {
        Self {
            factor: 1,
            max_ban: None,
            permanent_after: None,
            repeat_memory: DEFAULT_REPEAT_MEMORY,
            recidive: None,
        }
    }
}

impl Escalation {
    /// fail2ban with `bantime.increment = true`, `bantime.factor = 1`
    /// (the ban time doubles per repeat), `bantime.maxtime = 5w` and its
    /// `recidive` jail (5 bans within 1 day → banned for 1 week).
    pub fn fail2ban() -> Self {
        Self {
            factor: 2,
            max_ban: Some(Duration::from_secs(5 * 7 * 86_400)),
            permanent_after: None,
            repeat_memory: DEFAULT_REPEAT_MEMORY,
            recidive: Some(Recidive {
                after_bans: 5,
                ban_for: Duration::from_secs(7 * 86_400),
            }),
        }
    }

    /// The length of a ban with `repeat` earlier remembered bans; `None`
    /// means permanent.
    pub fn duration(&self, base: Duration, repeat: u32) -> Option<Duration> {
        let nth = repeat.saturating_add(1);
        if let Some(k) = self.permanent_after {
            if nth >= k {
                return None;
            }
        }
        let mut d = base;
        for _ in 0..repeat.min(64) {
            d = d.saturating_mul(self.factor);
            if let Some(max) = self.max_ban {
                if d >= max {
                    break;
                }
            }
        }
        if let Some(max) = self.max_ban {
            d = d.min(max);
        }
        if let Some(r) = &self.recidive {
            if nth >= r.after_bans {
                d = d.max(r.ban_for);
            }
        }
        Some(d)
    }
}

/// A ban list as data.
///
/// ```
/// use pbxsec_ratelimit::BanConfig;
/// let c: BanConfig = serde_json::from_str(r#"{
///     "ban_for": "1h",
///     "escalation": {"factor": 2, "max_ban": "1w", "permanent_after": 5},
///     "whitelist": ["10.0.0.0/8", "2001:db8::/32"],
///     "unban_grace": "15m"
/// }"#).unwrap();
/// assert_eq!(c.ipv6_prefix, 64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanConfig {
    /// The base length of a ban from [`BanList::ban`] (default 1 h).
    #[serde(default = "default_ban", with = "pbxsec_core::duration::serde")]
    pub ban_for: Duration,
    /// Longer bans for repeat offenders (default: none).
    #[serde(default)]
    pub escalation: Escalation,
    /// After a manual unban, the key cannot be banned automatically again
    /// for this long (default 0: no grace).
    #[serde(default, with = "pbxsec_core::duration::serde")]
    pub unban_grace: Duration,
    /// Networks never banned (and, when shared with the counters, never
    /// counted).
    #[serde(default)]
    pub whitelist: Vec<IpNet>,
    /// The most keys remembered (bans and repeat history; default 65 536).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// IPv6 keys are folded to this prefix, so a ban covers the whole
    /// prefix (default 64).
    #[serde(default = "default_v6")]
    pub ipv6_prefix: u8,
    /// IPv4 keys are folded to this prefix (default 32).
    #[serde(default = "default_v4")]
    pub ipv4_prefix: u8,
    /// This node's name in [`BanChange::origin`] (default `"local"`); give
    /// every node of a cluster its own.
    #[serde(default = "default_origin")]
    pub origin: String,
    /// Unread changes kept for [`BanList::drain_changes`]; beyond that the
    /// oldest are dropped and counted (default 4096).
    #[serde(default = "default_pending")]
    pub max_pending_changes: usize,
    /// The most network bans ([`BanList::ban_net`]) in force at once
    /// (default 1024, at most [`MAX_NETWORK_BANS`]). They are kept apart
    /// from key bans and never pushed out: a network ban beyond the cap is
    /// refused with [`BanOutcome::Full`].
    #[serde(default = "default_max_nets")]
    pub max_network_bans: usize,
}

impl Default for BanConfig {
    fn default() -> Self {
        Self {
            ban_for: DEFAULT_BAN,
            escalation: Escalation::default(),
            unban_grace: Duration::ZERO,
            whitelist: Vec::new(),
            capacity: default_capacity(),
            ipv6_prefix: default_v6(),
            ipv4_prefix: default_v4(),
            origin: default_origin(),
            max_pending_changes: DEFAULT_MAX_PENDING_CHANGES,
            max_network_bans: DEFAULT_MAX_NETWORK_BANS,
        }
    }
}

/// Why a ban was lifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnbanCause {
    /// An administrator (or API caller) removed it.
    Manual,
    /// Its time ran out.
    Expired,
    /// The key (or a network containing it, or for a network ban, a network
    /// containing the whole banned network) was whitelisted while banned.
    Whitelisted,
}

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum BanAction {
    /// The key is banned (new, or extended).
    Ban {
        /// When it ends (wall clock); absent: permanent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<UnixTime>,
        /// Why, for people.
        reason: String,
        /// The rule that banned it (e.g. `"sip-auth"`).
        rule: String,
        /// Earlier bans of this key still remembered (0 for a first ban).
        repeat: u32,
    },
    /// The ban was lifted.
    Unban {
        /// Why.
        cause: UnbanCause,
        /// No automatic ban before this time (manual unban with grace).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_until: Option<UnixTime>,
    },
}

/// One change of the ban list, as a value: log it, or send it to the other
/// nodes of a cluster, which hand it to [`BanList::apply_remote`].
///
/// Times are wall-clock ([`UnixTime`], RFC 3339 in JSON), so they mean the
/// same on every host. `origin` and `seq` identify the change: a node
/// ignores its own changes coming back, and `seq` grows by one per change
/// of one origin, so a receiver can spot a gap.
///
/// ```
/// use std::net::IpAddr;
/// use pbxsec_ratelimit::{BanAction, BanChange};
/// let json = r#"{"origin":"pbx-2","seq":7,"at":"2026-11-23T18:00:00.000Z","key":"203.0.113.9",
///   "change":{"action":"ban","until":"2026-11-23T19:00:00.000Z","reason":"50 failed auths","rule":"sip-auth","repeat":0}}"#;
/// let c: BanChange<IpAddr> = serde_json::from_str(json).unwrap();
/// assert!(matches!(c.change, BanAction::Ban { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanChange<K> {
    /// The node that made the change ([`BanConfig::origin`]).
    pub origin: String,
    /// The change's number at its origin, from 1.
    pub seq: u64,
    /// When it happened (wall clock).
    pub at: UnixTime,
    /// The key, folded as the ban list folds it. For a network ban
    /// (`net_prefix` set): the network's address.
    pub key: K,
    /// Set for a change of a network ban ([`BanList::ban_net`]): the change
    /// is about the network `key/net_prefix`, not the key alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_prefix: Option<u8>,
    /// What happened.
    pub change: BanAction,
}

/// A ban as [`BanList::get`] and [`BanList::list`] report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban<K> {
    /// The key, folded as the ban list folds it (an IPv6 `/64` prefix).
    pub key: K,
    /// Why, for people.
    pub reason: String,
    /// The rule that banned it.
    pub rule: String,
    /// When it started (monotonic).
    pub since: Instant,
    /// When it ends (monotonic); `None`: permanent.
    pub until: Option<Instant>,
    /// Earlier bans of this key still remembered.
    pub repeat: u32,
}

/// The per-packet answer of [`BanList::check`]; `Copy`, no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BanCheck {
    /// Not banned.
    Clear,
    /// Banned.
    Banned {
        /// When it ends; `None`: permanent.
        until: Option<Instant>,
    },
}

impl BanCheck {
    /// `true` for [`BanCheck::Banned`].
    pub const fn is_banned(self) -> bool {
        matches!(self, Self::Banned { .. })
    }

    /// How long until the ban ends, for a `Retry-After`; `None` when clear
    /// or permanent.
    pub fn remaining(self, now: Instant) -> Option<Duration> {
        match self {
            Self::Banned { until: Some(t) } => Some(t.saturating_duration_since(now)),
            _ => None,
        }
    }
}

/// What [`BanList::ban`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BanOutcome<K> {
    /// Banned (or an existing ban extended); the change, also queued for
    /// [`BanList::drain_changes`].
    Banned(BanChange<K>),
    /// Already banned at least as long; nothing changed.
    AlreadyBanned {
        /// When the existing ban ends; `None`: permanent.
        until: Option<Instant>,
    },
    /// The key is whitelisted: never banned.
    Whitelisted,
    /// A manual unban granted a grace period that has not ended.
    InGrace {
        /// When the grace ends.
        until: Instant,
    },
    /// The list is full of permanent bans; nothing could make room.
    Full,
}

/// A ban list snapshot, for disk or a new node. See [`BanList::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanSnapshot<K> {
    /// The format version, 1.
    pub version: u32,
    /// The node it was taken on.
    pub origin: String,
    /// When it was taken (wall clock).
    pub taken_at: UnixTime,
    /// Every key with a ban, a grace period or remembered repeats.
    pub entries: Vec<SnapshotEntry<K>>,
    /// Every network ban in force (absent when there is none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<SnapshotNetBan>,
}

/// A network ban in a [`BanSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotNetBan {
    /// The banned network.
    pub net: IpNet,
    /// The ban (its `repeat` is always 0: network bans do not escalate).
    pub ban: SnapshotBan,
}

/// One key in a [`BanSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotEntry<K> {
    /// The key, folded.
    pub key: K,
    /// Its ban, if one is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban: Option<SnapshotBan>,
    /// How many bans are remembered for the key (this one included).
    pub bans: u32,
    /// When the latest ban started (wall clock).
    pub last_ban: UnixTime,
    /// No automatic ban before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<UnixTime>,
}

/// A ban in a [`SnapshotEntry`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotBan {
    /// When it started.
    pub since: UnixTime,
    /// When it ends; absent: permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<UnixTime>,
    /// Why.
    pub reason: String,
    /// The rule that banned it.
    pub rule: String,
    /// Earlier bans remembered when it was made.
    pub repeat: u32,
}

struct Active {
    since: u64,
    until: Option<u64>,
    reason: String,
    rule: String,
    repeat: u32,
}

struct Record {
    active: Option<Active>,
    bans: u32,
    last_ban: u64,
    grace_until: u64,
    /// Its entry in `expiries` (active, timed) or `forgets` (inactive).
    idx: Option<(u64, u64)>,
}

/// A network ban.
struct NetRec {
    since: u64,
    until: Option<u64>,
    reason: String,
    rule: String,
    /// Its entry in `NetBans::expiries` (timed bans).
    idx: Option<(u64, u64)>,
}

/// Network bans, kept apart from key bans. A lookup masks the address to
/// each prefix length that has at least one network ban of its family and
/// looks the network up: one hash lookup per distinct length, whatever the
/// number of network bans.
struct NetBans {
    map: HashMap<IpNet, NetRec, ahash::RandomState>,
    /// Network bans per IPv4 prefix length (index 0..=32).
    v4_count: Vec<u32>,
    /// Network bans per IPv6 prefix length (index 0..=128).
    v6_count: Vec<u32>,
    /// The IPv4 prefix lengths in use.
    v4_lens: Vec<u8>,
    /// The IPv6 prefix lengths in use.
    v6_lens: Vec<u8>,
    /// (end, id) of every timed network ban.
    expiries: BTreeMap<(u64, u64), IpNet>,
}

/// The longer of two bans' ends (`None`: permanent).
fn longer(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    }
}

impl NetBans {
    fn new() -> Self {
        Self {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            v4_count: vec![0; 33],
            v6_count: vec![0; 129],
            v4_lens: Vec::new(),
            v6_lens: Vec::new(),
            expiries: BTreeMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn relens(&mut self) {
        self.v4_lens = (0u8..=32)
            .filter(|&l| self.v4_count.get(usize::from(l)).is_some_and(|&c| c > 0))
            .collect();
        self.v6_lens = (0u8..=128)
            .filter(|&l| self.v6_count.get(usize::from(l)).is_some_and(|&c| c > 0))
            .collect();
    }

    fn count_mut(&mut self, net: &IpNet) -> Option<&mut u32> {
        match net {
            IpNet::V4(n) => self.v4_count.get_mut(usize::from(n.prefix_len())),
            IpNet::V6(n) => self.v6_count.get_mut(usize::from(n.prefix_len())),
        }
    }

    /// Inserts or replaces the ban of `net` (canonical).
    fn insert(&mut self, net: IpNet, mut rec: NetRec, id: &mut u64) {
        if let Some(old) = self.map.remove(&net) {
            if let Some(idx) = old.idx {
                self.expiries.remove(&idx);
            }
        } else if let Some(c) = self.count_mut(&net) {
            *c += 1;
            if *c == 1 {
                self.relens();
            }
        }
        rec.idx = rec.until.map(|u| {
            let idx = (u, *id);
            *id += 1;
            self.expiries.insert(idx, net);
            idx
        });
        self.map.insert(net, rec);
    }

    fn remove(&mut self, net: &IpNet) -> Option<NetRec> {
        let rec = self.map.remove(net)?;
        if let Some(idx) = rec.idx {
            self.expiries.remove(&idx);
        }
        if let Some(c) = self.count_mut(net) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.relens();
            }
        }
        Some(rec)
    }

    /// The longest end among the network bans in force at `now` covering
    /// `ip` (canonical): `None` if none covers it, `Some(None)` permanent.
    #[inline]
    fn covering(&self, ip: IpAddr, now: u64) -> Option<Option<u64>> {
        let mut best: Option<Option<u64>> = None;
        let mut consider = |net: IpNet| {
            if let Some(r) = self.map.get(&net) {
                if r.until.is_none_or(|u| u > now) {
                    best = Some(match best {
                        None => r.until,
                        Some(b) => longer(b, r.until),
                    });
                }
            }
        };
        match ip {
            IpAddr::V4(a) => {
                for &len in &self.v4_lens {
                    if let Ok(n) = Ipv4Net::new(a, len) {
                        consider(IpNet::V4(n.trunc()));
                    }
                }
            }
            IpAddr::V6(a) => {
                for &len in &self.v6_lens {
                    if let Ok(n) = Ipv6Net::new(a, len) {
                        consider(IpNet::V6(n.trunc()));
                    }
                }
            }
        }
        best
    }
}

/// `ip` as a key of type `K`, if `K` is `IpAddr` (network bans exist only
/// in a `BanList<IpAddr>`).
fn ip_as_key<K: Clone + 'static>(ip: IpAddr) -> Option<K> {
    (&ip as &dyn Any).downcast_ref::<K>().cloned()
}

/// `true` if `K` is `IpAddr`.
fn is_ip_key<K: Clone + 'static>() -> bool {
    ip_as_key::<K>(IpAddr::from([0u8; 4])).is_some()
}

struct State<K> {
    records: HashMap<K, Record, ahash::RandomState>,
    /// Network bans (only ever filled in a `BanList<IpAddr>`).
    nets: NetBans,
    /// (end, id) of every timed active ban.
    expiries: BTreeMap<(u64, u64), K>,
    /// (forget time, id) of every inactive record.
    forgets: BTreeMap<(u64, u64), K>,
    next_id: u64,
    /// Keys added to [`Quick`]'s filter since it was last rebuilt, plus
    /// the records it was rebuilt from: how full of forgotten keys it is.
    filter_load: usize,
}

/// What [`BanList::check`] reads without taking the lock, so that a key
/// the list knows nothing of (nearly every packet) costs a hash and one
/// load of a word no writer touches per packet: no locked instruction,
/// and nothing that moves between cores when many threads check.
///
/// * `bits`: one bit per key hash, set for every key the list holds a
///   record of (set when the record is created, under the write lock,
///   before the lock is released). A clear bit means no record, so no ban
///   of the key itself. Bits are never cleared one by one; the filter is
///   rebuilt from the records (by `expire`) once more keys were added
///   since its last rebuild than the list now holds (plus 64), which
///   costs one pass over the records for at least as many removals. While
///   it is rebuilt a reader sees old or new words, each holding the bits
///   of every record present, so it never misses a ban. 16 bits per key
///   of capacity (at least 4096 bits, at most 8 MiB): with the list full,
///   about 6 % of unknown keys take the locked path anyway.
/// * `nets`: set while network bans may be in force (cleared by
///   `expire` once none are); then every check takes the locked path.
struct Quick {
    bits: Box<[AtomicU64]>,
    hasher: KeyHasher,
    nets: AtomicBool,
    /// How many times the filter was rebuilt (the tests make sure it was).
    #[cfg(test)]
    rebuilds: AtomicU64,
}

impl Quick {
    fn new(capacity: usize) -> Self {
        let words = (capacity / 4).next_power_of_two().clamp(64, 1 << 20);
        Self {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            hasher: KeyHasher::new(),
            nets: AtomicBool::new(false),
            #[cfg(test)]
            rebuilds: AtomicU64::new(0),
        }
    }

    /// The key's word and bit.
    #[inline(always)]
    fn slot<K: Hash + 'static>(&self, key: &K) -> (usize, u64) {
        let h = self.hasher.hash(key);
        let w = (h >> 6) as usize & (self.bits.len() - 1);
        (w, 1 << (h & 63))
    }

    /// `false` only if the list holds no record of `key` (folded).
    #[inline(always)]
    fn may_hold<K: Hash + 'static>(&self, key: &K) -> bool {
        let (w, bit) = self.slot(key);
        self.bits
            .get(w)
            .is_none_or(|x| x.load(Ordering::Acquire) & bit != 0)
    }

    /// Called with the write lock held, when a record of `key` is made.
    fn add<K: Hash + 'static>(&self, key: &K, state: &mut State<K>) {
        let (w, bit) = self.slot(key);
        if let Some(x) = self.bits.get(w) {
            x.fetch_or(bit, Ordering::Release);
        }
        state.filter_load = state.filter_load.saturating_add(1);
    }

    /// Called with the write lock held (by `expire`): rebuilds the filter
    /// if it holds more forgotten keys than live ones, and clears `nets`
    /// if no network ban is left.
    fn refresh<K: Hash + 'static>(&self, state: &mut State<K>) {
        self.nets
            .store(!state.nets.map.is_empty(), Ordering::Release);
        let live = state.records.len();
        if state.filter_load <= live.saturating_mul(2).saturating_add(64) {
            return;
        }
        let mut fresh = vec![0u64; self.bits.len()];
        for key in state.records.keys() {
            let (w, bit) = self.slot(key);
            if let Some(x) = fresh.get_mut(w) {
                *x |= bit;
            }
        }
        for (x, f) in self.bits.iter().zip(fresh) {
            x.store(f, Ordering::Release);
        }
        state.filter_load = live;
        #[cfg(test)]
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
    }
}

/// The ban list: who is banned, why, until when; escalation for repeat
/// offenders; a whitelist; change notifications for a cluster; snapshots.
///
/// # How to drive it
///
/// 1. Build it once from a [`BanConfig`] with [`BanList::new`]; share it
///    (`Arc<BanList<_>>`) between threads.
/// 2. Per packet or request, first thing: [`check(&key, now)`](Self::check)
///    (for a key the list holds nothing of, while no network ban is in
///    force: a hash and one load, no lock; otherwise a read lock and one
///    hash lookup; no allocation either way). On
///    [`BanCheck::Banned`], drop the packet (or answer 403 / 503 with
///    [`BanCheck::remaining`] as `Retry-After`).
/// 3. When a counter says a key crossed its threshold, call
///    [`ban(&key, reason, rule, &clock)`](Self::ban) or
///    [`ban_for`](Self::ban_for) with the rule's own base duration. The
///    ban's length is escalated for repeat offenders ([`Escalation`]). The
///    returned [`BanOutcome`] carries the [`BanChange`].
/// 4. Every few seconds (a timer in the caller), call
///    [`expire(&clock)`](Self::expire): it lifts bans whose time ran out and
///    forgets old history, returning the `Unban` changes. A ban is not in
///    force after its end even if `expire` was not called; `expire` only
///    reports it and frees memory.
/// 5. For a cluster: [`drain_changes`](Self::drain_changes) returns every
///    change made here since the last call (ban, unban, expiry), to publish;
///    changes received from other nodes go to
///    [`apply_remote`](Self::apply_remote), which applies them without
///    queueing them again.
/// 6. On shutdown (and periodically), [`snapshot(&clock)`](Self::snapshot)
///    and write it (serde); on start, [`restore`](Self::restore) it. Expired
///    bans are dropped on restore; a restart loses no ban.
///
/// Keys are folded ([`IpFold`]): with the default `/64`, banning
/// `2001:db8::1` bans `2001:db8::/64`, and `check` of any address in it
/// reports the ban. Whitelisted keys are never banned. Bans live in their
/// own table, apart from the counters, so flooding a counter cannot evict a
/// ban; the list itself holds at most [`BanConfig::capacity`] keys (see the
/// crate docs, "Bounded memory").
///
/// ```
/// use std::net::IpAddr;
/// use std::time::Duration;
/// use pbxsec_core::{Clock, ManualClock};
/// use pbxsec_ratelimit::{BanConfig, BanList, BanOutcome};
///
/// let clock = ManualClock::default();
/// let bans: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
/// let ip: IpAddr = "2001:db8::7".parse().unwrap();
/// assert!(matches!(bans.ban(&ip, "50 failed auths", "sip-auth", &clock), BanOutcome::Banned(_)));
/// let neighbour: IpAddr = "2001:db8::8".parse().unwrap(); // same /64
/// assert!(bans.check(&neighbour, clock.now()).is_banned());
/// clock.advance(Duration::from_secs(3600));
/// assert!(!bans.check(&ip, clock.now()).is_banned()); // 1 h later
/// ```
pub struct BanList<K> {
    state: RwLock<State<K>>,
    quick: Quick,
    changes: Mutex<Changes<K>>,
    fold: IpFold,
    whitelist: Arc<Whitelist<K>>,
    /// The whitelist generation whose bans were last lifted.
    seen_whitelist: AtomicU64,
    config: BanConfig,
}

struct Changes<K> {
    queue: VecDeque<BanChange<K>>,
    seq: u64,
    dropped: u64,
}

impl<K: Hash + Eq + Clone + 'static> TryFrom<BanConfig> for BanList<K> {
    type Error = Error;
    fn try_from(config: BanConfig) -> Result<Self> {
        Self::new(config)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Wall time of monotonic `t`, given that `now` is `wall`.
fn to_wall(t: u64, now: Instant, wall: UnixTime) -> UnixTime {
    let now = now.as_nanos();
    if t >= now {
        wall.saturating_add(Duration::from_nanos(t - now))
    } else {
        let back = (now - t) / 1_000_000;
        UnixTime::from_millis(wall.as_millis().saturating_sub(back))
    }
}

/// Monotonic time of wall `w`, given that `now` is `wall`.
fn to_mono(w: UnixTime, now: Instant, wall: UnixTime) -> u64 {
    let now = now.as_nanos();
    if w >= wall {
        let ms = w.as_millis() - wall.as_millis();
        now.saturating_add(ms.saturating_mul(1_000_000))
    } else {
        let ms = wall.as_millis() - w.as_millis();
        now.saturating_sub(ms.saturating_mul(1_000_000))
    }
}

impl<K: Hash + Eq + Clone + 'static> State<K> {
    fn unindex(&mut self, key: &K) {
        let Some(rec) = self.records.get_mut(key) else {
            return;
        };
        if let Some(idx) = rec.idx.take() {
            if rec.active.is_some() {
                self.expiries.remove(&idx);
            } else {
                self.forgets.remove(&idx);
            }
        }
    }

    /// Puts the record in the right index; removes it if nothing is left to
    /// remember.
    fn reindex(&mut self, key: &K, repeat_memory: u64) {
        self.unindex(key);
        let id = self.next_id;
        let Some(rec) = self.records.get_mut(key) else {
            return;
        };
        match &rec.active {
            Some(a) => {
                if let Some(until) = a.until {
                    rec.idx = Some((until, id));
                    self.expiries.insert((until, id), key.clone());
                    self.next_id += 1;
                }
            }
            None => {
                let forget = rec
                    .last_ban
                    .saturating_add(repeat_memory)
                    .max(rec.grace_until);
                rec.idx = Some((forget, id));
                self.forgets.insert((forget, id), key.clone());
                self.next_id += 1;
            }
        }
    }

    fn remove(&mut self, key: &K) {
        self.unindex(key);
        self.records.remove(key);
    }
}

impl<K: Hash + Eq + Clone + 'static> BanList<K> {
    /// Validates `config`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the field: a zero `escalation.factor`,
    /// a zero `permanent_after` or `recidive.after_bans`, a zero or too large
    /// `capacity`, a bad prefix, an empty `origin`.
    pub fn new(config: BanConfig) -> Result<Self> {
        check_capacity(config.capacity)?;
        check_prefixes(config.ipv4_prefix, config.ipv6_prefix)?;
        if config.escalation.factor == 0 {
            return Err(Error::config("escalation.factor", "must be at least 1"));
        }
        if config.escalation.permanent_after == Some(0) {
            return Err(Error::config(
                "escalation.permanent_after",
                "must be at least 1",
            ));
        }
        if config
            .escalation
            .recidive
            .as_ref()
            .is_some_and(|r| r.after_bans == 0)
        {
            return Err(Error::config(
                "escalation.recidive.after_bans",
                "must be at least 1",
            ));
        }
        if config.origin.is_empty() {
            return Err(Error::config("origin", "must not be empty"));
        }
        if config.max_network_bans > MAX_NETWORK_BANS {
            return Err(Error::config(
                "max_network_bans",
                format!(
                    "{} exceeds the maximum of {MAX_NETWORK_BANS}",
                    config.max_network_bans
                ),
            ));
        }
        let whitelist = Arc::new(Whitelist::from_nets(config.whitelist.iter().copied()));
        Ok(Self {
            state: RwLock::new(State {
                records: HashMap::with_hasher(ahash::RandomState::new()),
                expiries: BTreeMap::new(),
                forgets: BTreeMap::new(),
                nets: NetBans::new(),
                next_id: 0,
                filter_load: 0,
            }),
            quick: Quick::new(config.capacity),
            changes: Mutex::new(Changes {
                queue: VecDeque::new(),
                seq: 0,
                dropped: 0,
            }),
            fold: IpFold::new(config.ipv4_prefix, config.ipv6_prefix),
            whitelist,
            seen_whitelist: AtomicU64::new(0),
            config,
        })
    }

    /// The same list with another whitelist (replacing the one from
    /// [`BanConfig::whitelist`]); share it with the counters so that they
    /// never count what is never banned.
    #[must_use]
    pub fn with_whitelist(mut self, whitelist: Arc<Whitelist<K>>) -> Self {
        self.whitelist = whitelist;
        // Lift, on the next `expire`, bans of keys this whitelist holds.
        self.seen_whitelist = AtomicU64::new(u64::MAX);
        self
    }

    /// The whitelist in force (share it with the counters).
    pub fn whitelist(&self) -> Arc<Whitelist<K>> {
        Arc::clone(&self.whitelist)
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &BanConfig {
        &self.config
    }

    /// The key as this list stores it (canonical, folded).
    pub fn folded(&self, key: &K) -> K {
        fold_key(self.fold, key).into_owned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<K>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<K>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Is `key` banned at `now`? The per-packet check.
    ///
    /// A key is banned if its own (folded) ban is in force, or, for an
    /// IP-bearing key, a network ban covering its canonical address is;
    /// `until` is the later end of the two. Cost: for a key the list holds
    /// no record of, while no network ban is in force (nearly every
    /// packet), a hash and one load of a filter word, without the lock (no
    /// locked instruction, nothing written: many threads check without
    /// slowing each other); otherwise a read lock, one hash lookup for the
    /// key, plus, only while network bans exist, one hash lookup per
    /// distinct prefix length among the network bans of the address's
    /// family (at most 33 for IPv4, 129 for IPv6; usually one or two). A
    /// whitelisted key is never reported banned (the whitelist is consulted
    /// only when a ban was found, so it costs nothing on clear packets).
    #[inline]
    pub fn check(&self, key: &K, now: Instant) -> BanCheck {
        // Without the lock: a key the list holds no record of, while no
        // network ban is in force, is clear (see `Quick`).
        if !self.quick.nets.load(Ordering::Acquire) {
            let held = if fold_is_identity(self.fold, key) {
                self.quick.may_hold(key)
            } else {
                self.quick.may_hold(&*fold_key(self.fold, key))
            };
            if !held {
                return BanCheck::Clear;
            }
        }
        self.check_locked(key, now)
    }

    /// [`check`](Self::check) past the filter: under the read lock.
    #[inline(never)]
    fn check_locked(&self, key: &K, now: Instant) -> BanCheck {
        let folded = fold_key(self.fold, key);
        let now_n = now.as_nanos();
        let state = self.read();
        let mut found = match state.records.get(&folded).and_then(|r| r.active.as_ref()) {
            Some(a) if a.until.is_none_or(|u| u > now_n) => Some(a.until),
            _ => None,
        };
        if !state.nets.is_empty() {
            if let Some(net_until) = key_ip(key).and_then(|ip| state.nets.covering(ip, now_n)) {
                found = Some(found.map_or(net_until, |u| longer(u, net_until)));
            }
        }
        drop(state);
        match found {
            Some(until) if !self.whitelisted(key, &folded) => BanCheck::Banned {
                until: until.map(Instant::from_nanos),
            },
            _ => BanCheck::Clear,
        }
    }

    fn whitelisted(&self, key: &K, folded: &K) -> bool {
        self.whitelist.contains(key) || self.whitelist_holds(folded)
    }

    /// Whether the whitelist holds everything a folded key stands for: the
    /// key itself when folding keeps keys whole, else the key exactly (a
    /// ban key whitelisted as such) or a whitelisted network holding its
    /// whole network (a whitelisted `/128` inside a `/64` exempts that
    /// address, not the `/64`, even when the `/64`'s key is written as that
    /// same address, its first).
    fn whitelist_holds(&self, folded: &K) -> bool {
        if fold_is_identity(self.fold, folded) {
            return self.whitelist.contains(folded);
        }
        let Some(ip) = key_ip(folded) else {
            return self.whitelist.contains(folded);
        };
        let (prefix, whole) = match ip {
            IpAddr::V4(_) => (self.fold.v4_prefix(), 32),
            IpAddr::V6(_) => (self.fold.v6_prefix(), 128),
        };
        if prefix >= whole {
            return self.whitelist.contains(folded);
        }
        self.whitelist.holds_key(folded)
            || IpNet::new(ip, prefix).is_ok_and(|net| self.whitelist.covers_net(&net))
    }

    /// `check(key, now).is_banned()`.
    #[inline]
    pub fn is_banned(&self, key: &K, now: Instant) -> bool {
        self.check(key, now).is_banned()
    }

    /// The ban in force on `key` itself (not a network ban covering it;
    /// see [`get_net`](BanList::get_net)), with its reason and rule.
    pub fn get(&self, key: &K, now: Instant) -> Option<Ban<K>> {
        let key = fold_key(self.fold, key);
        let state = self.read();
        let rec = state.records.get(&key)?;
        let a = rec.active.as_ref()?;
        if a.until.is_some_and(|u| u <= now.as_nanos()) {
            return None;
        }
        Some(Ban {
            key: key.into_owned(),
            reason: a.reason.clone(),
            rule: a.rule.clone(),
            since: Instant::from_nanos(a.since),
            until: a.until.map(Instant::from_nanos),
            repeat: a.repeat,
        })
    }

    /// Every key ban in force at `now` (unordered; network bans:
    /// [`list_nets`](BanList::list_nets)).
    pub fn list(&self, now: Instant) -> Vec<Ban<K>> {
        let state = self.read();
        state
            .records
            .iter()
            .filter_map(|(k, rec)| {
                let a = rec.active.as_ref()?;
                if a.until.is_some_and(|u| u <= now.as_nanos()) {
                    return None;
                }
                Some(Ban {
                    key: k.clone(),
                    reason: a.reason.clone(),
                    rule: a.rule.clone(),
                    since: Instant::from_nanos(a.since),
                    until: a.until.map(Instant::from_nanos),
                    repeat: a.repeat,
                })
            })
            .collect()
    }

    /// The number of key bans in force at `now` (network bans:
    /// [`network_bans`](Self::network_bans)).
    pub fn len(&self, now: Instant) -> usize {
        let state = self.read();
        state
            .records
            .values()
            .filter(|r| {
                r.active
                    .as_ref()
                    .is_some_and(|a| a.until.is_none_or(|u| u > now.as_nanos()))
            })
            .count()
    }

    /// `true` when no ban (of a key or a network) is in force at `now`.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0 && self.network_bans(now) == 0
    }

    /// The number of network bans in force at `now`.
    pub fn network_bans(&self, now: Instant) -> usize {
        let now_n = now.as_nanos();
        self.read()
            .nets
            .map
            .values()
            .filter(|r| r.until.is_none_or(|u| u > now_n))
            .count()
    }

    /// The number of keys remembered (bans, grace periods, repeat history).
    pub fn remembered(&self) -> usize {
        self.read().records.len()
    }

    /// Bans `key` for [`BanConfig::ban_for`], escalated.
    pub fn ban(&self, key: &K, reason: &str, rule: &str, clock: &impl Clock) -> BanOutcome<K> {
        self.ban_for(key, self.config.ban_for, reason, rule, clock)
    }

    /// Bans `key` for `base`, escalated for repeat offenders (see
    /// [`Escalation`]). A key already banned until later is left alone
    /// ([`BanOutcome::AlreadyBanned`]); one banned until sooner has its ban
    /// extended (not counted as a repeat). Whitelisted keys and keys in an
    /// unban grace period are not banned.
    pub fn ban_for(
        &self,
        key: &K,
        base: Duration,
        reason: &str,
        rule: &str,
        clock: &impl Clock,
    ) -> BanOutcome<K> {
        self.ban_inner(key, Some(base), reason, rule, clock, false)
    }

    /// Bans `key` permanently, until [`unban`](Self::unban): an
    /// administrator's ban. Ignores grace periods, not the whitelist.
    pub fn ban_permanent(
        &self,
        key: &K,
        reason: &str,
        rule: &str,
        clock: &impl Clock,
    ) -> BanOutcome<K> {
        self.ban_inner(key, None, reason, rule, clock, true)
    }

    fn ban_inner(
        &self,
        key: &K,
        base: Option<Duration>,
        reason: &str,
        rule: &str,
        clock: &impl Clock,
        manual: bool,
    ) -> BanOutcome<K> {
        if self.whitelist.contains(key) {
            return BanOutcome::Whitelisted;
        }
        let key = fold_key(self.fold, key).into_owned();
        if self.whitelist_holds(&key) {
            return BanOutcome::Whitelisted;
        }
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        let memory = nanos(self.config.escalation.repeat_memory);
        let mut state = self.write();
        self.purge_locked(&mut state, now, wall);
        let (repeat, extend_only) = match state.records.get(&key) {
            Some(rec) => {
                if let Some(a) = &rec.active {
                    // Still in force (purge removed ended ones).
                    let new_until = base.map(|b| now_n.saturating_add(nanos(b)));
                    let longer = match (a.until, new_until) {
                        (None, _) => false,
                        (Some(_), None) => true,
                        (Some(old), Some(new)) => new > old,
                    };
                    if !longer {
                        return BanOutcome::AlreadyBanned {
                            until: a.until.map(Instant::from_nanos),
                        };
                    }
                    (a.repeat, true)
                } else {
                    if !manual && rec.grace_until > now_n {
                        return BanOutcome::InGrace {
                            until: Instant::from_nanos(rec.grace_until),
                        };
                    }
                    let remembered = rec.last_ban.saturating_add(memory) > now_n;
                    (if remembered { rec.bans } else { 0 }, false)
                }
            }
            None => (0, false),
        };
        let until = if extend_only {
            base.map(|b| now_n.saturating_add(nanos(b)))
        } else {
            match base {
                Some(b) => self
                    .config
                    .escalation
                    .duration(b, repeat)
                    .map(|d| now_n.saturating_add(nanos(d))),
                None => None,
            }
        };
        if !state.records.contains_key(&key) && !self.make_room(&mut state) {
            return BanOutcome::Full;
        }
        self.quick.add(&key, &mut state);
        let rec = state.records.entry(key.clone()).or_insert(Record {
            active: None,
            bans: 0,
            last_ban: 0,
            grace_until: 0,
            idx: None,
        });
        if !extend_only {
            rec.bans = repeat.saturating_add(1);
            rec.last_ban = now_n;
        }
        let since = rec.active.as_ref().map_or(now_n, |a| a.since);
        // Unindex before the record changes kind.
        let had_active = rec.active.is_some();
        let old_idx = rec.idx.take();
        if let Some(idx) = old_idx {
            if had_active {
                state.expiries.remove(&idx);
            } else {
                state.forgets.remove(&idx);
            }
        }
        if let Some(rec) = state.records.get_mut(&key) {
            rec.grace_until = 0;
            rec.active = Some(Active {
                since,
                until,
                reason: reason.to_owned(),
                rule: rule.to_owned(),
                repeat,
            });
        }
        state.reindex(&key, memory);
        drop(state);
        let change = self.emit(
            key,
            None,
            wall,
            BanAction::Ban {
                until: until.map(|u| to_wall(u, now, wall)),
                reason: reason.to_owned(),
                rule: rule.to_owned(),
                repeat,
            },
        );
        BanOutcome::Banned(change)
    }

    /// Frees one place: the inactive record forgotten soonest, else the
    /// timed ban ending soonest. `false` if only permanent bans are left.
    fn make_room(&self, state: &mut State<K>) -> bool {
        if state.records.len() < self.config.capacity {
            return true;
        }
        let victim = state
            .forgets
            .first_key_value()
            .or_else(|| state.expiries.first_key_value())
            .map(|(_, k)| k.clone());
        match victim {
            Some(k) => {
                state.remove(&k);
                true
            }
            None => false,
        }
    }

    /// Lifts `key`'s ban (a manual unban). With [`BanConfig::unban_grace`],
    /// the key is not banned automatically again before the grace ends.
    /// Its repeat history is kept (see [`forget`](Self::forget)). Returns
    /// the change, or `None` if the key was not banned.
    pub fn unban(&self, key: &K, clock: &impl Clock) -> Option<BanChange<K>> {
        let key = fold_key(self.fold, key).into_owned();
        let now = clock.now();
        let wall = clock.wall();
        let memory = nanos(self.config.escalation.repeat_memory);
        let grace = nanos(self.config.unban_grace);
        let mut state = self.write();
        let active = state
            .records
            .get(&key)?
            .active
            .as_ref()
            .is_some_and(|a| a.until.is_none_or(|u| u > now.as_nanos()));
        if !active {
            return None;
        }
        state.unindex(&key);
        let grace_until = now.as_nanos().saturating_add(grace);
        if let Some(rec) = state.records.get_mut(&key) {
            rec.active = None;
            rec.grace_until = if grace > 0 { grace_until } else { 0 };
        }
        state.reindex(&key, memory);
        drop(state);
        Some(self.emit(
            key,
            None,
            wall,
            BanAction::Unban {
                cause: UnbanCause::Manual,
                grace_until: (grace > 0).then(|| to_wall(grace_until, now, wall)),
            },
        ))
    }

    /// Forgets everything about `key`: ban, grace, repeat history. Emits an
    /// `Unban` change if a ban was in force.
    pub fn forget(&self, key: &K, clock: &impl Clock) -> Option<BanChange<K>> {
        let change = self.unban(key, clock);
        let key = fold_key(self.fold, key).into_owned();
        self.write().remove(&key);
        change
    }

    /// Lifts every ban whose time has run out and forgets history older
    /// than the repeat memory; returns the `Unban { cause: Expired }`
    /// changes (also queued for [`drain_changes`](Self::drain_changes)).
    /// Call it every few seconds.
    ///
    /// If the whitelist changed since the last look (through any holder of
    /// the shared `Arc<Whitelist>`), it first lifts the bans of keys and
    /// networks it now holds, returning `Unban { cause: Whitelisted }`
    /// changes too.
    pub fn expire(&self, clock: &impl Clock) -> Vec<BanChange<K>> {
        let mut changes =
            if self.whitelist.generation() == self.seen_whitelist.load(Ordering::Acquire) {
                Vec::new()
            } else {
                self.lift_whitelisted(clock)
            };
        let now = clock.now();
        let wall = clock.wall();
        let mut state = self.write();
        changes.extend(self.purge_locked(&mut state, now, wall));
        changes
    }

    /// Lifts every ban of a key the whitelist now holds, and every network
    /// ban whose whole network a whitelisted network contains, with
    /// `Unban { cause: Whitelisted }` changes (also queued). A network ban
    /// only partly whitelisted stays; its whitelisted addresses are not
    /// reported banned by [`check`](Self::check). Costs a scan of every
    /// remembered key: an administrator's operation, not a per-packet one.
    /// [`expire`](Self::expire) calls it when the whitelist changed.
    pub fn lift_whitelisted(&self, clock: &impl Clock) -> Vec<BanChange<K>> {
        let generation = self.whitelist.generation();
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        let memory = nanos(self.config.escalation.repeat_memory);
        let mut state = self.write();
        let keys: Vec<K> = state
            .records
            .iter()
            .filter(|(k, r)| {
                r.active
                    .as_ref()
                    .is_some_and(|a| a.until.is_none_or(|u| u > now_n))
                    && self.whitelist_holds(k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            state.unindex(k);
            if let Some(rec) = state.records.get_mut(k) {
                rec.active = None;
            }
            state.reindex(k, memory);
        }
        let nets: Vec<IpNet> = state
            .nets
            .map
            .iter()
            .filter(|(n, r)| r.until.is_none_or(|u| u > now_n) && self.whitelist.covers_net(n))
            .map(|(n, _)| *n)
            .collect();
        for n in &nets {
            state.nets.remove(n);
        }
        self.seen_whitelist.store(generation, Ordering::Release);
        drop(state);
        let lifted = BanAction::Unban {
            cause: UnbanCause::Whitelisted,
            grace_until: None,
        };
        let mut changes: Vec<BanChange<K>> = keys
            .into_iter()
            .map(|k| self.emit(k, None, wall, lifted.clone()))
            .collect();
        changes.extend(nets.into_iter().filter_map(|n| {
            let k = ip_as_key::<K>(n.network())?;
            Some(self.emit(k, Some(n.prefix_len()), wall, lifted.clone()))
        }));
        changes
    }

    /// Whitelists `net` (in the shared [`Whitelist`]) and lifts at once the
    /// bans it now covers (see [`lift_whitelisted`](Self::lift_whitelisted)).
    /// Whitelisting a banned address lifts its ban: an operator who adds a
    /// trunk's address expects its traffic to pass now, not at the ban's end.
    pub fn whitelist_net(&self, net: IpNet, clock: &impl Clock) -> Vec<BanChange<K>> {
        self.whitelist.add_net(net);
        self.lift_whitelisted(clock)
    }

    /// Whitelists the exact `key` and lifts at once the ban it carries.
    pub fn whitelist_key(&self, key: K, clock: &impl Clock) -> Vec<BanChange<K>> {
        self.whitelist.add_key(key);
        self.lift_whitelisted(clock)
    }

    fn purge_locked(
        &self,
        state: &mut State<K>,
        now: Instant,
        wall: UnixTime,
    ) -> Vec<BanChange<K>> {
        let now_n = now.as_nanos();
        let memory = nanos(self.config.escalation.repeat_memory);
        let mut ended = Vec::new();
        let mut ended_nets = Vec::new();
        while let Some(entry) = state.nets.expiries.first_entry() {
            if entry.key().0 > now_n {
                break;
            }
            let ((until, _), net) = entry.remove_entry();
            if let Some(rec) = state.nets.map.get_mut(&net) {
                rec.idx = None;
            }
            state.nets.remove(&net);
            ended_nets.push((net, until));
        }
        while let Some(entry) = state.expiries.first_entry() {
            if entry.key().0 > now_n {
                break;
            }
            let ((until, _), key) = entry.remove_entry();
            if let Some(rec) = state.records.get_mut(&key) {
                rec.idx = None;
                rec.active = None;
            }
            state.reindex(&key, memory);
            ended.push((key, until));
        }
        while let Some(entry) = state.forgets.first_entry() {
            if entry.key().0 > now_n {
                break;
            }
            let (_, key) = entry.remove_entry();
            state.records.remove(&key);
        }
        let expired = BanAction::Unban {
            cause: UnbanCause::Expired,
            grace_until: None,
        };
        let mut changes: Vec<BanChange<K>> = ended
            .into_iter()
            .map(|(key, until)| self.emit(key, None, to_wall(until, now, wall), expired.clone()))
            .collect();
        changes.extend(ended_nets.into_iter().filter_map(|(net, until)| {
            let k = ip_as_key::<K>(net.network())?;
            Some(self.emit(
                k,
                Some(net.prefix_len()),
                to_wall(until, now, wall),
                expired.clone(),
            ))
        }));
        self.quick.refresh(state);
        changes
    }

    fn emit(
        &self,
        key: K,
        net_prefix: Option<u8>,
        at: UnixTime,
        change: BanAction,
    ) -> BanChange<K> {
        let mut ch = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        ch.seq += 1;
        let c = BanChange {
            origin: self.config.origin.clone(),
            seq: ch.seq,
            at,
            key,
            net_prefix,
            change,
        };
        if self.config.max_pending_changes > 0 {
            if ch.queue.len() >= self.config.max_pending_changes {
                ch.queue.pop_front();
                ch.dropped += 1;
            }
            ch.queue.push_back(c.clone());
        } else {
            ch.dropped += 1;
        }
        c
    }

    /// Every change made here (not applied from remote) since the last
    /// call, oldest first.
    pub fn drain_changes(&self) -> Vec<BanChange<K>> {
        let mut ch = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        ch.queue.drain(..).collect()
    }

    /// How many changes were dropped unread because more than
    /// [`BanConfig::max_pending_changes`] were waiting.
    pub fn dropped_changes(&self) -> u64 {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped
    }

    /// Applies a change made on another node. Changes from this node's own
    /// origin, bans for whitelisted keys and bans already over are ignored;
    /// applied changes are not queued again (no echo). Returns `true` if
    /// the list changed.
    pub fn apply_remote(&self, change: &BanChange<K>, clock: &impl Clock) -> bool {
        if change.origin == self.config.origin {
            return false;
        }
        if let Some(prefix) = change.net_prefix {
            return self.apply_remote_net(change, prefix, clock);
        }
        let key = fold_key(self.fold, &change.key).into_owned();
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        let memory = nanos(self.config.escalation.repeat_memory);
        match &change.change {
            BanAction::Ban {
                until,
                reason,
                rule,
                repeat,
            } => {
                if self.whitelist_holds(&key) {
                    return false;
                }
                let until_m = until.map(|u| to_mono(u, now, wall));
                if until_m.is_some_and(|u| u <= now_n) {
                    return false;
                }
                let since = to_mono(change.at, now, wall).min(now_n);
                let mut state = self.write();
                if !state.records.contains_key(&key) && !self.make_room(&mut state) {
                    return false;
                }
                state.unindex(&key);
                self.quick.add(&key, &mut state);
                let rec = state.records.entry(key.clone()).or_insert(Record {
                    active: None,
                    bans: 0,
                    last_ban: 0,
                    grace_until: 0,
                    idx: None,
                });
                rec.bans = rec.bans.max(repeat.saturating_add(1));
                rec.last_ban = rec.last_ban.max(since);
                rec.grace_until = 0;
                rec.active = Some(Active {
                    since,
                    until: until_m,
                    reason: reason.clone(),
                    rule: rule.clone(),
                    repeat: *repeat,
                });
                state.reindex(&key, memory);
                true
            }
            BanAction::Unban { grace_until, .. } => {
                let mut state = self.write();
                if state.records.get(&key).is_none_or(|r| r.active.is_none()) {
                    return false;
                }
                state.unindex(&key);
                if let Some(rec) = state.records.get_mut(&key) {
                    rec.active = None;
                    rec.grace_until = grace_until.map_or(0, |g| to_mono(g, now, wall));
                }
                state.reindex(&key, memory);
                true
            }
        }
    }

    fn apply_remote_net(&self, change: &BanChange<K>, prefix: u8, clock: &impl Clock) -> bool {
        if !is_ip_key::<K>() {
            return false;
        }
        let Some(net) = key_ip(&change.key).and_then(|ip| IpNet::new(ip, prefix).ok()) else {
            return false;
        };
        let net = canonical_net(net);
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        match &change.change {
            BanAction::Ban {
                until,
                reason,
                rule,
                ..
            } => {
                if self.whitelist.covers_net(&net) {
                    return false;
                }
                let until_m = until.map(|u| to_mono(u, now, wall));
                if until_m.is_some_and(|u| u <= now_n) {
                    return false;
                }
                let mut state = self.write();
                if !state.nets.map.contains_key(&net)
                    && state.nets.map.len() >= self.config.max_network_bans
                {
                    return false;
                }
                let rec = NetRec {
                    since: to_mono(change.at, now, wall).min(now_n),
                    until: until_m,
                    reason: reason.clone(),
                    rule: rule.clone(),
                    idx: None,
                };
                let State { nets, next_id, .. } = &mut *state;
                nets.insert(net, rec, next_id);
                self.quick.nets.store(true, Ordering::Release);
                true
            }
            BanAction::Unban { .. } => self.write().nets.remove(&net).is_some(),
        }
    }

    /// Every ban, grace period and remembered repeat, with wall-clock times
    /// (via [`Clock::wall`]), to serialise with serde.
    pub fn snapshot(&self, clock: &impl Clock) -> BanSnapshot<K> {
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        let state = self.read();
        let entries = state
            .records
            .iter()
            .map(|(k, rec)| SnapshotEntry {
                key: k.clone(),
                ban: rec
                    .active
                    .as_ref()
                    .filter(|a| a.until.is_none_or(|u| u > now_n))
                    .map(|a| SnapshotBan {
                        since: to_wall(a.since, now, wall),
                        until: a.until.map(|u| to_wall(u, now, wall)),
                        reason: a.reason.clone(),
                        rule: a.rule.clone(),
                        repeat: a.repeat,
                    }),
                bans: rec.bans,
                last_ban: to_wall(rec.last_ban, now, wall),
                grace_until: (rec.grace_until > now_n).then(|| to_wall(rec.grace_until, now, wall)),
            })
            .collect();
        let nets = state
            .nets
            .map
            .iter()
            .filter(|(_, r)| r.until.is_none_or(|u| u > now_n))
            .map(|(n, r)| SnapshotNetBan {
                net: *n,
                ban: SnapshotBan {
                    since: to_wall(r.since, now, wall),
                    until: r.until.map(|u| to_wall(u, now, wall)),
                    reason: r.reason.clone(),
                    rule: r.rule.clone(),
                    repeat: 0,
                },
            })
            .collect();
        BanSnapshot {
            version: 1,
            origin: self.config.origin.clone(),
            taken_at: wall,
            entries,
            nets,
        }
    }

    /// Loads a snapshot (taken here or on another node) into this list,
    /// replacing what it holds for the same keys. Bans that ended by
    /// [`Clock::wall`] are dropped (their repeat history is kept while
    /// remembered), whitelisted keys are skipped, and no changes are queued.
    /// Returns how many bans are in force from it.
    pub fn restore(&self, snapshot: &BanSnapshot<K>, clock: &impl Clock) -> usize {
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        let memory = nanos(self.config.escalation.repeat_memory);
        let mut restored = 0;
        let mut state = self.write();
        for e in &snapshot.entries {
            let key = fold_key(self.fold, &e.key).into_owned();
            if self.whitelist_holds(&key) {
                continue;
            }
            let active = e.ban.as_ref().and_then(|b| {
                let until = b.until.map(|u| to_mono(u, now, wall));
                if until.is_some_and(|u| u <= now_n) {
                    return None;
                }
                Some(Active {
                    since: to_mono(b.since, now, wall),
                    until,
                    reason: b.reason.clone(),
                    rule: b.rule.clone(),
                    repeat: b.repeat,
                })
            });
            let last_ban = to_mono(e.last_ban, now, wall);
            let grace_until = e.grace_until.map_or(0, |g| to_mono(g, now, wall));
            if active.is_none() && last_ban.saturating_add(memory) <= now_n && grace_until <= now_n
            {
                continue;
            }
            if !state.records.contains_key(&key) && !self.make_room(&mut state) {
                continue;
            }
            if active.is_some() {
                restored += 1;
            }
            state.unindex(&key);
            self.quick.add(&key, &mut state);
            state.records.insert(
                key.clone(),
                Record {
                    active,
                    bans: e.bans,
                    last_ban,
                    grace_until,
                    idx: None,
                },
            );
            state.reindex(&key, memory);
        }
        if is_ip_key::<K>() {
            for n in &snapshot.nets {
                let net = canonical_net(n.net);
                let until = n.ban.until.map(|u| to_mono(u, now, wall));
                if until.is_some_and(|u| u <= now_n) || self.whitelist.covers_net(&net) {
                    continue;
                }
                if !state.nets.map.contains_key(&net)
                    && state.nets.map.len() >= self.config.max_network_bans
                {
                    continue;
                }
                let rec = NetRec {
                    since: to_mono(n.ban.since, now, wall),
                    until,
                    reason: n.ban.reason.clone(),
                    rule: n.ban.rule.clone(),
                    idx: None,
                };
                let State { nets, next_id, .. } = &mut *state;
                nets.insert(net, rec, next_id);
                self.quick.nets.store(true, Ordering::Release);
                restored += 1;
            }
        }
        restored
    }
}

/// Network bans: a manual ban that covers every address of a network, for
/// a `BanList<IpAddr>`.
///
/// Network bans live beside key bans (in the same lock, in their own
/// table), are checked by every [`check`](BanList::check) of an address,
/// expire like key bans (with `Unban { cause: Expired }` changes carrying
/// [`BanChange::net_prefix`]), appear in snapshots ([`BanSnapshot::nets`])
/// and are restored. They do not escalate and have no grace period (they
/// are an administrator's decision), and at most
/// [`BanConfig::max_network_bans`] may be in force. Addresses are matched
/// in their canonical form, not folded: a `/128` network ban bans one
/// address even with the default `/64` folding.
///
/// ```
/// use std::net::IpAddr;
/// use std::time::Duration;
/// use pbxsec_core::{Clock, ManualClock};
/// use pbxsec_ratelimit::{BanConfig, BanList, BanOutcome};
///
/// let clock = ManualClock::default();
/// let bans: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
/// let net = "203.0.113.0/24".parse().unwrap();
/// let out = bans.ban_net(net, Some(Duration::from_secs(86_400)), "scanner range", "admin", &clock);
/// assert!(matches!(out, BanOutcome::Banned(_)));
/// assert!(bans.check(&"203.0.113.77".parse().unwrap(), clock.now()).is_banned());
/// assert!(!bans.check(&"203.0.114.1".parse().unwrap(), clock.now()).is_banned());
/// assert_eq!(bans.list_nets(clock.now()).len(), 1);
/// ```
impl BanList<IpAddr> {
    /// Bans every address of `net` for `duration` (`None`: permanent, until
    /// [`unban_net`](Self::unban_net)). A network already banned until
    /// later is left alone ([`BanOutcome::AlreadyBanned`]); one banned until
    /// sooner is extended. A network wholly inside a whitelisted network is
    /// refused ([`BanOutcome::Whitelisted`]); whitelisted addresses inside
    /// a banned network are never reported banned. Beyond
    /// [`BanConfig::max_network_bans`]: [`BanOutcome::Full`].
    pub fn ban_net(
        &self,
        net: IpNet,
        duration: Option<Duration>,
        reason: &str,
        rule: &str,
        clock: &impl Clock,
    ) -> BanOutcome<IpAddr> {
        let net = canonical_net(net);
        if self.whitelist.covers_net(&net) {
            return BanOutcome::Whitelisted;
        }
        let now = clock.now();
        let wall = clock.wall();
        let now_n = now.as_nanos();
        let until = duration.map(|d| now_n.saturating_add(nanos(d)));
        let mut state = self.write();
        self.purge_locked(&mut state, now, wall);
        let since = match state.nets.map.get(&net) {
            Some(old) => {
                let is_longer = match (old.until, until) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(o), Some(n)) => n > o,
                };
                if !is_longer {
                    return BanOutcome::AlreadyBanned {
                        until: old.until.map(Instant::from_nanos),
                    };
                }
                old.since
            }
            None => {
                if state.nets.map.len() >= self.config.max_network_bans {
                    return BanOutcome::Full;
                }
                now_n
            }
        };
        let rec = NetRec {
            since,
            until,
            reason: reason.to_owned(),
            rule: rule.to_owned(),
            idx: None,
        };
        let State { nets, next_id, .. } = &mut *state;
        nets.insert(net, rec, next_id);
        self.quick.nets.store(true, Ordering::Release);
        drop(state);
        BanOutcome::Banned(self.emit(
            net.network(),
            Some(net.prefix_len()),
            wall,
            BanAction::Ban {
                until: until.map(|u| to_wall(u, now, wall)),
                reason: reason.to_owned(),
                rule: rule.to_owned(),
                repeat: 0,
            },
        ))
    }

    /// Lifts the ban of exactly `net` (as banned; host bits ignored).
    /// Returns the change, or `None` if it was not banned.
    pub fn unban_net(&self, net: IpNet, clock: &impl Clock) -> Option<BanChange<IpAddr>> {
        let net = canonical_net(net);
        let now = clock.now();
        let wall = clock.wall();
        {
            let mut state = self.write();
            // An ended ban is left for `expire` to report, like a key's.
            if state
                .nets
                .map
                .get(&net)?
                .until
                .is_some_and(|u| u <= now.as_nanos())
            {
                return None;
            }
            state.nets.remove(&net);
        }
        Some(self.emit(
            net.network(),
            Some(net.prefix_len()),
            wall,
            BanAction::Unban {
                cause: UnbanCause::Manual,
                grace_until: None,
            },
        ))
    }

    /// The ban in force on exactly `net`.
    pub fn get_net(&self, net: IpNet, now: Instant) -> Option<Ban<IpNet>> {
        let net = canonical_net(net);
        let state = self.read();
        let r = state.nets.map.get(&net)?;
        if r.until.is_some_and(|u| u <= now.as_nanos()) {
            return None;
        }
        Some(net_ban(net, r))
    }

    /// Every network ban in force at `now` (unordered).
    pub fn list_nets(&self, now: Instant) -> Vec<Ban<IpNet>> {
        let now_n = now.as_nanos();
        self.read()
            .nets
            .map
            .iter()
            .filter(|(_, r)| r.until.is_none_or(|u| u > now_n))
            .map(|(n, r)| net_ban(*n, r))
            .collect()
    }
}

fn net_ban(net: IpNet, r: &NetRec) -> Ban<IpNet> {
    Ban {
        key: net,
        reason: r.reason.clone(),
        rule: r.rule.clone(),
        since: Instant::from_nanos(r.since),
        until: r.until.map(Instant::from_nanos),
        repeat: 0,
    }
}

#[cfg(test)]
mod quick_tests {
    //! The lock-free filter in front of [`BanList::check`] against the
    //! locked lookup ([`BanList::get`]), its oracle.
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use pbxsec_core::ManualClock;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Ban(u32, u64),
        Unban(u32),
        Advance(u64),
        Expire,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0u32..300, 1u64..4).prop_map(|(k, s)| Op::Ban(k, s)),
            1 => (0u32..300).prop_map(Op::Unban),
            3 => (1u64..1500).prop_map(Op::Advance),
            2 => Just(Op::Expire),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Bans that expire, are lifted, forgotten (a two-second repeat
        /// memory) and come back: after every step, `check` (through the
        /// filter) says banned exactly when the locked lookup finds a ban,
        /// for every key; and the filter was rebuilt along the way.
        #[test]
        fn the_filter_never_hides_a_ban(ops in proptest::collection::vec(op(), 300..600)) {
            let mut config = BanConfig::default();
            config.escalation.repeat_memory = Duration::from_secs(2);
            config.capacity = 1000;
            let bans: BanList<u32> = BanList::new(config).unwrap();
            let clock = ManualClock::default();
            for op in &ops {
                match *op {
                    Op::Ban(k, s) => {
                        bans.ban_for(&k, Duration::from_secs(s), "test", "quick", &clock);
                    }
                    Op::Unban(k) => {
                        bans.unban(&k, &clock);
                    }
                    Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                    Op::Expire => {
                        bans.expire(&clock);
                    }
                }
                let now = clock.now();
                for k in 0..300u32 {
                    prop_assert_eq!(
                        bans.check(&k, now).is_banned(),
                        bans.get(&k, now).is_some(),
                        "key {} after {:?}", k, op
                    );
                }
            }
            bans.expire(&clock);
            prop_assert!(bans.quick.rebuilds.load(Ordering::Relaxed) > 0);
        }
    }
}
