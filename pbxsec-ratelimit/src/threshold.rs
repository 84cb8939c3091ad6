//! Event thresholds: exact weighted sliding-window counts per key.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::Instant;
use serde::{Deserialize, Serialize};

use crate::key::{IpFold, fold_is_identity, fold_key, folded_chunks};
use crate::rate::{
    DEFAULT_CAPACITY, check_capacity, check_prefixes, default_capacity, default_v4, default_v6,
    opt_duration,
};
use crate::table::{BoundedMap, Lines, SlotValue};
use crate::whitelist::Whitelist;
use crate::{Error, Result};

/// The largest `limit` a threshold may have. Per-key state holds up to
/// `limit - 1` events, so this bounds the memory of one key.
pub const MAX_LIMIT: u32 = 65_536;

/// An event threshold as data: "`limit` events (weights summed) within
/// `window` flags the key".
///
/// ```
/// use pbxsec_ratelimit::ThresholdConfig;
/// let c: ThresholdConfig =
///     serde_json::from_str(r#"{"limit": 5, "window": "10m", "block_for": "10m"}"#).unwrap();
/// assert_eq!(c.window.as_secs(), 600);
/// assert!(c.clear_on_reach);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// The sum of weights that flags a key. 1 to [`MAX_LIMIT`].
    pub limit: u32,
    /// The sliding window. An event at `t` counts at `now` while
    /// `now - t < window`. Must not be zero.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub window: Duration,
    /// Forget a key's events once it is flagged (default `true`), so the
    /// next flag needs `limit` new events. With `false`, every further event
    /// is flagged while the window still holds `limit`.
    #[serde(default = "default_true")]
    pub clear_on_reach: bool,
    /// The most keys tracked at once (default [`DEFAULT_CAPACITY`]).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// IPv6 keys are folded to this prefix length (default 64).
    #[serde(default = "default_v6")]
    pub ipv6_prefix: u8,
    /// IPv4 keys are folded to this prefix length (default 32).
    #[serde(default = "default_v4")]
    pub ipv4_prefix: u8,
    /// How long the product blocks a flagged key: a value for the caller to
    /// hand to [`BanList::ban_for`](crate::BanList::ban_for). The counter
    /// itself never bans.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_for: Option<Duration>,
}

fn default_true() -> bool {
    true
}

impl ThresholdConfig {
    /// `limit` events within `window`, default capacity and folding.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            clear_on_reach: true,
            capacity: DEFAULT_CAPACITY,
            ipv6_prefix: default_v6(),
            ipv4_prefix: default_v4(),
            block_for: None,
        }
    }

    /// The same threshold with another capacity.
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The same threshold with a block duration for the caller.
    #[must_use]
    pub fn with_block_for(mut self, block_for: Duration) -> Self {
        self.block_for = Some(block_for);
        self
    }

    /// The same threshold with [`clear_on_reach`](Self::clear_on_reach) set.
    #[must_use]
    pub fn with_clear_on_reach(mut self, clear: bool) -> Self {
        self.clear_on_reach = clear;
        self
    }
}

/// What [`ThresholdCounter::record`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThresholdDecision {
    /// Counted; the window holds `total` (weights summed, exact), below
    /// the limit.
    Below {
        /// The weights in the window, this event included.
        total: u64,
    },
    /// This event brought the window to the limit or beyond: flag the key.
    Reached {
        /// The weights in the window, this event included; at least the
        /// limit (exact up to the limit; beyond it, a lower bound).
        total: u64,
    },
    /// The key is whitelisted: not counted.
    Whitelisted,
}

impl ThresholdDecision {
    /// `true` for [`ThresholdDecision::Reached`].
    pub const fn is_reached(self) -> bool {
        matches!(self, Self::Reached { .. })
    }
}

/// A validated window rule for a [`WindowCounter`]: "`limit` (weights
/// summed) within `window`", and whether reaching it empties the window.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_ratelimit::WindowLimit;
/// let rule = WindowLimit::new(50, Duration::from_secs(3600), true).unwrap();
/// assert_eq!(rule.limit(), 50);
/// assert!(WindowLimit::new(0, Duration::from_secs(1), true).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowLimit {
    limit: u64,
    window: u64,
    clear_on_reach: bool,
}

impl WindowLimit {
    /// `limit` within `window`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a `limit` of 0 or above [`MAX_LIMIT`],
    /// or a `window` of zero or longer than 584 years.
    pub fn new(limit: u32, window: Duration, clear_on_reach: bool) -> Result<Self> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Error::config(
                "limit",
                format!("{limit} is not within 1..={MAX_LIMIT}"),
            ));
        }
        if window.is_zero() {
            return Err(Error::config("window", "must not be zero"));
        }
        let window = u64::try_from(window.as_nanos())
            .map_err(|_| Error::config("window", "longer than 584 years"))?;
        Ok(Self {
            limit: u64::from(limit),
            window,
            clear_on_reach,
        })
    }

    /// The limit.
    pub const fn limit(self) -> u64 {
        self.limit
    }

    /// The window.
    pub const fn window(self) -> Duration {
        Duration::from_nanos(self.window)
    }

    /// The window in nanoseconds.
    pub const fn window_nanos(self) -> u64 {
        self.window
    }

    /// Whether reaching the limit empties the window.
    pub const fn clear_on_reach(self) -> bool {
        self.clear_on_reach
    }
}

/// One key's exact sliding window of weighted events: the value type
/// behind [`ThresholdCounter`], usable as a field of a record of your own
/// (for example in a [`BoundedMap`](crate::BoundedMap) value).
///
/// It keeps only the events that can still change a decision: events older
/// than the window are dropped, and once the newer events alone reach the
/// limit the older ones are dropped too, so it holds at most `limit` events
/// (16 bytes each, on the heap), usually far fewer. The sum, the oldest and
/// the newest time are kept inline, so recording an event while the oldest
/// is still inside the window reads nothing from the heap (it appends
/// there; a store, which does not stall the CPU as a load miss does).
///
/// **Exact**: [`record`](Self::record) returns `Reached` if and only if
/// the weights of the events with `now - t < window` (this one included)
/// sum to at least the limit. `now` must not go backwards.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::Instant;
/// use pbxsec_ratelimit::{ThresholdDecision, WindowCounter, WindowLimit};
///
/// let rule = WindowLimit::new(3, Duration::from_secs(10), true).unwrap();
/// let mut w = WindowCounter::new();
/// let at = |s: u64| Instant::from_nanos(s * 1_000_000_000);
/// assert_eq!(w.record(1, at(0), rule), ThresholdDecision::Below { total: 1 });
/// assert_eq!(w.record(1, at(5), rule), ThresholdDecision::Below { total: 2 });
/// assert_eq!(w.record(1, at(10), rule), ThresholdDecision::Below { total: 2 }); // t=0 left
/// assert_eq!(w.record(1, at(12), rule), ThresholdDecision::Reached { total: 3 });
/// assert!(w.is_empty()); // cleared on reach
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct WindowCounter {
    /// (time in nanos, weight), oldest first.
    q: VecDeque<(u64, u32)>,
    sum: u64,
    /// The time of the front of `q` (when not empty).
    oldest: u64,
    /// The time of the back of `q` (when not empty).
    newest: u64,
}

impl WindowCounter {
    /// An empty window.
    pub const fn new() -> Self {
        Self {
            q: VecDeque::new(),
            sum: 0,
            oldest: 0,
            newest: 0,
        }
    }

    #[inline]
    fn prune(&mut self, now: u64, window: u64) {
        while !self.q.is_empty() && now.saturating_sub(self.oldest) >= window {
            if let Some((_, w)) = self.q.pop_front() {
                self.sum -= u64::from(w);
            }
            self.oldest = self.q.front().map_or(0, |e| e.0);
        }
    }

    /// Drops the oldest events while the rest still reach the limit: they
    /// can no longer change any decision.
    #[inline]
    fn trim(&mut self, limit: u64) {
        while let Some(&(_, w)) = self.q.front() {
            if self.sum - u64::from(w) >= limit {
                self.q.pop_front();
                self.sum -= u64::from(w);
            } else {
                break;
            }
        }
        self.oldest = self.q.front().map_or(0, |e| e.0);
    }

    /// Records an event of `weight` at `now` and decides. Weight 0 counts
    /// nothing and reports the current total (`Below`).
    #[inline]
    pub fn record(&mut self, weight: u32, now: Instant, rule: WindowLimit) -> ThresholdDecision {
        let now = now.as_nanos();
        self.prune(now, rule.window);
        if weight == 0 {
            return ThresholdDecision::Below { total: self.sum };
        }
        if self.q.is_empty() {
            self.oldest = now;
        }
        self.q.push_back((now, weight));
        self.newest = now;
        self.sum += u64::from(weight);
        let total = self.sum;
        if total >= rule.limit {
            if rule.clear_on_reach {
                self.clear();
            } else {
                self.trim(rule.limit);
            }
            ThresholdDecision::Reached { total }
        } else {
            ThresholdDecision::Below { total }
        }
    }

    /// Records an event of `weight` at `now` and says whether the limit is
    /// reached: the same decision as [`record`](Self::record) (exact), for
    /// callers that do not need the total. It drops at most one expired
    /// event per call unless the limit may be reached (the held weights,
    /// expired ones included, reach it), and then prunes exactly; so on the
    /// common path it reads no heap memory (on a table larger than the CPU
    /// caches, one cache miss fewer than `record`), and it still holds at
    /// most `limit` events.
    #[inline]
    pub fn hit(&mut self, weight: u32, now: Instant, rule: WindowLimit) -> bool {
        if weight == 0 {
            return false;
        }
        let now = now.as_nanos();
        if !self.q.is_empty() && now.saturating_sub(self.oldest) >= rule.window {
            if let Some((_, w)) = self.q.pop_front() {
                self.sum -= u64::from(w);
            }
            self.oldest = self.q.front().map_or(now, |e| e.0);
        }
        if self.q.is_empty() {
            self.oldest = now;
        }
        self.q.push_back((now, weight));
        self.newest = now;
        self.sum += u64::from(weight);
        if self.sum < rule.limit {
            return false;
        }
        self.prune(now, rule.window);
        if self.sum < rule.limit {
            return false;
        }
        if rule.clear_on_reach {
            self.clear();
        } else {
            self.trim(rule.limit);
        }
        true
    }

    /// The weights in the window at `now`, dropping what left it (exact
    /// below the limit; at or above it, a lower bound of at least the limit).
    #[inline]
    pub fn count(&mut self, now: Instant, window: Duration) -> u64 {
        let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        self.prune(now.as_nanos(), window);
        self.sum
    }

    /// The weights in the window at `now`, without changing anything.
    pub fn in_window(&self, now: Instant, window: Duration) -> u64 {
        let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        self.in_window_nanos(now.as_nanos(), window)
    }

    #[inline]
    fn in_window_nanos(&self, now: u64, window: u64) -> u64 {
        if self.q.is_empty() || now.saturating_sub(self.newest) >= window {
            0
        } else if now.saturating_sub(self.oldest) < window {
            self.sum
        } else {
            self.q
                .iter()
                .filter(|&&(t, _)| now.saturating_sub(t) < window)
                .map(|&(_, w)| u64::from(w))
                .sum()
        }
    }

    /// `true` when no event is in the window at `now`: forgetting the
    /// counter changes nothing (reads no heap memory).
    #[inline]
    pub fn is_idle(&self, now: Instant, window: Duration) -> bool {
        let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        self.is_idle_nanos(now.as_nanos(), window)
    }

    #[inline]
    fn is_idle_nanos(&self, now: u64, window: u64) -> bool {
        self.q.is_empty() || now.saturating_sub(self.newest) >= window
    }

    /// The time of the newest event held, if any.
    pub fn newest(&self) -> Option<Instant> {
        (!self.q.is_empty()).then_some(Instant::from_nanos(self.newest))
    }

    /// The weights of the events held, some of which may have left the
    /// window since the last [`record`](Self::record) or
    /// [`count`](Self::count) (an upper bound of the window's weight; reads
    /// no heap memory).
    pub const fn total(&self) -> u64 {
        self.sum
    }

    /// The number of events held (at most the limit).
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// `true` when no event is held.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Forgets every event (and frees their memory).
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

/// The table value: a window and its length, for the idle test.
#[derive(Default)]
pub(crate) struct Windowed {
    ev: WindowCounter,
    window: u64,
}

impl SlotValue for Windowed {
    /// A lookup starts loading the oldest held event (on the heap) as soon
    /// as it has the slot: recording reads it to drop what left the window.
    const LINES: bool = true;

    #[inline(always)]
    fn lines(&self, lines: &mut Lines) {
        if let Some(e) = self.ev.q.front() {
            lines.line(&e.0);
        }
    }

    #[inline]
    fn is_idle(&self, now: Instant) -> bool {
        self.ev.is_idle_nanos(now.as_nanos(), self.window)
    }
    fn keep_score(&self, now: Instant) -> u64 {
        self.ev.in_window_nanos(now.as_nanos(), self.window)
    }
}

/// A keyed sliding-window event counter: "`limit` events (weights summed)
/// from one key within `window` flags it" (50 failed authentications in an
/// hour, 5 wrong web passwords in 10 minutes, Vodia's TLS-weighs-3).
///
/// # How to drive it
///
/// 1. Build it once from a [`ThresholdConfig`] with
///    [`ThresholdCounter::new`] (or a preset such as
///    [`ThresholdConfig::portsip_failed_auth`]).
/// 2. For every bad event (failed authentication, unanswered challenge,
///    connection), read the clock once and call
///    [`record(&key, weight, now)`](Self::record). Weight 1 is one event;
///    Vodia counts a TLS connection as 3.
/// 3. It returns [`ThresholdDecision::Reached`] on exactly the event that
///    brings the weights inside the window to `limit`: then ban the key
///    (for example [`BanList::ban_for`](crate::BanList::ban_for) with
///    [`ThresholdConfig::block_for`]). With
///    [`clear_on_reach`](ThresholdConfig::clear_on_reach) (the default) the
///    key's count starts again from zero.
/// 4. On success (a correct password), call [`reset`](Self::reset) if the
///    rule should forgive earlier failures (fail2ban does not; Yeastar's
///    web lockout does).
///
/// **Exact**: a key is flagged if and only if the weights of its events with
/// `now - t < window` sum to at least `limit`, on the event that makes it so
/// (no approximation; proptested against a model that stores every
/// timestamp). Per-key state is the newest events whose weights sum to less
/// than `limit`: at most `limit` entries of 16 bytes (a `u64` time and a
/// `u32` weight, padded), usually far fewer (a [`WindowCounter`] per key).
///
/// Memory is bounded by [`ThresholdConfig::capacity`] keys; a new key
/// replaces one whose events have all left the window first, else the key
/// with the smallest weight still in its window. All methods take `&self`;
/// the counter is `Send + Sync`.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::{Clock, ManualClock};
/// use pbxsec_ratelimit::{ThresholdConfig, ThresholdCounter, ThresholdDecision};
///
/// let clock = ManualClock::default();
/// let web = ThresholdCounter::new(ThresholdConfig::mypbx_web_login()).unwrap();
/// let ip: std::net::IpAddr = "203.0.113.9".parse().unwrap();
/// for n in 1..5 {
///     assert_eq!(web.record(&ip, 1, clock.now()), ThresholdDecision::Below { total: n });
///     clock.advance(Duration::from_secs(60));
/// }
/// assert!(web.record(&ip, 1, clock.now()).is_reached()); // 5th wrong password within 10 min
/// ```
pub struct ThresholdCounter<K> {
    table: BoundedMap<K, Windowed>,
    rule: WindowLimit,
    fold: IpFold,
    config: ThresholdConfig,
    whitelist: Option<Arc<Whitelist<K>>>,
}

impl<K: Hash + Eq + Clone + 'static> TryFrom<ThresholdConfig> for ThresholdCounter<K> {
    type Error = Error;
    fn try_from(config: ThresholdConfig) -> Result<Self> {
        Self::new(config)
    }
}

impl<K: Hash + Eq + Clone + 'static> ThresholdCounter<K> {
    /// Validates `config` and allocates the table.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the field: `limit` 0 or above
    /// [`MAX_LIMIT`], a zero `window`, a zero or too large `capacity`, a
    /// bad prefix.
    pub fn new(config: ThresholdConfig) -> Result<Self> {
        let rule = WindowLimit::new(config.limit, config.window, config.clear_on_reach)?;
        check_capacity(config.capacity)?;
        check_prefixes(config.ipv4_prefix, config.ipv6_prefix)?;
        Ok(Self {
            table: BoundedMap::with_capacity(config.capacity),
            rule,
            fold: IpFold::new(config.ipv4_prefix, config.ipv6_prefix),
            config,
            whitelist: None,
        })
    }

    /// The same counter, never counting keys the whitelist matches.
    #[must_use]
    pub fn with_whitelist(mut self, whitelist: Arc<Whitelist<K>>) -> Self {
        self.whitelist = Some(whitelist);
        self
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ThresholdConfig {
        &self.config
    }

    /// The number of slots (the configured capacity × 1.5, rounded up to
    /// whole buckets): the most keys it can hold at once.
    pub fn capacity(&self) -> usize {
        self.table.slots()
    }

    /// Records an event of `weight` for `key` at `now` and decides. Weight
    /// 0 counts nothing and only reports the current total.
    pub fn record(&self, key: &K, weight: u32, now: Instant) -> ThresholdDecision {
        if let Some(wl) = &self.whitelist {
            if wl.contains(key) {
                return ThresholdDecision::Whitelisted;
            }
        }
        if fold_is_identity(self.fold, key) {
            self.record_folded_key(key, weight, now)
        } else {
            self.record_unfolded_key(key, weight, now)
        }
    }

    /// [`record`](Self::record) for a key that folding may change (an IPv6
    /// address, an IPv4 prefix shorter than /32): out of line, so the
    /// common case carries no folded copy.
    #[inline(never)]
    fn record_unfolded_key(&self, key: &K, weight: u32, now: Instant) -> ThresholdDecision {
        self.record_folded_key(&fold_key(self.fold, key), weight, now)
    }

    /// [`record`](Self::record) for a key already folded.
    #[inline(always)]
    fn record_folded_key(&self, key: &K, weight: u32, now: Instant) -> ThresholdDecision {
        let rule = self.rule;
        self.table.entry(key, now, move |slot, _| {
            slot.window = rule.window;
            slot.ev.record(weight, now, rule)
        })
    }

    /// Records an event of `weight` for each of `keys`, all at `now`, and
    /// writes the decisions to `out` (cleared first; `out[i]` is for
    /// `keys[i]`): the same decisions as calling [`record`](Self::record)
    /// on each in order, faster per key on a table larger than the CPU
    /// caches, where the keys' memory accesses (their slots and the oldest
    /// of their held events) overlap instead of following one another
    /// ([`BoundedMap::entry_batch`](crate::BoundedMap::entry_batch)). For a
    /// front door that receives datagrams in batches. `out` allocates only
    /// when it grows.
    pub fn record_batch(
        &self,
        keys: &[K],
        weight: u32,
        now: Instant,
        out: &mut Vec<ThresholdDecision>,
    ) {
        out.clear();
        if !self.table.batches() {
            out.extend(keys.iter().map(|k| self.record(k, weight, now)));
            return;
        }
        out.resize(keys.len(), ThresholdDecision::Whitelisted);
        let rule = self.rule;
        folded_chunks(keys, self.fold, self.whitelist.as_deref(), |base, chunk| {
            self.table.entry_batch(chunk, now, |j, slot, _found| {
                slot.window = rule.window;
                if let Some(d) = out.get_mut(base + j) {
                    *d = slot.ev.record(weight, now, rule);
                }
            });
        });
    }

    /// The weights in `key`'s window at `now` (exact below the limit, a
    /// lower bound at or above it); counts nothing.
    pub fn count(&self, key: &K, now: Instant) -> u64 {
        let key = fold_key(self.fold, key);
        let window = self.rule.window;
        self.table
            .get(&key, |slot| {
                slot.ev.prune(now.as_nanos(), window);
                slot.ev.sum
            })
            .unwrap_or(0)
    }

    /// Forgets `key`'s events.
    pub fn reset(&self, key: &K) {
        let key = fold_key(self.fold, key);
        self.table.remove(&key);
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.table.clear();
    }

    /// The number of keys with events in their window at `now` (walks the
    /// table; for statistics).
    pub fn len(&self, now: Instant) -> usize {
        self.table.live_len(now)
    }

    /// `true` when no key has events in its window at `now`.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0
    }

    /// How many keys with events in their window were evicted to make room.
    pub fn evictions(&self) -> u64 {
        self.table.evictions()
    }
}
