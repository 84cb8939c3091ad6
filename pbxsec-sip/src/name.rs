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
    /// folded (bit 5 set on every byte of the name, bytes past it zero):
    /// one multiplicative hash into a 256-slot table built at compile time
    /// (collision-free for the known names, checked by the compiler), then
    /// one compare of the candidate's words. No branch on the name itself.
    #[inline(always)]
    pub(crate) fn classify_words(len: usize, k: [u64; 3]) -> Self {
        let Some(&i) = SLOTS.get(name_hash(k, len)) else {
            return Self::Other;
        };
        match KEYS.get(usize::from(i)) {
            // Word by word in registers: comparing the arrays whole makes the
            // compiler spill `k` and reload it as one vector, which stalls on
            // store forwarding.
            Some(&(key, key_len, kind))
                if key_len == len && ((key[0] ^ k[0]) | (key[1] ^ k[1]) | (key[2] ^ k[2])) == 0 =>
            {
                kind
            }
            _ => Self::Other,
        }
    }
}

/// The multiplier of [`name_hash`], picked so the known names of two or
/// more bytes land in distinct slots (`SLOTS` fails to compile otherwise).
pub(crate) const HASH_MUL: u64 = 0x7f81_375e_ecc1_cb63;

pub(crate) const fn name_hash(k: [u64; 3], len: usize) -> usize {
    (k[0]
        .wrapping_add(k[1].wrapping_mul(3))
        .wrapping_add(k[2].wrapping_mul(5))
        .wrapping_add(len as u64)
        .wrapping_mul(HASH_MUL)
        >> 56) as usize
}

/// A known name folded into words as [`HeaderName::classify_words`] sees it.
pub(crate) const fn folded_key(name: &str) -> [u64; 3] {
    let b = name.as_bytes();
    let mut k = [0u64; 3];
    let mut i = 0;
    while i < b.len() {
        k[i / 8] |= ((b[i] | 0x20) as u64) << ((i % 8) * 8);
        i += 1;
    }
    k
}

/// Per known name (index into [`HeaderName::ALL`]): folded words, length, kind.
const KEYS: [([u64; 3], usize, HeaderName); HeaderName::ALL.len()] = {
    let mut t = [([0u64; 3], 0usize, HeaderName::Other); HeaderName::ALL.len()];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        let kind = HeaderName::ALL[i];
        let name = kind.as_str();
        t[i] = (folded_key(name), name.len(), kind);
        i += 1;
    }
    t
};

/// Hash slot to index into [`KEYS`]; `u8::MAX` for an empty slot.
const SLOTS: [u8; 256] = {
    let mut t = [u8::MAX; 256];
    let mut i = 0;
    while i < KEYS.len() {
        let (k, len, _) = KEYS[i];
        let h = name_hash(k, len);
        assert!(
            t[h] == u8::MAX,
            "header name hash collision: pick another HASH_MUL"
        );
        t[h] = i as u8;
        i += 1;
    }
    t
};

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
