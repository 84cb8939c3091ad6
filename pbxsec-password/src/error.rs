//! The crate's error type.

/// Everything that can go wrong in `pbxsec-password`.
///
/// No variant ever carries a password or any other secret: at most the name
/// of the field or parameter that was wrong and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argon2 parameter in a [`crate::HashConfig`] is out of range.
    #[error("invalid argon2 parameter `{field}`: {reason}")]
    HashParams {
        /// The configuration field (`memory_kib`, `iterations`, `parallelism`, `output_len`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored hash is not a PHC string this crate can verify.
    #[error("invalid stored password hash: {reason}")]
    InvalidHash {
        /// What is wrong with it (never the hash's salt or output).
        reason: String,
    },
    /// Computing an argon2 hash failed (for example the password is longer
    /// than argon2 accepts, 4 GiB).
    #[error("argon2 hashing failed: {reason}")]
    Hashing {
        /// The reason the argon2 implementation gave.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {reason}")]
    Random {
        /// The reason the OS gave.
        reason: String,
    },
    /// A password policy configuration is invalid.
    #[error("invalid password policy: `{field}`: {reason}")]
    PolicyConfig {
        /// The configuration field that is wrong.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The generator cannot produce a password its policy accepts.
    #[error("cannot generate a password: {reason}")]
    Unsatisfiable {
        /// Why no password can satisfy the policy with these settings.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn os_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Random {
        reason: e.to_string(),
    })
}
