//! Rate levels: a keyed GCRA limiter with bounded memory.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::Instant;
use serde::{Deserialize, Serialize};

use crate::key::{IpFold, fold_is_identity, fold_key, folded_chunks};
use crate::table::{BoundedMap, Found, SlotValue};
use crate::whitelist::Whitelist;
use crate::{Error, Result};

/// The default number of keys a limiter tracks.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// A rate level as data: "`rate` events per `per`, bursts of up to `burst`".
///
/// Validated into a [`RateLimiter`] with [`RateLimiter::new`] (or
/// `TryFrom`). Serialised with human durations (`"1s"`, `"2m"`).
///
/// ```
/// use pbxsec_ratelimit::RateConfig;
/// let c: RateConfig = serde_json::from_str(r#"{"rate": 500, "per": "1s"}"#).unwrap();
/// assert_eq!(c.burst, None); // defaults to `rate`
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Events allowed per `per`. Must be at least 1.
    pub rate: u32,
    /// The period `rate` is counted over. Must not be zero.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub per: Duration,
    /// How many events may arrive at once after a quiet spell. `None`
    /// (the default) means `rate`: a full period's worth.
    #[serde(default)]
    pub burst: Option<u32>,
    /// The most keys tracked at once (default [`DEFAULT_CAPACITY`]); memory
    /// is allocated once for this many.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// IPv6 keys are folded to this prefix length (default 64).
    #[serde(default = "default_v6")]
    pub ipv6_prefix: u8,
    /// IPv4 keys are folded to this prefix length (default 32).
    #[serde(default = "default_v4")]
    pub ipv4_prefix: u8,
    /// How long the product blocks a key that exceeds this level, if it
    /// does: a value for the caller to hand to [`BanList::ban_for`](crate::BanList::ban_for).
    /// The limiter itself never bans.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_for: Option<Duration>,
}

pub(crate) fn default_capacity() -> usize {
    DEFAULT_CAPACITY
}
pub(crate) fn default_v6() -> u8 {
    crate::key::DEFAULT_IPV6_PREFIX
}
pub(crate) fn default_v4() -> u8 {
    crate::key::DEFAULT_IPV4_PREFIX
}

pub(crate) use pbxsec_core::duration::serde_opt as opt_duration;

impl RateConfig {
    /// `rate` events per `per`, burst `rate`, default capacity and folding.
    pub fn new(rate: u32, per: Duration) -> Self {
        Self {
            rate,
            per,
            burst: None,
            capacity: DEFAULT_CAPACITY,
            ipv6_prefix: default_v6(),
            ipv4_prefix: default_v4(),
            block_for: None,
        }
    }

    /// The same level with another burst.
    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The same level with another capacity.
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The same level with a block duration for the caller.
    #[must_use]
    pub fn with_block_for(mut self, block_for: Duration) -> Self {
        self.block_for = Some(block_for);
        self
    }
}

/// The most keys any structure in this crate may be configured for (2^32).
pub const MAX_CAPACITY: usize = 1 << 32;

pub(crate) fn check_capacity(capacity: usize) -> Result<()> {
    if capacity == 0 {
        return Err(Error::config("capacity", "must be at least 1"));
    }
    if capacity > MAX_CAPACITY {
        return Err(Error::config(
            "capacity",
            format!("{capacity} exceeds the maximum of {MAX_CAPACITY}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_prefixes(v4: u8, v6: u8) -> Result<()> {
    if v4 > 32 {
        return Err(Error::config(
            "ipv4_prefix",
            format!("{v4} is longer than 32"),
        ));
    }
    if v6 > 128 {
        return Err(Error::config(
            "ipv6_prefix",
            format!("{v6} is longer than 128"),
        ));
    }
    Ok(())
}

/// What [`RateLimiter::check`] decided for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateDecision {
    /// Within the rate: let it through. The event was counted.
    Allow,
    /// Over the rate: refuse it. The event was **not** counted, so a key
    /// that keeps trying is not punished further by the limiter itself.
    Deny {
        /// How long until an event of this weight would be allowed.
        retry_after: Duration,
    },
    /// The key is whitelisted: always allowed, never counted.
    Whitelisted,
}

impl RateDecision {
    /// `true` unless [`RateDecision::Deny`].
    pub const fn is_allowed(self) -> bool {
        !matches!(self, Self::Deny { .. })
    }
}

/// One GCRA step: an event costing `cost` at `now`, allowed while the
/// theoretical arrival time stays within `tolerance` of `now`.
#[inline(always)]
fn gcra(tat: &mut Tat, now: u64, cost: u64, tolerance: u64) -> RateDecision {
    let start = tat.0.max(now);
    let new_tat = start.saturating_add(cost);
    let ahead = new_tat - now;
    if ahead <= tolerance {
        tat.0 = new_tat;
        RateDecision::Allow
    } else {
        let wait = ahead - tolerance;
        // Under a second (the common case): no division into seconds.
        let retry_after = match u32::try_from(wait) {
            Ok(n) if n < 1_000_000_000 => Duration::new(0, n),
            _ => Duration::from_nanos(wait),
        };
        RateDecision::Deny { retry_after }
    }
}

/// GCRA state: the theoretical arrival time, in nanos; 0 = none.
#[derive(Default, Clone, Copy)]
pub(crate) struct Tat(u64);

impl SlotValue for Tat {
    #[inline]
    fn is_idle(&self, now: Instant) -> bool {
        self.0 <= now.as_nanos()
    }
    #[inline]
    fn keep_score(&self, _now: Instant) -> u64 {
        self.0
    }
}

/// A keyed rate limiter (GCRA, the generic cell rate algorithm): "at most
/// `rate` events per `per` per key, bursts of up to `burst`".
///
/// # How to drive it
///
/// 1. Build it once from a [`RateConfig`] with [`RateLimiter::new`]
///    (or a preset such as [`RateConfig::yeastar_outbound_calls`]).
/// 2. For every event (packet, call attempt), read the clock once and call
///    [`check(&key, now)`](Self::check) (or [`check_n`](Self::check_n) for a
///    weighted event). It returns a [`RateDecision`]: `Allow` (counted),
///    `Deny { retry_after }` (not counted) or `Whitelisted`.
/// 3. On `Deny`, act: drop the packet, answer 503 with `Retry-After`, or
///    hand the key to a [`BanList`](crate::BanList) for
///    [`RateConfig::block_for`].
///
/// `now` must come from one [`Clock`](pbxsec_core::Clock) and should not go
/// backwards; an older `now` is treated as "no time has passed".
///
/// State is one `u64` per key (the theoretical arrival time). Memory is
/// allocated once for [`RateConfig::capacity`] keys and never grows; when a
/// new key's bucket is full, a key whose state has run out (its TAT is in
/// the past, so forgetting it changes nothing) is replaced first, else the
/// key closest to running out. See the crate docs, "Bounded memory".
///
/// IP-bearing keys are canonicalised and folded ([`IpFold`]). All methods
/// take `&self`; the limiter is `Send + Sync` and meant to be shared
/// (`Arc<RateLimiter<_>>`) by every thread.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::{Clock, ManualClock};
/// use pbxsec_ratelimit::{RateConfig, RateLimiter};
///
/// let clock = ManualClock::default();
/// let calls = RateLimiter::new(RateConfig::yeastar_outbound_calls()).unwrap();
/// let ext = String::from("1001");
/// for _ in 0..5 {
///     assert!(calls.check(&ext, clock.now()).is_allowed());
/// }
/// assert!(!calls.check(&ext, clock.now()).is_allowed()); // the 6th call in one second
/// clock.advance(Duration::from_millis(200));
/// assert!(calls.check(&ext, clock.now()).is_allowed()); // one more every 200 ms
/// ```
pub struct RateLimiter<K> {
    table: BoundedMap<K, Tat>,
    interval: u64,
    tolerance: u64,
    fold: IpFold,
    config: RateConfig,
    whitelist: Option<Arc<Whitelist<K>>>,
}

impl<K: Hash + Eq + Clone + 'static> TryFrom<RateConfig> for RateLimiter<K> {
    type Error = Error;
    fn try_from(config: RateConfig) -> Result<Self> {
        Self::new(config)
    }
}

impl<K: Hash + Eq + Clone + 'static> RateLimiter<K> {
    /// Validates `config` and allocates the table.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the field: a zero `rate`, `per` or
    /// `burst`, a period so short that one event is due more often than
    /// every nanosecond, a zero or too large `capacity`, a bad prefix.
    pub fn new(config: RateConfig) -> Result<Self> {
        if config.rate == 0 {
            return Err(Error::config("rate", "must be at least 1"));
        }
        if config.per.is_zero() {
            return Err(Error::config("per", "must not be zero"));
        }
        let per = u64::try_from(config.per.as_nanos())
            .map_err(|_| Error::config("per", "longer than 584 years"))?;
        let interval = per / u64::from(config.rate);
        if interval == 0 {
            return Err(Error::config(
                "rate",
                "more than one event per nanosecond cannot be timed",
            ));
        }
        let burst = config.burst.unwrap_or(config.rate);
        if burst == 0 {
            return Err(Error::config("burst", "must be at least 1"));
        }
        check_capacity(config.capacity)?;
        check_prefixes(config.ipv4_prefix, config.ipv6_prefix)?;
        Ok(Self {
            table: BoundedMap::with_capacity(config.capacity),
            interval,
            tolerance: interval.saturating_mul(u64::from(burst)),
            fold: IpFold::new(config.ipv4_prefix, config.ipv6_prefix),
            config,
            whitelist: None,
        })
    }

    /// The same limiter, never counting keys the whitelist matches.
    #[must_use]
    pub fn with_whitelist(mut self, whitelist: Arc<Whitelist<K>>) -> Self {
        self.whitelist = Some(whitelist);
        self
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &RateConfig {
        &self.config
    }

    /// The number of slots (the configured capacity × 1.5, rounded up
    /// to whole buckets): the most keys it can hold at once.
    pub fn capacity(&self) -> usize {
        self.table.slots()
    }

    /// Records one event for `key` at `now` and decides.
    #[inline(always)]
    pub fn check(&self, key: &K, now: Instant) -> RateDecision {
        self.check_n(key, 1, now)
    }

    /// Records an event of weight `n` (it counts as `n` events) and decides.
    /// A weight larger than the burst is never allowed; weight 0 is always
    /// allowed and changes nothing.
    #[inline(always)]
    pub fn check_n(&self, key: &K, n: u32, now: Instant) -> RateDecision {
        if let Some(wl) = &self.whitelist {
            if wl.contains(key) {
                return RateDecision::Whitelisted;
            }
        }
        if fold_is_identity(self.fold, key) {
            self.check_folded_key(key, n, now)
        } else {
            self.check_unfolded_key(key, n, now)
        }
    }

    /// [`check_n`](Self::check_n) for a key that folding may change (an
    /// IPv6 address, an IPv4 prefix shorter than /32): out of line, so the
    /// common case carries no folded copy.
    #[inline(never)]
    fn check_unfolded_key(&self, key: &K, n: u32, now: Instant) -> RateDecision {
        self.check_folded_key(&fold_key(self.fold, key), n, now)
    }

    /// [`check_n`](Self::check_n) for a key already folded.
    #[inline(always)]
    fn check_folded_key(&self, key: &K, n: u32, now: Instant) -> RateDecision {
        let now = now.as_nanos();
        let cost = self.interval.saturating_mul(u64::from(n));
        let tolerance = self.tolerance;
        self.table
            .entry(key, Instant::from_nanos(now), move |tat, _found: Found| {
                gcra(tat, now, cost, tolerance)
            })
    }

    /// Records one event (weight 1) for each of `keys`, all at `now`, and
    /// writes the decisions to `out` (cleared first; `out[i]` is for
    /// `keys[i]`): the same decisions as calling [`check`](Self::check) on
    /// each in order, faster per key on a table larger than the CPU caches
    /// (a million keys), where the keys' memory accesses overlap instead of
    /// following one another ([`BoundedMap::entry_batch`]). For a front
    /// door that receives datagrams in batches (`recvmmsg`). `out` allocates
    /// only when it grows.
    pub fn check_batch(&self, keys: &[K], now: Instant, out: &mut Vec<RateDecision>) {
        out.clear();
        if !self.table.batches() {
            out.extend(keys.iter().map(|k| self.check(k, now)));
            return;
        }
        out.resize(keys.len(), RateDecision::Allow);
        let now_n = now.as_nanos();
        let (cost, tolerance) = (self.interval, self.tolerance);
        folded_chunks(keys, self.fold, self.whitelist.as_deref(), |base, chunk| {
            for (j, key) in chunk.iter().enumerate() {
                if key.is_none() {
                    if let Some(d) = out.get_mut(base + j) {
                        *d = RateDecision::Whitelisted;
                    }
                }
            }
            self.table.entry_batch(chunk, now, |j, tat, _found| {
                if let Some(d) = out.get_mut(base + j) {
                    *d = gcra(tat, now_n, cost, tolerance);
                }
            });
        });
    }

    /// How many events of weight 1 `key` could send right now without being
    /// denied (does not count anything).
    pub fn remaining(&self, key: &K, now: Instant) -> u32 {
        let key = fold_key(self.fold, key);
        let now_n = now.as_nanos();
        let tat = self.table.get(&key, |t| t.0).unwrap_or(0).max(now_n);
        let used = tat - now_n;
        let left = self.tolerance.saturating_sub(used) / self.interval;
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    /// Forgets `key`'s state (it gets a full burst again).
    pub fn reset(&self, key: &K) {
        let key = fold_key(self.fold, key);
        self.table.remove(&key);
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.table.clear();
    }

    /// The number of keys with state at `now` (walks the table; for
    /// statistics, not per packet).
    pub fn len(&self, now: Instant) -> usize {
        self.table.live_len(now)
    }

    /// `true` when no key has state at `now`.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0
    }

    /// How many keys with state were evicted to make room for new ones so
    /// far: non-zero means the capacity is too small for the traffic (or a
    /// flood is going on).
    pub fn evictions(&self) -> u64 {
        self.table.evictions()
    }
}
