#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
pub mod hash;

pub use error::{Error, Result};
pub use hash::{
    HashConfig, PasswordHasher, hash_password, needs_rehash, verify_password, verify_unknown_user,
};

#[cfg(feature = "totp")]
#[cfg_attr(docsrs, doc(cfg(feature = "totp")))]
pub mod second_factor;
