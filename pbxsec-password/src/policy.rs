//! Password policies: configuration, presets, and the check that reports
//! every violation.

use crate::account::{AccountField, AccountInfo};
use crate::error::{Error, Result};
use crate::hash::PasswordHasher;
use crate::history::PasswordHistory;
use crate::strength::{
    self, CharClass, Classes, VODIA_HIGH, VODIA_MEDIUM, longest_keyboard_run_chars,
    longest_repeated_run_chars, longest_sequential_run_chars, lower,
};
use pbxsec_core::Secret;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest password any policy accepts, in characters. A configured
/// `max_length` may not exceed it; with `max_length: null` it is the limit.
/// It keeps every check linear in a bounded input.
pub const MAX_LENGTH_LIMIT: usize = 4096;
/// The most past hashes a history rule may compare against.
pub const MAX_HISTORY: usize = 64;
/// The most context words a policy may carry.
pub const MAX_CONTEXT_WORDS: usize = 256;

/// "At least `at_least` of these classes" (the general class rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassRule {
    /// How many of `of` must be present.
    pub at_least: usize,
    /// The classes that count (default: all four).
    #[serde(default = "all_classes")]
    pub of: Vec<CharClass>,
}

fn all_classes() -> Vec<CharClass> {
    CharClass::ALL.to_vec()
}

/// A password policy as configuration data (serde, unknown fields refused).
///
/// Every rule is switchable. The defaults (`{}`) are deliberately
/// permissive: 8 to 128 characters, nothing else; the presets on
/// [`PasswordPolicy`] switch on what each product enforces. Lengths are
/// counted in Unicode scalar values (Rust `char`s), not bytes: `é` written
/// precomposed (U+00E9) is one character, written as `e` plus a combining
/// accent it is two, and an emoji built of several code points counts each
/// of them. No Unicode normalisation is applied.
///
/// "Strength rules" are all rules but length, empty and history; the
/// `allow_weak` switch turns them off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Minimum length in characters. Default 8.
    pub min_length: usize,
    /// Maximum length in characters (`null`: [`MAX_LENGTH_LIMIT`]). Default 128.
    pub max_length: Option<usize>,
    /// Accept the empty password (it then passes every rule). Default false.
    pub allow_empty: bool,
    /// Turn off every strength rule; the length bounds and the history stay. Default false.
    pub allow_weak: bool,
    /// At least one letter (any case). Default false.
    pub require_letter: bool,
    /// At least one ASCII digit. Default false.
    pub require_digit: bool,
    /// At least one lower-case letter. Default false.
    pub require_lowercase: bool,
    /// At least one upper-case letter. Default false.
    pub require_uppercase: bool,
    /// At least one special character. Default false.
    pub require_special: bool,
    /// At least one upper-case letter or special character (PortSIP). Default false.
    pub require_uppercase_or_special: bool,
    /// At least k of n classes. Default none.
    pub min_classes: Option<ClassRule>,
    /// Refuse ascending or descending letter/digit runs of this many
    /// characters or more (`4`: `1234`, `7890`, `Abcd`, `dcba`). Default none. At least 2.
    pub sequential_run: Option<usize>,
    /// Also refuse runs along QWERTY keyboard rows (`qwer`, `lkjh`) of
    /// `sequential_run` characters. Default false.
    pub keyboard_rows: bool,
    /// Refuse one character repeated this many times or more in a row
    /// (`3`: `222`, `Aaa`, `###`). Default none. At least 2.
    pub repeated_run: Option<usize>,
    /// Refuse passwords that contain account information (forwards or
    /// reversed, case-insensitive), ignoring fragments shorter than this many
    /// characters (so a 1-digit extension does not ban that digit).
    /// Default none (off). At least 1.
    pub account_info_min_fragment: Option<usize>,
    /// Minimum zxcvbn score, 0 to 4, account fields as user inputs. Default none.
    pub min_zxcvbn_score: Option<u8>,
    /// Minimum Vodia-style points ([`strength::vodia_points`]). Default none.
    pub min_points: Option<u32>,
    /// Refuse passwords on the common-password list ([`strength::is_common_password`]). Default false.
    pub blocklist: bool,
    /// Refuse passwords containing any of these words (case-insensitive):
    /// service name, company, product. Default empty.
    pub context_words: Vec<String>,
    /// Refuse the last N passwords (checked against stored hashes with
    /// [`PasswordPolicy::check_change`]). Default 0 (off).
    pub history: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: Some(128),
            allow_empty: false,
            allow_weak: false,
            require_letter: false,
            require_digit: false,
            require_lowercase: false,
            require_uppercase: false,
            require_special: false,
            require_uppercase_or_special: false,
            min_classes: None,
            sequential_run: None,
            keyboard_rows: false,
            repeated_run: None,
            account_info_min_fragment: None,
            min_zxcvbn_score: None,
            min_points: None,
            blocklist: false,
            context_words: Vec::new(),
            history: 0,
        }
    }
}

/// A stable, machine-readable violation code. Its `as_str` (and serde form)
/// never changes; messages may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationCode {
    /// `empty`: the password is empty and the policy does not allow that.
    Empty,
    /// `too_short`.
    TooShort,
    /// `too_long`.
    TooLong,
    /// `missing_letter`.
    MissingLetter,
    /// `missing_digit`.
    MissingDigit,
    /// `missing_lowercase`.
    MissingLowercase,
    /// `missing_uppercase`.
    MissingUppercase,
    /// `missing_special`.
    MissingSpecial,
    /// `missing_uppercase_or_special` (PortSIP).
    MissingUppercaseOrSpecial,
    /// `too_few_classes`.
    TooFewClasses,
    /// `sequential_run`: `1234`, `abcd`, `dcba`.
    SequentialRun,
    /// `keyboard_run`: `qwer`, `asdf`.
    KeyboardRun,
    /// `repeated_run`: `222`, `Aaa`.
    RepeatedRun,
    /// `account_info`: contains the extension, a name, ...
    AccountInfo,
    /// `weak_score`: zxcvbn score below the minimum.
    WeakScore,
    /// `low_points`: Vodia-style points below the minimum.
    LowPoints,
    /// `common_password`: on the blocklist.
    CommonPassword,
    /// `context_word`: contains a context word.
    ContextWord,
    /// `reused`: equal to one of the last N passwords.
    Reused,
}

impl ViolationCode {
    /// The stable code string, e.g. `"too_short"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::MissingLetter => "missing_letter",
            Self::MissingDigit => "missing_digit",
            Self::MissingLowercase => "missing_lowercase",
            Self::MissingUppercase => "missing_uppercase",
            Self::MissingSpecial => "missing_special",
            Self::MissingUppercaseOrSpecial => "missing_uppercase_or_special",
            Self::TooFewClasses => "too_few_classes",
            Self::SequentialRun => "sequential_run",
            Self::KeyboardRun => "keyboard_run",
            Self::RepeatedRun => "repeated_run",
            Self::AccountInfo => "account_info",
            Self::WeakScore => "weak_score",
            Self::LowPoints => "low_points",
            Self::CommonPassword => "common_password",
            Self::ContextWord => "context_word",
            Self::Reused => "reused",
        }
    }
}

impl fmt::Display for ViolationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: a stable code and a message telling the user what to
/// change. Neither ever contains the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The stable code.
    pub code: ViolationCode,
    /// A human message, e.g. "use at least 10 characters (this one has 7)".
    pub message: String,
    /// For [`ViolationCode::AccountInfo`]: which field was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<AccountField>,
}

impl Violation {
    fn new(code: ViolationCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A validated password policy.
///
/// How to drive it: build it once from a [`PolicyConfig`] (`try_from`) or a
/// preset; call [`check`](Self::check) with the candidate and the account it
/// belongs to, and show every returned [`Violation`] to the user; when the
/// policy keeps a history, call [`check_change`](Self::check_change) instead
/// when a password is changed, then [`PasswordHistory::push`] the new hash.
/// [`generate`](Self::generate) makes a random password it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    config: PolicyConfig,
    max_length: usize,
    context_words: Vec<String>,
}

fn cfg_err(field: &'static str, reason: impl Into<String>) -> Error {
    Error::PolicyConfig {
        field,
        reason: reason.into(),
    }
}

impl TryFrom<PolicyConfig> for PasswordPolicy {
    type Error = Error;

    fn try_from(config: PolicyConfig) -> Result<Self> {
        let max_length = config.max_length.unwrap_or(MAX_LENGTH_LIMIT);
        if max_length > MAX_LENGTH_LIMIT {
            return Err(cfg_err("max_length", format!("at most {MAX_LENGTH_LIMIT}")));
        }
        if max_length == 0 {
            return Err(cfg_err("max_length", "must be at least 1"));
        }
        if config.min_length > max_length {
            return Err(cfg_err(
                "min_length",
                format!("{} is above max_length {max_length}", config.min_length),
            ));
        }
        if let Some(rule) = &config.min_classes {
            let mut distinct = rule.of.clone();
            distinct.sort_by_key(|c| *c as u8);
            distinct.dedup();
            if rule.at_least == 0 || rule.at_least > distinct.len() {
                return Err(cfg_err(
                    "min_classes",
                    format!(
                        "at_least must be 1 to the number of distinct classes listed ({})",
                        distinct.len()
                    ),
                ));
            }
        }
        for (field, run) in [
            ("sequential_run", config.sequential_run),
            ("repeated_run", config.repeated_run),
        ] {
            if run.is_some_and(|n| n < 2) {
                return Err(cfg_err(field, "a run is at least 2 characters"));
            }
        }
        if config.keyboard_rows && config.sequential_run.is_none() {
            return Err(cfg_err(
                "keyboard_rows",
                "needs sequential_run (the run length) to be set",
            ));
        }
        if config.account_info_min_fragment == Some(0) {
            return Err(cfg_err("account_info_min_fragment", "at least 1"));
        }
        if config.min_zxcvbn_score.is_some_and(|s| s > 4) {
            return Err(cfg_err("min_zxcvbn_score", "zxcvbn scores are 0 to 4"));
        }
        if config.history > MAX_HISTORY {
            return Err(cfg_err("history", format!("at most {MAX_HISTORY}")));
        }
        if config.context_words.len() > MAX_CONTEXT_WORDS {
            return Err(cfg_err(
                "context_words",
                format!("at most {MAX_CONTEXT_WORDS} words"),
            ));
        }
        let mut context_words = Vec::new();
        for w in &config.context_words {
            let w = w.trim().to_lowercase();
            if w.is_empty() || w.chars().count() > 64 {
                return Err(cfg_err("context_words", "each word has 1 to 64 characters"));
            }
            context_words.push(w);
        }
        if config.min_zxcvbn_score.is_some() {
            // zxcvbn builds its dictionaries on first use (tens of ms);
            // pay that here, at load time, not inside the first check.
            let _ = strength::zxcvbn_score("warm-up", &[]);
        }
        Ok(Self {
            config,
            max_length,
            context_words,
        })
    }
}

fn preset(config: PolicyConfig) -> PasswordPolicy {
    // Presets are valid by construction (the preset tests build each one
    // through `try_from`); fall back to the unchecked value rather than panic.
    PasswordPolicy::try_from(config.clone()).unwrap_or_else(|_| PasswordPolicy {
        max_length: config.max_length.unwrap_or(MAX_LENGTH_LIMIT),
        context_words: Vec::new(),
        config,
    })
}

impl Default for PasswordPolicy {
    /// The policy of `PolicyConfig::default()`: 8 to 128 characters.
    fn default() -> Self {
        preset(PolicyConfig::default())
    }
}

impl PasswordPolicy {
    /// PortSIP PBX's extension password rule: 8 to 32 characters, at least
    /// one letter, one digit, and one upper-case letter or special character;
    /// no sequential run of 4 (`1234`, `abcd`), no character repeated 3 times
    /// (`222`), and not containing the extension number or the user's names
    /// (fragments of 3 characters or more).
    pub fn portsip() -> Self {
        preset(PolicyConfig {
            min_length: 8,
            max_length: Some(32),
            require_letter: true,
            require_digit: true,
            require_uppercase_or_special: true,
            sequential_run: Some(4),
            repeated_run: Some(3),
            account_info_min_fragment: Some(3),
            ..PolicyConfig::default()
        })
    }

    fn yeastar(min_length: usize, history: usize) -> Self {
        preset(PolicyConfig {
            min_length,
            max_length: Some(63),
            require_lowercase: true,
            require_uppercase: true,
            require_digit: true,
            sequential_run: Some(4),
            repeated_run: Some(3),
            account_info_min_fragment: Some(3),
            history,
            ..PolicyConfig::default()
        })
    }

    /// Yeastar P-Series user (web login) password: at least 10 characters
    /// (at most 63), upper-case, lower-case and digits, no sequential run of
    /// 4 or repeated run of 3, no extension number or names, and not one of
    /// the last 3 passwords.
    pub fn yeastar_user() -> Self {
        Self::yeastar(10, 3)
    }

    /// Yeastar P-Series SIP registration password: as [`yeastar_user`](Self::yeastar_user)
    /// with a floor of 8 characters and no history (the registration password
    /// is stored recoverably for provisioning, so there are no hashes to compare).
    pub fn yeastar_sip() -> Self {
        Self::yeastar(8, 0)
    }

    /// Vodia's "medium" password strength: at least 120 points
    /// ([`strength::vodia_points`]: digits 10, letters 26), non-empty.
    pub fn vodia_medium() -> Self {
        preset(PolicyConfig {
            min_length: 1,
            min_points: Some(VODIA_MEDIUM),
            ..PolicyConfig::default()
        })
    }

    /// Vodia's "high" password strength: at least 200 points, non-empty.
    pub fn vodia_high() -> Self {
        preset(PolicyConfig {
            min_length: 1,
            min_points: Some(VODIA_HIGH),
            ..PolicyConfig::default()
        })
    }

    fn nist(min_length: usize) -> Self {
        preset(PolicyConfig {
            min_length,
            max_length: Some(128),
            blocklist: true,
            account_info_min_fragment: Some(4),
            ..PolicyConfig::default()
        })
    }

    /// NIST SP 800-63B rev. 4 for a password that is the only factor:
    /// at least 15 characters, up to 128 accepted (NIST: at least 64), no
    /// composition rules, refused when on the common-password blocklist or
    /// when it contains account information (fragments of 4 characters or
    /// more). Add your service name to `context_words` through
    /// [`PolicyConfig`] (see [`config`](Self::config)).
    pub fn nist_single_factor() -> Self {
        Self::nist(15)
    }

    /// NIST SP 800-63B rev. 4 for a password used with a second factor: as
    /// [`nist_single_factor`](Self::nist_single_factor) with a floor of 8.
    pub fn nist_with_second_factor() -> Self {
        Self::nist(8)
    }

    /// The configuration this policy was built from.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The longest password accepted, in characters.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Checks `password` against every rule except the history, and returns
    /// `Ok(())` or **all** violations.
    pub fn check(&self, password: &Secret, account: &AccountInfo) -> Result<(), Vec<Violation>> {
        let v = self.violations(password.expose(), account);
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    /// [`check`](Self::check) plus the history rule: the password must not
    /// verify against any of the newest `history` hashes in `history`.
    /// Costs one argon2 verification per compared hash.
    pub fn check_change(
        &self,
        password: &Secret,
        account: &AccountInfo,
        history: &PasswordHistory,
        hasher: &PasswordHasher,
    ) -> Result<(), Vec<Violation>> {
        let mut v = self.violations(password.expose(), account);
        if self.config.history > 0
            && !password.is_empty()
            && history.contains(password, hasher, self.config.history)
        {
            v.push(Violation::new(
                ViolationCode::Reused,
                format!(
                    "choose a password you have not used before (the last {} are remembered)",
                    self.config.history
                ),
            ));
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    /// Every violation of `password` (the history aside), in rule order.
    pub fn violations(&self, password: &str, account: &AccountInfo) -> Vec<Violation> {
        use ViolationCode as C;
        let c = &self.config;
        let mut out = Vec::new();
        if password.is_empty() {
            if !c.allow_empty {
                out.push(Violation::new(
                    C::Empty,
                    "enter a password; an empty password is not allowed",
                ));
            }
            return out;
        }
        // Count up to one past the limit, then look only at that much: a
        // 10 MB input costs no more than a MAX_LENGTH_LIMIT one.
        let chars: Vec<char> = password.chars().take(self.max_length + 1).collect();
        let len = chars.len();
        if len < c.min_length {
            out.push(Violation::new(
                C::TooShort,
                format!(
                    "use at least {} characters (this one has {len})",
                    c.min_length
                ),
            ));
        }
        if len > self.max_length {
            out.push(Violation::new(
                C::TooLong,
                format!("use at most {} characters", self.max_length),
            ));
        }
        if c.allow_weak {
            return out;
        }
        let classes = Classes::of(&chars);
        let has = |k| classes.has(k);
        let letter = has(CharClass::Lower) || has(CharClass::Upper);
        if c.require_letter && !letter {
            out.push(Violation::new(C::MissingLetter, "add at least one letter"));
        }
        if c.require_digit && !has(CharClass::Digit) {
            out.push(Violation::new(
                C::MissingDigit,
                "add at least one digit (0-9)",
            ));
        }
        if c.require_lowercase && !has(CharClass::Lower) {
            out.push(Violation::new(
                C::MissingLowercase,
                "add at least one lower-case letter",
            ));
        }
        if c.require_uppercase && !has(CharClass::Upper) {
            out.push(Violation::new(
                C::MissingUppercase,
                "add at least one upper-case letter",
            ));
        }
        if c.require_special && !has(CharClass::Special) {
            out.push(Violation::new(
                C::MissingSpecial,
                "add at least one special character such as ! # * or -",
            ));
        }
        if c.require_uppercase_or_special && !has(CharClass::Upper) && !has(CharClass::Special) {
            out.push(Violation::new(
                C::MissingUppercaseOrSpecial,
                "add at least one upper-case letter or special character",
            ));
        }
        if let Some(rule) = &c.min_classes {
            let mut listed = rule.of.clone();
            listed.sort_by_key(|k| *k as u8);
            listed.dedup();
            let present = listed.iter().filter(|k| has(**k)).count();
            if present < rule.at_least {
                let names: Vec<&str> = listed.iter().map(|k| k.describe()).collect();
                out.push(Violation::new(
                    C::TooFewClasses,
                    format!(
                        "use at least {} of these kinds of character: {} (this one has {present})",
                        rule.at_least,
                        names.join(", ")
                    ),
                ));
            }
        }
        if let Some(n) = c.sequential_run {
            if longest_sequential_run_chars(&chars) >= n {
                out.push(Violation::new(
                    C::SequentialRun,
                    format!(
                        "avoid {n} or more consecutive letters or digits in order, such as 1234, 7890, abcd or dcba"
                    ),
                ));
            }
            if c.keyboard_rows && longest_keyboard_run_chars(&chars) >= n {
                out.push(Violation::new(
                    C::KeyboardRun,
                    format!("avoid {n} or more neighbouring keys of a keyboard row, such as qwer or asdf"),
                ));
            }
        }
        if let Some(n) = c.repeated_run {
            if longest_repeated_run_chars(&chars) >= n {
                out.push(Violation::new(
                    C::RepeatedRun,
                    format!(
                        "avoid repeating a character {n} or more times in a row, such as 222 or aaa"
                    ),
                ));
            }
        }
        if let Some(min) = c.account_info_min_fragment {
            let lowered: Vec<char> = chars.iter().map(|&ch| lower(ch)).collect();
            for field in account.found_in(&lowered, min) {
                out.push(Violation {
                    code: C::AccountInfo,
                    message: format!(
                        "do not use your {} in the password, forwards or backwards",
                        field.describe()
                    ),
                    field: Some(field),
                });
            }
        }
        if !self.context_words.is_empty() {
            let lowered: String = chars.iter().map(|&ch| lower(ch)).collect();
            if self
                .context_words
                .iter()
                .any(|w| lowered.contains(w.as_str()))
            {
                out.push(Violation::new(
                    C::ContextWord,
                    "do not use the name of this service, company or product in the password",
                ));
            }
        }
        if c.blocklist && strength::is_common_password(password) {
            out.push(Violation::new(
                C::CommonPassword,
                "this password is on a list of common or breached passwords; choose another",
            ));
        }
        if let Some(min) = c.min_points {
            let points = strength::points_of(chars.iter().copied());
            if points < min {
                out.push(Violation::new(
                    C::LowPoints,
                    format!(
                        "make the password stronger: it scores {points} points and needs {min} (add characters; letters earn 26, digits 10, others 33)"
                    ),
                ));
            }
        }
        if let Some(min) = c.min_zxcvbn_score {
            let inputs = account_inputs(account);
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let score = strength::zxcvbn_score(password, &inputs);
            if score < min {
                out.push(Violation::new(
                    C::WeakScore,
                    format!(
                        "the password is too easy to guess (strength {score} of 4, {min} needed); use a longer mix of unrelated words or random characters"
                    ),
                ));
            }
        }
        out
    }

    /// Generates a random password of `length` characters from `charset`
    /// that this policy accepts for `account` (see [`crate::generate`]).
    pub fn generate(
        &self,
        length: usize,
        charset: crate::generate::Charset,
        account: &AccountInfo,
    ) -> Result<Secret> {
        crate::generate::generate(self, length, charset, account)
    }
}

/// The account fields handed to zxcvbn as user inputs.
fn account_inputs(account: &AccountInfo) -> Vec<String> {
    let mut v = Vec::new();
    for s in [
        &account.extension,
        &account.user_name,
        &account.first_name,
        &account.last_name,
        &account.email,
    ] {
        if !s.is_empty() {
            v.push(s.clone());
        }
    }
    if let Some(local) = account.email.split('@').next().filter(|l| !l.is_empty()) {
        v.push(local.to_owned());
    }
    v.extend(
        account
            .phone_numbers
            .iter()
            .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|p| !p.is_empty()),
    );
    v
}

/// Which secret of an extension a policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// The SIP registration password phones use (stored recoverably or as HA1).
    SipRegistration,
    /// The user's web / portal password (stored as an argon2id hash).
    User,
}

/// The two policies of a PBX: one for SIP registration passwords, one for
/// user (web) passwords. They are different secrets with different floors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoliciesConfig {
    /// The SIP registration password policy.
    pub sip_registration: PolicyConfig,
    /// The user (web login) password policy.
    pub user: PolicyConfig,
}

/// Validated [`PoliciesConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicies {
    /// For SIP registration passwords.
    pub sip_registration: PasswordPolicy,
    /// For user (web login) passwords.
    pub user: PasswordPolicy,
}

impl TryFrom<PoliciesConfig> for PasswordPolicies {
    type Error = Error;

    fn try_from(c: PoliciesConfig) -> Result<Self> {
        Ok(Self {
            sip_registration: PasswordPolicy::try_from(c.sip_registration)?,
            user: PasswordPolicy::try_from(c.user)?,
        })
    }
}

impl PasswordPolicies {
    /// The policy for `kind`.
    pub fn for_kind(&self, kind: SecretKind) -> &PasswordPolicy {
        match kind {
            SecretKind::SipRegistration => &self.sip_registration,
            SecretKind::User => &self.user,
        }
    }

    /// PortSIP: the same rule for both secrets ([`PasswordPolicy::portsip`]).
    pub fn portsip() -> Self {
        Self {
            sip_registration: PasswordPolicy::portsip(),
            user: PasswordPolicy::portsip(),
        }
    }

    /// Yeastar P-Series: [`PasswordPolicy::yeastar_sip`] (≥ 8) and
    /// [`PasswordPolicy::yeastar_user`] (≥ 10, last 3 remembered).
    pub fn yeastar() -> Self {
        Self {
            sip_registration: PasswordPolicy::yeastar_sip(),
            user: PasswordPolicy::yeastar_user(),
        }
    }

    /// NIST SP 800-63B rev. 4: the SIP password is the only factor a phone
    /// has ([`PasswordPolicy::nist_single_factor`], ≥ 15); the user password
    /// is assumed to be used with a second factor
    /// ([`PasswordPolicy::nist_with_second_factor`], ≥ 8).
    pub fn nist() -> Self {
        Self {
            sip_registration: PasswordPolicy::nist_single_factor(),
            user: PasswordPolicy::nist_with_second_factor(),
        }
    }
}
