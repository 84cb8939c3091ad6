#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
pub mod digest;
mod error;
mod frame;
mod message;
mod name;
mod text;
pub mod tracker;
pub mod ua;
mod validate;
mod values;

pub use auth::{AuthParam, AuthParams, DigestChallenge, DigestCredentials};
pub use error::{
    ConfigProblem, Error, InvalidProblem, ListProblem, Result, ScanProblem, ValueProblem,
};
pub use frame::{Frame, frame};
pub use message::{
    DEFAULT_MAX_HEADERS, DEFAULT_MAX_LINE_LEN, DEFAULT_MAX_MESSAGE_SIZE, Header, Headers, Limits,
    Message, StartLine, scan,
};
pub use name::HeaderName;
pub use values::{CSeq, DisplayName, NameAddr, Param, Params, Uri, Via, unescape};

pub use digest::{DigestAuth, DigestConfig, DigestOutcome};
pub use tracker::{Decision, Packet, Report, Seen, Tracker, TrackerConfig};
