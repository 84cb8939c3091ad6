//! Event thresholds: exact weighted sliding-window counts per key.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::Instant;
use serde::{Deserialize, Serialize};

use crate::key::{IpFold, fold_key};
use crate::rate::{
    DEFAULT_CAPACITY, check_capacity, check_prefixes, default_capacity, default_v4, default_v6,
    opt_duration,
};
use crate::table::{SlotValue, Table};
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

/// One key's events: the newest ones whose weights sum to less than the
/// limit, plus at most one more (see the crate docs, "Exactness").
#[derive(Default)]
pub(crate) struct Events {
    /// (time in nanos, weight), oldest first.
    q: VecDeque<(u64, u32)>,
    sum: u64,
}

impl Events {
    #[inline]
    fn prune(&mut self, now: u64, window: u64) {
        while let Some(&(t, w)) = self.q.front() {
            if now.saturating_sub(t) >= window {
                self.q.pop_front();
                self.sum -= u64::from(w);
            } else {
                break;
            }
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
    }

    fn newest(&self) -> Option<u64> {
        self.q.back().map(|&(t, _)| t)
    }
}

/// Events carry the window in the table's idle test via the newest time; the
/// table asks with `now - window` folded in (see `Windowed`).
#[derive(Default)]
pub(crate) struct Windowed {
    ev: Events,
    window: u64,
}

impl SlotValue for Windowed {
    #[inline]
    fn is_idle(&self, now: Instant) -> bool {
        match self.ev.newest() {
            None => true,
            Some(t) => now.as_nanos().saturating_sub(t) >= self.window,
        }
    }
    fn keep_score(&self, now: Instant) -> u64 {
        let now = now.as_nanos();
        self.ev
            .q
            .iter()
            .filter(|&&(t, _)| now.saturating_sub(t) < self.window)
            .map(|&(_, w)| u64::from(w))
            .sum()
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
/// than `limit`: fewer than `limit` entries of 16 bytes (a `u64` time and a
/// `u32` weight, padded), usually far fewer, events from the same
/// nanosecond merged into one.
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
    table: Table<K, Windowed>,
    limit: u64,
    window: u64,
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
        if config.limit == 0 || config.limit > MAX_LIMIT {
            return Err(Error::config(
                "limit",
                format!("{} is not within 1..={MAX_LIMIT}", config.limit),
            ));
        }
        if config.window.is_zero() {
            return Err(Error::config("window", "must not be zero"));
        }
        let window = u64::try_from(config.window.as_nanos())
            .map_err(|_| Error::config("window", "longer than 584 years"))?;
        check_capacity(config.capacity)?;
        check_prefixes(config.ipv4_prefix, config.ipv6_prefix)?;
        Ok(Self {
            table: Table::new(config.capacity),
            limit: u64::from(config.limit),
            window,
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
        self.table.capacity()
    }

    /// Records an event of `weight` for `key` at `now` and decides. Weight
    /// 0 counts nothing and only reports the current total.
    pub fn record(&self, key: &K, weight: u32, now: Instant) -> ThresholdDecision {
        if let Some(wl) = &self.whitelist {
            if wl.contains(key) {
                return ThresholdDecision::Whitelisted;
            }
        }
        let key = fold_key(self.fold, key);
        let (limit, window, clear) = (self.limit, self.window, self.config.clear_on_reach);
        let now_n = now.as_nanos();
        self.table.entry(&key, now, |slot, _| {
            slot.window = window;
            let ev = &mut slot.ev;
            ev.prune(now_n, window);
            if weight > 0 {
                match ev.q.back_mut() {
                    Some((t, w)) if *t == now_n => *w = w.saturating_add(weight),
                    _ => ev.q.push_back((now_n, weight)),
                }
                ev.sum += u64::from(weight);
            }
            let total = ev.sum;
            if total >= limit && weight > 0 {
                if clear {
                    *ev = Events::default();
                } else {
                    ev.trim(limit);
                }
                ThresholdDecision::Reached { total }
            } else {
                ThresholdDecision::Below { total }
            }
        })
    }

    /// The weights in `key`'s window at `now` (exact below the limit, a
    /// lower bound at or above it); counts nothing.
    pub fn count(&self, key: &K, now: Instant) -> u64 {
        let key = fold_key(self.fold, key);
        let window = self.window;
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
        self.table.evicted_live()
    }
}
