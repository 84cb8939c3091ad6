#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod account;
mod error;
pub mod generate;
pub mod hash;
mod history;
mod policy;
pub mod strength;

pub use account::{AccountField, AccountInfo, MAX_FIELD_CHARS, MAX_PHONE_NUMBERS};
pub use error::{Error, Result};
pub use generate::Charset;
pub use hash::{
    HashConfig, PasswordHasher, hash_password, needs_rehash, verify_password, verify_unknown_user,
};
pub use history::PasswordHistory;
pub use policy::{
    ClassRule, MAX_CONTEXT_WORDS, MAX_HISTORY, MAX_LENGTH_LIMIT, PasswordPolicies, PasswordPolicy,
    PoliciesConfig, PolicyConfig, SecretKind, Violation, ViolationCode,
};
pub use strength::CharClass;

#[cfg(feature = "totp")]
#[cfg_attr(docsrs, doc(cfg(feature = "totp")))]
pub mod second_factor;
