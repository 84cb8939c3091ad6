//! The bounded, set-associative map behind every keyed counter
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
//!   to the bucket with more room (on a tie, the one where its home way is
//!   empty), to its home way there if that is empty, else to the first
//!   empty way. Small values (two slots to a cache line) all have way 0 as
//!   home, so keys pack into the buckets' first lines; values spanning
//!   lines of their own (64 bytes or more) have a home way chosen by
//!   two hash bits per bucket, and about four keys in five then sit in one
//!   of their two home ways, so a lookup on a large table can start
//!   loading the slot before it has compared fingerprints. Each slot's
//!   16-bit fingerprint lives in a
//!   dense array apart from the slots (2 bytes per slot, 3 MB for a million
//!   keys: it stays in the CPU's caches while the slots do not), so a lookup
//!   compares the fingerprints of both buckets without leaving the cache and
//!   then reads exactly one slot (hashbrown's control bytes do the same).
//!   The second bucket lies in the same 32-bucket group as the first, so
//!   both are served by one address translation. Two choices keep the table
//!   usable up to a load factor of 2/3 with few early evictions, where one
//!   4-way bucket per key would overflow often.
//! * **A lock per pair of slots, on the pair's own cache line.** A bucket
//!   is two groups of two slots; each group sits behind its own spin lock
//!   (`spin::SpinMutex`, which yields to the scheduler while it waits),
//!   cache-line aligned, with the group's values, then its keys, then the
//!   lock byte. For an IP address key and an 8-byte value (a rate level)
//!   the two slots and their lock fill exactly one 64-byte line: the lock
//!   costs no memory, and a lookup takes its lock on the very line it
//!   reads. So two threads updating distinct keys never write a line the
//!   other wrote, except when their keys share a group (adding or
//!   removing a key also writes the dense fingerprint array); a lock per
//!   shard of the
//!   table (as DashMap and the first versions of this table had) is a line
//!   that, on a table larger than the caches, the other core wrote last
//!   about half the time, and moving it between the cores costs about what
//!   the lookup does (see the crate README for what that measured). Values
//!   come before keys, not each key beside its value, so that no padding
//!   sits between a key and its value (an IP key is 17 bytes, a GCRA time
//!   8: side by side they take 32 bytes, in this order 25).
//!
//!   A key found through its fingerprint takes one lock: its slot's group.
//!   Adding, evicting or removing a key takes the four groups of its two
//!   buckets, in ascending address order (so lookups never deadlock), and
//!   is the only thing that writes keys or fingerprints: a key is
//!   therefore in at most one slot, and a lookup that finds the key under
//!   its group's lock has found its entry, whatever the fingerprints it
//!   read before the lock said. The fingerprints (atomics) are only a hint
//!   for picking the group to lock. There is no poisoning: a panic in a
//!   closure passed to [`BoundedMap::entry`] releases the lock, and the
//!   value keeps whatever the closure wrote before it panicked. An owner
//!   holding `&mut BoundedMap` (a single-threaded tracker) uses the `_mut`
//!   methods, which take no lock at all.
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
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use pbxsec_core::Instant;

use crate::Result;
use crate::rate::check_capacity;

/// Slots per bucket.
pub const WAYS: usize = 4;
/// Keys [`BoundedMap::entry_batch`] works on at once.
pub const BATCH: usize = 16;
/// Slots behind one lock.
const PAIR: usize = 2;
/// Lock groups per bucket.
const GROUPS: usize = WAYS / PAIR;
/// Candidate slots of a key: both buckets' ways.
const CANDS: usize = 2 * WAYS;
/// Eviction counters, striped by bucket so that two threads evicting
/// rarely write one line.
const STRIPES: usize = 16;

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
    /// reads memory it points to: on a table larger than the CPU's
    /// last-level cache typically is (over 8 MiB), a lookup then asks
    /// [`lines`](Self::lines) which lines to fetch as soon as it knows the
    /// key's slot, so that they are on their way while the slot's key is
    /// compared (otherwise only the key's line is fetched early). Default
    /// `false`.
    const LINES: bool = false;

    /// Names the memory an update of the value will read: call
    /// [`Lines::line`] on a word in each cache line of the value the update
    /// uses (put those fields first, with `#[repr(C, align(64))]`), or in
    /// memory behind a pointer there (a heap buffer the update reads).
    /// Only called when [`LINES`](Self::LINES) is `true`. Default: nothing.
    #[inline(always)]
    fn lines(&self, lines: &mut Lines) {
        let _ = lines;
    }
}

/// How a lookup fetches the cache lines a value names in
/// [`SlotValue::lines`]: with prefetch instructions for one lookup
/// ([`BoundedMap::start_mut`]), with plain loads for a batch
/// ([`BoundedMap::start_batch_mut`]). On targets other than x86-64 (no
/// prefetch instruction reachable without `unsafe`), plain loads for both.
///
/// Why both. A CPU retires instructions in order, and a load it waits for
/// holds its reorder window (some 200 instructions) until the line
/// arrives, so the work after one lookup's loads that does not need them
/// runs only as far as the window reaches; a prefetch instruction retires
/// at once, and the work after it goes on, whatever its length, up to the
/// first instruction that reads the line. In a batch, where the loads of
/// 16 keys (some 64 lines) are issued back to back, plain loads measured
/// faster: more lines are requested than the CPU has miss buffers, and a
/// load waits for one where a prefetch may be dropped.
pub struct Lines {
    demand: bool,
    acc: u64,
}

impl Lines {
    /// Fetching with prefetch instructions (one lookup).
    const fn prefetching() -> Self {
        Self {
            demand: false,
            acc: 0,
        }
    }

    /// Fetching with plain loads (a batch).
    const fn loading() -> Self {
        Self {
            demand: true,
            acc: 0,
        }
    }

    /// Whether to load rather than prefetch.
    #[inline(always)]
    const fn loads(&self) -> bool {
        self.demand || !cfg!(target_arch = "x86_64")
    }

    /// Fetches the cache line holding `*w`.
    #[inline(always)]
    pub fn line(&mut self, w: &u64) {
        if self.loads() {
            self.acc ^= *w;
        } else {
            prefetch(w);
        }
    }

    /// Fetches the cache line holding a slot's key.
    #[inline(always)]
    fn key<K>(&mut self, key: &Option<K>) {
        if self.loads() {
            self.acc ^= u64::from(key.is_some());
        } else {
            prefetch(key);
        }
    }

    /// Makes the plain loads happen (their values go to `black_box`; with
    /// prefetches, nothing: `black_box` would stop the compiler moving
    /// work across it).
    #[inline(always)]
    fn done(self) {
        if self.loads() {
            std::hint::black_box(self.acc);
        }
    }
}

/// Starts loading the cache line holding `*r` into every level of the
/// CPU's caches, and returns without waiting for it: a prefetch
/// instruction (`prefetcht0`, through `safe_arch`, as the workspace
/// forbids `unsafe`). Only reached on x86-64 ([`Lines::loads`]).
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(r);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Two slots of a bucket: their values, then their keys (`None`: empty).
/// Values and keys apart, so no padding sits between a key and its value.
struct Group<K, V> {
    vals: [V; PAIR],
    keys: [Option<K>; PAIR],
}

impl<K, V: Default> Group<K, V> {
    fn new() -> Self {
        Self {
            vals: std::array::from_fn(|_| V::default()),
            keys: std::array::from_fn(|_| None),
        }
    }
}

/// A group's lock: a spin lock that yields to the scheduler while it
/// waits. A lock is held for one lookup, so a waiter rarely waits longer
/// than a memory access; if the holder is descheduled, the waiter yields
/// its core instead of burning it. Taking and releasing it costs one
/// locked instruction, where `std::sync::Mutex` costs two (its release
/// swaps, to learn whether to wake a sleeper).
type GroupMutex<K, V> = spin::mutex::SpinMutex<Group<K, V>, spin::relax::Yield>;
type GroupGuard<'a, K, V> = spin::mutex::SpinMutexGuard<'a, Group<K, V>>;

/// A group behind its lock, cache-line aligned: the lock byte follows the
/// group, in the padding of its last line when there is room (small
/// values: one line in all), on a line of its own otherwise (a
/// cache-line aligned value fills whole lines).
#[repr(align(64))]
struct Locked<K, V>(GroupMutex<K, V>);

/// A bucket: [`WAYS`] slots in [`GROUPS`] locked groups.
struct Bucket<K, V>([Locked<K, V>; GROUPS]);

impl<K, V: Default> Bucket<K, V> {
    fn new() -> Self {
        Self(std::array::from_fn(|_| {
            Locked(GroupMutex::new(Group::new()))
        }))
    }
}

/// A bucket's four fingerprints, the 16-bit lanes of one word; 0 marks an
/// empty slot. Atomic so that a lookup can read them before it takes a
/// lock (only a hint then: what it finds is checked under the lock);
/// written only with both of the bucket's groups locked.
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

#[repr(align(128))]
struct Padded<T>(T);

/// A key's four candidate groups, locked or borrowed: its first bucket's
/// two, then its second's. Candidate slot `j` (`0..CANDS`) is way
/// `j % WAYS` of bucket `j / WAYS`, pair `j % PAIR` of group `j / PAIR`.
type Cands<'a, K, V> = [&'a mut Group<K, V>; 2 * GROUPS];

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

/// Where a key may live: the two candidate buckets (distinct), and its
/// fingerprint.
#[derive(Clone, Copy)]
struct Place {
    buckets: [usize; 2],
    fp: u16,
    lines: bool,
    /// The way (`0..WAYS`) a new key takes in each bucket when it is empty
    /// (see [`insert_in`]): where [`BoundedMap::start_mut`] guesses the key
    /// is, before its fingerprints arrive. Hashed for values of 64 bytes
    /// or more, way 0 for smaller ones.
    home: [u8; 2],
}

impl Place {
    /// The bucket of candidate slot `j`.
    #[inline(always)]
    fn bucket(self, j: usize) -> usize {
        self.buckets[(j / WAYS) % 2]
    }

    /// The candidate slots (`0..CANDS`) of both home ways.
    #[inline(always)]
    fn homes(self) -> [usize; 2] {
        let [w0, w1] = self.home;
        [usize::from(w0) % WAYS, WAYS + usize::from(w1) % WAYS]
    }
}

/// The keyed hash: IP addresses by a keyed folded multiply, the rest by
/// ahash (also the ban list's filter hash).
pub(crate) struct KeyHasher {
    seeds: [u64; 4],
    ahash: ahash::RandomState,
}

#[inline(always)]
const fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

impl KeyHasher {
    pub(crate) fn new() -> Self {
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
    pub(crate) fn hash<K: Hash + 'static>(&self, key: &K) -> u64 {
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
///   slot in whichever of its two candidate buckets has more of them (on a
///   tie, the one where its home way is empty), in its home way there if
///   that is empty, else in the first empty way (the home way: way 0 for
///   small values, so that keys pack; chosen by the hash for values of 64
///   bytes or more; see the [module docs](self)); with none,
///   an idle slot, likewise; if all eight slots hold live values, the one
///   with the lowest
///   [`keep_score`](SlotValue::keep_score) is evicted (counted by
///   [`evictions`](Self::evictions)).
/// * `&self` methods lock the pair of slots they use (a spin lock per two
///   slots, on their cache line; see the [module docs](self)); the `_mut`
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
    buckets: Box<[Bucket<K, V>]>,
    /// One word per bucket: dense, apart from the slots, so they stay in
    /// cache.
    fps: Box<[Fps]>,
    /// The number of buckets, at least 2 (so a key's two are distinct).
    n: u64,
    /// Live entries evicted, striped by bucket.
    evicted: Box<[Padded<AtomicU64>]>,
    /// Whether lookups fetch the matching values' lines early: values
    /// that ask for it ([`SlotValue::LINES`]) in a table larger than the
    /// CPU's last-level cache typically is (8 MiB).
    lines: bool,
    /// Larger than the CPU's last-level cache typically is (8 MiB): only
    /// then does [`entry_batch`](Self::entry_batch) batch.
    large: bool,
    hasher: KeyHasher,
    /// The fingerprint bits kept, in the unit tests: a handful, so that
    /// fingerprints collide and every lookup path is exercised (outside
    /// them all 16 are, at no cost).
    #[cfg(test)]
    fp_mask: u16,
}

impl<K, V> std::fmt::Debug for BoundedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedMap")
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone + 'static, V: SlotValue> BoundedMap<K, V> {
    /// A map with room for `capacity` keys (× 1.5 slots, rounded up to
    /// whole buckets, at least two buckets), all allocated now.
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
        // At least two buckets, so that a key's two are distinct (its
        // slow path locks both buckets' groups).
        let n = slots.div_ceil(WAYS).max(2);
        let buckets: Box<[Bucket<K, V>]> = (0..n).map(|_| Bucket::new()).collect();
        let fps: Box<[Fps]> = (0..n).map(|_| AtomicU64::new(0)).collect();
        let evicted = (0..STRIPES).map(|_| Padded(AtomicU64::new(0))).collect();
        let bytes = n.saturating_mul(size_of::<Bucket<K, V>>());
        Self {
            buckets,
            fps,
            n: n as u64,
            evicted,
            lines: V::LINES && bytes > 8 << 20,
            large: bytes > 8 << 20,
            hasher: KeyHasher::new(),
            #[cfg(test)]
            fp_mask: u16::MAX,
        }
    }

    /// The number of slots: the most keys it can hold at once.
    pub fn slots(&self) -> usize {
        self.buckets.len() * WAYS
    }

    #[inline(always)]
    fn place(&self, key: &K) -> Place {
        let h = self.hasher.hash(key);
        // Fingerprint 0 marks an empty slot; a real 0 is moved to 1.
        let fp = h >> 32;
        #[cfg(test)]
        let fp = fp & u64::from(self.fp_mask);
        let fp = (fp as u16).max(1);
        // Multiply-shift maps 32 hash bits onto the buckets (at most
        // 2^31 of them: the product fits).
        let first = (((h & 0xffff_ffff) * self.n) >> 32) as usize;
        // The second bucket is near the first (XOR with 1..=31: the same
        // 32-bucket group, 4 KiB for 128-byte buckets), so one address
        // translation serves both: on a table far larger than the TLB
        // covers, two random buckets would cost two page walks.
        // Bits 16..21 of the hash: not used by the fingerprint (32..48)
        // nor, but weakly, the first bucket (the high bits of the low
        // half, through the multiply).
        let d = (((h >> 16) & 31) as usize).max(1);
        let mut second = first ^ d;
        if second as u64 >= self.n {
            // Past the end (only in the last group): below, or, in a
            // table of fewer than 32 buckets, the next (at least two
            // buckets: never the first itself).
            second = if first >= d {
                first - d
            } else if (first + 1) as u64 >= self.n {
                0
            } else {
                first + 1
            };
        }
        // Values on lines of their own (64 bytes or more: no two share a
        // line) get a hashed home way (bits
        // 48..52, used by nothing else); small values, two to a line, all
        // have way 0, so that keys pack into the buckets' first lines (see
        // `insert_in`).
        let home = if size_of::<V>() >= 64 {
            [((h >> 48) & 3) as u8, ((h >> 50) & 3) as u8]
        } else {
            [0, 0]
        };
        Place {
            buckets: [first, second],
            fp,
            lines: self.lines,
            home,
        }
    }

    /// The group of bucket `b` holding way `i`.
    #[inline(always)]
    fn group(&self, b: usize, i: usize) -> &GroupMutex<K, V> {
        let bucket = match self.buckets.get(b) {
            Some(bucket) => bucket,
            None => &self.buckets[0],
        };
        &bucket.0[(i % WAYS) / PAIR].0
    }

    /// The stripe of the eviction counter for a key placed at `place`.
    #[inline(always)]
    fn evicted_stripe(evicted: &[Padded<AtomicU64>], place: Place) -> &AtomicU64 {
        match evicted.get(place.buckets[0] % STRIPES) {
            Some(p) => &p.0,
            None => &evicted[0].0,
        }
    }

    /// Locks the four groups of a key's two buckets, in ascending address
    /// order (the order every multi-group lock takes, so none deadlocks),
    /// and returns the guards in candidate order (the first bucket's, then
    /// the second's).
    #[inline(always)]
    fn lock_all(&self, place: Place) -> [GroupGuard<'_, K, V>; 2 * GROUPS] {
        let [b0, b1] = place.buckets;
        let both = |b: usize| {
            let g0 = self.group(b, 0).lock();
            let g1 = self.group(b, PAIR).lock();
            [g0, g1]
        };
        let ([a0, a1], [c0, c1]) = if b0 < b1 {
            let a = both(b0);
            (a, both(b1))
        } else {
            let c = both(b1);
            (both(b0), c)
        };
        [a0, a1, c0, c1]
    }

    /// The four candidate groups of a key, borrowed (no lock: `&mut self`).
    #[inline(always)]
    fn cands_mut(buckets: &mut [Bucket<K, V>], place: Place) -> Option<Cands<'_, K, V>> {
        let [b0, b1] = place.buckets;
        let (lo, hi) = (b0.min(b1), b0.max(b1));
        let (below, above) = buckets.split_at_mut(hi);
        let [x0, x1] = &mut below.get_mut(lo)?.0;
        let [y0, y1] = &mut above.first_mut()?.0;
        let (x0, x1, y0, y1) = (
            x0.0.get_mut(),
            x1.0.get_mut(),
            y0.0.get_mut(),
            y1.0.get_mut(),
        );
        if b0 < b1 {
            Some([x0, x1, y0, y1])
        } else if b0 > b1 {
            Some([y0, y1, x0, x1])
        } else {
            None
        }
    }

    /// Runs `f` on the key's value, inserting `V::default()` first if the
    /// key is absent (evicting an idle or, failing that, the least valuable
    /// entry of its two buckets). `f` learns which of the three happened.
    #[inline(always)]
    pub fn entry<R>(&self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let place = self.place(key);
        // The fingerprints are read before any lock is taken: only a hint
        // for which group to lock, checked under the lock.
        let hit = first_hit(place, fp_words(&self.fps, place));
        self.entry_hinted(place, hit, key, now, f)
    }

    /// [`entry`](Self::entry) with the key placed and its fingerprints
    /// compared (`hit`: the first candidate slot whose fingerprint is the
    /// key's).
    #[inline(always)]
    fn entry_hinted<R>(
        &self,
        place: Place,
        hit: Option<usize>,
        key: &K,
        now: Instant,
        f: impl FnOnce(&mut V, Found) -> R,
    ) -> R {
        if let Some(j) = hit {
            let mut group = self.group(place.bucket(j), j).lock();
            let p = j % PAIR;
            if group.keys[p].as_ref() == Some(key) {
                // A key lives in one slot only: this is its entry,
                // whatever the fingerprints said or say now.
                return f(&mut group.vals[p], Found::Present);
            }
        }
        self.entry_locked(key, now, f)
    }

    /// [`entry`](Self::entry) past its fast path (a fingerprint shared
    /// with another key, or an absent key), out of line so that the fast
    /// path keeps nothing for it: the key is placed again, and all four
    /// candidate groups are locked.
    #[inline(never)]
    fn entry_locked<R>(&self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let place = self.place(key);
        let mut guards = self.lock_all(place);
        let mut c = guards.each_mut().map(|g| &mut **g);
        let evicted = Self::evicted_stripe(&self.evicted, place);
        entry_in(&mut c, &self.fps, evicted, place, key, now, f)
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
    /// keys are taken [`BATCH`] at a time; each key's fingerprints are
    /// compared and the line of its probable slot's lock is read (a plain
    /// load) before any key is updated, so the cache misses of all sixteen
    /// overlap instead of following one another; then each is updated as
    /// `entry` would, under its own lock. A packet front door that
    /// receives datagrams in batches (`recvmmsg`) checks them this way.
    /// `f` runs with the key's lock held: it must not use this map.
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
            // Two passes, each tight enough that all sixteen loads fit in
            // the CPU's reorder window together: the fingerprints (dense,
            // often in cache) are compared; then the lock byte of each
            // key's probable group is read (with none matching, the
            // second bucket's first group, which the insertion reads
            // anyway). A plain load: it starts the line's miss without
            // taking the lock.
            let mut hits = [None; BATCH];
            for (h, p) in hits.iter_mut().zip(&places) {
                if let Some(p) = p {
                    *h = first_hit(*p, fp_words(&self.fps, *p));
                }
            }
            let mut acc = false;
            for (h, p) in hits.iter().zip(&places) {
                if let Some(p) = p {
                    let j = h.unwrap_or(WAYS);
                    acc ^= self.group(p.bucket(j), j).is_locked();
                }
            }
            std::hint::black_box(acc);
            for (j, (p, hit)) in places.iter().zip(hits).enumerate() {
                let (Some(p), Some(Some(key))) = (p, chunk.get(j)) else {
                    continue;
                };
                self.entry_hinted(*p, hit, key.borrow(), now, |v, found| f(base + j, v, found));
            }
        }
    }

    /// [`entry`](Self::entry) for an owner with `&mut self`: no lock.
    #[inline(always)]
    pub fn entry_mut<R>(&mut self, key: &K, now: Instant, f: impl FnOnce(&mut V, Found) -> R) -> R {
        let place = self.place(key);
        self.entry_placed_mut(place, key, now, f)
    }

    #[inline(always)]
    fn entry_placed_mut<R>(
        &mut self,
        place: Place,
        key: &K,
        now: Instant,
        f: impl FnOnce(&mut V, Found) -> R,
    ) -> R {
        let evicted = Self::evicted_stripe(&self.evicted, place);
        match Self::cands_mut(&mut self.buckets, place) {
            Some(mut c) => entry_in(&mut c, &self.fps, evicted, place, key, now, f),
            // Unreachable: a key's two buckets are distinct and in range.
            None => f(&mut V::default(), Found::Inserted),
        }
    }

    /// Runs `f` on the key's value if the key is present.
    #[inline]
    pub fn get<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let place = self.place(key);
        if let Some(j) = first_hit(place, fp_words(&self.fps, place)) {
            let mut group = self.group(place.bucket(j), j).lock();
            let p = j % PAIR;
            if group.keys[p].as_ref() == Some(key) {
                return Some(f(&mut group.vals[p]));
            }
        }
        let mut guards = self.lock_all(place);
        let mut c = guards.each_mut().map(|g| &mut **g);
        get_in(&mut c, &self.fps, place, key, f)
    }

    /// [`get`](Self::get) for an owner with `&mut self`: no lock.
    #[inline]
    pub fn get_mut<R>(&mut self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let place = self.place(key);
        let mut c = Self::cands_mut(&mut self.buckets, place)?;
        get_in(&mut c, &self.fps, place, key, f)
    }

    /// Forgets the key; `true` if it was present.
    pub fn remove(&self, key: &K) -> bool {
        let place = self.place(key);
        let mut guards = self.lock_all(place);
        let mut c = guards.each_mut().map(|g| &mut **g);
        let Some(j) = find(&c, &self.fps, place, key) else {
            return false;
        };
        let (Some(fps), Some(group)) = (self.fps.get(place.bucket(j)), c.get_mut(j / PAIR)) else {
            return false;
        };
        // Both groups of the bucket are locked: no other writer.
        fps.store(with_lane(fps.load(Relaxed), j % WAYS, 0), Relaxed);
        group.keys[j % PAIR] = None;
        group.vals[j % PAIR] = V::default();
        true
    }

    /// The number of keys whose value is not idle at `now` (walks the
    /// whole table: for statistics, not per packet).
    pub fn live_len(&self, now: Instant) -> usize {
        let mut n = 0;
        for bucket in &*self.buckets {
            for locked in &bucket.0 {
                let group = locked.0.lock();
                for (key, val) in group.keys.iter().zip(&group.vals) {
                    if key.is_some() && !val.is_idle(now) {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// How many live (non-idle) entries were evicted to make room so far.
    pub fn evictions(&self) -> u64 {
        self.evicted.iter().map(|s| s.0.load(Relaxed)).sum()
    }

    /// Forgets every key (the memory stays allocated).
    pub fn clear(&self) {
        for (bucket, fps) in self.buckets.iter().zip(&*self.fps) {
            let [l0, l1] = &bucket.0;
            let mut g0 = l0.0.lock();
            let mut g1 = l1.0.lock();
            *g0 = Group::new();
            *g1 = Group::new();
            fps.store(0, Relaxed);
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
/// between. The second step checks that slot's key again and, if it no
/// longer holds the key, looks the key up in full; used on a map other
/// than the one that started it, it places the key again.
#[derive(Clone)]
pub struct Started<K> {
    key: K,
    place: Place,
    /// The first candidate slot whose fingerprint matched at the start
    /// (`0..CANDS`), or `CANDS`: none.
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
    /// number of buckets), kept in a [`Started`].
    #[inline(always)]
    fn tag(&self) -> u64 {
        self.hasher.seeds[0] ^ self.n
    }

    /// The group of bucket `b` holding way `i`, borrowed.
    #[inline(always)]
    fn group_mut(&mut self, b: usize, i: usize) -> Option<&mut Group<K, V>> {
        let bucket = self.buckets.get_mut(b)?;
        Some(bucket.0[(i % WAYS) / PAIR].0.get_mut())
    }

    /// The first step of [`entry_started_mut`](Self::entry_started_mut) /
    /// [`get_started_mut`](Self::get_started_mut): hashes the key, compares
    /// its fingerprints and, on a table larger than the CPU's last-level
    /// cache typically is (over 8 MiB of slots, as for
    /// [`batches`](Self::batches)), prefetches the key's home slot in each
    /// candidate bucket (for values of 64 bytes or more about four keys in
    /// five are there, for smaller ones its first line: see
    /// [`entry`](Self::entry)) beside the fingerprint load, then the slot
    /// whose fingerprint matches, if it is neither: its key and, for
    /// [`SlotValue::LINES`] values, the lines [`SlotValue::lines`] names.
    /// No lock.
    ///
    /// On such a table the slot is a cache miss (about 100–200 ns). Work
    /// placed *after* this call and before the second step that does not
    /// need the value (checks, building a reply) runs while the slot is on
    /// its way, whatever its length: the slot's loads are prefetch
    /// instructions, which the CPU does not wait for (see [`Lines`]; only
    /// the fingerprint words, in cache, are loaded). For a key at home,
    /// the slot's loads start before the fingerprints arrive (the prefetch
    /// that follows them merges with the one in flight); for the others,
    /// the address translations of both buckets' pages are done by then.
    #[inline(always)]
    pub fn start_mut(&mut self, key: &K) -> Started<K> {
        let place = self.place(key);
        let tag = self.tag();
        let large = self.large;
        let mut lines = Lines::prefetching();
        if large {
            for j in place.homes() {
                self.fetch_slot(place, Some(j), &mut lines);
            }
        }
        let hit = first_hit(place, fp_words(&self.fps, place));
        if large && hit.is_none_or(|j| !place.homes().contains(&j)) {
            self.fetch_slot(place, hit, &mut lines);
        }
        lines.done();
        Started {
            key: key.clone(),
            place,
            guess: hit.unwrap_or(CANDS) as u8,
            tag,
        }
    }

    /// Fetches, as `lines` says, the key of candidate slot `hit` (with no
    /// match, a slot that the insertion will read anyway) and, for
    /// [`SlotValue::LINES`] values, the lines the value names.
    #[inline(always)]
    fn fetch_slot(&mut self, place: Place, hit: Option<usize>, lines: &mut Lines) {
        let j = hit.unwrap_or(WAYS);
        let Some(g) = self.group_mut(place.bucket(j), j) else {
            return;
        };
        lines.key(&g.keys[j % PAIR]);
        if V::LINES {
            g.vals[j % PAIR].lines(lines);
        }
    }

    /// [`start_mut`](Self::start_mut) for up to [`BATCH`] keys at once:
    /// `out[i]` is what `start_mut(k)` returns for each `keys[i] == Some(k)`
    /// (`None` where `keys[i]` is `None` or `i >= keys.len()`; keys past
    /// [`BATCH`] are ignored). Done in three tight passes over the keys
    /// (hash and place them; compare their fingerprints; then, on a table
    /// over 8 MiB, load each matching slot's key and the lines its value
    /// names, with plain loads: see [`Lines`]), so that the cache misses of
    /// all of them are in flight together, where consecutive `start_mut`
    /// calls each wait for their own fingerprint words first. For an owner
    /// that receives its keys in batches (the SIP tracker's
    /// `observe_batch`).
    pub fn start_batch_mut(&mut self, keys: &[Option<K>]) -> [Option<Started<K>>; BATCH] {
        let places: [Option<Place>; BATCH] =
            std::array::from_fn(|i| Some(self.place(keys.get(i)?.as_ref()?)));
        let mut hits = [None; BATCH];
        for (h, p) in hits.iter_mut().zip(&places) {
            if let Some(p) = p {
                *h = first_hit(*p, fp_words(&self.fps, *p));
            }
        }
        if self.large {
            let mut lines = Lines::loading();
            for (h, p) in hits.iter().zip(&places) {
                if let Some(p) = p {
                    self.fetch_slot(*p, *h, &mut lines);
                }
            }
            lines.done();
        }
        let tag = self.tag();
        std::array::from_fn(|i| {
            let place = places.get(i).copied().flatten()?;
            let hit = hits.get(i).copied().flatten();
            Some(Started {
                key: keys.get(i)?.as_ref()?.clone(),
                place,
                guess: hit.unwrap_or(CANDS) as u8,
                tag,
            })
        })
    }

    /// Where a started key may live in this map.
    #[inline(always)]
    fn started_place(&self, started: &Started<K>) -> (Place, usize) {
        if started.tag == self.tag() {
            (started.place, usize::from(started.guess))
        } else {
            (self.place(&started.key), CANDS)
        }
    }

    /// The value in the guessed slot, if it holds the key now (a guess made
    /// before the map changed is only a hint; a key lives in one slot
    /// only, so that slot is the key's entry).
    #[inline(always)]
    fn guessed_mut(&mut self, place: Place, guess: usize, key: &K) -> Option<&mut V> {
        if guess >= CANDS {
            return None;
        }
        let g = self.group_mut(place.bucket(guess), guess)?;
        let p = guess % PAIR;
        if g.keys[p].as_ref() == Some(key) {
            Some(&mut g.vals[p])
        } else {
            None
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
        if let Some(v) = self.guessed_mut(place, guess, &started.key) {
            return f(v, Found::Present);
        }
        self.entry_placed_mut(place, &started.key, now, f)
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
        if let Some(v) = self.guessed_mut(place, guess, &started.key) {
            return Some(f(v));
        }
        let mut c = Self::cands_mut(&mut self.buckets, place)?;
        get_in(&mut c, &self.fps, place, &started.key, f)
    }
}

/// The candidate slot holding `key`. Both buckets' fingerprints (dense, in
/// cache) are compared without branches (a bit mask of matches); only a
/// slot whose fingerprint matches is read, so a present key costs one slot
/// read and an absent one none.
#[inline(always)]
fn find<K: Eq, V: SlotValue>(
    c: &Cands<'_, K, V>,
    fps: &[Fps],
    place: Place,
    key: &K,
) -> Option<usize> {
    let masks = matches(place, fp_words(fps, place));
    // The common case, a present key whose fingerprint matches only its
    // own slot: the first match, picked without a branch (which bucket
    // holds a key is a coin toss a branch predictor would lose), so the
    // slot's load starts as soon as the fingerprints arrive.
    if masks != [0; 2] {
        let j = first_match(masks);
        let g = c.get(j / PAIR)?;
        if V::LINES && place.lines {
            // Start the value's lines loading beside the key's.
            let mut lines = Lines::prefetching();
            g.vals[j % PAIR].lines(&mut lines);
            lines.done();
        }
        if g.keys[j % PAIR].as_ref() == Some(key) {
            return Some(j);
        }
    }
    // A fingerprint shared with another key: every match, in order.
    let [m0, m1] = masks;
    for (base, mut mask) in [(0, m0), (WAYS, m1)] {
        while mask != 0 {
            let j = base + (mask.trailing_zeros() / 16) as usize;
            if c.get(j / PAIR)?.keys[j % PAIR].as_ref() == Some(key) {
                return Some(j);
            }
            mask &= mask - 1;
        }
    }
    None
}

/// The low 15 bits of each 16-bit lane.
const LANE_LOW: u64 = 0x7fff_7fff_7fff_7fff;

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
    let word = |b: usize| fps.get(b).map_or(0, |f| f.load(Relaxed));
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

/// The first candidate slot whose fingerprint matches; with none, the
/// second bucket's first. Selected with conditional moves, not a branch.
#[inline(always)]
fn first_match([m0, m1]: [u64; 2]) -> usize {
    let second = m0 == 0;
    let m = if second { m1 } else { m0 };
    let base = if second { WAYS } else { 0 };
    base + (m.trailing_zeros() / 16) as usize % WAYS
}

/// The first candidate slot (`0..CANDS`: the first bucket's ways, then the
/// second's) whose fingerprint is the key's, from their fingerprint
/// words; `None` if none is. On x86-64 the eight lanes are compared at
/// once with SSE2 (part of the x86-64 baseline; through `safe_arch`, as
/// the workspace forbids `unsafe`): fewer instructions per lookup than the
/// word-wide compare, which leaves room in the CPU's reorder window for
/// the next lookup's cache miss to start while this one's is under way.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn first_hit(place: Place, [w0, w1]: [u64; 2]) -> Option<usize> {
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
    Some((bits.trailing_zeros() / 2) as usize % CANDS)
}

/// [`first_hit`] without SSE2: the word-wide compare (the only one on
/// other targets; on x86-64 the tests hold both to the same model).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn first_hit_swar(place: Place, words: [u64; 2]) -> Option<usize> {
    let masks = matches(place, words);
    (masks != [0; 2]).then(|| first_match(masks))
}

#[cfg(not(target_arch = "x86_64"))]
use first_hit_swar as first_hit;

#[inline(always)]
fn get_in<K: Eq, V: SlotValue, R>(
    c: &mut Cands<'_, K, V>,
    fps: &[Fps],
    place: Place,
    key: &K,
    f: impl FnOnce(&mut V) -> R,
) -> Option<R> {
    let j = find(c, fps, place, key)?;
    let g = c.get_mut(j / PAIR)?;
    Some(f(&mut g.vals[j % PAIR]))
}

#[inline(always)]
fn entry_in<K: Eq + Clone, V: SlotValue, R>(
    c: &mut Cands<'_, K, V>,
    fps: &[Fps],
    evicted: &AtomicU64,
    place: Place,
    key: &K,
    now: Instant,
    f: impl FnOnce(&mut V, Found) -> R,
) -> R {
    if let Some(j) = find(c, fps, place, key) {
        if let Some(g) = c.get_mut(j / PAIR) {
            return f(&mut g.vals[j % PAIR], Found::Present);
        }
    }
    insert_in(c, fps, evicted, place, key, now, f)
}

/// The absent-key path, kept out of line so the lookup stays small. All
/// four candidate groups are held (locked or borrowed): nothing else
/// writes their keys or their buckets' fingerprints meanwhile.
#[inline(never)]
fn insert_in<K: Eq + Clone, V: SlotValue, R>(
    c: &mut Cands<'_, K, V>,
    fps: &[Fps],
    evicted: &AtomicU64,
    place: Place,
    key: &K,
    now: Instant,
    f: impl FnOnce(&mut V, Found) -> R,
) -> R {
    // An empty slot (fingerprint 0) in whichever bucket has more of them
    // (the power of two choices; on a tie, the one whose home way for the
    // key is empty, else the first): the key's home way there if it is
    // empty, else the bucket's first empty way; else an idle slot,
    // likewise; else the least valuable entry of both. Empty slots first:
    // reusing an idle slot while empty ones remain would push out keys
    // that are still in use (their next event would find them gone and
    // insert again), and the empty check reads only the fingerprints, not
    // the values. The home way changes nothing in how full the buckets get
    // (the bucket is picked by its empty slots as before, the home only
    // breaking ties). For values of 64 bytes or more (a slot's value on
    // lines of its own) it is hashed, and on a table filled to its
    // capacity about four keys in five sit in one of their two home ways
    // (a unit test measures it), where `start_mut` prefetches before the
    // fingerprints arrive. For small values (two slots to a line) it is
    // way 0, i.e. the first empty way: keys pack into the buckets' first
    // lines, and on a table larger than the cache fewer lines are hot
    // (hashed homes made the rate limiter's 1M-key check 10–18 % slower).
    let empty_way = |base: usize, b: usize, home: usize| {
        let w = fps.get(b)?.load(Relaxed);
        let first = (0..WAYS).position(|i| lane(w, i) == 0)?;
        let empty = (0..WAYS).filter(|&i| lane(w, i) == 0).count();
        let at_home = lane(w, home) == 0;
        let way = if at_home { home % WAYS } else { first };
        Some(((empty, at_home), base + way))
    };
    let [h0, h1] = place.homes();
    let mut victim = match (
        empty_way(0, place.buckets[0], h0),
        empty_way(WAYS, place.buckets[1], h1),
    ) {
        (Some((r0, j0)), Some((r1, j1))) => Some(if r1 > r0 { j1 } else { j0 }),
        (one, other) => one.or(other).map(|(_, j)| j),
    }
    .map(|j| (j, Found::Inserted));
    if victim.is_none() {
        let mut best = u64::MAX;
        let mut most_idle = 0;
        for base in [0, WAYS] {
            let mut idle = 0;
            let mut first_idle = None;
            for j in base..base + WAYS {
                let Some(g) = c.get(j / PAIR) else {
                    continue;
                };
                let val = &g.vals[j % PAIR];
                if val.is_idle(now) {
                    idle += 1;
                    first_idle.get_or_insert(j);
                } else if most_idle == 0 {
                    let s = val.keep_score(now);
                    if s < best {
                        best = s;
                        victim = Some((j, Found::Evicted));
                    }
                }
            }
            if let Some(j) = first_idle {
                if idle > most_idle {
                    most_idle = idle;
                    victim = Some((j, Found::Inserted));
                }
            }
        }
    }
    let Some((j, found)) = victim else {
        // Unreachable: the candidate groups are all there.
        return f(&mut V::default(), Found::Inserted);
    };
    if found == Found::Evicted {
        evicted.fetch_add(1, Relaxed);
    }
    let (Some(fps), Some(g)) = (fps.get(place.bucket(j)), c.get_mut(j / PAIR)) else {
        return f(&mut V::default(), Found::Inserted);
    };
    fps.store(with_lane(fps.load(Relaxed), j % WAYS, place.fp), Relaxed);
    let p = j % PAIR;
    g.keys[p] = Some(key.clone());
    g.vals[p] = V::default();
    f(&mut g.vals[p], found)
}

#[cfg(test)]
mod tests {
    use super::started_tests::{Count, Wide};
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

    /// A rate level's bucket (an IP address key, an 8-byte time) is two
    /// cache lines, each holding two slots and their lock: the locks cost
    /// no memory.
    #[test]
    fn a_rate_bucket_is_two_lines_with_their_locks() {
        assert_eq!(size_of::<Locked<IpAddr, crate::rate::Tat>>(), 64);
        assert_eq!(size_of::<Bucket<IpAddr, crate::rate::Tat>>(), 128);
    }

    /// A new key takes its home way: in an empty table, in its first
    /// bucket (both have room, both homes are empty: the first wins); in
    /// a table of 64-byte values filled to its capacity, about four keys
    /// in five sit in one of their two home ways (what `start_mut`
    /// prefetches before the fingerprints), against one in four for a way
    /// picked at random. Small values' home is way 0: they pack.
    #[test]
    fn most_keys_sit_in_a_home_way() {
        let now = Instant::from_nanos(1);
        let small: BoundedMap<u32, Count> = BoundedMap::with_capacity(1000);
        assert!((0..1000u32).all(|k| small.place(&k).homes() == [0, WAYS]));
        let n = 100_000u32;
        let mut m: BoundedMap<u32, Wide> = BoundedMap::with_capacity(n as usize);
        m.entry_mut(&n, now, |v, _| v.n += 1);
        let s = m.start_mut(&n);
        assert_eq!(usize::from(s.guess), s.place.homes()[0]);
        for k in 0..n {
            m.entry_mut(&k, now, |v, _| v.n += 1);
        }
        let home = (0..n)
            .filter(|k| {
                let s = m.start_mut(k);
                s.place.homes().contains(&usize::from(s.guess))
            })
            .count();
        assert!(home > 70_000 && home < 90_000, "{home} of {n}");
    }

    /// A key's two buckets are distinct and in range, whatever the size
    /// (its slow path locks both buckets' groups: one bucket twice would
    /// deadlock).
    #[test]
    fn a_keys_two_buckets_are_distinct() {
        for capacity in (1..200).chain([1000, 4095, 65_536]) {
            let map: BoundedMap<u32, Count> = BoundedMap::with_capacity(capacity);
            for k in 0..2000u32 {
                let [b0, b1] = map.place(&k).buckets;
                assert!(
                    b0 != b1 && (b0 as u64) < map.n && (b1 as u64) < map.n,
                    "{capacity} {k}"
                );
            }
        }
    }

    /// Four threads, each with keys of its own, on one small table whose
    /// two-bit fingerprints make nearly every lookup take the locked path:
    /// keys of different threads share buckets and groups, and are added,
    /// counted, read and removed at once. Every read sees exactly what the
    /// thread's own model holds: no update lost, no key in two slots.
    #[test]
    fn threads_sharing_groups_lose_nothing() {
        let mut map: BoundedMap<u32, Count> = BoundedMap::with_capacity(600);
        map.fp_mask = 0b11;
        let map = &map;
        let now = Instant::from_nanos(0);
        std::thread::scope(|s| {
            for t in 0..4u32 {
                s.spawn(move || {
                    let mut model = [0u64; 50];
                    let mut x = 0x9e37_79b9_u64 + u64::from(t);
                    for _ in 0..20_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let i = (x % 50) as usize;
                        let k = t * 1000 + i as u32;
                        match (x >> 32) % 8 {
                            0 => {
                                assert_eq!(map.remove(&k), model[i] > 0);
                                model[i] = 0;
                            }
                            1 => {
                                let keys = [Some(k), Some(k ^ 1), None, Some(k)];
                                map.entry_batch(&keys, now, |_, c, _| c.0 += 1);
                                model[i] += 2;
                                model[i ^ 1] += 1;
                            }
                            2 | 3 => {
                                let want = (model[i] > 0).then_some(model[i]);
                                assert_eq!(map.get(&k, |c| c.0), want, "key {k}");
                            }
                            _ => {
                                let found = map.entry(&k, now, |c, found| {
                                    c.0 += 1;
                                    found
                                });
                                assert_eq!(found == Found::Present, model[i] > 0, "key {k}");
                                model[i] += 1;
                            }
                        }
                    }
                    for (i, &n) in model.iter().enumerate() {
                        let k = t * 1000 + i as u32;
                        assert_eq!(map.get(&k, |c| c.0), (n > 0).then_some(n), "key {k}");
                    }
                });
            }
        });
        assert_eq!(map.evictions(), 0);
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
            let place = Place { buckets: [b0, b1], fp, lines: false, home: [0, 0] };
            let want = f.iter().position(|&x| x == fp);
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

    /// A value over a cache line that asks to be prefetched.
    #[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C, align(64))]
    pub(super) struct Wide {
        pub(super) n: u64,
        rest: [u64; 7],
    }

    impl SlotValue for Wide {
        const LINES: bool = true;
        fn lines(&self, lines: &mut Lines) {
            lines.line(&self.n);
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// `start_batch_mut` starts each key exactly as `start_mut` does
        /// (same place, guess and map tag), on a map holding some of the
        /// keys, small or over 8 MiB.
        #[test]
        fn a_batch_starts_each_key_as_start_mut_does(
            held in prop::collection::vec(0u32..200, 0..150),
            keys in prop::collection::vec(prop::option::of(0u32..300), 0..20),
            large in any::<bool>(),
        ) {
            let mut map: BoundedMap<u32, Count> =
                BoundedMap::with_capacity(if large { 600_000 } else { 100 });
            let now = Instant::from_nanos(0);
            for k in &held {
                map.entry_mut(k, now, |c, _| c.0 += 1);
            }
            let batch = map.start_batch_mut(&keys);
            for (i, got) in batch.iter().enumerate() {
                let want = keys.get(i).copied().flatten().filter(|_| i < BATCH).map(|k| map.start_mut(&k));
                match (got, want) {
                    (None, None) => {}
                    (Some(g), Some(w)) => {
                        prop_assert_eq!(g.key, w.key);
                        prop_assert_eq!(g.place.buckets, w.place.buckets);
                        prop_assert_eq!(g.place.fp, w.place.fp);
                        prop_assert_eq!(g.guess, w.guess);
                        prop_assert_eq!(g.tag, w.tag);
                    }
                    (g, w) => prop_assert!(false, "slot {}: {:?} / {:?}", i, g, w),
                }
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

    /// The same on a table over 8 MiB of `LINES` values, where `start_mut`
    /// prefetches the home slots and the matching slot with its value's
    /// lines: 75 000 keys added for 67 500 slots (so live
    /// entries are evicted), then random steps over 200 000 keys.
    #[test]
    fn started_steps_match_on_a_large_prefetching_table() {
        let found = large_run::<Wide>(45_000, 75_000, 200_000, |v, w| v.n += w);
        assert!(BoundedMap::<u32, Wide>::with_capacity(45_000).lines);
        // Every path was taken: present, inserted, evicted.
        assert!(found.iter().all(|&n| n > 100), "{found:?}");
    }

    /// And on a table over 8 MiB of small values (no `LINES`: only the
    /// slot's key is loaded early).
    #[test]
    fn started_steps_match_on_a_large_table_of_small_values() {
        let found = large_run::<Count>(400_000, 20_000, 60_000, |v, w| v.0 += w);
        assert!(found[0] > 100 && found[1] > 100, "{found:?}");
    }
}
