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
/// borrows from the input. The first occurrence of every known header is
/// indexed while scanning, so the typed accessors jump straight to it.
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
    /// Per [`HeaderName`]: offset in `head` of its first line, plus one (0: absent).
    first: [u32; HeaderName::COUNT],
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
    let rest = b.get(pos..)?;
    let nl = memchr(b'\n', rest)? + pos;
    let end = if nl > pos && b.get(nl - 1) == Some(&b'\r') {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

fn valid_version(v: &str) -> bool {
    let b = v.as_bytes();
    if !text::starts_with_ignore_case(b, b"SIP/") {
        return false;
    }
    let rest = text::from(v, 4);
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    !major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|c| c.is_ascii_digit())
        && minor.bytes().all(|c| c.is_ascii_digit())
}

/// True when `uri` starts with a scheme (`ALPHA *(ALPHA / DIGIT / + - .) ":"`).
pub(crate) fn has_scheme(uri: &str) -> bool {
    let b = uri.as_bytes();
    let Some(colon) = memchr(b':', b) else {
        return false;
    };
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.get(..colon).is_some_and(|s| {
            s.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        })
}

impl<'a> Message<'a> {
    /// Scans one message (a UDP datagram or one framed TCP message) with the
    /// default [`Limits`].
    ///
    /// # Errors
    /// A [`Error::Scan`] naming what is wrong and where.
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
        let base = input
            .iter()
            .position(|&c| c != b'\r' && c != b'\n')
            .ok_or(err(0, ScanProblem::Empty))?;
        let (start_end, mut pos) =
            line_at(input, base).ok_or(err(input.len(), ScanProblem::UnterminatedHeaders))?;
        if start_end - base > limits.max_line_len {
            return Err(err(base, ScanProblem::LineTooLong));
        }
        let headers_abs = pos;
        let mut first = [0u32; HeaderName::COUNT];
        let mut count = 0usize;
        let head_end;
        loop {
            let Some((end, next)) = line_at(input, pos) else {
                if pos == input.len() && count > 0 {
                    // A datagram that ends right after its last header line: the
                    // empty line is missing (RFC 4475's baddn.dat is sent so).
                    head_end = pos;
                    break;
                }
                return Err(err(pos, ScanProblem::UnterminatedHeaders));
            };
            if end - pos > limits.max_line_len {
                return Err(err(pos, ScanProblem::LineTooLong));
            }
            let line = input.get(pos..end).unwrap_or_default();
            match line.first() {
                None => {
                    head_end = pos;
                    pos = next;
                    break;
                }
                Some(b' ' | b'\t') => {
                    if count == 0 {
                        return Err(err(pos, ScanProblem::OrphanContinuation));
                    }
                }
                Some(_) => {
                    let colon = memchr(b':', line).ok_or(err(pos, ScanProblem::MissingColon))?;
                    let name = line.get(..colon).unwrap_or_default();
                    let name_len = name
                        .iter()
                        .rposition(|&c| c != b' ' && c != b'\t')
                        .map_or(0, |i| i + 1);
                    let name = name.get(..name_len).unwrap_or_default();
                    if name.is_empty() || !name.iter().all(|&c| is_token(c)) {
                        return Err(err(pos, ScanProblem::BadHeaderName));
                    }
                    count += 1;
                    if count > limits.max_headers {
                        return Err(err(pos, ScanProblem::TooManyHeaders));
                    }
                    let kind = HeaderName::from_bytes(name);
                    if let Some(slot) = first.get_mut(kind as usize) {
                        if *slot == 0 {
                            *slot = u32::try_from(pos - base + 1).unwrap_or(u32::MAX);
                        }
                    }
                }
            }
            pos = next;
        }
        let head_bytes = input.get(base..head_end).unwrap_or_default();
        let head = std::str::from_utf8(head_bytes)
            .map_err(|e| err(base + e.valid_up_to(), ScanProblem::InvalidUtf8))?;
        let line = sub(head, 0, start_end - base);
        let (start, version) = parse_start_line(line, base)?;
        let mut msg = Self {
            input,
            head,
            base,
            headers_at: headers_abs - base,
            body_at: pos,
            body_len: input.len().saturating_sub(pos),
            content_length: None,
            start,
            version,
            header_count: count,
            first,
        };
        if let Some(h) = msg.get(HeaderName::ContentLength) {
            let n = parse_decimal(h.value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(err(h.value_offset, ScanProblem::BadContentLength))?;
            if n > msg.body_len {
                return Err(err(h.value_offset, ScanProblem::ContentLengthExceedsBody));
            }
            msg.body_len = n;
            msg.content_length = Some(n);
        }
        Ok(msg)
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

    /// The first header of a known kind, through the index built while scanning.
    #[must_use]
    pub fn get(&self, kind: HeaderName) -> Option<Header<'a>> {
        if kind == HeaderName::Other {
            return None;
        }
        let at = *self.first.get(kind as usize)?;
        let pos = usize::try_from(at).ok()?.checked_sub(1)?;
        Headers {
            head: self.head,
            base: self.base,
            pos,
        }
        .read(Some(kind))
    }

    /// Every header of a known kind, in order.
    pub fn get_all(&self, kind: HeaderName) -> impl Iterator<Item = Header<'a>> + use<'a> {
        let pos = self
            .first
            .get(kind as usize)
            .and_then(|&at| usize::try_from(at).ok())
            .and_then(|at| at.checked_sub(1))
            .filter(|_| kind != HeaderName::Other)
            .unwrap_or(self.head.len());
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
            it.pos = self
                .first
                .get(kind as usize)
                .and_then(|&at| usize::try_from(at).ok())
                .and_then(|at| at.checked_sub(1))
                .unwrap_or(self.head.len());
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
    pub fn user_agent(&self) -> Option<&'a str> {
        self.get(HeaderName::UserAgent).map(|h| h.value)
    }

    /// The Server value, trimmed.
    #[must_use]
    pub fn server(&self) -> Option<&'a str> {
        self.get(HeaderName::Server).map(|h| h.value)
    }

    /// The Call-ID (`i`).
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when absent, [`Error::Header`] when empty.
    pub fn call_id(&self) -> Result<&'a str> {
        let h = self.required(HeaderName::CallId)?;
        if h.value.is_empty() || h.value.bytes().any(text::is_lws) {
            return Err(Error::Header {
                header: HeaderName::CallId,
                offset: h.value_offset,
                problem: crate::ValueProblem::Empty,
            });
        }
        Ok(h.value)
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
    let b = line.as_bytes();
    let sp1 = memchr(b' ', b).ok_or(err(base, ScanProblem::BadStartLine))?;
    let first = sub(line, 0, sp1);
    if text::starts_with_ignore_case(b, b"SIP/") {
        if !valid_version(first) {
            return Err(err(base, ScanProblem::BadVersion));
        }
        let rest = text::from(line, sp1 + 1);
        let (code, reason) = match rest.split_once(' ') {
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
