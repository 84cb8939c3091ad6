//! Security events: what happened, to whom, from where.
//!
//! A [`SecurityEvent`] is what a pbxsec check hands back when something
//! worth logging happened: a wrong password, a scanner, a ban. The caller logs
//! it (one JSON object per line), counts it, or ships it to a SIEM.
//!
//! # The JSON shape
//!
//! Serialised with serde (for example `serde_json::to_string`), an event is one
//! flat JSON object. Field names are stable; a field that is not set is left
//! out rather than written as `null`.
//!
//! | field | type | always | meaning |
//! |---|---|---|---|
//! | `time` | string | yes | wall-clock time, RFC 3339 UTC with milliseconds |
//! | `kind` | string | yes | an [`EventKind`] name, e.g. `"InvalidPassword"` |
//! | `severity` | string | yes | `"info"`, `"warning"` or `"alert"` ([`Severity`]), derived from `kind` |
//! | `service` | string | yes | a [`Service`] name, e.g. `"sip"`, `"web"` |
//! | `transport` | string | no | a [`Transport`] name, e.g. `"udp"`, `"tls"` |
//! | `source_ip` | string | no | the peer's address, canonical (see [`canonical_ip`]) |
//! | `source_port` | number | no | the peer's port |
//! | `tenant` | string | no | the tenant (multi-tenant PBXs) |
//! | `extension` | string | no | the extension concerned |
//! | `user` | string | no | the user or login name concerned |
//! | `detail` | string | no | free text for people; never a secret |
//!
//! ```
//! use pbxsec_core::{EventKind, SecurityEvent, Service, Transport, UnixTime};
//!
//! let event = SecurityEvent::new(UnixTime::from_secs(1_800_000_000), EventKind::InvalidPassword, Service::Sip)
//!     .with_source("203.0.113.7:5062".parse().unwrap())
//!     .with_transport(Transport::Udp)
//!     .with_extension("1000");
//! assert_eq!(
//!     serde_json::to_string(&event).unwrap(),
//!     r#"{"time":"2027-01-15T08:00:00.000Z","kind":"InvalidPassword","severity":"warning","service":"sip","transport":"udp","source_ip":"203.0.113.7","source_port":5062,"extension":"1000"}"#
//! );
//! ```
//!
//! A fail2ban filter for these lines can match on
//! `"kind":"(InvalidPassword|InvalidAccountID|ChallengeResponseFailed)".*"source_ip":"<HOST>"`.
//! Events carry no secrets: no passwords, digests, nonces or TOTP codes.

use std::net::{IpAddr, SocketAddr};

use crate::{UnixTime, canonical_ip};

/// What happened. The first group are Asterisk's security event names
/// (`include/asterisk/event_defs.h`, `AST_SECURITY_EVENT_*`), spelled as
/// Asterisk spells them, so tools written for Asterisk's security log keep
/// working; the rest are pbxsec's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    // --- Asterisk's names ---
    /// The source address is refused by an access control list.
    #[serde(rename = "FailedACL")]
    FailedAcl,
    /// The request names an account (extension, user) that does not exist;
    /// the signature of extension scanners such as `svwar`.
    #[serde(rename = "InvalidAccountID")]
    InvalidAccountId,
    /// A session limit was reached.
    SessionLimit,
    /// A memory limit was reached.
    MemoryLimit,
    /// A load-average limit was reached.
    LoadAverageLimit,
    /// The request is not supported.
    RequestNotSupported,
    /// The request is not allowed (for example a method refused by policy).
    RequestNotAllowed,
    /// The authentication method is not allowed.
    AuthMethodNotAllowed,
    /// The request is malformed.
    RequestBadFormat,
    /// Authentication succeeded.
    SuccessfulAuth,
    /// A request of a session in progress came from an address other than
    /// the one the session is at (an extension's own IP restriction is an
    /// access control list: [`FailedAcl`](Self::FailedAcl)).
    UnexpectedAddress,
    /// A challenge was answered with a wrong response.
    ChallengeResponseFailed,
    /// The password was wrong.
    InvalidPassword,
    /// A challenge was sent (401 / 407).
    ChallengeSent,
    /// The transport is not allowed for this account.
    InvalidTransport,
    // --- pbxsec's own ---
    /// A challenge was never answered within the allowed time.
    ChallengeUnanswered,
    /// The User-Agent or another signature identifies a SIP scanner.
    ScannerDetected,
    /// A request for a domain that is not served here.
    UnknownDomain,
    /// A rate or count limit was exceeded.
    RateExceeded,
    /// A source was banned.
    Banned,
    /// A ban was lifted (expired or removed by an administrator).
    Unbanned,
    /// An extension was locked for a source after failed registrations
    /// (Yeastar: "Extension Registration Blocked Out").
    ExtensionLocked,
    /// A web user was locked out after failed logins
    /// (Yeastar: "Web User Blocked Out").
    WebUserBlockedOut,
    /// A second-factor code was wrong or replayed.
    SecondFactorFailed,
    /// An outbound call looks like toll fraud.
    TollFraudSuspected,
}

impl EventKind {
    /// How urgent an event of this kind is.
    pub const fn severity(self) -> Severity {
        match self {
            Self::SuccessfulAuth | Self::ChallengeSent | Self::Unbanned => Severity::Info,
            Self::Banned
            | Self::ExtensionLocked
            | Self::WebUserBlockedOut
            | Self::TollFraudSuspected
            | Self::ScannerDetected => Severity::Alert,
            _ => Severity::Warning,
        }
    }
}

/// How urgent an event is, derived from its [`EventKind`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Normal operation worth recording (a login, a challenge).
    Info,
    /// A failure that may be innocent once and is an attack in numbers.
    Warning,
    /// An attack recognised or acted upon (a ban, a lockout, toll fraud).
    Alert,
}

/// The service an event concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Service {
    /// SIP signalling.
    Sip,
    /// The web interface (user or admin login).
    Web,
    /// The Asterisk Manager Interface or an equivalent management API.
    Ami,
    /// SSH.
    Ssh,
    /// Phone provisioning (auto-provisioning over HTTP/TFTP).
    Provisioning,
    /// A REST or admin API.
    Api,
    /// Outbound calls (toll-fraud checks).
    Outbound,
}

/// The transport an event arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
    /// HTTP.
    Http,
    /// HTTPS.
    Https,
}

/// One security event. See the [module docs](self) for the JSON shape.
///
/// Build one with [`SecurityEvent::new`] and the `with_*` methods. The source
/// address is stored canonical ([`canonical_ip`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecurityEvent {
    /// When it happened (wall clock).
    pub time: UnixTime,
    /// What happened.
    pub kind: EventKind,
    /// How urgent it is; always `kind.severity()`.
    pub severity: Severity,
    /// Which service it concerns.
    pub service: Service,
    /// Which transport it arrived on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// The peer's address, canonical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    /// The peer's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    /// The tenant, on a multi-tenant PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The extension concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// The user or login name concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Free text for people. Never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl SecurityEvent {
    /// An event of `kind` on `service` at `time`, with nothing else set.
    pub fn new(time: UnixTime, kind: EventKind, service: Service) -> Self {
        Self {
            time,
            kind,
            severity: kind.severity(),
            service,
            transport: None,
            source_ip: None,
            source_port: None,
            tenant: None,
            extension: None,
            user: None,
            detail: None,
        }
    }

    /// Sets the source address and port (canonicalised).
    #[must_use]
    pub fn with_source(mut self, addr: SocketAddr) -> Self {
        self.source_ip = Some(canonical_ip(addr.ip()));
        self.source_port = Some(addr.port());
        self
    }

    /// Sets the source address only (canonicalised), when there is no port.
    #[must_use]
    pub fn with_source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(canonical_ip(ip));
        self
    }

    /// Sets the transport.
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the extension.
    #[must_use]
    pub fn with_extension(mut self, extension: impl Into<String>) -> Self {
        self.extension = Some(extension.into());
        self
    }

    /// Sets the user or login name.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the free-text detail. Never put a secret here.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
