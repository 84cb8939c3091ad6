//! The last N password hashes of an account.

use crate::hash::PasswordHasher;
use crate::policy::MAX_HISTORY;
use pbxsec_core::Secret;
use serde::{Deserialize, Serialize};

/// The argon2 PHC strings of an account's previous passwords, newest last.
///
/// Store it with the account (it serialises as `{"hashes": [...]}`); when a
/// password changes, check the candidate with
/// [`crate::PasswordPolicy::check_change`], then [`push`](Self::push) the
/// new hash with the policy's `history` length.
///
/// ```
/// use pbxsec_core::Secret;
/// use pbxsec_password::{PasswordHasher, PasswordHistory};
///
/// let hasher = PasswordHasher::owasp();
/// let mut history = PasswordHistory::default();
/// history.push(hasher.hash(&Secret::new("Old-passw0rd"))?, 3);
/// assert!(history.contains(&Secret::new("Old-passw0rd"), &hasher, 3));
/// assert!(!history.contains(&Secret::new("New-passw0rd"), &hasher, 3));
/// # Ok::<(), pbxsec_password::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordHistory {
    /// PHC strings, oldest first.
    pub hashes: Vec<String>,
}

impl PasswordHistory {
    /// Appends `phc` and keeps only the newest `keep` hashes (at most
    /// [`MAX_HISTORY`]).
    pub fn push(&mut self, phc: String, keep: usize) {
        self.hashes.push(phc);
        let keep = keep.min(MAX_HISTORY);
        let excess = self.hashes.len().saturating_sub(keep);
        self.hashes.drain(..excess);
    }

    /// `true` when `password` verifies against one of the newest `last`
    /// hashes (at most [`MAX_HISTORY`]). A stored hash that cannot be
    /// verified (corrupt, not argon2) never matches. Every compared hash is
    /// verified, even after a match, so the time does not tell which one matched.
    pub fn contains(&self, password: &Secret, hasher: &PasswordHasher, last: usize) -> bool {
        let last = last.min(MAX_HISTORY);
        let mut found = false;
        for phc in self.hashes.iter().rev().take(last) {
            found |= hasher.verify(password, phc).unwrap_or(false);
        }
        found
    }
}
