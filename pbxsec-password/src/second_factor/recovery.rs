//! Recovery codes: K single-use codes the user writes down at enrollment and
//! types when the authenticator is lost.
//!
//! Codes are drawn from the OS CSPRNG over a 31-symbol alphabet without
//! look-alikes (`23456789abcdefghjkmnpqrstuvwxyz`: no `0 o 1 i l`), in groups
//! joined by `-`, like `ab3d-9kq2` (8 symbols, 39.6 bits). They are shown
//! once; only their argon2id hashes ([`crate::PasswordHasher`], OWASP
//! parameters by default) are stored, in a [`RecoveryCodeSet`].
//!
//! Verifying tries the typed code against each unused hash in turn, so it
//! costs up to K argon2 computations (the benchmark in the README measures
//! it). That is the price of storing hashes only; feed every
//! [`Rejection`] to the rate limiter so it cannot be turned into a
//! denial of service.

use pbxsec_core::{Secret, UnixTime};
use zeroize::Zeroizing;

use super::{Error, Rejection, Result, rng};
use crate::PasswordHasher;

/// The symbols of a recovery code: digits and lower-case letters without
/// `0 o 1 i l`, which people confuse when copying by hand.
pub const ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Recovery-code settings as written in a config file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryCodeConfig {
    /// How many codes to generate, 1 to 50. Default 10 (GitHub, Google and
    /// Microsoft all hand out 8 to 16).
    pub count: u8,
    /// Groups per code, 1 to 6. Default 2.
    pub groups: u8,
    /// Symbols per group, 2 to 8. Default 4. A code must have at least 8
    /// symbols in all (39.6 bits).
    pub group_len: u8,
}

impl Default for RecoveryCodeConfig {
    fn default() -> Self {
        Self {
            count: 10,
            groups: 2,
            group_len: 4,
        }
    }
}

/// One stored code: its argon2id PHC string and when it was used.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCode {
    /// argon2id PHC string of the code (lower case, without separators).
    pub hash: String,
    /// When the code was used, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<UnixTime>,
}

/// A user's recovery codes as stored: hashes only. Serialise it with serde
/// and keep it with the user; [`RecoveryCodes::verify_and_consume`] marks a
/// code used, after which the application must store the set again.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeSet {
    /// The codes, in the order they were generated.
    pub codes: Vec<StoredCode>,
}

impl RecoveryCodeSet {
    /// How many codes are still unused.
    pub fn remaining(&self) -> usize {
        self.codes.iter().filter(|c| c.used_at.is_none()).count()
    }
}

/// Generates and verifies recovery codes.
///
/// ```
/// use pbxsec_core::UnixTime;
/// use pbxsec_password::second_factor::{RecoveryCodeConfig, RecoveryCodes, Rejection};
///
/// let codes = RecoveryCodes::new(RecoveryCodeConfig { count: 3, ..Default::default() })?;
/// let (shown_once, mut stored) = codes.generate()?;
/// assert_eq!(shown_once[0].expose().len(), "ab3d-9kq2".len());
/// let now = UnixTime::from_secs(1_800_000_000);
/// assert_eq!(codes.verify_and_consume(&mut stored, shown_once[1].expose(), now), Ok(2));
/// assert_eq!(codes.verify_and_consume(&mut stored, shown_once[1].expose(), now), Err(Rejection::Invalid));
/// # Ok::<(), pbxsec_password::second_factor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RecoveryCodes {
    config: RecoveryCodeConfig,
    hasher: PasswordHasher,
}

impl RecoveryCodes {
    /// Validates `config`; codes are hashed with argon2id at the OWASP
    /// parameters (m = 19456 KiB, t = 2, p = 1).
    pub fn new(config: RecoveryCodeConfig) -> Result<Self> {
        Self::with_hasher(config, PasswordHasher::owasp())
    }

    /// Like [`new`](Self::new) with another argon2id configuration.
    pub fn with_hasher(config: RecoveryCodeConfig, hasher: PasswordHasher) -> Result<Self> {
        let bad = |field, problem: &str| Error::Config {
            field,
            problem: problem.to_owned(),
        };
        if !(1..=50).contains(&config.count) {
            return Err(bad("count", "must be from 1 to 50"));
        }
        if !(1..=6).contains(&config.groups) {
            return Err(bad("groups", "must be from 1 to 6"));
        }
        if !(2..=8).contains(&config.group_len) {
            return Err(bad("group_len", "must be from 2 to 8"));
        }
        if u16::from(config.groups) * u16::from(config.group_len) < 8 {
            return Err(bad(
                "group_len",
                "groups × group_len must be at least 8 symbols",
            ));
        }
        Ok(Self { config, hasher })
    }

    /// The settings.
    pub const fn config(&self) -> &RecoveryCodeConfig {
        &self.config
    }

    fn symbols(&self) -> usize {
        usize::from(self.config.groups) * usize::from(self.config.group_len)
    }

    /// Generates a new set: the codes to show the user once (formatted,
    /// like `ab3d-9kq2`) and the hashes to store, replacing any old set.
    pub fn generate(&self) -> Result<(Vec<Secret>, RecoveryCodeSet)> {
        let mut shown = Vec::with_capacity(usize::from(self.config.count));
        let mut set = RecoveryCodeSet::default();
        for _ in 0..self.config.count {
            let mut bare = Zeroizing::new(String::with_capacity(self.symbols()));
            let mut formatted = Zeroizing::new(String::with_capacity(
                self.symbols() + usize::from(self.config.groups),
            ));
            for i in 0..self.symbols() {
                let c = char::from(
                    ALPHABET
                        .get(rng::index_below(ALPHABET.len())?)
                        .copied()
                        .unwrap_or(b'2'),
                );
                if i > 0 && i % usize::from(self.config.group_len) == 0 {
                    formatted.push('-');
                }
                formatted.push(c);
                bare.push(c);
            }
            let hash = self
                .hasher
                .hash(&Secret::new(bare.as_str()))
                .map_err(|e| Error::Hash(e.to_string()))?;
            set.codes.push(StoredCode {
                hash,
                used_at: None,
            });
            shown.push(Secret::new(formatted.as_str()));
        }
        Ok((shown, set))
    }

    /// Checks `code` against the unused codes of `set`; the first match is
    /// marked used at `at` and the number still unused is returned.
    ///
    /// Case, spaces and `-` are ignored. A code of the wrong length or with a
    /// symbol outside [`ALPHABET`] is [`Rejection::Malformed`] (no hashing
    /// done); an empty set is [`Rejection::NoneLeft`]; a used or unknown code
    /// is [`Rejection::Invalid`]. A stored hash that cannot be read counts as
    /// no match.
    pub fn verify_and_consume(
        &self,
        set: &mut RecoveryCodeSet,
        code: &str,
        at: UnixTime,
    ) -> Result<usize, Rejection> {
        let bare = self.normalize(code)?;
        if set.remaining() == 0 {
            return Err(Rejection::NoneLeft);
        }
        let typed = Secret::new(bare.as_str());
        let hit = set
            .codes
            .iter_mut()
            .filter(|c| c.used_at.is_none())
            .find(|c| self.hasher.verify(&typed, &c.hash).unwrap_or(false));
        match hit {
            Some(stored) => {
                stored.used_at = Some(at);
                Ok(set.remaining())
            }
            None => Err(Rejection::Invalid),
        }
    }

    fn normalize(&self, code: &str) -> Result<Zeroizing<String>, Rejection> {
        let want = self.symbols();
        let mut bare = Zeroizing::new(String::with_capacity(want));
        for c in code.chars().filter(|c| *c != '-' && *c != ' ') {
            let c = c.to_ascii_lowercase();
            let known = u8::try_from(c).is_ok_and(|b| ALPHABET.contains(&b));
            if !known || bare.len() >= want {
                return Err(Rejection::Malformed);
            }
            bare.push(c);
        }
        if bare.len() == want {
            Ok(bare)
        } else {
            Err(Rejection::Malformed)
        }
    }
}
