//! The configuration: plain serde data, validated into an
//! [`OutboundPolicy`](crate::OutboundPolicy) by `TryFrom`.

use std::collections::BTreeMap;
use std::time::Duration;

use pbxsec_core::Secret;
use pbxsec_ratelimit::RateConfig;
use serde::{Deserialize, Serialize};

use crate::hours::TimeConditionConfig;

/// Yeastar P-Series' default maximum call duration: 10800 s (3 hours).
pub const DEFAULT_MAX_CALL_DURATION: Duration = Duration::from_secs(10_800);

/// PortSIP role name: calls internally only, never out through a trunk.
pub const PORTSIP_STANDARD_USER: &str = "Standard User";
/// PortSIP role name: may call local, national and international numbers.
pub const PORTSIP_STANDARD_INTERNATIONAL_USER: &str = "Standard International User";

/// What kind of number a call goes to, judged from the number sent to the
/// trunk (after the route's strip and prepend).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallClass {
    /// Neither international nor national: a local number.
    Local,
    /// Starts with one of the `national_prefixes` (long distance).
    National,
    /// Starts with `+` or one of the `international_prefixes`.
    International,
}

/// The whole outbound configuration. Every field has a default (written
/// beside it), so `{}` is a valid configuration: it has no routes and so
/// refuses every call.
///
/// ```
/// use pbxsec_outbound::{OutboundConfig, OutboundPolicy};
///
/// let config: OutboundConfig = serde_json::from_str(r#"{
///     "routes": [ { "name": "international", "patterns": [ { "pattern": "9X.", "strip": 1 } ],
///                   "extensions": ["1001"] } ],
///     "countries": { "allow": ["1", "44"], "deny": ["1-242"] }
/// }"#).unwrap();
/// let policy = OutboundPolicy::try_from(config).unwrap();
/// # let _ = policy;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// International dialling prefixes (`"00"` in most of the world,
    /// `"011"` in North America). A leading `+` always counts as one.
    /// Default: `["00"]`.
    #[serde(default = "default_international_prefixes")]
    pub international_prefixes: Vec<String>,
    /// National (trunk) prefixes: a number sent to the trunk that starts with
    /// one is a [`CallClass::National`] call. Default: `["0"]`.
    #[serde(default = "default_national_prefixes")]
    pub national_prefixes: Vec<String>,
    /// Outbound routes, tried in order. Default: none.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Country and region code rules for international calls. Default: none
    /// (no country check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countries: Option<CountryConfig>,
    /// Blocked numbers and patterns (premium-rate ranges). Default: none.
    #[serde(default)]
    pub blocked_numbers: Vec<String>,
    /// Numbers and patterns that override `blocked_numbers`. Default: none.
    #[serde(default)]
    pub allowed_numbers: Vec<String>,
    /// Named time conditions, referred to by routes and by
    /// `business_hours`. Default: none.
    #[serde(default)]
    pub time_conditions: BTreeMap<String, TimeConditionConfig>,
    /// The time condition an extension's
    /// `disable_outbound_calls_outside_business_hours` switch refers to.
    /// Default: none; a policy in which an extension turns that switch on
    /// without a `business_hours` condition is refused at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<String>,
    /// Roles and the call classes each may make (PortSIP). A caller whose
    /// role is not listed here may make no outbound call. Default: none.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Per-extension switches (Yeastar). Default: none.
    #[serde(default)]
    pub extensions: BTreeMap<String, ExtensionConfig>,
    /// Maximum call duration for every call, returned as the call's time
    /// limit. Default: 10800 s ([`DEFAULT_MAX_CALL_DURATION`], Yeastar).
    #[serde(
        default = "default_max_call_duration",
        with = "pbxsec_core::duration::serde"
    )]
    pub max_call_duration: Duration,
    /// Outbound call frequency per extension (per tenant and extension on a
    /// multi-tenant PBX), counted with `pbxsec_ratelimit::RateLimiter`.
    /// Default: 5 calls per second, burst 5 (Yeastar P-Series); `null` turns
    /// it off.
    #[serde(default = "default_call_rate")]
    pub call_rate: Option<RateConfig>,
    /// Wrong PINs per extension before PIN routes are locked for it: a
    /// GCRA budget (`pbxsec_ratelimit::RateLimiter`). Default: 3 per 15
    /// minutes (one more attempt every 5 minutes once used up; our choice,
    /// the products do not document one).
    #[serde(default = "default_wrong_pin_rate")]
    pub wrong_pin_rate: RateConfig,
    /// Trunks with a limit on concurrent calls (Yeastar: "Max Concurrent
    /// Calls" per trunk). A trunk not listed has no limit. Default: none.
    #[serde(default)]
    pub trunks: BTreeMap<String, TrunkConfig>,
    /// Concurrent outbound calls on the whole system (PortSIP: global).
    /// Default: none (no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_calls: Option<u32>,
    /// Concurrent outbound calls per tenant (PortSIP: per tenant). Default:
    /// none (no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_calls_per_tenant: Option<u32>,
    /// Bursts of fraud-like denials: counted per extension (and per source
    /// address when the call carries one), one burst alert when `limit` of
    /// them fall within `window`, and optionally a block of the
    /// extension's outbound calls. Default: 5 within 10 minutes, alert
    /// only (no block); `null` turns it off.
    #[serde(default = "default_fraud_burst")]
    pub fraud_burst: Option<FraudBurstConfig>,
}

/// Burst detection of fraud-like denials (see [`OutboundConfig::fraud_burst`]).
///
/// A denial is fraud-like when it carries a `TollFraudSuspected` event
/// (see the crate docs: refused international attempts, blocked numbers,
/// wrong PINs, PIN locks, call-rate denials). They are counted with
/// `pbxsec_ratelimit::ThresholdCounter` (exact sliding window) per
/// extension, and per source address ([`Call::with_source`](crate::Call::with_source))
/// when `per_source` is on. The denial that makes `limit` within `window`
/// carries a [`FraudBurst`](crate::FraudBurst) (with its own
/// `TollFraudSuspected` event saying it is a burst) in
/// [`Outcome::bursts`](crate::Outcome::bursts); the count then starts again.
/// With `block`, the extension (and, for a source burst, the source) may
/// not call out for `block_for`, or until
/// [`OutboundGuard::unblock_extension`](crate::OutboundGuard::unblock_extension)
/// when `block_for` is absent (Yeastar S-Series, K2 and Cloud PBX: an
/// extension over its outbound restriction is locked until the
/// administrator re-enables it).
///
/// ```
/// use pbxsec_outbound::FraudBurstConfig;
/// let c: FraudBurstConfig = serde_json::from_str(
///     r#"{ "limit": 3, "window": "5m", "block": true, "block_for": "1h" }"#).unwrap();
/// assert!(c.per_source);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudBurstConfig {
    /// Fraud-like denials that make a burst (1 to 65 536). Default: 5.
    #[serde(default = "default_burst_limit")]
    pub limit: u32,
    /// The sliding window they must fall in. Default: 10 minutes.
    #[serde(
        default = "default_burst_window",
        with = "pbxsec_core::duration::serde"
    )]
    pub window: Duration,
    /// Block outbound calls of the extension (and of the source, for a
    /// source burst) when a burst is reached. Default: `false` (alert only).
    #[serde(default)]
    pub block: bool,
    /// How long a block lasts; absent: until an administrator unblocks.
    /// Default: absent.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_for: Option<Duration>,
    /// Count per source address too, when the call carries one. Default:
    /// `true`.
    #[serde(default = "yes")]
    pub per_source: bool,
    /// How many extensions (and sources) are tracked at once; memory is
    /// allocated when the guard is built. Default: [`DEFAULT_LIMITER_KEYS`];
    /// at most 1 048 576.
    #[serde(default = "default_limiter_keys")]
    pub capacity: usize,
}

/// The default [`FraudBurstConfig::limit`]: 5 fraud-like denials.
pub const DEFAULT_BURST_LIMIT: u32 = 5;
/// The default [`FraudBurstConfig::window`]: 10 minutes.
pub const DEFAULT_BURST_WINDOW: Duration = Duration::from_secs(600);

const fn default_burst_limit() -> u32 {
    DEFAULT_BURST_LIMIT
}
const fn default_burst_window() -> Duration {
    DEFAULT_BURST_WINDOW
}
const fn yes() -> bool {
    true
}
const fn default_limiter_keys() -> usize {
    DEFAULT_LIMITER_KEYS
}
#[allow(clippy::unnecessary_wraps)] // serde default of an Option field
fn default_fraud_burst() -> Option<FraudBurstConfig> {
    Some(FraudBurstConfig::default())
}

impl Default for FraudBurstConfig {
    fn default() -> Self {
        Self {
            limit: DEFAULT_BURST_LIMIT,
            window: DEFAULT_BURST_WINDOW,
            block: false,
            block_for: None,
            per_source: true,
            capacity: DEFAULT_LIMITER_KEYS,
        }
    }
}

impl FraudBurstConfig {
    /// Yeastar-like: 5 fraud-like denials within 10 minutes lock the
    /// extension's outbound calls until an administrator unblocks it (the
    /// S-Series, K2 and Cloud PBX lock an extension that exceeds its
    /// outbound restriction rule until it is re-enabled).
    pub fn yeastar() -> Self {
        Self {
            block: true,
            ..Self::default()
        }
    }
}

/// A trunk's limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// The most calls on the trunk at once. Required.
    pub max_concurrent_calls: u32,
}

/// Yeastar P-Series' outbound call frequency: 5 calls per second per
/// extension.
fn default_call_rate() -> Option<RateConfig> {
    Some(RateConfig::yeastar_outbound_calls().with_capacity(DEFAULT_LIMITER_KEYS))
}

/// Our wrong-PIN budget: 3 per 15 minutes per extension.
fn default_wrong_pin_rate() -> RateConfig {
    RateConfig::new(3, Duration::from_secs(900)).with_capacity(DEFAULT_LIMITER_KEYS)
}

/// How many extensions the default call-rate and wrong-PIN limiters track
/// at once (memory is allocated for them when the guard is built).
pub const DEFAULT_LIMITER_KEYS: usize = 16_384;

fn default_international_prefixes() -> Vec<String> {
    vec!["00".to_owned()]
}
fn default_national_prefixes() -> Vec<String> {
    vec!["0".to_owned()]
}
const fn default_max_call_duration() -> Duration {
    DEFAULT_MAX_CALL_DURATION
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            international_prefixes: default_international_prefixes(),
            national_prefixes: default_national_prefixes(),
            routes: Vec::new(),
            countries: None,
            blocked_numbers: Vec::new(),
            allowed_numbers: Vec::new(),
            time_conditions: BTreeMap::new(),
            business_hours: None,
            roles: BTreeMap::new(),
            extensions: BTreeMap::new(),
            max_call_duration: DEFAULT_MAX_CALL_DURATION,
            call_rate: default_call_rate(),
            wrong_pin_rate: default_wrong_pin_rate(),
            trunks: BTreeMap::new(),
            max_concurrent_calls: None,
            max_concurrent_calls_per_tenant: None,
            fraud_burst: default_fraud_burst(),
        }
    }
}

/// One outbound route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The route's name, returned in an allowed decision. Required.
    pub name: String,
    /// Dial patterns, tried in order. Required, at least one.
    pub patterns: Vec<RoutePattern>,
    /// May every extension use the route? Default: `false`.
    #[serde(default)]
    pub everyone: bool,
    /// Extensions that may use the route. Default: none.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Groups (departments) whose members may use the route. Default: none.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Roles that may use the route. Default: none.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Trunks the call may leave through, in order of preference. Default:
    /// none (the decision then names no trunk).
    #[serde(default)]
    pub trunks: Vec<String>,
    /// Name of a time condition (in `time_conditions`) outside of which the
    /// route is not used. Default: none (always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_condition: Option<String>,
    /// A single PIN the caller must enter. Default: none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "redact_opt"
    )]
    pub pin: Option<Secret>,
    /// A PIN list: any entry's PIN is accepted, and the decision names the
    /// entry's user. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pin_list: Vec<PinEntry>,
}

/// A dial pattern of a route, with what to do to the number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutePattern {
    /// The dial pattern (see [`DialPattern`](crate::DialPattern)).
    pub pattern: String,
    /// How many leading characters to remove before sending. Default: 0.
    #[serde(default)]
    pub strip: usize,
    /// What to put in front after stripping. Default: nothing.
    #[serde(default)]
    pub prepend: String,
}

/// One entry of a route's PIN list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinEntry {
    /// The PIN: 1 to 32 digits.
    #[serde(serialize_with = "redact")]
    pub pin: Secret,
    /// Who the PIN belongs to (for call records). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A PIN is never written out: serialising writes `"***"`, which is not a
/// valid PIN, so a config written and read back fails to load rather than
/// gaining a known PIN.
fn redact<S: serde::Serializer>(_: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("***")
}

fn redact_opt<S: serde::Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("***"),
        None => s.serialize_none(),
    }
}

/// Country and region code rules (see the [`country` docs](crate#country-and-region-codes)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryConfig {
    /// Codes that may be called (`"1"`, `"1-242"`, `"44"`, `"BS"`). Default: none.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Codes that may not be called. Default: none.
    #[serde(default)]
    pub deny: Vec<String>,
    /// What happens to a code neither list covers. Default: `false`
    /// (refused; Yeastar and PortSIP allow only the enabled codes).
    #[serde(default)]
    pub allow_unlisted: bool,
}

/// A role and the call classes it may make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// The classes allowed. Default: none (internal calls only).
    #[serde(default)]
    pub classes: Vec<CallClass>,
}

/// Per-extension switches, as on Yeastar's extension page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionConfig {
    /// "Disable Outbound Calls". Default: `false`.
    #[serde(default)]
    pub disable_outbound_calls: bool,
    /// "Disable Outbound Calls outside Business Hours" (the top-level
    /// `business_hours` condition, which must then be set). Default: `false`.
    #[serde(default)]
    pub disable_outbound_calls_outside_business_hours: bool,
    /// Refuse international calls from this extension. Default: `false`.
    #[serde(default)]
    pub disallow_international_calls: bool,
    /// This extension's own maximum call duration (e.g. `"300s"`); the
    /// shorter of it and the global one applies. Default: none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_duration"
    )]
    pub max_call_duration: Option<Duration>,
}

use pbxsec_core::duration::serde_opt as opt_duration;

impl OutboundConfig {
    /// Yeastar P-Series defaults ("Outbound Call Security" and the outbound
    /// route page): international prefix `00`, national prefix `0`, a
    /// maximum call duration of 10800 s for every call, at most 5 outbound
    /// calls per second per extension, no routes (the
    /// administrator adds routes such as `8X.` local, `0X.` long distance and
    /// `9X.` international, each with its permitted extensions), and country
    /// codes refused unless enabled once a country list is set; bursts of
    /// fraud-like denials lock the extension until an administrator
    /// unblocks it ([`FraudBurstConfig::yeastar`]).
    pub fn yeastar_p_series() -> Self {
        Self {
            fraud_burst: Some(FraudBurstConfig::yeastar()),
            ..Self::default()
        }
    }

    /// PortSIP PBX defaults: two roles, *Standard User* (internal calls
    /// only: every outbound call is refused) and *Standard International
    /// User* (local, national and international calls), and one route for
    /// every external number (`X.`, open to every caller; the role decides).
    /// A caller with no role, or a role not listed, may not call out.
    /// PortSIP's global and per-tenant concurrent-call limits are set per
    /// installation (licence): fill in `max_concurrent_calls` and
    /// `max_concurrent_calls_per_tenant`.
    pub fn portsip() -> Self {
        let mut roles = BTreeMap::new();
        roles.insert(
            PORTSIP_STANDARD_USER.to_owned(),
            RoleConfig {
                classes: Vec::new(),
            },
        );
        roles.insert(
            PORTSIP_STANDARD_INTERNATIONAL_USER.to_owned(),
            RoleConfig {
                classes: vec![
                    CallClass::Local,
                    CallClass::National,
                    CallClass::International,
                ],
            },
        );
        Self {
            routes: vec![RouteConfig {
                name: "external".to_owned(),
                patterns: vec![RoutePattern {
                    pattern: "X.".to_owned(),
                    strip: 0,
                    prepend: String::new(),
                }],
                everyone: true,
                ..RouteConfig::new("external")
            }],
            roles,
            ..Self::default()
        }
    }
}

impl RouteConfig {
    /// A route named `name` with no pattern and no permission, to fill in
    /// with struct update syntax.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            patterns: Vec::new(),
            everyone: false,
            extensions: Vec::new(),
            groups: Vec::new(),
            roles: Vec::new(),
            trunks: Vec::new(),
            time_condition: None,
            pin: None,
            pin_list: Vec::new(),
        }
    }
}

impl RoutePattern {
    /// A pattern with no strip and no prepend.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            strip: 0,
            prepend: String::new(),
        }
    }
}
