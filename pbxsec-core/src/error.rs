//! The crate's error type.

/// The longest piece of offending input a pbxsec error repeats back, in
/// characters.
pub const EXCERPT_CHARS: usize = 64;

/// At most [`EXCERPT_CHARS`] characters of `s` (cut on a character boundary,
/// `…` appended when cut), for error messages: a config file may hold a
/// megabyte on one line, and an error must not copy all of it. Every pbxsec
/// crate's errors quote their input through this.
///
/// ```
/// assert_eq!(pbxsec_core::excerpt("10 minutes"), "10 minutes");
/// assert_eq!(pbxsec_core::excerpt(&"x".repeat(100)).chars().count(), 65);
/// ```
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", s.get(..end).unwrap_or_default()),
        None => s.to_owned(),
    }
}

/// Everything that can go wrong in `pbxsec-core`: reading a value from
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration such as `"10m"` could not be read.
    #[error("invalid duration {input:?} at byte {position}: {problem}")]
    Duration {
        /// The input (at most 64 characters of it).
        input: String,
        /// Byte offset in the input where reading failed.
        position: usize,
        /// What was wrong there.
        problem: DurationProblem,
    },
    /// A wall-clock time could not be read.
    #[error(
        "invalid time {input:?}: {problem} (expected RFC 3339 in UTC, e.g. 2026-11-23T18:05:36Z)"
    )]
    Time {
        /// The input (at most 64 characters of it).
        input: String,
        /// What was wrong.
        problem: String,
    },
}

/// What was wrong with a duration (see [`Error::Duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationProblem {
    /// The input was empty.
    #[error("empty input; write e.g. \"90s\", \"10m\", \"1h\" or \"7d\"")]
    Empty,
    /// A number was expected.
    #[error("expected a number")]
    ExpectedNumber,
    /// A number had no unit after it.
    #[error("missing unit after the number; use ns, us, ms, s, m, h, d or w")]
    MissingUnit,
    /// The unit is not one of ns, us, ms, s, m, h, d, w.
    #[error("unknown unit; use ns, us, ms, s, m, h, d or w")]
    UnknownUnit,
    /// The value does not fit a `std::time::Duration`.
    #[error("the value is too large")]
    Overflow,
    /// A negative number of seconds.
    #[error("a duration cannot be negative")]
    Negative,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
