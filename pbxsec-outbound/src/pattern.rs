//! Dial patterns in the syntax PBX web interfaces use.
//!
//! | element | matches |
//! |---|---|
//! | `0`-`9`, `*`, `#`, `+` | that character |
//! | `X` | any digit `0`-`9` |
//! | `Z` | any digit `1`-`9` |
//! | `N` | any digit `2`-`9` |
//! | `[1-5]`, `[13579]`, `[0-3*#]` | one of the listed characters (digits, ranges of digits, `*`, `#`, `+`) |
//! | `.` | one or more characters of any kind |
//! | `!` | zero or more characters of any kind |
//!
//! `X`, `Z` and `N` may be written in lower case, and a leading `_` (Asterisk's
//! marker for a pattern) is accepted and ignored. A pattern matches the whole
//! dialled number, never a part of it: `9X.` matches `9123` but not `89123`.
//! Unlike Asterisk, `.` and `!` may stand anywhere, not only at the end
//! (`00!44X.` is a pattern).
//!
//! A pattern is compiled once ([`DialPattern::parse`]) into bit masks and
//! matched by a bit-parallel automaton (Glushkov's construction with Shift-And
//! simulation): one pass over the number, a few instructions per character,
//! no allocation and no backtracking, so a hostile number cannot make it slow.
//!
//! ```
//! use pbxsec_outbound::DialPattern;
//!
//! let international = DialPattern::parse("9X.").unwrap();
//! assert!(international.matches("900441234567"));
//! assert!(!international.matches("9"));
//! let err = DialPattern::parse("9[5-1]X.").unwrap_err();
//! assert_eq!(err.to_string(), "invalid dial pattern \"9[5-1]X.\" at byte 1: invalid range inside [..]; write e.g. [1-5]");
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, PatternProblem, excerpt};

/// How many elements (`9`, `X`, `[1-5]`, `.`, `!` ...) a pattern may have.
pub const MAX_ELEMENTS: usize = 31;

/// How many symbols the dialled-number alphabet has: `0`-`9`, `*`, `#`, `+`.
pub(crate) const SYMBOLS: usize = 13;

/// The mask of the ten digits.
const DIGITS: u16 = 0x3ff;
/// The mask of every symbol.
const ANY: u16 = (1 << SYMBOLS) - 1;

/// The symbol index of a dialled character (`0`-`9` -> 0-9, `*` -> 10,
/// `#` -> 11, `+` -> 12), or `None` for anything else.
pub(crate) const fn symbol(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'*' => Some(10),
        b'#' => Some(11),
        b'+' => Some(12),
        _ => None,
    }
}

/// The character of a symbol index.
const fn symbol_char(s: u8) -> char {
    match s {
        0..=9 => (b'0' + s) as char,
        10 => '*',
        11 => '#',
        _ => '+',
    }
}

/// One element of a pattern as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Element {
    /// Exactly one character from the set (a bit per symbol).
    Class(u16),
    /// `.`: one or more of anything.
    OneOrMore,
    /// `!`: zero or more of anything.
    ZeroOrMore,
}

/// A compiled dial pattern. See the [module docs](self) for the syntax.
///
/// `Display` writes the pattern back in canonical form (`[0-9]` becomes `X`,
/// `[5]` becomes `5`, a leading `_` is dropped); parsing that gives an equal
/// pattern.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DialPattern {
    elements: Vec<Element>,
    /// Bit `i` set in `accept[s]`: automaton position `i` consumes symbol `s`
    /// and moves on to `i + 1`.
    accept: [u64; SYMBOLS],
    /// Bit `i` set: position `i` is a "zero or more" loop.
    star: u64,
    /// The accepting position.
    end: u64,
}

impl DialPattern {
    /// Parses and compiles a pattern.
    ///
    /// # Errors
    ///
    /// [`Error::Pattern`] with the byte offset of the first thing that is
    /// wrong and a [`PatternProblem`].
    pub fn parse(pattern: &str) -> Result<Self, Error> {
        let bytes = pattern.as_bytes();
        let err = |position: usize, problem: PatternProblem| Error::Pattern {
            pattern: excerpt(pattern),
            position,
            problem,
        };
        let mut pos = usize::from(bytes.first() == Some(&b'_'));
        if bytes.len() <= pos {
            return Err(err(pos, PatternProblem::Empty));
        }
        let mut elements = Vec::new();
        while let Some(&b) = bytes.get(pos) {
            if elements.len() >= MAX_ELEMENTS {
                return Err(err(pos, PatternProblem::TooLong));
            }
            let start = pos;
            pos += 1;
            let element = match b {
                b'X' | b'x' => Element::Class(DIGITS),
                b'Z' | b'z' => Element::Class(DIGITS & !1),
                b'N' | b'n' => Element::Class(DIGITS & !3),
                b'.' => Element::OneOrMore,
                b'!' => Element::ZeroOrMore,
                b'[' => {
                    let (mask, next) = parse_class(bytes, pos).map_err(|(at, p)| err(at, p))?;
                    if mask == 0 {
                        return Err(err(start, PatternProblem::EmptyClass));
                    }
                    pos = next;
                    Element::Class(mask)
                }
                _ => match symbol(b) {
                    Some(s) => Element::Class(1 << s),
                    None => return Err(err(start, PatternProblem::UnexpectedChar)),
                },
            };
            elements.push(element);
        }
        Ok(Self::compile(elements))
    }

    fn compile(elements: Vec<Element>) -> Self {
        let mut accept = [0u64; SYMBOLS];
        let mut star = 0u64;
        let mut i = 0u32;
        let mut last_was_star = false;
        let class = |i: u32, mask: u16, accept: &mut [u64; SYMBOLS]| {
            for (s, slot) in accept.iter_mut().enumerate() {
                if mask & (1 << s) != 0 {
                    *slot |= 1 << i;
                }
            }
        };
        for e in &elements {
            match *e {
                Element::Class(mask) => {
                    class(i, mask, &mut accept);
                    i += 1;
                    last_was_star = false;
                }
                Element::ZeroOrMore => {
                    // `!!` is `!`: consecutive stars are merged.
                    if !last_was_star {
                        star |= 1 << i;
                        i += 1;
                        last_was_star = true;
                    }
                }
                Element::OneOrMore => {
                    // `.` is "any, then `!`"; after a star, "any" alone says
                    // the same (`!.` and `!` + any both mean one or more).
                    class(i, ANY, &mut accept);
                    i += 1;
                    if last_was_star {
                        last_was_star = false;
                    } else {
                        star |= 1 << i;
                        i += 1;
                        last_was_star = true;
                    }
                }
            }
        }
        // At most 2 * MAX_ELEMENTS = 62 positions, so bit `i` fits a u64.
        Self {
            elements,
            accept,
            star,
            end: 1 << i,
        }
    }

    /// `true` when the whole `number` matches. Characters outside the
    /// dialling alphabet (`0`-`9`, `*`, `#`, `+`) never match.
    pub fn matches(&self, number: &str) -> bool {
        let mut state = self.start();
        for b in number.bytes() {
            let Some(s) = symbol(b) else { return false };
            state = self.step(state, s);
            if state == 0 {
                return false;
            }
        }
        state & self.end != 0
    }

    /// `true` when the symbols (see [`symbol`]) match.
    #[inline]
    pub(crate) fn matches_symbols(&self, symbols: &[u8]) -> bool {
        let mut state = self.start();
        for &s in symbols {
            state = self.step(state, s);
            if state == 0 {
                return false;
            }
        }
        state & self.end != 0
    }

    #[inline]
    fn closure(&self, state: u64) -> u64 {
        // Consecutive stars are merged at compile time, so one step of
        // "skip a star" reaches every position the empty string can reach.
        state | ((state & self.star) << 1)
    }

    #[inline]
    fn start(&self) -> u64 {
        self.closure(1)
    }

    #[inline]
    fn step(&self, state: u64, s: u8) -> u64 {
        let accept = self.accept.get(usize::from(s)).copied().unwrap_or(0);
        self.closure(((state & accept) << 1) | (state & self.star))
    }

    /// The set of symbols a match can begin with (bit per symbol), or every
    /// symbol when the pattern can begin with `.` or `!`.
    pub(crate) fn first_symbols(&self) -> u16 {
        let start = self.start();
        if start & self.star != 0 {
            return ANY;
        }
        let mut mask = 0;
        for (s, &a) in self.accept.iter().enumerate() {
            if a & start != 0 {
                mask |= 1 << s;
            }
        }
        mask
    }

    /// The leading characters every match starts with (the pattern's leading
    /// single-character elements), as symbols.
    pub(crate) fn literal_prefix(&self) -> Vec<u8> {
        self.elements
            .iter()
            .map_while(|e| match *e {
                Element::Class(mask) if mask.count_ones() == 1 => {
                    u8::try_from(mask.trailing_zeros()).ok()
                }
                _ => None,
            })
            .collect()
    }

    /// `true` when the pattern is a plain number (only single characters).
    pub(crate) fn is_literal(&self) -> bool {
        self.literal_prefix().len() == self.elements.len()
    }
}

/// Reads the inside of `[...]` from `pos` (just after `[`); returns the mask
/// and the position after `]`.
fn parse_class(bytes: &[u8], mut pos: usize) -> Result<(u16, usize), (usize, PatternProblem)> {
    let open = pos.saturating_sub(1);
    let mut mask = 0u16;
    loop {
        let Some(&b) = bytes.get(pos) else {
            return Err((open, PatternProblem::UnclosedClass));
        };
        match b {
            b']' => return Ok((mask, pos + 1)),
            b'0'..=b'9' if bytes.get(pos + 1) == Some(&b'-') => {
                let hi = match bytes.get(pos + 2) {
                    Some(&h @ b'0'..=b'9') if h >= b => h,
                    _ => return Err((open, PatternProblem::BadRange)),
                };
                for d in b..=hi {
                    mask |= 1 << (d - b'0');
                }
                pos += 3;
            }
            b'-' => return Err((open, PatternProblem::BadRange)),
            _ => match symbol(b) {
                Some(s) => {
                    mask |= 1 << s;
                    pos += 1;
                }
                None => return Err((pos, PatternProblem::UnexpectedChar)),
            },
        }
    }
}

impl FromStr for DialPattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for DialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.elements {
            match *e {
                Element::OneOrMore => f.write_str(".")?,
                Element::ZeroOrMore => f.write_str("!")?,
                Element::Class(DIGITS) => f.write_str("X")?,
                Element::Class(0x3fe) => f.write_str("Z")?,
                Element::Class(0x3fc) => f.write_str("N")?,
                Element::Class(mask) if mask.count_ones() == 1 => {
                    let s = u8::try_from(mask.trailing_zeros()).unwrap_or(0);
                    write!(f, "{}", symbol_char(s))?;
                }
                Element::Class(mask) => write_class(f, mask)?,
            }
        }
        Ok(())
    }
}

fn write_class(f: &mut fmt::Formatter<'_>, mask: u16) -> fmt::Result {
    f.write_str("[")?;
    let mut d = 0u8;
    while d < 10 {
        if mask & (1 << d) == 0 {
            d += 1;
            continue;
        }
        let mut end = d;
        while end < 9 && mask & (1 << (end + 1)) != 0 {
            end += 1;
        }
        if end >= d + 2 {
            write!(f, "{}-{}", symbol_char(d), symbol_char(end))?;
        } else {
            for x in d..=end {
                write!(f, "{}", symbol_char(x))?;
            }
        }
        d = end + 1;
    }
    for s in 10..13u8 {
        if mask & (1 << s) != 0 {
            write!(f, "{}", symbol_char(s))?;
        }
    }
    f.write_str("]")
}

impl fmt::Debug for DialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DialPattern({self})")
    }
}

impl serde::Serialize for DialPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DialPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yeastar_examples() {
        let p = DialPattern::parse("8X.").unwrap();
        assert!(!p.matches("81"));
        assert!(p.matches("812"));
        assert!(p.matches("8123456"));
        assert!(!p.matches("8"));
        assert!(!p.matches("91234"));
        let p = DialPattern::parse("_9NXX[1-5]!").unwrap();
        assert!(p.matches("92001"));
        assert!(p.matches("9200512345"));
        assert!(!p.matches("91001"));
        assert!(!p.matches("92006"));
        let p = DialPattern::parse("!").unwrap();
        assert!(p.matches(""));
        assert!(p.matches("+44*#"));
        let p = DialPattern::parse("..").unwrap();
        assert!(!p.matches("1"));
        assert!(p.matches("12"));
    }

    #[test]
    fn errors_name_the_position() {
        let e = |p: &str| match DialPattern::parse(p) {
            Err(Error::Pattern {
                position, problem, ..
            }) => (position, problem),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(e(""), (0, PatternProblem::Empty));
        assert_eq!(e("_"), (1, PatternProblem::Empty));
        assert_eq!(e("9A"), (1, PatternProblem::UnexpectedChar));
        assert_eq!(e("9[12"), (1, PatternProblem::UnclosedClass));
        assert_eq!(e("9[]"), (1, PatternProblem::EmptyClass));
        assert_eq!(e("99[3-1]"), (2, PatternProblem::BadRange));
        assert_eq!(e("[1-]"), (0, PatternProblem::BadRange));
        assert_eq!(e("[1a]"), (2, PatternProblem::UnexpectedChar));
        assert_eq!(e(&"1".repeat(40)), (31, PatternProblem::TooLong));
    }

    #[test]
    fn canonical_display() {
        let p = DialPattern::parse("_x[0-9][2-9][1-9][5][13579][0-3*#]..!!").unwrap();
        assert_eq!(p.to_string(), "XXNZ5[13579][0-3*#]..!!");
        assert_eq!(DialPattern::parse(&p.to_string()).unwrap(), p);
    }
}
