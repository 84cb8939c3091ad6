//! The crate's error type.

use crate::Network;

pub(crate) use pbxsec_core::excerpt;

/// Everything that can go wrong in this crate: parsing an entry, a port
/// range or a CSV import, and compiling a table.
///
/// Each variant names the offending input (cut to [`pbxsec_core::EXCERPT_CHARS`] characters) and, for
/// CSV, the 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is empty (or only whitespace).
    #[error("empty network: expected an address such as 192.168.5.0/24")]
    Empty,
    /// The address part is not an IPv4 or IPv6 address.
    #[error("{input:?}: not an IPv4 or IPv6 address")]
    InvalidAddress {
        /// The whole input.
        input: String,
    },
    /// The part after `/` is neither a prefix length nor a dotted mask.
    #[error("{input:?}: the part after '/' is neither a prefix length nor a dotted netmask")]
    InvalidMask {
        /// The whole input.
        input: String,
    },
    /// A dotted netmask whose one bits are not contiguous (`255.0.255.0`).
    #[error("{input:?}: netmask {mask} is not contiguous (ones must come before zeros)")]
    NonContiguousMask {
        /// The whole input.
        input: String,
        /// The mask as written.
        mask: String,
    },
    /// A prefix length over 32 (IPv4) or 128 (IPv6).
    #[error("{input:?}: prefix length {len} is over the maximum {max}")]
    PrefixTooLong {
        /// The whole input.
        input: String,
        /// The length as written (saturated at 255).
        len: u16,
        /// 32 or 128.
        max: u8,
    },
    /// Bits set in the address below the mask (`192.168.5.7/24`). This crate
    /// refuses rather than normalises; the error carries the network the
    /// operator probably meant.
    #[error("{input:?}: host bits are set under the mask; did you mean {network}?")]
    HostBitsSet {
        /// The whole input.
        input: String,
        /// The input with the host bits cleared.
        network: Network,
    },
    /// A port range that is not `N` or `N-M` with `N <= M <= 65535`.
    #[error("{input:?}: not a port or port range (expected 5060 or 10000-20000)")]
    InvalidPortRange {
        /// The whole input.
        input: String,
    },
    /// A CSV line without the four `;`-separated fields
    /// `Address;Netmask;status;comment`.
    #[error("line {line}: expected 'Address;Netmask;status;comment', found {fields} field(s)")]
    CsvFields {
        /// 1-based line number.
        line: usize,
        /// How many fields the line had.
        fields: usize,
    },
    /// A CSV status that is neither `enabled` nor `disabled`.
    #[error("line {line}: status {status:?} is neither 'enabled' nor 'disabled'")]
    CsvStatus {
        /// 1-based line number.
        line: usize,
        /// The status as written.
        status: String,
    },
    /// A CSV line whose address and netmask do not form a network.
    #[error("line {line}: {source}")]
    CsvNetwork {
        /// 1-based line number.
        line: usize,
        /// What is wrong with the network.
        source: Box<Self>,
    },
    /// More entries than a compiled table holds ([`crate::MAX_ENTRIES`]).
    #[error("{count} entries: a compiled table holds at most {max}")]
    TooManyEntries {
        /// The number of entries given.
        count: usize,
        /// The maximum.
        max: usize,
    },
}

/// The crate's `Result`, with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
