#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod country;
mod decision;
mod error;
mod guard;
mod hours;
mod numbers;
pub mod pattern;
mod policy;

pub use config::{
    CallClass, CountryConfig, DEFAULT_BURST_LIMIT, DEFAULT_BURST_WINDOW, DEFAULT_LIMITER_KEYS,
    DEFAULT_MAX_CALL_DURATION, ExtensionConfig, FraudBurstConfig, OutboundConfig,
    PORTSIP_STANDARD_INTERNATIONAL_USER, PORTSIP_STANDARD_USER, PinEntry, RoleConfig, RouteConfig,
    RoutePattern, TrunkConfig,
};
pub use decision::{BurstScope, Decision, DenyCode, FraudBurst, Outcome};
pub use error::{Error, PatternProblem, Result};
pub use guard::{CallSlot, Checked, OutboundGuard};
pub use hours::{Holiday, TimeCondition, TimeConditionConfig, WeeklyRange};
pub use pattern::DialPattern;
pub use policy::{Call, Caller, MAX_NUMBER_LEN, MAX_PIN_LEN, OutboundPolicy};
