//! Recognising scanners: a compiled matcher over User-Agent patterns and
//! signature rules on other headers, the maintained default list, the list
//! syntaxes operators type, and per-extension allow-by-prefix.
//!
//! Matching uses one [`aho_corasick`] automaton over every pattern (one
//! more only when some patterns are case-sensitive), so a thousand patterns
//! cost one pass over each field's text. Lookups allocate nothing.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};

use crate::{ConfigProblem, Error, ListProblem, Message, Result};

/// How a pattern must sit in the text to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// Anywhere in the text (the default).
    #[default]
    Substring,
    /// At the start of the text.
    Prefix,
    /// The whole text.
    Exact,
}

/// Which part of a message a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    /// The User-Agent value (the default).
    #[default]
    UserAgent,
    /// The From display name, as written inside its quotes.
    FromDisplayName,
    /// The From URI host.
    FromHost,
    /// The whole From value as written (`"sipvicious"<sip:100@1.1.1.1>;tag=...`).
    FromRaw,
    /// The To display name, as written inside its quotes.
    ToDisplayName,
    /// The To URI host.
    ToHost,
    /// The whole To value as written.
    ToRaw,
}

impl Field {
    const ALL: [Self; 7] = [
        Self::UserAgent,
        Self::FromDisplayName,
        Self::FromHost,
        Self::FromRaw,
        Self::ToDisplayName,
        Self::ToHost,
        Self::ToRaw,
    ];
}

/// An entry of the maintained scanner list ([`DEFAULT_SCANNERS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownScanner {
    /// The text to look for (ASCII case-insensitive).
    pub pattern: &'static str,
    /// Where to look.
    pub field: Field,
    /// How it must match.
    pub mode: MatchMode,
    /// The tool it identifies.
    pub tool: &'static str,
    /// Where the string was seen.
    pub seen: &'static str,
    /// Off unless asked for by name (diagnostic tools with legitimate uses).
    pub optional: bool,
}

const fn ua(
    pattern: &'static str,
    mode: MatchMode,
    tool: &'static str,
    seen: &'static str,
) -> KnownScanner {
    KnownScanner {
        pattern,
        field: Field::UserAgent,
        mode,
        tool,
        seen,
        optional: false,
    }
}

/// The maintained list of scanner signatures, all ASCII case-insensitive.
///
/// It covers Kamailio's default `kamailio.cfg` drop rule
/// (`$ua =~ "friendly|scanner|sipcli|sipvicious|VaxSIPUserAgent|pplsip"`)
/// entry for entry, so anything Kamailio drops is caught here too. Entries
/// with `optional: true` are only used when named in
/// [`SignatureConfig::optional`].
pub const DEFAULT_SCANNERS: &[KnownScanner] = &[
    ua(
        "friendly-scanner",
        MatchMode::Substring,
        "SIPVicious svmap / svwar / svcrack",
        "default User-Agent in sipvicious/libs/svhelper.py; captured from sipvicious 0.3.8 (tests/fixtures/sipvicious)",
    ),
    ua(
        "friendly",
        MatchMode::Substring,
        "SIPVicious and forks",
        "Kamailio default kamailio.cfg drop rule",
    ),
    ua(
        "scanner",
        MatchMode::Substring,
        "any self-declared scanner",
        "Kamailio default kamailio.cfg drop rule",
    ),
    ua(
        "sipvicious",
        MatchMode::Substring,
        "SIPVicious (renamed builds)",
        "Kamailio default kamailio.cfg drop rule",
    ),
    ua(
        "sipcli",
        MatchMode::Substring,
        "sipcli (User-Agent `sipcli/v1.8`)",
        "Kamailio default kamailio.cfg drop rule; REGISTER floods in honeypot logs",
    ),
    ua(
        "VaxSIPUserAgent",
        MatchMode::Substring,
        "VaxVoIP SDK used by brute-forcers",
        "Kamailio default kamailio.cfg drop rule",
    ),
    ua(
        "pplsip",
        MatchMode::Substring,
        "SIPPTS by Pepelux (sippts)",
        "default User-Agent of sippts; Kamailio default kamailio.cfg drop rule",
    ),
    ua(
        "sip-scan",
        MatchMode::Substring,
        "sip-scan",
        "scanner User-Agent reported in honeypot and fail2ban lists",
    ),
    ua(
        "sipscan",
        MatchMode::Substring,
        "SIPScan",
        "scanner User-Agent reported in honeypot and fail2ban lists",
    ),
    ua(
        "sundayddr",
        MatchMode::Substring,
        "sundayddr scanner",
        "OPTIONS/REGISTER floods reported on PBX forums and honeypot lists",
    ),
    ua(
        "iWar",
        MatchMode::Substring,
        "iWar war dialer",
        "User-Agent of the iWar SIP war dialer",
    ),
    ua(
        "SIVuS",
        MatchMode::Substring,
        "SiVuS SIP vulnerability scanner",
        "User-Agent of SiVuS",
    ),
    ua(
        "smap",
        MatchMode::Prefix,
        "smap SIP scanner",
        "User-Agent of smap (prefix only: `smap` is a common substring)",
    ),
    ua(
        "siparmyknife",
        MatchMode::Substring,
        "SIP Army Knife fuzzer",
        "User-Agent of siparmyknife",
    ),
    KnownScanner {
        pattern: "sipsak",
        field: Field::UserAgent,
        mode: MatchMode::Prefix,
        tool: "sipsak (SIP Swiss army knife, a diagnostic tool)",
        seen: "User-Agent of sipsak; legitimate admins use it too, so opt-in",
        optional: true,
    },
    KnownScanner {
        pattern: "sipvicious",
        field: Field::FromDisplayName,
        mode: MatchMode::Exact,
        tool: "SIPVicious svmap, also with -c (compact headers, no User-Agent)",
        seen: "From: \"sipvicious\"<sip:100@1.1.1.1> captured from sipvicious 0.3.8",
        optional: false,
    },
    KnownScanner {
        pattern: "@1.1.1.1>",
        field: Field::FromRaw,
        mode: MatchMode::Substring,
        tool: "SIPVicious svmap",
        seen: "the `@1.1.1.1>` marker honeypot lists key on; captured from sipvicious 0.3.8",
        optional: false,
    },
    KnownScanner {
        pattern: "@1.1.1.1>",
        field: Field::ToRaw,
        mode: MatchMode::Substring,
        tool: "SIPVicious svmap",
        seen: "To: \"sipvicious\"<sip:100@1.1.1.1> captured from sipvicious 0.3.8",
        optional: false,
    },
];

/// The method list the optional "missing User-Agent" weak signal applies to.
pub const MISSING_UA_METHODS: [&str; 3] = ["REGISTER", "INVITE", "OPTIONS"];

/// One signature rule as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The name reported when the rule fires (defaults to the pattern).
    #[serde(default)]
    pub name: Option<String>,
    /// Where to look (default `user-agent`).
    #[serde(default)]
    pub field: Field,
    /// The text to look for; must not be empty.
    pub pattern: String,
    /// How it must match (default `substring`).
    #[serde(default)]
    pub mode: MatchMode,
    /// Match case exactly (default `false`: ASCII case-insensitive).
    #[serde(default)]
    pub case_sensitive: bool,
}

impl RuleConfig {
    /// A case-insensitive rule on the User-Agent.
    #[must_use]
    pub fn user_agent(pattern: impl Into<String>, mode: MatchMode) -> Self {
        Self {
            name: None,
            field: Field::UserAgent,
            pattern: pattern.into(),
            mode,
            case_sensitive: false,
        }
    }
}

/// Configuration of a [`Signatures`] matcher.
///
/// Defaults: the non-optional [`DEFAULT_SCANNERS`], no extra rules, the
/// missing-User-Agent signal off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignatureConfig {
    /// Use the non-optional entries of [`DEFAULT_SCANNERS`] (default `true`).
    pub include_defaults: bool,
    /// Optional entries of [`DEFAULT_SCANNERS`] to add, by pattern (e.g. `["sipsak"]`).
    pub optional: Vec<String>,
    /// Extra rules.
    pub rules: Vec<RuleConfig>,
    /// Report a request among [`MISSING_UA_METHODS`] without User-Agent as
    /// a weak signal (default `false`: many phones omit nothing, but some
    /// legitimate stacks do).
    pub flag_missing_user_agent: bool,
}

impl Default for SignatureConfig {
    fn default() -> Self {
        Self {
            include_defaults: true,
            optional: Vec::new(),
            rules: Vec::new(),
            flag_missing_user_agent: false,
        }
    }
}

/// How much a detection says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strength {
    /// A pattern matched: the sender announced itself.
    Strong,
    /// Only the weak "missing User-Agent" signal: count it, do not ban on it alone.
    Weak,
}

/// Which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection<'s> {
    /// Index of the rule in [`Signatures::rules`] (`None` for the missing-User-Agent signal).
    pub rule: Option<usize>,
    /// The rule's name.
    pub name: &'s str,
    /// The field that matched.
    pub field: Field,
    /// The pattern that matched (`""` for the missing-User-Agent signal).
    pub pattern: &'s str,
    /// How strong the signal is.
    pub strength: Strength,
}

/// A compiled rule, as [`Signatures::rules`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Reported name.
    pub name: String,
    /// Where it looks.
    pub field: Field,
    /// What it looks for.
    pub pattern: String,
    /// How it must match.
    pub mode: MatchMode,
    /// Whether case matters.
    pub case_sensitive: bool,
}

#[derive(Debug, Clone)]
struct Automaton {
    ac: AhoCorasick,
    /// Per automaton pattern: the rule it belongs to.
    rules: Vec<usize>,
}

/// A compiled set of User-Agent patterns and signature rules.
///
/// Build it once from a [`SignatureConfig`] (or a preset), share it, and
/// call [`Signatures::check`] per message or
/// [`Signatures::match_user_agent`] per User-Agent. Nothing allocates after
/// construction.
#[derive(Debug, Clone)]
pub struct Signatures {
    rules: Vec<Rule>,
    insensitive: Option<Automaton>,
    sensitive: Option<Automaton>,
    fields: [bool; 7],
    flag_missing_user_agent: bool,
}

const MISSING_UA: &str = "missing-user-agent";

impl Signatures {
    /// The default preset: every non-optional entry of [`DEFAULT_SCANNERS`],
    /// missing-User-Agent signal off.
    #[must_use]
    pub fn default_scanners() -> Self {
        Self::try_from(SignatureConfig::default()).unwrap_or_else(|_| Self::empty())
    }

    /// Kamailio's default `kamailio.cfg` rule, as it is: a User-Agent
    /// containing `friendly`, `scanner`, `sipcli`, `sipvicious`,
    /// `VaxSIPUserAgent` or `pplsip` (matched ASCII case-insensitively here).
    #[must_use]
    pub fn kamailio() -> Self {
        let rules = [
            "friendly",
            "scanner",
            "sipcli",
            "sipvicious",
            "VaxSIPUserAgent",
            "pplsip",
        ]
        .into_iter()
        .map(|p| RuleConfig::user_agent(p, MatchMode::Substring))
        .collect();
        let config = SignatureConfig {
            include_defaults: false,
            rules,
            ..SignatureConfig::default()
        };
        Self::try_from(config).unwrap_or_else(|_| Self::empty())
    }

    /// Case-insensitive substring patterns on the User-Agent only, as an
    /// operator's list gives them (see [`parse_vodia_list`], [`parse_line_list`]).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty pattern or an automaton too large to build.
    pub fn from_user_agents<'p>(
        patterns: impl IntoIterator<Item = &'p str>,
        mode: MatchMode,
    ) -> Result<Self> {
        let rules = patterns
            .into_iter()
            .map(|p| RuleConfig::user_agent(p, mode))
            .collect();
        Self::try_from(SignatureConfig {
            include_defaults: false,
            rules,
            ..SignatureConfig::default()
        })
    }

    fn empty() -> Self {
        Self {
            rules: Vec::new(),
            insensitive: None,
            sensitive: None,
            fields: [false; 7],
            flag_missing_user_agent: false,
        }
    }

    /// The compiled rules, in the order [`Detection::rule`] indexes.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that matches this User-Agent (rules on other fields are
    /// ignored). When several match, the one listed first wins (the
    /// defaults come before configured rules, in [`DEFAULT_SCANNERS`] order).
    #[must_use]
    pub fn match_user_agent(&self, user_agent: &str) -> Option<Detection<'_>> {
        self.find(Field::UserAgent, user_agent)
    }

    /// The first rule that matches `text` as the given field.
    #[must_use]
    pub fn match_field(&self, field: Field, text: &str) -> Option<Detection<'_>> {
        self.find(field, text)
    }

    /// Checks a message: User-Agent first, then From and To (display name,
    /// host, raw value); a strong match wins over the weak missing-User-Agent
    /// signal, which fires only when configured, for a request among
    /// [`MISSING_UA_METHODS`].
    #[must_use]
    pub fn check(&self, msg: &Message<'_>) -> Option<Detection<'_>> {
        let ua = msg.user_agent();
        if let Some(ua) = ua {
            if let Some(d) = self.find(Field::UserAgent, ua) {
                return Some(d);
            }
        }
        let wants = |f: Field| self.fields.get(f as usize).copied().unwrap_or(false);
        for (header, display, host, raw) in [
            (
                crate::HeaderName::From,
                Field::FromDisplayName,
                Field::FromHost,
                Field::FromRaw,
            ),
            (
                crate::HeaderName::To,
                Field::ToDisplayName,
                Field::ToHost,
                Field::ToRaw,
            ),
        ] {
            if !(wants(display) || wants(host) || wants(raw)) {
                continue;
            }
            let Some(h) = msg.get(header) else { continue };
            if let Ok(na) = crate::NameAddr::parse_at(h.value, h.value_offset, header) {
                if let Some(dn) = na.display_name {
                    if let Some(d) = self.find(display, dn.raw()) {
                        return Some(d);
                    }
                }
                if let Some(d) = self.find(host, na.host()) {
                    return Some(d);
                }
            }
            if let Some(d) = self.find(raw, h.value) {
                return Some(d);
            }
        }
        if self.flag_missing_user_agent
            && ua.is_none()
            && msg
                .method()
                .is_some_and(|m| MISSING_UA_METHODS.contains(&m))
        {
            return Some(Detection {
                rule: None,
                name: MISSING_UA,
                field: Field::UserAgent,
                pattern: "",
                strength: Strength::Weak,
            });
        }
        None
    }

    fn find(&self, field: Field, text: &str) -> Option<Detection<'_>> {
        if !self.fields.get(field as usize).copied().unwrap_or(false) {
            return None;
        }
        let mut best: Option<usize> = None;
        for automaton in [&self.insensitive, &self.sensitive].into_iter().flatten() {
            for m in automaton.ac.find_overlapping_iter(text) {
                let Some(&index) = automaton.rules.get(m.pattern().as_usize()) else {
                    continue;
                };
                if best.is_some_and(|b| b <= index) {
                    continue;
                }
                let Some(rule) = self.rules.get(index) else {
                    continue;
                };
                let hit = rule.field == field
                    && match rule.mode {
                        MatchMode::Substring => true,
                        MatchMode::Prefix => m.start() == 0,
                        MatchMode::Exact => m.start() == 0 && m.end() == text.len(),
                    };
                if hit {
                    best = Some(index);
                }
            }
        }
        let index = best?;
        let rule = self.rules.get(index)?;
        Some(Detection {
            rule: Some(index),
            name: &rule.name,
            field,
            pattern: &rule.pattern,
            strength: Strength::Strong,
        })
    }
}

fn compile(rules: &[Rule], case_sensitive: bool) -> Result<Option<Automaton>> {
    let (patterns, indexes): (Vec<&str>, Vec<usize>) = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.case_sensitive == case_sensitive)
        .map(|(i, r)| (r.pattern.as_str(), i))
        .unzip();
    if patterns.is_empty() {
        return Ok(None);
    }
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(!case_sensitive)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .or_else(|_| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(!case_sensitive)
                .match_kind(MatchKind::Standard)
                .build(&patterns)
        })
        .map_err(|_| Error::Config {
            problem: ConfigProblem::TooLarge,
        })?;
    Ok(Some(Automaton { ac, rules: indexes }))
}

impl TryFrom<SignatureConfig> for Signatures {
    type Error = Error;

    fn try_from(config: SignatureConfig) -> Result<Self> {
        let mut rules = Vec::new();
        for k in DEFAULT_SCANNERS {
            let wanted = if k.optional {
                config
                    .optional
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(k.pattern))
            } else {
                config.include_defaults
            };
            if wanted {
                rules.push(Rule {
                    name: k.pattern.to_owned(),
                    field: k.field,
                    pattern: k.pattern.to_owned(),
                    mode: k.mode,
                    case_sensitive: false,
                });
            }
        }
        for r in config.rules {
            if r.pattern.is_empty() {
                return Err(Error::Config {
                    problem: ConfigProblem::EmptyPattern,
                });
            }
            rules.push(Rule {
                name: r.name.unwrap_or_else(|| r.pattern.clone()),
                field: r.field,
                pattern: r.pattern,
                mode: r.mode,
                case_sensitive: r.case_sensitive,
            });
        }
        let mut fields = [false; 7];
        for f in Field::ALL {
            if let Some(slot) = fields.get_mut(f as usize) {
                *slot = rules.iter().any(|r| r.field == f);
            }
        }
        Ok(Self {
            insensitive: compile(&rules, false)?,
            sensitive: compile(&rules, true)?,
            rules,
            fields,
            flag_missing_user_agent: config.flag_missing_user_agent,
        })
    }
}

fn list_err(text: &str, byte: usize, problem: ListProblem) -> Error {
    let before = text.get(..byte).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Error::List {
        line,
        column,
        problem,
    }
}

/// Reads Vodia's User-Agent list syntax: patterns separated by whitespace,
/// a `"quoted phrase"` being one pattern (so `"SIP Call"` is one). There
/// is no escape: a phrase cannot hold `"`.
///
/// # Errors
/// [`Error::List`] with the line and column of an unterminated or empty
/// phrase, a quote glued to a pattern, or a control character.
pub fn parse_vodia_list(text: &str) -> Result<Vec<&str>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let close = text
                    .get(i + 1..)
                    .and_then(|r| r.find('"'))
                    .map(|j| i + 1 + j);
                let Some(close) = close else {
                    return Err(list_err(text, i, ListProblem::UnterminatedQuote));
                };
                let phrase = text.get(i + 1..close).unwrap_or_default();
                if let Some(j) = phrase
                    .bytes()
                    .position(|c| c.is_ascii_control() && c != b'\t')
                {
                    return Err(list_err(text, i + 1 + j, ListProblem::ControlCharacter));
                }
                if phrase.is_empty() {
                    return Err(list_err(text, i, ListProblem::EmptyPhrase));
                }
                if b.get(close + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                    return Err(list_err(text, close + 1, ListProblem::QuoteInsidePattern));
                }
                out.push(phrase);
                i = close + 1;
            }
            _ => {
                let start = i;
                while let Some(&c) = b.get(i) {
                    if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    if c == b'"' {
                        return Err(list_err(text, i, ListProblem::QuoteInsidePattern));
                    }
                    if c.is_ascii_control() {
                        return Err(list_err(text, i, ListProblem::ControlCharacter));
                    }
                    i += 1;
                }
                out.push(text.get(start..i).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

/// Writes patterns in Vodia's syntax, quoting those that hold a space or
/// tab, so that [`parse_vodia_list`] reads them back. `None` when a pattern
/// cannot be written: empty, or holding `"` or a control character other
/// than tab.
#[must_use]
pub fn write_vodia_list<S: AsRef<str>>(patterns: &[S]) -> Option<String> {
    let mut out = String::new();
    for p in patterns {
        let p = p.as_ref();
        if p.is_empty() || p.contains('"') || p.bytes().any(|c| c.is_ascii_control() && c != b'\t')
        {
            return None;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if p.contains([' ', '\t']) {
            out.push('"');
            out.push_str(p);
            out.push('"');
        } else {
            out.push_str(p);
        }
    }
    Some(out)
}

/// Reads a list with one pattern per line: surrounding whitespace trimmed,
/// empty lines and lines starting with `#` skipped, CRLF or LF line ends.
///
/// # Errors
/// [`Error::List`] with the line and column of a control character.
pub fn parse_line_list(text: &str) -> Result<Vec<&str>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(j) = line
            .bytes()
            .position(|c| c.is_ascii_control() && c != b'\t')
        {
            return Err(list_err(text, offset + j, ListProblem::ControlCharacter));
        }
        let p = line.trim_matches([' ', '\t']);
        if !p.is_empty() && !p.starts_with('#') {
            out.push(p);
        }
        offset += raw.len() + 1;
    }
    Ok(out)
}

/// Writes patterns one per line for [`parse_line_list`]; `None` when a
/// pattern cannot be read back (empty, starting with `#`, surrounded by
/// whitespace, or holding a control character).
#[must_use]
pub fn write_line_list<S: AsRef<str>>(patterns: &[S]) -> Option<String> {
    let mut out = String::new();
    for p in patterns {
        let p = p.as_ref();
        if p.is_empty()
            || p.starts_with('#')
            || p.trim_matches([' ', '\t']) != p
            || p.bytes().any(|c| c.is_ascii_control() && c != b'\t')
        {
            return None;
        }
        out.push_str(p);
        out.push('\n');
    }
    Some(out)
}

/// One extension's allow-by-prefix rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionUaRule {
    /// The extension (URI user part) the rule restricts.
    pub extension: String,
    /// User-Agent prefixes that may register it (any one suffices).
    pub allow_prefixes: Vec<String>,
}

/// Per-extension allow-by-prefix configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtensionUaConfig {
    /// The rules; extensions without one are not restricted.
    pub rules: Vec<ExtensionUaRule>,
    /// Compare prefixes case-sensitively (default `false`).
    pub case_sensitive: bool,
}

/// What [`ExtensionUaPolicy::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UaPolicy {
    /// The extension has no rule.
    Unrestricted,
    /// The User-Agent starts with an allowed prefix.
    Allowed,
    /// The extension is restricted and the User-Agent (or its absence) is not allowed.
    Denied,
}

/// Per-extension allow-by-prefix, as Yeastar P-Series offers it ("User
/// Agent" restriction on an extension: only phones whose User-Agent starts
/// with, say, `Yealink` may register extension 1000).
#[derive(Debug, Clone, Default)]
pub struct ExtensionUaPolicy {
    rules: HashMap<String, Vec<String>>,
    case_sensitive: bool,
}

impl ExtensionUaPolicy {
    /// Decides whether `user_agent` may register `extension`. Allocates nothing.
    #[must_use]
    pub fn check(&self, extension: &str, user_agent: Option<&str>) -> UaPolicy {
        let Some(prefixes) = self.rules.get(extension) else {
            return UaPolicy::Unrestricted;
        };
        let Some(ua) = user_agent else {
            return UaPolicy::Denied;
        };
        let ok = prefixes.iter().any(|p| {
            ua.as_bytes().get(..p.len()).is_some_and(|head| {
                if self.case_sensitive {
                    head == p.as_bytes()
                } else {
                    head.eq_ignore_ascii_case(p.as_bytes())
                }
            })
        });
        if ok {
            UaPolicy::Allowed
        } else {
            UaPolicy::Denied
        }
    }
}

impl TryFrom<ExtensionUaConfig> for ExtensionUaPolicy {
    type Error = Error;

    fn try_from(config: ExtensionUaConfig) -> Result<Self> {
        let mut rules: HashMap<String, Vec<String>> = HashMap::new();
        for r in config.rules {
            if r.allow_prefixes.iter().any(String::is_empty) {
                return Err(Error::Config {
                    problem: ConfigProblem::EmptyPattern,
                });
            }
            rules
                .entry(r.extension)
                .or_default()
                .extend(r.allow_prefixes);
        }
        Ok(Self {
            rules,
            case_sensitive: config.case_sensitive,
        })
    }
}
