//! The crate's error type.

/// What went wrong when validating a configuration or restoring a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field has a value that cannot work.
    #[error("invalid value for `{field}`: {problem}")]
    InvalidConfig {
        /// The field, as named in the config struct (e.g. `limit`).
        field: &'static str,
        /// What is wrong with it, in words.
        problem: String,
    },
}

impl Error {
    pub(crate) fn config(field: &'static str, problem: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field,
            problem: problem.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
