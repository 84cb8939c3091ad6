//! Typed header values: Via, name-addr (From / To / Contact), URIs, CSeq.

use crate::text::{
    self, CommaSplit, from, is_lws, is_token, quote_end, skip_lws, sub, token_end, trim,
};
use crate::{Error, HeaderName, Message, Result, ValueProblem};

pub(crate) const fn bad(header: HeaderName, offset: usize, problem: ValueProblem) -> Error {
    Error::Header {
        header,
        offset,
        problem,
    }
}

/// One `;name[=value]` parameter. A quoted value is given without its
/// quotes, escapes as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value, `None` for a bare flag such as `;lr` or `;rport`.
    pub value: Option<&'a str>,
}

/// Iterator over `;name[=value]` parameters (header or URI parameters).
///
/// LWS around `;` and `=` is allowed (RFC 3261 `SEMI`, `EQUAL`). Yields an
/// error for an empty parameter (`;;`) or trailing garbage, then stops.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    s: &'a str,
    at: usize,
    pos: usize,
    header: HeaderName,
    done: bool,
}

impl<'a> Params<'a> {
    pub(crate) const fn new(s: &'a str, at: usize, header: HeaderName) -> Self {
        Self {
            s,
            at,
            pos: 0,
            header,
            done: false,
        }
    }

    /// The parameters as written, leading `;` included.
    #[must_use]
    pub const fn as_str(&self) -> &'a str {
        self.s
    }

    /// The first parameter with this name (ASCII case-insensitive):
    /// `Some(None)` for a flag, `Some(Some(v))` for a value. Stops at a
    /// malformed parameter.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.clone()
            .map_while(Result::ok)
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    fn fail(&mut self, at: usize, problem: ValueProblem) -> Option<Result<Param<'a>>> {
        self.done = true;
        Some(Err(bad(self.header, self.at + at, problem)))
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match param_step(self.s, self.pos) {
            Ok(Some((param, next))) => {
                self.pos = next;
                Some(Ok(param))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err((i, problem)) => self.fail(i, problem),
        }
    }
}

/// One `;name[=value]` parameter of `s` from byte `pos` on: `Ok(None)` at
/// the end, else the parameter and where the next one starts; an error is
/// the byte offset in `s` and the problem. Shared by [`Params`] and
/// [`each_param`], so both read the same grammar.
#[inline(always)]
fn param_step(
    s: &str,
    pos: usize,
) -> std::result::Result<Option<(Param<'_>, usize)>, (usize, ValueProblem)> {
    let b = s.as_bytes();
    let i = skip_lws(s, pos);
    match b.get(i) {
        None => return Ok(None),
        Some(b';') => {}
        Some(_) => return Err((i, ValueProblem::Unexpected)),
    }
    let n = skip_lws(s, i + 1);
    let ne = token_end(s, n);
    if ne == n {
        return Err((n, ValueProblem::EmptyParameter));
    }
    let name = sub(s, n, ne);
    let j = skip_lws(s, ne);
    if b.get(j) != Some(&b'=') {
        return Ok(Some((Param { name, value: None }, ne)));
    }
    let v = skip_lws(s, j + 1);
    let (value, next) = if b.get(v) == Some(&b'"') {
        let Some(q) = quote_end(s, v) else {
            return Err((v, ValueProblem::UnterminatedQuote));
        };
        (sub(s, v + 1, q), q + 1)
    } else {
        let mut e = v;
        while b
            .get(e)
            .is_some_and(|&c| !is_lws(c) && c != b';' && c != b',' && c != b'?')
        {
            e += 1;
        }
        if e == v {
            return Err((v, ValueProblem::Empty));
        }
        (sub(s, v, e), e)
    };
    Ok(Some((
        Param {
            name,
            value: Some(value),
        },
        next,
    )))
}

/// Runs every parameter once (to report the first malformed one) and calls
/// `f` for each.
#[inline(always)]
fn each_param<'a>(p: &Params<'a>, mut f: impl FnMut(Param<'a>)) -> Result<()> {
    if p.done {
        return Ok(());
    }
    let mut pos = p.pos;
    loop {
        match param_step(p.s, pos) {
            Ok(Some((param, next))) => {
                pos = next;
                f(param);
            }
            Ok(None) => return Ok(()),
            Err((i, problem)) => return Err(bad(p.header, p.at + i, problem)),
        }
    }
}

/// A parsed URI. For `sip:` and `sips:` every part is split out; for other
/// schemes (`tel:`, unknown ones) only `scheme` and `opaque` are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as written.
    pub raw: &'a str,
    /// The scheme (`sip`, `sips`, `tel`, ...), as written.
    pub scheme: &'a str,
    /// The user part, `%` escapes as written.
    pub user: Option<&'a str>,
    /// The password after `user:`, if any.
    pub password: Option<&'a str>,
    /// The host: a name, an IPv4 address, or an IPv6 address without its brackets.
    pub host: &'a str,
    /// The port, if written.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`), leading `;` included, `""` if none.
    pub params: &'a str,
    /// URI headers after `?`, if any.
    pub headers: Option<&'a str>,
    /// Everything after `scheme:` (for non-SIP schemes).
    pub opaque: &'a str,
}

impl<'a> Uri<'a> {
    /// True for `sip:` and `sips:` URIs.
    #[must_use]
    pub fn is_sip(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("sip") || self.scheme.eq_ignore_ascii_case("sips")
    }

    /// True when the host is an IPv6 literal (it was written in brackets).
    #[must_use]
    pub fn is_ipv6(&self) -> bool {
        text::find_b(self.host, b':').is_some()
    }

    /// Parses a URI on its own (offsets in errors count from its first byte).
    ///
    /// # Errors
    /// [`Error::Header`] with [`ValueProblem::BadUri`] or [`ValueProblem::BadPort`].
    pub fn parse(s: &'a str) -> Result<Self> {
        Self::parse_at(s, 0, HeaderName::Other)
    }

    /// The user part of a URI as [`Uri::parse_at`] would split it, without
    /// reading the rest (see [`NameAddr::parse_user`]).
    #[inline]
    fn user_at(s: &'a str, at: usize, header: HeaderName) -> Result<Option<&'a str>> {
        // `sip:` in any case, in one compare: bit 5 folds only `S`, `I`, `P`
        // onto `s`, `i`, `p`; the colon is compared exactly.
        let sip = s
            .as_bytes()
            .get(..4)
            .and_then(|p| <[u8; 4]>::try_from(p).ok())
            .is_some_and(|p| u32::from_le_bytes(p) | 0x0020_2020 == u32::from_le_bytes(*b"sip:"));
        let colon = if sip {
            3
        } else {
            let Some(colon) = crate::message::scheme_len(s) else {
                return Err(bad(header, at, ValueProblem::BadUri));
            };
            let scheme = sub(s, 0, colon);
            if !(scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) {
                return Ok(None);
            }
            colon
        };
        let opaque = from(s, colon + 1);
        let ob = opaque.as_bytes();
        // The user ends at the first `:` before the first `@`, else at the
        // `@`; no `@` at all means no user. One search finds whichever of
        // the two comes first.
        let first = text::find_any(ob, 0, [b'@', b':']);
        let end = match ob.get(first) {
            Some(b'@') => first,
            Some(_) if text::find_byte(ob, first + 1, b'@').is_some() => first,
            _ => return Ok(None),
        };
        Ok(Some(sub(opaque, 0, end)))
    }

    pub(crate) fn parse_at(s: &'a str, at: usize, header: HeaderName) -> Result<Self> {
        let Some(colon) = crate::message::scheme_len(s) else {
            return Err(bad(header, at, ValueProblem::BadUri));
        };
        let scheme = sub(s, 0, colon);
        let opaque = from(s, colon + 1);
        // One pass over the rest: LWS anywhere is an error; note the first
        // `@`, the first `:` before it (user:password), and the first `;` or
        // `?` before it and after it (the end of host[:port]).
        let mut lws = false;
        let mut at_sign = None;
        let mut ui_colon = None;
        let mut delim_before = None;
        let mut delim_after = None;
        for (j, &c) in opaque.as_bytes().iter().enumerate() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => lws = true,
                b'@' if at_sign.is_none() => at_sign = Some(j),
                b':' if at_sign.is_none() && ui_colon.is_none() => ui_colon = Some(j),
                b';' | b'?' => {
                    if at_sign.is_none() {
                        delim_before = delim_before.or(Some(j));
                    } else {
                        delim_after = delim_after.or(Some(j));
                    }
                }
                _ => {}
            }
        }
        if lws {
            return Err(bad(header, at, ValueProblem::BadUri));
        }
        let mut uri = Self {
            raw: s,
            scheme,
            user: None,
            password: None,
            host: "",
            port: None,
            params: "",
            headers: None,
            opaque,
        };
        if !uri.is_sip() {
            return Ok(uri);
        }
        let rest_at = at + scheme.len() + 1;
        let (hs, delim) = match at_sign {
            Some(a) => {
                match ui_colon {
                    Some(c) => {
                        uri.user = Some(sub(opaque, 0, c));
                        uri.password = Some(sub(opaque, c + 1, a));
                    }
                    None => uri.user = Some(sub(opaque, 0, a)),
                }
                (a + 1, delim_after)
            }
            None => (0, delim_before),
        };
        let hp_end = delim.unwrap_or(opaque.len());
        let hostport = sub(opaque, hs, hp_end);
        let tail = from(opaque, hp_end);
        let (params, headers) = match text::split_b(tail, b'?') {
            Some((p, h)) => (p, Some(h)),
            None => (tail, None),
        };
        uri.params = params;
        uri.headers = headers;
        let (host, port) = split_host_port(hostport, rest_at + hs, header)?;
        uri.host = host;
        uri.port = port;
        Ok(uri)
    }
}

/// Splits `host[:port]` / `[v6][:port]`.
fn split_host_port(s: &str, at: usize, header: HeaderName) -> Result<(&str, Option<u16>)> {
    let (host, port_str) = if let Some(v6) = s.strip_prefix('[') {
        let close = text::find_b(v6, b']').ok_or(bad(header, at, ValueProblem::BadUri))?;
        let after = from(v6, close + 1);
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad(header, at + close + 2, ValueProblem::BadUri)),
        };
        (sub(v6, 0, close), port)
    } else {
        match text::split_b(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(bad(header, at, ValueProblem::BadUri));
    }
    let port = match port_str {
        None => None,
        Some(p) => Some(
            text::parse_decimal(p)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or(bad(header, at + host.len() + 1, ValueProblem::BadPort))?,
        ),
    };
    Ok((host, port))
}

/// A display name as written: the inside of a quoted string (escapes kept)
/// or a run of tokens and whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayName<'a> {
    raw: &'a str,
    quoted: bool,
}

impl<'a> DisplayName<'a> {
    /// The text as written, without the surrounding quotes.
    #[must_use]
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when the name was a quoted string.
    #[must_use]
    pub const fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// The characters with quoted-pair escapes (`\"`, `\\`) resolved,
    /// without allocating.
    pub fn chars(&self) -> impl Iterator<Item = char> + use<'a> {
        unescape(self.raw, self.quoted)
    }

    /// Compares the unescaped text with `other`, ASCII case-insensitive.
    #[must_use]
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        let mut a = self.chars();
        let mut b = other.chars();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
                _ => return false,
            }
        }
    }
}

/// Resolves RFC 3261 quoted-pair escapes (`\x` is `x`) in the inside of a
/// quoted string, without allocating.
pub fn unescape(raw: &str, quoted: bool) -> impl Iterator<Item = char> + use<'_> {
    let mut it = raw.chars();
    std::iter::from_fn(move || {
        let c = it.next()?;
        if quoted && c == '\\' {
            it.next()
        } else {
            Some(c)
        }
    })
}

/// A From, To or Contact value: `["Display" ]<uri>;params` or `uri;params`.
#[derive(Debug, Clone)]
pub struct NameAddr<'a> {
    /// The display name, if any.
    pub display_name: Option<DisplayName<'a>>,
    /// The URI (for `Contact: *`, a URI whose `raw` is `"*"`).
    pub uri: Uri<'a>,
    /// The `tag` parameter, if any.
    pub tag: Option<&'a str>,
    /// All header parameters (after the URI), validated.
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// The URI's user part (the extension, for a PBX).
    #[must_use]
    pub const fn user(&self) -> Option<&'a str> {
        self.uri.user
    }

    /// The URI's host.
    #[must_use]
    pub const fn host(&self) -> &'a str {
        self.uri.host
    }

    /// The URI's port.
    #[must_use]
    pub const fn port(&self) -> Option<u16> {
        self.uri.port
    }

    /// True for `Contact: *`.
    #[must_use]
    pub fn is_wildcard(&self) -> bool {
        self.uri.raw == "*"
    }

    /// Parses one name-addr / addr-spec value on its own (offsets in errors
    /// count from its first byte).
    ///
    /// # Errors
    /// [`Error::Header`] saying what is wrong and where.
    pub fn parse(s: &'a str) -> Result<Self> {
        Self::parse_at(s, 0, HeaderName::Other)
    }

    pub(crate) fn parse_at(s: &'a str, at: usize, header: HeaderName) -> Result<Self> {
        let (s, cut) = trim(s);
        let at = at + cut;
        if s.is_empty() {
            return Err(bad(header, at, ValueProblem::Empty));
        }
        if s == "*" {
            let uri = Uri {
                raw: s,
                scheme: "",
                user: None,
                password: None,
                host: "",
                port: None,
                params: "",
                headers: None,
                opaque: "",
            };
            return Ok(Self {
                display_name: None,
                uri,
                tag: None,
                params: Params::new("", at + 1, header),
            });
        }
        let NameAddrSplit {
            display_name,
            uri: uri_s,
            uri_at,
            rest,
            rest_at,
        } = Self::split(s, at, header)?;
        let uri = Uri::parse_at(uri_s, uri_at, header)?;
        let params = Params::new(rest, rest_at, header);
        let mut tag = None;
        each_param(&params, |p| {
            if tag.is_none() && p.name.eq_ignore_ascii_case("tag") {
                tag = p.value;
            }
        })?;
        Ok(Self {
            display_name,
            uri,
            tag,
            params,
        })
    }

    /// Only the URI's user part of one name-addr / addr-spec value: the
    /// display name and the `<...>` are read exactly as [`NameAddr::parse`]
    /// reads them, then the URI only up to its user part (`sip:` / `sips:`
    /// user before `@`, `None` for other schemes, no user or `*`). The
    /// header parameters and the URI's host, port and parameters are not
    /// read. Whenever [`NameAddr::parse`] succeeds this returns its
    /// [`NameAddr::user`]; it fails only where [`NameAddr::parse`] fails (it
    /// may succeed on a value whose host or parameters are malformed).
    ///
    /// # Errors
    /// [`Error::Header`] saying what is wrong and where.
    pub fn parse_user(s: &'a str) -> Result<Option<&'a str>> {
        Self::user_at(s, 0, HeaderName::Other)
    }

    #[inline]
    pub(crate) fn user_at(s: &'a str, at: usize, header: HeaderName) -> Result<Option<&'a str>> {
        let (s, cut) = trim(s);
        let at = at + cut;
        if s.is_empty() {
            return Err(bad(header, at, ValueProblem::Empty));
        }
        if s == "*" {
            return Ok(None);
        }
        let split = Self::split(s, at, header)?;
        Uri::user_at(split.uri, split.uri_at, header)
    }

    /// Display name, URI and what follows, of a trimmed, non-empty value other than `*`.
    #[inline]
    fn split(s: &'a str, at: usize, header: HeaderName) -> Result<NameAddrSplit<'a>> {
        let b = s.as_bytes();
        let mut display_name = None;
        let lt = if b.first() == Some(&b'"') {
            let q = quote_end(s, 0).ok_or(bad(header, at, ValueProblem::UnterminatedQuote))?;
            display_name = Some(DisplayName {
                raw: sub(s, 1, q),
                quoted: true,
            });
            let lt = skip_lws(s, q + 1);
            if b.get(lt) != Some(&b'<') {
                return Err(bad(header, at + lt, ValueProblem::Unexpected));
            }
            Some(lt)
        } else if let Some(lt) = text::find_b(s, b'<') {
            let (dn, dcut) = trim(sub(s, 0, lt));
            if let Some(i) = dn.bytes().position(|c| !is_token(c) && !is_lws(c)) {
                return Err(bad(header, at + dcut + i, ValueProblem::BadDisplayName));
            }
            if !dn.is_empty() {
                display_name = Some(DisplayName {
                    raw: dn,
                    quoted: false,
                });
            }
            Some(lt)
        } else {
            None
        };
        let (uri_s, uri_at, rest, rest_at) = if let Some(lt) = lt {
            let gt = text::find_b(from(s, lt), b'>').ok_or(bad(
                header,
                at + lt,
                ValueProblem::UnterminatedAngle,
            ))? + lt;
            (
                sub(s, lt + 1, gt),
                at + lt + 1,
                from(s, gt + 1),
                at + gt + 1,
            )
        } else {
            let end = text::find_b(s, b';').unwrap_or(s.len());
            let (u, _) = trim(sub(s, 0, end));
            if text::find_b(u, b'?').is_some() {
                return Err(bad(header, at, ValueProblem::UriNeedsAngleBrackets));
            }
            (u, at, from(s, end), at + end)
        };
        Ok(NameAddrSplit {
            display_name,
            uri: uri_s,
            uri_at,
            rest,
            rest_at,
        })
    }
}

/// A name-addr cut before its URI is parsed.
struct NameAddrSplit<'a> {
    display_name: Option<DisplayName<'a>>,
    uri: &'a str,
    uri_at: usize,
    rest: &'a str,
    rest_at: usize,
}

/// One Via value.
#[derive(Debug, Clone)]
pub struct Via<'a> {
    /// Protocol name and version (`"SIP"`, `"2.0"`).
    pub protocol: (&'a str, &'a str),
    /// Transport as written (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, or unknown).
    pub transport: &'a str,
    /// sent-by host (an IPv6 address without its brackets).
    pub host: &'a str,
    /// sent-by port, if written.
    pub port: Option<u16>,
    /// The `branch` parameter.
    pub branch: Option<&'a str>,
    /// The `received` parameter.
    pub received: Option<&'a str>,
    /// The `rport` parameter: `Some(None)` when present without a value
    /// (the client asks for it), `Some(Some(port))` when filled in.
    pub rport: Option<Option<u16>>,
    /// All parameters, validated.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value on its own (offsets count from its first byte).
    ///
    /// # Errors
    /// [`Error::Header`] saying what is wrong and where.
    pub fn parse(s: &'a str) -> Result<Self> {
        Self::parse_at(s, 0)
    }

    pub(crate) fn parse_at(s: &'a str, at: usize) -> Result<Self> {
        let head = Self::head(s, at)?;
        Self::rest(s, at, head)
    }

    /// Only the sent-by host and port of one Via value: the protocol,
    /// transport and sent-by are checked exactly as [`Via::parse`] checks
    /// them, the parameters after them are not read. Whenever [`Via::parse`]
    /// succeeds this returns its `host` and `port`; it fails only where
    /// [`Via::parse`] fails (it may succeed on a value whose parameters are
    /// malformed).
    ///
    /// # Errors
    /// [`Error::Header`] saying what is wrong and where.
    pub fn parse_sent_by(s: &'a str) -> Result<(&'a str, Option<u16>)> {
        Self::head(s, 0).map(|h| (h.host, h.port))
    }

    /// Protocol, transport and sent-by; where the parameters start.
    #[inline(always)]
    fn head(s: &'a str, at: usize) -> Result<ViaHead<'a>> {
        const H: HeaderName = HeaderName::Via;
        let b = s.as_bytes();
        let proto_err = |i: usize| bad(H, at + i, ValueProblem::BadProtocol);
        // The protocol is `SIP/2.0/` in practice: take it in one compare.
        let (name, version, i) = if b.get(..8) == Some(b"SIP/2.0/".as_slice()) {
            (sub(s, 0, 3), sub(s, 4, 7), skip_lws(s, 8))
        } else {
            Self::protocol(s, at)?
        };
        // A three-letter transport (UDP, TCP, TLS) followed by a space is
        // the common case: three table lookups and no loop.
        let e = match b.get(i..i + 4) {
            Some(&[t0, t1, t2, b' ']) if is_token(t0) && is_token(t1) && is_token(t2) => i + 3,
            _ => token_end(s, i),
        };
        let transport = sub(s, i, e);
        if e == i {
            return Err(proto_err(i));
        }
        let hs = skip_lws(s, e);
        if hs == e && hs < s.len() {
            return Err(proto_err(e));
        }
        let mut he = hs;
        if b.get(hs) == Some(&b'[') {
            while b.get(he).is_some_and(|&c| c != b']') {
                he += 1;
            }
            he += 1;
        }
        he = text::find_any(b, he, [b' ', b'\t', b'\r', b'\n', b';', b':']);
        let mut pe = he;
        // The port's value, read while its digits are found. Plain
        // `v * 10 + d` keeps the chain from digit to digit short (no
        // saturating multiply); `big` notes, off that chain, a value that
        // reached 100,000, after which it may wrap: such a port is bad
        // whatever follows, since appending digits never lowers a value.
        let mut port_value = 0u32;
        let mut big = false;
        let pj = skip_lws(s, he);
        if b.get(pj) == Some(&b':') {
            pe = skip_lws(s, pj + 1);
            while let Some(&c) = b.get(pe).filter(|c| c.is_ascii_digit()) {
                port_value = port_value
                    .wrapping_mul(10)
                    .wrapping_add(u32::from(c - b'0'));
                big |= port_value >= 100_000;
                pe += 1;
            }
        }
        let hostport: &str = sub(s, hs, he);
        // A name or IPv4 address holds no `:` (the loop above stopped at
        // it): only a bracketed IPv6 reference needs splitting.
        let host = if hostport.is_empty() {
            return Err(bad(H, at + hs, ValueProblem::BadUri));
        } else if b.get(hs) == Some(&b'[') {
            split_host_port(hostport, at + hs, H)?.0
        } else {
            hostport
        };
        let port = if pe > he {
            // One to 20 digits (as `parse_decimal` reads numbers), and no
            // more than a u16 holds.
            let digits = pe - skip_lws(s, pj + 1);
            if digits == 0 || digits > 20 {
                return Err(bad(H, at + pj, ValueProblem::BadPort));
            }
            let value = if big {
                None
            } else {
                u16::try_from(port_value).ok()
            };
            Some(value.ok_or(bad(H, at + pj, ValueProblem::BadPort))?)
        } else {
            None
        };
        Ok(ViaHead {
            protocol: (name, version),
            transport,
            host,
            port,
            hostport: (hs, he),
            params_at: pe,
        })
    }

    /// The general `name / version / ` part (LWS allowed around the slashes):
    /// name, version and where the transport starts.
    fn protocol(s: &'a str, at: usize) -> Result<(&'a str, &'a str, usize)> {
        const H: HeaderName = HeaderName::Via;
        let b = s.as_bytes();
        let proto_err = |i: usize| bad(H, at + i, ValueProblem::BadProtocol);
        let i0 = skip_lws(s, 0);
        let e = token_end(s, i0);
        let name = sub(s, i0, e);
        let i = skip_lws(s, e);
        if e == i0 || b.get(i) != Some(&b'/') {
            return Err(proto_err(i));
        }
        let i = skip_lws(s, i + 1);
        let e = token_end(s, i);
        let version = sub(s, i, e);
        let j = skip_lws(s, e);
        if e == i || b.get(j) != Some(&b'/') {
            return Err(proto_err(j));
        }
        Ok((name, version, skip_lws(s, j + 1)))
    }

    /// The parameters after the sent-by.
    fn rest(s: &'a str, at: usize, head: ViaHead<'a>) -> Result<Self> {
        const H: HeaderName = HeaderName::Via;
        let ViaHead {
            protocol,
            transport,
            host,
            port,
            params_at: pe,
            ..
        } = head;
        let params = Params::new(from(s, pe), at + pe, H);
        let (mut branch, mut received, mut rport) = (None, None, None);
        let mut bad_rport = false;
        each_param(&params, |p| {
            let n = p.name;
            if n.len() == 6 && n.eq_ignore_ascii_case("branch") {
                branch = branch.or(p.value);
            } else if n.len() == 8 && n.eq_ignore_ascii_case("received") {
                received = received.or(p.value);
            } else if n.len() == 5 && n.eq_ignore_ascii_case("rport") && rport.is_none() {
                rport = Some(match p.value {
                    None => None,
                    Some(v) => {
                        let n = text::parse_decimal(v).and_then(|n| u16::try_from(n).ok());
                        bad_rport |= n.is_none();
                        n
                    }
                });
            }
        })?;
        if bad_rport {
            return Err(bad(H, at + pe, ValueProblem::BadPort));
        }
        Ok(Self {
            protocol,
            transport,
            host,
            port,
            branch,
            received,
            rport,
            params,
        })
    }
}

/// What precedes a Via's parameters.
struct ViaHead<'a> {
    protocol: (&'a str, &'a str),
    transport: &'a str,
    host: &'a str,
    port: Option<u16>,
    /// Where `host[:port]` or `[v6]` (without the port) starts and ends.
    hostport: (usize, usize),
    params_at: usize,
}

/// A CSeq value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (RFC 3261: less than 2^31; up to `u32::MAX` is accepted).
    pub seq: u32,
    /// The method.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    pub(crate) fn parse_at(s: &'a str, at: usize) -> Result<Self> {
        const H: HeaderName = HeaderName::CSeq;
        let b = s.as_bytes();
        let mut e = 0;
        while b.get(e).is_some_and(u8::is_ascii_digit) {
            e += 1;
        }
        let seq = text::parse_decimal(sub(s, 0, e))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(bad(H, at, ValueProblem::BadNumber))?;
        let m = skip_lws(s, e);
        let me = token_end(s, m);
        if m == e || me == m || me != s.len() {
            return Err(bad(H, at + me.max(e), ValueProblem::Unexpected));
        }
        Ok(Self {
            seq,
            method: sub(s, m, me),
        })
    }
}

impl<'a> Message<'a> {
    /// The topmost Via value.
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when there is no Via, [`Error::Header`] when it is malformed.
    #[inline]
    pub fn via(&self) -> Result<Via<'a>> {
        let (value, at) = self.required_value(HeaderName::Via)?;
        // One value (no comma at all) is the common case: skip the split.
        if text::find_byte(value.as_bytes(), 0, b',').is_none() {
            return Via::parse_at(value, at);
        }
        let (v, off) = CommaSplit::new(value).next().unwrap_or(("", 0));
        Via::parse_at(v, at + off)
    }

    /// The sent-by host and port of the topmost Via, without reading its
    /// parameters (see [`Via::parse_sent_by`]): the same answer as
    /// [`Message::via`] whenever that succeeds, for callers that need only
    /// the sender's address.
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when there is no Via, [`Error::Header`] when
    /// its protocol, transport or sent-by is malformed.
    #[inline]
    pub fn via_sent_by(&self) -> Result<(&'a str, Option<u16>)> {
        let (value, at) = self.required_value(HeaderName::Via)?;
        // Read the head of the whole value: when no comma comes before the
        // parameters, the first comma-separated element starts with the
        // same bytes up to there, so its head is the same (the head never
        // looks past `params_at` except for a `:` before a port, which would
        // have put `params_at` after it). Otherwise (or on an error, to
        // report it as `via()` does) split first as `via()` does.
        //
        // Before `params_at` a comma can only be inside the host: the
        // protocol and transport are tokens with LWS and `/` between them,
        // then LWS, then the host (up to LWS, `;` or `:`, or a bracketed
        // IPv6 reference whose inside is `host`), then LWS, `:`, LWS and
        // digits. So looking in `hostport` is looking in all of it.
        if let Ok(h) = Via::head(value, at) {
            let (hs, he) = h.hostport;
            if text::find_byte_before(value.as_bytes(), hs, he, b',').is_none() {
                return Ok((h.host, h.port));
            }
        }
        let (v, off) = CommaSplit::new(value).next().unwrap_or(("", 0));
        let h = Via::head(v, at + off)?;
        Ok((h.host, h.port))
    }

    /// Every Via value, topmost first (all Via headers, each comma-separated value).
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>>> + use<'a> {
        self.get_all(HeaderName::Via).flat_map(|h| {
            CommaSplit::new(h.value).map(move |(v, off)| Via::parse_at(v, h.value_offset + off))
        })
    }

    /// The From value (`f`).
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when absent, [`Error::Header`] when malformed.
    #[inline]
    pub fn from(&self) -> Result<NameAddr<'a>> {
        let (value, at) = self.required_value(HeaderName::From)?;
        NameAddr::parse_at(value, at, HeaderName::From)
    }

    /// The From URI's user part (the extension, for a PBX), without parsing
    /// the rest of the value (see [`NameAddr::parse_user`]): the same answer
    /// as `Message::from()?.user()` whenever that succeeds.
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when absent, [`Error::Header`] when the
    /// display name, the `<...>` or the URI scheme is malformed.
    #[inline]
    pub fn from_user(&self) -> Result<Option<&'a str>> {
        let (value, at) = self.required_value(HeaderName::From)?;
        NameAddr::user_at(value, at, HeaderName::From)
    }

    /// The To value (`t`).
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when absent, [`Error::Header`] when malformed.
    pub fn to(&self) -> Result<NameAddr<'a>> {
        let (value, at) = self.required_value(HeaderName::To)?;
        NameAddr::parse_at(value, at, HeaderName::To)
    }

    /// The first Contact value (`m`), `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`Error::Header`] when it is malformed.
    pub fn contact(&self) -> Result<Option<NameAddr<'a>>> {
        self.contacts().next().transpose()
    }

    /// Every Contact value, in order (all Contact headers, each comma-separated value).
    pub fn contacts(&self) -> impl Iterator<Item = Result<NameAddr<'a>>> + use<'a> {
        self.get_all(HeaderName::Contact).flat_map(|h| {
            CommaSplit::new(h.value).map(move |(v, off)| {
                NameAddr::parse_at(v, h.value_offset + off, HeaderName::Contact)
            })
        })
    }

    /// The CSeq value.
    ///
    /// # Errors
    /// [`Error::MissingHeader`] when absent, [`Error::Header`] when malformed or
    /// the number exceeds `u32`.
    pub fn cseq(&self) -> Result<CSeq<'a>> {
        let (value, at) = self.required_value(HeaderName::CSeq)?;
        CSeq::parse_at(value, at)
    }

    /// The Max-Forwards value, `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`Error::Header`] when it is not a number from 0 to 255.
    pub fn max_forwards(&self) -> Result<Option<u8>> {
        let Some((value, at)) = self.value(HeaderName::MaxForwards) else {
            return Ok(None);
        };
        text::parse_decimal(value)
            .and_then(|n| u8::try_from(n).ok())
            .map(Some)
            .ok_or(bad(HeaderName::MaxForwards, at, ValueProblem::BadNumber))
    }
}
