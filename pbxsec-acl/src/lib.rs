#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acl;
mod csv;
mod entry;
mod error;
mod holder;
mod lint;
mod network;
mod poptrie;
mod table;

pub use acl::Acl;
pub use csv::CSV_HEADER;
pub use entry::{Action, Entry, EntryKey, PortRange, Protocol};
pub use error::{Error, Result};
pub use holder::SharedAcl;
pub use lint::{Finding, MAX_FINDINGS};
pub use network::Network;
pub use table::{CompiledAcl, MAX_ENTRIES};
