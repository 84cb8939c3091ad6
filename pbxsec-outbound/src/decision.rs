//! What a decision is: a value the caller acts on.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::{RejectReason, SecurityEvent};

use crate::config::CallClass;

/// Why a call was refused. The [`as_str`](Self::as_str) codes are stable and
/// meant for logs, CDRs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyCode {
    /// `invalid_number`: empty, too long, or a character other than
    /// `0`-`9`, `*`, `#`, `+`.
    InvalidNumber,
    /// `outbound_disabled`: the extension may not call out at all.
    OutboundDisabled,
    /// `no_route_permission`: a route matches the number but the caller may
    /// not use it (extension, group, role, or the role's call classes).
    NoRoutePermission,
    /// `pattern_not_allowed`: no route's pattern matches the number.
    PatternNotAllowed,
    /// `international_disabled`: the extension may not call abroad.
    InternationalDisabled,
    /// `country_not_allowed`: the country or region code is refused.
    CountryNotAllowed,
    /// `number_blocked`: the number is on the blocked list.
    NumberBlocked,
    /// `pin_required`: the route needs a PIN and none was given.
    PinRequired,
    /// `pin_wrong`: the PIN given is not the route's.
    PinWrong,
    /// `outside_hours`: outside the route's or the extension's hours.
    OutsideHours,
    /// `rate_exceeded`: the extension calls out faster than allowed.
    RateExceeded,
    /// `pin_locked`: too many wrong PINs from this extension for now.
    PinLocked,
    /// `trunk_full`: every trunk of the route is at its concurrent-call limit.
    TrunkFull,
    /// `tenant_full`: the tenant is at its concurrent-call limit.
    TenantFull,
    /// `system_full`: the system is at its concurrent-call limit.
    SystemFull,
    /// `extension_blocked`: the extension's outbound calls are blocked
    /// after a burst of fraud-like attempts ([`crate::FraudBurstConfig`]).
    ExtensionBlocked,
    /// `source_blocked`: calls from this source address are blocked after
    /// a burst of fraud-like attempts from it.
    SourceBlocked,
}

impl DenyCode {
    /// The stable code, such as `"country_not_allowed"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidNumber => "invalid_number",
            Self::OutboundDisabled => "outbound_disabled",
            Self::NoRoutePermission => "no_route_permission",
            Self::PatternNotAllowed => "pattern_not_allowed",
            Self::InternationalDisabled => "international_disabled",
            Self::CountryNotAllowed => "country_not_allowed",
            Self::NumberBlocked => "number_blocked",
            Self::PinRequired => "pin_required",
            Self::PinWrong => "pin_wrong",
            Self::OutsideHours => "outside_hours",
            Self::RateExceeded => "rate_exceeded",
            Self::PinLocked => "pin_locked",
            Self::TrunkFull => "trunk_full",
            Self::TenantFull => "tenant_full",
            Self::SystemFull => "system_full",
            Self::ExtensionBlocked => "extension_blocked",
            Self::SourceBlocked => "source_blocked",
        }
    }

    /// How a SIP stack or web front end should answer: `401` for a missing
    /// or wrong PIN (ask again), `503` for limits (`TooManyRequests` for
    /// rates, `ServiceUnavailable` when lines are full), `404` for a
    /// malformed number, `403 Forbidden` for the rest.
    pub const fn reject_reason(self) -> RejectReason {
        match self {
            Self::PinRequired | Self::PinWrong => RejectReason::Unauthorized,
            Self::RateExceeded | Self::PinLocked => RejectReason::TooManyRequests,
            Self::TrunkFull | Self::TenantFull | Self::SystemFull => {
                RejectReason::ServiceUnavailable
            }
            Self::InvalidNumber => RejectReason::NotFound,
            _ => RejectReason::Forbidden,
        }
    }
}

impl std::fmt::Display for DenyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision on one outbound call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The call may go out.
    Allowed {
        /// The route's name.
        route: Arc<str>,
        /// The route's position in the configuration (0-based).
        route_index: usize,
        /// The number to send to the trunk (after strip and prepend).
        number: String,
        /// The trunk to use: the route's first (or, from an
        /// [`OutboundGuard`](crate::OutboundGuard), the first with a free line).
        trunk: Option<Arc<str>>,
        /// What kind of call it is.
        class: CallClass,
        /// The user named by the PIN-list entry that was entered.
        pin_user: Option<Arc<str>>,
        /// The call's time limit: hang up after this long.
        max_duration: Duration,
    },
    /// The call is refused.
    Denied {
        /// The stable reason code.
        code: DenyCode,
        /// A sentence for people (never a PIN).
        message: String,
    },
}

impl Decision {
    /// `true` for [`Decision::Allowed`].
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// The deny code, if refused.
    pub const fn code(&self) -> Option<DenyCode> {
        match self {
            Self::Denied { code, .. } => Some(*code),
            Self::Allowed { .. } => None,
        }
    }
}

/// A decision and, when the denial looks like toll fraud, the security
/// event to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Allowed or denied.
    pub decision: Decision,
    /// A `TollFraudSuspected` event (service `outbound`) when the denial
    /// looks like fraud: an international attempt refused, a blocked number,
    /// a wrong PIN.
    pub event: Option<SecurityEvent>,
    /// The bursts this denial completed (from an
    /// [`OutboundGuard`](crate::OutboundGuard) with
    /// [`fraud_burst`](crate::OutboundConfig::fraud_burst) on): empty for
    /// almost every call; one entry (two when the extension and the source
    /// reach their limit on the same denial) on the denial that makes a
    /// burst. Log each [`FraudBurst::event`] as well as [`event`](Self::event).
    pub bursts: Vec<FraudBurst>,
}

/// What a burst was counted on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BurstScope {
    /// The calling extension (with its tenant, if any).
    Extension,
    /// The source address the calls came from.
    Source(IpAddr),
}

/// A burst of fraud-like denials, reached on this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FraudBurst {
    /// Per extension or per source.
    pub scope: BurstScope,
    /// Fraud-like denials within the window (at least the limit).
    pub count: u64,
    /// The window they fell in.
    pub window: Duration,
    /// `true` when the extension (or source) is now blocked.
    pub blocked: bool,
    /// How long the block lasts; `None` with `blocked`: until unblocked.
    pub blocked_for: Option<Duration>,
    /// A `TollFraudSuspected` event (severity alert) whose detail starts
    /// with `burst:`; one per burst, not per denial.
    pub event: SecurityEvent,
}
