//! The ACL as configuration: entries plus the two defaults, and presets.

use std::collections::HashMap;

use pbxsec_core::UnixTime;

use crate::{Action, CompiledAcl, Entry, EntryKey, Network, Result};

/// An access-control list as configuration: the entries, what no match
/// means, and what an empty list means.
///
/// This is data (serde, `deny_unknown_fields`); [`Acl::compile`] turns it
/// into the [`CompiledAcl`] that answers lookups. The entries keep the order
/// they were written in, which only matters to [`Acl::lint`]: the decision
/// is always the most specific entry's, wherever it is in the list.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `entries` | none | the entries |
/// | `no_match` | `allow` | the answer when no entry matches (Vodia: accept; MyPBX "Drop All": block) |
/// | `when_empty` | `allow` | the answer when the list has no live entry (Vodia: access control off; Yeastar AMI permitted IPs: deny everyone) |
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    /// The entries, in the order written.
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// The answer when no live entry matches a source.
    #[serde(default = "allow")]
    pub no_match: Action,
    /// The answer for every source when the list has no live entry.
    #[serde(default = "allow")]
    pub when_empty: Action,
}

const fn allow() -> Action {
    Action::Allow
}

impl Default for Acl {
    /// [`Acl::vodia`]: empty, no match allows, empty means off.
    fn default() -> Self {
        Self::vodia()
    }
}

/// The private (RFC 1918) and link-local IPv4 networks Yeastar calls the
/// local network.
const LOCAL_V4: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
];

impl Acl {
    /// An empty list with Vodia's defaults: no match → Allow, and an empty
    /// list means access control is off (Allow): Vodia's access list
    /// accepts every source that no entry blocks.
    pub const fn vodia() -> Self {
        Self {
            entries: Vec::new(),
            no_match: Action::Allow,
            when_empty: Action::Allow,
        }
    }

    /// An empty permitted-IP list as Yeastar S-Series' AMI and MyPBX API
    /// use it: only listed sources may connect, so no match → Block and an
    /// empty list → Block (nobody gets in until a source is added).
    pub const fn permit_list() -> Self {
        Self {
            entries: Vec::new(),
            no_match: Action::Block,
            when_empty: Action::Block,
        }
    }

    /// An empty MyPBX firewall with "Drop All" enabled: everything no rule
    /// accepts is dropped, and with no rules everything is dropped (MyPBX
    /// warns to add your own address first).
    pub const fn mypbx_drop_all() -> Self {
        Self::permit_list()
    }

    /// Everyone allowed: `0.0.0.0/0` and `::/0` as Allow entries and
    /// no match → Allow. Unlike an empty [`Acl::vodia`] list, adding a Block
    /// entry keeps everyone else allowed even under a `no_match = block`
    /// default (set `no_match` after calling this to see that).
    pub fn allow_all() -> Self {
        let mut acl = Self::vodia();
        for n in ["0.0.0.0/0", "::/0"] {
            acl.push_preset(n, Action::Allow, "allow all");
        }
        acl
    }

    /// Local network only, as Yeastar S-Series' web access control ships:
    /// Allow 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 and 169.254.0.0/16,
    /// plus loopback (127.0.0.0/8, ::1), IPv6 unique-local (fc00::/7) and
    /// link-local (fe80::/10); everything else Block (no match and empty).
    pub fn local_network_only() -> Self {
        let mut acl = Self::permit_list();
        for n in LOCAL_V4 {
            acl.push_preset(n, Action::Allow, "local network");
        }
        acl.push_preset("127.0.0.0/8", Action::Allow, "loopback");
        acl.push_preset("::1/128", Action::Allow, "loopback");
        acl.push_preset("fc00::/7", Action::Allow, "unique local");
        acl.push_preset("fe80::/10", Action::Allow, "link local");
        acl
    }

    /// Yeastar P-Series' default static defense rules: the PBX always
    /// accepts the local network, 10.0.0.0/255.0.0.0, 172.16.0.0/255.240.0.0,
    /// 192.168.0.0/255.255.0.0 and 169.254.0.0/255.255.0.0 (rules that
    /// cannot be edited or deleted), and accepts what no rule drops
    /// (Yeastar P-Series Administrator Guide, "Security Overview",
    /// help.yeastar.com/en/p-series-appliance-edition/administrator-guide/security-overview.html).
    ///
    /// Not reproduced: the same defaults also accept Yeastar's own domains
    /// (update.yeastar.com, tunnel.yeastar.com, …) and the addresses of
    /// auto-provisioned phones; those are names and run-time addresses, not
    /// networks, so a PBX adds them as host entries once resolved.
    pub fn yeastar_p_series_defaults() -> Self {
        let mut acl = Self::vodia();
        for n in LOCAL_V4 {
            acl.push_preset(n, Action::Allow, "local network (default rule)");
        }
        acl
    }

    fn push_preset(&mut self, network: &str, action: Action, comment: &str) {
        // Preset networks are constants written above; a failed parse is
        // impossible, and skipping is the no-panic fallback.
        if let Ok(n) = network.parse::<Network>() {
            self.entries
                .push(Entry::new(n, action).with_comment(comment));
        }
    }

    /// Adds `entry`, or overwrites the entry with the same
    /// [`key`](Entry::key) (network, protocol, ports) in place; returns the
    /// entry it replaced. Never deletes anything else. O(n): for bulk
    /// changes use [`Acl::extend_overwriting`].
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let key = entry.key();
        match self.entries.iter_mut().find(|e| e.key() == key) {
            Some(slot) => Some(std::mem::replace(slot, entry)),
            None => {
                self.entries.push(entry);
                None
            }
        }
    }

    /// [`insert`](Self::insert) for many entries in O(n + m): each entry
    /// adds or overwrites, a later one overwriting an earlier one.
    pub fn extend_overwriting(&mut self, entries: impl IntoIterator<Item = Entry>) {
        let mut index: HashMap<EntryKey, usize> = HashMap::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            index.entry(e.key()).or_insert(i);
        }
        for entry in entries {
            let key = entry.key();
            match index.get(&key).and_then(|&i| self.entries.get_mut(i)) {
                Some(slot) => *slot = entry,
                None => {
                    index.insert(key, self.entries.len());
                    self.entries.push(entry);
                }
            }
        }
    }

    /// Removes every entry for exactly `network` (all protocols and ports);
    /// returns how many.
    pub fn remove_network(&mut self, network: &Network) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.network != *network);
        before - self.entries.len()
    }

    /// Removes the entries expired at `now`; returns how many.
    pub fn remove_expired(&mut self, now: UnixTime) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.is_live(now));
        before - self.entries.len()
    }

    /// Compiles the list for lookups at `now` ([`CompiledAcl::new`]).
    pub fn compile(&self, now: UnixTime) -> Result<CompiledAcl> {
        CompiledAcl::new(self, now)
    }
}
