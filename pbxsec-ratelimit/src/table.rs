//! The bounded, sharded, set-associative table behind every keyed counter.
//!
//! Why our own table instead of `HashMap`, `DashMap` or a cache crate:
//!
//! * **Bounded by construction.** All slots are allocated once, at the
//!   configured capacity; nothing grows under a flood, and there is no
//!   `retain_recent` for the user to forget (governor's most reported
//!   problem).
//! * **Eviction that knows the data.** A slot whose value carries no
//!   information any more (a GCRA key whose theoretical arrival time has
//!   passed, an event counter whose events have all left the window) is
//!   *idle* and is overwritten first; only when a key's whole bucket is busy
//!   is the least valuable entry evicted (lowest TAT, smallest in-window sum).
//!   A generic LRU or CLOCK cache cannot know this.
//! * **One random memory access per lookup.** A key hashes to one bucket of
//!   [`WAYS`] slots stored together (fingerprints first, then values, then
//!   keys), so a lookup in a table much larger than the CPU caches costs about
//!   one cache miss, which is what the benchmarks compare against.
//! * **Shards.** The table is split into up to [`MAX_SHARDS`] shards, each
//!   behind its own mutex on its own cache line, chosen by the hash's top
//!   bits, so threads on distinct keys rarely meet.
//!
//! The hash is `ahash` with a per-table random key, so an attacker cannot
//! aim spoofed keys at one bucket.

use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

use pbxsec_core::Instant;

/// Slots per bucket.
pub(crate) const WAYS: usize = 4;
/// The most shards a table is split into.
pub(crate) const MAX_SHARDS: usize = 64;

/// What the table needs to know about a value to evict well.
pub(crate) trait SlotValue: Default {
    /// `true` when the value carries no information at `now`: forgetting it
    /// changes no future decision.
    fn is_idle(&self, now: Instant) -> bool;
    /// How much forgetting this value would lose; the lowest is evicted first.
    fn keep_score(&self, now: Instant) -> u64;
}

struct Bucket<K, V> {
    fps: [u32; WAYS],
    vals: [V; WAYS],
    keys: [Option<K>; WAYS],
}

impl<K, V: Default> Bucket<K, V> {
    fn new() -> Self {
        Self {
            fps: [0; WAYS],
            vals: std::array::from_fn(|_| V::default()),
            keys: std::array::from_fn(|_| None),
        }
    }
}

struct Shard<K, V> {
    buckets: Box<[Bucket<K, V>]>,
    evicted_live: u64,
}

#[repr(align(128))]
struct Padded<T>(T);

type ShardLock<K, V> = Padded<Mutex<Shard<K, V>>>;

/// What [`Table::entry`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The key was present.
    Present,
    /// The key was absent; a free or idle slot was taken.
    Inserted,
    /// The key was absent; a live entry was evicted to make room.
    Evicted,
}

/// A bounded map from keys to values.
pub(crate) struct Table<K, V> {
    shards: Box<[ShardLock<K, V>]>,
    shard_shift: u32,
    bucket_mask: usize,
    hasher: ahash::RandomState,
}

impl<K: Hash + Eq + Clone, V: SlotValue> Table<K, V> {
    /// A table with room for at least `capacity` keys (rounded up to a power
    /// of two, at least one bucket per shard).
    pub(crate) fn new(capacity: usize) -> Self {
        let slots = capacity.max(1).next_power_of_two().max(WAYS);
        let buckets = slots / WAYS;
        // At least 4 buckets per shard so a shard is worth its lock.
        let shards = (buckets / 4).clamp(1, MAX_SHARDS);
        let per_shard = buckets / shards;
        let shard_bits = shards.trailing_zeros();
        let shards_vec: Vec<_> = (0..shards)
            .map(|_| {
                let b: Vec<Bucket<K, V>> = (0..per_shard).map(|_| Bucket::new()).collect();
                Padded(Mutex::new(Shard {
                    buckets: b.into_boxed_slice(),
                    evicted_live: 0,
                }))
            })
            .collect();
        Self {
            shards: shards_vec.into_boxed_slice(),
            shard_shift: 64 - shard_bits,
            bucket_mask: per_shard - 1,
            hasher: ahash::RandomState::new(),
        }
    }

    /// The number of slots.
    pub(crate) fn capacity(&self) -> usize {
        self.shards.len() * (self.bucket_mask + 1) * WAYS
    }

    #[inline]
    fn locate(&self, key: &K) -> (MutexGuard<'_, Shard<K, V>>, usize, u32) {
        let h = self.hasher.hash_one(key);
        let shard_idx = if self.shard_shift >= 64 {
            0
        } else {
            (h >> self.shard_shift) as usize
        };
        let bucket = (h as usize) & self.bucket_mask;
        // Fingerprint 0 marks "no fingerprint"; a real 0 is moved to 1.
        let fp = ((h >> 32) as u32).max(1);
        let shard = match self.shards.get(shard_idx) {
            Some(s) => &s.0,
            None => &self.shards[0].0,
        };
        let guard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (guard, bucket, fp)
    }

    /// Runs `f` on the key's value, inserting a default value first if the
    /// key is absent (evicting an idle or, failing that, the least valuable
    /// entry of its bucket).
    #[inline]
    pub(crate) fn entry<R>(&self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let (mut guard, b, fp) = self.locate(key);
        let shard = &mut *guard;
        let Some(bucket) = shard.buckets.get_mut(b) else {
            // Unreachable: the mask keeps `b` in range. Act on a scratch value.
            return f(&mut V::default(), Found::Inserted);
        };
        for i in 0..WAYS {
            if bucket.fps[i] == fp && bucket.keys[i].as_ref() == Some(key) {
                return f(&mut bucket.vals[i], Found::Present);
            }
        }
        // Absent: pick a victim.
        let mut victim = 0;
        let mut found = Found::Evicted;
        let mut best = u64::MAX;
        for i in 0..WAYS {
            if bucket.keys[i].is_none() || bucket.vals[i].is_idle(now) {
                victim = i;
                found = Found::Inserted;
                break;
            }
            let s = bucket.vals[i].keep_score(now);
            if s < best {
                best = s;
                victim = i;
            }
        }
        if found == Found::Evicted {
            shard.evicted_live = shard.evicted_live.saturating_add(1);
        }
        bucket.fps[victim] = fp;
        bucket.keys[victim] = Some(key.clone());
        bucket.vals[victim] = V::default();
        f(&mut bucket.vals[victim], found)
    }

    /// Runs `f` on the key's value if the key is present.
    pub(crate) fn get<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let (mut guard, b, fp) = self.locate(key);
        let bucket = guard.buckets.get_mut(b)?;
        for i in 0..WAYS {
            if bucket.fps[i] == fp && bucket.keys[i].as_ref() == Some(key) {
                return Some(f(&mut bucket.vals[i]));
            }
        }
        None
    }

    /// Forgets the key; `true` if it was present.
    pub(crate) fn remove(&self, key: &K) -> bool {
        let (mut guard, b, fp) = self.locate(key);
        let Some(bucket) = guard.buckets.get_mut(b) else {
            return false;
        };
        for i in 0..WAYS {
            if bucket.fps[i] == fp && bucket.keys[i].as_ref() == Some(key) {
                bucket.fps[i] = 0;
                bucket.keys[i] = None;
                bucket.vals[i] = V::default();
                return true;
            }
        }
        false
    }

    /// The number of keys whose value is not idle at `now` (walks the
    /// whole table: for statistics, not per packet).
    pub(crate) fn live_len(&self, now: Instant) -> usize {
        let mut n = 0;
        for shard in &*self.shards {
            let guard = shard
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for bucket in &*guard.buckets {
                for i in 0..WAYS {
                    if bucket.keys[i].is_some() && !bucket.vals[i].is_idle(now) {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// How many live (non-idle) entries were evicted to make room so far.
    pub(crate) fn evicted_live(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                s.0.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .evicted_live
            })
            .sum()
    }

    /// Forgets every key.
    pub(crate) fn clear(&self) {
        for shard in &*self.shards {
            let mut guard = shard
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for bucket in &mut *guard.buckets {
                *bucket = Bucket::new();
            }
        }
    }
}
