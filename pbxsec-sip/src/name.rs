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
        if !name.bytes().all(crate::text::is_token) {
            return Self::Other;
        }
        Self::from_bytes(name.as_bytes())
    }

    pub(crate) fn from_bytes(name: &[u8]) -> Self {
        Self::classify(name, 0, name.len())
    }

    /// Classifies the `len`-byte name at `at` in `b` (token characters,
    /// checked by the caller). Reads the name as up to three little-endian
    /// words straight from `b`, so the comparisons below are integer
    /// compares and nothing is copied.
    #[inline]
    pub(crate) fn classify(b: &[u8], at: usize, len: usize) -> Self {
        if len == 1 {
            return match b.get(at).map(u8::to_ascii_lowercase) {
                Some(b'a') => Self::AcceptContact,
                Some(b'u') => Self::AllowEvents,
                Some(b'i') => Self::CallId,
                Some(b'm') => Self::Contact,
                Some(b'e') => Self::ContentEncoding,
                Some(b'l') => Self::ContentLength,
                Some(b'c') => Self::ContentType,
                Some(b'o') => Self::Event,
                Some(b'f') => Self::From,
                Some(b'y') => Self::Identity,
                Some(b'n') => Self::IdentityInfo,
                Some(b'r') => Self::ReferTo,
                Some(b'b') => Self::ReferredBy,
                Some(b'j') => Self::RejectContact,
                Some(b'd') => Self::RequestDisposition,
                Some(b'x') => Self::SessionExpires,
                Some(b's') => Self::Subject,
                Some(b'k') => Self::Supported,
                Some(b't') => Self::To,
                Some(b'v') => Self::Via,
                _ => Self::Other,
            };
        }
        if len > 24 || len == 0 {
            return Self::Other;
        }
        // Fold to lower case by setting bit 5 of every byte: on token
        // characters this is injective.
        Self::classify_words(
            len,
            [
                folded_word(b, at, len),
                if len > 8 {
                    folded_word(b, at + 8, len - 8)
                } else {
                    0
                },
                if len > 16 {
                    folded_word(b, at + 16, len - 16)
                } else {
                    0
                },
            ],
        )
    }

    /// Classifies a name of 2 to 24 bytes given as three little-endian words,
    /// folded (bit 5 set on every byte of the name, bytes past it zero).
    #[inline]
    pub(crate) const fn classify_words(len: usize, k: [u64; 3]) -> Self {
        match len {
            2 => {
                if k[0] == 0x6f74 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::To;
                }
                Self::Other
            }
            3 => {
                if k[0] == 0x616976 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Via;
                }
                Self::Other
            }
            4 => {
                if k[0] == 0x71657363 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::CSeq;
                }
                if k[0] == 0x65746164 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Date;
                }
                if k[0] == 0x6d6f7266 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::From;
                }
                Self::Other
            }
            5 => {
                if k[0] == 0x776f6c6c61 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Allow;
                }
                if k[0] == 0x746e657665 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Event;
                }
                if k[0] == 0x6574756f72 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Route;
                }
                Self::Other
            }
            6 => {
                if k[0] == 0x747065636361 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Accept;
                }
                if k[0] == 0x726576726573 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Server;
                }
                Self::Other
            }
            7 => {
                if k[0] == 0x64692d6c6c6163 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::CallId;
                }
                if k[0] == 0x746361746e6f63 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Contact;
                }
                if k[0] == 0x73657269707865 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Expires;
                }
                if k[0] == 0x65726975716572 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Require;
                }
                if k[0] == 0x7463656a627573 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Subject;
                }
                if k[0] == 0x676e696e726177 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Warning;
                }
                Self::Other
            }
            8 => {
                if k[0] == 0x797469746e656469 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Identity;
                }
                if k[0] == 0x797469726f697270 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::Priority;
                }
                if k[0] == 0x6f742d7265666572 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::ReferTo;
                }
                if k[0] == 0x6f742d796c706572 && k[1] == 0x0 && k[2] == 0x0 {
                    return Self::ReplyTo;
                }
                Self::Other
            }
            9 => {
                if k[0] == 0x666e692d6c6c6163 && k[1] == 0x6f && k[2] == 0x0 {
                    return Self::CallInfo;
                }
                if k[0] == 0x6574726f70707573 && k[1] == 0x64 && k[2] == 0x0 {
                    return Self::Supported;
                }
                if k[0] == 0x6d617473656d6974 && k[1] == 0x70 && k[2] == 0x0 {
                    return Self::Timestamp;
                }
                Self::Other
            }
            10 => {
                if k[0] == 0x6e692d7472656c61 && k[1] == 0x6f66 && k[2] == 0x0 {
                    return Self::AlertInfo;
                }
                if k[0] == 0x6e692d726f727265 && k[1] == 0x6f66 && k[2] == 0x0 {
                    return Self::ErrorInfo;
                }
                if k[0] == 0x6567612d72657375 && k[1] == 0x746e && k[2] == 0x0 {
                    return Self::UserAgent;
                }
                Self::Other
            }
            11 => {
                if k[0] == 0x796c7065722d6e69 && k[1] == 0x6f742d && k[2] == 0x0 {
                    return Self::InReplyTo;
                }
                if k[0] == 0x697078652d6e696d && k[1] == 0x736572 && k[2] == 0x0 {
                    return Self::MinExpires;
                }
                if k[0] == 0x6465727265666572 && k[1] == 0x79622d && k[2] == 0x0 {
                    return Self::ReferredBy;
                }
                if k[0] == 0x66612d7972746572 && k[1] == 0x726574 && k[2] == 0x0 {
                    return Self::RetryAfter;
                }
                if k[0] == 0x726f707075736e75 && k[1] == 0x646574 && k[2] == 0x0 {
                    return Self::Unsupported;
                }
                Self::Other
            }
            12 => {
                if k[0] == 0x76652d776f6c6c61 && k[1] == 0x73746e65 && k[2] == 0x0 {
                    return Self::AllowEvents;
                }
                if k[0] == 0x2d746e65746e6f63 && k[1] == 0x65707974 && k[2] == 0x0 {
                    return Self::ContentType;
                }
                if k[0] == 0x77726f662d78616d && k[1] == 0x73647261 && k[2] == 0x0 {
                    return Self::MaxForwards;
                }
                if k[0] == 0x7265762d656d696d && k[1] == 0x6e6f6973 && k[2] == 0x0 {
                    return Self::MimeVersion;
                }
                if k[0] == 0x617a696e6167726f && k[1] == 0x6e6f6974 && k[2] == 0x0 {
                    return Self::Organization;
                }
                if k[0] == 0x722d64726f636572 && k[1] == 0x6574756f && k[2] == 0x0 {
                    return Self::RecordRoute;
                }
                Self::Other
            }
            13 => {
                if k[0] == 0x7a69726f68747561 && k[1] == 0x6e6f697461 && k[2] == 0x0 {
                    return Self::Authorization;
                }
                if k[0] == 0x797469746e656469 && k[1] == 0x6f666e692d && k[2] == 0x0 {
                    return Self::IdentityInfo;
                }
                if k[0] == 0x65722d79786f7270 && k[1] == 0x6572697571 && k[2] == 0x0 {
                    return Self::ProxyRequire;
                }
                Self::Other
            }
            14 => {
                if k[0] == 0x632d747065636361 && k[1] == 0x746361746e6f && k[2] == 0x0 {
                    return Self::AcceptContact;
                }
                if k[0] == 0x2d746e65746e6f63 && k[1] == 0x6874676e656c && k[2] == 0x0 {
                    return Self::ContentLength;
                }
                if k[0] == 0x632d7463656a6572 && k[1] == 0x746361746e6f && k[2] == 0x0 {
                    return Self::RejectContact;
                }
                Self::Other
            }
            15 => {
                if k[0] == 0x652d747065636361 && k[1] == 0x676e69646f636e && k[2] == 0x0 {
                    return Self::AcceptEncoding;
                }
                if k[0] == 0x6c2d747065636361 && k[1] == 0x65676175676e61 && k[2] == 0x0 {
                    return Self::AcceptLanguage;
                }
                if k[0] == 0x2d6e6f6973736573 && k[1] == 0x73657269707865 && k[2] == 0x0 {
                    return Self::SessionExpires;
                }
                Self::Other
            }
            16 => {
                if k[0] == 0x2d746e65746e6f63 && k[1] == 0x676e69646f636e65 && k[2] == 0x0 {
                    return Self::ContentEncoding;
                }
                if k[0] == 0x2d746e65746e6f63 && k[1] == 0x65676175676e616c && k[2] == 0x0 {
                    return Self::ContentLanguage;
                }
                if k[0] == 0x687475612d777777 && k[1] == 0x6574616369746e65 && k[2] == 0x0 {
                    return Self::WwwAuthenticate;
                }
                Self::Other
            }
            18 => {
                if k[0] == 0x75612d79786f7270 && k[1] == 0x616369746e656874 && k[2] == 0x6574 {
                    return Self::ProxyAuthenticate;
                }
                Self::Other
            }
            19 => {
                if k[0] == 0x69746e6568747561 && k[1] == 0x692d6e6f69746163 && k[2] == 0x6f666e {
                    return Self::AuthenticationInfo;
                }
                if k[0] == 0x2d746e65746e6f63 && k[1] == 0x7469736f70736964 && k[2] == 0x6e6f69 {
                    return Self::ContentDisposition;
                }
                if k[0] == 0x75612d79786f7270 && k[1] == 0x74617a69726f6874 && k[2] == 0x6e6f69 {
                    return Self::ProxyAuthorization;
                }
                if k[0] == 0x2d74736575716572 && k[1] == 0x7469736f70736964 && k[2] == 0x6e6f69 {
                    return Self::RequestDisposition;
                }
                Self::Other
            }
            _ => Self::Other,
        }
    }
}

/// The first `min(n, 8)` bytes of `b` at `at`, little-endian, each with bit
/// 5 set (ASCII lower case for letters); bytes past `n` are zero.
#[inline(always)]
pub(crate) fn folded_word(b: &[u8], at: usize, n: usize) -> u64 {
    let n = n.min(8);
    let mask = if n == 8 {
        u64::MAX
    } else {
        (1u64 << (n * 8)) - 1
    };
    let w = match b.get(at..at + 8) {
        Some(s) => <[u8; 8]>::try_from(s).map_or(0, u64::from_le_bytes),
        // Near the end of the input: gather byte by byte.
        None => b
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take(n)
            .enumerate()
            .fold(0u64, |w, (i, &c)| w | (u64::from(c) << (i * 8))),
    };
    (w | 0x2020_2020_2020_2020) & mask
}

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Other => f.write_str("extension"),
            _ => f.write_str(self.as_str()),
        }
    }
}
