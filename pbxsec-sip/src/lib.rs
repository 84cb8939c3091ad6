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
mod ua;
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
pub use ua::{
    DEFAULT_SCANNERS, Detection, ExtensionUaConfig, ExtensionUaPolicy, ExtensionUaRule, Field,
    KnownScanner, MISSING_UA_METHODS, MatchMode, Rule, RuleConfig, SignatureConfig, Signatures,
    Strength, UaPolicy, parse_line_list, parse_vodia_list, write_line_list, write_vodia_list,
};
pub use values::{CSeq, DisplayName, NameAddr, Param, Params, Uri, Via, unescape};

pub use digest::{DigestAuth, DigestConfig, DigestOutcome};
pub use tracker::{Decision, Packet, Report, Seen, Tracker, TrackerConfig};
