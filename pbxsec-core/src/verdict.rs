//! What a check decided: accept, reject with a response, or drop silently.

use std::time::Duration;

/// The outcome of a security check on one packet, request or login.
///
/// Checks return a verdict and leave acting on it to the caller: a SIP stack
/// turns [`Verdict::Reject`] into a response with
/// [`RejectReason::sip_status`], a web front end into an HTTP status with
/// [`RejectReason::http_status`], and drops the packet on [`Verdict::Drop`]
/// without answering (so a scanner learns nothing).
///
/// `Verdict` is `Copy` and allocation-free, so it can be returned per packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// Let it through.
    Accept,
    /// Refuse it with a response.
    Reject(Reject),
    /// Discard it without any response.
    Drop,
}

impl Verdict {
    /// A rejection without a retry hint.
    pub const fn reject(reason: RejectReason) -> Self {
        Self::Reject(Reject {
            reason,
            retry_after: None,
        })
    }

    /// `true` for [`Verdict::Accept`].
    pub const fn is_accept(&self) -> bool {
        matches!(self, Self::Accept)
    }
}

/// A refusal that is answered, with what to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reject {
    /// Why, in terms that map onto SIP and HTTP status codes.
    pub reason: RejectReason,
    /// When the client may try again (`Retry-After`), if that is known.
    pub retry_after: Option<Duration>,
}

/// Why a request is refused, mapped onto SIP and HTTP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// The request is malformed (SIP 400, HTTP 400).
    BadRequest,
    /// Credentials are needed or were wrong (SIP 401, HTTP 401).
    Unauthorized,
    /// Credentials are needed by a proxy (SIP 407, HTTP 407).
    ProxyAuthenticationRequired,
    /// Understood and refused; retrying will not help (SIP 403, HTTP 403).
    Forbidden,
    /// No such user or resource (SIP 404, HTTP 404).
    NotFound,
    /// The method is not allowed here (SIP 405, HTTP 405).
    MethodNotAllowed,
    /// Too many requests or attempts (SIP 503, HTTP 429). SIP has no 429;
    /// RFC 3261 section 21.5.4 uses 503 with `Retry-After` for overload.
    TooManyRequests,
    /// The service is unavailable for now (SIP 503, HTTP 503).
    ServiceUnavailable,
}

impl RejectReason {
    /// The SIP status code and its RFC 3261 reason phrase.
    pub const fn sip_status(self) -> (u16, &'static str) {
        match self {
            Self::BadRequest => (400, "Bad Request"),
            Self::Unauthorized => (401, "Unauthorized"),
            Self::ProxyAuthenticationRequired => (407, "Proxy Authentication Required"),
            Self::Forbidden => (403, "Forbidden"),
            Self::NotFound => (404, "Not Found"),
            Self::MethodNotAllowed => (405, "Method Not Allowed"),
            Self::TooManyRequests | Self::ServiceUnavailable => (503, "Service Unavailable"),
        }
    }

    /// The HTTP status code.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::ProxyAuthenticationRequired => 407,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::TooManyRequests => 429,
            Self::ServiceUnavailable => 503,
        }
    }
}
