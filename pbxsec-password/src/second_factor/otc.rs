//! One-time codes sent by message (e-mail, SMS, a chat bot): a short
//! numeric code with an expiry, a resend cool-down and a limit on wrong
//! attempts, consumed when it verifies.
//!
//! This mirrors Yeastar's e-mailed verification code (6 digits, with a timer
//! before "resend" is offered). Sending the message is the application's
//! job: [`OneTimeCodes::issue`] returns the code to send.
//!
//! **Prefer TOTP.** NIST SP 800-63B (section 5.1.3.1) does not accept e-mail
//! as an out-of-band authenticator, and restricts SMS; a code by e-mail
//! proves access to the mailbox, which is often protected by the same
//! password. Offer this only where a product must behave like Yeastar, and
//! recommend [`super::totp`] to users.
//!
//! The outstanding code is a [`PendingCode`] the application keeps
//! server-side with the user (it serialises with serde, *including the code*,
//! so keep it out of anything the client can read). `None` means no code is
//! outstanding.

use std::fmt;
use std::time::Duration;

use pbxsec_core::{Secret, UnixTime};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Error, Rejection, Result, rng};

/// One-time-code settings as written in a config file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneTimeCodeConfig {
    /// Digits per code, 4 to 10. Default 6.
    pub digits: u8,
    /// How long a code stays valid after it is issued, 30 s to 1 h.
    /// Default 10 minutes.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub ttl: Duration,
    /// How long after sending a code a new one may be sent, up to the `ttl`.
    /// Default 60 s.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub resend_cooldown: Duration,
    /// Wrong attempts allowed per code, 1 to 20; after that the code is dead
    /// and a new one must be sent. Default 5.
    pub max_attempts: u8,
}

impl OneTimeCodeConfig {
    /// Yeastar P-Series style e-mail verification: a 6-digit code, a resend
    /// timer (60 s here) before another may be sent. Yeastar does not
    /// publish the code's lifetime or attempt limit; ours are 10 minutes and
    /// 5 attempts, which keep the chance of guessing a 6-digit code below
    /// 1 in 200 000 per code. It is the [`Default`].
    pub const fn yeastar_email() -> Self {
        Self {
            digits: 6,
            ttl: Duration::from_secs(600),
            resend_cooldown: Duration::from_secs(60),
            max_attempts: 5,
        }
    }
}

impl Default for OneTimeCodeConfig {
    fn default() -> Self {
        Self::yeastar_email()
    }
}

/// A code that was issued: send [`code`](Self::code) to the user.
#[derive(Clone, Debug)]
pub struct IssuedCode {
    /// The code to send (redacted in `Debug`).
    pub code: Secret,
    /// When it stops being accepted.
    pub expires_at: UnixTime,
    /// When a new code may be sent ("resend" button timer).
    pub resend_after: UnixTime,
}

/// The outstanding code of one user, kept server-side between sending and
/// verifying. The code is wiped on drop and redacted in `Debug`, but it is
/// serialised (the application must be able to store it).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct PendingCode {
    code: String,
    #[zeroize(skip)]
    issued_at: UnixTime,
    #[zeroize(skip)]
    expires_at: UnixTime,
    attempts: u8,
}

impl PendingCode {
    /// When the code was sent.
    pub const fn issued_at(&self) -> UnixTime {
        self.issued_at
    }
    /// When it stops being accepted.
    pub const fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
    /// Wrong attempts so far.
    pub const fn attempts(&self) -> u8 {
        self.attempts
    }
}

impl fmt::Debug for PendingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCode")
            .field("code", &"***")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Issues and verifies one-time codes with validated settings.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::UnixTime;
/// use pbxsec_password::second_factor::{OneTimeCodeConfig, OneTimeCodes, Rejection};
///
/// let codes = OneTimeCodes::new(OneTimeCodeConfig::yeastar_email())?;
/// let mut pending = None; // stored with the user's session
/// let now = UnixTime::from_secs(1_800_000_000);
/// let issued = codes.issue(&mut pending, now)?;
/// // ... e-mail issued.code.expose() to the user ...
/// assert!(codes.issue(&mut pending, now).is_err()); // resend timer running
/// assert_eq!(codes.verify(&mut pending, issued.code.expose(), now), Ok(()));
/// // Consumed: the same code does not work twice.
/// assert_eq!(codes.verify(&mut pending, issued.code.expose(), now), Err(Rejection::NotIssued));
/// # Ok::<(), pbxsec_password::second_factor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OneTimeCodes {
    config: OneTimeCodeConfig,
    modulus: u64,
}

impl OneTimeCodes {
    /// Validates `config`.
    pub fn new(config: OneTimeCodeConfig) -> Result<Self> {
        let bad = |field, problem: &str| Error::Config {
            field,
            problem: problem.to_owned(),
        };
        if !(4..=10).contains(&config.digits) {
            return Err(bad("digits", "must be from 4 to 10"));
        }
        if config.ttl < Duration::from_secs(30) || config.ttl > Duration::from_secs(3600) {
            return Err(bad("ttl", "must be from 30 s to 1 h"));
        }
        if config.resend_cooldown > config.ttl {
            return Err(bad("resend_cooldown", "must not be longer than the ttl"));
        }
        if !(1..=20).contains(&config.max_attempts) {
            return Err(bad("max_attempts", "must be from 1 to 20"));
        }
        let modulus = 10u64.pow(u32::from(config.digits));
        Ok(Self { config, modulus })
    }

    /// The settings.
    pub const fn config(&self) -> &OneTimeCodeConfig {
        &self.config
    }

    /// Issues a new code into `pending` (replacing any outstanding one, whose
    /// wrong attempts are forgotten with it) unless the resend cool-down of
    /// the outstanding code is still running, which is
    /// [`Error::ResendTooSoon`].
    pub fn issue(&self, pending: &mut Option<PendingCode>, at: UnixTime) -> Result<IssuedCode> {
        if let Some(p) = pending.as_ref() {
            let resend_after = p.issued_at.saturating_add(self.config.resend_cooldown);
            if at < resend_after && at >= p.issued_at {
                return Err(Error::ResendTooSoon {
                    retry_after: resend_after.saturating_duration_since(at),
                });
            }
        }
        let code = self.random_code()?;
        let issued = IssuedCode {
            code: Secret::new(code.as_str()),
            expires_at: at.saturating_add(self.config.ttl),
            resend_after: at.saturating_add(self.config.resend_cooldown),
        };
        *pending = Some(PendingCode {
            code,
            issued_at: at,
            expires_at: issued.expires_at,
            attempts: 0,
        });
        Ok(issued)
    }

    fn random_code(&self) -> Result<String> {
        // Rejection sampling: no value below `limit` is favoured.
        let limit = u64::MAX - (u64::MAX % self.modulus);
        loop {
            let bytes = rng::bytes(8)?;
            let mut arr = [0u8; 8];
            arr.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
            let v = u64::from_be_bytes(arr);
            arr.zeroize();
            if v < limit {
                return Ok(format!(
                    "{:0width$}",
                    v % self.modulus,
                    width = usize::from(self.config.digits)
                ));
            }
        }
    }

    /// Verifies `code` against the outstanding code. Right: the code is
    /// consumed (`pending` becomes `None`). Wrong: one attempt is used up;
    /// once `max_attempts` are, every further try is
    /// [`Rejection::AttemptsExhausted`] until a new code is issued. An expired
    /// code is removed and reported as [`Rejection::Expired`].
    /// Surrounding spaces and spaces between digits are ignored.
    pub fn verify(
        &self,
        pending: &mut Option<PendingCode>,
        code: &str,
        at: UnixTime,
    ) -> Result<(), Rejection> {
        let Some(p) = pending.as_mut() else {
            return Err(Rejection::NotIssued);
        };
        if at >= p.expires_at {
            *pending = None;
            return Err(Rejection::Expired);
        }
        if p.attempts >= self.config.max_attempts {
            return Err(Rejection::AttemptsExhausted);
        }
        let mut buf = [0u8; 10];
        let mut n = 0usize;
        let mut malformed = false;
        for b in code.bytes().filter(|b| *b != b' ') {
            match buf.get_mut(n) {
                Some(slot) if b.is_ascii_digit() => *slot = b,
                _ => {
                    malformed = true;
                    break;
                }
            }
            n += 1;
        }
        let typed = buf.get(..n).unwrap_or_default();
        let ok = !malformed && bool::from(typed.ct_eq(p.code.as_bytes()));
        buf.zeroize();
        if ok {
            *pending = None;
            return Ok(());
        }
        p.attempts = p.attempts.saturating_add(1);
        if malformed || n != usize::from(self.config.digits) {
            Err(Rejection::Malformed)
        } else {
            Err(Rejection::Invalid)
        }
    }
}
