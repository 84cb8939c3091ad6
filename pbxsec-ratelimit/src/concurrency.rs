//! Concurrency limits: "at most N at once per key", with guards.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::rate::{check_capacity, default_capacity};
use crate::{Error, Result};

const SHARDS: usize = 16;

/// A concurrency limit as data.
///
/// ```
/// use pbxsec_ratelimit::ConcurrencyConfig;
/// let c: ConcurrencyConfig = serde_json::from_str(r#"{"max_concurrent": 30}"#).unwrap();
/// assert_eq!(c.capacity, 65_536);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyConfig {
    /// The most guards held at once per key (unless
    /// [`ConcurrencyLimiter::try_acquire_with_limit`] gives another).
    pub max_concurrent: u32,
    /// The most distinct keys holding guards at once (default 65 536); an
    /// acquire for a new key beyond that is refused with
    /// [`ConcurrencyDenied::TooManyKeys`].
    #[serde(default = "default_capacity")]
    pub capacity: usize,
}

impl ConcurrencyConfig {
    /// At most `max_concurrent` per key, default capacity.
    pub fn new(max_concurrent: u32) -> Self {
        Self {
            max_concurrent,
            capacity: default_capacity(),
        }
    }
}

/// Why [`ConcurrencyLimiter::try_acquire`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConcurrencyDenied {
    /// The key already holds `limit` guards.
    #[error("{limit} concurrent already in use")]
    LimitReached {
        /// The limit that applied.
        limit: u32,
    },
    /// As many distinct keys as the capacity already hold guards.
    #[error("{capacity} keys already hold guards")]
    TooManyKeys {
        /// The configured capacity.
        capacity: usize,
    },
}

struct Inner<K> {
    shards: Box<[Mutex<HashMap<K, u32, ahash::RandomState>>]>,
    hasher: ahash::RandomState,
    max: u32,
    keys: AtomicUsize,
    config: ConcurrencyConfig,
}

impl<K: Hash + Eq> Inner<K> {
    fn shard(&self, key: &K) -> &Mutex<HashMap<K, u32, ahash::RandomState>> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        match self.shards.get(i) {
            Some(s) => s,
            None => &self.shards[0],
        }
    }

    fn release(&self, key: &K) {
        let mut map = self
            .shard(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(key);
                self.keys.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// A keyed concurrency limiter: "at most 30 concurrent calls on this trunk".
///
/// # How to drive it
///
/// 1. Build it once from a [`ConcurrencyConfig`]; clones share the counts
///    (it is an `Arc` inside), so keep one and clone it where needed.
/// 2. When a call (session, transaction) starts, call
///    [`try_acquire(&key)`](Self::try_acquire). `Ok` gives a
///    [`ConcurrencyGuard`]: keep it for as long as the call lasts, for
///    example in the call's state. `Err` says why not: the key is at its
///    limit, or too many distinct keys are in use.
/// 3. When the call ends, drop the guard: the count goes down by exactly
///    one. Dropping is the only way to release, so a count can neither go
///    negative nor be released twice, and a call that ends by any path
///    (error, panic unwinding, task cancelled) releases its place. Only
///    `std::mem::forget` on a guard would leak one place.
///
/// A key whose count returns to zero is forgotten, so memory is bounded by
/// the number of guards held, and by [`ConcurrencyConfig::capacity`] keys.
/// No time is involved. `Send + Sync`; all methods take `&self`.
///
/// ```
/// use pbxsec_ratelimit::{ConcurrencyConfig, ConcurrencyDenied, ConcurrencyLimiter};
///
/// let trunks = ConcurrencyLimiter::new(ConcurrencyConfig::new(2)).unwrap();
/// let a = trunks.try_acquire(&"trunk-1").unwrap();
/// let b = trunks.try_acquire(&"trunk-1").unwrap();
/// assert_eq!(trunks.try_acquire(&"trunk-1").unwrap_err(), ConcurrencyDenied::LimitReached { limit: 2 });
/// drop(a); // the call ended
/// assert_eq!(trunks.in_use(&"trunk-1"), 1);
/// let _c = trunks.try_acquire(&"trunk-1").unwrap();
/// # drop(b);
/// ```
pub struct ConcurrencyLimiter<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for ConcurrencyLimiter<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Hash + Eq + Clone> TryFrom<ConcurrencyConfig> for ConcurrencyLimiter<K> {
    type Error = Error;
    fn try_from(config: ConcurrencyConfig) -> Result<Self> {
        Self::new(config)
    }
}

impl<K: Hash + Eq + Clone> ConcurrencyLimiter<K> {
    /// Validates `config`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`]: a zero or too large `capacity`.
    /// `max_concurrent` 0 is valid and refuses everything.
    pub fn new(config: ConcurrencyConfig) -> Result<Self> {
        check_capacity(config.capacity)?;
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(HashMap::with_hasher(ahash::RandomState::new())))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Ok(Self {
            inner: Arc::new(Inner {
                shards,
                hasher: ahash::RandomState::new(),
                max: config.max_concurrent,
                keys: AtomicUsize::new(0),
                config,
            }),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ConcurrencyConfig {
        &self.inner.config
    }

    /// Takes one place for `key` under the configured limit.
    ///
    /// # Errors
    ///
    /// [`ConcurrencyDenied`] when the key is at its limit or too many keys
    /// are in use.
    pub fn try_acquire(&self, key: &K) -> Result<ConcurrencyGuard<K>, ConcurrencyDenied> {
        self.try_acquire_with_limit(key, self.inner.max)
    }

    /// Takes one place for `key` under `limit` instead of the configured
    /// limit (trunks with different limits sharing one limiter).
    ///
    /// # Errors
    ///
    /// [`ConcurrencyDenied`] when the key is at `limit` or too many keys are
    /// in use.
    pub fn try_acquire_with_limit(
        &self,
        key: &K,
        limit: u32,
    ) -> Result<ConcurrencyGuard<K>, ConcurrencyDenied> {
        let mut map = self
            .inner
            .shard(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(key) {
            Some(n) => {
                if *n >= limit {
                    return Err(ConcurrencyDenied::LimitReached { limit });
                }
                *n += 1;
            }
            None => {
                if limit == 0 {
                    return Err(ConcurrencyDenied::LimitReached { limit });
                }
                let cap = self.inner.config.capacity;
                if self
                    .inner
                    .keys
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < cap).then_some(n + 1)
                    })
                    .is_err()
                {
                    return Err(ConcurrencyDenied::TooManyKeys { capacity: cap });
                }
                map.insert(key.clone(), 1);
            }
        }
        drop(map);
        Ok(ConcurrencyGuard {
            inner: Arc::clone(&self.inner),
            key: key.clone(),
        })
    }

    /// How many guards `key` holds now.
    pub fn in_use(&self, key: &K) -> u32 {
        self.inner
            .shard(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// How many distinct keys hold guards now.
    pub fn keys_in_use(&self) -> usize {
        self.inner.keys.load(Ordering::Acquire)
    }
}

/// One place held in a [`ConcurrencyLimiter`]; dropping it gives the place
/// back. Owns what it needs (`'static` when `K` is), so it can be stored in a
/// call's state or moved to another thread.
#[must_use = "dropping the guard releases the place at once"]
pub struct ConcurrencyGuard<K: Hash + Eq> {
    inner: Arc<Inner<K>>,
    key: K,
}

impl<K: Hash + Eq> ConcurrencyGuard<K> {
    /// The key this place is held for.
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: Hash + Eq> Drop for ConcurrencyGuard<K> {
    fn drop(&mut self) {
        self.inner.release(&self.key);
    }
}

impl<K: Hash + Eq + std::fmt::Debug> std::fmt::Debug for ConcurrencyGuard<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyGuard")
            .field("key", &self.key)
            .finish()
    }
}
