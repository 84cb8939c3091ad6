//! Small byte-level helpers shared by the scanner and the value parsers.
//!
//! Every helper works on `&str` slices of the scanned message and slices only
//! at ASCII delimiters (so at char boundaries), through `.get()`.

/// Linear whitespace as it appears inside a header value: SP, HTAB, and the
/// CR/LF of a folded (continuation) line.
#[inline]
pub(crate) const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 `token` characters, as a table (the scanner checks every header name byte).
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// RFC 3261 `token` characters.
#[inline]
pub(crate) const fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// `s` without leading and trailing LWS, and how many bytes were cut in front.
#[inline]
pub(crate) fn trim(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_lws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_lws(c)).map_or(start, |i| i + 1);
    (s.get(start..end.max(start)).unwrap_or_default(), start)
}

/// The sub-slice `s[a..b]`, or `""` when out of range.
#[inline]
pub(crate) fn sub(s: &str, a: usize, b: usize) -> &str {
    s.get(a..b).unwrap_or_default()
}

/// The sub-slice `s[a..]`, or `""` when out of range.
#[inline]
pub(crate) fn from(s: &str, a: usize) -> &str {
    s.get(a..).unwrap_or_default()
}

/// Index of the first byte of `s` at or after `i` that is not LWS.
#[inline]
pub(crate) fn skip_lws(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|&c| is_lws(c)) {
        i += 1;
    }
    i
}

/// Index just past the run of token characters starting at `i`.
#[inline]
pub(crate) fn token_end(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while b.get(i).is_some_and(|&c| is_token(c)) {
        i += 1;
    }
    i
}

/// Given `s[open] == '"'`, the index of the closing quote (backslash escapes
/// honoured), or `None` when the string is unterminated.
#[inline]
pub(crate) fn quote_end(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = open + 1;
    loop {
        let j = find_quote_or_backslash(b, i)?;
        if b.get(j)? == &b'"' {
            return Some(j);
        }
        i = j + 2;
    }
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
        let end = loop {
            match b.get(i) {
                None => {
                    self.done = true;
                    break b.len();
                }
                Some(b',') => {
                    self.pos = i + 1;
                    break i;
                }
                // Skip a quoted string (an unterminated one runs to the end).
                Some(b'"') => i = quote_end(self.s, i).map_or(b.len(), |q| q + 1),
                Some(b'<') => {
                    while b.get(i).is_some_and(|&c| c != b'>') {
                        i += 1;
                    }
                    i += 1;
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
#[inline]
pub(crate) fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Parses a decimal number made only of digits, `None` on anything else or overflow.
#[inline]
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

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes of `b` at `at` as a little-endian word, `None` past the end.
#[inline(always)]
pub(crate) fn word(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    <[u8; 8]>::try_from(s).ok().map(u64::from_le_bytes)
}

/// Non-zero iff some byte of `w` is zero; the lowest set bit marks the
/// first zero byte exactly (false positives only above a true zero byte).
#[inline(always)]
pub(crate) const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// Bit `i` set iff `b[at + i]` is one of `needles`, for the 16 bytes from
/// `at`, and how many of those bytes exist (at most 16; bits past them are
/// clear). `None` when `b` holds fewer than 16 bytes (the caller loops over
/// bytes): then there is no whole block to read.
#[inline(always)]
fn mask16<const N: usize>(b: &[u8], at: usize, needles: [u8; N]) -> Option<(u32, usize)> {
    if let Some(block) = b
        .get(at..at.saturating_add(16))
        .and_then(|s| <&[u8; 16]>::try_from(s).ok())
    {
        return Some((block_mask16(block, needles), 16));
    }
    // Near the end: the last 16 bytes, shifted down to `at`.
    let len = b.len();
    let last = b
        .get(len.checked_sub(16)?..)
        .and_then(|s| <&[u8; 16]>::try_from(s).ok())?;
    let n = len.checked_sub(at)?;
    Some((block_mask16(last, needles) >> (16 - n), n))
}

/// Bit `i` set iff `block[i]` is one of `needles`: SSE2 compares on x86-64
/// (part of its baseline), a byte loop elsewhere.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_mask16<const N: usize>(block: &[u8; 16], needles: [u8; N]) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i, zeroed_m128i,
    };
    let v = load_unaligned_m128i(block);
    let mut eq = zeroed_m128i();
    for n in needles {
        eq = bitor_m128i(
            eq,
            cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(i8::from_ne_bytes([n]))),
        );
    }
    u32::from(move_mask_i8_m128i(eq) as u16)
}

/// Bit `i` set iff `block[i]` is one of `needles`.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_mask16<const N: usize>(block: &[u8; 16], needles: [u8; N]) -> u32 {
    block
        .iter()
        .enumerate()
        .fold(0u32, |m, (i, c)| m | (u32::from(needles.contains(c)) << i))
}

/// Index of the first byte of `b` at or after `from` that is one of
/// `needles`, 16 bytes per step ([`mask16`]); a byte loop when `b` is
/// shorter than 16 bytes.
#[inline(always)]
fn find_first_of<const N: usize>(b: &[u8], from: usize, needles: [u8; N]) -> Option<usize> {
    find_first_of_before(b, from, b.len(), needles)
}

/// [`find_first_of`] limited to `b[from..to]`, reading whole 16-byte
/// blocks of `b` (which may reach past `to`), so a short range inside a
/// longer slice costs one compare rather than a byte loop.
#[inline(always)]
fn find_first_of_before<const N: usize>(
    b: &[u8],
    from: usize,
    to: usize,
    needles: [u8; N],
) -> Option<usize> {
    let to = to.min(b.len());
    let mut i = from;
    while i < to {
        let Some((m, n)) = mask16(b, i, needles) else {
            return b
                .get(i..to)?
                .iter()
                .position(|c| needles.contains(c))
                .map(|p| i + p);
        };
        let valid = n.min(to - i);
        let m = m & ((1u32 << valid) - 1);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += n;
    }
    None
}

/// Index of the first `needle` in `b[from..to]`, reading `b` past `to`
/// where that saves a byte loop (see [`find_first_of_before`]).
#[inline]
pub(crate) fn find_byte_before(b: &[u8], from: usize, to: usize, needle: u8) -> Option<usize> {
    find_first_of_before(b, from, to, [needle])
}

/// Index of the first `needle` in `b` at or after `from`.
///
/// The first 64 bytes 16 at a time with SSE2 compares ([`find_first_of`]),
/// which is where a SIP value usually has what is looked for: this avoids
/// `memchr`'s per-call setup on short values; `memchr` (AVX2) goes on for
/// longer runs.
#[inline]
pub(crate) fn find_byte(b: &[u8], from: usize, needle: u8) -> Option<usize> {
    let stop = from.saturating_add(64).min(b.len());
    if let Some(i) = find_first_of(b.get(..stop)?, from, [needle]) {
        return Some(i);
    }
    memchr::memchr(needle, b.get(stop..)?).map(|p| stop + p)
}

/// Index of the first byte of `b` at or after `from` that is one of
/// `needles`, or `b.len()` (`from` when past it) when there is none.
#[inline(always)]
pub(crate) fn find_any<const N: usize>(b: &[u8], from: usize, needles: [u8; N]) -> usize {
    find_first_of(b, from, needles).unwrap_or(b.len().max(from))
}

/// Index of the first `"` or `\` in `b` at or after `from`.
#[inline]
pub(crate) fn find_quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    find_first_of(b, from, [b'"', b'\\'])
}

/// Index of the first byte `c` in `s`, 16 bytes at a time ([`find_byte`]):
/// the strings here are a few dozen bytes, where `str::find`'s searcher and
/// `memchr`'s setup cost more than the search, and a byte loop pays a
/// branch per byte.
#[inline]
pub(crate) fn find_b(s: &str, c: u8) -> Option<usize> {
    find_byte(s.as_bytes(), 0, c)
}

/// `s` split at the first byte `c` (excluded), like `str::split_once(char)`.
#[inline]
pub(crate) fn split_b(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = find_b(s, c)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Bit `i` set iff `b[at + i] == needle`, for the 64 bytes from `at`
/// (bytes past the end of `b` never match).
///
/// On x86-64, four SSE2 compares and byte masks (SSE2 is part of the
/// x86-64 baseline; `safe_arch` wraps the intrinsics safely): about a dozen
/// instructions for 64 bytes, with no branch on the data. Elsewhere a byte
/// loop.
#[inline(always)]
pub(crate) fn byte_mask64(b: &[u8], at: usize, needle: u8) -> u64 {
    match b
        .get(at..at.saturating_add(64))
        .and_then(|s| <&[u8; 64]>::try_from(s).ok())
    {
        Some(block) => block_mask(block, needle),
        None => {
            // The last, partial block: the last 64 bytes of `b`, shifted
            // down to `at` (no copy), or a zero-padded copy when `b` is
            // shorter than a block (a zero byte is never looked for; the
            // padding is masked off all the same).
            let len = b.len();
            if at >= len {
                return 0;
            }
            if let Some(last) = len
                .checked_sub(64)
                .and_then(|s| b.get(s..))
                .and_then(|s| <&[u8; 64]>::try_from(s).ok())
            {
                return block_mask(last, needle) >> (at + 64 - len);
            }
            let mut block = [0u8; 64];
            for (d, &s) in block.iter_mut().zip(b.get(at..).unwrap_or_default()) {
                *d = s;
            }
            block_mask(&block, needle) & ((1u64 << (len - at)) - 1)
        }
    }
}

/// [`byte_mask64`] of one whole block.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_mask(block: &[u8; 64], needle: u8) -> u64 {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let n = set_splat_i8_m128i(i8::from_ne_bytes([needle]));
    let mut m = 0u64;
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        let Ok(chunk) = <&[u8; 16]>::try_from(chunk) else {
            continue;
        };
        let eq = cmp_eq_mask_i8_m128i(load_unaligned_m128i(chunk), n);
        // The mask has 16 bits (the sign bits of 16 bytes).
        m |= u64::from(move_mask_i8_m128i(eq) as u16) << (16 * k);
    }
    m
}

/// [`byte_mask64`] of one whole block.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_mask(block: &[u8; 64], needle: u8) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0u64, |m, (i, &c)| m | (u64::from(c == needle) << i))
}

/// The line feeds of a byte slice in order, from a start offset: each
/// 64-byte block is compared once ([`byte_mask64`]) and its hits popped one
/// by one, so finding the next line end costs a few instructions and does
/// not wait on the previous search.
#[derive(Debug, Clone)]
pub(crate) struct LineFeeds<'a> {
    b: &'a [u8],
    block: usize,
    mask: u64,
}

impl<'a> LineFeeds<'a> {
    /// The line feeds of `b` at or after `from`.
    #[inline(always)]
    pub(crate) fn new(b: &'a [u8], from: usize) -> Self {
        Self {
            b,
            block: from,
            mask: byte_mask64(b, from, b'\n'),
        }
    }

    /// The next line feed, `None` when there is none left.
    #[inline(always)]
    pub(crate) fn next_lf(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.block = self.block.checked_add(64)?;
            if self.block >= self.b.len() {
                return None;
            }
            self.mask = byte_mask64(self.b, self.block, b'\n');
        }
        let i = self.block + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use proptest::prelude::*;

    use super::{
        LineFeeds, byte_mask64, find_any, find_b, find_byte, find_byte_before,
        find_quote_or_backslash, is_token, token_end,
    };

    /// Bytes drawn mostly from the ones the searches look for.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b' '),
                Just(b'\t'),
                Just(b'\r'),
                Just(b'\n'),
                Just(b';'),
                Just(b':'),
                Just(b','),
                b'0'..=b'9',
                b'a'..=b'z',
                Just(b'-'),
                Just(b'.'),
                Just(b'Z'),
                Just(b'@'),
                Just(b'['),
                Just(b'`'),
                Just(b'{'),
                Just(b'/'),
                Just(b'0'),
                Just(b'"'),
                Just(b'\\'),
                any::<u8>(),
            ],
            0..90,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// The block masks and the line-feed cursor agree with a byte loop,
        /// at every offset, near the end of the input and past it.
        #[test]
        fn block_masks_agree_with_a_byte_loop(
            b in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0u8), Just(b':'), any::<u8>()],
                0..200,
            ),
            from in 0usize..210,
            needle in prop_oneof![Just(b'\n'), Just(b':'), any::<u8>()],
        ) {
            let naive = (0..64).fold(0u64, |m, i| {
                m | (u64::from(b.get(from + i) == Some(&needle)) << i)
            });
            prop_assert_eq!(byte_mask64(&b, from, needle), naive);
            let mut lfs = LineFeeds::new(&b, from);
            let want: Vec<usize> = (from..b.len()).filter(|&i| b[i] == b'\n').collect();
            let got: Vec<usize> = std::iter::from_fn(|| lfs.next_lf()).collect();
            prop_assert_eq!(got, want);
        }

        /// The block searches agree with a byte loop.
        #[test]
        fn searches_agree_with_a_byte_loop(b in bytes(), from in 0usize..100, needle in any::<u8>()) {
            let set = [b' ', b'\t', b'\r', b'\n', b';', b':'];
            let naive_any = (from..b.len()).find(|&i| set.contains(&b[i])).unwrap_or(b.len().max(from));
            prop_assert_eq!(find_any(&b, from, set), naive_any);
            let naive = (from..b.len()).find(|&i| b[i] == needle);
            prop_assert_eq!(find_byte(&b, from, needle), naive);
            let to = from.wrapping_mul(7) % 100;
            let naive_before = (from..b.len().min(to)).find(|&i| b[i] == needle);
            prop_assert_eq!(find_byte_before(&b, from, to, needle), naive_before);
            let naive = (from..b.len()).find(|&i| b[i] == b'"' || b[i] == b'\\');
            prop_assert_eq!(find_quote_or_backslash(&b, from), naive);
            if let Ok(s) = std::str::from_utf8(&b) {
                prop_assert_eq!(find_b(s, needle), s.bytes().position(|c| c == needle));
                let mut naive = from;
                while b.get(naive).is_some_and(|&c| is_token(c)) {
                    naive += 1;
                }
                prop_assert_eq!(token_end(s, from), naive, "{:?}", s);
            }
        }
    }
}
