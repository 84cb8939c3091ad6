//! Strength estimates: character classes, runs, Vodia-style points, a
//! bounded zxcvbn score, and the common-password blocklist.

use serde::{Deserialize, Serialize};

/// A character class, as the class rules count them.
///
/// - `Digit`: the ASCII digits `0`–`9` (what a phone keypad has);
/// - `Upper`: any character Unicode calls upper case (`A`, `Ä`, `Σ`);
/// - `Lower`: any character Unicode calls lower case, and letters that have
///   no case at all (CJK, Arabic, Hebrew...), which count as lower case;
/// - `Special`: everything else (punctuation, space, symbols, non-ASCII digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CharClass {
    /// Lower-case (or caseless) letters.
    Lower,
    /// Upper-case letters.
    Upper,
    /// ASCII digits.
    Digit,
    /// Everything that is not a letter or an ASCII digit.
    Special,
}

impl CharClass {
    /// The class of `c`.
    pub fn of(c: char) -> Self {
        if c.is_ascii_digit() {
            Self::Digit
        } else if c.is_uppercase() {
            Self::Upper
        } else if c.is_alphabetic() {
            Self::Lower
        } else {
            Self::Special
        }
    }

    /// All four classes.
    pub const ALL: [Self; 4] = [Self::Lower, Self::Upper, Self::Digit, Self::Special];

    fn bit(self) -> u8 {
        match self {
            Self::Lower => 1,
            Self::Upper => 2,
            Self::Digit => 4,
            Self::Special => 8,
        }
    }

    /// How users read the class.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Lower => "lower-case letter",
            Self::Upper => "upper-case letter",
            Self::Digit => "digit",
            Self::Special => "special character",
        }
    }
}

/// The set of classes present in a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Classes(u8);

impl Classes {
    pub(crate) fn of(chars: &[char]) -> Self {
        Self(chars.iter().fold(0, |acc, &c| acc | CharClass::of(c).bit()))
    }

    pub(crate) fn has(self, class: CharClass) -> bool {
        self.0 & class.bit() != 0
    }
}

/// The position of `c` in a sequence alphabet: letters `a`..`z` are
/// 0..=25 in alphabet 0, digits are alphabet 1 in number-row order
/// `1234567890` with `0` also at position −1 (so both `0123` and `7890` run).
fn seq_key(c: char) -> Option<(u8, i32)> {
    let c = c.to_ascii_lowercase();
    if c.is_ascii_lowercase() {
        Some((0, i32::from(c as u8 - b'a')))
    } else if c.is_ascii_digit() {
        Some((1, i32::from(c as u8 - b'0')))
    } else {
        None
    }
}

/// `+1` when `b` follows `a` in the alphabet or in digit order (`9`→`0`
/// counts, as on the number row), `-1` when it precedes it, `0` otherwise.
fn seq_step(a: char, b: char) -> i32 {
    match (seq_key(a), seq_key(b)) {
        (Some((ka, va)), Some((kb, vb))) if ka == kb => {
            let d = vb - va;
            if d == 1 || (ka == 1 && va == 9 && vb == 0) {
                1
            } else if d == -1 || (ka == 1 && va == 0 && vb == 9) {
                -1
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// Keyboard rows (US QWERTY, lower case) for the keyboard-run rule, as a
/// table from ASCII byte to `(row + 1) << 4 | column` (0: not on a row).
const KEY_POS: [u8; 128] = {
    let rows: [&[u8]; 3] = [b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];
    let mut table = [0u8; 128];
    let mut r = 0;
    while r < rows.len() {
        let row = rows[r];
        let mut i = 0;
        while i < row.len() {
            table[row[i] as usize] = ((r as u8 + 1) << 4) | i as u8;
            i += 1;
        }
        r += 1;
    }
    table
};

fn key_pos(c: char) -> u8 {
    let c = c.to_ascii_lowercase();
    KEY_POS.get(c as usize).copied().unwrap_or(0)
}

fn keyboard_step(a: char, b: char) -> i32 {
    let (pa, pb) = (key_pos(a), key_pos(b));
    if pa == 0 || pb == 0 || pa >> 4 != pb >> 4 {
        return 0;
    }
    match i32::from(pb & 15) - i32::from(pa & 15) {
        1 => 1,
        -1 => -1,
        _ => 0,
    }
}

/// The longest run of consecutive steps in one direction, in characters.
fn longest_run(chars: &[char], step: fn(char, char) -> i32) -> usize {
    let mut best = usize::from(!chars.is_empty());
    let (mut len, mut dir) = (1usize, 0i32);
    for w in chars.windows(2) {
        let (a, b) = match w {
            [a, b] => (*a, *b),
            _ => continue,
        };
        let s = step(a, b);
        if s != 0 && s == dir {
            len += 1;
        } else if s != 0 {
            dir = s;
            len = 2;
        } else {
            dir = 0;
            len = 1;
        }
        best = best.max(len);
    }
    best
}

/// The longest ascending or descending alphabetic/numeric run
/// (`abcd`, `DCBA`, `1234`, `7890`), case-insensitive, in characters.
pub fn longest_sequential_run(password: &str) -> usize {
    let chars: Vec<char> = password.chars().collect();
    longest_run(&chars, seq_step)
}

/// The longest run of one repeated character (`222`, `Aaa`, `###`),
/// case-insensitive, in characters.
pub fn longest_repeated_run(password: &str) -> usize {
    let chars: Vec<char> = password.chars().collect();
    longest_repeated_run_chars(&chars)
}

/// The longest run along a QWERTY keyboard row (`qwer`, `lkjh`),
/// case-insensitive, in characters.
pub fn longest_keyboard_run(password: &str) -> usize {
    let chars: Vec<char> = password.chars().collect();
    longest_run(&chars, keyboard_step)
}

pub(crate) fn longest_sequential_run_chars(chars: &[char]) -> usize {
    longest_run(chars, seq_step)
}

pub(crate) fn longest_keyboard_run_chars(chars: &[char]) -> usize {
    longest_run(chars, keyboard_step)
}

pub(crate) fn longest_repeated_run_chars(chars: &[char]) -> usize {
    let mut best = usize::from(!chars.is_empty());
    let mut len = 1usize;
    let mut prev: Option<char> = None;
    for &c in chars {
        let lc = lower(c);
        if prev == Some(lc) {
            len += 1;
        } else {
            len = 1;
        }
        prev = Some(lc);
        best = best.max(len);
    }
    best
}

/// Simple one-to-one lower-casing (the first char of `to_lowercase`).
pub(crate) fn lower(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// Points a digit earns (Vodia's published value: the size of the digit alphabet).
pub const POINTS_DIGIT: u32 = 10;
/// Points a letter earns (Vodia's published value: the size of the latin alphabet).
pub const POINTS_LETTER: u32 = 26;
/// Points any other character earns (our value, not published by Vodia: the
/// 33 printable ASCII characters that are neither letters nor digits, space included).
pub const POINTS_SPECIAL: u32 = 33;
/// Points a character earns when it repeats the one before it or continues a
/// sequence with it (`aa`, `ab`, `21`): it adds almost nothing for an attacker.
pub const POINTS_PREDICTABLE: u32 = 1;
/// Vodia's "medium" threshold.
pub const VODIA_MEDIUM: u32 = 120;
/// Vodia's "high" threshold.
pub const VODIA_HIGH: u32 = 200;

/// A Vodia-style points score.
///
/// Vodia publishes only part of its table: a digit is worth 10 points and a
/// letter 26, i.e. each character earns the size of the alphabet it comes
/// from. We complete it the same way: a character that is neither a letter
/// nor a digit earns 33 (the printable ASCII specials, space included), and
/// any character that repeats the previous one (case-insensitively) or
/// continues an ascending/descending sequence with it earns 1 point, so
/// `aaaaaaaa` or `12345678` cannot buy their way past a threshold. The
/// score is the sum; medium is ≥ 120, high ≥ 200.
///
/// ```
/// use pbxsec_password::strength::vodia_points;
/// // A j K(follows j: 1) 5 U p 1 G
/// assert_eq!(vodia_points("AjK5Up1G"), 26 + 26 + 1 + 10 + 26 + 26 + 10 + 26);
/// assert_eq!(vodia_points("aaaa"), 26 + 3);
/// ```
pub fn vodia_points(password: &str) -> u32 {
    points_of(password.chars())
}

pub(crate) fn points_of(chars: impl Iterator<Item = char>) -> u32 {
    let mut points = 0u32;
    let mut prev: Option<char> = None;
    for c in chars {
        let predictable = prev.is_some_and(|p| lower(p) == lower(c) || seq_step(p, c) != 0);
        let earned = if predictable {
            POINTS_PREDICTABLE
        } else {
            match CharClass::of(c) {
                CharClass::Digit => POINTS_DIGIT,
                CharClass::Lower | CharClass::Upper => POINTS_LETTER,
                CharClass::Special => POINTS_SPECIAL,
            }
        };
        points = points.saturating_add(earned);
        prev = Some(c);
    }
    points
}

/// The most characters of a password zxcvbn is shown (see [`zxcvbn_view`]).
pub const ZXCVBN_MAX_CHARS: usize = 32;
/// The most l33t substitution tables zxcvbn may have to try for the part of
/// the password it is shown (see [`zxcvbn_view`]).
pub const ZXCVBN_MAX_L33T_TABLES: u64 = 64;
/// The most user inputs (account fields) zxcvbn is given.
pub const ZXCVBN_MAX_USER_INPUTS: usize = 16;
/// The longest user input zxcvbn is given, in characters.
pub const ZXCVBN_MAX_USER_INPUT_CHARS: usize = 64;

/// zxcvbn's l33t table (zxcvbn 3.1, `matching::L33T_TABLE`).
const L33T: [&[char]; 12] = [
    &['4', '@'],
    &['8'],
    &['(', '{', '[', '<'],
    &['3'],
    &['6', '9'],
    &['1', '!', '|'],
    &['1', '|', '7'],
    &['0'],
    &['$', '5'],
    &['+', '7'],
    &['%'],
    &['2'],
];

/// An upper bound on the number of l33t substitution tables zxcvbn
/// enumerates for a password made of `present` characters: the product of
/// the substitutions per letter, doubled for each character that stands for
/// two letters (`1`, `|`, `7`).
fn l33t_tables(present: &[char]) -> u64 {
    let mut tables: u64 = 1;
    for subs in L33T {
        let n = subs.iter().filter(|c| present.contains(c)).count() as u64;
        if n > 0 {
            tables = tables.saturating_mul(n);
        }
    }
    for c in ['1', '|', '7'] {
        if present.contains(&c) {
            tables = tables.saturating_mul(2);
        }
    }
    tables
}

/// The part of `password` zxcvbn is shown: its longest prefix of at most
/// [`ZXCVBN_MAX_CHARS`] characters for which zxcvbn tries at most
/// [`ZXCVBN_MAX_L33T_TABLES`] l33t substitution tables.
///
/// zxcvbn's cost grows with the square of the length times the number of
/// l33t tables, which is exponential in the number of distinct l33t symbols
/// (`4@8({[<|!1$5+7%`): crafted inputs of 24 characters take over 100 ms
/// and of 100 characters several seconds. Both factors are bounded here.
///
/// Why the score stays honest: every character of the prefix is part of the
/// password, so an attacker who finds the password has found the prefix;
/// the password is at least as hard to guess as its prefix, and the score of
/// the prefix is a lower bound. A cut never makes a password look stronger.
/// The price is that a password longer than the prefix is not credited for
/// its remaining characters, and one that crowds many different l33t symbols
/// into its first characters is scored on a short prefix and may be judged
/// weaker than it is. The length, blocklist and other rules still see the
/// whole password.
pub fn zxcvbn_view(password: &str) -> &str {
    let mut present: Vec<char> = Vec::new();
    let mut end = 0;
    for (count, (i, c)) in password.char_indices().enumerate() {
        if count >= ZXCVBN_MAX_CHARS {
            break;
        }
        if !present.contains(&c) {
            present.push(c);
            if l33t_tables(&present) > ZXCVBN_MAX_L33T_TABLES {
                break;
            }
        }
        end = i + c.len_utf8();
    }
    password.get(..end).unwrap_or_default()
}

/// zxcvbn's score (0–4) for `password`, bounded in time: zxcvbn sees
/// [`zxcvbn_view`]`(password)` and at most [`ZXCVBN_MAX_USER_INPUTS`] user
/// inputs of at most [`ZXCVBN_MAX_USER_INPUT_CHARS`] characters each.
pub fn zxcvbn_score(password: &str, user_inputs: &[&str]) -> u8 {
    let view = zxcvbn_view(password);
    let inputs: Vec<String> = user_inputs
        .iter()
        .filter(|s| !s.is_empty())
        .take(ZXCVBN_MAX_USER_INPUTS)
        .map(|s| s.chars().take(ZXCVBN_MAX_USER_INPUT_CHARS).collect())
        .collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    u8::from(zxcvbn::zxcvbn(view, &inputs).score())
}

/// Number of entries in the blocklist (the `passwords` crate's
/// `common-passwords.json`, version 3.1).
pub const COMMON_PASSWORDS_LEN: usize = 99_838;

/// `true` when `password` (as given, or lower-cased) is on the common-password
/// list shipped by the `passwords` crate (99,838 entries of common and
/// breached passwords, sorted; the longest has 32 characters, so longer
/// inputs are not looked up).
pub fn is_common_password(password: &str) -> bool {
    if password.len() > 4 * 32 {
        return false;
    }
    if passwords::analyzer::is_common_password(password) {
        return true;
    }
    let lowered = password.to_lowercase();
    lowered != password && passwords::analyzer::is_common_password(&lowered)
}
