#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod digest;

pub use digest::{DigestAuth, DigestConfig, DigestOutcome, DigestParams};
