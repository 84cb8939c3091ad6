//! Vodia's CSV import and export: `Address;Netmask;status;comment`.

use std::fmt::Write as _;

use crate::{Acl, Action, Entry, Error, Network, Result};

/// The header line [`Acl::to_csv`] writes and [`Acl::import_csv`] skips.
pub const CSV_HEADER: &str = "Address;Netmask;status;comment";

impl Acl {
    /// Imports Vodia CSV lines `Address;Netmask;status;comment`: the netmask
    /// is a prefix length (a dotted IPv4 mask is accepted too), the status
    /// `enabled` (Allow) or `disabled` (Block), case-insensitive, and the
    /// comment is the rest of the line (it may contain `;`). Blank lines and
    /// a [`CSV_HEADER`] line are skipped; fields other than the comment are
    /// trimmed; a carriage return in a comment becomes a space.
    ///
    /// Each line adds an unrestricted, permanent entry or overwrites the
    /// entry with the same network (add-or-overwrite, never delete; a later
    /// line overwrites an earlier one). All or nothing: the first bad line
    /// is an error naming its 1-based line number and the list is left
    /// unchanged. Returns how many lines were imported. O(n + m).
    ///
    /// ```
    /// use pbxsec_acl::{Acl, Action};
    ///
    /// let mut acl = Acl::vodia();
    /// acl.import_csv("41.202.0.0;16;disabled;Nigeria range\n103.224.182.210;32;enabled;ITSP\n")?;
    /// assert_eq!(acl.entries.len(), 2);
    /// assert_eq!(acl.entries[0].action, Action::Block);
    /// let err = acl.import_csv("10.0.0.0;8;enabled;ok\n10.0.0.7;8;enabled;bad\n").unwrap_err();
    /// assert!(err.to_string().starts_with("line 2:"));
    /// assert_eq!(acl.entries.len(), 2); // nothing half-imported
    /// # Ok::<(), pbxsec_acl::Error>(())
    /// ```
    pub fn import_csv(&mut self, text: &str) -> Result<usize> {
        let parsed = parse_csv(text)?;
        let n = parsed.len();
        self.extend_overwriting(parsed);
        Ok(n)
    }

    /// A new Vodia-default list ([`Acl::vodia`]) holding the CSV's entries.
    pub fn from_csv(text: &str) -> Result<Self> {
        let mut acl = Self::vodia();
        acl.import_csv(text)?;
        Ok(acl)
    }

    /// Exports the entries Vodia's format can express, after a
    /// [`CSV_HEADER`] line, one per line, netmask as a prefix length.
    ///
    /// Left out, because the four columns cannot say them: entries with an
    /// expiry (re-importing would make them permanent) and entries
    /// restricted to a protocol or port range. Use serde for a lossless
    /// copy. Line breaks in comments are written as spaces.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(32 * (self.entries.len() + 1));
        out.push_str(CSV_HEADER);
        out.push('\n');
        for e in self
            .entries
            .iter()
            .filter(|e| e.expires.is_none() && e.is_unrestricted())
        {
            let status = match e.action {
                Action::Allow => "enabled",
                Action::Block => "disabled",
            };
            let comment = e.comment.replace(['\r', '\n'], " ");
            let _ = writeln!(
                out,
                "{};{};{};{}",
                e.network.addr(),
                e.network.prefix_len(),
                status,
                comment
            );
        }
        out
    }
}

fn parse_csv(text: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() || line.trim().eq_ignore_ascii_case(CSV_HEADER) {
            continue;
        }
        let mut fields = line.splitn(4, ';');
        let (Some(addr), Some(mask), Some(status), Some(comment)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(Error::CsvFields {
                line: line_no,
                fields: line.split(';').count(),
            });
        };
        let network: Network = format!("{}/{}", addr.trim(), mask.trim())
            .parse()
            .map_err(|e| Error::CsvNetwork {
                line: line_no,
                source: Box::new(e),
            })?;
        let action = match status.trim().to_ascii_lowercase().as_str() {
            "enabled" => Action::Allow,
            "disabled" => Action::Block,
            _ => {
                return Err(Error::CsvStatus {
                    line: line_no,
                    status: crate::error::excerpt(status),
                });
            }
        };
        out.push(Entry::new(network, action).with_comment(comment.replace('\r', " ")));
    }
    Ok(out)
}
