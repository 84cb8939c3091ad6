//! The bounded, sharded, set-associative map behind every keyed counter
//! ([`BoundedMap`]), public so that other crates can keep a bounded record
//! per key (the SIP auth-failure tracker keeps one per source).
//!
//! Why our own table instead of `HashMap`, `DashMap` or a cache crate:
//!
//! * **Bounded by construction.** All slots are allocated once, for the
//!   configured capacity (× 1.5); nothing grows under a flood, and there is no
//!   `retain_recent` for the user to forget (governor's most reported
//!   problem).
//! * **Eviction that knows the data.** A slot whose value carries no
//!   information any more ([`SlotValue::is_idle`]: a GCRA key whose
//!   theoretical arrival time has passed, an event counter whose events have
//!   all left the window) is overwritten once no empty slot is left; only
//!   when a key's two buckets are busy is the least valuable entry
//!   ([`SlotValue::keep_score`]) evicted.
//!   A generic LRU or CLOCK cache cannot know this.
//! * **About one random memory access per lookup.** A key hashes to two
//!   candidate buckets of [`WAYS`] slots (two-choice hashing); a new key goes
//!   to the bucket with more room. Each slot's 16-bit fingerprint lives in a
//!   dense array apart from the slots (2 bytes per slot, 3 MB for a million
//!   keys: it stays in the CPU's caches while the slots do not), so a lookup
//!   compares the fingerprints of both buckets without leaving the cache and
//!   then reads exactly one slot, key and value side by side on one cache
//!   line when they are small (hashbrown's control bytes do the same). The
//!   second bucket lies in the same 32-bucket group as the first, so both
//!   are served by one address translation. Two choices keep the table
//!   usable up to a load factor of 2/3 with few early evictions, where one
//!   4-way bucket per key would overflow often.
//! * **Shards.** The table is split into up to [`MAX_SHARDS`] shards, each
//!   behind its own lock on its own cache line, chosen by the hash's top
//!   bits, so threads on distinct keys rarely meet. The lock is a spin
//!   lock (`spin::SpinMutex`) that yields to the scheduler while it waits:
//!   taking and releasing it costs one locked instruction, where
//!   `std::sync::Mutex` costs two (its release swaps, to learn whether to
//!   wake a sleeper). With a cache miss in flight inside the critical
//!   section, each locked instruction holds up the next lookup's loads; on
//!   the machine the benchmarks ran on, a random read-modify-write over
//!   64 MiB cost 15–17 ns behind a spin lock and 29–35 ns behind
//!   `std::sync::Mutex` (`parking_lot`: 26 ns). A lock is held for one
//!   lookup (a batch: sixteen), about one memory access, so a waiter
//!   rarely waits longer than that; if the holder is descheduled, the
//!   waiter yields its core instead of burning it. [`BoundedMap::entry`]
//!   reads the key's two fingerprint words (atomics, written only under
//!   the lock) *before* taking the lock, so their load overlaps the
//!   lock's instead of following it; what they point to is checked under
//!   the lock (a key lives in one slot only), and anything else takes the
//!   locked path, which reads them again. There is no poisoning:
//!   a panic in a closure passed to [`BoundedMap::entry`] releases the
//!   lock, and the value keeps whatever the closure wrote before it
//!   panicked. An owner holding
//!   `&mut BoundedMap` (a single-threaded tracker) uses the `_mut` methods,
//!   which take no lock at all.
//!
//! The hash is keyed with a per-table random key, so an attacker cannot aim
//! spoofed keys at one bucket: IP address keys (`IpAddr`, `Ipv4Addr`,
//! `Ipv6Addr`) are hashed with two rounds of a keyed folded multiply over the
//! address bits (ahash's mixing step, without its generic `Hasher`
//! plumbing); every other key type with `ahash`.

use std::any::Any;
use std::borrow::Borrow;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use pbxsec_core::Instant;

use crate::Result;
use crate::rate::check_capacity;

/// Slots per bucket.
pub const WAYS: usize = 4;
/// The most shards a table is split into.
pub const MAX_SHARDS: usize = 64;
/// Keys [`BoundedMap::entry_batch`] works on at once.
pub const BATCH: usize = 16;

/// What a [`BoundedMap`] needs to know about a value to evict well.
///
/// `Default` is the value of a key just inserted (and what a removed slot is
/// reset to).
pub trait SlotValue: Default {
    /// `true` when the value carries no information at `now`: forgetting it
    /// changes no future decision, so its slot may be given to another key.
    fn is_idle(&self, now: Instant) -> bool;
    /// How much forgetting this value would lose; when both of a new key's
    /// buckets are busy, the entry with the lowest score is evicted.
    fn keep_score(&self, now: Instant) -> u64;

    /// `true` for a value that spans several cache lines, or whose update
    /// reads memory it points to: a lookup then
    /// reads [`touch`](Self::touch) of a slot whose fingerprint matches
    /// while it compares that slot's key (stored before the value), so the
    /// value's first line is already on its way (without `unsafe` prefetch
    /// instructions). Default `false`.
    const TOUCH: bool = false;

    /// A word the use of the value will load first: from its first cache
    /// line (put the fields a lookup uses there, with
    /// `#[repr(C, align(64))]`), or behind a pointer there (a heap buffer
    /// the update reads). Only read when [`TOUCH`](Self::TOUCH) is `true`.
    #[inline(always)]
    fn touch(&self) -> u64 {
        0
    }
}

/// One slot: the key (`None`: empty), then its value, side by side so one
/// cache line holds both when they are small (an IP address and a GCRA
/// time: 32 bytes), and a large cache-line aligned value's first line
/// directly follows the key's line (the pair a CPU fetches together).
#[repr(C)]
struct Slot<K, V> {
    key: Option<K>,
    val: V,
}

/// A bucket's slots, cache-line aligned, so a small slot never straddles
/// two lines.
#[repr(C, align(64))]
struct Ways<K, V>([Slot<K, V>; WAYS]);

impl<K, V: Default> Ways<K, V> {
    fn new() -> Self {
        Self(std::array::from_fn(|_| Slot {
            val: V::default(),
            key: None,
        }))
    }
}

/// A bucket's four fingerprints, the 16-bit lanes of one word; 0 marks an
/// empty slot. Atomic so that a lookup can read them before it takes the
/// shard's lock (only a hint then: what it finds is checked under the
/// lock); written only under the lock.
type Fps = AtomicU64;

/// Lane `i` of a fingerprint word.
#[inline(always)]
fn lane(w: u64, i: usize) -> u16 {
    (w >> (16 * (i % WAYS))) as u16
}

/// The word with lane `i` set to `fp`.
#[inline(always)]
fn with_lane(w: u64, i: usize, fp: u16) -> u64 {
    let shift = 16 * (i % WAYS);
    (w & !(0xffff << shift)) | (u64::from(fp) << shift)
}

struct Shard<K, V> {
    /// Dense, apart from the slots, so they stay in cache; shared with the
    /// shard's [`Cell`] for reads before the lock.
    fps: Arc<[Fps]>,
    buckets: Box<[Ways<K, V>]>,
    evicted_live: u64,
}

#[repr(align(128))]
struct Padded<T>(T);

/// A shard's lock: a spin lock that yields to the scheduler while it
/// waits (see the module docs for why not `std::sync::Mutex`).
type ShardMutex<K, V> = spin::mutex::SpinMutex<Shard<K, V>, spin::relax::Yield>;
type ShardGuard<'a, K, V> = spin::mutex::SpinMutexGuard<'a, Shard<K, V>>;
/// A shard: its lock, and its fingerprints readable without the lock.
struct Cell<K, V> {
    lock: ShardMutex<K, V>,
    fps: Arc<[Fps]>,
}
type ShardLock<K, V> = Padded<Cell<K, V>>;

/// What [`BoundedMap::entry`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Found {
    /// The key was present.
    Present,
    /// The key was absent; an empty or idle slot was taken.
    Inserted,
    /// The key was absent; a live (not idle) entry was evicted to make room.
    Evicted,
}

/// Where a key may live: shard, the two candidate buckets, fingerprint.
#[derive(Clone, Copy)]
struct Place {
    shard: usize,
    buckets: [usize; 2],
    fp: u16,
    touch: bool,
}

/// The keyed hash: IP addresses by a keyed folded multiply, the rest by
/// ahash.
struct KeyHasher {
    seeds: [u64; 4],
    ahash: ahash::RandomState,
}

#[inline(always)]
const fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

impl KeyHasher {
    fn new() -> Self {
        let ahash = ahash::RandomState::new();
        // Seeds drawn from ahash's per-process random source.
        let seeds = [
            ahash.hash_one(0x243f_6a88_85a3_08d3_u64) | 1,
            ahash.hash_one(0x1319_8a2e_0370_7344_u64) | 1,
            ahash.hash_one(0xa409_3822_299f_31d0_u64) | 1,
            ahash.hash_one(0x082e_fa98_ec4e_6c89_u64) | 1,
        ];
        Self { seeds, ahash }
    }

    #[inline(always)]
    fn bits(&self, lo: u64, hi: u64) -> u64 {
        let [a, b, c, d] = self.seeds;
        let x = folded_multiply(lo ^ a, hi ^ b);
        folded_multiply(x ^ c, d)
    }

    #[inline(always)]
    fn hash<K: Hash + 'static>(&self, key: &K) -> u64 {
        let any = key as &dyn Any;
        if let Some(ip) = any.downcast_ref::<IpAddr>() {
            return match ip {
                IpAddr::V4(v4) => self.bits(u64::from(v4.to_bits()), 4),
                IpAddr::V6(v6) => self.v6(*v6),
            };
        }
        if let Some(v4) = any.downcast_ref::<Ipv4Addr>() {
            return self.bits(u64::from(v4.to_bits()), 4);
        }
        if let Some(v6) = any.downcast_ref::<Ipv6Addr>() {
            return self.v6(*v6);
        }
        self.ahash.hash_one(key)
    }

    #[inline(always)]
    fn v6(&self, ip: Ipv6Addr) -> u64 {
        let b = ip.to_bits();
        let x = self.bits(b as u64, (b >> 64) as u64);
        folded_multiply(x ^ 6, self.seeds[0])
    }
}

/// A bounded map from keys to values, with data-aware eviction: the
/// mechanism behind [`RateLimiter`](crate::RateLimiter) and
/// [`ThresholdCounter`](crate::ThresholdCounter), public for records of
/// your own (implement [`SlotValue`] for the value).
///
/// * All memory is allocated by [`new`](Self::new), for `capacity` keys
///   (`capacity × 1.5` slots, rounded up to whole buckets of [`WAYS`]); it
///   never grows.
/// * [`entry`](Self::entry) runs a closure on a key's value, inserting
///   `V::default()` first if the key is absent. A new key takes an empty
///   slot in whichever of its two candidate buckets has more of them; with
///   none, an idle slot, likewise; if all eight slots hold live values, the one with the lowest
///   [`keep_score`](SlotValue::keep_score) is evicted (counted by
///   [`evictions`](Self::evictions)).
/// * `&self` methods lock one shard (a spin lock per shard); the `_mut`
///   methods, for an owner with `&mut self`, lock nothing.
///
/// ```
/// use pbxsec_core::Instant;
/// use pbxsec_ratelimit::{BoundedMap, Found, SlotValue};
///
/// #[derive(Default)]
/// struct Hits(u64);
/// impl SlotValue for Hits {
///     fn is_idle(&self, _now: Instant) -> bool { self.0 == 0 }
///     fn keep_score(&self, _now: Instant) -> u64 { self.0 }
/// }
///
/// let map: BoundedMap<u32, Hits> = BoundedMap::new(1000).unwrap();
/// let now = Instant::from_nanos(0);
/// assert_eq!(map.entry(&7, now, |h, found| { h.0 += 1; found }), Found::Inserted);
/// assert_eq!(map.entry(&7, now, |h, found| { h.0 += 1; (h.0, found) }), (2, Found::Present));
/// assert_eq!(map.get(&7, |h| h.0), Some(2));
/// assert!(map.slots() >= 1500);
/// ```
pub struct BoundedMap<K, V> {
    shards: Box<[ShardLock<K, V>]>,
    /// `63 - log2(shards)`: the shard is `(h >> 1) >> shard_shift` (two
    /// shifts, so one shard needs no branch for a shift by 64).
    shard_shift: u32,
    /// Buckets per shard (any number: indexes use multiply-shift, not a mask).
    per_shard: u64,
    /// Whether lookups touch the candidates' values early: values that
    /// ask for it ([`SlotValue::TOUCH`]) in a table larger than the CPU's
    /// last-level cache typically is (8 MiB).
    touch: bool,
    /// Larger than the CPU's last-level cache typically is (8 MiB): only
    /// then does [`entry_batch`](Self::entry_batch) batch.
    large: bool,
    hasher: KeyHasher,
    /// The fingerprint bits kept: all 16, but a handful in the tests, so
    /// that fingerprints collide and every lookup path is exercised.
    fp_mask: u16,
}

impl<K, V> std::fmt::Debug for BoundedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedMap")
            .field("shards", &self.shards.len())
            .field("buckets_per_shard", &self.per_shard)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone + 'static, V: SlotValue> BoundedMap<K, V> {
    /// A map with room for `capacity` keys (× 1.5 slots, rounded up to
    /// whole buckets, at least 64 buckets per shard when there are several),
    /// all allocated now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a capacity
    /// of 0 or above [`MAX_CAPACITY`](crate::MAX_CAPACITY).
    pub fn new(capacity: usize) -> Result<Self> {
        check_capacity(capacity)?;
        Ok(Self::with_capacity(capacity))
    }

    pub(crate) fn with_capacity(capacity: usize) -> Self {
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
                let b: Vec<Ways<K, V>> = (0..per_shard).map(|_| Ways::new()).collect();
                let fps: Arc<[Fps]> = (0..per_shard).map(|_| AtomicU64::new(0)).collect();
                Padded(Cell {
                    fps: Arc::clone(&fps),
                    lock: ShardMutex::new(Shard {
                        fps,
                        buckets: b.into_boxed_slice(),
                        evicted_live: 0,
                    }),
                })
            })
            .collect();
        let bytes = (shards * per_shard).saturating_mul(size_of::<Ways<K, V>>());
        Self {
            shards: shards_vec.into_boxed_slice(),
            shard_shift: 63 - shard_bits,
            per_shard: per_shard as u64,
            touch: V::TOUCH && bytes > 8 << 20,
            large: bytes > 8 << 20,
            hasher: KeyHasher::new(),
            fp_mask: u16::MAX,
        }
    }

    /// The number of slots: the most keys it can hold at once.
    pub fn slots(&self) -> usize {
        self.shards.len() * self.per_shard as usize * WAYS
    }

    #[inline(always)]
    fn place(&self, key: &K) -> Place {
        let h = self.hasher.hash(key);
        let shard = ((h >> 1) >> self.shard_shift) as usize;
        // Fingerprint 0 marks an empty slot; a real 0 is moved to 1.
        let fp = ((h >> 32) as u16 & self.fp_mask).max(1);
        // Multiply-shift maps 32 hash bits onto `per_shard` buckets.
        let first = (((h & 0xffff_ffff) * self.per_shard) >> 32) as usize;
        // The second bucket is near the first (XOR with 1..=31: the same
        // 32-bucket group, 4 KiB for 128-byte buckets), so one address
        // translation serves both: on a table far larger than the TLB
        // covers, two random buckets would cost two page walks.
        // Bits 16..21 of the hash: not used by the fingerprint (32..48),
        // the shard (the top bits) nor, but weakly, the first bucket (the
        // high bits of the low half, through the multiply).
        let d = (((h >> 16) & 31) as usize).max(1);
        let mut second = first ^ d;
        if second as u64 >= self.per_shard {
            second = first.saturating_sub(d);
        }
        Place {
            shard,
            buckets: [first, second],
            fp,
            touch: self.touch,
        }
    }

    #[inline(always)]
    fn lock(&self, shard: usize) -> ShardGuard<'_, K, V> {
        self.cell(shard).lock.lock()
    }

    #[inline(always)]
    fn cell(&self, shard: usize) -> &Cell<K, V> {
        match self.shards.get(shard) {
            Some(s) => &s.0,
            None => &self.shards[0].0,
        }
    }

    #[inline(always)]
    fn shard_mut(&mut self, shard: usize) -> &mut Shard<K, V> {
        let len = self.shards.len();
        let s = if shard < len { shard } else { 0 };
        self.shards[s].0.lock.get_mut()
    }

    /// Runs `f` on the key's value, inserting `V::default()` first if the
    /// key is absent (evicting an idle or, failing that, the least valuable
    /// entry of its two buckets). `f` learns which of the three happened.
    #[inline(always)]
    pub fn entry<R>(&self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let place = self.place(key);
        let cell = self.cell(place.shard);
        // The fingerprints are read before the lock is taken, so their
        // load does not wait for it: only a hint, checked under the lock.
        let hit = first_hit(place, fp_words(&cell.fps, place));
        let mut guard = cell.lock.lock();
        if let Some((b, i)) = hit {
            if let Some(slot) = guard.buckets.get_mut(b).and_then(|w| w.0.get_mut(i)) {
                if slot.key.as_ref() == Some(key) {
                    // A key lives in one slot only: this is its entry,
                    // whatever the fingerprints said or say now.
                    return f(&mut slot.val, Found::Present);
                }
            }
        }
        self.entry_locked(guard, key, now, f)
    }

    /// [`entry`](Self::entry) past its fast path (a fingerprint shared
    /// with another key, or an absent key), out of line so that the fast
    /// path keeps nothing for it: the key is placed again.
    #[inline(never)]
    fn entry_locked<R>(
        &self,
        mut guard: ShardGuard<'_, K, V>,
        key: &K,
        now: Instant,
        f: impl FnOnce(&mut V, Found) -> R,
    ) -> R {
        let place = self.place(key);
        entry_in(&mut guard, place, key, now, f)
    }

    /// Whether [`entry_batch`](Self::entry_batch) batches (the slots take
    /// more than 8 MiB) or walks the keys one by one.
    pub fn batches(&self) -> bool {
        self.large
    }

    /// [`entry`](Self::entry) for many keys at once, in order: `f(i, value,
    /// found)` runs for each `keys[i]` that is `Some` (`None` entries are
    /// skipped), exactly as [`entry`](Self::entry) would, one key after the
    /// other (a key that appears twice sees its first update).
    ///
    /// Faster per key than `entry` on a table larger than the CPU caches
    /// (over 8 MiB of slots; a smaller table is simply walked key by key):
    /// keys are taken [`BATCH`] at a time; the shards they fall in are
    /// locked once each, in ascending order (so batches never deadlock
    /// with each other or with `entry`), then the slots of all of them are
    /// read before any is used, so their cache misses overlap instead of
    /// following one another; then `f` runs for each. A packet front door
    /// that receives datagrams in batches (`recvmmsg`) checks them this way.
    /// `f` runs with shard locks held: it must not use this map.
    pub fn entry_batch<Q: Borrow<K>>(
        &self,
        keys: &[Option<Q>],
        now: Instant,
        mut f: impl FnMut(usize, &mut V, Found),
    ) {
        if !self.large {
            // In cache, misses do not dominate: one key at a time is faster.
            for (i, key) in keys.iter().enumerate() {
                if let Some(key) = key {
                    self.entry(key.borrow(), now, |v, found| f(i, v, found));
                }
            }
            return;
        }
        for (c, chunk) in keys.chunks(BATCH).enumerate() {
            let base = c * BATCH;
            let places: [Option<Place>; BATCH] = std::array::from_fn(|j| {
                let key = chunk.get(j)?.as_ref()?;
                Some(self.place(key.borrow()))
            });
            // The shards in use (at most 64: one bit each), locked in
            // ascending order; `at[shard]` is where its guard is (no rank
            // to count: the x86-64 baseline has no POPCNT).
            let mut used = 0u64;
            for p in places.iter().flatten() {
                used |= 1 << (p.shard & 63);
            }
            let mut guards: [Option<ShardGuard<'_, K, V>>; BATCH] = Default::default();
            let mut at = [0u8; MAX_SHARDS];
            let mut bits = used;
            for (n, g) in guards.iter_mut().enumerate() {
                if bits == 0 {
                    break;
                }
                let s = bits.trailing_zeros() as usize;
                if let Some(a) = at.get_mut(s) {
                    *a = n as u8;
                }
                *g = Some(self.lock(s));
                bits &= bits - 1;
            }
            let guard_of = |shard: usize| usize::from(at.get(shard).copied().unwrap_or(0));
            // Start every key's slot loading before any is used, so the
            // misses overlap. Three passes, each tight enough that all
            // sixteen loads fit in the CPU's reorder window together
            // (~200 instructions here): the fingerprints (dense, often in
            // cache) are loaded; each key's probable slot is picked from
            // them; then those slots are read.
            let mut words = [[0u64; 2]; BATCH];
            for (w, p) in words.iter_mut().zip(&places) {
                if let Some(p) = p {
                    if let Some(shard) = guards.get(guard_of(p.shard)).and_then(Option::as_deref) {
                        *w = fp_words(&shard.fps, *p);
                    }
                }
            }
            let mut slots: [Option<&Slot<K, V>>; BATCH] = [None; BATCH];
            for ((s, w), p) in slots.iter_mut().zip(&words).zip(&places) {
                if let Some(p) = p {
                    if let Some(shard) = guards.get(guard_of(p.shard)).and_then(Option::as_deref) {
                        let (b, i) = likely_slot(*p, *w);
                        *s = shard.buckets.get(b).and_then(|w| w.0.get(i));
                    }
                }
            }
            let mut acc = 0u64;
            for slot in slots.iter().flatten() {
                acc ^= u64::from(slot.key.is_some());
                if V::TOUCH {
                    acc ^= slot.val.touch();
                }
            }
            std::hint::black_box(acc);
            for (j, p) in places.iter().enumerate() {
                let (Some(p), Some(Some(key))) = (p, chunk.get(j)) else {
                    continue;
                };
                let Some(shard) = guards
                    .get_mut(guard_of(p.shard))
                    .and_then(Option::as_deref_mut)
                else {
                    continue;
                };
                entry_in(shard, *p, key.borrow(), now, |v, found| {
                    f(base + j, v, found)
                });
            }
        }
    }

    /// [`entry`](Self::entry) for an owner with `&mut self`: no lock.
    #[inline(always)]
    pub fn entry_mut<R>(&mut self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let place = self.place(key);
        entry_in(self.shard_mut(place.shard), place, key, now, f)
    }

    /// Runs `f` on the key's value if the key is present.
    #[inline]
    pub fn get<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let place = self.place(key);
        let mut guard = self.lock(place.shard);
        get_in(&mut guard, place, key, f)
    }

    /// [`get`](Self::get) for an owner with `&mut self`: no lock.
    #[inline]
    pub fn get_mut<R>(&mut self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let place = self.place(key);
        get_in(self.shard_mut(place.shard), place, key, f)
    }

    /// Forgets the key; `true` if it was present.
    pub fn remove(&self, key: &K) -> bool {
        let place = self.place(key);
        let mut guard = self.lock(place.shard);
        let shard = &mut *guard;
        let Some((b, i)) = find(shard, place, key) else {
            return false;
        };
        let (Some(fps), Some(bucket)) = (shard.fps.get(b), shard.buckets.get_mut(b)) else {
            return false;
        };
        fps.store(with_lane(fps.load(Relaxed), i, 0), Relaxed);
        bucket.0[i] = Slot {
            val: V::default(),
            key: None,
        };
        true
    }

    /// The number of keys whose value is not idle at `now` (walks the
    /// whole table: for statistics, not per packet).
    pub fn live_len(&self, now: Instant) -> usize {
        let mut n = 0;
        for shard in &*self.shards {
            let guard = shard.0.lock.lock();
            for bucket in &*guard.buckets {
                for slot in &bucket.0 {
                    if slot.key.is_some() && !slot.val.is_idle(now) {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// How many live (non-idle) entries were evicted to make room so far.
    pub fn evictions(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.lock.lock().evicted_live)
            .sum()
    }

    /// Forgets every key (the memory stays allocated).
    pub fn clear(&self) {
        for shard in &*self.shards {
            let mut guard = shard.0.lock.lock();
            for fps in &*guard.fps {
                fps.store(0, Relaxed);
            }
            for bucket in &mut *guard.buckets {
                *bucket = Ways::new();
            }
        }
    }
}

/// A key hashed and its slot's loads under way, from
/// [`BoundedMap::start_mut`]: hand it to
/// [`entry_started_mut`](BoundedMap::entry_started_mut) or
/// [`get_started_mut`](BoundedMap::get_started_mut) (no second hash).
///
/// It holds the key (a clone), where the key may live and the slot whose
/// fingerprint matched, not a borrow of the map: the map may be used in
/// between. The second step checks that slot's fingerprint and key again
/// and, if it no longer holds the key, looks the key up in full; used on a
/// map other than the one that started it, it places the key again.
#[derive(Clone)]
pub struct Started<K> {
    key: K,
    place: Place,
    /// The first slot whose fingerprint matched at the start (bits 0..2:
    /// the way, bit 2: the second bucket), or 8: none.
    guess: u8,
    /// [`BoundedMap::tag`] of the map that started it.
    tag: u64,
}

impl<K> Started<K> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: std::fmt::Debug> std::fmt::Debug for Started<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Two-step lookups for an owner with `&mut self`: start the loads of a
/// key's slot, do other work while they are under way, then update.
impl<K: Hash + Eq + Clone + 'static, V: SlotValue> BoundedMap<K, V> {
    /// What identifies this map's placement of keys (its hash key and its
    /// number of buckets per shard), kept in a [`Started`].
    #[inline(always)]
    fn tag(&self) -> u64 {
        self.hasher.seeds[0] ^ self.per_shard
    }

    /// The first step of [`entry_started_mut`](Self::entry_started_mut) /
    /// [`get_started_mut`](Self::get_started_mut): hashes the key, compares
    /// its fingerprints and, on a table larger than the CPU's last-level
    /// cache typically is (over 8 MiB of slots, as for
    /// [`batches`](Self::batches)), starts loading the slot whose
    /// fingerprint matches (its key and, for [`SlotValue::TOUCH`] values,
    /// [`touch`](SlotValue::touch) of the value) and a line of each
    /// candidate bucket (so the address translations of their pages run
    /// beside the fingerprint load instead of after it), without waiting
    /// for any of them. No lock.
    ///
    /// On such a table the slot is a cache miss (about 100–200 ns); a CPU
    /// keeps only some 200 instructions in flight behind a load it waits
    /// for, so work placed *after* this call and before the second step
    /// that does not need the value (checks, building a reply) runs while
    /// the slot is on its way instead of after it.
    #[inline(always)]
    pub fn start_mut(&mut self, key: &K) -> Started<K> {
        let place = self.place(key);
        let tag = self.tag();
        let large = self.large;
        let shard = self.shard_mut(place.shard);
        let [b0, b1] = place.buckets;
        let mut x = 0u64;
        if large {
            // A line of each candidate bucket (way 0's key): the address
            // translations of their pages start beside the fingerprint
            // load, so the slot's loads that follow it find them done.
            for b in [b0, b1] {
                if let Some(w) = shard.buckets.get(b) {
                    x ^= u64::from(w.0[0].key.is_some());
                }
            }
        }
        let hit = first_hit(place, fp_words(&shard.fps, place));
        let (b, i) = hit.unwrap_or((b1, 0));
        // As a `Started::guess`: the way, plus `WAYS` in the second bucket;
        // `2 * WAYS` for no match.
        let first = match hit {
            None => 2 * WAYS,
            Some(_) if b == b0 => i,
            Some(_) => WAYS + i,
        };
        if large {
            if let Some(slot) = shard.buckets.get(b).and_then(|w| w.0.get(i)) {
                x ^= u64::from(slot.key.is_some());
                if V::TOUCH {
                    x ^= slot.val.touch();
                }
            }
            std::hint::black_box(x);
        }
        Started {
            key: key.clone(),
            place,
            guess: first as u8,
            tag,
        }
    }

    /// Where a started key may live in this map.
    #[inline(always)]
    fn started_place(&self, started: &Started<K>) -> (Place, u8) {
        if started.tag == self.tag() {
            (started.place, started.guess)
        } else {
            (self.place(&started.key), 2 * WAYS as u8)
        }
    }

    /// [`entry_mut`](Self::entry_mut) for a key started by
    /// [`start_mut`](Self::start_mut): exactly the same lookup, insertion
    /// and eviction, without hashing the key again.
    #[inline(always)]
    pub fn entry_started_mut<R>(
        &mut self,
        started: &Started<K>,
        now: Instant,
        f: impl FnOnce(&mut V, Found) -> R,
    ) -> R {
        let (place, guess) = self.started_place(started);
        let shard = self.shard_mut(place.shard);
        match guessed(shard, place, guess, &started.key) {
            Some((b, i)) => match shard.buckets.get_mut(b).and_then(|w| w.0.get_mut(i)) {
                Some(slot) => f(&mut slot.val, Found::Present),
                None => entry_in(shard, place, &started.key, now, f),
            },
            None => entry_in(shard, place, &started.key, now, f),
        }
    }

    /// [`get_mut`](Self::get_mut) for a key started by
    /// [`start_mut`](Self::start_mut).
    #[inline(always)]
    pub fn get_started_mut<R>(
        &mut self,
        started: &Started<K>,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        let (place, guess) = self.started_place(started);
        let shard = self.shard_mut(place.shard);
        match guessed(shard, place, guess, &started.key) {
            Some((b, i)) => {
                let slot = shard.buckets.get_mut(b)?.0.get_mut(i)?;
                Some(f(&mut slot.val))
            }
            None => get_in(shard, place, &started.key, f),
        }
    }
}

/// The slot `guess` (see [`Started`]) if it holds `key` now: its
/// fingerprint and key are compared again, so a guess made before the map
/// changed is only a hint. A key lives in at most one slot, so that slot
/// is the key's entry.
#[inline(always)]
fn guessed<K: Eq, V>(
    shard: &Shard<K, V>,
    place: Place,
    guess: u8,
    key: &K,
) -> Option<(usize, usize)> {
    let g = usize::from(guess);
    if g >= 2 * WAYS {
        return None;
    }
    let [b0, b1] = place.buckets;
    let b = if g < WAYS { b0 } else { b1 };
    let i = g % WAYS;
    let fp = lane(shard.fps.get(b)?.load(Relaxed), i);
    let slot = shard.buckets.get(b)?.0.get(i)?;
    (fp == place.fp && slot.key.as_ref() == Some(key)).then_some((b, i))
}

/// Where `key` is: (bucket, way). Both buckets' fingerprints (dense, in
/// cache) are compared without branches (a bit mask of matches); only a
/// slot whose fingerprint matches is read, so a present key costs one slot
/// read and an absent one none.
#[inline(always)]
fn find<K: Eq, V: SlotValue>(shard: &Shard<K, V>, place: Place, key: &K) -> Option<(usize, usize)> {
    let masks = fp_matches(shard, place);
    // The common case, a present key whose fingerprint matches only its
    // own slot: the first match, picked without a branch (which bucket
    // holds a key is a coin toss a branch predictor would lose), so the
    // slot's load starts as soon as the fingerprints arrive.
    if masks != [0; 2] {
        let (b, i) = first_match(place, masks);
        let slot = shard.buckets.get(b)?.0.get(i)?;
        if V::TOUCH && place.touch {
            // Start the value's first line loading beside the key's.
            std::hint::black_box(slot.val.touch());
        }
        if slot.key.as_ref() == Some(key) {
            return Some((b, i));
        }
    }
    // A fingerprint shared with another key: every match, in order.
    let [m0, m1] = masks;
    let [b0, b1] = place.buckets;
    for (b, mut mask) in [(b0, m0), (b1, m1)] {
        while mask != 0 {
            let i = (mask.trailing_zeros() / 16) as usize;
            let slot = shard.buckets.get(b)?.0.get(i)?;
            if slot.key.as_ref() == Some(key) {
                return Some((b, i));
            }
            mask &= mask - 1;
        }
    }
    None
}

/// The low 15 bits of each 16-bit lane.
const LANE_LOW: u64 = 0x7fff_7fff_7fff_7fff;

/// A bucket's four fingerprints as the 16-bit lanes of one word (one load).
#[inline(always)]
fn lanes(f: &Fps) -> u64 {
    f.load(Relaxed)
}

/// Bit `16 * i + 15` set exactly where lane `i` of `x` is zero: no carry
/// crosses a lane (`0x7fff + 0x7fff < 0x10000`), so there are no false
/// matches, unlike the classic `(x - 1) & !x` test.
#[inline(always)]
fn zero_lanes(x: u64) -> u64 {
    !((x & LANE_LOW).wrapping_add(LANE_LOW) | x) & !LANE_LOW
}

/// Both candidate buckets' fingerprint words (two loads).
#[inline(always)]
fn fp_words(fps: &[Fps], place: Place) -> [u64; 2] {
    let [b0, b1] = place.buckets;
    let word = |b: usize| fps.get(b).map_or(0, lanes);
    [word(b0), word(b1)]
}

/// The slots of both candidate buckets whose fingerprint is the key's,
/// from their fingerprint words: one mask per bucket with bit
/// `16 * way + 15` set for each match, compared four at a time (a few
/// instructions, no branch).
#[inline(always)]
fn matches(place: Place, [w0, w1]: [u64; 2]) -> [u64; 2] {
    let all = u64::from(place.fp).wrapping_mul(0x0001_0001_0001_0001);
    [zero_lanes(w0 ^ all), zero_lanes(w1 ^ all)]
}

/// [`matches`] read from the shard (a bucket out of range has none).
#[inline(always)]
fn fp_matches<K, V>(shard: &Shard<K, V>, place: Place) -> [u64; 2] {
    matches(place, fp_words(&shard.fps, place))
}

/// The first slot whose fingerprint matches, as (bucket, way); with none,
/// slot 0 of the second bucket. Selected with conditional moves, not a
/// branch.
#[inline(always)]
fn first_match(place: Place, [m0, m1]: [u64; 2]) -> (usize, usize) {
    let [b0, b1] = place.buckets;
    let second = m0 == 0;
    let b = if second { b1 } else { b0 };
    let m = if second { m1 } else { m0 };
    (b, (m.trailing_zeros() / 16) as usize % WAYS)
}

/// The first slot of both candidate buckets whose fingerprint is the key's,
/// as (bucket, way), from their fingerprint words; `None` if none is.
/// On x86-64 the eight lanes are compared at once with SSE2 (part of the
/// x86-64 baseline; through `safe_arch`, as the workspace forbids
/// `unsafe`): fewer instructions per lookup than the word-wide compare,
/// which leaves room in the CPU's reorder window for the next lookup's
/// cache miss to start while this one's is under way.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn first_hit(place: Place, [w0, w1]: [u64; 2]) -> Option<(usize, usize)> {
    use safe_arch::{
        cmp_eq_mask_i16_m128i, move_mask_i8_m128i, set_i64_m128i, set_splat_i16_m128i,
    };
    let words = set_i64_m128i(w1 as i64, w0 as i64);
    let eq = cmp_eq_mask_i16_m128i(words, set_splat_i16_m128i(place.fp as i16));
    // Two bits per matching lane: lane j (0..8; 4.. the second bucket)
    // sets bits 2j and 2j + 1.
    let bits = move_mask_i8_m128i(eq) as u32;
    if bits == 0 {
        return None;
    }
    let j = (bits.trailing_zeros() / 2) as usize;
    let [b0, b1] = place.buckets;
    let b = if j < WAYS { b0 } else { b1 };
    Some((b, j % WAYS))
}

/// [`first_hit`] without SSE2: the word-wide compare (the only one on
/// other targets; on x86-64 the tests hold both to the same model).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn first_hit_swar(place: Place, words: [u64; 2]) -> Option<(usize, usize)> {
    let masks = matches(place, words);
    (masks != [0; 2]).then(|| first_match(place, masks))
}

#[cfg(not(target_arch = "x86_64"))]
use first_hit_swar as first_hit;

/// The slot a key probably lives in, from its buckets' fingerprint words:
/// the first whose fingerprint matches; with none, a slot that the
/// insertion will read anyway.
#[inline(always)]
fn likely_slot(place: Place, words: [u64; 2]) -> (usize, usize) {
    let [_, b1] = place.buckets;
    first_hit(place, words).unwrap_or((b1, 0))
}

#[inline(always)]
fn get_in<K: Eq, V: SlotValue, R>(
    shard: &mut Shard<K, V>,
    place: Place,
    key: &K,
    f: impl FnOnce(&mut V) -> R,
) -> Option<R> {
    let (b, i) = find(shard, place, key)?;
    let slot = shard.buckets.get_mut(b)?.0.get_mut(i)?;
    Some(f(&mut slot.val))
}

#[inline(always)]
fn entry_in<K: Eq + Clone, V: SlotValue, R>(
    shard: &mut Shard<K, V>,
    place: Place,
    key: &K,
    now: Instant,
    f: impl FnOnce(&mut V, Found) -> R,
) -> R {
    if let Some((b, i)) = find(shard, place, key) {
        if let Some(slot) = shard.buckets.get_mut(b).and_then(|w| w.0.get_mut(i)) {
            return f(&mut slot.val, Found::Present);
        }
    }
    insert_in(shard, place, key, now, f)
}

/// The absent-key path, kept out of line so the lookup stays small.
#[inline(never)]
fn insert_in<K: Eq + Clone, V: SlotValue, R>(
    shard: &mut Shard<K, V>,
    place: Place,
    key: &K,
    now: Instant,
    f: impl FnOnce(&mut V, Found) -> R,
) -> R {
    // An empty slot (fingerprint 0) in whichever bucket has more of them
    // (the power of two choices); else an idle slot, likewise; else the
    // least valuable entry of both. Empty slots first: reusing an idle slot
    // while empty ones remain would push out keys that are still in use
    // (their next event would find them gone and insert again), and the
    // empty check reads only the fingerprints, not the values.
    let mut victim = None;
    let mut most_empty = 0;
    for b in place.buckets {
        let Some(fps) = shard.fps.get(b) else {
            continue;
        };
        let w = fps.load(Relaxed);
        let empty = (0..WAYS).filter(|&i| lane(w, i) == 0).count();
        if empty > most_empty {
            if let Some(i) = (0..WAYS).position(|i| lane(w, i) == 0) {
                most_empty = empty;
                victim = Some((b, i, Found::Inserted));
            }
        }
    }
    if victim.is_none() {
        let mut best = u64::MAX;
        let mut most_idle = 0;
        for b in place.buckets {
            let Some(bucket) = shard.buckets.get(b) else {
                continue;
            };
            let mut idle = 0;
            let mut first_idle = None;
            for (i, slot) in bucket.0.iter().enumerate() {
                if slot.val.is_idle(now) {
                    idle += 1;
                    first_idle.get_or_insert(i);
                } else if most_idle == 0 {
                    let s = slot.val.keep_score(now);
                    if s < best {
                        best = s;
                        victim = Some((b, i, Found::Evicted));
                    }
                }
            }
            if let Some(i) = first_idle {
                if idle > most_idle {
                    most_idle = idle;
                    victim = Some((b, i, Found::Inserted));
                }
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
    let (Some(fps), Some(slot)) = (
        shard.fps.get(b),
        shard.buckets.get_mut(b).and_then(|w| w.0.get_mut(i)),
    ) else {
        return f(&mut V::default(), Found::Inserted);
    };
    fps.store(with_lane(fps.load(Relaxed), i, place.fp), Relaxed);
    *slot = Slot {
        val: V::default(),
        key: Some(key.clone()),
    };
    f(&mut slot.val, found)
}

#[cfg(test)]
mod tests {
    use super::started_tests::Count;
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum Op {
        Add(u8),
        Get(u8),
        Remove(u8),
        Batch(Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(|k| Op::Add(k % 64)),
            2 => any::<u8>().prop_map(|k| Op::Get(k % 64)),
            1 => any::<u8>().prop_map(|k| Op::Remove(k % 64)),
            1 => proptest::collection::vec(any::<u8>().prop_map(|k| k % 64), 0..40).prop_map(Op::Batch),
        ]
    }

    proptest! {
        /// With two-bit fingerprints nearly every lookup meets a slot whose
        /// fingerprint matches but whose key differs: `entry`, `get`,
        /// `remove` and both paths of `entry_batch` (a small and a
        /// batching table) still find exactly what a `HashMap` holds.
        #[test]
        fn colliding_fingerprints_match_a_hashmap(ops in proptest::collection::vec(op(), 1..200), large in any::<bool>()) {
            let cap = if large { 1 << 19 } else { 1000 };
            let mut map: BoundedMap<u32, Count> = BoundedMap::with_capacity(cap);
            map.fp_mask = 0b11;
            prop_assert_eq!(map.batches(), large);
            let mut model: HashMap<u32, u64> = HashMap::new();
            let now = Instant::from_nanos(0);
            for op in ops {
                match op {
                    Op::Add(k) => {
                        let k = u32::from(k);
                        let found = map.entry(&k, now, |c, found| { c.0 += 1; found });
                        let was = model.insert(k, model.get(&k).copied().unwrap_or(0) + 1);
                        prop_assert_eq!(found == Found::Present, was.is_some());
                    }
                    Op::Get(k) => {
                        let k = u32::from(k);
                        prop_assert_eq!(map.get(&k, |c| c.0), model.get(&k).copied());
                    }
                    Op::Remove(k) => {
                        let k = u32::from(k);
                        prop_assert_eq!(map.remove(&k), model.remove(&k).is_some());
                    }
                    Op::Batch(keys) => {
                        let keys: Vec<Option<u32>> = keys.into_iter().map(|k| Some(u32::from(k))).collect();
                        let mut seen = Vec::new();
                        map.entry_batch(&keys, now, |i, c, found| { c.0 += 1; seen.push((i, c.0, found)); });
                        let mut want = Vec::new();
                        for (i, k) in keys.iter().enumerate() {
                            let Some(k) = k else { continue };
                            let was = model.get(k).copied();
                            let n = was.unwrap_or(0) + 1;
                            model.insert(*k, n);
                            want.push((i, n, if was.is_some() { Found::Present } else { Found::Inserted }));
                        }
                        prop_assert_eq!(seen, want);
                    }
                }
            }
            prop_assert_eq!(map.evictions(), 0);
            for k in 0..64u32 {
                prop_assert_eq!(map.get(&k, |c| c.0), model.get(&k).copied());
            }
        }
    }

    proptest! {
        /// The word-at-a-time fingerprint compare finds exactly the lanes
        /// a lane-by-lane compare finds: no false match, none missed.
        #[test]
        fn zero_lanes_is_exact(f in any::<[u16; WAYS]>(), fp in any::<u16>(), dup in 0usize..WAYS) {
            // Make a match likely: lane `dup` sometimes holds `fp`.
            let mut f = f;
            if fp % 2 == 0 {
                f[dup] = fp;
            }
            let all = u64::from(fp).wrapping_mul(0x0001_0001_0001_0001);
            let word = f.iter().rev().fold(0u64, |w, &x| w << 16 | u64::from(x));
            prop_assert_eq!((0..WAYS).map(|i| lane(word, i)).collect::<Vec<_>>(), f.to_vec());
            let got = zero_lanes(word ^ all);
            let mut want = 0u64;
            for (i, &x) in f.iter().enumerate() {
                if x == fp {
                    want |= 1 << (16 * i + 15);
                }
            }
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        /// The first fingerprint match over both buckets, as the lookup
        /// picks it (SSE2 on x86-64, and the word-wide compare), is the
        /// first lane, in order, that a lane-by-lane compare finds.
        #[test]
        fn first_hit_is_the_first_matching_lane(
            f in any::<[u16; 2 * WAYS]>(),
            fp in 1u16..,
            dups in proptest::collection::vec(0usize..2 * WAYS, 0..3),
            b0 in 0usize..1000,
            b1 in 0usize..1000,
        ) {
            let mut f = f;
            for &d in &dups {
                f[d] = fp;
            }
            let word = |lanes: &[u16]| lanes.iter().rev().fold(0u64, |w, &x| w << 16 | u64::from(x));
            let words = [word(&f[..WAYS]), word(&f[WAYS..])];
            let place = Place { shard: 0, buckets: [b0, b1], fp, touch: false };
            let want = f.iter().position(|&x| x == fp).map(|j| ([b0, b1][j / WAYS], j % WAYS));
            prop_assert_eq!(first_hit(place, words), want);
            prop_assert_eq!(first_hit_swar(place, words), want);
        }
    }
}

#[cfg(test)]
mod started_tests {
    //! The two-step lookups ([`BoundedMap::start_mut`] and the `_started_`
    //! methods) against the one-step ones, on twin maps (the same hash key,
    //! so the same placement): every step must return the same and leave
    //! the same table.
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use proptest::prelude::*;

    /// A count, idle at zero (every key present counts at least 1).
    #[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) struct Count(pub(super) u64);

    impl SlotValue for Count {
        fn is_idle(&self, _now: Instant) -> bool {
            self.0 == 0
        }
        fn keep_score(&self, _now: Instant) -> u64 {
            self.0
        }
    }

    /// A value over a cache line that asks to be touched.
    #[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C, align(64))]
    struct Wide {
        n: u64,
        rest: [u64; 7],
    }

    impl SlotValue for Wide {
        const TOUCH: bool = true;
        fn touch(&self) -> u64 {
            self.n
        }
        fn is_idle(&self, _now: Instant) -> bool {
            self.n == 0
        }
        fn keep_score(&self, _now: Instant) -> u64 {
            self.n
        }
    }

    /// A map placing keys exactly as `of` does.
    fn twin<K: Hash + Eq + Clone + 'static, V: SlotValue>(
        of: &BoundedMap<K, V>,
        capacity: usize,
    ) -> BoundedMap<K, V> {
        let mut t = BoundedMap::with_capacity(capacity);
        t.hasher = KeyHasher {
            seeds: of.hasher.seeds,
            ahash: of.hasher.ahash.clone(),
        };
        t
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(u32, u64),
        Get(u32),
        Zero(u32),
        Remove(u32),
        /// Start `.0`, add `.3` to `.2` with a plain `entry_mut` (which may
        /// move or evict `.0`), then add `.1` to `.0` through the start.
        Across(u32, u64, u32, u64),
    }

    fn ops(keys: u32) -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                4 => (0..keys, 1u64..5).prop_map(|(k, w)| Op::Add(k, w)),
                2 => (0..keys).prop_map(Op::Get),
                1 => (0..keys).prop_map(Op::Zero),
                1 => (0..keys).prop_map(Op::Remove),
                2 => (0..keys, 1u64..5, 0..keys, 1u64..5)
                    .prop_map(|(a, w, b, v)| Op::Across(a, w, b, v)),
            ],
            1..300,
        )
    }

    type Res = (Option<u64>, Option<Found>);

    /// One step on `one` (one-step methods) and `two` (two-step methods,
    /// started on `from`, which may be `two` itself or another map).
    fn step<V: SlotValue + Copy + Into<u64>>(
        op: &Op,
        now: Instant,
        one: &mut BoundedMap<u32, V>,
        two: &mut BoundedMap<u32, V>,
        mut from: Option<&mut BoundedMap<u32, V>>,
        add: fn(&mut V, u64),
    ) -> (Res, Res) {
        let mut start = |two: &mut BoundedMap<u32, V>, k: u32| match from {
            Some(ref mut m) => m.start_mut(&k),
            None => two.start_mut(&k),
        };
        match *op {
            Op::Add(k, w) => {
                let a = one.entry_mut(&k, now, |v, f| {
                    add(v, w);
                    ((*v).into(), f)
                });
                let s = start(two, k);
                let b = two.entry_started_mut(&s, now, |v, f| {
                    add(v, w);
                    ((*v).into(), f)
                });
                ((Some(a.0), Some(a.1)), (Some(b.0), Some(b.1)))
            }
            Op::Get(k) => {
                let s = start(two, k);
                (
                    (one.get_mut(&k, |v| (*v).into()), None),
                    (two.get_started_mut(&s, |v| (*v).into()), None),
                )
            }
            Op::Zero(k) => {
                let s = start(two, k);
                (
                    (one.get_mut(&k, |v| *v = V::default()).map(|()| 0), None),
                    (
                        two.get_started_mut(&s, |v| *v = V::default()).map(|()| 0),
                        None,
                    ),
                )
            }
            Op::Remove(k) => (
                (Some(u64::from(one.remove(&k))), None),
                (Some(u64::from(two.remove(&k))), None),
            ),
            Op::Across(k, w, k2, w2) => {
                let s = start(two, k);
                one.entry_mut(&k2, now, |v, _| add(v, w2));
                two.entry_mut(&k2, now, |v, _| add(v, w2));
                let a = one.entry_mut(&k, now, |v, f| {
                    add(v, w);
                    ((*v).into(), f)
                });
                let b = two.entry_started_mut(&s, now, |v, f| {
                    add(v, w);
                    ((*v).into(), f)
                });
                ((Some(a.0), Some(a.1)), (Some(b.0), Some(b.1)))
            }
        }
    }

    impl From<Count> for u64 {
        fn from(c: Count) -> Self {
            c.0
        }
    }

    impl From<Wide> for u64 {
        fn from(w: Wide) -> Self {
            w.n
        }
    }

    fn same_tables<V: SlotValue + Copy + Into<u64>>(
        a: &BoundedMap<u32, V>,
        b: &BoundedMap<u32, V>,
        keys: u32,
        now: Instant,
    ) {
        assert_eq!(a.live_len(now), b.live_len(now));
        assert_eq!(a.evictions(), b.evictions());
        for k in 0..keys {
            assert_eq!(
                a.get(&k, |v| (*v).into()),
                b.get(&k, |v| (*v).into()),
                "key {k}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Step by step, the two-step methods return what the one-step
        /// ones return on a twin map, with room for every key (4 keys of
        /// room for 40: constant eviction) and with a `Started` from a
        /// third map (placed again).
        #[test]
        fn started_steps_match_entry_steps(ops in ops(40), roomy in any::<bool>(), foreign in any::<bool>()) {
            let capacity = if roomy { 1024 } else { 4 };
            let now = Instant::from_nanos(0);
            let mut one: BoundedMap<u32, Count> = BoundedMap::with_capacity(capacity);
            let mut two = twin(&one, capacity);
            let mut other: BoundedMap<u32, Count> = BoundedMap::with_capacity(capacity);
            for op in &ops {
                let from = if foreign { Some(&mut other) } else { None };
                let (a, b) = step(op, now, &mut one, &mut two, from, |v, w| v.0 += w);
                prop_assert_eq!(a, b, "{:?}", op);
            }
            same_tables(&one, &two, 40, now);
            if roomy {
                prop_assert_eq!(one.evictions(), 0);
            }
        }
    }

    /// Random steps on twin maps, after adding `prefill` keys in order:
    /// every step must agree; returns how often each [`Found`] was seen.
    fn large_run<V: SlotValue + Copy + Into<u64>>(
        capacity: usize,
        prefill: u32,
        keys: u64,
        add: fn(&mut V, u64),
    ) -> [usize; 3] {
        let now = Instant::from_nanos(0);
        let mut one: BoundedMap<u32, V> = BoundedMap::with_capacity(capacity);
        let mut two = twin(&one, capacity);
        assert!(one.large && two.large, "the table must be over 8 MiB");
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut found = [0usize; 3];
        for k in 0..prefill {
            let (a, b) = step(&Op::Add(k, 1), now, &mut one, &mut two, None, add);
            assert_eq!(a, b, "adding {k}");
            if let (_, Some(f)) = a {
                found[f as usize] += 1;
            }
        }
        for _ in 0..20_000 {
            let r = next();
            let k = (r % keys) as u32;
            let k2 = ((r >> 20) % keys) as u32;
            let w = (r >> 40) % 4 + 1;
            let op = match (r >> 50) % 8 {
                0..=3 => Op::Add(k, w),
                4 => Op::Get(k),
                5 => Op::Zero(k),
                6 => Op::Remove(k),
                _ => Op::Across(k, w, k2, w),
            };
            let (a, b) = step(&op, now, &mut one, &mut two, None, add);
            assert_eq!(a, b, "{op:?}");
            if let (_, Some(f)) = a {
                found[f as usize] += 1;
            }
        }
        same_tables(&one, &two, keys as u32, now);
        found
    }

    /// The same on a table over 8 MiB of `TOUCH` values, where `start_mut`
    /// loads a line of each candidate bucket and the matching slot with its
    /// value's touch word: 75 000 keys added for 67 500 slots (so live
    /// entries are evicted), then random steps over 200 000 keys.
    #[test]
    fn started_steps_match_on_a_large_touching_table() {
        let found = large_run::<Wide>(45_000, 75_000, 200_000, |v, w| v.n += w);
        assert!(BoundedMap::<u32, Wide>::with_capacity(45_000).touch);
        // Every path was taken: present, inserted, evicted.
        assert!(found.iter().all(|&n| n > 100), "{found:?}");
    }

    /// And on a table over 8 MiB of small values (no `TOUCH`: only the
    /// slot's key is loaded early).
    #[test]
    fn started_steps_match_on_a_large_table_of_small_values() {
        let found = large_run::<Count>(400_000, 20_000, 60_000, |v, w| v.0 += w);
        assert!(found[0] > 100 && found[1] > 100, "{found:?}");
    }
}
