//! The compiled, immutable lookup table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pbxsec_core::{UnixTime, canonical_ip};

use crate::poptrie::{Key, Poptrie, Prefix};
use crate::{Acl, Action, Entry, Error, Protocol, Result};

/// The most entries a compiled table holds (2^24, about 16.7 million).
pub const MAX_ENTRIES: usize = 1 << 24;

/// No parent prefix.
const NONE: u32 = u32::MAX;

/// Leaf bits 0–1: the answer of an address-only check when no entry has
/// expired: 0 no match, 1 Allow, 2 Block.
const ANSWER_MASK: u32 = 0b11;
/// Leaf bit 2: some prefix on the way to the root has port-restricted entries.
const RESTRICTED: u32 = 0b100;
/// Leaf bits 3..: prefix index + 1 (0: no prefix covers the address).
const INDEX_SHIFT: u32 = 3;

/// The rule data the slow path reads, packed.
#[derive(Clone, Copy, Debug)]
struct Rule {
    action: Action,
    protocol: Protocol,
    unrestricted: bool,
    lo: u16,
    hi: u16,
    /// Expiry in ms since the epoch, `u64::MAX` for none.
    expires: u64,
    /// The entry's index in `CompiledAcl::entries`.
    entry: u32,
}

impl Rule {
    fn new(e: &Entry, index: usize) -> Self {
        let ports = e.ports.unwrap_or(crate::PortRange::ALL);
        Self {
            action: e.action,
            protocol: e.protocol,
            unrestricted: e.is_unrestricted(),
            lo: ports.start(),
            hi: ports.end(),
            expires: e.expires.map_or(u64::MAX, UnixTime::as_millis),
            entry: index as u32,
        }
    }

    fn applies(&self, port: Option<(Protocol, u16)>, now: u64) -> bool {
        now < self.expires
            && match port {
                None => self.unrestricted,
                Some((proto, p)) => self.protocol.matches(proto) && self.lo <= p && p <= self.hi,
            }
    }

    fn width(&self) -> u32 {
        u32::from(self.hi) - u32::from(self.lo) + 1
    }
}

/// One distinct network of a family and its entries.
#[derive(Clone, Copy, Debug)]
struct PrefixInfo {
    /// The index of the nearest enclosing prefix that has entries.
    parent: u32,
    /// The entries of this network: `rules[first..end]`.
    first: u32,
    end: u32,
}

#[derive(Clone, Debug)]
struct Family<K> {
    trie: Poptrie<K>,
    prefixes: Box<[PrefixInfo]>,
}

/// An ACL compiled for lookups: immutable, `Send + Sync`, and cheap to
/// query from every packet.
///
/// Build one with [`CompiledAcl::new`] (or [`Acl::compile`]); share it with
/// [`crate::SharedAcl`] to replace it atomically when the list changes.
///
/// # The rule
/// For a source address (made canonical: `::ffff:10.1.2.3` is judged as
/// `10.1.2.3`) and optionally a protocol and destination port, among the
/// entries that have not expired and that apply (see [`Entry::applies_to`]):
/// 1. the longest prefix wins;
/// 2. among entries of that prefix, the narrower port range wins;
/// 3. a remaining tie is `Block`.
///
/// With no applicable entry the answer is [`Acl::no_match`], or
/// [`Acl::when_empty`] if the list has no live entry at all.
///
/// # Speed
/// [`check`](Self::check) is one walk down a Poptrie (see the README) and
/// returns the answer stored in the leaf; it takes `&self`, never allocates
/// and never locks. Two cases take a slower, still allocation-free path that
/// walks up the entries of the enclosing prefixes (at most 33 or 129 steps):
/// a [`check_port`](Self::check_port) whose address is inside a network that
/// has port-restricted entries, and any check at or after
/// [`fresh_until`](Self::fresh_until) (the first expiry), until the table is
/// rebuilt ([`crate::SharedAcl::refresh`]).
///
/// # Time
/// Entries already expired at the compile time are left out, so call the
/// lookups with times at or after it.
#[derive(Clone, Debug)]
pub struct CompiledAcl {
    entries: Box<[Entry]>,
    rules: Box<[Rule]>,
    v4: Family<u32>,
    v6: Family<u128>,
    /// Indexed by the leaf's answer bits.
    answers: [Action; 4],
    no_match: Action,
    when_empty: Action,
    fresh_until: UnixTime,
    empty_from: UnixTime,
    compiled_at: UnixTime,
}

impl CompiledAcl {
    /// Compiles `acl`'s entries that are live at `now`.
    ///
    /// Fails only with [`Error::TooManyEntries`] (over [`MAX_ENTRIES`]).
    /// Takes O(n log n) for n entries (tens of milliseconds for 100 000).
    pub fn new(acl: &Acl, now: UnixTime) -> Result<Self> {
        Self::from_entries(
            acl.entries.iter().filter(|e| e.is_live(now)),
            acl.no_match,
            acl.when_empty,
            now,
        )
    }

    fn from_entries<'a>(
        live: impl Iterator<Item = &'a Entry>,
        no_match: Action,
        when_empty: Action,
        now: UnixTime,
    ) -> Result<Self> {
        let live: Vec<&Entry> = live.collect();
        if live.len() > MAX_ENTRIES {
            return Err(Error::TooManyEntries {
                count: live.len(),
                max: MAX_ENTRIES,
            });
        }
        // Entries stay in list order (a sequential copy); the tries work on
        // the rules, sorted per family by (address, length, list position)
        // so an enclosing network comes before the networks inside it.
        let entries: Vec<Entry> = live.iter().map(|e| (*e).clone()).collect();
        let mut v4: Vec<u64> = Vec::new();
        let mut v6: Vec<(u128, u8, u32)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let len = e.network.prefix_len();
            match e.network.addr() {
                // address, length, index (< 2^24) packed for a fast sort.
                IpAddr::V4(a) => {
                    v4.push((u64::from(u32::from(a)) << 32) | (u64::from(len) << 24) | i as u64);
                }
                IpAddr::V6(a) => v6.push((u128::from(a), len, i as u32)),
            }
        }
        v4.sort_unstable();
        v6.sort_unstable();
        let nets4: Vec<(u32, u8)> = v4
            .iter()
            .map(|&k| ((k >> 32) as u32, (k >> 24) as u8))
            .collect();
        let nets6: Vec<(u128, u8)> = v6.iter().map(|&(k, l, _)| (k, l)).collect();
        let rules: Box<[Rule]> = v4
            .iter()
            .map(|&k| (k & 0xff_ffff) as usize)
            .chain(v6.iter().map(|&(_, _, i)| i as usize))
            .filter_map(|i| entries.get(i).map(|e| Rule::new(e, i)))
            .collect();
        let v4 = Family::build(&nets4, &rules, 0);
        let v6 = Family::build(&nets6, &rules, nets4.len());
        let fresh_until = entries
            .iter()
            .filter_map(|e| e.expires)
            .min()
            .unwrap_or(UnixTime::from_millis(u64::MAX));
        let empty_from = if entries.is_empty() {
            UnixTime::EPOCH
        } else if entries.iter().any(|e| e.expires.is_none()) {
            UnixTime::from_millis(u64::MAX)
        } else {
            entries
                .iter()
                .filter_map(|e| e.expires)
                .max()
                .unwrap_or(UnixTime::EPOCH)
        };
        let none = if entries.is_empty() {
            when_empty
        } else {
            no_match
        };
        Ok(Self {
            entries: entries.into_boxed_slice(),
            rules,
            v4,
            v6,
            answers: [none, Action::Allow, Action::Block, Action::Block],
            no_match,
            when_empty,
            fresh_until,
            empty_from,
            compiled_at: now,
        })
    }

    /// The same list compiled again at `now`, without the entries expired
    /// by then.
    pub fn recompile(&self, now: UnixTime) -> Result<Self> {
        Self::from_entries(
            self.entries.iter().filter(|e| e.is_live(now)),
            self.no_match,
            self.when_empty,
            now,
        )
    }

    /// The answer for a source address, whatever its protocol and port
    /// (only unrestricted entries apply).
    #[inline]
    pub fn check(&self, ip: IpAddr, now: UnixTime) -> Action {
        match canonical_ip(ip) {
            IpAddr::V4(a) => self.check_v4(a, now),
            IpAddr::V6(a) => self.check_v6_exact(a, now),
        }
    }

    /// [`check`](Self::check) for an IPv4 source.
    // Always inlined (a few dozen instructions, the slow path out of line):
    // a call per packet costs about as much as the lookup itself.
    #[inline(always)]
    pub fn check_v4(&self, ip: Ipv4Addr, now: UnixTime) -> Action {
        let leaf = self.v4.trie.lookup(u32::from(ip));
        if now < self.fresh_until {
            self.answers[(leaf & ANSWER_MASK) as usize]
        } else {
            self.check_v4_slow(leaf, now)
        }
    }

    /// The exact path of [`check_v4`](Self::check_v4) once an entry may
    /// have expired.
    #[cold]
    #[inline(never)]
    fn check_v4_slow(&self, leaf: u32, now: UnixTime) -> Action {
        self.finish(self.v4.resolve(&self.rules, leaf, None, now), now)
    }

    /// [`check`](Self::check) for an IPv6 source; an IPv4-mapped address is
    /// judged as IPv4.
    #[inline]
    pub fn check_v6(&self, ip: Ipv6Addr, now: UnixTime) -> Action {
        match ip.to_ipv4_mapped() {
            Some(v4) => self.check_v4(v4, now),
            None => self.check_v6_exact(ip, now),
        }
    }

    #[inline]
    fn check_v6_exact(&self, ip: Ipv6Addr, now: UnixTime) -> Action {
        let leaf = self.v6.trie.lookup(u128::from(ip));
        if now < self.fresh_until {
            self.answers[(leaf & ANSWER_MASK) as usize]
        } else {
            self.check_v6_slow(leaf, now)
        }
    }

    /// The exact path of [`check_v6_exact`](Self::check_v6_exact) once an
    /// entry may have expired.
    #[cold]
    #[inline(never)]
    fn check_v6_slow(&self, leaf: u32, now: UnixTime) -> Action {
        self.finish(self.v6.resolve(&self.rules, leaf, None, now), now)
    }

    /// The answer for a packet from `ip` of `protocol` to destination
    /// `port`: entries restricted to other protocols or ports do not apply.
    /// Pass [`Protocol::Both`] if the protocol is not known (then only
    /// entries for both protocols apply).
    #[inline]
    pub fn check_port(&self, ip: IpAddr, protocol: Protocol, port: u16, now: UnixTime) -> Action {
        let (leaf, family_v4) = match canonical_ip(ip) {
            IpAddr::V4(a) => (self.v4.trie.lookup(u32::from(a)), true),
            IpAddr::V6(a) => (self.v6.trie.lookup(u128::from(a)), false),
        };
        if now < self.fresh_until && leaf & RESTRICTED == 0 {
            return self.answers[(leaf & ANSWER_MASK) as usize];
        }
        let rule = if family_v4 {
            self.v4
                .resolve(&self.rules, leaf, Some((protocol, port)), now)
        } else {
            self.v6
                .resolve(&self.rules, leaf, Some((protocol, port)), now)
        };
        self.finish(rule, now)
    }

    /// The entry that decides for `ip` (and, with `port`, a protocol and
    /// destination port) at `now`, or `None` when no entry matches and the
    /// default applies. On a tie, the Block entry is returned. Use it to say
    /// *why* a source was dropped (e.g. in a `FailedACL` event).
    pub fn matching_entry(
        &self,
        ip: IpAddr,
        port: Option<(Protocol, u16)>,
        now: UnixTime,
    ) -> Option<&Entry> {
        let rule = match canonical_ip(ip) {
            IpAddr::V4(a) => {
                self.v4
                    .resolve(&self.rules, self.v4.trie.lookup(u32::from(a)), port, now)
            }
            IpAddr::V6(a) => {
                self.v6
                    .resolve(&self.rules, self.v6.trie.lookup(u128::from(a)), port, now)
            }
        };
        rule.and_then(|r| self.rules.get(r))
            .and_then(|r| self.entries.get(r.entry as usize))
    }

    fn finish(&self, rule: Option<usize>, now: UnixTime) -> Action {
        match rule.and_then(|r| self.rules.get(r)) {
            Some(r) => r.action,
            None if now >= self.empty_from => self.when_empty,
            None => self.no_match,
        }
    }

    /// The live entries the table was compiled from, in list order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The answer when no entry matches.
    pub const fn no_match(&self) -> Action {
        self.no_match
    }

    /// The answer when the list has no live entry.
    pub const fn when_empty(&self) -> Action {
        self.when_empty
    }

    /// The first expiry among the entries: from then on lookups take the
    /// slower exact path until the table is recompiled.
    pub const fn fresh_until(&self) -> UnixTime {
        self.fresh_until
    }

    /// When the table was compiled.
    pub const fn compiled_at(&self) -> UnixTime {
        self.compiled_at
    }

    /// The list back as configuration (live entries only).
    pub fn to_acl(&self) -> Acl {
        Acl {
            entries: self.entries.to_vec(),
            no_match: self.no_match,
            when_empty: self.when_empty,
        }
    }

    /// Heap bytes held by the lookup structures (tries and per-prefix
    /// data), not counting the stored [`Entry`] values and their comments.
    pub fn lookup_heap_bytes(&self) -> usize {
        self.v4.trie.heap_bytes()
            + self.v6.trie.heap_bytes()
            + (self.v4.prefixes.len() + self.v6.prefixes.len()) * size_of::<PrefixInfo>()
            + self.rules.len() * size_of::<Rule>()
    }
}

impl TryFrom<&Acl> for CompiledAcl {
    type Error = Error;

    /// Compiles every entry, expired or not (as [`CompiledAcl::new`] at the
    /// Unix epoch): expired entries are still judged exactly at lookup
    /// time, on the slower path. Prefer [`Acl::compile`] with the current
    /// time, which leaves them out.
    fn try_from(acl: &Acl) -> Result<Self> {
        Self::new(acl, UnixTime::EPOCH)
    }
}

impl<K: Key> Family<K> {
    /// Builds the family from its networks, sorted, one per rule: `nets[j]`
    /// is the network of `rules[offset + j]`.
    fn build(nets: &[(K, u8)], rules: &[Rule], offset: usize) -> Self {
        let mut prefixes: Vec<PrefixInfo> = Vec::new();
        let mut trie_prefixes: Vec<Prefix<K>> = Vec::new();
        let mut stack: Vec<(u32, K, u8)> = Vec::new(); // (prefix index, key, len)
        let mut i = 0;
        while let Some(&(k, len)) = nets.get(i) {
            let mut end = i + 1;
            while nets.get(end) == Some(&(k, len)) {
                end += 1;
            }
            while let Some(&(_, pk, plen)) = stack.last() {
                if covers(pk, plen, k) {
                    break;
                }
                stack.pop();
            }
            let parent = stack.last().map_or(NONE, |&(idx, _, _)| idx);
            let idx = prefixes.len() as u32;
            // Own answer from the unrestricted entries at this network.
            let own = rules.get(offset + i..offset + end).unwrap_or_default();
            let mut answer = 0u32;
            let mut restricted = false;
            for r in own {
                if r.unrestricted {
                    answer = answer.max(match r.action {
                        Action::Allow => 1,
                        Action::Block => 2,
                    });
                } else {
                    restricted = true;
                }
            }
            let parent_leaf = trie_prefixes.get(parent as usize).map_or(0, |p| p.value);
            if answer == 0 {
                answer = parent_leaf & ANSWER_MASK;
            }
            let restricted_bit = if restricted {
                RESTRICTED
            } else {
                parent_leaf & RESTRICTED
            };
            let value = ((idx + 1) << INDEX_SHIFT) | restricted_bit | answer;
            prefixes.push(PrefixInfo {
                parent,
                first: (offset + i) as u32,
                end: (offset + end) as u32,
            });
            trie_prefixes.push(Prefix { key: k, len, value });
            stack.push((idx, k, len));
            i = end;
        }
        Self {
            trie: Poptrie::build(&trie_prefixes),
            prefixes: prefixes.into_boxed_slice(),
        }
    }

    /// The index of the deciding rule for the prefix in `leaf`, walking to
    /// enclosing prefixes while none applies.
    fn resolve(
        &self,
        rules: &[Rule],
        leaf: u32,
        port: Option<(Protocol, u16)>,
        now: UnixTime,
    ) -> Option<usize> {
        let now = now.as_millis();
        let mut idx = (leaf >> INDEX_SHIFT).checked_sub(1)?;
        loop {
            let info = self.prefixes.get(idx as usize)?;
            let mut best: Option<(usize, Rule)> = None;
            for r in info.first as usize..info.end as usize {
                let Some(rule) = rules.get(r) else { break };
                if !rule.applies(port, now) {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some((_, b)) => {
                        rule.width() < b.width()
                            || (rule.width() == b.width()
                                && rule.action == Action::Block
                                && b.action == Action::Allow)
                    }
                };
                if better {
                    best = Some((r, *rule));
                }
            }
            if let Some((r, _)) = best {
                return Some(r);
            }
            if info.parent == NONE {
                return None;
            }
            idx = info.parent;
        }
    }
}

/// `true` if the prefix `pk/plen` covers the key `k`.
fn covers<K: Key>(pk: K, plen: u8, k: K) -> bool {
    let plen = u32::from(plen);
    if plen == 0 {
        return true;
    }
    // Compare the first `plen` bits, 16 at a time.
    let mut depth = 0;
    while depth < plen {
        let w = (plen - depth).min(16);
        if pk.chunk(depth, w) != k.chunk(depth, w) {
            return false;
        }
        depth += w;
    }
    true
}
