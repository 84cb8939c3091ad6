//! TOTP (RFC 6238): enrollment, verification with a ±N step window, and
//! replay protection.
//!
//! The one-time password itself is computed by [`totp_rs`]; what this module
//! adds is what `totp-rs` leaves to the caller: validated configuration,
//! secret generation from the OS CSPRNG, an `otpauth://` URI that spells out
//! every parameter, a confirmation step for enrollment, a constant-time
//! comparison over the whole window, and the per-user **replay state**.
//!
//! # Replay protection
//!
//! A code is bound to a time step (`unix_seconds / period`). [`TotpState`]
//! remembers the last step accepted for a user; a code is accepted only if
//! its step is *later* than that one. So a code accepted once is refused for
//! the rest of its validity (same step), and so is every code of an earlier
//! step once a later one was accepted (RFC 6238 section 5.2: "the verifier
//! MUST NOT accept the second attempt of the OTP after the successful
//! validation has been issued for the first OTP").
//!
//! The check and the advance are one atomic step:
//!
//! * [`Totp::verify`] takes `&mut TotpState`: exclusive access is the atomicity.
//! * [`Totp::verify_shared`] takes a [`SharedTotpState`] (an `AtomicU64`
//!   updated with compare-and-swap) for state shared between threads: of two
//!   concurrent logins with the same code, exactly one passes.
//! * [`Totp::verify_with`] hands the matched step to a closure, for state
//!   kept in a database: do a conditional update there
//!   (`UPDATE … SET totp_last_step = ?1 WHERE id = ?2 AND (totp_last_step IS
//!   NULL OR totp_last_step < ?1)`) and return whether a row changed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pbxsec_core::{Secret, UnixTime};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::{Error, Rejection, Result, excerpt, rng};

/// The HMAC hash function of a TOTP.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1: the RFC 6238 default and the only one every authenticator
    /// app honours (Google Authenticator ignores the `algorithm` parameter).
    #[default]
    #[serde(rename = "SHA1")]
    Sha1,
    /// HMAC-SHA-256.
    #[serde(rename = "SHA256")]
    Sha256,
    /// HMAC-SHA-512.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in `otpauth://` URIs: `SHA1`, `SHA256` or `SHA512`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    const fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for TotpAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TOTP settings as written in a config file. Validate them into
/// [`TotpParams`] with `TotpParams::try_from(config)`.
///
/// ```
/// use pbxsec_password::second_factor::{TotpConfig, TotpParams};
///
/// let config: TotpConfig = serde_json::from_str(
///     r#"{ "issuer": "Acme PBX", "digits": 6, "period": "30s", "window": 1 }"#,
/// ).unwrap();
/// let params = TotpParams::try_from(config).unwrap();
/// assert_eq!(params.window(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotpConfig {
    /// The service name authenticator apps show (`issuer=` in the URI).
    /// Default `"pbxsec"`. Must not contain `:`; at most 64 characters.
    pub issuer: String,
    /// HMAC hash. Default [`TotpAlgorithm::Sha1`].
    pub algorithm: TotpAlgorithm,
    /// Digits per code: 6 or 8. Default 6.
    pub digits: u8,
    /// Length of a time step, whole seconds from 1 s to 10 min. Default 30 s.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub period: Duration,
    /// Steps accepted either side of the current one (clock skew and typing
    /// time), 0 to 10. Default 1, as RFC 6238 section 5.2 recommends.
    pub window: u8,
    /// Bits of a newly generated secret: a multiple of 8 from 128 to 512.
    /// Default 160, as RFC 4226 section 4 recommends.
    pub secret_bits: u16,
}

impl Default for TotpConfig {
    fn default() -> Self {
        Self::authenticator_app()
    }
}

impl TotpConfig {
    /// Default issuer name.
    pub const DEFAULT_ISSUER: &'static str = "pbxsec";
    /// Default digits per code.
    pub const DEFAULT_DIGITS: u8 = 6;
    /// Default time step.
    pub const DEFAULT_PERIOD: Duration = Duration::from_secs(30);
    /// Default window (steps either side).
    pub const DEFAULT_WINDOW: u8 = 1;
    /// Default secret length in bits.
    pub const DEFAULT_SECRET_BITS: u16 = 160;
    /// Largest window accepted.
    pub const MAX_WINDOW: u8 = 10;

    /// The parameters every authenticator app supports: HMAC-SHA-1, 6 digits,
    /// 30 s steps, ±1 step, 160-bit secret. This is what the PBX web portals
    /// pair with Google Authenticator (Yeastar P-Series two-factor login
    /// asks for Google Authenticator), and RFC 6238's recommended values.
    /// It is the [`Default`].
    pub fn authenticator_app() -> Self {
        Self {
            issuer: Self::DEFAULT_ISSUER.to_owned(),
            algorithm: TotpAlgorithm::Sha1,
            digits: Self::DEFAULT_DIGITS,
            period: Self::DEFAULT_PERIOD,
            window: Self::DEFAULT_WINDOW,
            secret_bits: Self::DEFAULT_SECRET_BITS,
        }
    }

    /// HMAC-SHA-256 with 8-digit codes and a 256-bit secret, for deployments
    /// whose authenticators honour the `algorithm` and `digits` parameters
    /// (FreeOTP, Aegis, 1Password, YubiKey OATH). Google Authenticator does
    /// not: it would show 6-digit SHA-1 codes that never verify.
    pub fn sha256_8_digits() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha256,
            digits: 8,
            secret_bits: 256,
            ..Self::authenticator_app()
        }
    }

    /// Sets the issuer (builder style).
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }
}

/// Validated TOTP parameters (see [`TotpConfig`] for each field's meaning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpParams {
    issuer: String,
    algorithm: TotpAlgorithm,
    digits: u8,
    period_secs: u64,
    window: u8,
    secret_bits: u16,
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            issuer: TotpConfig::DEFAULT_ISSUER.to_owned(),
            algorithm: TotpAlgorithm::Sha1,
            digits: TotpConfig::DEFAULT_DIGITS,
            period_secs: TotpConfig::DEFAULT_PERIOD.as_secs(),
            window: TotpConfig::DEFAULT_WINDOW,
            secret_bits: TotpConfig::DEFAULT_SECRET_BITS,
        }
    }
}

impl TryFrom<TotpConfig> for TotpParams {
    type Error = Error;

    fn try_from(c: TotpConfig) -> Result<Self> {
        check_label("issuer", &c.issuer)?;
        if c.digits != 6 && c.digits != 8 {
            return Err(config("digits", format!("{} is not 6 or 8", c.digits)));
        }
        if c.period.subsec_nanos() != 0 || c.period.as_secs() == 0 || c.period.as_secs() > 600 {
            return Err(config(
                "period",
                format!(
                    "{:?} is not a whole number of seconds from 1 s to 10 min",
                    c.period
                ),
            ));
        }
        if c.window > TotpConfig::MAX_WINDOW {
            return Err(config(
                "window",
                format!("{} is more than {}", c.window, TotpConfig::MAX_WINDOW),
            ));
        }
        if c.secret_bits % 8 != 0 || !(128..=512).contains(&c.secret_bits) {
            return Err(config(
                "secret_bits",
                format!("{} is not a multiple of 8 from 128 to 512", c.secret_bits),
            ));
        }
        Ok(Self {
            issuer: c.issuer,
            algorithm: c.algorithm,
            digits: c.digits,
            period_secs: c.period.as_secs(),
            window: c.window,
            secret_bits: c.secret_bits,
        })
    }
}

impl TotpParams {
    /// The issuer shown by authenticator apps.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The HMAC hash.
    pub const fn algorithm(&self) -> TotpAlgorithm {
        self.algorithm
    }
    /// Digits per code (6 or 8).
    pub const fn digits(&self) -> u8 {
        self.digits
    }
    /// The time step.
    pub const fn period(&self) -> Duration {
        Duration::from_secs(self.period_secs)
    }
    /// Steps accepted either side of the current one.
    pub const fn window(&self) -> u8 {
        self.window
    }
    /// Bits of a newly generated secret.
    pub const fn secret_bits(&self) -> u16 {
        self.secret_bits
    }
}

fn config(field: &'static str, problem: String) -> Error {
    Error::Config { field, problem }
}

fn check_label(field: &'static str, value: &str) -> Result<()> {
    let problem = if value.is_empty() {
        Some("it is empty")
    } else if value.chars().count() > 64 {
        Some("it is longer than 64 characters")
    } else if value.contains(':') {
        Some("it contains ':', which separates issuer and account in the label")
    } else if value.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Label {
            field,
            value: excerpt(value),
            problem,
        }),
        None => Ok(()),
    }
}

/// A TOTP shared secret: raw bytes, wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A new secret of `bits` bits (a multiple of 8, at least 128) from the
    /// operating system's CSPRNG.
    pub fn generate(bits: u16) -> Result<Self> {
        let len = usize::from(bits / 8);
        if len < 16 {
            return Err(Error::SecretTooShort {
                bits: usize::from(bits),
            });
        }
        rng::bytes(len).map(Self)
    }

    /// A secret from raw bytes (at least 16).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < 16 {
            return Err(Error::SecretTooShort {
                bits: bytes.len() * 8,
            });
        }
        Ok(Self(bytes))
    }

    /// A secret from its base32 form (RFC 4648, padding and case ignored, as
    /// stored with the user or typed from an authenticator app's export).
    pub fn from_base32(encoded: &str) -> Result<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            encoded
                .chars()
                .filter(|c| !c.is_ascii_whitespace() && *c != '=' && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let secret = totp_rs::Secret::Encoded(cleaned.as_str().to_owned());
        let bytes = secret.to_bytes().map_err(|_| Error::SecretEncoding);
        // totp_rs::Secret zeroizes itself on drop (feature "zeroize").
        Self::from_bytes(bytes?)
    }

    /// The base32 form (RFC 4648, upper case, no padding) that authenticator
    /// apps accept for manual entry and that the application stores.
    pub fn to_base32(&self) -> Secret {
        Secret::from(base32_encode(&self.0))
    }

    /// The raw bytes, on purpose.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bits.
    pub fn bits(&self) -> usize {
        self.0.len() * 8
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

fn base32_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let idx = usize::from((buffer >> bits) & 31);
            out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        let idx = usize::from((buffer << (5 - bits)) & 31);
        out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
    }
    out
}

/// The replay state of one user's TOTP: the last time step accepted.
///
/// A small serde value to store with the user
/// (`{"last_step": 59}`; `{}` before the first login). Use it with
/// [`Totp::verify`] (exclusive access), or turn it into a
/// [`SharedTotpState`] for state shared between threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotpState {
    /// The last time step (`unix_seconds / period`) whose code was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_step: Option<u64>,
}

impl TotpState {
    /// Records `step` if it is later than the last accepted one; returns
    /// whether it was.
    pub fn advance_to(&mut self, step: u64) -> bool {
        if self.last_step.is_some_and(|last| step <= last) {
            return false;
        }
        self.last_step = Some(step);
        true
    }
}

/// A [`TotpState`] that several threads may check and advance at once:
/// an `AtomicU64` moved forward with compare-and-swap, so of two concurrent
/// logins with the same code exactly one passes.
#[derive(Debug, Default)]
pub struct SharedTotpState(AtomicU64);

impl SharedTotpState {
    /// A shared state starting at `state`.
    pub fn new(state: TotpState) -> Self {
        Self(AtomicU64::new(Self::encode(state)))
    }

    // 0 means "no step accepted yet"; step s is stored as s + 1.
    fn encode(state: TotpState) -> u64 {
        state.last_step.map_or(0, |s| s.saturating_add(1))
    }

    /// The current value, to store with the user.
    pub fn snapshot(&self) -> TotpState {
        TotpState {
            last_step: self.0.load(Ordering::Acquire).checked_sub(1),
        }
    }

    /// Atomically records `step` if it is later than the last accepted one;
    /// returns whether it was.
    pub fn advance_to(&self, step: u64) -> bool {
        let new = step.saturating_add(1);
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                (new > cur).then_some(new)
            })
            .is_ok()
    }
}

impl From<TotpState> for SharedTotpState {
    fn from(state: TotpState) -> Self {
        Self::new(state)
    }
}

/// A code accepted by [`Totp::verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotpAccepted {
    /// The time step the code belongs to (now the user's last accepted step).
    pub step: u64,
    /// How many steps that is from the verifier's current step
    /// (−1: the code of the previous period, +1: of the next one).
    pub drift: i8,
}

/// One user's TOTP verifier: validated parameters and the secret.
///
/// Build it per request from the stored base32 secret
/// ([`Totp::from_base32`]) or keep it; it is immutable. `Debug` shows the
/// parameters, never the secret, and the secret is wiped on drop.
#[derive(Clone)]
pub struct Totp {
    params: TotpParams,
    inner: totp_rs::TOTP,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .field("secret", &"***")
            .finish()
    }
}

impl Totp {
    /// A verifier for `secret` with `params`.
    pub fn new(params: &TotpParams, secret: &TotpSecret) -> Result<Self> {
        // Built through `Rfc6238` and the public fields so this compiles
        // whether or not totp-rs' `otpauth` feature (which changes
        // `TOTP::new`'s signature) is on: we do not need it.
        let rfc =
            totp_rs::Rfc6238::with_defaults(secret.expose_bytes().to_vec()).map_err(|_| {
                Error::SecretTooShort {
                    bits: secret.bits(),
                }
            })?;
        let mut inner = totp_rs::TOTP::from_rfc6238(rfc).map_err(|_| Error::SecretTooShort {
            bits: secret.bits(),
        })?;
        inner.algorithm = params.algorithm.to_totp_rs();
        inner.digits = usize::from(params.digits);
        inner.skew = params.window;
        inner.step = params.period_secs;
        Ok(Self {
            params: params.clone(),
            inner,
        })
    }

    /// A verifier from the base32 secret stored with the user.
    pub fn from_base32(params: &TotpParams, secret_base32: &str) -> Result<Self> {
        Self::new(params, &TotpSecret::from_base32(secret_base32)?)
    }

    /// The parameters.
    pub const fn params(&self) -> &TotpParams {
        &self.params
    }

    /// The secret in base32, to store with the user.
    pub fn secret_base32(&self) -> Secret {
        Secret::from(base32_encode(&self.inner.secret))
    }

    /// The time step that `at` falls in.
    pub const fn step_at(&self, at: UnixTime) -> u64 {
        at.as_secs() / self.params.period_secs
    }

    /// The code for time step `step` (what the user's app shows then).
    pub fn code_for_step(&self, step: u64) -> Secret {
        Secret::from(
            self.inner
                .generate(step.saturating_mul(self.params.period_secs)),
        )
    }

    /// The code at time `at`.
    pub fn code_at(&self, at: UnixTime) -> Secret {
        self.code_for_step(self.step_at(at))
    }

    /// The latest step in the window around `at` whose code equals `code`,
    /// ignoring replay state. Every step of the window is computed and
    /// compared in constant time, whatever matches.
    pub fn match_step(&self, code: &str, at: UnixTime) -> Result<TotpAccepted, Rejection> {
        let mut buf = Zeroizing::new([0u8; 8]);
        let digits = usize::from(self.params.digits);
        let typed = normalize_code(code, digits, &mut buf)?;
        let current = self.step_at(at);
        let window = u64::from(self.params.window);
        let first = current.saturating_sub(window);
        let last = current.saturating_add(window);
        let mut hit = subtle::Choice::from(0);
        let mut found = 0u64;
        for step in first..=last {
            let expected = Zeroizing::new(
                self.inner
                    .generate(step.saturating_mul(self.params.period_secs)),
            );
            let eq = expected.as_bytes().ct_eq(typed);
            found = u64::conditional_select(&found, &step, eq);
            hit |= eq;
        }
        if bool::from(hit) {
            let drift = i128::from(found) - i128::from(current);
            Ok(TotpAccepted {
                step: found,
                drift: i8::try_from(drift).unwrap_or(0),
            })
        } else {
            Err(Rejection::Invalid)
        }
    }

    /// Verifies `code` at time `at` and, if it is right and its step is later
    /// than the last accepted one, records that step in `state`.
    ///
    /// `&mut` access makes the check-and-advance atomic; for state shared
    /// between threads use [`verify_shared`](Self::verify_shared).
    pub fn verify(
        &self,
        code: &str,
        at: UnixTime,
        state: &mut TotpState,
    ) -> Result<TotpAccepted, Rejection> {
        self.verify_with(code, at, |step| state.advance_to(step))
    }

    /// [`verify`](Self::verify) against a [`SharedTotpState`]: the advance is
    /// a compare-and-swap, so two concurrent logins with the same code cannot
    /// both pass.
    pub fn verify_shared(
        &self,
        code: &str,
        at: UnixTime,
        state: &SharedTotpState,
    ) -> Result<TotpAccepted, Rejection> {
        self.verify_with(code, at, |step| state.advance_to(step))
    }

    /// Verifies `code` and, when it matches, calls `advance(step)`, which must
    /// atomically record `step` if it is later than the stored last step and
    /// return whether it did (for example a conditional `UPDATE` in the
    /// user database). `false` makes the code [`Rejection::Replayed`].
    pub fn verify_with(
        &self,
        code: &str,
        at: UnixTime,
        advance: impl FnOnce(u64) -> bool,
    ) -> Result<TotpAccepted, Rejection> {
        let accepted = self.match_step(code, at)?;
        if advance(accepted.step) {
            Ok(accepted)
        } else {
            Err(Rejection::Replayed)
        }
    }
}

/// Copies the digits of `code` into `buf` (spaces allowed anywhere, as apps
/// show `123 456`), or [`Rejection::Malformed`] unless exactly `digits` ASCII
/// digits are found. Touches at most `digits + 1` non-space characters.
fn normalize_code<'b>(
    code: &str,
    digits: usize,
    buf: &'b mut [u8; 8],
) -> Result<&'b [u8], Rejection> {
    let mut n = 0usize;
    for b in code.bytes().filter(|b| *b != b' ') {
        if !b.is_ascii_digit() {
            return Err(Rejection::Malformed);
        }
        let slot = buf.get_mut(n).ok_or(Rejection::Malformed)?;
        *slot = b;
        n += 1;
    }
    if n != digits {
        return Err(Rejection::Malformed);
    }
    buf.get(..n).ok_or(Rejection::Malformed)
}

/// An enrollment in progress: a fresh secret the user adds to an
/// authenticator app (by the URI's QR code or by typing the base32 secret),
/// not active until [`confirm`](Self::confirm) sees one valid code from it.
///
/// Between the two requests keep [`secret_base32`](Self::secret_base32) in
/// the server-side session and rebuild with [`resume`](Self::resume).
#[derive(Clone)]
pub struct TotpEnrollment {
    totp: Totp,
    account: String,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrollment")
            .field("account", &self.account)
            .field("totp", &self.totp)
            .finish()
    }
}

/// A confirmed enrollment: store [`Totp::secret_base32`] and `state` with the
/// user and turn the second factor on.
#[derive(Clone, Debug)]
pub struct ConfirmedTotp {
    /// The verifier (its secret is what to store).
    pub totp: Totp,
    /// The replay state, already past the confirmation code's step so that
    /// code cannot be used again to log in.
    pub state: TotpState,
}

impl TotpEnrollment {
    /// Starts enrolling `account` (user name, extension or e-mail as the app
    /// should show it) with a new secret of `params.secret_bits()` bits from
    /// the OS CSPRNG.
    pub fn begin(params: &TotpParams, account: &str) -> Result<Self> {
        let secret = TotpSecret::generate(params.secret_bits)?;
        Self::resume(params, account, &secret)
    }

    /// Rebuilds an enrollment in progress from the secret kept in the session.
    pub fn resume(params: &TotpParams, account: &str, secret: &TotpSecret) -> Result<Self> {
        check_label("account", account)?;
        Ok(Self {
            totp: Totp::new(params, secret)?,
            account: account.to_owned(),
        })
    }

    /// The account name in the label.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The secret in base32, for manual entry and to keep in the session.
    pub fn secret_base32(&self) -> Secret {
        self.totp.secret_base32()
    }

    /// The `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=…&digits=…&period=…`
    /// URI that authenticator apps scan. Every parameter is written out, even
    /// the defaults. It contains the secret, so it is returned as a
    /// [`Secret`].
    pub fn uri(&self) -> Secret {
        let p = &self.totp.params;
        let issuer = urlencoding::encode(&p.issuer);
        let account = urlencoding::encode(&self.account);
        let secret = self.totp.secret_base32();
        Secret::from(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm={}&digits={}&period={}",
            secret.expose(),
            p.algorithm.as_str(),
            p.digits,
            p.period_secs,
        ))
    }

    /// Confirms the enrollment with a code from the user's app. On success
    /// the returned [`ConfirmedTotp`] is what to store; its state already
    /// refuses the confirmation code, so it cannot double as a login.
    pub fn confirm(&self, code: &str, at: UnixTime) -> Result<ConfirmedTotp, Rejection> {
        let mut state = TotpState::default();
        self.totp.verify(code, at, &mut state)?;
        Ok(ConfirmedTotp {
            totp: self.totp.clone(),
            state,
        })
    }

    /// The enrollment URI as a QR code, as PNG bytes (black modules on
    /// white, 8 pixels per module, a 4-module quiet zone; error correction
    /// level M). The image carries the secret, so it is wiped on drop.
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_png(&self) -> Result<Zeroizing<Vec<u8>>> {
        super::qr::png(self.uri().expose())
    }

    /// The enrollment URI as a QR code, as an SVG document (one path, a
    /// 4-module quiet zone, scalable). Wiped on drop, as it carries the secret.
    #[cfg(feature = "qr")]
    #[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
    pub fn qr_svg(&self) -> Result<Zeroizing<String>> {
        super::qr::svg(self.uri().expose())
    }
}
