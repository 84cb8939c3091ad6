//! The shadowing and duplicate lint.

use std::collections::HashMap;

use crate::{Acl, Action, EntryKey};

/// What [`Acl::lint`] found about a pair of entries. Indices are positions
/// in [`Acl::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Finding {
    /// Two entries with the same network, protocol and ports and opposite
    /// actions: the tie makes them `Block`. An Asterisk list (last match
    /// wins) or a Kamailio/OpenSIPS list (first match wins) would have
    /// decided by their order instead.
    ConflictingDuplicate {
        /// The earlier entry.
        first: usize,
        /// The later entry.
        second: usize,
    },
    /// Two entries with the same network, protocol, ports and action: the
    /// later one is redundant.
    Duplicate {
        /// The earlier entry.
        first: usize,
        /// The later entry.
        second: usize,
    },
    /// A more specific entry inside a broader entry with the opposite
    /// action. Here the specific entry decides for its addresses wherever it
    /// is listed; a first-match list (Kamailio, OpenSIPS, most firewalls)
    /// would have let the broader entry decide if it came first
    /// (`broader < specific`), a last-match list (Asterisk) if it came last.
    Shadows {
        /// The more specific entry.
        specific: usize,
        /// The broader entry it overrides for its addresses.
        broader: usize,
    },
}

/// At most this many findings are reported (the lint stops there).
pub const MAX_FINDINGS: usize = 10_000;

impl Acl {
    /// Reports exact duplicates (conflicting or redundant) and entries that
    /// override a broader entry with the opposite action, so an operator
    /// migrating a first-match or last-match list sees what the
    /// most-specific rule changes. Port-restricted entries are compared with
    /// the unrestricted entries of their own and enclosing networks.
    /// Expired entries are included. O(n log n); at most [`MAX_FINDINGS`].
    ///
    /// ```
    /// use pbxsec_acl::{Acl, Entry, Finding};
    ///
    /// let mut acl = Acl::vodia();
    /// acl.entries.push(Entry::block("10.0.0.0/8")?);   // 0: first match would stop here
    /// acl.entries.push(Entry::allow("10.1.0.0/16")?);  // 1: most specific wins instead
    /// assert_eq!(acl.lint(), vec![Finding::Shadows { specific: 1, broader: 0 }]);
    /// # Ok::<(), pbxsec_acl::Error>(())
    /// ```
    pub fn lint(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        // Exact duplicates: compare each entry with the first of its key.
        let mut first_of: HashMap<EntryKey, (usize, bool, bool)> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            let slot = first_of.entry(e.key()).or_insert((i, false, false));
            if slot.0 != i {
                let first = slot.0;
                let same = self
                    .entries
                    .get(first)
                    .is_some_and(|f| f.action == e.action);
                out.push(if same {
                    Finding::Duplicate { first, second: i }
                } else {
                    Finding::ConflictingDuplicate { first, second: i }
                });
            }
        }
        // Per network: the first unrestricted Allow and Block entry.
        let mut by_network: HashMap<crate::Network, [Option<usize>; 2]> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.is_unrestricted() {
                let slot = by_network.entry(e.network).or_default();
                let k = usize::from(e.action == Action::Block);
                if let Some(s) = slot.get_mut(k) {
                    s.get_or_insert(i);
                }
            }
        }
        // For each entry, each enclosing network (at most 128 shorter
        // prefixes) that has an opposite-action entry.
        for (i, e) in self.entries.iter().enumerate() {
            let opposite = usize::from(e.action == Action::Allow);
            // A restricted entry also overrides its own network's entries.
            let top = e.network.prefix_len() + u8::from(!e.is_unrestricted());
            for len in (0..top).rev() {
                let enclosing = crate::Network::truncating(e.network.addr(), len);
                if enclosing.is_ipv4() != e.network.is_ipv4() {
                    continue;
                }
                if let Some(&Some(b)) = by_network.get(&enclosing).and_then(|s| s.get(opposite)) {
                    out.push(Finding::Shadows {
                        specific: i,
                        broader: b,
                    });
                }
            }
            if out.len() >= MAX_FINDINGS {
                break;
            }
        }
        out.truncate(MAX_FINDINGS);
        out
    }
}
