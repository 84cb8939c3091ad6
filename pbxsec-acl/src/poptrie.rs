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
}

// The trait's `u32` constant type reads as `Self` to clippy here.
#[allow(clippy::use_self)]
impl Key for u32 {
    const BITS: u32 = 32;
    const SKIP: bool = true;
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

/// Bits per node.
const STRIDE: u32 = 6;

/// In `Node::base1`: this node is a skip node (path compression). Its
/// `vector:leafvec` hold the skipped key bits left-aligned with their count
/// in the low byte, `base0` the leaf value for keys that differ there, and
/// `base1` (without the flag) the index of the node below.
const SKIP_FLAG: u32 = 1 << 31;

/// The fewest bits worth a skip node (two strides).
const MIN_SKIP: u32 = 2 * STRIDE;

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
    /// host bits clear and values non-zero and below [`NODE`].
    pub(crate) fn build(prefixes: &[Prefix<K>]) -> Self {
        let direct_bits = Self::direct_bits_for(prefixes.len());
        let mut direct = vec![0u32; 1 << direct_bits];
        let mut b = Builder {
            nodes: Vec::with_capacity(prefixes.len()),
            leaves: Vec::with_capacity(2 * prefixes.len()),
            groups: Vec::new(),
        };
        fill(prefixes, 0, direct_bits, &mut direct, &mut b.groups);
        let groups = std::mem::take(&mut b.groups);
        for &(slot, start, end) in &groups {
            let idx = b.nodes.len();
            b.nodes.push(Node::default());
            let inherited = direct[slot as usize];
            direct[slot as usize] = NODE | idx as u32;
            let sub = &prefixes[start as usize..end as usize];
            b.node(sub, direct_bits, inherited, idx);
        }
        Self {
            direct_bits,
            direct: direct.into_boxed_slice(),
            nodes: b.nodes.into_boxed_slice(),
            leaves: b.leaves.into_boxed_slice(),
            _key: PhantomData,
        }
    }

    /// The value of the longest prefix covering `key`, or 0.
    #[inline(always)]
    pub(crate) fn lookup(&self, key: K) -> u32 {
        let v = self.direct[key.chunk(0, self.direct_bits)];
        if v & NODE == 0 {
            return v;
        }
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
