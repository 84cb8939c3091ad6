//! A Poptrie: a multibit trie with 6-bit strides whose nodes are compressed
//! with two 64-bit bitmaps and `count_ones`, under a direct-pointing table
//! for the first `s` bits (Asai and Ohara, "Poptrie: A Compressed Trie with
//! Population Count for Fast and Scalable Software IP Routing Table Lookup",
//! SIGCOMM 2015).
//!
//! It maps every key to the value of the longest stored prefix that covers
//! it (values are leaf-pushed at build time), or to 0 when none covers it.
//! A lookup is one direct-table read and, below it, one node read per six
//! bits; no allocation, no lock, no branch on the prefix count. Chains of
//! single-child nodes are path-compressed into skip nodes (one compare of
//! up to 120 bits instead of one node per six bits).
//!
//! IPv4 adds buckets: a direct slot's key range flattened into a few
//! intervals in one cache line, ranked without a branch, so nearly every
//! IPv4 lookup is a fixed sequence of instructions whatever the address;
//! only slots too crowded for a bucket keep nodes. Small tables get one
//! bucket per slot ([`SmallBucket`]), larger ones name shared buckets from
//! the direct table ([`Bucket`]). See [`Poptrie::build`].

use std::marker::PhantomData;

/// A key type: `u32` for IPv4, `u128` for IPv6.
pub(crate) trait Key: Copy + Ord {
    /// The width in bits.
    const BITS: u32;
    /// Bits `[depth, depth + width)` of the key (bits past the end read as
    /// zero). `depth < BITS`, `1 <= width <= 16`.
    fn chunk(self, depth: u32, width: u32) -> usize;
    /// The key from bit `depth` on, left-aligned in 128 bits.
    fn window(self, depth: u32) -> u128;
    /// Whether single-child chains are path-compressed into skip nodes
    /// (measured faster for both families: fewer, smaller nodes).
    const SKIP: bool;
    /// Whether direct slots may hold a [`Bucket`] (IPv4 only: a bucket
    /// stores the 32 key bits below the slot, all an IPv4 key has left).
    const BUCKETS: bool;
    /// Bits `[depth, depth + 32)` of the key, left-aligned (bits past the
    /// end read as zero).
    #[inline(always)]
    fn top32(self, depth: u32) -> u32 {
        (self.window(depth) >> 96) as u32
    }
}

// The trait's `u32` constant type reads as `Self` to clippy here.
#[allow(clippy::use_self)]
impl Key for u32 {
    const BITS: u32 = 32;
    const SKIP: bool = true;
    const BUCKETS: bool = true;
    #[inline(always)]
    fn top32(self, depth: u32) -> u32 {
        self << depth
    }
    #[inline(always)]
    fn chunk(self, depth: u32, width: u32) -> usize {
        ((u64::from(self) << (32 + depth)) >> (64 - width)) as usize
    }
    #[inline(always)]
    fn window(self, depth: u32) -> u128 {
        u128::from(self) << (96 + depth)
    }
}

impl Key for u128 {
    const BITS: u32 = 128;
    const SKIP: bool = true;
    const BUCKETS: bool = false;
    #[inline(always)]
    fn chunk(self, depth: u32, width: u32) -> usize {
        ((self << depth) >> (128 - width)) as usize
    }
    #[inline(always)]
    fn window(self, depth: u32) -> u128 {
        self << depth
    }
}

/// One prefix to store: the key with host bits clear, its length, and its
/// value (non-zero, below [`NODE`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prefix<K> {
    pub(crate) key: K,
    pub(crate) len: u8,
    pub(crate) value: u32,
}

/// The flag that marks a direct-table slot as a node index.
pub(crate) const NODE: u32 = 1 << 31;

/// The flag that marks a direct-table slot as a [`Bucket`] index. Values
/// must stay below it.
pub(crate) const BUCKET: u32 = 1 << 30;

/// The most prefixes of an IPv4 table with one bucket per direct slot
/// (64 KiB to 512 KiB of buckets, within a core's L2 cache here).
const INLINE_MAX: usize = 4096;

/// The share of prefixes allowed in node slots before a small table takes
/// one more direct bit.
const OVERFLOW_MAX: f64 = 0.02;

/// The most interval starts a bucket holds after the slot's first.
const BUCKET_BOUNDS: usize = 7;

/// The key range of one direct slot cut into at most eight intervals of
/// equal value: the leaf-pushed prefixes of the slot, flattened. One cache
/// line; a lookup counts the bounds at or below the key (a fixed-length,
/// branch-free loop the compiler vectorises) and reads that value.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Bucket {
    /// Where intervals 1..8 start: the key bits below the slot,
    /// left-aligned ([`Key::top32`]) and shifted right by one so they
    /// compare as `i32` (the slot is at least 8 bits wide, so the shift
    /// loses nothing). Unused ones, and always the last, are `i32::MAX`,
    /// which no key reaches.
    bounds: [i32; BUCKET_BOUNDS + 1],
    /// The value of each interval.
    values: [u32; BUCKET_BOUNDS + 1],
}

/// Minus the number of `bounds` above the key bits `below` the slot
/// ([`Key::top32`]), for the buckets' branch-free rank: both sides are
/// below 2^31 (`below` is halved, as the bounds are), so the difference
/// does not overflow and its sign says which is larger. A plain sum of
/// sign masks, which the compiler turns into a few SIMD adds (no popcount:
/// baseline x86-64 has none).
#[inline(always)]
fn minus_bounds_above<const N: usize>(bounds: &[i32; N], below: u32) -> i32 {
    let below = (below >> 1) as i32;
    let mut above = 0i32;
    for &bound in bounds {
        above += below.wrapping_sub(bound) >> 31;
    }
    above
}

impl Bucket {
    /// Every key ranks 0 and reads `value`.
    const fn constant(value: u32) -> Self {
        Self {
            bounds: [i32::MAX; BUCKET_BOUNDS + 1],
            values: [value; BUCKET_BOUNDS + 1],
        }
    }

    /// A bucket from `(start, value)` points, the first at 0 (see
    /// [`intervals`]).
    fn from_points(points: &[(u32, u32)]) -> Self {
        let mut bucket = Self::constant(0);
        for (k, &(at, v)) in points.iter().enumerate() {
            if let Some(b) = k.checked_sub(1).and_then(|k| bucket.bounds.get_mut(k)) {
                *b = (at >> 1) as i32;
            }
            if let Some(slot) = bucket.values.get_mut(k) {
                *slot = v;
            }
        }
        bucket
    }

    /// The value for the key bits `below` the slot ([`Key::top32`]).
    #[inline(always)]
    fn get(&self, below: u32) -> u32 {
        // The last bound is always above, so the rank is 0..=7.
        let rank = (BUCKET_BOUNDS as i32 + 1 + minus_bounds_above(&self.bounds, below)) as usize;
        self.values[rank & BUCKET_BOUNDS]
    }
}

/// Bits per node.
const STRIDE: u32 = 6;

/// In `Node::base1`: this node is a skip node (path compression). Its
/// `vector:leafvec` hold the skipped key bits left-aligned with their count
/// in the low byte, `base0` the leaf value for keys that differ there, and
/// `base1` (without the flag) the index of the node below.
const SKIP_FLAG: u32 = 1 << 31;

/// The fewest bits worth a skip node (two strides).
const MIN_SKIP: u32 = 2 * STRIDE;

/// The bounds a [`SmallBucket`] holds.
const SMALL_BOUNDS: usize = 10;

/// In a [`SmallBucket`] value: the rest is a node index.
const SMALL_NODE: u16 = 1 << 15;

/// A [`Bucket`] for small tables, one per direct slot: values (and node
/// indexes, flagged with [`SMALL_NODE`]) fit in 15 bits, so one cache line
/// holds ten bounds instead of seven and fewer slots need nodes.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct SmallBucket {
    /// As [`Bucket::bounds`], without the always-above last bound.
    bounds: [i32; SMALL_BOUNDS],
    /// The value of each interval.
    values: [u16; SMALL_BOUNDS + 1],
}

impl SmallBucket {
    /// Every key reads `value` (`None` if it does not fit).
    fn constant(value: u32) -> Option<Self> {
        let value = small_value(value)?;
        Some(Self {
            bounds: [i32::MAX; SMALL_BOUNDS],
            values: [value; SMALL_BOUNDS + 1],
        })
    }

    /// As [`Bucket::from_points`] (`None` if a value does not fit).
    fn from_points(points: &[(u32, u32)]) -> Option<Self> {
        let mut bucket = Self::constant(0)?;
        for (k, &(at, v)) in points.iter().enumerate() {
            if let Some(b) = k.checked_sub(1).and_then(|k| bucket.bounds.get_mut(k)) {
                *b = (at >> 1) as i32;
            }
            if let Some(slot) = bucket.values.get_mut(k) {
                *slot = small_value(v)?;
            }
        }
        Some(bucket)
    }

    /// As [`Bucket::get`]; the value as stored (with [`SMALL_NODE`]).
    #[inline(always)]
    fn get(&self, below: u32) -> u32 {
        // 0..=SMALL_BOUNDS: the compiler sees it and drops the check.
        let rank = (SMALL_BOUNDS as i32 + minus_bounds_above(&self.bounds, below)) as usize;
        u32::from(self.values[rank.min(SMALL_BOUNDS)])
    }
}

/// A trie value or direct-slot node reference as a [`SmallBucket`] value.
fn small_value(v: u32) -> Option<u16> {
    if v & NODE != 0 {
        u16::try_from(v & !NODE)
            .ok()
            .filter(|&i| i < SMALL_NODE)
            .map(|i| i | SMALL_NODE)
    } else {
        u16::try_from(v).ok().filter(|&v| v < SMALL_NODE)
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Node {
    /// Bit `i` set: slot `i` is a child node.
    vector: u64,
    /// Bit `i` set: slot `i` is a leaf whose value differs from the previous
    /// leaf slot's (a run of equal leaves is stored once).
    leafvec: u64,
    /// Index of the first leaf of this node in `leaves`.
    base0: u32,
    /// Index of the first child of this node in `nodes`.
    base1: u32,
}

/// The compiled trie.
#[derive(Clone, Debug)]
pub(crate) struct Poptrie<K> {
    direct_bits: u32,
    direct: Box<[u32]>,
    /// IPv4 only: the buckets `direct` slots name, bucket 0 constant 0.
    buckets: Box<[Bucket]>,
    /// Small IPv4 tables only: one bucket per direct slot, instead of
    /// `direct` (then empty) and `buckets`.
    small: Box<[SmallBucket]>,
    nodes: Box<[Node]>,
    leaves: Box<[u32]>,
    _key: PhantomData<K>,
}

struct Builder {
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    /// Scratch stack of (slot, start, end) child groups.
    groups: Vec<(u32, u32, u32)>,
}

impl<K: Key> Poptrie<K> {
    /// The direct-pointing width for `n` prefixes: about four slots per
    /// prefix, between 8 and 16 bits (so 1 KiB to 256 KiB).
    pub(crate) fn direct_bits_for(n: usize) -> u32 {
        let want = usize::BITS - n.saturating_mul(4).leading_zeros();
        want.clamp(8, 16).min(K::BITS)
    }

    /// Builds from prefixes sorted by `(key, len)`, without duplicates, with
    /// host bits clear and values non-zero and below [`BUCKET`].
    ///
    /// The layout is chosen per table. Small IPv4 tables (up to
    /// [`INLINE_MAX`] prefixes) get one bucket per direct slot, about one
    /// slot per prefix, one more bit if that leaves over [`OVERFLOW_MAX`]
    /// of the prefixes in slots a bucket cannot hold (those take the node
    /// walk, a branch the CPU mispredicts). Larger IPv4 tables and IPv6
    /// tables get a direct table of values, node and bucket indexes.
    pub(crate) fn build(prefixes: &[Prefix<K>]) -> Self {
        let n = prefixes.len();
        if K::BUCKETS && n <= INLINE_MAX {
            let bits = (usize::BITS - n.saturating_sub(1).leading_zeros()).clamp(8, 16);
            let (table, overflow) = Self::build_with(prefixes, bits, true);
            if overflow as f64 <= OVERFLOW_MAX * n as f64 {
                return table;
            }
            return Self::build_with(prefixes, bits + 1, true).0;
        }
        Self::build_with(prefixes, Self::direct_bits_for(n), false).0
    }

    /// Builds with a direct table of `direct_bits`, one [`SmallBucket`] per
    /// slot if `inline`; also returns how many prefixes lie in slots that
    /// need nodes. If `inline` and a value does not fit a small bucket,
    /// builds the large layout instead (and says every prefix overflows).
    fn build_with(prefixes: &[Prefix<K>], direct_bits: u32, inline: bool) -> (Self, usize) {
        let large = || {
            let (table, _) =
                Self::build_with(prefixes, Self::direct_bits_for(prefixes.len()), false);
            (table, usize::MAX)
        };
        let mut overflow = 0;
        let mut direct = vec![0u32; 1 << direct_bits];
        let mut b = Builder {
            nodes: Vec::with_capacity(prefixes.len()),
            leaves: Vec::with_capacity(2 * prefixes.len()),
            groups: Vec::new(),
        };
        fill(prefixes, 0, direct_bits, &mut direct, &mut b.groups);
        let groups = std::mem::take(&mut b.groups);
        let mut buckets = Vec::new();
        if K::BUCKETS {
            buckets.push(Bucket::constant(0));
        }
        let mut points = Vec::new();
        let mut small_slots = Vec::new();
        let capacity = if inline { SMALL_BOUNDS } else { BUCKET_BOUNDS };
        for &(slot, start, end) in &groups {
            let inherited = direct[slot as usize];
            let sub = &prefixes[start as usize..end as usize];
            if K::BUCKETS && intervals(sub, direct_bits, inherited, &mut points, capacity) {
                direct[slot as usize] = match points.as_slice() {
                    [(_, v)] => *v,
                    _ if inline => {
                        let Some(bucket) = SmallBucket::from_points(&points) else {
                            return large();
                        };
                        small_slots.push((slot, bucket));
                        0
                    }
                    _ => {
                        buckets.push(Bucket::from_points(&points));
                        BUCKET | (buckets.len() - 1) as u32
                    }
                };
                continue;
            }
            overflow += sub.len();
            let idx = b.nodes.len();
            b.nodes.push(Node::default());
            direct[slot as usize] = NODE | idx as u32;
            b.node(sub, direct_bits, inherited, idx);
        }
        let mut small = Vec::new();
        if K::BUCKETS && inline {
            let Some(per_slot) = direct
                .iter()
                .map(|&v| SmallBucket::constant(v))
                .collect::<Option<Vec<_>>>()
            else {
                return large();
            };
            small = per_slot;
            for (slot, bucket) in small_slots {
                if let Some(s) = small.get_mut(slot as usize) {
                    *s = bucket;
                }
            }
            direct = Vec::new();
            buckets = Vec::new();
        }
        let table = Self {
            direct_bits,
            direct: direct.into_boxed_slice(),
            buckets: buckets.into_boxed_slice(),
            small: small.into_boxed_slice(),
            nodes: b.nodes.into_boxed_slice(),
            leaves: b.leaves.into_boxed_slice(),
            _key: PhantomData,
        };
        (table, overflow)
    }

    /// The value of the longest prefix covering `key`, or 0.
    #[inline(always)]
    pub(crate) fn lookup(&self, key: K) -> u32 {
        if K::BUCKETS && !self.small.is_empty() {
            // One cache line whose address depends on the key alone.
            let Some(b) = self.small.get(key.chunk(0, self.direct_bits)) else {
                return 0;
            };
            let v = b.get(key.top32(self.direct_bits));
            if v & u32::from(SMALL_NODE) != 0 {
                return self.walk(key, NODE | (v & !u32::from(SMALL_NODE)));
            }
            return v;
        }
        let v = self.direct[key.chunk(0, self.direct_bits)];
        if v & NODE != 0 {
            return self.walk(key, v);
        }
        if !K::BUCKETS {
            return v;
        }
        // Branch-free from here: a slot holding a value goes through the
        // constant bucket 0 (value 0) and keeps its own value, a bucket
        // slot takes the bucket's value. All ones when `v` is a value, zero
        // when it names a bucket:
        let value_mask = ((v >> 30) & 1).wrapping_sub(1);
        let bucket = (v & !value_mask & !BUCKET) as usize;
        let Some(b) = self.buckets.get(bucket) else {
            return v;
        };
        b.get(key.top32(self.direct_bits)) | (v & value_mask)
    }

    /// [`walk_here`](Self::walk_here), out of line for IPv4, where it is
    /// the rare way (the bucket lookup stays small enough to inline), and
    /// inline for IPv6, where it is the common way.
    #[inline(always)]
    fn walk(&self, key: K, v: u32) -> u32 {
        if K::BUCKETS {
            self.walk_out_of_line(key, v)
        } else {
            self.walk_here(key, v)
        }
    }

    #[inline(never)]
    fn walk_out_of_line(&self, key: K, v: u32) -> u32 {
        self.walk_here(key, v)
    }

    /// The walk down the nodes from the direct slot value `v` (a node).
    #[inline(always)]
    fn walk_here(&self, key: K, v: u32) -> u32 {
        let mut node = self.nodes[(v & !NODE) as usize];
        let mut depth = self.direct_bits;
        loop {
            if K::SKIP && node.base1 & SKIP_FLAG != 0 {
                let stored = (u128::from(node.vector) << 64) | u128::from(node.leafvec);
                let bits = (stored & 0xff) as u32;
                if key.window(depth) & !(u128::MAX >> bits) != stored & !0xff {
                    return node.base0;
                }
                depth += bits;
                node = self.nodes[(node.base1 & !SKIP_FLAG) as usize];
                continue;
            }
            let i = key.chunk(depth, STRIDE) as u32;
            let bit = 1u64 << i;
            if node.vector & bit != 0 {
                let rank = (node.vector & (bit - 1)).count_ones();
                node = self.nodes[(node.base1 + rank) as usize];
                depth += STRIDE;
            } else {
                let rank = (node.leafvec & (u64::MAX >> (63 - i))).count_ones();
                return self.leaves[(node.base0 + rank - 1) as usize];
            }
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.direct.len() * size_of::<u32>()
            + self.buckets.len() * size_of::<Bucket>()
            + self.small.len() * size_of::<SmallBucket>()
            + self.nodes.len() * size_of::<Node>()
            + self.leaves.len() * size_of::<u32>()
    }
}

/// Writes the values of the prefixes of `pfx` no longer than `depth + width`
/// into `slots` (a later, more specific prefix overwrites an earlier one)
/// and pushes the runs of longer prefixes, one per slot, onto `groups`.
fn fill<K: Key>(
    pfx: &[Prefix<K>],
    depth: u32,
    width: u32,
    slots: &mut [u32],
    groups: &mut Vec<(u32, u32, u32)>,
) {
    let end_depth = depth + width;
    let mut i = 0;
    while let Some(p) = pfx.get(i) {
        let slot = p.key.chunk(depth, width);
        if u32::from(p.len) <= end_depth {
            let count = 1usize << (end_depth - u32::from(p.len));
            if let Some(run) = slots.get_mut(slot..slot + count) {
                run.fill(p.value);
            }
            i += 1;
        } else {
            let start = i;
            while pfx
                .get(i)
                .is_some_and(|q| u32::from(q.len) > end_depth && q.key.chunk(depth, width) == slot)
            {
                i += 1;
            }
            groups.push((slot as u32, start as u32, i as u32));
        }
    }
}

/// Cuts the key range of one direct slot (at `depth`) into intervals of
/// equal value: `pfx` are the slot's prefixes (sorted, all longer than
/// `depth`), `inherited` the value of the rest. Writes `(start, value)`
/// into `points` (starts as [`Key::top32`], the first at 0, neighbours of
/// different value) and returns `false` when there are more than `capacity` bounds.
fn intervals<K: Key>(
    pfx: &[Prefix<K>],
    depth: u32,
    inherited: u32,
    points: &mut Vec<(u32, u32)>,
    capacity: usize,
) -> bool {
    const END: u64 = 1 << 32;
    // Adds an interval start; a later start at the same place wins.
    fn push(points: &mut Vec<(u32, u32)>, at: u64, value: u32) {
        let Ok(at) = u32::try_from(at) else { return };
        if points.last().is_some_and(|&(last, _)| last == at) {
            points.pop();
        }
        if points.last().is_none_or(|&(_, v)| v != value) {
            points.push((at, value));
        }
    }
    points.clear();
    points.push((0, inherited));
    // Open prefixes: (end, value); the slot itself at the bottom.
    let mut open: Vec<(u64, u32)> = vec![(END, inherited)];
    for p in pfx {
        // The prefix's bits below the slot must fit in the 32 we store.
        let Some(size_bits) = (32 + depth).checked_sub(u32::from(p.len)) else {
            return false;
        };
        let start = u64::from(p.key.top32(depth));
        let end = start + (1u64 << size_bits);
        while let Some(&(e, _)) = open.last() {
            if e > start {
                break;
            }
            open.pop();
            let below = open.last().map_or(inherited, |&(_, v)| v);
            push(points, e, below);
        }
        push(points, start, p.value);
        open.push((end, p.value));
        if points.len() > capacity + 1 {
            return false;
        }
    }
    while open.len() > 1 {
        if let Some((e, _)) = open.pop() {
            let below = open.last().map_or(inherited, |&(_, v)| v);
            push(points, e, below);
        }
    }
    points.len() <= capacity + 1
}

impl Builder {
    /// Builds the node at `self.nodes[idx]` for the prefixes `pfx` (all
    /// longer than `depth`, inside one slot of the parent), whose slots
    /// default to `inherited`.
    fn node<K: Key>(&mut self, pfx: &[Prefix<K>], depth: u32, inherited: u32, idx: usize) {
        if K::SKIP {
            if let (Some(first), Some(last)) = (pfx.first(), pfx.last()) {
                // Sorted by key: the first and last share what all share.
                let common = (first.key.window(0) ^ last.key.window(0)).leading_zeros();
                let min_len = pfx.iter().map(|p| u32::from(p.len)).min().unwrap_or(0);
                // Every prefix must stay longer than the depth we skip to.
                let limit = common.min(min_len.saturating_sub(1));
                let bits = limit.saturating_sub(depth) / STRIDE * STRIDE;
                if (MIN_SKIP..=120).contains(&bits) {
                    let want = first.key.window(depth) & !(u128::MAX >> bits);
                    let stored = want | u128::from(bits);
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[idx] = Node {
                        vector: (stored >> 64) as u64,
                        leafvec: stored as u64,
                        base0: inherited,
                        base1: SKIP_FLAG | child as u32,
                    };
                    self.node(pfx, depth + bits, inherited, child);
                    return;
                }
            }
        }
        let mut slots = [inherited; 64];
        let g0 = self.groups.len();
        fill(pfx, depth, STRIDE, &mut slots, &mut self.groups);
        let g1 = self.groups.len();
        let mut vector = 0u64;
        for &(slot, _, _) in &self.groups[g0..g1] {
            vector |= 1 << slot;
        }
        let base1 = self.nodes.len() as u32;
        self.nodes
            .resize(self.nodes.len() + (g1 - g0), Node::default());
        let base0 = self.leaves.len() as u32;
        let mut leafvec = 0u64;
        let mut last = None;
        for (i, &v) in slots.iter().enumerate() {
            if vector & (1 << i) != 0 {
                continue;
            }
            if last != Some(v) {
                self.leaves.push(v);
                leafvec |= 1 << i;
                last = Some(v);
            }
        }
        self.nodes[idx] = Node {
            vector,
            leafvec,
            base0,
            base1,
        };
        for k in g0..g1 {
            let (slot, start, end) = self.groups[k];
            let sub = &pfx[start as usize..end as usize];
            self.node(
                sub,
                depth + STRIDE,
                slots[slot as usize],
                base1 as usize + (k - g0),
            );
        }
        self.groups.truncate(g0);
    }
}
