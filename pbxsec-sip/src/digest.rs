//! SIP digest authentication (RFC 2617, RFC 7616 algorithms as RFC 8760 brings
//! them to SIP): challenges, stateless HMAC nonces and response verification
//! from stored HA1 values.
//!
//! # Design
//!
//! * **Challenges** ([`DigestAuth::challenge`]) carry the realm, `qop="auth"`,
//!   one algorithm each (`SHA-256` and/or `MD5`, in the configured order of
//!   preference, as RFC 8760 section 2.4 asks: one header per algorithm), the
//!   configured `opaque`, and `stale=true` when the previous answer used an
//!   expired nonce.
//! * **Nonces are stateless**: 32 bytes written as 64 lower-case hex digits,
//!   `issue time (u64 ms, wall clock) ‖ per-instance counter (u64) ‖
//!   HMAC-SHA256(server key, issue time ‖ counter ‖ realm)[..16]`. Any server
//!   holding the key verifies a nonce without having stored it. A nonce older
//!   than the lifetime (default 300 s, Kamailio's `nonce_expire`) is *stale*;
//!   one issued further in the future than the allowed drift (default 3 s,
//!   Kamailio's `nonce_auth_max_drift`) is refused as [`NonceProblem::Future`].
//! * **Key rotation** ([`DigestAuth::rotate_key`]): the previous key keeps
//!   verifying for one nonce lifetime after the rotation, so no phone sees a
//!   failure because of a rotation; after that its nonces are foreign.
//! * **Verification** ([`DigestAuth::verify`]) uses the stored HA1 ([`Ha1`]),
//!   never the plaintext password, compares the response in constant time
//!   (`subtle`), and returns one [`DigestOutcome`] that tells a wrong password
//!   from an unknown user, a stale nonce, a realm or URI mismatch, a replayed
//!   `nc` and a malformed answer. The checks run in this order: required
//!   fields, realm, algorithm, `qop`, `opaque`, URI, nonce integrity and
//!   time, user, response, staleness, `nc`. A stale nonce is reported as
//!   stale only when the response is right for it (RFC 7616 section 3.3: the
//!   client knows the password and only needs a new nonce); a wrong response
//!   on a stale nonce is a wrong password, so stale nonces cannot be used to
//!   guess passwords without being counted.
//! * **`nc` monotonicity** needs state; the caller that wants it keeps a
//!   [`NonceCounts`] (bounded, FIFO eviction) and passes it to `verify`.
//!
//! HMAC-SHA256, SHA-256 and MD5 come from RustCrypto (`hmac`, `sha2`,
//! `md-5`), the comparison from `subtle`, hex from `base16ct` (constant-time
//! hex). Nothing here allocates on the verification path.
//!
//! What is not supported: `qop=auth-int`, the `-sess` algorithms, `userhash`,
//! `SHA-512-256`, and answers without `qop` (RFC 2069 style): every challenge
//! we send offers `qop="auth"`, so RFC 2617 section 3.2.2 requires the client to
//! use it; an answer without `qop`, `nc` or `cnonce` is
//! [`DigestOutcome::Malformed`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::Md5;
use pbxsec_core::{EventKind, RejectReason, Secret, UnixTime};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::DigestCredentials;

type HmacSha256 = Hmac<Sha256>;

/// Kamailio's default nonce lifetime (`auth` module, `nonce_expire`): 300 s.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Kamailio's default allowed drift for a nonce from the future
/// (`nonce_auth_max_drift`): 3 s.
pub const DEFAULT_MAX_DRIFT: Duration = Duration::from_secs(3);
/// The shortest server key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// The default capacity of a [`NonceCounts`].
pub const DEFAULT_NONCE_COUNTS_CAPACITY: usize = 4096;
/// The length of one of our nonces, in characters.
pub const NONCE_LEN: usize = 64;

const TAG_LEN: usize = 16;
const NONCE_BYTES: usize = 8 + 8 + TAG_LEN;

/// Errors from building digest-authentication values (configuration, keys,
/// stored HA1). Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// A configuration field has a value that cannot work.
    #[error("digest configuration: field `{field}`: {problem}")]
    Config {
        /// The field's name in [`DigestConfig`].
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A server key is shorter than [`MIN_KEY_LEN`] bytes.
    #[error("server key is {len} bytes long; at least {MIN_KEY_LEN} are needed")]
    KeyTooShort {
        /// The key's length in bytes.
        len: usize,
    },
    /// A stored HA1 is not hex of the algorithm's digest length.
    #[error("stored {algorithm} HA1 must be {expected} hex digits; got {len} characters{}", if *.not_hex { " that are not all hex digits" } else { "" })]
    InvalidHa1 {
        /// The algorithm the HA1 is for.
        algorithm: Algorithm,
        /// The number of hex digits expected.
        expected: usize,
        /// The number of characters given.
        len: usize,
        /// Whether a character is not a hex digit.
        not_hex: bool,
    },
}

/// `Result` with [`DigestError`].
pub type DigestResult<T> = Result<T, DigestError>;

/// A digest algorithm (the `algorithm` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5` (RFC 2617): what almost every deployed phone speaks.
    #[serde(rename = "MD5")]
    Md5,
    /// `SHA-256` (RFC 7616, brought to SIP by RFC 8760).
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Algorithm {
    /// The token as written in the `algorithm` parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Reads an `algorithm` token (case-insensitive). `None` for anything
    /// else, including the `-sess` variants.
    pub fn from_token(token: &[u8]) -> Option<Self> {
        if token.eq_ignore_ascii_case(b"MD5") {
            Some(Self::Md5)
        } else if token.eq_ignore_ascii_case(b"SHA-256") {
            Some(Self::Sha256)
        } else {
            None
        }
    }

    /// The digest length in bytes (16 for MD5, 32 for SHA-256).
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha256 => 32,
        }
    }

    /// The length of the digest written in hex.
    pub const fn hex_len(self) -> usize {
        self.digest_len() * 2
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hash of either algorithm, fed piece by piece, without allocating.
enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
}

/// A digest of at most 32 bytes and its length.
struct DigestBytes {
    bytes: [u8; 32],
    len: usize,
}

impl DigestBytes {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// Lower-case hex into `buf`; returns the written part.
    fn hex<'b>(&self, buf: &'b mut [u8; 64]) -> &'b [u8] {
        base16ct::lower::encode(self.as_slice(), buf).unwrap_or_default()
    }
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Md5 => Self::Md5(Md5::new()),
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> DigestBytes {
        let mut bytes = [0u8; 32];
        let len = match self {
            Self::Md5(h) => {
                let out = h.finalize();
                copy_into(&mut bytes, &out)
            }
            Self::Sha256(h) => {
                let out = h.finalize();
                copy_into(&mut bytes, &out)
            }
        };
        DigestBytes { bytes, len }
    }
}

fn copy_into(dst: &mut [u8; 32], src: &[u8]) -> usize {
    let n = src.len().min(dst.len());
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
    n
}

/// A stored HA1 = H(username ":" realm ":" password), in lower-case hex,
/// for one algorithm. Store this instead of the SIP password.
///
/// The hex is kept in a [`Secret`]: it is as good as the password for
/// this realm, so it never prints and is zeroized on drop.
///
/// ```
/// use pbxsec_sip::digest::{Algorithm, Ha1};
///
/// let ha1 = Ha1::compute(Algorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life");
/// assert_eq!(ha1.expose_hex(), "939e7578ed9e3c518a452acee763bce9");
/// assert_eq!(format!("{ha1:?}"), "Ha1 { algorithm: Md5, hex: Secret(***) }");
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ha1 {
    algorithm: Algorithm,
    hex: Secret,
}

impl Ha1 {
    /// Computes HA1 for a user, realm and password.
    pub fn compute(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> Self {
        let mut h = Hasher::new(algorithm);
        h.update(username.as_bytes());
        h.update(b":");
        h.update(realm.as_bytes());
        h.update(b":");
        h.update(password.as_bytes());
        let digest = h.finish();
        let mut buf = [0u8; 64];
        let hex = digest.hex(&mut buf);
        let value = Secret::new(std::str::from_utf8(hex).unwrap_or_default());
        buf.fill(0);
        Self {
            algorithm,
            hex: value,
        }
    }

    /// Wraps a stored HA1 given in hex (either case; kept in lower case).
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> DigestResult<Self> {
        let expected = algorithm.hex_len();
        let not_hex = !hex.bytes().all(|b| b.is_ascii_hexdigit());
        if hex.len() != expected || not_hex {
            return Err(DigestError::InvalidHa1 {
                algorithm,
                expected,
                len: hex.chars().count(),
                not_hex,
            });
        }
        Ok(Self {
            algorithm,
            hex: Secret::new(hex.to_ascii_lowercase()),
        })
    }

    /// The algorithm this HA1 is for.
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The HA1 in lower-case hex, on purpose (to store it).
    pub fn expose_hex(&self) -> &str {
        self.hex.expose()
    }
}

/// What is stored for one user in one realm: an HA1 per algorithm.
///
/// A user with only an MD5 HA1 can only answer MD5 challenges; one with
/// both answers either. Build it from the password once (at provisioning)
/// and store the hex values.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct UserCredentials {
    md5: Option<Ha1>,
    sha256: Option<Ha1>,
}

impl UserCredentials {
    /// HA1 for both algorithms from the password.
    pub fn from_password(username: &str, realm: &str, password: &Secret) -> Self {
        Self {
            md5: Some(Ha1::compute(
                Algorithm::Md5,
                username,
                realm,
                password.expose(),
            )),
            sha256: Some(Ha1::compute(
                Algorithm::Sha256,
                username,
                realm,
                password.expose(),
            )),
        }
    }

    /// No HA1 at all (add some with [`UserCredentials::with`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the HA1 for its algorithm.
    #[must_use]
    pub fn with(mut self, ha1: Ha1) -> Self {
        match ha1.algorithm {
            Algorithm::Md5 => self.md5 = Some(ha1),
            Algorithm::Sha256 => self.sha256 = Some(ha1),
        }
        self
    }

    /// The HA1 for `algorithm`, if stored.
    pub fn get(&self, algorithm: Algorithm) -> Option<&Ha1> {
        match algorithm {
            Algorithm::Md5 => self.md5.as_ref(),
            Algorithm::Sha256 => self.sha256.as_ref(),
        }
    }
}

/// A digest parameter, to say which one is missing or invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The authentication scheme (must be `Digest`).
    Scheme,
    /// `username`.
    Username,
    /// `realm`.
    Realm,
    /// `nonce`.
    Nonce,
    /// `uri`.
    Uri,
    /// `response`.
    Response,
    /// `algorithm`.
    Algorithm,
    /// `cnonce`.
    Cnonce,
    /// `qop`.
    Qop,
    /// `nc`.
    Nc,
    /// `opaque`.
    Opaque,
}

impl Field {
    /// The parameter's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheme => "scheme",
            Self::Username => "username",
            Self::Realm => "realm",
            Self::Nonce => "nonce",
            Self::Uri => "uri",
            Self::Response => "response",
            Self::Algorithm => "algorithm",
            Self::Cnonce => "cnonce",
            Self::Qop => "qop",
            Self::Nc => "nc",
            Self::Opaque => "opaque",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an answer is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformed {
    /// A required parameter is absent (svcrack sends `qop=auth` without
    /// `nc` and `cnonce`).
    Missing(Field),
    /// A parameter's value cannot be right (a response of the wrong length
    /// or not hex, an `nc` that is not 8 hex digits or is zero, an opaque
    /// that is not ours, a `qop` other than `auth`).
    Invalid(Field),
}

/// What is wrong with a nonce that is not merely stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NonceProblem {
    /// Not one of ours: wrong length, not hex, or an HMAC that no current
    /// key (nor the previous one within its grace period) produced.
    Foreign,
    /// Issued further in the future than the allowed drift.
    Future,
    /// The `nc` was already used with this nonce (a replay), or the nonce
    /// was forgotten by a full [`NonceCounts`] after it was used.
    Replayed,
}

/// The result of verifying a digest answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestOutcome {
    /// The credentials are right.
    Ok {
        /// The algorithm the client used.
        algorithm: Algorithm,
    },
    /// The response does not match the stored HA1: a wrong password.
    WrongPassword,
    /// No credentials are stored for this username (for the algorithm used).
    UnknownUser,
    /// The response is right but the nonce has expired: challenge again with
    /// `stale=true`. Not a wrong password.
    StaleNonce,
    /// The response is right but the nonce is foreign (not made with our
    /// key, nor the previous one within its grace period), from the future,
    /// or replayed: challenge again with `stale=true` (the client knows the
    /// password). Not a wrong password: a wrong response on such a nonce is
    /// [`WrongPassword`](Self::WrongPassword).
    InvalidNonce(NonceProblem),
    /// The `realm` is not ours.
    RealmMismatch,
    /// The digest `uri` is not the request's URI.
    UriMismatch,
    /// The algorithm is not one we offer (or not one we know).
    AlgorithmNotAllowed,
    /// The answer is malformed or incomplete.
    Malformed(Malformed),
}

impl DigestOutcome {
    /// `true` for [`DigestOutcome::Ok`].
    pub const fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }

    /// The Asterisk security event this outcome is reported as.
    ///
    /// | outcome | event |
    /// |---|---|
    /// | `Ok` | `SuccessfulAuth` |
    /// | `WrongPassword` | `InvalidPassword` |
    /// | `UnknownUser` | `InvalidAccountID` |
    /// | `StaleNonce`, `InvalidNonce` | `ChallengeResponseFailed` |
    /// | `RealmMismatch`, `UriMismatch`, `Malformed` | `RequestBadFormat` |
    /// | `AlgorithmNotAllowed` | `AuthMethodNotAllowed` |
    pub const fn event_kind(&self) -> EventKind {
        match self {
            Self::Ok { .. } => EventKind::SuccessfulAuth,
            Self::WrongPassword => EventKind::InvalidPassword,
            Self::UnknownUser => EventKind::InvalidAccountId,
            Self::StaleNonce | Self::InvalidNonce(_) => EventKind::ChallengeResponseFailed,
            Self::RealmMismatch | Self::UriMismatch | Self::Malformed(_) => {
                EventKind::RequestBadFormat
            }
            Self::AlgorithmNotAllowed => EventKind::AuthMethodNotAllowed,
        }
    }
}

/// Which challenge: a registrar / UAS (`401`, `WWW-Authenticate`, answered in
/// `Authorization`) or a proxy (`407`, `Proxy-Authenticate`, answered in
/// `Proxy-Authorization`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeKind {
    /// 401 Unauthorized with `WWW-Authenticate`.
    Www,
    /// 407 Proxy Authentication Required with `Proxy-Authenticate`.
    Proxy,
}

impl ChallengeKind {
    /// The response status code (401 or 407).
    pub const fn status(self) -> u16 {
        match self {
            Self::Www => 401,
            Self::Proxy => 407,
        }
    }

    /// The reject reason to answer with.
    pub const fn reject_reason(self) -> RejectReason {
        match self {
            Self::Www => RejectReason::Unauthorized,
            Self::Proxy => RejectReason::ProxyAuthenticationRequired,
        }
    }

    /// The challenge header's name.
    pub const fn header_name(self) -> &'static str {
        match self {
            Self::Www => "WWW-Authenticate",
            Self::Proxy => "Proxy-Authenticate",
        }
    }

    /// The name of the header that carries the answer.
    pub const fn credentials_header_name(self) -> &'static str {
        match self {
            Self::Www => "Authorization",
            Self::Proxy => "Proxy-Authorization",
        }
    }
}

fn default_realm() -> String {
    "pbxsec".to_owned()
}
fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::Sha256, Algorithm::Md5]
}
const fn default_lifetime() -> Duration {
    DEFAULT_NONCE_LIFETIME
}
const fn default_drift() -> Duration {
    DEFAULT_MAX_DRIFT
}
const fn default_true() -> bool {
    true
}

/// Digest authentication settings (data; validated by [`DigestAuth::new`]).
///
/// The server key is not here: it is a secret and is given to
/// [`DigestAuth::new`] as a [`ServerKey`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// The realm (default `"pbxsec"`; usually the SIP domain). Must be
    /// non-empty, printable ASCII without `"` or `\`.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// The algorithms offered, most preferred first (default
    /// `["SHA-256", "MD5"]`: one challenge header each). Not empty, no
    /// repeats.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce stays fresh (default 300 s, Kamailio's
    /// `nonce_expire`). At least 1 s.
    #[serde(default = "default_lifetime", with = "pbxsec_core::duration::serde")]
    pub nonce_lifetime: Duration,
    /// How far in the future a nonce's issue time may be, for servers whose
    /// clocks differ a little (default 3 s, Kamailio's `nonce_auth_max_drift`).
    #[serde(default = "default_drift", with = "pbxsec_core::duration::serde")]
    pub max_drift: Duration,
    /// The `opaque` value sent in challenges and required back unchanged
    /// (default none: not sent, not checked). Printable ASCII without `"`
    /// or `\`.
    #[serde(default)]
    pub opaque: Option<String>,
    /// Whether the digest `uri` must equal the request-URI byte for byte
    /// (default `true`, RFC 2617 section 3.2.2.5).
    #[serde(default = "default_true")]
    pub check_uri: bool,
}

impl Default for DigestConfig {
    fn default() -> Self {
        Self {
            realm: default_realm(),
            algorithms: default_algorithms(),
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            max_drift: DEFAULT_MAX_DRIFT,
            opaque: None,
            check_uri: true,
        }
    }
}

/// A server key for nonce HMACs: at least [`MIN_KEY_LEN`] bytes, kept in a
/// [`Secret`]. Every server that must verify another's nonces holds the same
/// key.
#[derive(Clone, Debug)]
pub struct ServerKey(Secret);

impl ServerKey {
    /// Wraps a key of at least [`MIN_KEY_LEN`] bytes.
    pub fn new(key: Secret) -> DigestResult<Self> {
        let len = key.expose().len();
        if len < MIN_KEY_LEN {
            return Err(DigestError::KeyTooShort { len });
        }
        Ok(Self(key))
    }
}

/// A key made ready for HMAC (the padded key state is computed once).
#[derive(Clone)]
struct KeyState {
    mac: HmacSha256,
}

impl KeyState {
    fn new(key: &ServerKey) -> DigestResult<Self> {
        let mac = HmacSha256::new_from_slice(key.0.expose().as_bytes())
            .map_err(|_| DigestError::KeyTooShort { len: 0 })?;
        Ok(Self { mac })
    }

    fn tag(&self, head: &[u8; 16], realm: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(head);
        mac.update(realm);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        for (t, f) in tag.iter_mut().zip(full.iter()) {
            *t = *f;
        }
        tag
    }
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyState(***)")
    }
}

/// One nonce, written as [`NONCE_LEN`] hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Nonce([u8; NONCE_LEN]);

impl Nonce {
    /// The nonce as it goes in the header.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.as_str())
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One challenge header value (`Digest realm="…", nonce="…", …`). Display it
/// to get the header value; [`Challenge::header_name`] gives the name.
#[derive(Clone, Debug)]
pub struct Challenge<'a> {
    /// 401 or 407.
    pub kind: ChallengeKind,
    /// The realm.
    pub realm: &'a str,
    /// The nonce.
    pub nonce: Nonce,
    /// The algorithm offered by this header.
    pub algorithm: Algorithm,
    /// The opaque value, if configured.
    pub opaque: Option<&'a str>,
    /// Whether to say `stale=true`.
    pub stale: bool,
}

impl Challenge<'_> {
    /// `WWW-Authenticate` or `Proxy-Authenticate`.
    pub const fn header_name(&self) -> &'static str {
        self.kind.header_name()
    }
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm=\"{}\", nonce=\"{}\"",
            self.realm, self.nonce
        )?;
        if let Some(opaque) = self.opaque {
            write!(f, ", opaque=\"{opaque}\"")?;
        }
        write!(f, ", algorithm={}, qop=\"auth\"", self.algorithm)?;
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// The result of checking a nonce's integrity and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceCheck {
    Fresh { issued_ms: u64, tag: [u8; TAG_LEN] },
    Stale,
    Bad(NonceProblem),
}

/// Digest authentication for one realm: issues challenges and verifies
/// answers. See the [module docs](self).
///
/// It holds no per-client state; [`NonceCounts`] is the optional state for
/// `nc` checking. `challenge` and `verify` take `&self`, so one value can be
/// shared by every worker.
///
/// ```
/// use pbxsec_core::{Secret, UnixTime};
/// use pbxsec_sip::DigestCredentials;
/// use pbxsec_sip::digest::{
///     Algorithm, ChallengeKind, DigestAuth, DigestConfig, DigestOutcome, ServerKey,
///     UserCredentials, expected_response,
/// };
///
/// let config = DigestConfig { realm: "pbx.example.com".into(), ..DigestConfig::default() };
/// let auth = DigestAuth::new(config, ServerKey::new(Secret::new("0123456789abcdef0123"))?)?;
/// let now = UnixTime::from_secs(1_800_000_000);
///
/// // 401 with one WWW-Authenticate per algorithm (SHA-256 first).
/// let challenges = auth.challenge(ChallengeKind::Www, now, false);
/// assert!(challenges[0].to_string().starts_with("Digest realm=\"pbx.example.com\", nonce=\""));
///
/// // What a phone with the password sends back (MD5 here).
/// let user = UserCredentials::from_password("1000", "pbx.example.com", &Secret::new("s3cret!"));
/// let header = format!(
///     "Digest username=\"1000\", realm=\"pbx.example.com\", nonce=\"{}\", \
///      uri=\"sip:pbx.example.com\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"a1b2c3\"",
///     challenges[1].nonce,
/// );
/// let mut params = DigestCredentials::parse(&header).unwrap();
/// let response = expected_response(user.get(Algorithm::Md5).unwrap(), b"REGISTER", &params).unwrap();
/// params.response = Some(&response);
///
/// let outcome = auth.verify(b"REGISTER", b"sip:pbx.example.com", &params, Some(&user), None, now);
/// assert_eq!(outcome, DigestOutcome::Ok { algorithm: Algorithm::Md5 });
/// # Ok::<(), pbxsec_sip::digest::DigestError>(())
/// ```
#[derive(Debug)]
pub struct DigestAuth {
    realm: String,
    algorithms: Vec<Algorithm>,
    lifetime_ms: u64,
    drift_ms: u64,
    opaque: Option<String>,
    check_uri: bool,
    key: KeyState,
    previous: Option<(KeyState, UnixTime)>,
    counter: AtomicU64,
    /// HA1s of no user (MD5, SHA-256): an unknown user's answer is hashed
    /// against one, so that it takes as long as a known user's.
    decoys: [Ha1; 2],
}

fn is_header_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl DigestAuth {
    /// Validates `config` and prepares the key.
    pub fn new(config: DigestConfig, key: ServerKey) -> DigestResult<Self> {
        if config.realm.is_empty() || !is_header_safe(&config.realm) {
            return Err(DigestError::Config {
                field: "realm",
                problem: "must be non-empty printable ASCII without '\"' or '\\'",
            });
        }
        if config.algorithms.is_empty() {
            return Err(DigestError::Config {
                field: "algorithms",
                problem: "offer at least one algorithm",
            });
        }
        for (i, a) in config.algorithms.iter().enumerate() {
            if config.algorithms.iter().skip(i + 1).any(|b| b == a) {
                return Err(DigestError::Config {
                    field: "algorithms",
                    problem: "an algorithm is listed twice",
                });
            }
        }
        if config.nonce_lifetime < Duration::from_secs(1) {
            return Err(DigestError::Config {
                field: "nonce_lifetime",
                problem: "must be at least 1 s",
            });
        }
        if let Some(opaque) = &config.opaque {
            if opaque.is_empty() || !is_header_safe(opaque) {
                return Err(DigestError::Config {
                    field: "opaque",
                    problem: "must be non-empty printable ASCII without '\"' or '\\'",
                });
            }
        }
        let key = KeyState::new(&key)?;
        // Start the per-instance counter somewhere that depends on the key,
        // so two instances sharing a key rarely issue equal nonces.
        let seed = key.tag(&[0u8; 16], b"pbxsec nonce counter seed");
        let mut seed8 = [0u8; 8];
        for (s, t) in seed8.iter_mut().zip(seed.iter()) {
            *s = *t;
        }
        let decoys = [
            Ha1::compute(Algorithm::Md5, "", &config.realm, ""),
            Ha1::compute(Algorithm::Sha256, "", &config.realm, ""),
        ];
        Ok(Self {
            decoys,
            realm: config.realm,
            algorithms: config.algorithms,
            lifetime_ms: millis(config.nonce_lifetime),
            drift_ms: millis(config.max_drift),
            opaque: config.opaque,
            check_uri: config.check_uri,
            key,
            previous: None,
            counter: AtomicU64::new(u64::from_be_bytes(seed8)),
        })
    }

    /// The decoy HA1 for `algorithm` (see [`verify`](Self::verify)).
    fn decoy(&self, algorithm: Algorithm) -> &Ha1 {
        let [md5, sha256] = &self.decoys;
        match algorithm {
            Algorithm::Md5 => md5,
            Algorithm::Sha256 => sha256,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The algorithms offered, most preferred first.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The nonce lifetime.
    pub const fn nonce_lifetime(&self) -> Duration {
        Duration::from_millis(self.lifetime_ms)
    }

    /// Replaces the server key. Nonces made with the old key keep verifying
    /// until `now` + one nonce lifetime; a key rotated out earlier is
    /// forgotten.
    pub fn rotate_key(&mut self, new_key: ServerKey, now: UnixTime) -> DigestResult<()> {
        let fresh = KeyState::new(&new_key)?;
        let old = std::mem::replace(&mut self.key, fresh);
        let until = now.saturating_add(self.nonce_lifetime());
        self.previous = Some((old, until));
        Ok(())
    }

    /// A fresh nonce issued at `now`.
    pub fn nonce(&self, now: UnixTime) -> Nonce {
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; NONCE_BYTES];
        let mut head = [0u8; 16];
        for (h, b) in head.iter_mut().zip(
            now.as_millis()
                .to_be_bytes()
                .iter()
                .chain(count.to_be_bytes().iter()),
        ) {
            *h = *b;
        }
        let tag = self.key.tag(&head, self.realm.as_bytes());
        for (r, b) in raw.iter_mut().zip(head.iter().chain(tag.iter())) {
            *r = *b;
        }
        let mut out = [0u8; NONCE_LEN];
        let _ = base16ct::lower::encode(&raw, &mut out);
        Nonce(out)
    }

    /// The challenge headers for a 401 (`Www`) or 407 (`Proxy`): one per
    /// offered algorithm, most preferred first, all with one fresh nonce.
    /// `stale` is `true` when answering a [`DigestOutcome::StaleNonce`].
    pub fn challenge(&self, kind: ChallengeKind, now: UnixTime, stale: bool) -> Vec<Challenge<'_>> {
        let nonce = self.nonce(now);
        self.algorithms
            .iter()
            .map(|&algorithm| Challenge {
                kind,
                realm: &self.realm,
                nonce,
                algorithm,
                opaque: self.opaque.as_deref(),
                stale,
            })
            .collect()
    }

    fn check_nonce(&self, nonce: &[u8], now: UnixTime) -> NonceCheck {
        let mut raw = [0u8; NONCE_BYTES];
        if nonce.len() != NONCE_LEN || base16ct::mixed::decode(nonce, &mut raw).is_err() {
            return NonceCheck::Bad(NonceProblem::Foreign);
        }
        let mut head = [0u8; 16];
        let mut tag = [0u8; TAG_LEN];
        for (h, r) in head.iter_mut().zip(raw.iter()) {
            *h = *r;
        }
        for (t, r) in tag.iter_mut().zip(raw.iter().skip(16)) {
            *t = *r;
        }
        let realm = self.realm.as_bytes();
        let mut ok: bool = self.key.tag(&head, realm).ct_eq(&tag).into();
        if !ok {
            if let Some((prev, until)) = &self.previous {
                if now < *until {
                    ok = prev.tag(&head, realm).ct_eq(&tag).into();
                }
            }
        }
        if !ok {
            return NonceCheck::Bad(NonceProblem::Foreign);
        }
        let mut ts = [0u8; 8];
        for (t, h) in ts.iter_mut().zip(head.iter()) {
            *t = *h;
        }
        let issued_ms = u64::from_be_bytes(ts);
        let now_ms = now.as_millis();
        if issued_ms > now_ms.saturating_add(self.drift_ms) {
            return NonceCheck::Bad(NonceProblem::Future);
        }
        if now_ms.saturating_sub(issued_ms) > self.lifetime_ms {
            return NonceCheck::Stale;
        }
        NonceCheck::Fresh { issued_ms, tag }
    }

    /// Verifies one answer.
    ///
    /// * `method` and `request_uri` come from the request line;
    /// * `params` are the `Authorization` (or `Proxy-Authorization`)
    ///   credentials as the scanner reads them ([`Message::authorization`](crate::Message::authorization),
    ///   [`DigestCredentials::parse`]); quoted values are compared as written
    ///   (escapes are not undone);
    /// * `user` is what is stored for `params.username` in this realm, or
    ///   `None` when there is no such user;
    /// * `counts`, when given, enforces a strictly increasing `nc` per nonce;
    /// * `now` is the wall-clock time (nonces carry wall-clock issue times so
    ///   that servers sharing a key agree).
    ///
    /// Never panics and never allocates, whatever the input.
    pub fn verify(
        &self,
        method: &[u8],
        request_uri: &[u8],
        params: &DigestCredentials<'_>,
        user: Option<&UserCredentials>,
        counts: Option<&mut NonceCounts>,
        now: UnixTime,
    ) -> DigestOutcome {
        use DigestOutcome as O;
        if !params.is_digest() {
            return O::Malformed(Malformed::Invalid(Field::Scheme));
        }
        macro_rules! need {
            ($field:ident, $name:ident) => {
                match params.$field {
                    Some(v) => v.as_bytes(),
                    None => return O::Malformed(Malformed::Missing(Field::$name)),
                }
            };
        }
        let _username = need!(username, Username);
        let realm = need!(realm, Realm);
        let nonce = need!(nonce, Nonce);
        let uri = need!(uri, Uri);
        let response = need!(response, Response);
        if realm != self.realm.as_bytes() {
            return O::RealmMismatch;
        }
        let algorithm = match params.algorithm {
            None => Algorithm::Md5,
            Some(token) => match Algorithm::from_token(token.as_bytes()) {
                Some(a) => a,
                None => return O::AlgorithmNotAllowed,
            },
        };
        if !self.algorithms.contains(&algorithm) {
            return O::AlgorithmNotAllowed;
        }
        let qop = need!(qop, Qop);
        if !qop.eq_ignore_ascii_case(b"auth") {
            return O::Malformed(Malformed::Invalid(Field::Qop));
        }
        let nc_text = need!(nc, Nc);
        let Some(nc) = parse_nc(nc_text) else {
            return O::Malformed(Malformed::Invalid(Field::Nc));
        };
        let cnonce = need!(cnonce, Cnonce);
        if cnonce.is_empty() {
            return O::Malformed(Malformed::Invalid(Field::Cnonce));
        }
        if let Some(expected) = &self.opaque {
            match params.opaque {
                None => return O::Malformed(Malformed::Missing(Field::Opaque)),
                Some(o) if o != expected => {
                    return O::Malformed(Malformed::Invalid(Field::Opaque));
                }
                Some(_) => {}
            }
        }
        let mut given_buf = [0u8; 32];
        if response.len() != algorithm.hex_len() {
            return O::Malformed(Malformed::Invalid(Field::Response));
        }
        let Ok(given) = base16ct::mixed::decode(response, &mut given_buf) else {
            return O::Malformed(Malformed::Invalid(Field::Response));
        };
        if self.check_uri && uri != request_uri {
            return O::UriMismatch;
        }
        let check = self.check_nonce(nonce, now);
        // The response is checked whatever the nonce: a wrong one is a
        // wrong password (counted), a right one on a nonce that is not
        // fresh says only that the nonce is stale, foreign (an earlier
        // key's, another server's), from the future or replayed. An
        // unknown user's answer is hashed too (against a decoy HA1), so
        // its time does not tell that the user does not exist.
        let (ha1, known) = match user.and_then(|u| u.get(algorithm)) {
            Some(ha1) => (ha1, true),
            None => (self.decoy(algorithm), false),
        };
        let expected = response_digest(ha1, method, uri, nonce, nc_text, cnonce, qop);
        let right = bool::from(expected.as_slice().ct_eq(given));
        if !known {
            return O::UnknownUser;
        }
        if !right {
            return O::WrongPassword;
        }
        match check {
            NonceCheck::Stale => O::StaleNonce,
            NonceCheck::Fresh { issued_ms, tag } => match counts {
                Some(counts) => match counts.record(tag, issued_ms, nc, now, self.lifetime_ms) {
                    true => O::Ok { algorithm },
                    false => O::InvalidNonce(NonceProblem::Replayed),
                },
                None => O::Ok { algorithm },
            },
            NonceCheck::Bad(problem) => O::InvalidNonce(problem),
        }
    }
}

/// Reads `nc`: exactly 8 hex digits, not zero.
fn parse_nc(text: &[u8]) -> Option<u32> {
    if text.len() != 8 {
        return None;
    }
    let mut value: u32 = 0;
    for &b in text {
        let d = char::from(b).to_digit(16)?;
        value = (value << 4) | d;
    }
    (value != 0).then_some(value)
}

fn response_digest(
    ha1: &Ha1,
    method: &[u8],
    uri: &[u8],
    nonce: &[u8],
    nc: &[u8],
    cnonce: &[u8],
    qop: &[u8],
) -> DigestBytes {
    let algorithm = ha1.algorithm;
    let mut h2 = Hasher::new(algorithm);
    h2.update(method);
    h2.update(b":");
    h2.update(uri);
    let ha2 = h2.finish();
    let mut ha2_hex = [0u8; 64];
    let ha2_hex = ha2.hex(&mut ha2_hex);
    let mut h = Hasher::new(algorithm);
    h.update(ha1.expose_hex().as_bytes());
    h.update(b":");
    h.update(nonce);
    h.update(b":");
    h.update(nc);
    h.update(b":");
    h.update(cnonce);
    h.update(b":");
    h.update(qop);
    h.update(b":");
    h.update(ha2_hex);
    h.finish()
}

/// The `response` a client with `ha1` sends for `method` and `params`
/// (`qop=auth`; `params.response` is ignored), in lower-case hex.
///
/// This is what a test client or a B2BUA authenticating upstream needs, and
/// what the known-answer tests check against RFC 2617 and RFC 7616.
pub fn expected_response(
    ha1: &Ha1,
    method: &[u8],
    params: &DigestCredentials<'_>,
) -> Result<String, Malformed> {
    fn need(v: Option<&str>, f: Field) -> Result<&[u8], Malformed> {
        v.map(str::as_bytes).ok_or(Malformed::Missing(f))
    }
    let uri = need(params.uri, Field::Uri)?;
    let nonce = need(params.nonce, Field::Nonce)?;
    let nc = need(params.nc, Field::Nc)?;
    let cnonce = need(params.cnonce, Field::Cnonce)?;
    let qop = need(params.qop, Field::Qop)?;
    if !qop.eq_ignore_ascii_case(b"auth") {
        return Err(Malformed::Invalid(Field::Qop));
    }
    let digest = response_digest(ha1, method, uri, nonce, nc, cnonce, qop);
    Ok(base16ct::lower::encode_string(digest.as_slice()))
}

/// Per-nonce `nc` state, bounded: the caller that wants replay protection
/// keeps one and passes it to [`DigestAuth::verify`].
///
/// It remembers the highest `nc` accepted for each of up to `capacity`
/// nonces; an answer with an `nc` not above it is refused as
/// [`NonceProblem::Replayed`]. Nonces past their lifetime are dropped first;
/// when it is full of live nonces the one recorded first is evicted, and its
/// issue time is remembered: any nonce not recorded but issued no later
/// than an evicted one is then refused as replayed (the client simply gets a
/// new challenge), so eviction never reopens a replay.
///
/// Memory: at most `capacity` entries of about 60 bytes (a 16-byte tag, the
/// count and issue time, map and queue overhead).
#[derive(Debug, Clone)]
pub struct NonceCounts {
    capacity: usize,
    map: HashMap<[u8; TAG_LEN], u32>,
    order: VecDeque<([u8; TAG_LEN], u64)>,
    evicted_up_to_ms: Option<u64>,
}

impl Default for NonceCounts {
    fn default() -> Self {
        Self::new(DEFAULT_NONCE_COUNTS_CAPACITY)
    }
}

impl NonceCounts {
    /// State for at most `capacity` nonces (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            map: HashMap::with_capacity(capacity.min(65_536)),
            order: VecDeque::with_capacity(capacity.min(65_536)),
            evicted_up_to_ms: None,
        }
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// `true` when none is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The capacity.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records `nc` for the nonce; `false` if it is a replay.
    fn record(
        &mut self,
        tag: [u8; TAG_LEN],
        issued_ms: u64,
        nc: u32,
        now: UnixTime,
        lifetime_ms: u64,
    ) -> bool {
        if let Some(last) = self.map.get_mut(&tag) {
            if nc <= *last {
                return false;
            }
            *last = nc;
            return true;
        }
        if self.evicted_up_to_ms.is_some_and(|t| issued_ms <= t) {
            return false;
        }
        // Drop expired nonces from the front (they are refused as stale anyway).
        let now_ms = now.as_millis();
        while let Some(&(old_tag, old_issued)) = self.order.front() {
            let expired = now_ms.saturating_sub(old_issued) > lifetime_ms;
            if !expired && self.order.len() < self.capacity {
                break;
            }
            self.order.pop_front();
            self.map.remove(&old_tag);
            if !expired {
                self.evicted_up_to_ms = Some(
                    self.evicted_up_to_ms
                        .map_or(old_issued, |t| t.max(old_issued)),
                );
            }
        }
        self.map.insert(tag, nc);
        self.order.push_back((tag, issued_ms));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tag(i: u8) -> [u8; TAG_LEN] {
        [i; TAG_LEN]
    }

    proptest! {
        /// Against an unbounded map of "highest nc accepted": a bounded
        /// `NonceCounts` never accepts what the model refuses, and agrees
        /// exactly while it holds every nonce used.
        #[test]
        fn nonce_counts_match_the_model(
            capacity in 1usize..8,
            ops in proptest::collection::vec((0u8..12, 1u32..6), 0..200),
        ) {
            let mut counts = NonceCounts::new(capacity);
            let mut model: HashMap<u8, u32> = HashMap::new();
            let now = UnixTime::from_secs(1_000);
            for (i, nc) in ops {
                let model_ok = model.get(&i).is_none_or(|&last| nc > last);
                let ok = counts.record(tag(i), u64::from(i), nc, now, 10_000_000);
                prop_assert!(!ok || model_ok, "accepted a replay: nonce {i} nc {nc}");
                if model_ok && ok {
                    model.insert(i, nc);
                }
                if model.len() <= capacity && ok != model_ok {
                    // Only allowed when the bounded state has evicted something.
                    prop_assert!(counts.evicted_up_to_ms.is_some());
                }
                prop_assert!(counts.len() <= capacity);
            }
        }

        /// With room for every nonce, the bounded state is the model.
        #[test]
        fn nonce_counts_with_room_are_exact(
            ops in proptest::collection::vec((0u8..8, 1u32..6), 0..200),
        ) {
            let mut counts = NonceCounts::new(8);
            let mut model: HashMap<u8, u32> = HashMap::new();
            let now = UnixTime::from_secs(1_000);
            for (i, nc) in ops {
                let model_ok = model.get(&i).is_none_or(|&last| nc > last);
                if model_ok {
                    model.insert(i, nc);
                }
                prop_assert_eq!(counts.record(tag(i), u64::from(i), nc, now, 10_000_000), model_ok);
            }
        }
    }

    #[test]
    fn parse_nc_reads_eight_hex_digits() {
        assert_eq!(parse_nc(b"00000001"), Some(1));
        assert_eq!(parse_nc(b"FFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_nc(b"0000000a"), Some(10));
        assert_eq!(parse_nc(b"00000000"), None);
        assert_eq!(parse_nc(b"0000001"), None);
        assert_eq!(parse_nc(b"+0000001"), None);
    }
}
