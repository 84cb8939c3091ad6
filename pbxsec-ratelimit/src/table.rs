//! The bounded, sharded, set-associative table behind every keyed counter.
//!
//! Why our own table instead of `HashMap`, `DashMap` or a cache crate:
//!
//! * **Bounded by construction.** All slots are allocated once, for the
//!   configured capacity (× 1.5); nothing grows under a flood, and there is no
//!   `retain_recent` for the user to forget (governor's most reported
//!   problem).
//! * **Eviction that knows the data.** A slot whose value carries no
//!   information any more (a GCRA key whose theoretical arrival time has
//!   passed, an event counter whose events have all left the window) is
//!   *idle* and is overwritten first; only when a key's whole bucket is busy
//!   is the least valuable entry evicted (lowest TAT, smallest in-window sum).
//!   A generic LRU or CLOCK cache cannot know this.
//! * **About one random memory access per lookup.** A key hashes to two
//!   candidate buckets of [`WAYS`] slots (two-choice hashing), each bucket
//!   stored together on aligned cache lines (fingerprints, then values, then
//!   keys); a new key goes to the bucket with more room, and the two
//!   buckets' addresses do not depend on each other's contents, so the CPU
//!   fetches them in parallel: a lookup in a table much larger than the CPU
//!   caches costs about one cache miss, which is what the benchmarks compare
//!   against. Two choices keep the table usable up to a load factor of 2/3
//!   with few early evictions, where one 4-way bucket per key would overflow
//!   often.
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

/// Cache-line aligned, so a bucket of small entries (4 × (IPv4/IPv6 key +
/// TAT) = 128 bytes) is exactly one adjacent-line pair.
#[repr(align(64))]
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
    /// Buckets per shard (any number: indexes use multiply-shift, not a mask).
    per_shard: u64,
    hasher: ahash::RandomState,
}

impl<K: Hash + Eq + Clone, V: SlotValue> Table<K, V> {
    /// A table with room for `capacity` keys (× 1.5 slots, rounded up to
    /// whole buckets, at least 64 buckets per shard when there are several).
    pub(crate) fn new(capacity: usize) -> Self {
        // Load factor at most 2/3 when `capacity` keys are held: with two
        // choices of a 4-way bucket per key, a full table then evicts early
        // only a small fraction of keys (measured in the tests).
        let slots = capacity.max(1).saturating_add(capacity / 2);
        let buckets = slots.div_ceil(WAYS).max(1);
        // At least 64 buckets per shard, so that the keys spread evenly over
        // the buckets of a shard (few shards for small tables); a power
        // of two so the hash's top bits pick it.
        let shards = (buckets / 64).clamp(1, MAX_SHARDS);
        let shards = if shards.is_power_of_two() {
            shards
        } else {
            shards.next_power_of_two() / 2
        };
        let per_shard = buckets.div_ceil(shards);
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
            per_shard: per_shard as u64,
            hasher: ahash::RandomState::new(),
        }
    }

    /// The number of slots.
    pub(crate) fn capacity(&self) -> usize {
        self.shards.len() * self.per_shard as usize * WAYS
    }

    #[inline(always)]
    fn locate(&self, key: &K) -> (MutexGuard<'_, Shard<K, V>>, [usize; 2], u32) {
        let h = self.hasher.hash_one(key);
        let shard_idx = if self.shard_shift >= 64 {
            0
        } else {
            (h >> self.shard_shift) as usize
        };
        // Fingerprint 0 marks "no fingerprint"; a real 0 is moved to 1.
        let fp = ((h >> 32) as u32).max(1);
        // Multiply-shift maps 32 hash bits onto `per_shard` buckets.
        let first = (((h & 0xffff_ffff) * self.per_shard) >> 32) as usize;
        let h2 = h.rotate_left(21).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let second = (((h2 >> 32) * self.per_shard) >> 32) as usize;
        let shard = match self.shards.get(shard_idx) {
            Some(s) => &s.0,
            None => &self.shards[0].0,
        };
        let guard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (guard, [first, second], fp)
    }

    /// Where `key` is: (bucket, way). Both buckets' fingerprints are read
    /// before any branch, so on a large table the CPU fetches the two cache
    /// lines in parallel (one miss, not two in a row); they are compared
    /// without branches (a bit mask of matches), so a random key costs no
    /// mispredicted branch per slot.
    #[inline(always)]
    fn find(shard: &Shard<K, V>, buckets: [usize; 2], fp: u32, key: &K) -> Option<(usize, usize)> {
        let a = shard.buckets.get(buckets[0])?;
        let b = shard.buckets.get(buckets[1])?;
        let (mut ma, mut mb) = (0u32, 0u32);
        for i in 0..WAYS {
            ma |= u32::from(a.fps[i] == fp) << i;
            mb |= u32::from(b.fps[i] == fp) << i;
        }
        for (idx, bucket, mut mask) in [(buckets[0], a, ma), (buckets[1], b, mb)] {
            while mask != 0 {
                let i = mask.trailing_zeros() as usize;
                if bucket.keys.get(i).and_then(Option::as_ref) == Some(key) {
                    return Some((idx, i));
                }
                mask &= mask - 1;
            }
        }
        None
    }

    /// Runs `f` on the key's value, inserting a default value first if the
    /// key is absent (evicting an idle or, failing that, the least valuable
    /// entry of its two buckets).
    #[inline(always)]
    pub(crate) fn entry<R>(&self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let (mut guard, buckets, fp) = self.locate(key);
        let shard = &mut *guard;
        if let Some((b, i)) = Self::find(shard, buckets, fp, key) {
            if let Some(bucket) = shard.buckets.get_mut(b) {
                return f(&mut bucket.vals[i], Found::Present);
            }
        }
        // Absent: a free or idle slot in whichever bucket has more of them
        // (the power of two choices), else the least valuable entry of both.
        let mut victim = None;
        let mut best = u64::MAX;
        let mut most_free = 0;
        for b in buckets {
            let Some(bucket) = shard.buckets.get(b) else {
                continue;
            };
            let mut free = 0;
            let mut first_free = None;
            for i in 0..WAYS {
                if bucket.keys[i].is_none() || bucket.vals[i].is_idle(now) {
                    free += 1;
                    first_free.get_or_insert(i);
                } else if most_free == 0 {
                    let s = bucket.vals[i].keep_score(now);
                    if s < best {
                        best = s;
                        victim = Some((b, i, Found::Evicted));
                    }
                }
            }
            if let Some(i) = first_free {
                if free > most_free {
                    most_free = free;
                    victim = Some((b, i, Found::Inserted));
                }
            }
        }
        let Some((b, i, found)) = victim else {
            // Unreachable: the masks keep bucket indexes in range.
            return f(&mut V::default(), Found::Inserted);
        };
        if found == Found::Evicted {
            shard.evicted_live = shard.evicted_live.saturating_add(1);
        }
        let Some(bucket) = shard.buckets.get_mut(b) else {
            return f(&mut V::default(), Found::Inserted);
        };
        bucket.fps[i] = fp;
        bucket.keys[i] = Some(key.clone());
        bucket.vals[i] = V::default();
        f(&mut bucket.vals[i], found)
    }

    /// Runs `f` on the key's value if the key is present.
    pub(crate) fn get<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let (mut guard, buckets, fp) = self.locate(key);
        let (b, i) = Self::find(&guard, buckets, fp, key)?;
        let bucket = guard.buckets.get_mut(b)?;
        Some(f(&mut bucket.vals[i]))
    }

    /// Forgets the key; `true` if it was present.
    pub(crate) fn remove(&self, key: &K) -> bool {
        let (mut guard, buckets, fp) = self.locate(key);
        let Some((b, i)) = Self::find(&guard, buckets, fp, key) else {
            return false;
        };
        let Some(bucket) = guard.buckets.get_mut(b) else {
            return false;
        };
        bucket.fps[i] = 0;
        bucket.keys[i] = None;
        bucket.vals[i] = V::default();
        true
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
