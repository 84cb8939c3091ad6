//! Random passwords that satisfy a policy, from the OS CSPRNG.
//!
//! ```
//! use pbxsec_password::{AccountInfo, Charset, PasswordPolicy};
//!
//! let policy = PasswordPolicy::portsip();
//! let account = AccountInfo::new().extension("1001");
//! let pw = policy.generate(8, Charset::Alphanumeric, &account)?; // like Yeastar's `AjK5Up1G`
//! assert_eq!(pw.expose().chars().count(), 8);
//! assert!(policy.check(&pw, &account).is_ok());
//! # Ok::<(), pbxsec_password::Error>(())
//! ```

use crate::account::AccountInfo;
use crate::error::{Error, Result, os_random};
use crate::policy::PasswordPolicy;
use crate::strength::{CharClass, POINTS_DIGIT, POINTS_LETTER, POINTS_SPECIAL};
use pbxsec_core::Secret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// How many random candidates [`generate`] tries before it gives up.
pub const MAX_ATTEMPTS: usize = 500;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const PRINTABLE_SPECIALS: &[u8] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// RFC 3261 `unreserved` marks minus the quote and parentheses, which break
/// quoting in provisioning files: safe inside a SIP URI's password part.
const SIP_SPECIALS: &[u8] = b"-_.!~*";

/// Which characters a generated password is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// Letters, digits and every printable ASCII special character (no space).
    Printable,
    /// Letters and digits only (Yeastar's generated `AjK5Up1G` style).
    Alphanumeric,
    /// SIP-friendly: letters, digits and `- _ . ! ~ *` only, all of which
    /// may appear unescaped in the password part of a SIP URI (RFC 3261
    /// `unreserved`) and in provisioning files.
    SipSafe,
    /// Digits only, for secrets typed on a phone keypad (PINs, voicemail).
    Keypad,
}

impl Charset {
    fn pool(self, class: CharClass) -> &'static [u8] {
        match (self, class) {
            (Self::Keypad, CharClass::Digit) => DIGITS,
            (Self::Keypad, _) => &[],
            (_, CharClass::Lower) => LOWER,
            (_, CharClass::Upper) => UPPER,
            (_, CharClass::Digit) => DIGITS,
            (Self::Printable, CharClass::Special) => PRINTABLE_SPECIALS,
            (Self::SipSafe, CharClass::Special) => SIP_SPECIALS,
            (_, CharClass::Special) => &[],
        }
    }

    fn has(self, class: CharClass) -> bool {
        !self.pool(class).is_empty()
    }
}

/// Uniform random numbers from the OS CSPRNG, read in blocks.
struct Rng {
    buf: Zeroizing<[u8; 256]>,
    pos: usize,
}

impl Rng {
    fn new() -> Self {
        Self {
            buf: Zeroizing::new([0; 256]),
            pos: 256,
        }
    }

    fn byte(&mut self) -> Result<u8> {
        if self.pos >= self.buf.len() {
            os_random(&mut self.buf[..])?;
            self.pos = 0;
        }
        let b = self.buf.get(self.pos).copied().unwrap_or_default();
        self.pos += 1;
        Ok(b)
    }

    /// Uniform in `0..n` (`n` in 1..=256), by rejection sampling.
    fn below(&mut self, n: usize) -> Result<usize> {
        if n <= 1 {
            return Ok(0);
        }
        let zone = 256 - 256 % n;
        loop {
            let b = usize::from(self.byte()?);
            if b < zone {
                return Ok(b % n);
            }
        }
    }

    fn pick(&mut self, pool: &[u8]) -> Result<u8> {
        let i = self.below(pool.len())?;
        Ok(pool.get(i).copied().unwrap_or(b'x'))
    }
}

fn unsat(reason: impl Into<String>) -> Error {
    Error::Unsatisfiable {
        reason: reason.into(),
    }
}

/// The classes a password must contain (one representative each), or an
/// error when `charset` lacks one.
fn required_classes(policy: &PasswordPolicy, charset: Charset) -> Result<Vec<CharClass>> {
    use CharClass::{Digit, Lower, Special, Upper};
    let c = policy.config();
    let mut need: Vec<CharClass> = Vec::new();
    let add = |k: CharClass, need: &mut Vec<CharClass>| {
        if !need.contains(&k) {
            need.push(k);
        }
    };
    if c.allow_weak {
        return Ok(need);
    }
    if c.require_lowercase {
        add(Lower, &mut need);
    }
    if c.require_uppercase {
        add(Upper, &mut need);
    }
    if c.require_digit {
        add(Digit, &mut need);
    }
    if c.require_special {
        add(Special, &mut need);
    }
    if c.require_letter && !need.contains(&Lower) && !need.contains(&Upper) {
        add(Lower, &mut need);
    }
    if c.require_uppercase_or_special && !need.contains(&Upper) && !need.contains(&Special) {
        add(if charset.has(Upper) { Upper } else { Special }, &mut need);
    }
    for k in &need {
        if !charset.has(*k) {
            return Err(unsat(format!(
                "the policy needs a {} and the {charset:?} character set has none",
                k.describe()
            )));
        }
    }
    if let Some(rule) = &c.min_classes {
        let mut listed = rule.of.clone();
        listed.sort_by_key(|k| *k as u8);
        listed.dedup();
        let mut have = listed.iter().filter(|k| need.contains(k)).count();
        for k in listed.iter().filter(|k| charset.has(**k)) {
            if have >= rule.at_least {
                break;
            }
            if !need.contains(k) {
                need.push(*k);
                have += 1;
            }
        }
        if have < rule.at_least {
            return Err(unsat(format!(
                "the policy needs {} kinds of character and the {charset:?} character set offers fewer",
                rule.at_least
            )));
        }
    }
    Ok(need)
}

/// Generates a random password of exactly `length` characters from
/// `charset` that `policy` accepts for `account`.
///
/// One character of each class the policy requires is placed first, the
/// rest are drawn uniformly from the whole character set, and the result is
/// shuffled (Fisher–Yates); every draw is uniform (rejection sampling on
/// bytes from the OS CSPRNG). The candidate is then checked against the
/// whole policy and redrawn if refused (a run, a blocklisted word, a low
/// score), up to [`MAX_ATTEMPTS`] times. The generator never returns a
/// password its policy refuses: it fails with [`Error::Unsatisfiable`] when
/// the length is outside the policy's bounds, the character set lacks a
/// required class, the points threshold is out of reach at this length, or
/// no candidate passed.
pub fn generate(
    policy: &PasswordPolicy,
    length: usize,
    charset: Charset,
    account: &AccountInfo,
) -> Result<Secret> {
    let c = policy.config();
    if length == 0 {
        return if c.allow_empty {
            Ok(Secret::new(""))
        } else {
            Err(unsat(
                "a length of 0 gives the empty password, which the policy refuses",
            ))
        };
    }
    if length < c.min_length || length > policy.max_length() {
        return Err(unsat(format!(
            "length {length} is outside the policy's {} to {} characters",
            c.min_length,
            policy.max_length()
        )));
    }
    let need = required_classes(policy, charset)?;
    if need.len() > length {
        return Err(unsat(format!(
            "{length} characters cannot hold the {} required kinds of character",
            need.len()
        )));
    }
    if let Some(min) = c.min_points.filter(|_| !c.allow_weak) {
        let best = [
            (CharClass::Special, POINTS_SPECIAL),
            (CharClass::Lower, POINTS_LETTER),
            (CharClass::Digit, POINTS_DIGIT),
        ]
        .into_iter()
        .find(|(k, _)| charset.has(*k))
        .map_or(0, |(_, p)| p);
        let reachable = u32::try_from(length)
            .unwrap_or(u32::MAX)
            .saturating_mul(best);
        if reachable < min {
            return Err(unsat(format!(
                "{length} characters of the {charset:?} set reach at most {reachable} points; the policy needs {min}"
            )));
        }
    }
    let alphabet: Vec<u8> = CharClass::ALL
        .iter()
        .flat_map(|k| charset.pool(*k).iter().copied())
        .collect();
    let mut rng = Rng::new();
    for _ in 0..MAX_ATTEMPTS {
        let mut pw: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(length));
        for k in &need {
            pw.push(rng.pick(charset.pool(*k))?);
        }
        while pw.len() < length {
            pw.push(rng.pick(&alphabet)?);
        }
        for i in (1..pw.len()).rev() {
            let j = rng.below(i + 1)?;
            pw.swap(i, j);
        }
        let candidate = Secret::new(pw.iter().map(|&b| char::from(b)).collect::<String>());
        if policy.check(&candidate, account).is_ok() {
            return Ok(candidate);
        }
    }
    Err(unsat(format!(
        "no random {length}-character password from the {charset:?} set passed the policy in {MAX_ATTEMPTS} attempts; allow a longer password or a larger character set"
    )))
}
