//! Number lists: exact numbers and dial patterns, thousands of entries.
//!
//! Exact numbers (and patterns that are plain numbers) go into a hash set.
//! Patterns are filed in a trie under their literal prefix (`1900X.` under
//! `1900`), so a lookup walks the number once and tries only the patterns
//! whose prefix the number starts with, plus those with no literal prefix.

use std::collections::HashSet;

use crate::error::Error;
use crate::pattern::{DialPattern, SYMBOLS};

#[derive(Clone, Debug, Default)]
struct Node {
    children: [u32; SYMBOLS],
    patterns: Vec<u32>,
}

/// A compiled list of numbers and patterns.
#[derive(Clone, Debug)]
pub(crate) struct NumberList {
    exact: HashSet<Box<str>, ahash::RandomState>,
    patterns: Vec<DialPattern>,
    trie: Vec<Node>,
}

impl Default for NumberList {
    fn default() -> Self {
        Self {
            exact: HashSet::default(),
            patterns: Vec::new(),
            trie: vec![Node::default()],
        }
    }
}

impl NumberList {
    /// Compiles `entries`; `field` names the list in errors.
    pub(crate) fn new(entries: &[String], field: &str) -> Result<Self, Error> {
        let mut list = Self::default();
        for (i, entry) in entries.iter().enumerate() {
            let pattern =
                DialPattern::parse(entry).map_err(|e| e.in_field(format!("{field}[{i}]")))?;
            if pattern.is_literal() {
                list.exact.insert(pattern.to_string().into_boxed_str());
                continue;
            }
            let id = u32::try_from(list.patterns.len())
                .map_err(|_| Error::config(field, "too many entries"))?;
            let mut node = 0usize;
            for s in pattern.literal_prefix() {
                let next = list
                    .trie
                    .get(node)
                    .and_then(|n| n.children.get(usize::from(s)))
                    .copied()
                    .unwrap_or(0);
                node = if next == 0 {
                    let new = list.trie.len();
                    list.trie.push(Node::default());
                    if let Some(slot) = list
                        .trie
                        .get_mut(node)
                        .and_then(|n| n.children.get_mut(usize::from(s)))
                    {
                        *slot = u32::try_from(new)
                            .map_err(|_| Error::config(field, "too many entries"))?;
                    }
                    new
                } else {
                    next as usize
                };
            }
            if let Some(n) = list.trie.get_mut(node) {
                n.patterns.push(id);
            }
            list.patterns.push(pattern);
        }
        Ok(list)
    }

    /// `true` when the list holds no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.patterns.is_empty()
    }

    /// `true` when `number` (whose symbols are `symbols`) is on the list.
    pub(crate) fn contains(&self, number: &str, symbols: &[u8]) -> bool {
        if self.exact.contains(number) {
            return true;
        }
        if self.patterns.is_empty() {
            return false;
        }
        let mut node = 0usize;
        let mut depth = 0usize;
        loop {
            let Some(n) = self.trie.get(node) else {
                return false;
            };
            for &p in &n.patterns {
                if self
                    .patterns
                    .get(p as usize)
                    .is_some_and(|p| p.matches_symbols(symbols))
                {
                    return true;
                }
            }
            let Some(&s) = symbols.get(depth) else {
                return false;
            };
            let next = n.children.get(usize::from(s)).copied().unwrap_or(0);
            if next == 0 {
                return false;
            }
            node = next as usize;
            depth += 1;
        }
    }
}
