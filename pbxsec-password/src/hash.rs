//! argon2id password hashing: PHC strings, verification, `needs_rehash`,
//! and verification for unknown users that costs the same as for real ones.
//!
//! This is a thin layer over RustCrypto's [`argon2`] crate (we do not
//! implement argon2 ourselves). It adds what that crate leaves to the caller:
//! OWASP defaults as named constants, salts from the OS CSPRNG, a
//! field-by-field [`PasswordHasher::needs_rehash`], bounds on the cost of a
//! stored hash before it is verified, and a dummy hash for unknown users.
//!
//! ```
//! use pbxsec_core::Secret;
//! use pbxsec_password::hash::{PasswordHasher, OWASP_MEMORY_KIB};
//!
//! let hasher = PasswordHasher::owasp();
//! let phc = hasher.hash(&Secret::new("correct horse battery staple"))?;
//! assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//! assert!(hasher.verify(&Secret::new("correct horse battery staple"), &phc)?);
//! assert!(!hasher.verify(&Secret::new("wrong"), &phc)?);
//! assert!(!hasher.needs_rehash(&phc)?);
//! # assert_eq!(OWASP_MEMORY_KIB, 19456);
//! # Ok::<(), pbxsec_password::Error>(())
//! ```

use crate::error::{Error, Result, os_random};
use argon2::password_hash::{self, Output, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use pbxsec_core::Secret;
use serde::{Deserialize, Serialize};

/// OWASP Password Storage Cheat Sheet, argon2id: memory cost in KiB (19 MiB).
pub const OWASP_MEMORY_KIB: u32 = 19_456;
/// OWASP Password Storage Cheat Sheet, argon2id: iterations (time cost).
pub const OWASP_ITERATIONS: u32 = 2;
/// OWASP Password Storage Cheat Sheet, argon2id: degree of parallelism.
pub const OWASP_PARALLELISM: u32 = 1;
/// Length of the hash output in bytes (argon2's default, 256 bits).
pub const DEFAULT_OUTPUT_LEN: usize = 32;
/// Length of the random salt in bytes (128 bits, RFC 9106's recommendation).
pub const SALT_LEN: usize = 16;

/// The largest memory cost (KiB) a stored hash may ask for before we refuse
/// to verify it: 1 GiB. A stored hash is data, and a tampered one must not
/// make a login allocate without bound.
pub const MAX_MEMORY_KIB: u32 = 1 << 20;
/// The largest time cost a stored hash may ask for before we refuse to verify it.
pub const MAX_ITERATIONS: u32 = 64;
/// The largest parallelism a stored hash may ask for before we refuse to verify it.
pub const MAX_PARALLELISM: u32 = 64;
/// The longest output a stored hash may carry (argon2's PHC encoding stops at 64).
pub const MAX_OUTPUT_LEN: usize = 64;

/// argon2id parameters as configuration data.
///
/// Every field defaults to the OWASP value, so `{}` is the OWASP
/// configuration. Turn it into a [`PasswordHasher`] with
/// [`PasswordHasher::new`] or `PasswordHasher::try_from`.
///
/// ```
/// use pbxsec_password::{HashConfig, PasswordHasher};
///
/// let config: HashConfig = serde_json::from_str(r#"{ "memory_kib": 65536 }"#)?;
/// let hasher = PasswordHasher::try_from(config)?;
/// assert_eq!(hasher.config().iterations, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashConfig {
    /// Memory cost in KiB (`m`). Default [`OWASP_MEMORY_KIB`] (19456); at
    /// least 8 × `parallelism`, at most [`MAX_MEMORY_KIB`].
    pub memory_kib: u32,
    /// Number of passes (`t`). Default [`OWASP_ITERATIONS`] (2); 1 to [`MAX_ITERATIONS`].
    pub iterations: u32,
    /// Degree of parallelism (`p`). Default [`OWASP_PARALLELISM`] (1); 1 to [`MAX_PARALLELISM`].
    pub parallelism: u32,
    /// Output length in bytes. Default [`DEFAULT_OUTPUT_LEN`] (32); 16 to [`MAX_OUTPUT_LEN`].
    pub output_len: usize,
}

impl HashConfig {
    /// The OWASP Password Storage Cheat Sheet's argon2id configuration:
    /// m = 19456 KiB, t = 2, p = 1 (and a 32-byte output).
    pub const OWASP: Self = Self {
        memory_kib: OWASP_MEMORY_KIB,
        iterations: OWASP_ITERATIONS,
        parallelism: OWASP_PARALLELISM,
        output_len: DEFAULT_OUTPUT_LEN,
    };
}

impl Default for HashConfig {
    fn default() -> Self {
        Self::OWASP
    }
}

fn bad_param(field: &'static str, reason: impl Into<String>) -> Error {
    Error::HashParams {
        field,
        reason: reason.into(),
    }
}

fn invalid_hash(reason: impl Into<String>) -> Error {
    Error::InvalidHash {
        reason: reason.into(),
    }
}

/// Hashes and verifies passwords with argon2id (version 0x13).
///
/// How to drive it:
/// - at registration or password change: [`hash`](Self::hash) and store the
///   PHC string it returns (it carries the algorithm, version, parameters
///   and salt, so it stays verifiable after the configuration changes);
/// - at login, when the user exists: [`verify`](Self::verify) against the
///   stored string; on success call [`needs_rehash`](Self::needs_rehash) and,
///   if it says so, store a fresh [`hash`](Self::hash) of the password just
///   verified;
/// - at login, when the user does **not** exist:
///   [`verify_unknown_user`](Self::verify_unknown_user), which does the same
///   argon2 work against a dummy hash and returns `false`, so response time
///   does not tell an attacker which user names exist.
///
/// A wrong password is `Ok(false)`; `Err` means the stored hash itself is
/// unusable (not a PHC string, not argon2, or beyond [`MAX_MEMORY_KIB`] and
/// friends), which is an operator problem, not a failed login.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    config: HashConfig,
    params: Params,
    /// A PHC string with our parameters whose output no password produces
    /// (all zero bytes): verifying against it costs one argon2 computation.
    dummy: String,
}

impl PasswordHasher {
    /// A hasher with the OWASP parameters ([`HashConfig::OWASP`]).
    pub fn owasp() -> Self {
        // The OWASP configuration is within every bound `new` checks; fall
        // back to argon2's own defaults (the same numbers) rather than panic.
        Self::new(HashConfig::OWASP).unwrap_or_else(|_| Self {
            config: HashConfig::OWASP,
            params: Params::DEFAULT,
            dummy: String::new(),
        })
    }

    /// A hasher with the given parameters, checked against argon2's limits
    /// and ours ([`MAX_MEMORY_KIB`], [`MAX_ITERATIONS`], [`MAX_PARALLELISM`],
    /// output 16 to [`MAX_OUTPUT_LEN`] bytes).
    pub fn new(config: HashConfig) -> Result<Self> {
        if config.parallelism == 0 || config.parallelism > MAX_PARALLELISM {
            return Err(bad_param(
                "parallelism",
                format!("must be 1 to {MAX_PARALLELISM}"),
            ));
        }
        if config.iterations == 0 || config.iterations > MAX_ITERATIONS {
            return Err(bad_param(
                "iterations",
                format!("must be 1 to {MAX_ITERATIONS}"),
            ));
        }
        let min_mem = config.parallelism.saturating_mul(8);
        if config.memory_kib < min_mem || config.memory_kib > MAX_MEMORY_KIB {
            return Err(bad_param(
                "memory_kib",
                format!("must be {min_mem} (8 × parallelism) to {MAX_MEMORY_KIB}"),
            ));
        }
        if !(16..=MAX_OUTPUT_LEN).contains(&config.output_len) {
            return Err(bad_param(
                "output_len",
                format!("must be 16 to {MAX_OUTPUT_LEN} bytes"),
            ));
        }
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            Some(config.output_len),
        )
        .map_err(|e| bad_param("memory_kib", e.to_string()))?;
        let salt = SaltString::encode_b64(b"pbxsec:no-user!!")
            .map_err(|e| bad_param("output_len", e.to_string()))?;
        let zeros = [0u8; MAX_OUTPUT_LEN];
        let output = Output::new(zeros.get(..config.output_len).unwrap_or(&zeros))
            .map_err(|e| bad_param("output_len", e.to_string()))?;
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            config.memory_kib,
            config.iterations,
            config.parallelism,
            salt.as_str(),
            output
        );
        Ok(Self {
            config,
            params,
            dummy,
        })
    }

    /// The parameters this hasher uses for new hashes.
    pub fn config(&self) -> HashConfig {
        self.config
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` with a fresh 16-byte salt from the OS CSPRNG and
    /// returns the PHC string, e.g.
    /// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    pub fn hash(&self, password: &Secret) -> Result<String> {
        let mut salt = [0u8; SALT_LEN];
        os_random(&mut salt)?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hashing {
            reason: e.to_string(),
        })?;
        let hash = argon2::PasswordHasher::hash_password(
            &self.argon2(),
            password.expose().as_bytes(),
            &salt,
        )
        .map_err(|e| Error::Hashing {
            reason: e.to_string(),
        })?;
        Ok(hash.to_string())
    }

    /// Checks `password` against a stored PHC string (argon2id, argon2i or
    /// argon2d, any version and parameters within our bounds). The comparison
    /// of the outputs is constant-time.
    ///
    /// `Ok(false)` for a wrong password; `Err` only when `phc` is unusable.
    pub fn verify(&self, password: &Secret, phc: &str) -> Result<bool> {
        let hash = parse(phc)?;
        match Argon2::default().verify_password(password.expose().as_bytes(), &hash) {
            Ok(()) => Ok(true),
            Err(password_hash::Error::Password) => Ok(false),
            Err(e) => Err(invalid_hash(e.to_string())),
        }
    }

    /// Does the same work as [`verify`](Self::verify) against a user whose
    /// hash has this hasher's parameters, and returns `false`.
    ///
    /// Call it when the user name is unknown, so a wrong login costs the same
    /// time whether or not the account exists. (A real account whose stored
    /// hash has older, cheaper parameters verifies faster until it is
    /// rehashed; [`needs_rehash`](Self::needs_rehash) closes that gap at the
    /// next successful login.)
    pub fn verify_unknown_user(&self, password: &Secret) -> bool {
        // The dummy's output is all zeros: no password hashes to it (a
        // 2^-256 event), and the result is discarded anyway.
        let _ = self.verify(password, &self.dummy);
        false
    }

    /// `true` when `phc` was not made with this hasher's configuration: a
    /// different algorithm (anything but `argon2id`), version (anything but
    /// `v=19`, including none), memory, iterations, parallelism or output
    /// length. Each field is read from the PHC string and compared on its own.
    ///
    /// `Err` when `phc` is not a PHC string.
    pub fn needs_rehash(&self, phc: &str) -> Result<bool> {
        let hash =
            password_hash::PasswordHash::new(phc).map_err(|e| invalid_hash(e.to_string()))?;
        if hash.algorithm != argon2::ARGON2ID_IDENT {
            return Ok(true);
        }
        if hash.version != Some(Version::V0x13.into()) {
            return Ok(true);
        }
        let same = hash.params.get_decimal("m") == Some(self.config.memory_kib)
            && hash.params.get_decimal("t") == Some(self.config.iterations)
            && hash.params.get_decimal("p") == Some(self.config.parallelism)
            && hash.hash.map(|o| o.len()) == Some(self.config.output_len)
            && hash.params.iter().count() == 3;
        Ok(!same)
    }
}

impl Default for PasswordHasher {
    /// [`PasswordHasher::owasp`].
    fn default() -> Self {
        Self::owasp()
    }
}

impl TryFrom<HashConfig> for PasswordHasher {
    type Error = Error;

    fn try_from(config: HashConfig) -> Result<Self> {
        Self::new(config)
    }
}

/// Parses a stored PHC string and checks it is argon2 within our cost bounds.
fn parse(phc: &str) -> Result<password_hash::PasswordHash<'_>> {
    let hash = password_hash::PasswordHash::new(phc).map_err(|e| invalid_hash(e.to_string()))?;
    Algorithm::try_from(hash.algorithm)
        .map_err(|_| invalid_hash("not an argon2 hash (argon2id, argon2i or argon2d)"))?;
    let params = Params::try_from(&hash).map_err(|e| invalid_hash(e.to_string()))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(invalid_hash(format!(
            "memory cost above {MAX_MEMORY_KIB} KiB"
        )));
    }
    if params.t_cost() > MAX_ITERATIONS {
        return Err(invalid_hash(format!("time cost above {MAX_ITERATIONS}")));
    }
    if params.p_cost() > MAX_PARALLELISM {
        return Err(invalid_hash(format!("parallelism above {MAX_PARALLELISM}")));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(invalid_hash("no salt or no hash output"));
    }
    Ok(hash)
}

/// Hashes `password` with [`PasswordHasher::owasp`] and returns the PHC string.
pub fn hash_password(password: &Secret) -> Result<String> {
    PasswordHasher::owasp().hash(password)
}

/// Verifies `password` against a stored PHC string ([`PasswordHasher::verify`]).
pub fn verify_password(password: &Secret, phc: &str) -> Result<bool> {
    PasswordHasher::owasp().verify(password, phc)
}

/// `true` when `phc` was not made with the OWASP parameters
/// ([`PasswordHasher::needs_rehash`] of [`PasswordHasher::owasp`]).
pub fn needs_rehash(phc: &str) -> Result<bool> {
    PasswordHasher::owasp().needs_rehash(phc)
}

/// Costs what [`verify_password`] costs for an OWASP hash, and returns
/// `false` ([`PasswordHasher::verify_unknown_user`]).
pub fn verify_unknown_user(password: &Secret) -> bool {
    PasswordHasher::owasp().verify_unknown_user(password)
}
