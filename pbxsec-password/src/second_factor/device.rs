//! Trusted-device tokens: "remember this device for N days" so a browser or
//! softphone that passed the second factor once can skip it until then.
//!
//! A token is an HMAC-SHA-256 signature with a server key over
//! `(user, device id, generation, expiry)`, encoded in unpadded base64url
//! (`A–Z a–z 0–9 - _`, safe in a cookie value without quoting). Nothing is
//! stored per device: the server keeps one key and, per user, a
//! **generation** number. Bumping the generation (`generation += 1` in the
//! user record, for example on "sign out everywhere", password change or a
//! lost phone) revokes every token that user holds.
//!
//! Binary layout before encoding (all integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, `1` |
//! | 8 | the user's generation when issued |
//! | 8 | expiry, Unix milliseconds |
//! | 1 + n | user name, length-prefixed (n ≤ 128) |
//! | 1 + m | device id, length-prefixed (m ≤ 128) |
//! | 32 | HMAC-SHA-256 over a domain label and every byte above |

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use pbxsec_core::{Secret, UnixTime};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{Error, Rejection, Result, rng};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"pbxsec trusted-device token v1\0";
const MAC_LEN: usize = 32;
/// Longest user name or device id a token carries, in bytes.
pub const MAX_FIELD_LEN: usize = 128;
const MAX_RAW_LEN: usize = 1 + 8 + 8 + 1 + MAX_FIELD_LEN + 1 + MAX_FIELD_LEN + MAC_LEN;
/// Longest token [`DeviceTokens::verify`] will look at, in characters;
/// anything longer is [`Rejection::Malformed`] without being decoded.
pub const MAX_TOKEN_LEN: usize = MAX_RAW_LEN.div_ceil(3) * 4;

/// The server key that signs device tokens: at least 32 bytes, never
/// printed, wiped on drop. Load it from a secret store or a config file
/// (base64 or hex is the application's choice); every server that verifies
/// tokens needs the same key. Replacing the key revokes every token.
#[derive(Clone)]
pub struct DeviceKey(Zeroizing<Vec<u8>>);

impl DeviceKey {
    /// Shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A new random 32-byte key from the OS CSPRNG.
    pub fn generate() -> Result<Self> {
        rng::bytes(Self::MIN_LEN).map(Self)
    }

    /// A key from raw bytes (at least 32).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < Self::MIN_LEN {
            return Err(Error::Config {
                field: "device_key",
                problem: format!(
                    "{} bytes is too short; at least {} are required",
                    bytes.len(),
                    Self::MIN_LEN
                ),
            });
        }
        Ok(Self(bytes))
    }

    /// The raw bytes, on purpose (to save a generated key).
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(***)")
    }
}

/// Trusted-device settings as written in a config file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceTokenConfig {
    /// How long a device stays trusted after the second factor, from
    /// 1 minute to 400 days (the longest cookie lifetime browsers keep).
    /// Default 30 days.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub lifetime: Duration,
}

impl DeviceTokenConfig {
    /// Default lifetime: 30 days.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
    /// Longest lifetime: 400 days, the cap Chrome and the cookie RFC draft
    /// (RFC 6265bis) put on a cookie's `Max-Age`.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(400 * 86_400);

    /// "Remember this device for `days` days."
    pub const fn remember_for_days(days: u64) -> Self {
        Self {
            lifetime: Duration::from_secs(days.saturating_mul(86_400)),
        }
    }
}

impl Default for DeviceTokenConfig {
    fn default() -> Self {
        Self {
            lifetime: Self::DEFAULT_LIFETIME,
        }
    }
}

/// A device token that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedDevice {
    /// The device id the token was issued for.
    pub device_id: String,
    /// When the token expires.
    pub expires_at: UnixTime,
}

/// Issues and verifies trusted-device tokens.
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::UnixTime;
/// use pbxsec_password::second_factor::{DeviceKey, DeviceTokenConfig, DeviceTokens, Rejection};
///
/// let tokens = DeviceTokens::new(DeviceKey::generate()?, DeviceTokenConfig::remember_for_days(30))?;
/// let now = UnixTime::from_secs(1_800_000_000);
/// let generation = 0; // stored with the user
/// let cookie = tokens.issue("alice", "laptop-7f3a", generation, now)?;
/// let device = tokens.verify(cookie.expose(), "alice", generation, now).unwrap();
/// assert_eq!(device.device_id, "laptop-7f3a");
/// // 31 days later the device must pass the second factor again.
/// let later = now.saturating_add(Duration::from_secs(31 * 86_400));
/// assert_eq!(tokens.verify(cookie.expose(), "alice", generation, later), Err(Rejection::Expired));
/// // "Sign out all devices": bump the generation.
/// assert_eq!(tokens.verify(cookie.expose(), "alice", generation + 1, now), Err(Rejection::Revoked));
/// # Ok::<(), pbxsec_password::second_factor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DeviceTokens {
    key: DeviceKey,
    lifetime: Duration,
}

impl DeviceTokens {
    /// Validates `config` and keeps `key`.
    pub fn new(key: DeviceKey, config: DeviceTokenConfig) -> Result<Self> {
        if config.lifetime < Duration::from_secs(60)
            || config.lifetime > DeviceTokenConfig::MAX_LIFETIME
        {
            return Err(Error::Config {
                field: "lifetime",
                problem: format!("{:?} is not from 1 minute to 400 days", config.lifetime),
            });
        }
        Ok(Self {
            key,
            lifetime: config.lifetime,
        })
    }

    /// How long a token lives: use it as the cookie's `Max-Age`.
    pub const fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new random device id (128 bits, base64url), for when the client has
    /// none of its own.
    pub fn new_device_id() -> Result<String> {
        Ok(URL_SAFE_NO_PAD.encode(rng::bytes(16)?.as_slice()))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(DOMAIN);
        mac
    }

    /// A token for `user` on `device_id` at the user's current
    /// `generation`, valid for the configured lifetime from `at`. It is a
    /// bearer credential, hence a [`Secret`]: put it in a `Secure; HttpOnly;
    /// SameSite=Strict` cookie.
    pub fn issue(
        &self,
        user: &str,
        device_id: &str,
        generation: u64,
        at: UnixTime,
    ) -> Result<Secret> {
        let user_len = field_len("user", user)?;
        let device_len = field_len("device id", device_id)?;
        let expires = at.saturating_add(self.lifetime);
        let mut raw = Zeroizing::new(Vec::with_capacity(MAX_RAW_LEN));
        raw.push(VERSION);
        raw.extend_from_slice(&generation.to_be_bytes());
        raw.extend_from_slice(&expires.as_millis().to_be_bytes());
        raw.push(user_len);
        raw.extend_from_slice(user.as_bytes());
        raw.push(device_len);
        raw.extend_from_slice(device_id.as_bytes());
        let mut mac = self.mac();
        mac.update(&raw);
        raw.extend_from_slice(&mac.finalize().into_bytes());
        Ok(Secret::from(URL_SAFE_NO_PAD.encode(raw.as_slice())))
    }

    /// Checks a token presented for `user`, whose current generation is
    /// `generation`, at time `at`.
    ///
    /// The signature is checked (in constant time) before any field is
    /// believed. Then: another user's token is [`Rejection::WrongUser`], an
    /// older generation [`Rejection::Revoked`], a token at or past its
    /// expiry [`Rejection::Expired`].
    pub fn verify(
        &self,
        token: &str,
        user: &str,
        generation: u64,
        at: UnixTime,
    ) -> Result<TrustedDevice, Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::Malformed);
        }
        let raw = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| Rejection::Malformed)?,
        );
        let body_len = raw.len().checked_sub(MAC_LEN).ok_or(Rejection::Malformed)?;
        let (body, tag) = raw.split_at(body_len);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| Rejection::Invalid)?;
        let parsed = Parsed::read(body).ok_or(Rejection::Malformed)?;
        if parsed.user != user.as_bytes() {
            return Err(Rejection::WrongUser);
        }
        if parsed.generation != generation {
            return Err(Rejection::Revoked);
        }
        if at >= parsed.expires {
            return Err(Rejection::Expired);
        }
        let device_id = std::str::from_utf8(parsed.device).map_err(|_| Rejection::Malformed)?;
        Ok(TrustedDevice {
            device_id: device_id.to_owned(),
            expires_at: parsed.expires,
        })
    }
}

fn field_len(field: &'static str, value: &str) -> Result<u8> {
    let len = value.len();
    match u8::try_from(len) {
        Ok(n) if len <= MAX_FIELD_LEN => Ok(n),
        _ => Err(Error::TokenField {
            field,
            len,
            max: MAX_FIELD_LEN,
        }),
    }
}

struct Parsed<'a> {
    generation: u64,
    expires: UnixTime,
    user: &'a [u8],
    device: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn read(body: &'a [u8]) -> Option<Self> {
        let (&version, rest) = body.split_first()?;
        if version != VERSION {
            return None;
        }
        let (generation, rest) = read_u64(rest)?;
        let (expires, rest) = read_u64(rest)?;
        let (user, rest) = read_field(rest)?;
        let (device, rest) = read_field(rest)?;
        if !rest.is_empty() {
            return None;
        }
        Some(Self {
            generation,
            expires: UnixTime::from_millis(expires),
            user,
            device,
        })
    }
}

fn read_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}

fn read_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    let len = usize::from(len);
    if len > MAX_FIELD_LEN || rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}
