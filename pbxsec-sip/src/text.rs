//! Small byte-level helpers shared by the scanner and the value parsers.
//!
//! Every helper works on `&str` slices of the scanned message and slices only
//! at ASCII delimiters (so at char boundaries), through `.get()`.

/// Linear whitespace as it appears inside a header value: SP, HTAB, and the
/// CR/LF of a folded (continuation) line.
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 `token` characters.
pub(crate) const fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// `s` without leading and trailing LWS, and how many bytes were cut in front.
pub(crate) fn trim(s: &str) -> (&str, usize) {
    let t = s.trim_start_matches([' ', '\t', '\r', '\n']);
    let cut = s.len() - t.len();
    (t.trim_end_matches([' ', '\t', '\r', '\n']), cut)
}

/// The sub-slice `s[a..b]`, or `""` when out of range.
pub(crate) fn sub(s: &str, a: usize, b: usize) -> &str {
    s.get(a..b).unwrap_or_default()
}

/// The sub-slice `s[a..]`, or `""` when out of range.
pub(crate) fn from(s: &str, a: usize) -> &str {
    s.get(a..).unwrap_or_default()
}

/// Index of the first byte of `s` at or after `i` that is not LWS.
pub(crate) fn skip_lws(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|&c| is_lws(c)) {
        i += 1;
    }
    i
}

/// Index just past the run of token characters starting at `i`.
pub(crate) fn token_end(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|&c| is_token(c)) {
        i += 1;
    }
    i
}

/// Given `s[open] == '"'`, the index of the closing quote (backslash escapes
/// honoured), or `None` when the string is unterminated.
pub(crate) fn quote_end(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = open + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Splits a header value at commas that are outside quoted strings and
/// `<...>`; yields each piece trimmed of LWS with its offset in the value.
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> CommaSplit<'a> {
    pub(crate) const fn new(s: &'a str) -> Self {
        Self {
            s,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut quoted = false;
        let mut angle = false;
        let end = loop {
            match b.get(i) {
                None => {
                    self.done = true;
                    break i;
                }
                Some(b'\\') if quoted => i += 2,
                Some(b'"') => {
                    quoted = !quoted;
                    i += 1;
                }
                Some(b'<') if !quoted => {
                    angle = true;
                    i += 1;
                }
                Some(b'>') if !quoted => {
                    angle = false;
                    i += 1;
                }
                Some(b',') if !quoted && !angle => {
                    self.pos = i + 1;
                    break i;
                }
                Some(_) => i += 1,
            }
        };
        let end = end.min(b.len());
        let (piece, cut) = trim(sub(self.s, start, end));
        Some((piece, start + cut))
    }
}

/// Case-insensitive ASCII prefix test.
pub(crate) fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Parses a decimal number made only of digits, `None` on anything else or overflow.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}
