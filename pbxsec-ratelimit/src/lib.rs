#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod ban;
mod concurrency;
mod error;
pub mod key;
mod presets;
mod rate;
pub mod table;
mod threshold;
mod whitelist;

pub use ban::{
    Ban, BanAction, BanChange, BanCheck, BanConfig, BanList, BanOutcome, BanSnapshot, DEFAULT_BAN,
    DEFAULT_MAX_PENDING_CHANGES, DEFAULT_REPEAT_MEMORY, Escalation, Recidive, SnapshotBan,
    SnapshotEntry, UnbanCause,
};
pub use ban::{DEFAULT_MAX_NETWORK_BANS, MAX_NETWORK_BANS, SnapshotNetBan};
pub use concurrency::{ConcurrencyConfig, ConcurrencyDenied, ConcurrencyGuard, ConcurrencyLimiter};
pub use error::{Error, Result};
pub use key::{DEFAULT_IPV4_PREFIX, DEFAULT_IPV6_PREFIX, IpFold};
pub use presets::{VODIA_TCP_WEIGHT, VODIA_TLS_WEIGHT, vodia_connection_weight};
pub use rate::{DEFAULT_CAPACITY, MAX_CAPACITY, RateConfig, RateDecision, RateLimiter};
pub use table::{BATCH, BoundedMap, Found, Lines, SlotValue, Started};
pub use threshold::{
    MAX_LIMIT, ThresholdConfig, ThresholdCounter, ThresholdDecision, WindowCounter, WindowLimit,
};
pub use whitelist::Whitelist;
