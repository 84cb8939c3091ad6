//! The crate's error type.

use crate::HeaderName;

/// Everything that can go wrong in `pbxsec-sip`: scanning a message, reading
/// a typed header value, framing a stream, or reading a pattern list.
///
/// Every variant says where: a byte offset into the bytes that were scanned
/// (for a value parsed on its own, into that value), or a line and column
/// of a pattern list. No variant copies message bytes, so an error is cheap
/// to build and never repeats a secret such as a digest response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message (or a header value in it) is malformed.
    #[error("malformed SIP message at byte {offset}: {problem}")]
    Scan {
        /// Byte offset of the problem in the scanned bytes.
        offset: usize,
        /// What was wrong there.
        problem: ScanProblem,
    },
    /// A header value could not be read as its type.
    #[error("invalid {header} header at byte {offset}: {problem}")]
    Header {
        /// The header whose value is wrong.
        header: HeaderName,
        /// Byte offset of the problem in the scanned bytes.
        offset: usize,
        /// What was wrong there.
        problem: ValueProblem,
    },
    /// A required header is absent.
    #[error("missing {header} header")]
    MissingHeader {
        /// The header that is absent.
        header: HeaderName,
    },
    /// A message passed scanning but breaks a rule [`crate::Message::validate`] checks.
    #[error("invalid SIP message at byte {offset}: {problem}")]
    Invalid {
        /// Byte offset of the offending line or value in the scanned bytes.
        offset: usize,
        /// The rule that was broken.
        problem: InvalidProblem,
    },
    /// A User-Agent pattern list could not be read.
    #[error("pattern list, line {line}, column {column}: {problem}")]
    List {
        /// 1-based line number.
        line: usize,
        /// 1-based column (in characters) on that line.
        column: usize,
        /// What was wrong there.
        problem: ListProblem,
    },
    /// A matcher configuration could not be built.
    #[error("invalid matcher configuration: {problem}")]
    Config {
        /// What was wrong.
        problem: ConfigProblem,
    },
}

/// What was wrong with the structure of a message (see [`Error::Scan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanProblem {
    /// The input holds no start line.
    #[error("empty message")]
    Empty,
    /// The message is larger than [`crate::Limits::max_message_size`].
    #[error("message larger than the configured limit")]
    MessageTooLarge,
    /// A line is longer than [`crate::Limits::max_line_len`].
    #[error("line longer than the configured limit")]
    LineTooLong,
    /// More header fields than [`crate::Limits::max_headers`].
    #[error("more header fields than the configured limit")]
    TooManyHeaders,
    /// No empty line ends the header section.
    #[error("no empty line after the headers")]
    UnterminatedHeaders,
    /// The start line and headers are not UTF-8.
    #[error("start line or headers are not UTF-8")]
    InvalidUtf8,
    /// The start line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line")]
    BadStartLine,
    /// The request method is not a token.
    #[error("request method is not a token")]
    BadMethod,
    /// The Request-URI is empty, holds whitespace or has no scheme.
    #[error("malformed Request-URI")]
    BadRequestUri,
    /// The SIP-Version is not `SIP/<digits>.<digits>`.
    #[error("malformed SIP version")]
    BadVersion,
    /// The status code is not three digits.
    #[error("status code is not three digits")]
    BadStatusCode,
    /// A header line starts with whitespace but no header precedes it.
    #[error("continuation line without a header before it")]
    OrphanContinuation,
    /// A header line has no colon.
    #[error("header line without a colon")]
    MissingColon,
    /// A header name is empty or not a token.
    #[error("header name is not a token")]
    BadHeaderName,
    /// Content-Length is not a non-negative decimal number.
    #[error("Content-Length is not a non-negative number")]
    BadContentLength,
    /// Content-Length is larger than the bytes that follow the headers.
    #[error("Content-Length larger than the body that follows")]
    ContentLengthExceedsBody,
}

/// What was wrong with a header value (see [`Error::Header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueProblem {
    /// The value is empty where something was required.
    #[error("empty value")]
    Empty,
    /// A quoted string has no closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// A `<` has no matching `>`.
    #[error("unterminated <...>")]
    UnterminatedAngle,
    /// An unquoted display name holds characters that are not token characters.
    #[error("unquoted display name is not a sequence of tokens")]
    BadDisplayName,
    /// A URI is malformed (no scheme, whitespace inside, empty host...).
    #[error("malformed URI")]
    BadUri,
    /// A URI with parameters or headers outside `<...>` (RFC 3261 section 20).
    #[error("URI with '?' headers must be enclosed in <...>")]
    UriNeedsAngleBrackets,
    /// A port is not a number from 0 to 65535.
    #[error("invalid port")]
    BadPort,
    /// A parameter has no name (as in `;;`).
    #[error("empty parameter")]
    EmptyParameter,
    /// Something follows the value that does not belong to it.
    #[error("unexpected character")]
    Unexpected,
    /// A number is missing, not decimal, or too large for its field.
    #[error("invalid or overlarge number")]
    BadNumber,
    /// A Via sent-protocol is not `name/version/transport`.
    #[error("malformed Via sent-protocol")]
    BadProtocol,
    /// An authentication scheme is missing or not a token.
    #[error("missing or malformed authentication scheme")]
    BadScheme,
}

/// A rule of [`crate::Message::validate`] that a message breaks (see [`Error::Invalid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidProblem {
    /// The version is not `SIP/2.0`.
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// The status code is outside 100..=699.
    #[error("status code outside 100..=699")]
    StatusOutOfRange,
    /// The Request-URI carries `?headers`.
    #[error("Request-URI carries headers")]
    RequestUriHeaders,
    /// The CSeq method differs from the request method.
    #[error("CSeq method differs from the request method")]
    CSeqMethodMismatch,
    /// A header that may appear once appears more than once.
    #[error("single-value header appears more than once")]
    DuplicateHeader,
    /// A Date header that is not in GMT.
    #[error("Date header not in GMT")]
    BadDate,
}

/// What was wrong in a pattern list (see [`Error::List`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListProblem {
    /// A `"` opens a phrase that is never closed.
    #[error("unterminated quoted phrase")]
    UnterminatedQuote,
    /// `""`: a quoted phrase with nothing inside.
    #[error("empty quoted phrase")]
    EmptyPhrase,
    /// A quote directly after a pattern, or a pattern directly after a closing quote.
    #[error("a quote must be separated from the next pattern by a space")]
    QuoteInsidePattern,
    /// A control character (other than tab) in a pattern.
    #[error("control character in a pattern")]
    ControlCharacter,
}

/// What was wrong with a matcher configuration (see [`Error::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// A pattern is empty: it would match every User-Agent.
    #[error("empty pattern (it would match everything)")]
    EmptyPattern,
    /// The automaton could not be built (too many or too long patterns).
    #[error("too many or too long patterns to compile")]
    TooLarge,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
