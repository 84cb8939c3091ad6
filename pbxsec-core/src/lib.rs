#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod addr;
pub mod clock;
pub mod duration;
mod error;
pub mod event;
mod secret;
mod verdict;

pub use addr::{canonical_ip, canonical_socket_addr};
pub use clock::{Clock, Instant, ManualClock, SystemClock, UnixTime};
pub use duration::{HumanDuration, format_duration, parse_duration};
pub use error::{DurationProblem, EXCERPT_CHARS, Error, Result, excerpt};
pub use event::{EventKind, SecurityEvent, Service, Severity, Transport};
pub use secret::Secret;
pub use verdict::{Reject, RejectReason, Verdict};
