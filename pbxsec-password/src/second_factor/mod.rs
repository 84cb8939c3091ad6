//! Second factors: TOTP with replay protection, recovery codes, trusted-device
//! tokens and one-time codes by message (feature `totp`, on by default).
//!
//! Everything here is sans-I/O: no clock is read and nothing is sent or
//! stored. Each check takes the wall time ([`UnixTime`], from
//! [`pbxsec_core::Clock::wall`]) and the per-user state the application keeps
//! with the user record, and returns a decision: `Ok(..)` or a [`Rejection`].
//!
//! | factor | module | state the application stores per user |
//! |---|---|---|
//! | TOTP (RFC 6238) | [`totp`] | the base32 secret and a [`TotpState`] (last accepted step) |
//! | recovery codes | [`recovery`] | a [`RecoveryCodeSet`] (argon2id hashes only) |
//! | trusted devices | [`device`] | a generation number (`u64`); the token lives in a cookie |
//! | one-time codes by message | [`otc`] | a [`PendingCode`] while a code is outstanding |
//!
//! Every [`Rejection`] is a failed attempt the caller should count (see
//! [`Rejection::security_event`] and the README's attempt-limiting section).

pub mod device;
pub mod otc;
pub mod recovery;
pub mod totp;

#[cfg(feature = "qr")]
mod qr;
mod rng;

use std::time::Duration;

use pbxsec_core::{EventKind, SecurityEvent, Service, UnixTime};

pub use device::{DeviceKey, DeviceTokenConfig, DeviceTokens, TrustedDevice};
pub use otc::{IssuedCode, OneTimeCodeConfig, OneTimeCodes, PendingCode};
pub use recovery::{RecoveryCodeConfig, RecoveryCodeSet, RecoveryCodes, StoredCode};
pub use totp::{
    SharedTotpState, Totp, TotpAccepted, TotpAlgorithm, TotpConfig, TotpEnrollment, TotpParams,
    TotpSecret, TotpState,
};

/// Something that went wrong while setting a second factor up: a config value
/// out of range, a secret that does not decode, the OS random generator
/// failing, a QR code that cannot be drawn.
///
/// A wrong code is not an error but a [`Rejection`]. Errors never carry a
/// secret or a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field is out of range.
    #[error("invalid second-factor config: field `{field}`: {problem}")]
    Config {
        /// The field's name as written in the config file.
        field: &'static str,
        /// What is wrong with it and what is allowed.
        problem: String,
    },
    /// A base32 TOTP secret could not be decoded (the secret is not repeated).
    #[error("the TOTP secret is not valid base32 (RFC 4648, A–Z and 2–7)")]
    SecretEncoding,
    /// A secret is shorter than the 128 bits RFC 4226 requires.
    #[error("the secret has {bits} bits; at least 128 are required")]
    SecretTooShort {
        /// The secret's length in bits.
        bits: usize,
    },
    /// An account or issuer name cannot go into an `otpauth://` label.
    #[error("invalid {field} {value:?} for the otpauth:// label: {problem}")]
    Label {
        /// `"account"` or `"issuer"`.
        field: &'static str,
        /// The offending value (at most 64 characters of it).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A trusted-device token cannot be issued for this user or device id.
    #[error("cannot issue a device token: {field} is {len} bytes, at most {max} are allowed")]
    TokenField {
        /// `"user"` or `"device id"`.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// A new one-time code cannot be sent yet: the resend cool-down is
    /// running. Tell the user to wait `retry_after`.
    #[error("a new code can be sent in {} s", retry_after.as_secs())]
    ResendTooSoon {
        /// How long until a new code may be sent.
        retry_after: Duration,
    },
    /// Hashing a recovery code with argon2 failed.
    #[error("hashing a recovery code failed: {0}")]
    Hash(String),
    /// The enrollment URI is too long for a QR code.
    #[cfg(feature = "qr")]
    #[error("the otpauth:// URI ({len} bytes) does not fit in a QR code")]
    QrTooLong {
        /// The URI's length in bytes.
        len: usize,
    },
    /// Writing the QR code as PNG failed.
    #[cfg(feature = "qr")]
    #[error("encoding the QR code as PNG failed: {0}")]
    Png(String),
}

/// `Result` with the second factor's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a second-factor check said no. Every variant is a failed attempt that
/// the caller should count (per user and per source address) so that
/// guessing is bounded; see the crate README for the recommended wiring to
/// `pbxsec-ratelimit`.
///
/// A rejection never carries the code or secret that was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The code or token is not in the expected form (wrong length, a
    /// character outside the alphabet, a token that does not decode).
    #[error("the code is malformed")]
    Malformed,
    /// The code is wrong (or the token's signature does not verify).
    #[error("the code is wrong")]
    Invalid,
    /// The TOTP code was right but its time step was already used: the same
    /// code was accepted before, or a code of a later step was.
    #[error("the code was already used")]
    Replayed,
    /// The code or token has expired.
    #[error("the code has expired")]
    Expired,
    /// The trusted-device token was revoked (the user's generation moved on).
    #[error("the device token was revoked")]
    Revoked,
    /// The trusted-device token was issued to another user.
    #[error("the device token belongs to another user")]
    WrongUser,
    /// No one-time code is outstanding (never sent, or already used).
    #[error("no code was issued")]
    NotIssued,
    /// The one-time code's attempts are used up; a new code must be sent.
    #[error("too many wrong attempts for this code")]
    AttemptsExhausted,
    /// Every recovery code has been used.
    #[error("no recovery code is left")]
    NoneLeft,
}

impl Rejection {
    /// A stable, machine-readable code for logs and APIs
    /// (`"malformed"`, `"invalid"`, `"replayed"`, ...).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
            Self::Replayed => "replayed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::WrongUser => "wrong_user",
            Self::NotIssued => "not_issued",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::NoneLeft => "none_left",
        }
    }

    /// The [`SecurityEvent`] to log for this failure: kind
    /// [`EventKind::SecondFactorFailed`], the user, and the rejection's
    /// [`code`](Self::code) as detail. Add the source address with
    /// [`SecurityEvent::with_source`].
    pub fn security_event(self, at: UnixTime, service: Service, user: &str) -> SecurityEvent {
        SecurityEvent::new(at, EventKind::SecondFactorFailed, service)
            .with_user(user)
            .with_detail(self.code())
    }
}

pub(crate) use pbxsec_core::excerpt;
