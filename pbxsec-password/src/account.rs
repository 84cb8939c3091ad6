//! What the policy knows about the account a password belongs to.

use serde::{Deserialize, Serialize};

/// The longest part of any account field the policy looks at, in characters.
/// Fields come from a user database; a longer value is cut here so a check
/// stays cheap whatever the database holds.
pub const MAX_FIELD_CHARS: usize = 128;
/// The most phone numbers the policy looks at.
pub const MAX_PHONE_NUMBERS: usize = 8;

/// The account a password belongs to: every field is optional (empty).
///
/// The policy refuses passwords that contain any of these (see
/// [`crate::PolicyConfig::account_info_min_fragment`]) and passes them to
/// zxcvbn as user inputs.
///
/// ```
/// use pbxsec_password::AccountInfo;
///
/// let account = AccountInfo::new()
///     .extension("1001")
///     .user_name("jsmith")
///     .name("John", "Smith")
///     .email("john.smith@example.com")
///     .phone_number("+49 30 1234567");
/// assert_eq!(account.last_name, "Smith");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountInfo {
    /// Extension number, e.g. `1001`.
    pub extension: String,
    /// Login or user name.
    pub user_name: String,
    /// First (given) name.
    pub first_name: String,
    /// Last (family) name.
    pub last_name: String,
    /// E-mail address; its local part (before `@`) is what is checked.
    pub email: String,
    /// Phone numbers (mobile, DID, ...); only their digits are checked.
    pub phone_numbers: Vec<String>,
}

impl AccountInfo {
    /// An account with no information.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the extension number.
    #[must_use]
    pub fn extension(mut self, v: impl Into<String>) -> Self {
        self.extension = v.into();
        self
    }

    /// Sets the user name.
    #[must_use]
    pub fn user_name(mut self, v: impl Into<String>) -> Self {
        self.user_name = v.into();
        self
    }

    /// Sets first and last name.
    #[must_use]
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> Self {
        self.first_name = first.into();
        self.last_name = last.into();
        self
    }

    /// Sets the e-mail address.
    #[must_use]
    pub fn email(mut self, v: impl Into<String>) -> Self {
        self.email = v.into();
        self
    }

    /// Adds a phone number.
    #[must_use]
    pub fn phone_number(mut self, v: impl Into<String>) -> Self {
        self.phone_numbers.push(v.into());
        self
    }

    /// The fields whose information the lower-cased password `lowered`
    /// contains, forwards or backwards, each field once.
    ///
    /// Each field is looked at whole and in parts split at characters that
    /// are neither letters nor digits (`john.smith` gives `john.smith`,
    /// `john` and `smith`), lower-cased; phone numbers as their digits.
    /// Fragments shorter than `min` characters are ignored. Passwords of up
    /// to [`NAIVE_SEARCH_CHARS`] characters are searched by comparing
    /// windows (no set-up cost, the common case); longer ones with the
    /// linear-time `str::contains`, so the cost stays linear.
    pub(crate) fn found_in(&self, lowered: &[char], min: usize) -> Vec<AccountField> {
        let long = lowered.len() > NAIVE_SEARCH_CHARS;
        let (fwd, rev): (String, String) = if long {
            (lowered.iter().collect(), lowered.iter().rev().collect())
        } else {
            (String::new(), String::new())
        };
        let hit = |needle: &[char]| {
            let m = needle.len();
            if m < min || m > lowered.len() || m == 0 {
                return false;
            }
            if long {
                let n: String = needle.iter().collect();
                fwd.contains(n.as_str()) || rev.contains(n.as_str())
            } else {
                lowered
                    .windows(m)
                    .any(|w| w == needle || w.iter().rev().eq(needle.iter()))
            }
        };
        let mut found = Vec::new();
        let mut buf: Vec<char> = Vec::new();
        let local = self.email.split('@').next().unwrap_or_default();
        for (field, value) in [
            (AccountField::Extension, self.extension.as_str()),
            (AccountField::UserName, self.user_name.as_str()),
            (AccountField::FirstName, self.first_name.as_str()),
            (AccountField::LastName, self.last_name.as_str()),
            (AccountField::Email, local),
        ] {
            buf.clear();
            buf.extend(
                value
                    .trim()
                    .chars()
                    .take(MAX_FIELD_CHARS)
                    .flat_map(char::to_lowercase),
            );
            if buf.is_empty() {
                continue;
            }
            let whole = buf.as_slice();
            let split = whole.iter().any(|c| !c.is_alphanumeric());
            if hit(whole)
                || (split
                    && whole
                        .split(|c| !c.is_alphanumeric())
                        .any(|part| !part.is_empty() && hit(part)))
            {
                found.push(field);
            }
        }
        for phone in self.phone_numbers.iter().take(MAX_PHONE_NUMBERS) {
            buf.clear();
            buf.extend(
                phone
                    .chars()
                    .take(MAX_FIELD_CHARS)
                    .filter(char::is_ascii_digit),
            );
            if hit(&buf) {
                found.push(AccountField::PhoneNumber);
                break;
            }
        }
        found
    }
}

/// Up to this many characters, [`AccountInfo::found_in`] compares windows
/// directly; longer passwords use `str::contains`.
const NAIVE_SEARCH_CHARS: usize = 64;

/// Which account field a password contained (see
/// [`crate::ViolationCode::AccountInfo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccountField {
    /// The extension number.
    Extension,
    /// The user name.
    UserName,
    /// The first name.
    FirstName,
    /// The last name.
    LastName,
    /// The e-mail local part.
    Email,
    /// A phone number.
    PhoneNumber,
}

impl AccountField {
    /// The field's name as users read it ("extension number", "last name", ...).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Extension => "extension number",
            Self::UserName => "user name",
            Self::FirstName => "first name",
            Self::LastName => "last name",
            Self::Email => "e-mail address",
            Self::PhoneNumber => "phone number",
        }
    }
}
