//! Country and region calling codes: allow and deny lists, most specific wins.
//!
//! A rule names an E.164 country calling code, optionally followed by more
//! digits that narrow it to a region or an area (`"1"`, `"1-242"` for the
//! Bahamas inside North America's `+1`, `"44"`, `"882"`), or an ISO 3166
//! region id (`"BS"`, `"DE"`). The longest rule that is a prefix of the number
//! (after the international prefix) decides; a number no rule covers gets the
//! `unlisted` action.
//!
//! # Where the numbering-plan data comes from
//!
//! Rules are checked at load time against the [`phonenumber`] crate's copy of
//! Google's libphonenumber metadata (`PhoneNumberMetadata.xml`, the version is
//! the `+9.0.x` suffix of the crate's version): the first one to three digits
//! of a rule must be a country calling code that exists, and a region id is
//! turned into its calling code, plus its leading digits where the metadata
//! gives a plain prefix (`"BS"` becomes `1242`). A region that shares its code
//! with others and has no plain prefix (Canada inside `+1`) is refused with a
//! message asking for the digits. That database is used only when a policy is
//! compiled; a decision walks a small digit trie and never touches it.

use crate::error::Error;

/// The action of a country rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Allow,
    Deny,
}

#[derive(Clone, Debug, Default)]
struct Node {
    children: [u32; 10],
    action: Option<Action>,
}

/// Compiled country rules: a trie over the digits after the international
/// prefix.
#[derive(Clone, Debug)]
pub(crate) struct CountryRules {
    nodes: Vec<Node>,
    unlisted: Action,
}

/// The outcome of a country lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CountryDecision {
    /// Whether the call may go there.
    pub(crate) allowed: bool,
    /// How many digits the deciding rule has (0 when no rule matched).
    pub(crate) rule_len: usize,
}

impl CountryRules {
    /// Compiles the rules. `field` names the config section for errors.
    pub(crate) fn new(
        allow: &[String],
        deny: &[String],
        unlisted_allowed: bool,
        field: &str,
    ) -> Result<Self, Error> {
        let mut rules = Self {
            nodes: vec![Node::default()],
            unlisted: if unlisted_allowed {
                Action::Allow
            } else {
                Action::Deny
            },
        };
        for (list, name, action) in [
            (allow, "allow", Action::Allow),
            (deny, "deny", Action::Deny),
        ] {
            for (i, rule) in list.iter().enumerate() {
                let field = format!("{field}.{name}[{i}]");
                for prefix in resolve(rule).map_err(|p| Error::config(&field, p))? {
                    rules.insert(&prefix, action, &field)?;
                }
            }
        }
        Ok(rules)
    }

    fn insert(&mut self, digits: &[u8], action: Action, field: &str) -> Result<(), Error> {
        let mut node = 0usize;
        for &d in digits {
            let next = self
                .nodes
                .get(node)
                .and_then(|n| n.children.get(usize::from(d)))
                .copied()
                .unwrap_or(0);
            node = if next == 0 {
                let id = self.nodes.len();
                self.nodes.push(Node::default());
                let id32 = u32::try_from(id).map_err(|_| Error::config(field, "too many rules"))?;
                if let Some(slot) = self
                    .nodes
                    .get_mut(node)
                    .and_then(|n| n.children.get_mut(usize::from(d)))
                {
                    *slot = id32;
                }
                id
            } else {
                next as usize
            };
        }
        if let Some(n) = self.nodes.get_mut(node) {
            match n.action {
                Some(existing) if existing != action => {
                    return Err(Error::config(
                        field,
                        "the same code is both allowed and denied",
                    ));
                }
                _ => n.action = Some(action),
            }
        }
        Ok(())
    }

    /// Decides for `digits` (symbols `0`-`9`; anything else ends the walk):
    /// the longest rule that is a prefix wins.
    pub(crate) fn decide(&self, digits: &[u8]) -> CountryDecision {
        let mut best = (self.unlisted, 0usize);
        let mut node = 0usize;
        let mut depth = 0usize;
        while let Some(n) = self.nodes.get(node) {
            if let Some(action) = n.action {
                best = (action, depth);
            }
            let Some(&d) = digits.get(depth) else { break };
            let next = n.children.get(usize::from(d)).copied().unwrap_or(0);
            if next == 0 {
                break;
            }
            node = next as usize;
            depth += 1;
        }
        CountryDecision {
            allowed: best.0 == Action::Allow,
            rule_len: best.1,
        }
    }
}

/// Turns one rule as written into the digit prefixes it stands for.
fn resolve(rule: &str) -> Result<Vec<Vec<u8>>, String> {
    let trimmed = rule.trim().trim_start_matches('+');
    if trimmed.is_empty() {
        return Err("an empty country code".to_owned());
    }
    if trimmed.bytes().all(|b| b.is_ascii_alphabetic()) {
        return resolve_region(trimmed).map(|p| vec![p]);
    }
    let mut digits = Vec::new();
    for (i, b) in trimmed.bytes().enumerate() {
        match b {
            b'0'..=b'9' => digits.push(b - b'0'),
            b'-' | b' ' => {}
            _ => {
                return Err(format!(
                    "{:?}: unexpected character at byte {i}; write a calling code such as \"44\" or \"1-242\", or a region id such as \"BS\"",
                    crate::error::excerpt(rule)
                ));
            }
        }
    }
    if digits.len() > 15 {
        return Err("a code longer than an E.164 number (15 digits)".to_owned());
    }
    if country_code_len(&digits).is_none() {
        return Err(format!(
            "{:?} does not start with a country calling code in the libphonenumber metadata",
            crate::error::excerpt(rule)
        ));
    }
    Ok(vec![digits])
}

/// The length (1 to 3) of the country calling code `digits` starts with,
/// according to the libphonenumber metadata.
pub(crate) fn country_code_len(digits: &[u8]) -> Option<usize> {
    let mut code = 0u16;
    for (i, &d) in digits.iter().take(3).enumerate() {
        code = code * 10 + u16::from(d);
        if code != 0 && phonenumber::metadata::DATABASE.by_code(&code).is_some() {
            return Some(i + 1);
        }
    }
    None
}

fn resolve_region(id: &str) -> Result<Vec<u8>, String> {
    let upper = id.to_ascii_uppercase();
    let meta = phonenumber::metadata::DATABASE
        .by_id(upper.as_str())
        .ok_or_else(|| format!("{upper:?} is not a region in the libphonenumber metadata"))?;
    let code = meta.country_code();
    let mut digits: Vec<u8> = code
        .to_string()
        .bytes()
        .map(|b| b.wrapping_sub(b'0'))
        .collect();
    let shared = phonenumber::metadata::DATABASE
        .region(&code)
        .is_some_and(|r| r.len() > 1);
    let leading = meta.leading_digits().map(|r| r.as_str().to_owned());
    match leading {
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
            digits.extend(l.bytes().map(|b| b - b'0'));
        }
        _ if !shared || meta.is_main_country_for_code() => {}
        _ => {
            return Err(format!(
                "{upper} shares calling code +{code} with other regions and has no single prefix; write its digits instead (e.g. \"{code}-...\")"
            ));
        }
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn yeastar_bahamas_inside_north_america() {
        let rules = CountryRules::new(
            &["1".to_owned(), "44".to_owned()],
            &["1-242".to_owned()],
            false,
            "countries",
        )
        .unwrap();
        assert!(!rules.decide(&digits("12425551234")).allowed);
        assert!(rules.decide(&digits("12125551234")).allowed);
        assert!(rules.decide(&digits("442079460000")).allowed);
        assert!(!rules.decide(&digits("4930123456")).allowed);
    }

    #[test]
    fn region_ids_come_from_libphonenumber() {
        assert_eq!(resolve("BS").unwrap(), vec![digits("1242")]);
        assert_eq!(resolve("de").unwrap(), vec![digits("49")]);
        assert_eq!(resolve("US").unwrap(), vec![digits("1")]);
        assert!(
            resolve("CA")
                .unwrap_err()
                .contains("shares calling code +1")
        );
        assert!(resolve("QQ").is_err());
        // 28 is not a country calling code; 882 (international networks) is.
        assert!(resolve("28").is_err());
        assert_eq!(resolve("+882 16").unwrap(), vec![digits("88216")]);
    }

    #[test]
    fn conflicting_rules_are_an_error() {
        let err =
            CountryRules::new(&["44".to_owned()], &["4-4".to_owned()], false, "c").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.deny[0]: the same code is both allowed and denied"
        );
    }
}
