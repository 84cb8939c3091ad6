//! The crate's error type: what is wrong with a configuration, and where.

use std::fmt;

pub(crate) use pbxsec_core::excerpt;

/// Everything that can go wrong while turning an [`OutboundConfig`](crate::OutboundConfig)
/// (or a single dial pattern) into its compiled form.
///
/// Every variant says *what* was wrong and *where*: the config field (a path
/// such as `routes[3].patterns[0].pattern`) and, for text that is parsed, the
/// byte offset inside it. No variant ever carries a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dial pattern could not be read.
    #[error("invalid dial pattern {pattern:?} at byte {position}: {problem}")]
    Pattern {
        /// The pattern (at most 64 characters of it).
        pattern: String,
        /// Byte offset in the pattern where reading failed.
        position: usize,
        /// What was wrong there.
        problem: PatternProblem,
    },
    /// A value in the configuration is invalid.
    #[error("{field}: {problem}")]
    Config {
        /// Where in the configuration, e.g. `routes[2].trunks[0]`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Error {
    /// A [`Error::Config`] for `field`.
    pub(crate) fn config(field: impl fmt::Display, problem: impl fmt::Display) -> Self {
        Self::Config {
            field: field.to_string(),
            problem: problem.to_string(),
        }
    }

    /// Prefixes the field path of a config error (patterns get their field
    /// named too, as a config error wrapping the pattern error's text).
    pub(crate) fn in_field(self, field: impl fmt::Display) -> Self {
        match self {
            Self::Config {
                field: inner,
                problem,
            } => Self::Config {
                field: format!("{field}.{inner}"),
                problem,
            },
            pattern @ Self::Pattern { .. } => Self::Config {
                field: field.to_string(),
                problem: pattern.to_string(),
            },
        }
    }
}

/// What was wrong with a dial pattern (see [`Error::Pattern`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternProblem {
    /// The pattern is empty.
    #[error("the pattern is empty")]
    Empty,
    /// A character that has no meaning in a dial pattern.
    #[error("unexpected character; use digits, X, Z, N, [..], '.', '!', '+', '*' or '#'")]
    UnexpectedChar,
    /// A `[` without its `]`.
    #[error("'[' is not closed by ']'")]
    UnclosedClass,
    /// `[]`: a class that matches nothing.
    #[error("an empty character class matches nothing")]
    EmptyClass,
    /// A range such as `[5-1]` or `[1-]`.
    #[error("invalid range inside [..]; write e.g. [1-5]")]
    BadRange,
    /// More elements than a compiled pattern holds.
    #[error("the pattern is too long (at most {max} elements)", max = crate::pattern::MAX_ELEMENTS)]
    TooLong,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
