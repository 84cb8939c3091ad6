//! Authorization / Proxy-Authorization credentials and
//! WWW-Authenticate / Proxy-Authenticate challenges (RFC 3261 section 25,
//! RFC 2617, RFC 8760).

use crate::text::{is_lws, is_token, quote_end, skip_lws, sub, token_end, trim};
use crate::values::bad;
use crate::{HeaderName, Message, Result, ValueProblem};

/// One `name=value` authentication parameter. A quoted value is given
/// without its quotes, escapes as written (see [`crate::unescape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value; `None` when the parameter had no `=` (tolerated).
    pub value: Option<&'a str>,
    /// True when the value was a quoted string.
    pub quoted: bool,
}

/// Iterator over the comma-separated `name=value` parameters after the
/// scheme of an Authorization or WWW-Authenticate value (one pass, no copy).
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    s: &'a str,
    pos: usize,
    at: usize,
    header: HeaderName,
    done: bool,
}

impl<'a> AuthParams<'a> {
    const fn new(s: &'a str, at: usize, header: HeaderName) -> Self {
        Self {
            s,
            pos: 0,
            at,
            header,
            done: false,
        }
    }

    /// The first parameter named `name` (ASCII case-insensitive), read on
    /// demand: parsing stops there, so a `username` written first costs a
    /// few dozen bytes whatever follows it. `Ok(None)` when no parameter has
    /// that name.
    ///
    /// # Errors
    /// [`crate::Error::Header`] for a malformed parameter met before it.
    #[inline]
    pub fn find(&self, name: &str) -> Result<Option<AuthParam<'a>>> {
        let mut pos = self.pos;
        if self.done {
            return Ok(None);
        }
        let want = Needle::new(name);
        loop {
            let i = skip_separators(self.s.as_bytes(), pos);
            // The name this parameter should have, read as one word: when it
            // is there and no token character follows, that is the token.
            let ne = match want.at(self.s.as_bytes(), i) {
                Some(ne) => ne,
                None => token_end(self.s, i),
            };
            match step_at(self.s, i, ne) {
                Ok(Some((param, next))) => {
                    if want.matches(param.name, name) {
                        return Ok(Some(param));
                    }
                    pos = next;
                }
                Ok(None) => return Ok(None),
                Err((i, problem)) => return Err(bad(self.header, self.at + i, problem)),
            }
        }
    }

    fn fail(&mut self, i: usize, problem: ValueProblem) -> Option<Result<AuthParam<'a>>> {
        self.done = true;
        Some(Err(bad(self.header, self.at + i, problem)))
    }
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = Result<AuthParam<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match step(self.s, self.pos) {
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

/// A parameter name to look for, folded once into a word when it is up to
/// eight letters, digits and `-` (every digest parameter name), so each
/// candidate costs one compare instead of a byte loop.
#[derive(Clone, Copy)]
struct Needle {
    len: usize,
    /// The name folded as [`crate::name::folded_word`] folds it, `None` when
    /// it does not fit the fast path.
    word: Option<u64>,
    /// The name is one or more ASCII letters (see [`Needle::at`]).
    letters: bool,
}

impl Needle {
    #[inline(always)]
    fn new(name: &str) -> Self {
        let b = name.as_bytes();
        let plain = b.len() <= 8 && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
        Self {
            len: b.len(),
            word: plain.then(|| crate::name::folded_word(b, 0, b.len())),
            letters: !b.is_empty() && b.iter().all(u8::is_ascii_alphabetic),
        }
    }

    /// When the token starting at `i` in `b` is this needle's name (ASCII
    /// case-insensitive), the index just past it; `None` when it is not or
    /// when this cannot tell without the token scan. Only for a name of
    /// letters: folding (setting bit 5) maps a byte onto a letter only from
    /// that letter in either case, so equal folded words mean the bytes are
    /// those letters, and a non-token byte after them ends the token there.
    #[inline(always)]
    fn at(self, b: &[u8], i: usize) -> Option<usize> {
        let w = self.word.filter(|_| self.letters)?;
        let end = i + self.len;
        let next_is_token = b.get(end).is_some_and(|&c| is_token(c));
        (i < b.len() && crate::name::folded_word(b, i, self.len) == w && !next_is_token)
            .then_some(end)
    }

    /// ASCII case-insensitive equality of the token `candidate` with `name`
    /// (the text this needle was made from). Folding (setting bit 5) maps a
    /// token character onto a letter, digit or `-` only from that same
    /// character or its other case, so equal folded words mean equal names.
    #[inline]
    fn matches(self, candidate: &str, name: &str) -> bool {
        if candidate.len() != self.len {
            return false;
        }
        match self.word {
            Some(w) => crate::name::folded_word(candidate.as_bytes(), 0, self.len) == w,
            None => candidate.eq_ignore_ascii_case(name),
        }
    }
}

/// One parameter of the list in `s` from byte `pos` on: `Ok(None)` at the
/// end, else the parameter and where the next one starts; an error is the
/// byte offset in `s` and the problem. Shared by [`AuthParams`] and the
/// one-pass parsers below, so both read exactly the same grammar.
#[inline(always)]
fn step(
    s: &str,
    pos: usize,
) -> std::result::Result<Option<(AuthParam<'_>, usize)>, (usize, ValueProblem)> {
    let i = skip_separators(s.as_bytes(), pos);
    step_at(s, i, token_end(s, i))
}

/// Index of the first byte at or after `pos` that is neither whitespace
/// nor a comma (empty list elements are skipped).
#[inline(always)]
fn skip_separators(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| c == b',' || is_lws(c)) {
        i += 1;
    }
    i
}

/// [`step`] from the parameter's first byte `i` (separators skipped), with
/// `ne` the end of the token run there.
#[inline(always)]
fn step_at(
    s: &str,
    i: usize,
    ne: usize,
) -> std::result::Result<Option<(AuthParam<'_>, usize)>, (usize, ValueProblem)> {
    let b = s.as_bytes();
    if i >= b.len() {
        return Ok(None);
    }
    if ne == i {
        return Err((i, ValueProblem::EmptyParameter));
    }
    let name = sub(s, i, ne);
    let eq = skip_lws(s, ne);
    let (value, quoted, end) = match b.get(eq) {
        None | Some(b',') => (None, false, eq),
        Some(b'=') => {
            let v = skip_lws(s, eq + 1);
            if b.get(v) == Some(&b'"') {
                let Some(q) = quote_end(s, v) else {
                    return Err((v, ValueProblem::UnterminatedQuote));
                };
                (Some(sub(s, v + 1, q)), true, q + 1)
            } else {
                let mut e = v;
                while b.get(e).is_some_and(|&c| c != b',' && !is_lws(c)) {
                    e += 1;
                }
                (Some(sub(s, v, e)), false, e)
            }
        }
        Some(_) => return Err((eq, ValueProblem::Unexpected)),
    };
    let next = skip_lws(s, end);
    match b.get(next) {
        None | Some(b',') => Ok(Some((
            AuthParam {
                name,
                value,
                quoted,
            },
            next,
        ))),
        Some(_) => Err((next, ValueProblem::Unexpected)),
    }
}

/// Runs [`step`] over the whole list, calling `f` for each parameter; the
/// first malformed one is the error.
#[inline(always)]
fn each<'a>(
    s: &'a str,
    at: usize,
    header: HeaderName,
    mut f: impl FnMut(AuthParam<'a>),
) -> Result<()> {
    let mut pos = 0;
    loop {
        match step(s, pos) {
            Ok(Some((param, next))) => {
                pos = next;
                f(param);
            }
            Ok(None) => return Ok(()),
            Err((i, problem)) => return Err(bad(header, at + i, problem)),
        }
    }
}

/// Splits `scheme params` and checks the scheme is a token.
#[inline]
fn split_scheme(s: &str, at: usize, header: HeaderName) -> Result<(&str, &str, usize)> {
    let (s, cut) = trim(s);
    let at = at + cut;
    // `Digest ` in any case, in one compare: bit 5 folds only letters onto
    // the scheme's letters; the space is compared exactly.
    const DIGEST: u64 = u64::from_le_bytes(*b"digest \0");
    let digest = crate::text::word(s.as_bytes(), 0)
        .is_some_and(|w| (w | 0x0000_2020_2020_2020) & 0x00ff_ffff_ffff_ffff == DIGEST);
    let se = if digest { 6 } else { token_end(s, 0) };
    if se == 0 || s.as_bytes().get(se).is_some_and(|&c| !is_lws(c)) {
        return Err(bad(header, at, ValueProblem::BadScheme));
    }
    let p = skip_lws(s, se);
    Ok((sub(s, 0, se), sub(s, p, s.len()), at + p))
}

/// The credentials of an `Authorization` or `Proxy-Authorization` header:
/// the scheme and every digest parameter, all borrowed from the message.
///
/// Lenient on purpose: every parameter is optional, unknown ones are kept
/// (see [`DigestCredentials::params`]), and the first of a repeated one
/// wins, so a REGISTER whose Authorization says `qop=auth` but carries no
/// `nc` or `cnonce` (svcrack's) still yields its `username`. Whether the
/// credentials are complete enough to verify is the verifier's decision.
/// Quoted values are given without quotes, escapes as written.
#[derive(Debug, Clone)]
pub struct DigestCredentials<'a> {
    /// The scheme as written (`Digest`; any token is accepted).
    pub scheme: &'a str,
    /// `username`.
    pub username: Option<&'a str>,
    /// `realm`.
    pub realm: Option<&'a str>,
    /// `nonce`.
    pub nonce: Option<&'a str>,
    /// `uri` (the digest-uri).
    pub uri: Option<&'a str>,
    /// `response` (the hash the client computed).
    pub response: Option<&'a str>,
    /// `algorithm` (`MD5`, `SHA-256`, ...).
    pub algorithm: Option<&'a str>,
    /// `cnonce`.
    pub cnonce: Option<&'a str>,
    /// `qop`.
    pub qop: Option<&'a str>,
    /// `nc` (nonce count, 8 hex digits).
    pub nc: Option<&'a str>,
    /// `opaque`.
    pub opaque: Option<&'a str>,
    params: AuthParams<'a>,
}

impl<'a> DigestCredentials<'a> {
    /// Parses a credentials value on its own, e.g. the text after
    /// `Authorization:` (offsets in errors count from its first byte).
    ///
    /// # Errors
    /// [`crate::Error::Header`] when the scheme is missing or a parameter is
    /// malformed (unterminated quote, garbage after a value).
    pub fn parse(value: &'a str) -> Result<Self> {
        Self::parse_at(value, 0, HeaderName::Authorization)
    }

    pub(crate) fn parse_at(value: &'a str, at: usize, header: HeaderName) -> Result<Self> {
        let (scheme, rest, rest_at) = split_scheme(value, at, header)?;
        let params = AuthParams::new(rest, rest_at, header);
        let mut c = Self {
            scheme,
            username: None,
            realm: None,
            nonce: None,
            uri: None,
            response: None,
            algorithm: None,
            cnonce: None,
            qop: None,
            nc: None,
            opaque: None,
            params,
        };
        each(rest, rest_at, header, |p| {
            let slot = match classify(p.name) {
                Some(Known::Username) => &mut c.username,
                Some(Known::Realm) => &mut c.realm,
                Some(Known::Nonce) => &mut c.nonce,
                Some(Known::Uri) => &mut c.uri,
                Some(Known::Response) => &mut c.response,
                Some(Known::Algorithm) => &mut c.algorithm,
                Some(Known::Cnonce) => &mut c.cnonce,
                Some(Known::Qop) => &mut c.qop,
                Some(Known::Nc) => &mut c.nc,
                Some(Known::Opaque) => &mut c.opaque,
                _ => return,
            };
            if slot.is_none() {
                *slot = p.value;
            }
        })?;
        Ok(c)
    }

    /// True when the scheme is `Digest` (ASCII case-insensitive).
    #[must_use]
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Every parameter in order, known or not.
    #[must_use]
    pub fn params(&self) -> AuthParams<'a> {
        self.params.clone()
    }
}

/// A `WWW-Authenticate` or `Proxy-Authenticate` challenge.
#[derive(Debug, Clone)]
pub struct DigestChallenge<'a> {
    /// The scheme as written (`Digest`).
    pub scheme: &'a str,
    /// `realm`.
    pub realm: Option<&'a str>,
    /// `domain`.
    pub domain: Option<&'a str>,
    /// `nonce`.
    pub nonce: Option<&'a str>,
    /// `opaque`.
    pub opaque: Option<&'a str>,
    /// `stale` (`true` / `false` as written).
    pub stale: Option<&'a str>,
    /// `algorithm`.
    pub algorithm: Option<&'a str>,
    /// `qop` (the options offered, e.g. `auth,auth-int`).
    pub qop: Option<&'a str>,
    params: AuthParams<'a>,
}

impl<'a> DigestChallenge<'a> {
    /// Parses a challenge value on its own (offsets in errors count from its first byte).
    ///
    /// # Errors
    /// [`crate::Error::Header`] when the scheme is missing or a parameter is malformed.
    pub fn parse(value: &'a str) -> Result<Self> {
        Self::parse_at(value, 0, HeaderName::WwwAuthenticate)
    }

    pub(crate) fn parse_at(value: &'a str, at: usize, header: HeaderName) -> Result<Self> {
        let (scheme, rest, rest_at) = split_scheme(value, at, header)?;
        let params = AuthParams::new(rest, rest_at, header);
        let mut c = Self {
            scheme,
            realm: None,
            domain: None,
            nonce: None,
            opaque: None,
            stale: None,
            algorithm: None,
            qop: None,
            params,
        };
        each(rest, rest_at, header, |p| {
            let slot = match classify(p.name) {
                Some(Known::Realm) => &mut c.realm,
                Some(Known::Domain) => &mut c.domain,
                Some(Known::Nonce) => &mut c.nonce,
                Some(Known::Opaque) => &mut c.opaque,
                Some(Known::Stale) => &mut c.stale,
                Some(Known::Algorithm) => &mut c.algorithm,
                Some(Known::Qop) => &mut c.qop,
                _ => return,
            };
            if slot.is_none() {
                *slot = p.value;
            }
        })?;
        Ok(c)
    }

    /// True when the scheme is `Digest` (ASCII case-insensitive).
    #[must_use]
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Every parameter in order, known or not.
    #[must_use]
    pub fn params(&self) -> AuthParams<'a> {
        self.params.clone()
    }
}

#[derive(Clone, Copy)]
enum Known {
    Username,
    Realm,
    Nonce,
    Uri,
    Response,
    Algorithm,
    Cnonce,
    Qop,
    Nc,
    Opaque,
    Domain,
    Stale,
}

/// Classifies a parameter name: its length picks the candidate, then one
/// integer compare of the ASCII-lower-cased bytes (read as a word) decides.
#[inline]
fn classify(name: &str) -> Option<Known> {
    const fn key(s: &[u8]) -> u64 {
        let mut k = 0u64;
        let mut i = 0;
        while i < s.len() && i < 8 {
            k |= (s[i] as u64) << (i * 8);
            i += 1;
        }
        k
    }
    let n = name.as_bytes();
    let w = crate::name::folded_word(n, 0, n.len());
    match n.len() {
        2 if w == key(b"nc") => Some(Known::Nc),
        3 if w == key(b"uri") => Some(Known::Uri),
        3 if w == key(b"qop") => Some(Known::Qop),
        5 if w == key(b"realm") => Some(Known::Realm),
        5 if w == key(b"nonce") => Some(Known::Nonce),
        5 if w == key(b"stale") => Some(Known::Stale),
        6 if w == key(b"cnonce") => Some(Known::Cnonce),
        6 if w == key(b"opaque") => Some(Known::Opaque),
        6 if w == key(b"domain") => Some(Known::Domain),
        8 if w == key(b"username") => Some(Known::Username),
        8 if w == key(b"response") => Some(Known::Response),
        9 if w == key(b"algorithm") && n.get(8).map(|c| c | 0x20) == Some(b'm') => {
            Some(Known::Algorithm)
        }
        _ => None,
    }
}

impl<'a> Message<'a> {
    /// The first `Authorization` header's credentials, `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`crate::Error::Header`] when it is malformed.
    #[inline]
    pub fn authorization(&self) -> Result<Option<DigestCredentials<'a>>> {
        self.credentials(HeaderName::Authorization)
    }

    /// The first `Proxy-Authorization` header's credentials, `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`crate::Error::Header`] when it is malformed.
    pub fn proxy_authorization(&self) -> Result<Option<DigestCredentials<'a>>> {
        self.credentials(HeaderName::ProxyAuthorization)
    }

    /// The first `Authorization` header read on demand: its scheme and its
    /// parameters, not parsed until asked ([`AuthParams::find`] stops at the
    /// parameter it looks for). `Ok(None)` when absent. Use it where one
    /// parameter is enough (the `username` a failure is counted against);
    /// [`Message::authorization`] parses them all.
    ///
    /// # Errors
    /// [`crate::Error::Header`] when the scheme is missing or not a token.
    #[inline]
    pub fn authorization_params(&self) -> Result<Option<(&'a str, AuthParams<'a>)>> {
        let Some((value, at)) = self.value(HeaderName::Authorization) else {
            return Ok(None);
        };
        let (scheme, rest, rest_at) = split_scheme(value, at, HeaderName::Authorization)?;
        Ok(Some((
            scheme,
            AuthParams::new(rest, rest_at, HeaderName::Authorization),
        )))
    }

    /// The first `WWW-Authenticate` challenge, `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`crate::Error::Header`] when it is malformed.
    pub fn www_authenticate(&self) -> Result<Option<DigestChallenge<'a>>> {
        self.challenge(HeaderName::WwwAuthenticate)
    }

    /// The first `Proxy-Authenticate` challenge, `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`crate::Error::Header`] when it is malformed.
    pub fn proxy_authenticate(&self) -> Result<Option<DigestChallenge<'a>>> {
        self.challenge(HeaderName::ProxyAuthenticate)
    }

    fn credentials(&self, kind: HeaderName) -> Result<Option<DigestCredentials<'a>>> {
        self.value(kind)
            .map(|(value, at)| DigestCredentials::parse_at(value, at, kind))
            .transpose()
    }

    fn challenge(&self, kind: HeaderName) -> Result<Option<DigestChallenge<'a>>> {
        self.value(kind)
            .map(|(value, at)| DigestChallenge::parse_at(value, at, kind))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use proptest::prelude::*;

    use super::{Needle, split_scheme};
    use crate::HeaderName;
    use crate::text::{is_lws, skip_lws, sub, token_end, trim};

    /// [`split_scheme`] without its `Digest ` fast path.
    fn split_scheme_model(s: &str) -> Option<(&str, &str, usize)> {
        let (s, cut) = trim(s);
        let se = token_end(s, 0);
        if se == 0 || s.as_bytes().get(se).is_some_and(|&c| !is_lws(c)) {
            return None;
        }
        let p = skip_lws(s, se);
        Some((sub(s, 0, se), sub(s, p, s.len()), cut + p))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// The scheme split with its `Digest ` fast path agrees with the
        /// general token split.
        #[test]
        fn scheme_split_agrees_with_the_token_split(
            s in "[ \t]?(?i:digest|digesT|basic|d1gest|DIGES)[ \t\r\n,=x\\x00-\\x1f]{0,3}[a-z= \"]{0,12}",
        ) {
            let got = split_scheme(&s, 0, HeaderName::Authorization).ok();
            prop_assert_eq!(got, split_scheme_model(&s), "{:?}", s);
        }

        /// The one-word name read agrees with the token scan and the name
        /// compare: it answers only when the token at `i` is the name.
        #[test]
        fn needle_at_agrees_with_the_token_scan(
            s in "[-a-zA-Z0-9=,\" \t\r\n\x0d\x10-\x19]{0,14}",
            name in prop_oneof!["(?i:username|realm|nonce|uri|qop|nc|cnonce)", "[-a-zA-Z0-9]{1,9}"],
            i in 0usize..16,
        ) {
            let needle = Needle::new(&name);
            let ne = token_end(&s, i);
            let cand = sub(&s, i, ne);
            let want = (i < s.len() && ne > i && needle.matches(cand, &name)).then_some(ne);
            match needle.at(s.as_bytes(), i) {
                Some(end) => prop_assert_eq!(Some(end), want, "{:?} {:?} {}", s, name, i),
                None => prop_assert!(
                    want.is_none() || name.len() > 8 || !name.bytes().all(|c| c.is_ascii_alphabetic()),
                    "{:?} {:?} {}", s, name, i
                ),
            }
        }

        /// The folded-word name compare is ASCII case-insensitive equality
        /// for every token candidate and any name.
        #[test]
        fn needle_is_case_insensitive_equality(
            candidate in "[-.!%*_+`'~a-zA-Z0-9]{1,10}",
            name in prop_oneof!["[-a-zA-Z0-9]{1,10}", ".{0,10}", "[\\x00-\\x7f]{1,9}"],
            copy in any::<bool>(),
        ) {
            // Often the same name in another case, so equality is exercised.
            let candidate = if copy {
                name.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c }).collect()
            } else {
                candidate
            };
            if candidate.bytes().all(crate::text::is_token) {
                prop_assert_eq!(
                    Needle::new(&name).matches(&candidate, &name),
                    candidate.eq_ignore_ascii_case(&name),
                    "{:?} {:?}", candidate, name
                );
            }
        }
    }
}
