//! Header names: RFC 3261's table and the IANA registry's compact forms.

/// A header field name this crate knows, long or compact form alike.
///
/// Lookup is ASCII case-insensitive. Compact forms are from RFC 3261
/// section 7.3.3 and the IANA "Header Fields" registry (`a` Accept-Contact,
/// `b` Referred-By, `c` Content-Type, `d` Request-Disposition, `e`
/// Content-Encoding, `f` From, `i` Call-ID, `j` Reject-Contact, `k` Supported,
/// `l` Content-Length, `m` Contact, `n` Identity-Info, `o` Event, `r`
/// Refer-To, `s` Subject, `t` To, `u` Allow-Events, `v` Via, `x`
/// Session-Expires, `y` Identity). Any other name is [`HeaderName::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Accept`.
    Accept,
    /// `Accept-Contact` (compact `a`).
    AcceptContact,
    /// `Accept-Encoding`.
    AcceptEncoding,
    /// `Accept-Language`.
    AcceptLanguage,
    /// `Alert-Info`.
    AlertInfo,
    /// `Allow`.
    Allow,
    /// `Allow-Events` (compact `u`).
    AllowEvents,
    /// `Authentication-Info`.
    AuthenticationInfo,
    /// `Authorization`.
    Authorization,
    /// `Call-ID` (compact `i`).
    CallId,
    /// `Call-Info`.
    CallInfo,
    /// `Contact` (compact `m`).
    Contact,
    /// `Content-Disposition`.
    ContentDisposition,
    /// `Content-Encoding` (compact `e`).
    ContentEncoding,
    /// `Content-Language`.
    ContentLanguage,
    /// `Content-Length` (compact `l`).
    ContentLength,
    /// `Content-Type` (compact `c`).
    ContentType,
    /// `CSeq`.
    CSeq,
    /// `Date`.
    Date,
    /// `Error-Info`.
    ErrorInfo,
    /// `Event` (compact `o`).
    Event,
    /// `Expires`.
    Expires,
    /// `From` (compact `f`).
    From,
    /// `Identity` (compact `y`).
    Identity,
    /// `Identity-Info` (compact `n`).
    IdentityInfo,
    /// `In-Reply-To`.
    InReplyTo,
    /// `Max-Forwards`.
    MaxForwards,
    /// `MIME-Version`.
    MimeVersion,
    /// `Min-Expires`.
    MinExpires,
    /// `Organization`.
    Organization,
    /// `Priority`.
    Priority,
    /// `Proxy-Authenticate`.
    ProxyAuthenticate,
    /// `Proxy-Authorization`.
    ProxyAuthorization,
    /// `Proxy-Require`.
    ProxyRequire,
    /// `Record-Route`.
    RecordRoute,
    /// `Refer-To` (compact `r`).
    ReferTo,
    /// `Referred-By` (compact `b`).
    ReferredBy,
    /// `Reject-Contact` (compact `j`).
    RejectContact,
    /// `Reply-To`.
    ReplyTo,
    /// `Request-Disposition` (compact `d`).
    RequestDisposition,
    /// `Require`.
    Require,
    /// `Retry-After`.
    RetryAfter,
    /// `Route`.
    Route,
    /// `Server`.
    Server,
    /// `Session-Expires` (compact `x`).
    SessionExpires,
    /// `Subject` (compact `s`).
    Subject,
    /// `Supported` (compact `k`).
    Supported,
    /// `Timestamp`.
    Timestamp,
    /// `To` (compact `t`).
    To,
    /// `Unsupported`.
    Unsupported,
    /// `User-Agent`.
    UserAgent,
    /// `Via` (compact `v`).
    Via,
    /// `Warning`.
    Warning,
    /// `WWW-Authenticate`.
    WwwAuthenticate,
    /// Any header this crate does not know by name.
    Other,
}

impl HeaderName {
    /// How many variants there are (the size of per-name tables).
    pub(crate) const COUNT: usize = 55;

    /// The canonical (long) name, `""` for [`HeaderName::Other`].
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "Accept",
            Self::AcceptContact => "Accept-Contact",
            Self::AcceptEncoding => "Accept-Encoding",
            Self::AcceptLanguage => "Accept-Language",
            Self::AlertInfo => "Alert-Info",
            Self::Allow => "Allow",
            Self::AllowEvents => "Allow-Events",
            Self::AuthenticationInfo => "Authentication-Info",
            Self::Authorization => "Authorization",
            Self::CallId => "Call-ID",
            Self::CallInfo => "Call-Info",
            Self::Contact => "Contact",
            Self::ContentDisposition => "Content-Disposition",
            Self::ContentEncoding => "Content-Encoding",
            Self::ContentLanguage => "Content-Language",
            Self::ContentLength => "Content-Length",
            Self::ContentType => "Content-Type",
            Self::CSeq => "CSeq",
            Self::Date => "Date",
            Self::ErrorInfo => "Error-Info",
            Self::Event => "Event",
            Self::Expires => "Expires",
            Self::From => "From",
            Self::Identity => "Identity",
            Self::IdentityInfo => "Identity-Info",
            Self::InReplyTo => "In-Reply-To",
            Self::MaxForwards => "Max-Forwards",
            Self::MimeVersion => "MIME-Version",
            Self::MinExpires => "Min-Expires",
            Self::Organization => "Organization",
            Self::Priority => "Priority",
            Self::ProxyAuthenticate => "Proxy-Authenticate",
            Self::ProxyAuthorization => "Proxy-Authorization",
            Self::ProxyRequire => "Proxy-Require",
            Self::RecordRoute => "Record-Route",
            Self::ReferTo => "Refer-To",
            Self::ReferredBy => "Referred-By",
            Self::RejectContact => "Reject-Contact",
            Self::ReplyTo => "Reply-To",
            Self::RequestDisposition => "Request-Disposition",
            Self::Require => "Require",
            Self::RetryAfter => "Retry-After",
            Self::Route => "Route",
            Self::Server => "Server",
            Self::SessionExpires => "Session-Expires",
            Self::Subject => "Subject",
            Self::Supported => "Supported",
            Self::Timestamp => "Timestamp",
            Self::To => "To",
            Self::Unsupported => "Unsupported",
            Self::UserAgent => "User-Agent",
            Self::Via => "Via",
            Self::Warning => "Warning",
            Self::WwwAuthenticate => "WWW-Authenticate",
            Self::Other => "",
        }
    }

    /// The compact form, if the name has one.
    #[must_use]
    pub const fn compact(self) -> Option<char> {
        match self {
            Self::AcceptContact => Some('a'),
            Self::AllowEvents => Some('u'),
            Self::CallId => Some('i'),
            Self::Contact => Some('m'),
            Self::ContentEncoding => Some('e'),
            Self::ContentLength => Some('l'),
            Self::ContentType => Some('c'),
            Self::Event => Some('o'),
            Self::From => Some('f'),
            Self::Identity => Some('y'),
            Self::IdentityInfo => Some('n'),
            Self::ReferTo => Some('r'),
            Self::ReferredBy => Some('b'),
            Self::RejectContact => Some('j'),
            Self::RequestDisposition => Some('d'),
            Self::SessionExpires => Some('x'),
            Self::Subject => Some('s'),
            Self::Supported => Some('k'),
            Self::To => Some('t'),
            Self::Via => Some('v'),
            _ => None,
        }
    }

    /// Every known name (not [`HeaderName::Other`]), in alphabetical order.
    pub const ALL: &'static [Self] = &[
        Self::Accept,
        Self::AcceptContact,
        Self::AcceptEncoding,
        Self::AcceptLanguage,
        Self::AlertInfo,
        Self::Allow,
        Self::AllowEvents,
        Self::AuthenticationInfo,
        Self::Authorization,
        Self::CallId,
        Self::CallInfo,
        Self::Contact,
        Self::ContentDisposition,
        Self::ContentEncoding,
        Self::ContentLanguage,
        Self::ContentLength,
        Self::ContentType,
        Self::CSeq,
        Self::Date,
        Self::ErrorInfo,
        Self::Event,
        Self::Expires,
        Self::From,
        Self::Identity,
        Self::IdentityInfo,
        Self::InReplyTo,
        Self::MaxForwards,
        Self::MimeVersion,
        Self::MinExpires,
        Self::Organization,
        Self::Priority,
        Self::ProxyAuthenticate,
        Self::ProxyAuthorization,
        Self::ProxyRequire,
        Self::RecordRoute,
        Self::ReferTo,
        Self::ReferredBy,
        Self::RejectContact,
        Self::ReplyTo,
        Self::RequestDisposition,
        Self::Require,
        Self::RetryAfter,
        Self::Route,
        Self::Server,
        Self::SessionExpires,
        Self::Subject,
        Self::Supported,
        Self::Timestamp,
        Self::To,
        Self::Unsupported,
        Self::UserAgent,
        Self::Via,
        Self::Warning,
        Self::WwwAuthenticate,
    ];

    /// Classifies a header name as written in a message: ASCII
    /// case-insensitive, long or compact form.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        Self::from_bytes(name.as_bytes())
    }

    pub(crate) fn from_bytes(name: &[u8]) -> Self {
        let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
            return Self::Other;
        };
        let (first, last) = (first.to_ascii_lowercase(), last.to_ascii_lowercase());
        if name.len() == 1 {
            return match first {
                b'a' => Self::AcceptContact,
                b'u' => Self::AllowEvents,
                b'i' => Self::CallId,
                b'm' => Self::Contact,
                b'e' => Self::ContentEncoding,
                b'l' => Self::ContentLength,
                b'c' => Self::ContentType,
                b'o' => Self::Event,
                b'f' => Self::From,
                b'y' => Self::Identity,
                b'n' => Self::IdentityInfo,
                b'r' => Self::ReferTo,
                b'b' => Self::ReferredBy,
                b'j' => Self::RejectContact,
                b'd' => Self::RequestDisposition,
                b'x' => Self::SessionExpires,
                b's' => Self::Subject,
                b'k' => Self::Supported,
                b't' => Self::To,
                b'v' => Self::Via,
                _ => Self::Other,
            };
        }
        let candidate = match (name.len(), first, last) {
            (2, b't', b'o') => Self::To,
            (3, b'v', b'a') => Self::Via,
            (4, b'c', b'q') => Self::CSeq,
            (4, b'd', b'e') => Self::Date,
            (4, b'f', b'm') => Self::From,
            (5, b'a', b'w') => Self::Allow,
            (5, b'e', b't') => Self::Event,
            (5, b'r', b'e') => Self::Route,
            (6, b'a', b't') => Self::Accept,
            (6, b's', b'r') => Self::Server,
            (7, b'c', b'd') => Self::CallId,
            (7, b'c', b't') => Self::Contact,
            (7, b'e', b's') => Self::Expires,
            (7, b'r', b'e') => Self::Require,
            (7, b's', b't') => Self::Subject,
            (7, b'w', b'g') => Self::Warning,
            (8, b'i', b'y') => Self::Identity,
            (8, b'p', b'y') => Self::Priority,
            (8, b'r', b'o') => {
                if name.eq_ignore_ascii_case(b"Refer-To") {
                    return Self::ReferTo;
                }
                if name.eq_ignore_ascii_case(b"Reply-To") {
                    return Self::ReplyTo;
                }
                return Self::Other;
            }
            (9, b'c', b'o') => Self::CallInfo,
            (9, b's', b'd') => Self::Supported,
            (9, b't', b'p') => Self::Timestamp,
            (10, b'a', b'o') => Self::AlertInfo,
            (10, b'e', b'o') => Self::ErrorInfo,
            (10, b'u', b't') => Self::UserAgent,
            (11, b'i', b'o') => Self::InReplyTo,
            (11, b'm', b's') => Self::MinExpires,
            (11, b'r', b'r') => Self::RetryAfter,
            (11, b'r', b'y') => Self::ReferredBy,
            (11, b'u', b'd') => Self::Unsupported,
            (12, b'a', b's') => Self::AllowEvents,
            (12, b'c', b'e') => Self::ContentType,
            (12, b'm', b'n') => Self::MimeVersion,
            (12, b'm', b's') => Self::MaxForwards,
            (12, b'o', b'n') => Self::Organization,
            (12, b'r', b'e') => Self::RecordRoute,
            (13, b'a', b'n') => Self::Authorization,
            (13, b'i', b'o') => Self::IdentityInfo,
            (13, b'p', b'e') => Self::ProxyRequire,
            (14, b'a', b't') => Self::AcceptContact,
            (14, b'c', b'h') => Self::ContentLength,
            (14, b'r', b't') => Self::RejectContact,
            (15, b'a', b'e') => Self::AcceptLanguage,
            (15, b'a', b'g') => Self::AcceptEncoding,
            (15, b's', b's') => Self::SessionExpires,
            (16, b'c', b'e') => Self::ContentLanguage,
            (16, b'c', b'g') => Self::ContentEncoding,
            (16, b'w', b'e') => Self::WwwAuthenticate,
            (18, b'p', b'e') => Self::ProxyAuthenticate,
            (19, b'a', b'o') => Self::AuthenticationInfo,
            (19, b'c', b'n') => Self::ContentDisposition,
            (19, b'p', b'n') => Self::ProxyAuthorization,
            (19, b'r', b'n') => Self::RequestDisposition,
            _ => return Self::Other,
        };
        if name.eq_ignore_ascii_case(candidate.as_str().as_bytes()) {
            candidate
        } else {
            Self::Other
        }
    }
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Other => f.write_str("extension"),
            _ => f.write_str(self.as_str()),
        }
    }
}
