//! The zero-copy message scanner: start line, headers in order, body.

use memchr::memchr;
use serde::{Deserialize, Serialize};

use crate::text::{self, CommaSplit, is_token, parse_decimal, sub, trim};
use crate::{Error, HeaderName, Result, ScanProblem};

/// Default [`Limits::max_message_size`]: the largest UDP payload.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65_535;
/// Default [`Limits::max_headers`]: real requests carry 10 to 30 header fields.
pub const DEFAULT_MAX_HEADERS: usize = 128;
/// Default [`Limits::max_line_len`]: RFC 4475's long-values message stays far below.
pub const DEFAULT_MAX_LINE_LEN: usize = 8_192;

/// Bounds the scanner enforces before it looks at anything else.
///
/// Every limit is checked while scanning, so a hostile message costs at most
/// one linear pass over `max_message_size` bytes. Any value is valid (a zero
/// limit rejects every message), so there is no separate validated type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted message, head and body, in bytes. Default
    /// [`DEFAULT_MAX_MESSAGE_SIZE`] (65,535).
    pub max_message_size: usize,
    /// Most header fields (folded lines count once). Default
    /// [`DEFAULT_MAX_HEADERS`] (128).
    pub max_headers: usize,
    /// Longest physical line, without its line end. Default
    /// [`DEFAULT_MAX_LINE_LEN`] (8,192).
    pub max_line_len: usize,
}

impl Limits {
    /// The defaults: 65,535-byte messages, 128 header fields, 8,192-byte lines.
    pub const DEFAULT: Self = Self {
        max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        max_headers: DEFAULT_MAX_HEADERS,
        max_line_len: DEFAULT_MAX_LINE_LEN,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        /// The method as written (case-sensitive per RFC 3261).
        method: &'a str,
        /// The Request-URI as written.
        uri: &'a str,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Response {
        /// The three-digit status code.
        code: u16,
        /// The reason phrase (may be empty).
        reason: &'a str,
    },
}

/// One header field as it appears in the message.
///
/// `value` is trimmed of leading and trailing whitespace. A folded value
/// (continuation lines) is returned as written, line ends included: the
/// scanner does not copy to unfold it, and every typed parser in this crate
/// treats CR and LF inside a value as whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as written (`"v"`, `"VIA"`, ...).
    pub name: &'a str,
    /// The name classified, long and compact forms alike.
    pub kind: HeaderName,
    /// The value, trimmed.
    pub value: &'a str,
    /// Byte offset of the header line in the scanned bytes.
    pub offset: usize,
    /// Byte offset of `value` in the scanned bytes.
    pub value_offset: usize,
}

impl<'a> Header<'a> {
    /// The comma-separated elements of the value (commas inside quoted
    /// strings and `<...>` do not separate), each trimmed, empty ones skipped.
    pub fn values(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        CommaSplit::new(self.value)
            .map(|(v, _)| v)
            .filter(|v| !v.is_empty())
    }
}

/// A scanned SIP message: a borrowed view over the input bytes.
///
/// Built by [`scan`] / [`Message::scan`] without allocating; every query
/// borrows from the input. The value of the first header of each hot kind
/// (Via, From, To, Call-ID, CSeq, Authorization, ...) is indexed while
/// scanning, so the typed accessors jump straight to it; other kinds are
/// found by walking the header lines.
///
/// Line ends may be CRLF (as RFC 3261 requires) or a bare LF (as some
/// scanners and test tools send); CR before LF is dropped, a lone CR inside a
/// line is kept as part of it. CR/LF before the start line (keep-alives) are
/// skipped. A datagram that ends right after its last header line, without
/// the empty line, is accepted with an empty body (a stream framed by
/// [`crate::frame`] always has the empty line).
#[derive(Debug, Clone)]
pub struct Message<'a> {
    input: &'a [u8],
    /// Start line and header lines, UTF-8, from `base`.
    head: &'a str,
    base: usize,
    headers_at: usize,
    body_at: usize,
    body_len: usize,
    content_length: Option<usize>,
    start: StartLine<'a>,
    version: &'a str,
    header_count: usize,
    /// Per indexed kind ([`INDEXED`]): where the value of its first header lies in `head`.
    first: [Span; INDEXED.len()],
}

/// The kinds whose first header the scanner indexes: those the typed
/// accessors and the framer read. Any other kind is found by walking the
/// header lines (linear, and only when asked). A small index keeps
/// [`Message`] small, so building and returning it costs little.
const INDEXED: [HeaderName; 16] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::Contact,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::UserAgent,
    HeaderName::Server,
    HeaderName::Authorization,
    HeaderName::ProxyAuthorization,
    HeaderName::WwwAuthenticate,
    HeaderName::ProxyAuthenticate,
    HeaderName::MaxForwards,
    HeaderName::Expires,
];

/// Not indexed (a slot number in [`SLOT`]).
const UNINDEXED: u8 = u8::MAX;

/// Per [`HeaderName`] (as `usize`): its slot in `Message::first`, or [`UNINDEXED`].
const SLOT: [u8; HeaderName::COUNT] = {
    let mut t = [UNINDEXED; HeaderName::COUNT];
    let mut i = 0;
    while i < INDEXED.len() {
        t[INDEXED[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The slot of `kind` in `Message::first`, `None` when it is not indexed.
#[inline(always)]
fn slot(kind: HeaderName) -> Option<usize> {
    match SLOT.get(kind as usize) {
        Some(&s) if s != UNINDEXED => Some(usize::from(s)),
        _ => None,
    }
}

/// The raw value of a header in `head`: from just after the colon to the
/// end of its last (continuation) line, without the line end. `at == 0` means absent (a
/// value never starts at 0: the start line comes first).
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    at: u32,
    end: u32,
}

/// The trimmed value of the first header of the indexed `kind` and its byte
/// offset in the input, from the index `first` over `head`.
#[inline(always)]
fn span_value<'a>(
    head: &'a str,
    base: usize,
    first: &[Span; INDEXED.len()],
    kind: HeaderName,
) -> Option<(&'a str, usize)> {
    let span = first.get(slot(kind)?)?;
    if span.at == 0 {
        return None;
    }
    let at = span.at as usize;
    let (value, cut) = trim(sub(head, at, span.end as usize));
    Some((value, base + at + cut))
}

/// Scans one message with the default [`Limits`]. Same as [`Message::scan`].
///
/// # Errors
/// A [`Error::Scan`] naming what is wrong and where.
pub fn scan(input: &[u8]) -> Result<Message<'_>> {
    Message::scan_with(input, &Limits::DEFAULT)
}

fn err(offset: usize, problem: ScanProblem) -> Error {
    Error::Scan { offset, problem }
}

/// Finds the line starting at `pos`: returns (end without CR, start of next line).
fn line_at(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let nl = text::find_byte(b, pos, b'\n')?;
    let end = if nl > pos && b.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

/// One slot of [`SCAN_NAMES`]: a known name of 2 to 15 bytes as the
/// scanner reads it (folded, two words, bytes past the name zero), which of
/// its bytes are letters (0x20 in each letter byte: the bit that folds
/// case), its length (0 for an empty slot) and its index slot
/// ([`UNINDEXED`] when the scanner does not index it).
#[derive(Clone, Copy)]
struct ScanName {
    w: [u64; 2],
    letters: [u64; 2],
    len: u8,
    slot: u8,
}

/// The known names of 2 to 15 bytes, placed by [`crate::name::name_hash`]
/// (collision-free, checked when [`HeaderName::classify_words`]' table is
/// built): one load and one compare classify a name and give its index
/// slot, where the general classifier needs two dependent loads and then
/// the slot table.
const SCAN_NAMES: [ScanName; 256] = {
    let mut t = [ScanName {
        w: [0; 2],
        letters: [0; 2],
        len: 0,
        slot: UNINDEXED,
    }; 256];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        let kind = HeaderName::ALL[i];
        let name = kind.as_str();
        if name.len() >= 2 && name.len() <= 15 {
            let k = crate::name::folded_key(name);
            let b = name.as_bytes();
            let mut letters = [0u64; 2];
            let mut j = 0;
            while j < b.len() {
                if b[j].is_ascii_alphabetic() {
                    letters[j / 8] |= 0x20 << ((j % 8) * 8);
                } else {
                    // `-` is the only other byte of a known name, and it
                    // folds onto itself: the key holds it exactly.
                    assert!(b[j] == b'-', "known names are letters and '-'");
                }
                j += 1;
            }
            t[crate::name::name_hash(k, name.len())] = ScanName {
                w: [k[0], k[1]],
                letters,
                len: name.len() as u8,
                slot: SLOT[kind as usize],
            };
        }
        i += 1;
    }
    t
};

/// The common header name: 1 to 15 token characters right before a colon,
/// read as two words with no per-byte branch. Returns the colon's index and
/// the name's index slot ([`UNINDEXED`] when not indexed); `None` sends the
/// caller to the byte-by-byte path (longer names, whitespace before the
/// colon, errors, the end of the input).
#[inline(always)]
fn short_name(input: &[u8], pos: usize) -> Option<(usize, u8)> {
    const COLONS: u64 = 0x3a3a_3a3a_3a3a_3a3a;
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let w0 = text::word(input, pos)?;
    let w1 = text::word(input, pos + 8)?;
    let z0 = text::zero_bytes(w0 ^ COLONS);
    let n = if z0 != 0 {
        (z0.trailing_zeros() / 8) as usize
    } else {
        let z1 = text::zero_bytes(w1 ^ COLONS);
        if z1 == 0 {
            return None;
        }
        8 + (z1.trailing_zeros() / 8) as usize
    };
    if n == 0 {
        return None;
    }
    if n == 1 {
        let kind = HeaderName::classify(input, pos, 1);
        if kind == HeaderName::Other && !input.get(pos).is_some_and(|&c| is_token(c)) {
            return None;
        }
        return Some((
            pos + 1,
            SLOT.get(kind as usize).copied().unwrap_or(UNINDEXED),
        ));
    }
    // The name's bytes in each word (n is 2 to 15), without a branch.
    let m0 = u64::MAX >> (64 - 8 * n.min(8));
    let m1 = if n > 8 { u64::MAX >> (128 - 8 * n) } else { 0 };
    let k0 = (w0 | FOLD) & m0;
    let k1 = (w1 | FOLD) & m1;
    // A known name matches when its letters match in either case and its
    // other bytes (`-`) match exactly: setting bit 5 maps a byte onto a
    // letter only from that letter's two cases, so every byte matched is a
    // token character. Any other name is checked byte by byte.
    match SCAN_NAMES.get(crate::name::name_hash([k0, k1, 0], n)) {
        Some(e)
            if usize::from(e.len) == n
                && (((w0 | e.letters[0]) & m0) ^ e.w[0])
                    | (((w1 | e.letters[1]) & m1) ^ e.w[1])
                    == 0 =>
        {
            Some((pos + n, e.slot))
        }
        _ => {
            if !input.get(pos..pos + n)?.iter().all(|&c| is_token(c)) {
                return None;
            }
            Some((pos + n, UNINDEXED))
        }
    }
}

/// The error for a header line the fast path in [`Message::scan_with`]
/// refused, checked in the order the problems are reported: unterminated,
/// too long, no colon, bad name.
#[cold]
fn line_error(input: &[u8], pos: usize, limits: &Limits) -> Error {
    let Some((end, _)) = line_at(input, pos) else {
        return err(pos, ScanProblem::UnterminatedHeaders);
    };
    if end - pos > limits.max_line_len {
        return err(pos, ScanProblem::LineTooLong);
    }
    let line = input.get(pos..end).unwrap_or_default();
    if memchr(b':', line).is_none() {
        return err(pos, ScanProblem::MissingColon);
    }
    err(pos, ScanProblem::BadHeaderName)
}

fn valid_version(v: &str) -> bool {
    let b = v.as_bytes();
    if !text::starts_with_ignore_case(b, b"SIP/") {
        return false;
    }
    let rest = text::from(v, 4);
    let Some((major, minor)) = text::split_b(rest, b'.') else {
        return false;
    };
    !major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|c| c.is_ascii_digit())
        && minor.bytes().all(|c| c.is_ascii_digit())
}

/// True when `uri` starts with a scheme (`ALPHA *(ALPHA / DIGIT / + - .) ":"`).
#[inline]
pub(crate) fn has_scheme(uri: &str) -> bool {
    scheme_len(uri).is_some()
}

/// The index of the colon ending `uri`'s scheme, when it starts with one.
#[inline]
pub(crate) fn scheme_len(uri: &str) -> Option<usize> {
    let b = uri.as_bytes();
    // `sip:` in any case, in one compare: bit 5 folds only `S`, `I`, `P`
    // onto `s`, `i`, `p`; the colon is compared exactly.
    if b.get(..4)
        .and_then(|p| <[u8; 4]>::try_from(p).ok())
        .is_some_and(|p| u32::from_le_bytes(p) | 0x0020_2020 == u32::from_le_bytes(*b"sip:"))
    {
        return Some(3);
    }
    scheme_len_general(b)
}

/// [`scheme_len`] without its `sip:` fast path: RFC 3986's `scheme ":"`,
/// byte by byte.
fn scheme_len_general(b: &[u8]) -> Option<usize> {
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut i = 1;
    while b
        .get(i)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        i += 1;
    }
    (b.get(i) == Some(&b':')).then_some(i)
}

impl<'a> Message<'a> {
    /// Scans one message (a UDP datagram or one framed TCP message) with the
    /// default [`Limits`].
    ///
    /// # Errors
    /// A [`Error::Scan`] naming what is wrong and where.
    #[inline]
    pub fn scan(input: &'a [u8]) -> Result<Self> {
        Self::scan_with(input, &Limits::DEFAULT)
    }

    /// Scans one message under `limits`.
    ///
    /// Checks the structure only: a start line, header lines with token
    /// names and a colon, an empty line, UTF-8 start line and headers, and a
    /// Content-Length that fits the bytes after the headers (extra bytes
    /// after it are ignored, RFC 3261 section 18.3; without it the body is
    /// the rest of the input). Header values are read lazily by the
    /// accessors; [`Message::validate`] checks them all.
    ///
    /// # Errors
    /// A [`Error::Scan`] naming what is wrong and where.
    pub fn scan_with(input: &'a [u8], limits: &Limits) -> Result<Self> {
        if input.len() > limits.max_message_size {
            return Err(err(limits.max_message_size, ScanProblem::MessageTooLarge));
        }
        // The header index holds 32-bit offsets.
        if u32::try_from(input.len()).is_err() {
            return Err(err(u32::MAX as usize, ScanProblem::MessageTooLarge));
        }
        let base = match input.first() {
            Some(b'\r' | b'\n') => input
                .iter()
                .position(|&c| c != b'\r' && c != b'\n')
                .ok_or(err(0, ScanProblem::Empty))?,
            Some(_) => 0,
            None => return Err(err(0, ScanProblem::Empty)),
        };
        // Every line feed of the head, in order, from one compare per 64
        // bytes: each line below takes the next one.
        let mut lfs = text::LineFeeds::new(input, base);
        let nl = lfs
            .next_lf()
            .ok_or(err(input.len(), ScanProblem::UnterminatedHeaders))?;
        let start_end = if nl > base && input.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        };
        let mut pos = nl + 1;
        if start_end - base > limits.max_line_len {
            return Err(err(base, ScanProblem::LineTooLong));
        }
        let headers_abs = pos;
        let mut first = [Span::default(); INDEXED.len()];
        // The index slot of the header being read, while it may still be continued.
        let mut open: Option<usize> = None;
        let mut count = 0usize;
        let rel = |i: usize| u32::try_from(i - base).unwrap_or(u32::MAX);
        let head_end;
        loop {
            match input.get(pos) {
                None => {
                    if count > 0 {
                        // A datagram that ends right after its last header line: the
                        // empty line is missing (RFC 4475's baddn.dat is sent so).
                        head_end = pos;
                        break;
                    }
                    return Err(err(pos, ScanProblem::UnterminatedHeaders));
                }
                Some(b'\n') => {
                    head_end = pos;
                    pos += 1;
                    break;
                }
                Some(b'\r') if input.get(pos + 1) == Some(&b'\n') => {
                    head_end = pos;
                    pos += 2;
                    break;
                }
                Some(b' ' | b'\t') => {
                    // A continuation line: it extends the header above.
                    let nl = lfs
                        .next_lf()
                        .ok_or(err(pos, ScanProblem::UnterminatedHeaders))?;
                    let end = if input.get(nl - 1) == Some(&b'\r') {
                        nl - 1
                    } else {
                        nl
                    };
                    let next = nl + 1;
                    if end - pos > limits.max_line_len {
                        return Err(err(pos, ScanProblem::LineTooLong));
                    }
                    if count == 0 {
                        return Err(err(pos, ScanProblem::OrphanContinuation));
                    }
                    if let Some(slot) = open.and_then(|k| first.get_mut(k)) {
                        slot.end = rel(end);
                    }
                    pos = next;
                }
                Some(_) => {
                    // The common case in one forward pass: a token name, optional
                    // SP/HTAB, the colon, then the line feed. Anything else is an
                    // error, reported by `line_error` exactly as written.
                    // The line feed is searched from the line start, so the
                    // search does not wait for the name: the name, blanks and
                    // colon hold no line feed, so it is the same one.
                    let Some(nl) = lfs.next_lf() else {
                        return Err(line_error(input, pos, limits));
                    };
                    let (i, slot) = match short_name(input, pos) {
                        Some(found) => found,
                        None => {
                            let mut i = pos;
                            while input.get(i).is_some_and(|&c| is_token(c)) {
                                i += 1;
                            }
                            let name_end = i;
                            while matches!(input.get(i), Some(b' ' | b'\t')) {
                                i += 1;
                            }
                            if name_end == pos || input.get(i) != Some(&b':') {
                                return Err(line_error(input, pos, limits));
                            }
                            let kind = HeaderName::classify(input, pos, name_end - pos);
                            (i, SLOT.get(kind as usize).copied().unwrap_or(UNINDEXED))
                        }
                    };
                    let end = if input.get(nl - 1) == Some(&b'\r') {
                        nl - 1
                    } else {
                        nl
                    };
                    if end - pos > limits.max_line_len {
                        return Err(err(pos, ScanProblem::LineTooLong));
                    }
                    count += 1;
                    if count > limits.max_headers {
                        return Err(err(pos, ScanProblem::TooManyHeaders));
                    }
                    open = None;
                    if slot != UNINDEXED {
                        let k = usize::from(slot);
                        if let Some(span) = first.get_mut(k) {
                            if span.at == 0 {
                                *span = Span {
                                    at: rel(i + 1),
                                    end: rel(end),
                                };
                                open = Some(k);
                            }
                        }
                    }
                    pos = nl + 1;
                }
            }
        }
        let head_bytes = input.get(base..head_end).unwrap_or_default();
        // `simdutf8` validates with SIMD (AVX2 / SSE4.2 / NEON, picked at run
        // time), about three times faster than `std` on a SIP head; on an
        // error `std` runs again to say where (the rare, cold path).
        let head = match simdutf8::basic::from_utf8(head_bytes) {
            Ok(head) => head,
            Err(_) => std::str::from_utf8(head_bytes)
                .map_err(|e| err(base + e.valid_up_to(), ScanProblem::InvalidUtf8))?,
        };
        let line = sub(head, 0, start_end - base);
        let (start, version) = parse_start_line(line, base)?;
        // Content-Length straight from the index, before the view is built,
        // so the view is written once, in place.
        let mut body_len = input.len().saturating_sub(pos);
        let mut content_length = None;
        if let Some((value, at)) = span_value(head, base, &first, HeaderName::ContentLength) {
            let n = parse_decimal(value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(err(at, ScanProblem::BadContentLength))?;
            if n > body_len {
                return Err(err(at, ScanProblem::ContentLengthExceedsBody));
            }
            body_len = n;
            content_length = Some(n);
        }
        Ok(Self {
            input,
            head,
            base,
            headers_at: headers_abs - base,
            body_at: pos,
            body_len,
            content_length,
            start,
            version,
            header_count: count,
            first,
        })
    }

    /// The start line.
    #[must_use]
    pub const fn start_line(&self) -> StartLine<'a> {
        self.start
    }

    /// True for a request.
    #[must_use]
    pub const fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, `None` for a response.
    #[must_use]
    pub const fn method(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written, `None` for a response.
    #[must_use]
    pub const fn request_uri(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, `None` for a request.
    #[must_use]
    pub const fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase, `None` for a request.
    #[must_use]
    pub const fn reason(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// The SIP-Version as written (`"SIP/2.0"`).
    #[must_use]
    pub const fn version(&self) -> &'a str {
        self.version
    }

    /// The body: Content-Length bytes after the empty line when the header is
    /// present, else everything after it.
    #[must_use]
    pub fn body(&self) -> &'a [u8] {
        self.input
            .get(self.body_at..self.body_at + self.body_len)
            .unwrap_or_default()
    }

    /// The Content-Length the scanner used, if the message has one.
    #[must_use]
    pub const fn content_length(&self) -> Option<usize> {
        self.content_length
    }

    /// How many header fields the message has.
    #[must_use]
    pub const fn header_count(&self) -> usize {
        self.header_count
    }

    /// Byte offset of the start line in the input (after skipped CR/LF).
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.base
    }

    /// The bytes this message occupies in the input: start line to the end of the body.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.input
            .get(self.base..self.body_at + self.body_len)
            .unwrap_or_default()
    }

    /// Every header field, in order.
    #[must_use]
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            head: self.head,
            base: self.base,
            pos: self.headers_at,
        }
    }

    /// The trimmed value of the first header of a known kind and its byte
    /// offset in the input, straight from the index built while scanning.
    #[inline]
    pub(crate) fn value(&self, kind: HeaderName) -> Option<(&'a str, usize)> {
        if slot(kind).is_none() {
            return self.walk_first(kind).map(|h| (h.value, h.value_offset));
        }
        span_value(self.head, self.base, &self.first, kind)
    }

    /// Offset in `head` of the line holding the first header of `kind`.
    fn first_line(&self, kind: HeaderName) -> Option<usize> {
        let Some(k) = slot(kind) else {
            return self.walk_first(kind).map(|h| h.offset - self.base);
        };
        let span = self.first.get(k)?;
        if span.at == 0 {
            return None;
        }
        // Walk back from the colon over optional SP/HTAB and the name (token
        // characters, which never include a line end) to the line start.
        let b = self.head.as_bytes();
        let mut i = (span.at as usize).checked_sub(1)?;
        while i > 0 && matches!(b.get(i - 1), Some(b' ' | b'\t')) {
            i -= 1;
        }
        while i > 0 && b.get(i - 1).is_some_and(|&c| is_token(c)) {
            i -= 1;
        }
        Some(i)
    }

    /// The first header of a kind that is not indexed, by walking the lines.
    fn walk_first(&self, kind: HeaderName) -> Option<Header<'a>> {
        if kind == HeaderName::Other {
            return None;
        }
        self.headers().find(|h| h.kind == kind)
    }

    /// The first header of a known kind, through the index built while scanning.
    #[must_use]
    pub fn get(&self, kind: HeaderName) -> Option<Header<'a>> {
        let pos = self.first_line(kind)?;
        Headers {
            head: self.head,
            base: self.base,
            pos,
        }
        .read(Some(kind))
    }

    /// Every header of a known kind, in order.
    pub fn get_all(&self, kind: HeaderName) -> impl Iterator<Item = Header<'a>> + use<'a> {
        let pos = self.first_line(kind).unwrap_or(self.head.len());
        Headers {
            head: self.head,
            base: self.base,
            pos,
        }
        .filter(move |h| h.kind == kind)
    }

    /// The first header with this name: ASCII case-insensitive, and a long
    /// or compact name finds both forms (`header("f")` finds `From:`).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<Header<'a>> {
        self.header_all(name).next()
    }

    /// Every header with this name, in order (see [`Message::header`]).
    pub fn header_all<'q>(&self, name: &'q str) -> impl Iterator<Item = Header<'a>> + use<'a, 'q> {
        let kind = HeaderName::from_name(name);
        let mut it = self.headers();
        if kind != HeaderName::Other {
            it.pos = self.first_line(kind).unwrap_or(self.head.len());
        }
        it.filter(move |h| {
            h.kind == kind && (kind != HeaderName::Other || h.name.eq_ignore_ascii_case(name))
        })
    }

    /// Every comma-separated value of every header with this name, in
    /// order: `Via: a, b` then `Via: c` yields `a`, `b`, `c`. Commas inside
    /// quoted strings and `<...>` do not separate; empty elements are skipped.
    pub fn values<'q>(&self, name: &'q str) -> impl Iterator<Item = &'a str> + use<'a, 'q> {
        self.header_all(name).flat_map(|h| h.values())
    }

    /// The User-Agent value, trimmed.
    #[must_use]
    #[inline]
    pub fn user_agent(&self) -> Option<&'a str> {
        self.value(HeaderName::UserAgent).map(|(v, _)| v)
    }

    /// The Server value, trimmed.
    #[must_use]
    pub fn server(&self) -> Option<&'a str> {
        self.value(HeaderName::Server).map(|(v, _)| v)
    }

    /// The Call-ID (`i`).
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when absent, [`Error::Header`] when empty.
    pub fn call_id(&self) -> Result<&'a str> {
        let (value, at) = self.required_value(HeaderName::CallId)?;
        if value.is_empty() || value.bytes().any(text::is_lws) {
            return Err(Error::Header {
                header: HeaderName::CallId,
                offset: at,
                problem: crate::ValueProblem::Empty,
            });
        }
        Ok(value)
    }

    /// The trimmed value of a mandatory header and its offset.
    #[inline]
    pub(crate) fn required_value(&self, kind: HeaderName) -> Result<(&'a str, usize)> {
        self.value(kind)
            .ok_or(Error::MissingHeader { header: kind })
    }

    pub(crate) fn required(&self, kind: HeaderName) -> Result<Header<'a>> {
        self.get(kind).ok_or(Error::MissingHeader { header: kind })
    }

    /// How many header lines of this kind the message carries.
    pub(crate) fn count(&self, kind: HeaderName) -> usize {
        self.get_all(kind).count()
    }
}

fn parse_start_line(line: &str, base: usize) -> Result<(StartLine<'_>, &str)> {
    if let Some(found) = fast_request_line(line) {
        return Ok(found);
    }
    let b = line.as_bytes();
    let sp1 = memchr(b' ', b).ok_or(err(base, ScanProblem::BadStartLine))?;
    let first = sub(line, 0, sp1);
    if text::starts_with_ignore_case(b, b"SIP/") {
        if !valid_version(first) {
            return Err(err(base, ScanProblem::BadVersion));
        }
        let rest = text::from(line, sp1 + 1);
        let (code, reason) = match text::split_b(rest, b' ') {
            Some((c, r)) => (c, r),
            None => (rest, ""),
        };
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err(base + sp1 + 1, ScanProblem::BadStatusCode));
        }
        let code = parse_decimal(code)
            .and_then(|c| u16::try_from(c).ok())
            .ok_or(err(base + sp1 + 1, ScanProblem::BadStatusCode))?;
        return Ok((StartLine::Response { code, reason }, first));
    }
    if first.is_empty() || !first.bytes().all(is_token) {
        return Err(err(base, ScanProblem::BadMethod));
    }
    let sp2 = memchr::memrchr(b' ', b).ok_or(err(base, ScanProblem::BadStartLine))?;
    if sp2 == sp1 {
        return Err(err(base, ScanProblem::BadStartLine));
    }
    let uri = sub(line, sp1 + 1, sp2);
    if uri.is_empty() || uri.bytes().any(text::is_lws) || !has_scheme(uri) {
        return Err(err(base + sp1 + 1, ScanProblem::BadRequestUri));
    }
    let version = text::from(line, sp2 + 1);
    if !valid_version(version) {
        return Err(err(base + sp2 + 1, ScanProblem::BadVersion));
    }
    Ok((StartLine::Request { method: first, uri }, version))
}

/// The method of the common request line, in two words: when a space comes
/// within the first 16 bytes of `b` and every byte before it is an
/// upper-case ASCII letter (every RFC 3261 method), its index (the end of
/// the token run, since a space is no token character). `None` leaves it to
/// the byte loop.
#[inline(always)]
fn upper_word_end(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = LO << 7;
    const SPACES: u64 = LO * b' ' as u64;
    // The high bit of each byte that is an upper-case letter. Bytes below
    // 0x80: adding 0x80 - lo sets the high bit exactly when the byte is at
    // least `lo`, with no carry into the next byte; a byte from 0x80 up is
    // never counted (its own high bit is cleared), and a carry out of it
    // only reaches later bytes, which do not matter once it fails.
    let upper = |w: u64| {
        w.wrapping_add(LO * (0x80 - u64::from(b'A')))
            & !w.wrapping_add(LO * (0x80 - u64::from(b'Z') - 1))
            & !w
            & HI
    };
    let mask = |k: usize| (1u64 << (k * 8)) - 1;
    let w0 = text::word(b, 0)?;
    let sp0 = text::zero_bytes(w0 ^ SPACES);
    if sp0 != 0 {
        let n = (sp0.trailing_zeros() / 8) as usize;
        return (n > 0 && upper(w0) & mask(n) == HI & mask(n)).then_some(n);
    }
    let w1 = text::word(b, 8)?;
    let sp1 = text::zero_bytes(w1 ^ SPACES);
    if sp1 == 0 {
        return None;
    }
    let n = (sp1.trailing_zeros() / 8) as usize;
    (upper(w0) == HI && upper(w1) & mask(n) == HI & mask(n)).then_some(8 + n)
}

/// The common request line, `METHOD SP URI SP SIP/2.0`, checked in one pass
/// per part. `None` (anything unusual, including every error) sends the
/// caller to the general parser, which reports problems as before.
#[inline]
fn fast_request_line(line: &str) -> Option<(StartLine<'_>, &str)> {
    const VERSION: &[u8] = b" SIP/2.0";
    let b = line.as_bytes();
    let uri_end = b.len().checked_sub(VERSION.len())?;
    if b.get(uri_end..)? != VERSION {
        return None;
    }
    let sp1 = match upper_word_end(b) {
        Some(n) => n,
        None => {
            let mut sp1 = 0;
            while b.get(sp1).is_some_and(|&c| is_token(c)) {
                sp1 += 1;
            }
            sp1
        }
    };
    if sp1 == 0 || b.get(sp1) != Some(&b' ') {
        return None;
    }
    let uri = line.get(sp1 + 1..uri_end)?;
    // No LWS inside (the fold has no early exit, so it vectorises), and a scheme.
    let lws = uri.bytes().fold(false, |a, c| a | text::is_lws(c));
    if uri.is_empty() || lws || !has_scheme(uri) {
        return None;
    }
    let method = line.get(..sp1)?;
    let version = line.get(uri_end + 1..)?;
    Some((StartLine::Request { method, uri }, version))
}

/// Iterator over the header fields of a [`Message`], in order.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    head: &'a str,
    base: usize,
    pos: usize,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        self.read(None)
    }
}

impl<'a> Headers<'a> {
    /// Reads the header at the cursor; `kind` when the caller already knows it.
    fn read(&mut self, kind: Option<HeaderName>) -> Option<Header<'a>> {
        let b = self.head.as_bytes();
        // The scanner validated the head: every line here is a header line or a continuation.
        let start = self.pos;
        let rest = b.get(start..)?;
        if rest.is_empty() {
            return None;
        }
        let colon = memchr(b':', rest)? + start;
        let mut end = b.len();
        let mut i = colon;
        while let Some(nl) = b.get(i..).and_then(|r| memchr(b'\n', r)) {
            let next = i + nl + 1;
            if matches!(b.get(next), Some(b' ' | b'\t')) {
                i = next;
            } else {
                end = next;
                break;
            }
        }
        self.pos = end;
        let name = sub(self.head, start, colon).trim_end_matches([' ', '\t']);
        let (value, cut) = trim(sub(self.head, colon + 1, end));
        Some(Header {
            name,
            kind: kind.unwrap_or_else(|| HeaderName::from_bytes(name.as_bytes())),
            value,
            offset: self.base + start,
            value_offset: self.base + colon + 1 + cut,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use proptest::prelude::*;

    use super::{scheme_len, scheme_len_general, upper_word_end};

    /// [`scheme_len`] without its `sip:` fast path.
    fn scheme_len_model(uri: &str) -> Option<usize> {
        scheme_len_general(uri.as_bytes())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// The scheme length with its `sip:` fast path agrees with the
        /// byte loop.
        #[test]
        fn scheme_len_agrees_with_the_byte_loop(
            uri in "(?i:sip|sips|tel|s1p|si|sipx)[:;.+\x13\x1a\x00]?(?i:[a-z0-9@:]{0,6})",
        ) {
            prop_assert_eq!(scheme_len(&uri), scheme_len_model(&uri), "{:?}", uri);
        }

        /// The two-word method read against its definition: the index of
        /// the first space when it comes within 16 bytes, after at least
        /// one byte, and every byte before it is `A`-`Z`; else `None`.
        #[test]
        fn upper_word_end_matches_its_definition(
            b in proptest::collection::vec(
                prop_oneof![
                    b'A'..=b'Z',
                    Just(b' '),
                    Just(b'@'),
                    Just(b'['),
                    Just(b'a'),
                    Just(b'z'),
                    Just(b'-'),
                    128u8..=255,
                    any::<u8>(),
                ],
                0..24,
            ),
        ) {
            let want = b.iter().position(|&c| c == b' ').filter(|&n| {
                n > 0 && n < 16 && b.len() >= if n < 8 { 8 } else { 16 }
                    && b[..n].iter().all(u8::is_ascii_uppercase)
            });
            prop_assert_eq!(upper_word_end(&b), want, "{:?}", b);
        }
    }
}
