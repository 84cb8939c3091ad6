//! Sharing a compiled table between threads and replacing it atomically.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use pbxsec_core::UnixTime;

use crate::{Action, CompiledAcl, Protocol, Result};

/// Holds the current [`CompiledAcl`] and swaps in a new one atomically.
///
/// Readers (`check`, `check_port`, `with`) never block and never allocate:
/// a load is a few atomic operations ([`arc_swap`]), and a reader keeps the
/// table it loaded until it is done, even if a writer stores a new one
/// meanwhile. Writers compile the new table outside (it takes milliseconds
/// for 100 000 entries) and [`store`](Self::store) it.
#[derive(Debug)]
pub struct SharedAcl {
    current: ArcSwap<CompiledAcl>,
}

impl SharedAcl {
    /// Starts with `table`.
    pub fn new(table: CompiledAcl) -> Self {
        Self {
            current: ArcSwap::from_pointee(table),
        }
    }

    /// [`CompiledAcl::check`] on the current table.
    #[inline]
    pub fn check(&self, ip: IpAddr, now: UnixTime) -> Action {
        self.current.load().check(ip, now)
    }

    /// [`CompiledAcl::check_port`] on the current table.
    #[inline]
    pub fn check_port(&self, ip: IpAddr, protocol: Protocol, port: u16, now: UnixTime) -> Action {
        self.current.load().check_port(ip, protocol, port, now)
    }

    /// Runs `f` on the current table (several lookups on one snapshot).
    pub fn with<R>(&self, f: impl FnOnce(&CompiledAcl) -> R) -> R {
        f(&self.current.load())
    }

    /// The current table, kept alive as long as the `Arc` is.
    pub fn snapshot(&self) -> Arc<CompiledAcl> {
        self.current.load_full()
    }

    /// Replaces the table; readers see either the old or the new one.
    pub fn store(&self, table: CompiledAcl) {
        self.current.store(Arc::new(table));
    }

    /// Recompiles without the expired entries if an entry has expired by
    /// `now` (so lookups return to the fast path); returns whether it did.
    /// Call it from a housekeeping timer, e.g. once a second.
    pub fn refresh(&self, now: UnixTime) -> Result<bool> {
        let current = self.current.load();
        if now < current.fresh_until() {
            return Ok(false);
        }
        let next = current.recompile(now)?;
        self.store(next);
        Ok(true)
    }
}
