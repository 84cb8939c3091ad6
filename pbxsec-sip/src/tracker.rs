//! The auth-failure tracker: turns what the SIP front door saw and did into
//! counted security events, bans per source and lockouts per extension.
//!
//! See [`Tracker`] for how to drive it and the crate README for the rules,
//! the NAT treatment and the memory bound.

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::{
    Clock, EventKind, Instant, Reject, RejectReason, SecurityEvent, Service, Transport, UnixTime,
    canonical_ip,
};
use pbxsec_ratelimit::{
    BATCH, BanAction, BanConfig, BanList, BanOutcome, BoundedMap, Escalation, Found, Lines,
    Recidive, SlotValue, Started, ThresholdConfig, Whitelist, WindowCounter, WindowLimit,
};

use crate::digest::DigestOutcome;

/// Errors from building a [`Tracker`]: which rule is wrong and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// A field of [`TrackerConfig`] has a value that cannot work.
    #[error("tracker configuration: field `{field}`: {problem}")]
    Config {
        /// The field (e.g. `failed_auth.limit`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// `Result` with [`TrackerError`].
pub type TrackerResult<T> = Result<T, TrackerError>;

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The default number of sources (and of (source, extension) pairs) each
/// counter tracks: 65 536.
pub const DEFAULT_TRACKER_CAPACITY: usize = 65_536;
/// The default time a challenge may stay unanswered: 32 s, SIP's
/// transaction timeout (64 × T1, RFC 3261 timers B and F).
pub const DEFAULT_CHALLENGE_TIMEOUT: Duration = Duration::from_secs(32);

/// "`limit` events within `window` → ban the source for `ban_for`".
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Events that trigger the ban (the `limit`-th one bans). At least 1.
    pub limit: u32,
    /// The sliding window the events are counted in.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub window: Duration,
    /// The ban's base length (escalated by [`TrackerConfig::ban`]).
    #[serde(with = "pbxsec_core::duration::serde")]
    pub ban_for: Duration,
}

impl Rule {
    /// A rule.
    pub const fn new(limit: u32, window: Duration, ban_for: Duration) -> Self {
        Self {
            limit,
            window,
            ban_for,
        }
    }
}

/// "`limit` failures on one extension from one source within `window` →
/// lock that extension for that source for `lock_for`" (Yeastar).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutRule {
    /// Failures that lock the extension (the `limit`-th one locks).
    pub limit: u32,
    /// The sliding window.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub window: Duration,
    /// How long the extension stays locked for that source.
    #[serde(with = "pbxsec_core::duration::serde")]
    pub lock_for: Duration,
}

/// The treatment of a source from which several extensions authenticate
/// successfully (an office behind NAT). See the README, "NAT treatment".
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatConfig {
    /// Distinct extensions that must have authenticated successfully from
    /// the source (within the current or the previous `period`) for it to
    /// count as a shared address. Default 3, at least 2, at most
    /// [`MAX_NAT_MIN_EXTENSIONS`] (8; each source's record remembers that
    /// many).
    #[serde(default = "default_nat_min")]
    pub min_extensions: u32,
    /// The per-source failure limits (failed auth, unknown extension,
    /// unanswered challenges) are multiplied by this for such a source.
    /// Default 4, at least 1.
    #[serde(default = "default_nat_factor")]
    pub factor: u32,
    /// How long a success keeps counting (the success epoch). Default 1 h:
    /// phones re-register well within that.
    #[serde(default = "default_nat_period", with = "pbxsec_core::duration::serde")]
    pub period: Duration,
}

const fn default_nat_min() -> u32 {
    3
}
const fn default_nat_factor() -> u32 {
    4
}
const fn default_nat_period() -> Duration {
    HOUR
}

impl Default for NatConfig {
    fn default() -> Self {
        Self {
            min_extensions: default_nat_min(),
            factor: default_nat_factor(),
            period: default_nat_period(),
        }
    }
}

const fn default_timeout() -> Duration {
    DEFAULT_CHALLENGE_TIMEOUT
}
const fn default_capacity() -> usize {
    DEFAULT_TRACKER_CAPACITY
}
const fn default_v6() -> u8 {
    64
}

/// The tracker's rules, as data. Every rule is optional (`None`: not
/// counted). Presets: [`TrackerConfig::portsip`], [`TrackerConfig::yeastar`],
/// [`TrackerConfig::vodia`], [`TrackerConfig::fail2ban_asterisk`],
/// [`TrackerConfig::kamailio_default`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// Failed authentications per source: wrong password, a broken or
    /// incomplete answer, a forged / foreign / replayed nonce, a realm or
    /// URI mismatch, an algorithm not offered.
    #[serde(default)]
    pub failed_auth: Option<Rule>,
    /// Requests for extensions that do not exist, per source
    /// (`InvalidAccountID`; extension scanners such as `svwar`).
    #[serde(default)]
    pub unknown_extension: Option<Rule>,
    /// Challenges never answered within `challenge_timeout`, per source
    /// (PortSIP's "Failed Challenge Requests").
    #[serde(default)]
    pub unanswered_challenge: Option<Rule>,
    /// How long a challenge may stay unanswered (default 32 s; not zero).
    #[serde(default = "default_timeout", with = "pbxsec_core::duration::serde")]
    pub challenge_timeout: Duration,
    /// Refusals by an extension's own IP restriction or User-Agent prefix
    /// rule, per source.
    #[serde(default)]
    pub refused: Option<Rule>,
    /// Every request per source (Kamailio's pike-style anti-flood).
    #[serde(default)]
    pub flood: Option<Rule>,
    /// Failures per (source, extension) that lock the extension for that
    /// source (Yeastar). Each extension's failures are counted in one of
    /// [`LOCKOUT_WINDOWS_PER_SOURCE`] windows per source (picked by its
    /// name, never reassigned); see the README, "NAT treatment".
    #[serde(default)]
    pub extension_lockout: Option<LockoutRule>,
    /// Shared-address treatment (default on; `null` turns it off).
    #[serde(default = "default_nat")]
    pub nat: Option<NatConfig>,
    /// The ban list: escalation, recidive, whitelist (never counted, never
    /// banned), capacity. Its `ipv6_prefix` is replaced by this config's.
    #[serde(default)]
    pub ban: BanConfig,
    /// IPv6 sources are counted and banned per prefix of this length
    /// (default 64: an attacker controls a whole /64).
    #[serde(default = "default_v6")]
    pub ipv6_prefix: u8,
    /// Sources (and pairs) each counter tracks (default 65 536).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// The most challenges awaiting an answer (default 65 536); beyond it
    /// the oldest is judged at once.
    #[serde(default = "default_capacity")]
    pub max_open_challenges: usize,
}

#[allow(clippy::unnecessary_wraps)] // serde default for an Option field
fn default_nat() -> Option<NatConfig> {
    Some(NatConfig::default())
}

impl Default for TrackerConfig {
    /// No counting rule at all (only bans / locks placed by hand, the
    /// domain filter and the NAT bookkeeping); start from a preset instead.
    fn default() -> Self {
        Self {
            failed_auth: None,
            unknown_extension: None,
            unanswered_challenge: None,
            challenge_timeout: DEFAULT_CHALLENGE_TIMEOUT,
            refused: None,
            flood: None,
            extension_lockout: None,
            nat: default_nat(),
            ban: BanConfig::default(),
            ipv6_prefix: 64,
            capacity: DEFAULT_TRACKER_CAPACITY,
            max_open_challenges: DEFAULT_TRACKER_CAPACITY,
        }
    }
}

impl TrackerConfig {
    /// PortSIP "Failed Authentication Protection" and "Failed Challenge
    /// Requests (407)": 50 failed authentications, or 50 unanswered
    /// challenges, from one IP within the detection period (1 h, our
    /// choice as in `pbxsec-ratelimit`) → blacklisted for 1 h. Unknown
    /// extensions (our addition): 20 per hour → 1 h. No extension lockout.
    pub fn portsip() -> Self {
        let auth = ThresholdConfig::portsip_failed_auth();
        let chal = ThresholdConfig::portsip_unanswered_challenges();
        Self {
            failed_auth: Some(Rule::new(
                auth.limit,
                auth.window,
                auth.block_for.unwrap_or(HOUR),
            )),
            unanswered_challenge: Some(Rule::new(
                chal.limit,
                chal.window,
                chal.block_for.unwrap_or(HOUR),
            )),
            unknown_extension: Some(Rule::new(20, HOUR, HOUR)),
            ..Self::default()
        }
    }

    /// Yeastar P-Series account lockout: failed registrations on one
    /// extension lock that extension for the offending IP ("Extension
    /// Registration Blocked Out"). Values (ours; Yeastar does not publish
    /// them): 5 failures within 10 min lock it for 30 min. Per source (ours):
    /// 20 failed authentications within 10 min → 30 min ban; 10 unknown
    /// extensions within 10 min → 30 min; 5 IP-restriction / User-Agent
    /// refusals within 10 min → 30 min.
    pub fn yeastar() -> Self {
        Self {
            failed_auth: Some(Rule::new(20, 10 * MIN, 30 * MIN)),
            unknown_extension: Some(Rule::new(10, 10 * MIN, 30 * MIN)),
            refused: Some(Rule::new(5, 10 * MIN, 30 * MIN)),
            extension_lockout: Some(LockoutRule {
                limit: 5,
                window: 10 * MIN,
                lock_for: 30 * MIN,
            }),
            ..Self::default()
        }
    }

    /// Vodia: "number of tolerated attempts", "time for counting attempts",
    /// "blacklist duration" (`pbxsec-ratelimit`'s `vodia_default`: 10
    /// tolerated, 60 s, 1 h), applied to failed authentications and unknown
    /// extensions; packets for a domain not served here are dropped (always
    /// the case here).
    pub fn vodia() -> Self {
        let v = ThresholdConfig::vodia_default();
        let rule = Rule::new(v.limit, v.window, v.block_for.unwrap_or(HOUR));
        Self {
            failed_auth: Some(rule.clone()),
            unknown_extension: Some(rule),
            ..Self::default()
        }
    }

    /// fail2ban's `asterisk` jail with its defaults: `maxretry = 10`,
    /// `findtime = 10m`, `bantime = 10m`, and the `recidive` jail (5 bans
    /// within 1 day → banned for 1 week). Each failure kind (failed auth,
    /// unknown extension, refusals) has its own counter with these numbers,
    /// where fail2ban counts all matching log lines of one IP together.
    pub fn fail2ban_asterisk() -> Self {
        let rule = Rule::new(10, 10 * MIN, 10 * MIN);
        Self {
            failed_auth: Some(rule.clone()),
            unknown_extension: Some(rule.clone()),
            refused: Some(rule),
            ban: BanConfig {
                escalation: Escalation {
                    repeat_memory: DAY,
                    recidive: Some(Recidive {
                        after_bans: 5,
                        ban_for: 7 * DAY,
                    }),
                    ..Escalation::default()
                },
                ..BanConfig::default()
            },
            ..Self::default()
        }
    }

    /// Kamailio's stock configuration anti-flood (pike + htable): more
    /// than 16 requests from one IP within 2 s → banned for 300 s. Nothing
    /// else is counted (the stock config bans on rate only).
    pub fn kamailio_default() -> Self {
        Self {
            flood: Some(Rule::new(
                17,
                Duration::from_secs(2),
                Duration::from_secs(300),
            )),
            ..Self::default()
        }
    }
}

/// Why a source was banned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BanReason {
    /// Too many failed authentications.
    FailedAuth,
    /// Too many unknown extensions.
    UnknownExtension,
    /// Too many unanswered challenges.
    UnansweredChallenges,
    /// Too many IP-restriction / User-Agent refusals.
    Refused,
    /// Too many requests.
    Flood,
}

impl BanReason {
    /// A stable name (used as the ban list's rule name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FailedAuth => "sip-failed-auth",
            Self::UnknownExtension => "sip-unknown-extension",
            Self::UnansweredChallenges => "sip-unanswered-challenges",
            Self::Refused => "sip-refused",
            Self::Flood => "sip-flood",
        }
    }
}

/// What to do. A [`Report`] holds the response decision (one of the
/// first four) and any bans and locks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Go on (authenticated, or not a matter for the tracker).
    Accept,
    /// Answer with a fresh challenge (401 / 407), `stale=true` when asked.
    /// Wrong passwords and unknown users get the same answer, so an
    /// extension scanner cannot tell which extensions exist.
    Challenge {
        /// Say `stale=true`.
        stale: bool,
    },
    /// Answer with this rejection (400, 403, ...).
    Respond(Reject),
    /// Answer nothing.
    DropSilently,
    /// The source was banned (already put on [`Tracker::bans`]).
    Ban {
        /// The banned key: the source address, folded (IPv6 to its prefix).
        key: IpAddr,
        /// How long; `None`: permanent (escalation).
        duration: Option<Duration>,
        /// Which rule.
        reason: BanReason,
    },
    /// The extension was locked for the source.
    LockExtension {
        /// The source (folded).
        source: IpAddr,
        /// The extension.
        extension: String,
        /// How long.
        duration: Duration,
    },
}

/// What the tracker decided about one observation.
///
/// Reuse one report for many observations with
/// [`Tracker::observe_into`]: its vectors and the strings of its events are
/// recycled, so the common path (a counted failure, no ban) allocates
/// nothing once the report has been used a few times.
#[derive(Clone)]
pub struct Report {
    /// The response decision first, then bans and locks (also for other
    /// sources whose challenges timed out meanwhile).
    pub decisions: Vec<Decision>,
    /// Security events to log, Asterisk-named.
    pub events: Vec<SecurityEvent>,
    /// Events of earlier observations, kept for their memory.
    spare: Vec<SecurityEvent>,
    /// String buffers of unset event fields.
    strings: Vec<String>,
    /// The events of the observation under way: `events[..fresh]`. The
    /// ones after them are the previous observation's, overwritten in place
    /// by the next events and moved to the spares by
    /// [`finish`](Self::finish) if not.
    fresh: usize,
}

impl PartialEq for Report {
    fn eq(&self, other: &Self) -> bool {
        self.decisions == other.decisions && self.events == other.events
    }
}

impl Eq for Report {}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("decisions", &self.decisions)
            .field("events", &self.events)
            .finish()
    }
}

impl Default for Report {
    fn default() -> Self {
        Self::new()
    }
}

/// The most spare string buffers a report keeps.
const SPARE_STRINGS: usize = 16;

impl Report {
    /// An empty report: response `Accept`, no bans, no events.
    pub fn new() -> Self {
        Self {
            decisions: vec![Decision::Accept],
            events: Vec::new(),
            spare: Vec::new(),
            strings: Vec::new(),
            fresh: 0,
        }
    }

    /// Empties the report for the next observation (response `Accept`),
    /// keeping its memory.
    #[inline(always)]
    pub fn clear(&mut self) {
        if let [first] = self.decisions.as_mut_slice() {
            if !matches!(first, Decision::Accept) {
                *first = Decision::Accept;
            }
        } else {
            self.decisions.clear();
            self.decisions.push(Decision::Accept);
        }
        self.fresh = 0;
        self.finish();
    }

    /// Starts an observation: `response` as the response decision, no
    /// bans, no events yet (the previous observation's stay in `events`
    /// until overwritten in place or moved to the spares by
    /// [`finish`](Self::finish), which must end the observation).
    #[inline(always)]
    fn reset(&mut self, response: Decision) {
        if let [first] = self.decisions.as_mut_slice() {
            *first = response;
        } else {
            self.decisions.clear();
            self.decisions.push(response);
        }
        self.fresh = 0;
    }

    /// Ends an observation: the previous observation's events that were
    /// not overwritten go to the spares (their memory is reused).
    #[inline(always)]
    fn finish(&mut self) {
        if self.fresh < self.events.len() {
            self.drop_stale();
        }
    }

    #[inline(never)]
    fn drop_stale(&mut self) {
        if self.fresh == 0 && self.spare.is_empty() {
            std::mem::swap(&mut self.spare, &mut self.events);
        } else {
            self.spare.extend(self.events.drain(self.fresh..));
        }
        self.spare.truncate(SPARE_STRINGS);
    }

    /// The response decision (`Accept`, `Challenge`, `Respond` or
    /// `DropSilently`).
    pub fn response(&self) -> &Decision {
        self.decisions.first().unwrap_or(&Decision::Accept)
    }

    /// The bans decided, if any.
    pub fn bans(&self) -> impl Iterator<Item = &Decision> {
        self.decisions
            .iter()
            .filter(|d| matches!(d, Decision::Ban { .. }))
    }

    #[inline]
    fn set_response(&mut self, d: Decision) {
        if let Some(first) = self.decisions.first_mut() {
            *first = d;
        }
    }

    /// Appends an event (overwriting one of the previous observation's or a
    /// spare one in place) and sets its fields.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // every field of the event
    fn push_event(
        &mut self,
        time: UnixTime,
        kind: EventKind,
        transport: Option<Transport>,
        source_ip: Option<IpAddr>,
        source_port: Option<u16>,
        extension: Option<&str>,
        detail: Option<&str>,
    ) -> &mut SecurityEvent {
        let i = self.fresh;
        if i >= self.events.len() {
            self.grow(time, kind);
        }
        self.fresh = i + 1;
        let Self {
            events, strings, ..
        } = self;
        let e = &mut events[i];
        e.time = time;
        e.kind = kind;
        e.severity = kind.severity();
        e.service = Service::Sip;
        e.transport = transport;
        e.source_ip = source_ip;
        e.source_port = source_port;
        set_text(&mut e.tenant, None, strings);
        set_text(&mut e.user, None, strings);
        set_text(&mut e.extension, extension, strings);
        set_text(&mut e.detail, detail, strings);
        e
    }

    /// One more event in `events` (a spare one, else a new one).
    #[inline(never)]
    fn grow(&mut self, time: UnixTime, kind: EventKind) {
        let e = self
            .spare
            .pop()
            .unwrap_or_else(|| SecurityEvent::new(time, kind, Service::Sip));
        self.events.push(e);
    }

    /// An event about the packet: its source (`ip`: the packet's source
    /// address, canonical), transport and the extension.
    #[inline(always)]
    fn packet_event(&mut self, p: &Packet, ip: IpAddr, kind: EventKind, extension: Option<&str>) {
        self.push_event(
            p.wall,
            kind,
            Some(p.transport),
            Some(ip),
            Some(p.source.port()),
            extension,
            None,
        );
    }

    /// An event about a (folded) source address, with a detail.
    fn ip_event(&mut self, wall: UnixTime, kind: EventKind, ip: IpAddr, detail: Option<&str>) {
        self.push_event(wall, kind, None, Some(canonical_ip(ip)), None, None, detail);
    }

    /// Gives the last event another kind (and its severity) and a detail.
    fn relabel(&mut self, kind: EventKind, detail: &str) {
        if let Some(e) = self
            .fresh
            .checked_sub(1)
            .and_then(|i| self.events.get_mut(i))
        {
            e.kind = kind;
            e.severity = kind.severity();
        }
        self.detail(detail);
    }

    /// Sets the detail of the last event.
    fn detail(&mut self, detail: &str) {
        if let Some(e) = self
            .fresh
            .checked_sub(1)
            .and_then(|i| self.events.get_mut(i))
        {
            set_text(&mut e.detail, Some(detail), &mut self.strings);
        }
    }
}

/// Sets an optional string field, reusing its buffer or one from `pool`
/// (and returning an unset field's buffer to it).
#[inline(always)]
fn set_text(field: &mut Option<String>, text: Option<&str>, pool: &mut Vec<String>) {
    match (field.as_mut(), text) {
        (Some(s), Some(t)) => {
            s.clear();
            s.push_str(t);
        }
        (None, None) => {}
        _ => set_text_slow(field, text, pool),
    }
}

/// [`set_text`] when the field is set and the text not, or the reverse.
#[inline(never)]
fn set_text_slow(field: &mut Option<String>, text: Option<&str>, pool: &mut Vec<String>) {
    match (field.as_mut(), text) {
        (Some(s), Some(t)) => {
            s.clear();
            s.push_str(t);
        }
        (None, Some(t)) => {
            let mut s = pool.pop().unwrap_or_default();
            s.clear();
            s.push_str(t);
            *field = Some(s);
        }
        (Some(_), None) => {
            if let Some(s) = field.take() {
                if pool.len() < SPARE_STRINGS {
                    pool.push(s);
                }
            }
        }
        (None, None) => {}
    }
}

/// What the front door saw or did, for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Seen<'a> {
    /// A request arrived (call this first for every request): checks the
    /// ban list, the flood rule and the extension lock. `extension` is the
    /// account it concerns (REGISTER: the To user; others: the
    /// Authorization username or From user), if known.
    Request {
        /// The extension concerned.
        extension: Option<&'a str>,
    },
    /// A 401 / 407 challenge was sent to the source.
    ChallengeSent,
    /// Credentials were verified with this outcome. `extension` is the
    /// digest `username` (the extension they name).
    Credentials {
        /// The extension named.
        extension: &'a str,
        /// The verifier's outcome.
        outcome: DigestOutcome,
    },
    /// An Authorization / Proxy-Authorization header was present but could
    /// not be read at all; counts as a failed attempt against the extension
    /// named elsewhere in the request, if any.
    UnreadableCredentials {
        /// The extension the request names (To / From user), if any.
        extension: Option<&'a str>,
    },
    /// The extension's own IP restriction does not permit the source.
    AddressNotAllowed {
        /// The extension.
        extension: &'a str,
    },
    /// The extension's User-Agent prefix rule does not allow the UA.
    UserAgentNotAllowed {
        /// The extension.
        extension: &'a str,
    },
    /// The request names an extension that does not exist here (a
    /// REGISTER's To user, another request's From user) and carries no
    /// credentials: `svwar`'s signature (it registers extensions without
    /// credentials and compares the answers). Counted as an unknown
    /// extension (`unknown_extension`, event `InvalidAccountID`) and
    /// answered with a challenge, as a known extension is, so the scanner
    /// cannot tell. Report it after [`Request`](Self::Request), then send
    /// the challenge and report [`ChallengeSent`](Self::ChallengeSent) as
    /// for any challenge (one left unanswered also counts under
    /// `unanswered_challenge`); credentials naming an unknown user are
    /// reported as [`Credentials`](Self::Credentials) with
    /// [`DigestOutcome::UnknownUser`] instead (one unknown-extension count
    /// per request).
    UnknownExtension {
        /// The extension named.
        extension: &'a str,
    },
    /// The request is for a domain not served here (dropped, not counted).
    ForeignDomain,
}

/// Where and when: the datagram's (or connection's) source address, its
/// transport, and the time read once for the packet.
///
/// The address counted and banned is always this one, never one read from
/// a header (Via, Contact, X-Forwarded-For).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The source address of the datagram or connection.
    pub source: SocketAddr,
    /// The transport.
    pub transport: Transport,
    /// Monotonic time.
    pub now: Instant,
    /// Wall-clock time (for events and bans).
    pub wall: UnixTime,
}

impl Packet {
    /// A packet from `source` over `transport`, with the time read from `clock`.
    pub fn new(source: SocketAddr, transport: Transport, clock: &impl Clock) -> Self {
        Self {
            source,
            transport,
            now: clock.now(),
            wall: clock.wall(),
        }
    }
}

/// A clock frozen at one packet's time, for the ban lists.
struct Frozen {
    now: Instant,
    wall: UnixTime,
}

impl Clock for Frozen {
    fn now(&self) -> Instant {
        self.now
    }
    fn wall(&self) -> UnixTime {
        self.wall
    }
}

/// A per-source rule: its base limit and, with the NAT treatment, the
/// raised one for shared addresses.
#[derive(Clone, Copy)]
struct Counted {
    base: WindowLimit,
    raised: WindowLimit,
    ban_for: Duration,
}

impl Counted {
    fn new(field: &'static str, rule: &Rule, factor: u32) -> TrackerResult<Self> {
        check_rule(field, rule.limit, rule.window)?;
        let err = |e: pbxsec_ratelimit::Error| TrackerError::Config {
            field,
            problem: e.to_string(),
        };
        let raised = rule
            .limit
            .saturating_mul(factor.max(1))
            .min(pbxsec_ratelimit::MAX_LIMIT);
        Ok(Self {
            base: WindowLimit::new(rule.limit, rule.window, true).map_err(err)?,
            raised: WindowLimit::new(raised, rule.window, true).map_err(err)?,
            ban_for: rule.ban_for,
        })
    }

    #[inline]
    fn limit(&self, shared: bool) -> WindowLimit {
        if shared { self.raised } else { self.base }
    }
}

/// Extension locks in force kept per source; a fifth lock takes the slot
/// of the one ending soonest (see the README, "NAT treatment").
pub const LOCKOUT_EXTENSIONS_PER_SOURCE: usize = 4;
/// Per-extension failure windows per source: an extension's failures are
/// counted in the window its name picks, never reassigned (see the
/// README, "NAT treatment").
pub const LOCKOUT_WINDOWS_PER_SOURCE: usize = 8;
/// The most `nat.min_extensions` can be: the distinct successful
/// extensions are remembered inline per source, up to this many.
pub const MAX_NAT_MIN_EXTENSIONS: u32 = 8;

/// The bits of an extension's key that pick its failure window.
const WINDOW_BITS: u64 = LOCKOUT_WINDOWS_PER_SOURCE as u64 - 1;
const _: () = assert!(LOCKOUT_WINDOWS_PER_SOURCE.is_power_of_two());

/// Which of a source's failure windows counts `extension`'s failures:
/// FNV-1a of its bytes, not keyed, so that trackers built alike decide
/// alike (their keyed hashes differ). Knowing which extensions share a
/// window gains an attacker nothing: sharing only locks extensions
/// sooner, and locking one takes failures on it or on a sharer, which
/// locking it directly takes too.
fn ext_window(extension: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in extension.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) & WINDOW_BITS
}

/// The index of the failure window of the extension whose key is `ext`
/// (its low bits: [`Tracker::ext_hash`]).
#[inline]
#[allow(clippy::cast_possible_truncation)] // masked to 3 bits
const fn window_index(ext: u64) -> usize {
    (ext & WINDOW_BITS) as usize
}

/// One extension locked for one source.
#[derive(Default, Clone, Copy)]
struct ExtLock {
    /// Keyed hash of the extension; 0: slot free.
    ext: u64,
    /// Locked until (nanos); in the past: not locked.
    locked_until: u64,
}

/// Distinct extensions that authenticated from one source, per NAT epoch.
#[derive(Default)]
struct NatRecord {
    epoch: u64,
    count: u32,
    /// The previous epoch reached `min_extensions`.
    prev_shared: bool,
    /// Fingerprints (non-zero) of the distinct extensions of `epoch`.
    exts: [u32; MAX_NAT_MIN_EXTENSIONS as usize],
}

impl NatRecord {
    fn success(&mut self, epoch: u64, fp: u32, min: u32) {
        if epoch > self.epoch {
            self.prev_shared = epoch == self.epoch + 1 && self.count >= min;
            self.epoch = epoch;
            self.count = 0;
            self.exts = [0; MAX_NAT_MIN_EXTENSIONS as usize];
        }
        if self.count >= min {
            return;
        }
        let n = self.count as usize;
        if self.exts.iter().take(n).any(|&e| e == fp) {
            return;
        }
        if let Some(slot) = self.exts.get_mut(n) {
            *slot = fp;
            self.count += 1;
        }
    }

    #[inline]
    fn shared(&self, epoch: u64, min: u32) -> bool {
        if epoch == self.epoch {
            self.count >= min || self.prev_shared
        } else {
            epoch == self.epoch + 1 && self.count >= min
        }
    }
}

/// Failed-auth events held inline per source (the oldest ones); newer ones
/// go to the window's heap part only beyond this many.
const INLINE_EVENTS: usize = 19;

/// One source's exact sliding window of unit-weight events (the failed-auth
/// window), built so that an update reads and writes no memory outside the
/// record while the window holds at most [`INLINE_EVENTS`] events: the
/// oldest events (the ones an update reads, to drop them once they leave
/// the window) are held inline, and only the newer ones beyond
/// [`INLINE_EVENTS`] go to a heap FIFO in the record's cold part
/// ([`Cold::spill`], appended to until the inline ones have all left the
/// window; it is then read to move up to [`INLINE_EVENTS`] of its oldest
/// inline).
///
/// Invariant: every inline event is older than (or as old as) every spilled
/// one, `spilled` is the length of the cold part's FIFO, and nothing is
/// spilled while the inline ring has room. So once the expired inline
/// events are dropped, either an inline event is still in the window (then
/// every held event is, and the held count is exact) or nothing is held.
///
/// **Exact**: [`hit`](Self::hit) returns `true` if and only if the events
/// with `now - t < window`, this one included, number at least the limit
/// (times are exact nanoseconds); reaching it empties the window (the
/// tracker's rules all clear on reach). At most `limit - 1` events are held
/// (8 bytes each on the heap beyond the inline ones).
///
/// `pbxsec_ratelimit::WindowCounter` (weighted, 16 bytes per event, every
/// event on the heap) is the general type; this one belongs beside it
/// there if another crate needs it.
#[derive(Default)]
#[repr(C)]
struct Events {
    /// Events in the cold part's FIFO (all newer than the inline ones).
    spilled: u32,
    head: u8,
    len: u8,
    /// The oldest events, a ring: `inline[(head + i) % INLINE_EVENTS]` for
    /// `i < len`, oldest first.
    inline: [u64; INLINE_EVENTS],
}

impl Events {
    /// Events held (some may have left the window since the last update).
    #[inline]
    fn total(&self) -> u64 {
        u64::from(self.len) + u64::from(self.spilled)
    }

    #[inline]
    fn push_inline(&mut self, t: u64) {
        let mut i = usize::from(self.head) + usize::from(self.len);
        if i >= INLINE_EVENTS {
            i -= INLINE_EVENTS;
        }
        if let Some(slot) = self.inline.get_mut(i) {
            *slot = t;
            self.len += 1;
        }
    }

    /// Drops the events that left the window at `now`: the inline ones
    /// first (no memory outside the record), then, while nothing is
    /// inline, moves the oldest spilled events inline and goes on.
    #[inline(always)]
    fn prune(&mut self, cold: &mut Option<Box<Cold>>, now: u64, window: u64) {
        // An event at `t` has left the window when `now - t >= window`
        // (saturating): when `now >= window`, exactly when `t <= cut`;
        // before, none has (nor is anything spilled with the inline ring
        // empty: see the invariant).
        let Some(cut) = now.checked_sub(window) else {
            return;
        };
        // Head and length in registers while dropping (one store each).
        let (mut head, mut len) = (usize::from(self.head), usize::from(self.len));
        loop {
            while len > 0 {
                match self.inline.get(head) {
                    Some(&t) if t <= cut => {
                        head = if head + 1 == INLINE_EVENTS {
                            0
                        } else {
                            head + 1
                        };
                        len -= 1;
                    }
                    _ => break,
                }
            }
            if len > 0 || self.spilled == 0 {
                // Both below INLINE_EVENTS (< 256).
                self.head = head as u8;
                self.len = len as u8;
                return;
            }
            if !self.refill(cold) {
                return;
            }
            (head, len) = (usize::from(self.head), usize::from(self.len));
        }
    }

    /// Moves up to [`INLINE_EVENTS`] of the oldest spilled events inline
    /// (the inline ring is empty); `false` if there was nothing to move.
    #[cold]
    fn refill(&mut self, cold: &mut Option<Box<Cold>>) -> bool {
        self.head = 0;
        self.len = 0;
        let Some(c) = cold.as_mut() else {
            self.spilled = 0;
            return false;
        };
        while usize::from(self.len) < INLINE_EVENTS {
            let Some(t) = c.spill.pop_front() else {
                break;
            };
            self.push_inline(t);
        }
        self.spilled = u32::try_from(c.spill.len()).unwrap_or(u32::MAX);
        self.len > 0
    }

    /// Counts one event at `now`; `true` when the events in the window
    /// (this one included) reach the limit, which then empties the window.
    #[inline(always)]
    fn hit(&mut self, cold: &mut Option<Box<Cold>>, now: Instant, rule: WindowLimit) -> bool {
        let now = now.as_nanos();
        self.prune(cold, now, rule.window_nanos());
        if self.total() + 1 >= rule.limit() {
            self.clear(cold);
            return true;
        }
        if self.spilled == 0 && usize::from(self.len) < INLINE_EVENTS {
            self.push_inline(now);
        } else {
            self.spill(cold, now);
        }
        false
    }

    /// Appends a newer event to the cold part's FIFO.
    #[cold]
    fn spill(&mut self, cold: &mut Option<Box<Cold>>, now: u64) {
        let c = cold.get_or_insert_with(Box::default);
        c.spill.push_back(now);
        self.spilled = u32::try_from(c.spill.len()).unwrap_or(u32::MAX);
    }

    /// Forgets every event and gives the spill buffer's memory back.
    fn clear(&mut self, cold: &mut Option<Box<Cold>>) {
        self.head = 0;
        self.len = 0;
        self.spilled = 0;
        if let Some(c) = cold.as_mut() {
            if c.spill.capacity() > 0 {
                c.spill = VecDeque::new();
            }
        }
    }

    /// Names a word of each of the inline events' cache lines after the
    /// record's first (for [`SlotValue::lines`]).
    #[inline(always)]
    fn lines(&self, lines: &mut Lines) {
        if let Some(t) = self.inline.get(INLINE_EVENTS / 4) {
            lines.line(t);
        }
        if let Some(t) = self.inline.last() {
            lines.line(t);
        }
    }
}

/// What a source's record keeps out of line: every counter and state but
/// the failed-auth window and the open challenges. Allocated the first time
/// one of them is used for the source (a NAT success, an unknown extension,
/// an unanswered challenge, a refusal, a request under the flood rule, a
/// per-extension failure) and freed with the record.
#[derive(Default)]
struct Cold {
    /// The failed-auth window's events beyond the inline ones, oldest
    /// first (see [`Events`]).
    spill: VecDeque<u64>,
    nat: NatRecord,
    unknown: WindowCounter,
    unanswered: WindowCounter,
    refused: WindowCounter,
    flood: WindowCounter,
    /// The extensions locked for this source.
    locks: [ExtLock; LOCKOUT_EXTENSIONS_PER_SOURCE],
    /// The failures per extension, in the window its name picks
    /// ([`ext_window`], the low bits of its key). A window is never
    /// reassigned, so no sequence of failures on other extensions resets an
    /// extension's count: each extension's failures in its window are at
    /// most the window's, and the window does not clear when it reaches
    /// the limit (it keeps its newest `limit` events), so an extension is
    /// locked on its own `limit`-th failure within the lockout window at
    /// the latest, earlier if another failing extension shares its window.
    tries: [WindowCounter; LOCKOUT_WINDOWS_PER_SOURCE],
    /// Per failure window, until when (nanos) every extension in it is
    /// locked: set when a lock in force gives its slot to a fifth one
    /// ([`lock`](Self::lock)), so that no lock ends early.
    held: [u64; LOCKOUT_WINDOWS_PER_SOURCE],
}

impl Cold {
    /// The window of a per-source counter kept here (the failed-auth one
    /// is inline in the record: [`Rules::count_failed`]).
    #[inline]
    fn window(&mut self, which: Which) -> &mut WindowCounter {
        match which {
            Which::Unknown => &mut self.unknown,
            Which::Unanswered => &mut self.unanswered,
            Which::Refused => &mut self.refused,
            Which::Flood => &mut self.flood,
        }
    }

    fn locked(&self, ext: u64, now: u64) -> bool {
        self.locks
            .iter()
            .any(|l| l.ext == ext && l.locked_until > now)
            || self.held(ext).is_some_and(|&until| until > now)
    }

    /// Until when extension `ext`'s window is held (see [`Cold::held`]).
    #[inline]
    fn held(&self, ext: u64) -> Option<&u64> {
        self.held.get(window_index(ext))
    }

    /// The failure window of extension `ext` (a keyed hash).
    #[inline]
    fn tries(&mut self, ext: u64) -> Option<&mut WindowCounter> {
        self.tries.get_mut(window_index(ext))
    }

    /// Locks `ext` until `until` (nanos): in its own slot, else a free or
    /// expired one, else the slot of the lock ending soonest, whose lock
    /// then holds on as its window's: every extension sharing that window
    /// is locked until it would have ended (no lock ends early; the price,
    /// only with more than four locks in force from one source, is that an
    /// extension sharing the window with a locked one is locked too).
    fn lock(&mut self, ext: u64, now: u64, until: u64) {
        let mut pick = 0;
        let mut soonest = u64::MAX;
        for (i, l) in self.locks.iter().enumerate() {
            if l.ext == ext {
                pick = i;
                break;
            }
            let ends = if l.ext == 0 || l.locked_until <= now {
                0
            } else {
                l.locked_until
            };
            if ends < soonest {
                soonest = ends;
                pick = i;
            }
        }
        if let Some(l) = self.locks.get_mut(pick) {
            let until = if l.ext == ext {
                l.locked_until.max(until)
            } else {
                if l.ext != 0 && l.locked_until > now {
                    let evicted = *l;
                    if let Some(held) = self.held.get_mut(window_index(evicted.ext)) {
                        *held = (*held).max(evicted.locked_until);
                    }
                }
                until
            };
            *l = ExtLock {
                ext,
                locked_until: until,
            };
        }
    }

    /// Locks in force first (2^48 each), then the NAT state (2^40 for a
    /// shared previous period, 2^32 per distinct successful extension of
    /// this one), then the weights held.
    fn keep_score(&self, now: u64) -> u64 {
        let mut score = self.unknown.total()
            + self.unanswered.total()
            + self.refused.total()
            + self.flood.total();
        for w in &self.tries {
            score = score.saturating_add(w.total());
        }
        for until in self.locks.iter().map(|l| l.locked_until).chain(self.held) {
            if until > now {
                score = score.saturating_add(1 << 48);
            }
        }
        score = score.saturating_add(u64::from(self.nat.count) << 32);
        if self.nat.prev_shared {
            score = score.saturating_add(1 << 40);
        }
        score
    }
}

/// Everything the tracker knows about one (folded) source, in one slot of
/// one bounded table: one hash and one probe per observation.
///
/// `repr(C, align(64))`, three cache lines (192 bytes): `idle_after`, the
/// open-challenge counts, the pointer to the cold part and the failed-auth
/// window with up to [`INLINE_EVENTS`] events inline, which is all a
/// counted failure reads; the table prefetches the three lines beside
/// the key of the slot whose fingerprint matches ([`SlotValue::LINES`]).
/// Everything else is in
/// [`Cold`], out of line.
#[derive(Default)]
#[repr(C, align(64))]
struct SourceRecord {
    /// Nothing in the record matters from this time on (nanos), unless
    /// challenges are open.
    idle_after: u64,
    /// When this record was created (nanos): queued challenges sent before
    /// it belong to an evicted record of the same source and are not judged.
    since: u64,
    /// Challenges awaiting an answer, and how many of them were answered.
    open: u32,
    answered: u32,
    cold: Option<Box<Cold>>,
    failed: Events,
}

/// The record is three cache lines.
const _: () = assert!(size_of::<SourceRecord>() == 192);

impl SourceRecord {
    /// Marks a record just created for a key.
    #[inline]
    fn created(&mut self, found: Found, now: Instant) {
        if found != Found::Present {
            self.since = now.as_nanos();
        }
    }

    #[inline]
    fn keep_until(&mut self, t: u64) {
        self.idle_after = self.idle_after.max(t);
    }

    fn locked(&self, ext: u64, now: u64) -> bool {
        self.cold.as_ref().is_some_and(|c| c.locked(ext, now))
    }

    #[inline]
    fn shared(&self, nat: NatRule, now: u64) -> bool {
        self.cold
            .as_ref()
            .is_some_and(|c| c.nat.shared(nat.epoch(now), nat.min))
    }

    /// The out-of-line part, allocated on first use.
    #[inline]
    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }
}

impl SlotValue for SourceRecord {
    const LINES: bool = true;

    #[inline(always)]
    fn lines(&self, lines: &mut Lines) {
        lines.line(&self.idle_after);
        self.failed.lines(lines);
    }

    #[inline]
    fn is_idle(&self, now: Instant) -> bool {
        self.open == 0 && now.as_nanos() >= self.idle_after
    }

    /// Locks in force first (2^48 each), then the NAT state (2^40 for a
    /// shared previous period, 2^32 per distinct successful extension of
    /// this one), then the weights held and the open challenges.
    fn keep_score(&self, now: Instant) -> u64 {
        let score = u64::from(self.open) + self.failed.total();
        match &self.cold {
            Some(c) => score.saturating_add(c.keep_score(now.as_nanos())),
            None => score,
        }
    }
}

/// The response to credentials verified with `outcome` (before any ban or
/// lock).
#[inline(always)]
fn credentials_response(outcome: DigestOutcome) -> Decision {
    match outcome {
        DigestOutcome::Ok { .. } => Decision::Accept,
        // The right response on an old, foreign or replayed nonce (a
        // retransmission after a lost 200 OK, a nonce of a key rotated out).
        DigestOutcome::StaleNonce | DigestOutcome::InvalidNonce(_) => {
            Decision::Challenge { stale: true }
        }
        DigestOutcome::UnknownUser => Decision::Challenge { stale: false },
        DigestOutcome::Malformed(_) | DigestOutcome::RealmMismatch | DigestOutcome::UriMismatch => {
            Decision::Respond(Reject {
                reason: RejectReason::BadRequest,
                retry_after: None,
            })
        }
        _ => Decision::Challenge { stale: false },
    }
}

/// The response to an observation before any ban, lock or count.
fn first_response(seen: Seen<'_>) -> Decision {
    match seen {
        Seen::Request { .. } | Seen::ChallengeSent => Decision::Accept,
        Seen::Credentials { outcome, .. } => credentials_response(outcome),
        Seen::UnreadableCredentials { .. } => Decision::Respond(Reject {
            reason: RejectReason::BadRequest,
            retry_after: None,
        }),
        Seen::AddressNotAllowed { .. } | Seen::UserAgentNotAllowed { .. } => {
            Decision::Respond(Reject {
                reason: RejectReason::Forbidden,
                retry_after: None,
            })
        }
        Seen::UnknownExtension { .. } => Decision::Challenge { stale: false },
        Seen::ForeignDomain => Decision::DropSilently,
    }
}

/// `records.entry_mut(src, ..)`, through the loads `started` began.
#[inline(always)]
fn record_entry<R>(
    records: &mut BoundedMap<IpAddr, SourceRecord>,
    started: Option<&Started<IpAddr>>,
    src: &IpAddr,
    now: Instant,
    f: impl FnOnce(&mut SourceRecord, Found) -> R,
) -> R {
    // One call of `f` (it is then inlined).
    let mut fresh = None;
    let s = started_or_start(records, started, src, &mut fresh);
    records.entry_started_mut(s, now, f)
}

/// `started`, or the loads of `src`'s record begun now (kept in `fresh`).
#[inline(always)]
fn started_or_start<'a>(
    records: &mut BoundedMap<IpAddr, SourceRecord>,
    started: Option<&'a Started<IpAddr>>,
    src: &IpAddr,
    fresh: &'a mut Option<Started<IpAddr>>,
) -> &'a Started<IpAddr> {
    match started {
        Some(s) => s,
        None => fresh.insert(records.start_mut(src)),
    }
}

/// `records.get_mut(src, ..)`, through the loads `started` began.
#[inline(always)]
fn record_get<R>(
    records: &mut BoundedMap<IpAddr, SourceRecord>,
    started: Option<&Started<IpAddr>>,
    src: &IpAddr,
    f: impl FnOnce(&mut SourceRecord) -> R,
) -> Option<R> {
    let mut fresh = None;
    let s = started_or_start(records, started, src, &mut fresh);
    records.get_started_mut(s, f)
}

/// The NAT treatment's rules.
#[derive(Clone, Copy)]
struct NatRule {
    min: u32,
    period_ns: u64,
}

impl NatRule {
    #[inline]
    fn epoch(self, now: u64) -> u64 {
        now / self.period_ns.max(1)
    }
}

/// The auth-failure tracker. See the module and crate docs.
///
/// # How to drive it
///
/// Per packet, read the clock once into a [`Packet`] (the datagram's source
/// address, never a header's), then:
///
/// 1. [`observe`](Self::observe) `Seen::Request { extension }` for every
///    request. If the report's [`response`](Report::response) is not
///    `Accept` (banned: `DropSilently`; flood: ban + `DropSilently`;
///    extension locked for this source: `Respond(403)`), do that and stop.
/// 2. Domain not served here: observe `Seen::ForeignDomain` (drop).
///    Extension's IP restriction or UA prefix rule refuses: observe
///    `AddressNotAllowed` / `UserAgentNotAllowed` (403, counted).
/// 3. No credentials: send the digest challenge and observe
///    `Seen::ChallengeSent`. A challenge not answered (no credentials from
///    that source) within `challenge_timeout` becomes a `ChallengeUnanswered`
///    event and counts toward the unanswered-challenge rule.
/// 4. Credentials: verify them ([`DigestAuth::verify`](crate::DigestAuth::verify))
///    and observe `Seen::Credentials { extension: username, outcome }`
///    (or `UnreadableCredentials` when the header could not be read). Act on
///    the report's response: `Accept`, `Challenge { stale }`, `Respond`,
///    `DropSilently`.
/// 5. Every report may also carry `Ban` (already placed on
///    [`bans`](Self::bans), which the daemon checks first thing per packet
///    and snapshots) and `LockExtension` decisions, and carries the
///    [`SecurityEvent`]s to log.
/// 6. When idle, call [`poll`](Self::poll) now and then so unanswered
///    challenges are judged even without traffic.
///
/// On a busy front door, keep one [`Report`] and call
/// [`observe_into`](Self::observe_into) instead of `observe`: the report's
/// memory is reused and the common path allocates nothing.
pub struct Tracker {
    rules: Rules,
    records: BoundedMap<IpAddr, SourceRecord>,
    bans: Arc<BanList<IpAddr>>,
    whitelist: Arc<Whitelist<IpAddr>>,
    /// The mask of an IPv6 source's `ipv6_prefix` (see [`fold`](Self::fold)).
    v6_mask: u128,
    hasher: RandomState,
    timeout: Duration,
    max_open: usize,
    /// Open challenges: deadline and the (canonical) address challenged.
    open_queue: VecDeque<(Instant, IpAddr)>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("open_challenges", &self.open_queue.len())
            .finish_non_exhaustive()
    }
}

fn check_rule(field: &'static str, limit: u32, window: Duration) -> TrackerResult<()> {
    if limit == 0 {
        return Err(TrackerError::Config {
            field,
            problem: "limit must be at least 1".into(),
        });
    }
    if window.is_zero() {
        return Err(TrackerError::Config {
            field,
            problem: "window must not be zero".into(),
        });
    }
    Ok(())
}

impl TryFrom<TrackerConfig> for Tracker {
    type Error = TrackerError;
    fn try_from(config: TrackerConfig) -> TrackerResult<Self> {
        Self::new(config)
    }
}

/// Who sent a packet, for the rest of an observation.
#[derive(Clone, Copy)]
struct At {
    /// The packet's source address, canonical (for the events).
    ip: IpAddr,
    /// Its key (folded).
    src: IpAddr,
    /// The source is whitelisted (never counted).
    listed: bool,
}

/// The answer to a request or credentials for an extension locked for the
/// source: 403 without `Retry-After` (the lock's end is not disclosed).
const LOCKED: Decision = Decision::Respond(Reject {
    reason: RejectReason::Forbidden,
    retry_after: None,
});

/// The detail of the event of a request refused by a lock.
const LOCKED_DETAIL: &str = "extension locked for this source";

/// What one probe of a source's record decided, applied after it.
#[derive(Clone, Copy, Default)]
struct Outcome {
    /// A per-source rule was reached: ban for this reason.
    ban: Option<BanReason>,
    /// The extension was locked for the source.
    locked: bool,
    /// The extension is locked for the source (checked on requests and
    /// credentials): refused, nothing counted.
    is_locked: bool,
}

/// Which per-source counter kept in [`Cold`] (the failed-auth one is
/// inline in the record: [`Rules::count_failed`]).
#[derive(Clone, Copy)]
enum Which {
    Unknown,
    Unanswered,
    Refused,
    Flood,
}

/// The rules a probe needs, copied out of the tracker so the record can be
/// borrowed mutably at the same time.
#[derive(Clone, Copy)]
struct Rules {
    failed: Option<Counted>,
    unknown: Option<Counted>,
    unanswered: Option<Counted>,
    refused: Option<Counted>,
    flood: Option<Counted>,
    lockout: Option<(WindowLimit, Duration)>,
    nat: Option<NatRule>,
    /// `failed` or `lockout` is on: a failed authentication is counted.
    counts_failures: bool,
}

impl Rules {
    const fn get(&self, which: Which) -> Option<&Counted> {
        match which {
            Which::Unknown => self.unknown.as_ref(),
            Which::Unanswered => self.unanswered.as_ref(),
            Which::Refused => self.refused.as_ref(),
            Which::Flood => self.flood.as_ref(),
        }
    }

    /// Counts one event under `which`; `true` when the source's limit (the
    /// raised one for a shared address) is reached.
    #[inline]
    fn count(&self, rec: &mut SourceRecord, which: Which, now: Instant) -> bool {
        let Some(c) = self.get(which) else {
            return false;
        };
        let n = now.as_nanos();
        let cold = rec.cold();
        let shared = match self.nat {
            Some(nat)
                if matches!(which, Which::Unknown | Which::Unanswered)
                    && cold.window(which).total() + 1 >= c.base.limit() =>
            {
                cold.nat.shared(nat.epoch(n), nat.min)
            }
            _ => false,
        };
        let limit = c.limit(shared);
        let reached = cold.window(which).hit(1, now, limit);
        rec.keep_until(n.saturating_add(limit.window_nanos()));
        reached
    }

    /// [`count`](Self::count) for the failed-auth rule, the hot path: its
    /// window is inline in the record.
    #[inline(always)]
    fn count_failed(&self, rec: &mut SourceRecord, now: Instant) -> bool {
        let Some(c) = &self.failed else {
            return false;
        };
        let n = now.as_nanos();
        // Whether the source is shared only matters once this event could
        // reach the base limit (the events held, expired ones included,
        // plus this one): below it, neither limit is reached. This keeps
        // the NAT state (out of line) and its epoch (a division) off the
        // common path.
        let shared = match self.nat {
            Some(nat) if rec.failed.total() + 1 >= c.base.limit() => rec.shared(nat, n),
            _ => false,
        };
        let limit = c.limit(shared);
        let reached = rec.failed.hit(&mut rec.cold, now, limit);
        rec.keep_until(n.saturating_add(limit.window_nanos()));
        reached
    }

    /// `true` when the lockout is on and `ext` is locked for the source of
    /// record `r`: credentials for it are then refused whatever their
    /// outcome, and not counted (the answer, 403, is the same for a right
    /// and a wrong password, so trying tells the sender nothing).
    #[inline(always)]
    fn locked(&self, r: &SourceRecord, ext: Option<u64>, now: Instant) -> bool {
        match ext {
            Some(ext) if self.lockout.is_some() => r.locked(ext, now.as_nanos()),
            _ => false,
        }
    }

    /// A failed attempt against `ext` (if named): the lockout window, then
    /// the per-source failed-auth count.
    #[inline(always)]
    fn failed(&self, rec: &mut SourceRecord, ext: Option<u64>, now: Instant) -> Outcome {
        let locked = match (ext, self.lockout) {
            (Some(ext), Some(_)) => self.lockout_failed(rec, ext, now),
            _ => false,
        };
        Outcome {
            ban: self.count_failed(rec, now).then_some(BanReason::FailedAuth),
            locked,
            is_locked: false,
        }
    }

    /// Credentials from the source of record `r`, verified with `outcome`
    /// (a `failure` to count, or not): answers one open challenge, then
    /// counts what the outcome counts.
    #[inline(never)]
    fn credentials(
        &self,
        r: &mut SourceRecord,
        outcome: DigestOutcome,
        failure: bool,
        ext: Option<u64>,
        now: Instant,
    ) -> Outcome {
        if r.answered < r.open {
            r.answered += 1;
        }
        let mut out = Outcome::default();
        if self.locked(r, ext, now) {
            out.is_locked = true;
        } else if outcome.is_ok() {
            if let (Some(nat), Some(ext)) = (self.nat, ext) {
                let n = now.as_nanos();
                let epoch = nat.epoch(n);
                r.cold().nat.success(epoch, (ext >> 32) as u32 | 1, nat.min);
                r.keep_until(epoch.saturating_add(2).saturating_mul(nat.period_ns));
            }
        } else if outcome == DigestOutcome::UnknownUser {
            // Counted per source as an unknown extension, and in the name's
            // lockout window as a wrong password would be: an unknown name
            // is locked as a known one is, so the lockout's 403 does not
            // tell which names exist.
            if let (Some(ext), Some(_)) = (ext, self.lockout) {
                out.locked = self.lockout_failed(r, ext, now);
            }
            if self.count(r, Which::Unknown, now) {
                out.ban = Some(BanReason::UnknownExtension);
            }
        } else if failure {
            out = self.failed(r, ext, now);
        }
        out
    }

    /// A failed answer to a challenge from the source of record `r` (just
    /// `found`): answers one open challenge, counts the failure.
    #[inline(always)]
    fn failure(
        &self,
        r: &mut SourceRecord,
        found: Found,
        ext: Option<u64>,
        now: Instant,
    ) -> Outcome {
        r.created(found, now);
        if r.answered < r.open {
            r.answered += 1;
        }
        if self.locked(r, ext, now) {
            return Outcome {
                is_locked: true,
                ..Outcome::default()
            };
        }
        self.failed(r, ext, now)
    }

    /// The lockout's part of [`failed`](Self::failed): counts the failure
    /// in the extension's window; `true` when that locked the extension
    /// for the source.
    #[inline(never)]
    fn lockout_failed(&self, rec: &mut SourceRecord, ext: u64, now: Instant) -> bool {
        let Some((limit, lock_for)) = self.lockout else {
            return false;
        };
        let n = now.as_nanos();
        let cold = rec.cold();
        let reached = cold.tries(ext).is_some_and(|w| w.hit(1, now, limit));
        let mut until = n.saturating_add(limit.window_nanos());
        if reached {
            let locked = n.saturating_add(u64::try_from(lock_for.as_nanos()).unwrap_or(u64::MAX));
            cold.lock(ext, n, locked);
            until = until.max(locked);
        }
        rec.keep_until(until);
        reached
    }
}

impl Tracker {
    /// Validates `config` and allocates every table (memory is fixed from
    /// here on).
    pub fn new(config: TrackerConfig) -> TrackerResult<Self> {
        let mut ban_config = config.ban.clone();
        ban_config.ipv6_prefix = config.ipv6_prefix;
        let bans = BanList::new(ban_config).map_err(|e| TrackerError::Config {
            field: "ban",
            problem: e.to_string(),
        })?;
        Self::with_ban_list(config, Arc::new(bans))
    }

    /// Like [`new`](Self::new) but banning on a ban list shared with the
    /// rest of the daemon (its whitelist is used too; `config.ban` is
    /// ignored).
    ///
    /// # Errors
    ///
    /// [`TrackerError::Config`] for a rule out of range (a limit of 0 or
    /// above `pbxsec_ratelimit::MAX_LIMIT`, a zero window), a zero
    /// `capacity`, `max_open_challenges` or `challenge_timeout`, a `nat`
    /// out of range, an `ipv6_prefix` over 128, and when the ban
    /// list folds addresses to longer prefixes than the tracker counts
    /// (IPv4 beyond /32 is impossible; IPv6 beyond `ipv6_prefix`): a source
    /// counted as a /64 must be banned as at least that /64, or an attacker
    /// rotating inside it would escape the ban. A shorter ban prefix (ban
    /// the /48 a /64 is counted in) is allowed.
    pub fn with_ban_list(config: TrackerConfig, bans: Arc<BanList<IpAddr>>) -> TrackerResult<Self> {
        if config.ipv6_prefix > 128 {
            return Err(TrackerError::Config {
                field: "ipv6_prefix",
                problem: format!("{} is longer than 128", config.ipv6_prefix),
            });
        }
        let banned_as = bans.config().ipv6_prefix;
        if banned_as > config.ipv6_prefix {
            return Err(TrackerError::Config {
                field: "ipv6_prefix",
                problem: format!(
                    "the ban list bans IPv6 sources as /{banned_as}, longer than the /{} they are counted as",
                    config.ipv6_prefix
                ),
            });
        }
        if config.challenge_timeout.is_zero() {
            return Err(TrackerError::Config {
                field: "challenge_timeout",
                problem: "must not be zero".into(),
            });
        }
        if config.capacity == 0 || config.max_open_challenges == 0 {
            return Err(TrackerError::Config {
                field: "capacity",
                problem: "must be at least 1".into(),
            });
        }
        if let Some(n) = &config.nat {
            if n.min_extensions < 2
                || n.min_extensions > MAX_NAT_MIN_EXTENSIONS
                || n.factor == 0
                || n.period.is_zero()
            {
                return Err(TrackerError::Config {
                    field: "nat",
                    problem: format!(
                        "min_extensions must be within 2..={MAX_NAT_MIN_EXTENSIONS}, factor at least 1, period not zero"
                    ),
                });
            }
        }
        let factor = config.nat.as_ref().map_or(1, |n| n.factor);
        let counted = |field: &'static str, rule: &Option<Rule>, raise: bool| {
            rule.as_ref()
                .map(|r| Counted::new(field, r, if raise { factor } else { 1 }))
                .transpose()
        };
        let failed = counted("failed_auth", &config.failed_auth, true)?;
        let unknown = counted("unknown_extension", &config.unknown_extension, true)?;
        let unanswered = counted("unanswered_challenge", &config.unanswered_challenge, true)?;
        let refused = counted("refused", &config.refused, false)?;
        let flood = counted("flood", &config.flood, false)?;
        let lockout = match &config.extension_lockout {
            Some(l) => {
                check_rule("extension_lockout", l.limit, l.window)?;
                // Not cleared on reach: see `Cold::tries`.
                let limit = WindowLimit::new(l.limit, l.window, false).map_err(|e| {
                    TrackerError::Config {
                        field: "extension_lockout",
                        problem: e.to_string(),
                    }
                })?;
                Some((limit, l.lock_for))
            }
            None => None,
        };
        let records = BoundedMap::new(config.capacity).map_err(|e| TrackerError::Config {
            field: "capacity",
            problem: e.to_string(),
        })?;
        let nat = config.nat.as_ref().map(|n| NatRule {
            min: n.min_extensions,
            period_ns: u64::try_from(n.period.as_nanos()).unwrap_or(u64::MAX),
        });
        Ok(Self {
            rules: Rules {
                failed,
                unknown,
                unanswered,
                refused,
                flood,
                counts_failures: failed.is_some() || lockout.is_some(),
                lockout,
                nat,
            },
            records,
            whitelist: bans.whitelist(),
            bans,
            v6_mask: u128::MAX
                .checked_shl(128 - u32::from(config.ipv6_prefix))
                .unwrap_or(0),
            hasher: RandomState::new(),
            timeout: config.challenge_timeout,
            max_open: config.max_open_challenges,
            open_queue: VecDeque::new(),
        })
    }

    /// The ban list the tracker bans on: check it first thing per packet,
    /// snapshot it, share it.
    pub fn bans(&self) -> &Arc<BanList<IpAddr>> {
        &self.bans
    }

    /// The key a source is counted and banned under, from its canonical
    /// address: an IPv4 one whole, an IPv6 one cut to `ipv6_prefix`
    /// (what `IpFold::new(32, ipv6_prefix).fold_ip` does, with the mask
    /// computed once).
    #[inline(always)]
    fn fold(&self, canonical: IpAddr) -> IpAddr {
        match canonical {
            IpAddr::V4(_) => canonical,
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & self.v6_mask)),
        }
    }

    /// An extension's key (never 0): a keyed hash (its identity: locks,
    /// NAT fingerprints), whose low three bits are replaced by the index
    /// of its failure window ([`ext_window`]).
    fn ext_hash(&self, extension: &str) -> u64 {
        let id = (self.hasher.hash_one(extension) & !WINDOW_BITS) | ext_window(extension);
        if id == 0 { WINDOW_BITS + 1 } else { id }
    }

    /// `true` when `extension` is locked for `source` at `now`.
    pub fn is_locked(&self, source: IpAddr, extension: &str, now: Instant) -> bool {
        let src = self.fold(canonical_ip(source));
        let ext = self.ext_hash(extension);
        self.records
            .get(&src, |r| r.locked(ext, now.as_nanos()))
            .unwrap_or(false)
    }

    /// `true` when `source` counts as a shared (NAT) address at `now`:
    /// at least `nat.min_extensions` distinct extensions authenticated from
    /// it in the current or previous NAT period.
    pub fn is_shared_address(&self, source: IpAddr, now: Instant) -> bool {
        let src = self.fold(canonical_ip(source));
        let Some(nat) = self.rules.nat else {
            return false;
        };
        self.records
            .get(&src, |r| r.shared(nat, now.as_nanos()))
            .unwrap_or(false)
    }

    /// Challenges awaiting an answer.
    pub fn open_challenges(&self) -> usize {
        self.open_queue.len()
    }

    /// The most sources tracked at once (the configured capacity × 1.5,
    /// rounded up to whole buckets).
    pub fn source_slots(&self) -> usize {
        self.records.slots()
    }

    /// Judges the challenges whose time ran out (call it now and then when
    /// idle; [`observe`](Self::observe) does it too).
    pub fn poll(&mut self, now: Instant, wall: UnixTime) -> Report {
        let mut report = Report::new();
        self.expire(now, wall, &mut report);
        report
    }

    /// [`poll`](Self::poll) into a report that is cleared first.
    pub fn poll_into(&mut self, now: Instant, wall: UnixTime, report: &mut Report) {
        report.clear();
        self.expire(now, wall, report);
    }

    /// Bans the source at canonical address `ip` (the ban list folds it
    /// and checks it against the whitelist: the address, not its key).
    fn ban(
        &self,
        key: IpAddr,
        reason: BanReason,
        now: Instant,
        wall: UnixTime,
        report: &mut Report,
    ) {
        let rule = match reason {
            BanReason::FailedAuth => &self.rules.failed,
            BanReason::UnknownExtension => &self.rules.unknown,
            BanReason::UnansweredChallenges => &self.rules.unanswered,
            BanReason::Refused => &self.rules.refused,
            BanReason::Flood => &self.rules.flood,
        };
        let Some(rule) = rule else { return };
        let clock = Frozen { now, wall };
        let text = match reason {
            BanReason::FailedAuth => "too many failed SIP authentications",
            BanReason::UnknownExtension => "too many unknown extensions",
            BanReason::UnansweredChallenges => "too many unanswered SIP challenges",
            BanReason::Refused => "too many refused registrations",
            BanReason::Flood => "too many SIP requests",
        };
        if let BanOutcome::Banned(change) =
            self.bans
                .ban_for(&key, rule.ban_for, text, reason.as_str(), &clock)
        {
            let duration = match change.change {
                BanAction::Ban { until, .. } => until.map(|u| u.saturating_duration_since(wall)),
                BanAction::Unban { .. } => Some(Duration::ZERO),
            };
            report.decisions.push(Decision::Ban {
                key: change.key,
                duration,
                reason,
            });
            report.ip_event(wall, EventKind::Banned, change.key, Some(reason.as_str()));
        }
    }

    /// Judges the challenges whose time ran out, if any.
    #[inline]
    fn expire(&mut self, now: Instant, wall: UnixTime, report: &mut Report) {
        match self.open_queue.front() {
            None => {}
            Some(&(deadline, _)) if deadline > now && self.open_queue.len() <= self.max_open => {}
            Some(_) => self.expire_due(now, wall, report),
        }
    }

    #[inline(never)]
    fn expire_due(&mut self, now: Instant, wall: UnixTime, report: &mut Report) {
        while let Some(&(deadline, ip)) = self.open_queue.front() {
            if deadline > now && self.open_queue.len() <= self.max_open {
                break;
            }
            self.open_queue.pop_front();
            let src = self.fold(ip);
            let rules = &self.rules;
            let sent = deadline
                .as_nanos()
                .saturating_sub(u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX));
            // The record may have been evicted meanwhile (its challenges
            // are then forgotten, like its counts, also when the source has
            // a new record since).
            let judged = self.records.get_mut(&src, |r| {
                if r.open == 0 || sent < r.since {
                    return None;
                }
                r.open -= 1;
                if r.answered > 0 {
                    r.answered -= 1;
                    return None;
                }
                Some(rules.count(r, Which::Unanswered, now))
            });
            if let Some(Some(reached)) = judged {
                report.ip_event(wall, EventKind::ChallengeUnanswered, ip, None);
                if reached {
                    self.ban(ip, BanReason::UnansweredChallenges, now, wall, report);
                }
            }
        }
    }

    /// Feeds one observation and returns what to do. See [`Tracker`] for
    /// the order of calls.
    pub fn observe(&mut self, p: &Packet, seen: Seen<'_>) -> Report {
        let mut report = Report::new();
        self.observe_into(p, seen, &mut report);
        report
    }

    /// [`observe`](Self::observe) into a report that is cleared first and
    /// whose memory is reused: one hash and one probe of the source's record
    /// (plus the ban list check), and no allocation on the common path once
    /// the report has been used.
    pub fn observe_into(&mut self, p: &Packet, seen: Seen<'_>, report: &mut Report) {
        self.observe_unfinished(p, seen, report);
        report.finish();
    }

    /// [`observe_into`](Self::observe_into) for a batch of observations
    /// (the datagrams of one `recvmmsg`, say): `reports` is resized to
    /// `batch.len()` (allocating only when it grows) and `reports[i]` is
    /// exactly what `observe_into` would have written for `batch[i]`,
    /// the observations taken in order.
    ///
    /// Faster per observation with many tracked sources (a table over
    /// 8 MiB; a smaller one is simply walked one observation at a time):
    /// [`BATCH`] at a time, every observation's record loads are
    /// started (`BoundedMap::start_batch_mut`) before any is processed, so
    /// their cache misses overlap instead of following one another. A record
    /// started before an earlier observation of the batch changed the
    /// table is only a hint: it is checked again, and looked up in full if
    /// it moved.
    pub fn observe_batch(&mut self, batch: &[(Packet, Seen<'_>)], reports: &mut Vec<Report>) {
        reports.truncate(batch.len());
        reports.resize_with(batch.len(), Report::new);
        if !self.records.batches() {
            // In cache, misses do not dominate: one at a time is faster.
            for ((p, seen), report) in batch.iter().zip(reports.iter_mut()) {
                self.observe_into(p, *seen, report);
            }
            return;
        }
        for (chunk, outs) in batch.chunks(BATCH).zip(reports.chunks_mut(BATCH)) {
            let keys: [Option<IpAddr>; BATCH] = std::array::from_fn(|i| {
                let (p, seen) = chunk.get(i)?;
                let (_, src, probes) = self.key_of(p, *seen);
                probes.then_some(src)
            });
            let started = self.records.start_batch_mut(&keys);
            for ((p, seen), (report, started)) in chunk.iter().zip(outs.iter_mut().zip(&started)) {
                let (ip, src, _) = self.key_of(p, *seen);
                self.observe_started(p, *seen, ip, src, started.as_ref(), report);
                report.finish();
            }
        }
    }

    /// The source's canonical address (for the events), its key (folded),
    /// and whether the observation uses its record.
    #[inline(always)]
    fn key_of(&self, p: &Packet, seen: Seen<'_>) -> (IpAddr, IpAddr, bool) {
        let probes = match seen {
            Seen::Credentials { .. } => true,
            _ => self.probes(seen),
        };
        let ip = canonical_ip(p.source.ip());
        (ip, self.fold(ip), probes)
    }

    /// [`observe_into`](Self::observe_into) but for the report's
    /// [`finish`](Report::finish).
    #[inline(always)]
    fn observe_unfinished(&mut self, p: &Packet, seen: Seen<'_>, report: &mut Report) {
        let (ip, src, probes) = self.key_of(p, seen);
        // The record's loads first (with many sources, a cache miss), so
        // the work below that does not need it (the ban and whitelist
        // checks, the event, the response) runs while it is on its way.
        let started = probes.then(|| self.records.start_mut(&src));
        self.observe_started(p, seen, ip, src, started.as_ref(), report);
    }

    /// The rest of [`observe_unfinished`](Self::observe_unfinished), with
    /// the record's loads started (if it uses the record).
    #[inline(always)]
    fn observe_started(
        &mut self,
        p: &Packet,
        seen: Seen<'_>,
        ip: IpAddr,
        src: IpAddr,
        started: Option<&Started<IpAddr>>,
        report: &mut Report,
    ) {
        let response = match seen {
            Seen::Credentials { outcome, .. } => credentials_response(outcome),
            _ => first_response(seen),
        };
        report.reset(response);
        self.expire(p.now, p.wall, report);
        // The address itself, not its key: a whitelisted address inside a
        // banned IPv6 prefix stays clear (the ban list folds it, and checks
        // the whitelist for the address and for the prefix).
        if self.bans.check(&ip, p.now).is_banned() {
            report.set_response(Decision::DropSilently);
            return;
        }
        // One load when nothing is whitelisted (the usual case). The
        // address itself: a whitelisted /128 inside a /64 exempts that
        // address, not its neighbours (nor, as a check of the key would,
        // the whole /64 when it holds the prefix's first address).
        let listed = !self.whitelist.is_empty() && self.whitelist.contains(&ip);
        let at = At { ip, src, listed };
        match seen {
            // The common counted case (credentials checked); the others in
            // a function of their own, so that their code does not weigh on
            // it.
            Seen::Credentials { extension, outcome } => {
                self.observe_credentials(p, at, started, extension, outcome, report);
            }
            _ => self.observe_other(p, at, started, seen, report),
        }
    }

    /// The rest of [`observe_into`](Self::observe_into) for
    /// `Seen::Credentials`.
    #[inline(always)]
    fn observe_credentials(
        &mut self,
        p: &Packet,
        at: At,
        started: Option<&Started<IpAddr>>,
        extension: &str,
        outcome: DigestOutcome,
        report: &mut Report,
    ) {
        let At { ip, src, listed } = at;
        report.packet_event(p, ip, outcome.event_kind(), Some(extension));
        if listed {
            return;
        }
        let rules = &self.rules;
        let now = p.now;
        let failure = !matches!(
            outcome,
            DigestOutcome::Ok { .. }
                | DigestOutcome::StaleNonce
                | DigestOutcome::InvalidNonce(_)
                | DigestOutcome::UnknownUser
        );
        let out = if failure && rules.counts_failures {
            // The common counted case (a wrong password), apart so
            // that it stays small.
            let ext = rules.lockout.is_some().then(|| self.ext_hash(extension));
            record_entry(&mut self.records, started, &src, now, move |r, found| {
                rules.failure(r, found, ext, now)
            })
        } else {
            self.other_credentials(src, started, extension, outcome, failure, now)
        };
        self.apply(src, Some(extension), out, p, report);
    }

    /// The rest of [`observe_credentials`](Self::observe_credentials) for
    /// everything but a counted failure: a success, a stale nonce, an
    /// unknown user, or a failure that no rule counts.
    #[inline(never)]
    fn other_credentials(
        &mut self,
        src: IpAddr,
        started: Option<&Started<IpAddr>>,
        extension: &str,
        outcome: DigestOutcome,
        failure: bool,
        now: Instant,
    ) -> Outcome {
        let rules = &self.rules;
        let needs_ext = rules.lockout.is_some() || (outcome.is_ok() && rules.nat.is_some());
        let ext = needs_ext.then(|| self.ext_hash(extension));
        let creates = (outcome.is_ok() && rules.nat.is_some())
            || (outcome == DigestOutcome::UnknownUser
                && (rules.unknown.is_some() || rules.lockout.is_some()))
            || (failure && rules.counts_failures);
        if creates {
            record_entry(&mut self.records, started, &src, now, |r, found| {
                r.created(found, now);
                rules.credentials(r, outcome, failure, ext, now)
            })
        } else {
            record_get(&mut self.records, started, &src, |r| {
                rules.credentials(r, outcome, failure, ext, now)
            })
            .unwrap_or_default()
        }
    }

    /// The rest of [`observe_into`](Self::observe_into) for everything but
    /// `Seen::Credentials`.
    #[inline(never)]
    fn observe_other(
        &mut self,
        p: &Packet,
        at: At,
        started: Option<&Started<IpAddr>>,
        seen: Seen<'_>,
        report: &mut Report,
    ) {
        let At { ip, src, listed } = at;
        let rules = &self.rules;
        let now = p.now;
        match seen {
            Seen::Request { extension } => {
                if listed {
                    return;
                }
                let ext = match (extension, self.rules.lockout) {
                    (Some(x), Some(_)) => Some(self.ext_hash(x)),
                    _ => None,
                };
                let probe = |r: &mut SourceRecord| {
                    let mut out = Outcome::default();
                    if rules.count(r, Which::Flood, now) {
                        out.ban = Some(BanReason::Flood);
                    } else if let Some(ext) = ext {
                        out.is_locked = r.locked(ext, now.as_nanos());
                    }
                    out
                };
                let out = if rules.flood.is_some() {
                    record_entry(&mut self.records, started, &src, now, |r, found| {
                        r.created(found, now);
                        probe(r)
                    })
                } else if ext.is_some() {
                    record_get(&mut self.records, started, &src, probe).unwrap_or_default()
                } else {
                    return;
                };
                if let Some(reason) = out.ban {
                    self.ban(ip, reason, now, p.wall, report);
                    report.set_response(Decision::DropSilently);
                } else if out.is_locked {
                    report.set_response(LOCKED);
                    report.packet_event(p, ip, EventKind::RequestNotAllowed, extension);
                    report.detail(LOCKED_DETAIL);
                }
            }
            Seen::ChallengeSent => {
                report.packet_event(p, ip, EventKind::ChallengeSent, None);
                if !listed && rules.unanswered.is_some() {
                    self.open_queue.push_back((now + self.timeout, ip));
                    record_entry(&mut self.records, started, &src, now, |r, found| {
                        r.created(found, now);
                        r.open = r.open.saturating_add(1);
                    });
                    self.expire(now, p.wall, report);
                }
            }
            // `observe_into` sends these to `observe_credentials`.
            Seen::Credentials { .. } => {}
            Seen::UnreadableCredentials { extension } => {
                report.packet_event(p, ip, EventKind::RequestBadFormat, extension);
                if listed {
                    return;
                }
                let ext = match (extension, rules.lockout) {
                    (Some(x), Some(_)) => Some(self.ext_hash(x)),
                    _ => None,
                };
                let out = record_entry(&mut self.records, started, &src, now, |r, found| {
                    rules.failure(r, found, ext, now)
                });
                self.apply(src, extension, out, p, report);
            }
            Seen::AddressNotAllowed { extension } | Seen::UserAgentNotAllowed { extension } => {
                // An extension's own address restriction is an access
                // control list (Asterisk's endpoint `acl`: `FailedACL`).
                let kind = if matches!(seen, Seen::AddressNotAllowed { .. }) {
                    EventKind::FailedAcl
                } else {
                    EventKind::RequestNotAllowed
                };
                report.packet_event(p, ip, kind, Some(extension));
                if !listed {
                    self.count_source(at, started, Which::Refused, p, report);
                }
            }
            Seen::UnknownExtension { extension } => {
                report.packet_event(p, ip, EventKind::InvalidAccountId, Some(extension));
                if !listed {
                    self.count_source(at, started, Which::Unknown, p, report);
                }
            }
            Seen::ForeignDomain => {
                report.packet_event(p, ip, EventKind::UnknownDomain, None);
            }
        }
    }

    /// Counts one event of a per-source rule kept in [`Cold`] (if it is
    /// on), and bans the source and drops the packet when that reaches the
    /// limit.
    fn count_source(
        &mut self,
        at: At,
        started: Option<&Started<IpAddr>>,
        which: Which,
        p: &Packet,
        report: &mut Report,
    ) {
        let rules = &self.rules;
        if rules.get(which).is_none() {
            return;
        }
        let now = p.now;
        let reached = record_entry(&mut self.records, started, &at.src, now, |r, found| {
            r.created(found, now);
            rules.count(r, which, now)
        });
        if reached {
            let reason = match which {
                Which::Unknown => BanReason::UnknownExtension,
                Which::Unanswered => BanReason::UnansweredChallenges,
                Which::Refused => BanReason::Refused,
                Which::Flood => BanReason::Flood,
            };
            self.ban(at.ip, reason, now, p.wall, report);
            report.set_response(Decision::DropSilently);
        }
    }

    /// Whether observing `seen` may read the source's record (then
    /// [`observe_into`](Self::observe_into) starts loading it first).
    #[inline]
    fn probes(&self, seen: Seen<'_>) -> bool {
        match seen {
            Seen::Request { extension } => {
                self.rules.flood.is_some() || (extension.is_some() && self.rules.lockout.is_some())
            }
            Seen::ChallengeSent => self.rules.unanswered.is_some(),
            Seen::Credentials { .. } | Seen::UnreadableCredentials { .. } => true,
            Seen::AddressNotAllowed { .. } | Seen::UserAgentNotAllowed { .. } => {
                self.rules.refused.is_some()
            }
            Seen::UnknownExtension { .. } => self.rules.unknown.is_some(),
            Seen::ForeignDomain => false,
        }
    }

    /// Applies what a probe of credentials decided: a lock in force (403,
    /// the event relabelled), else the lock just placed (403 with
    /// `Retry-After`), then the ban (`DropSilently`).
    #[inline]
    fn apply(
        &self,
        src: IpAddr,
        extension: Option<&str>,
        out: Outcome,
        p: &Packet,
        report: &mut Report,
    ) {
        if out.is_locked || out.locked || out.ban.is_some() {
            self.apply_decided(src, extension, out, p, report);
        }
    }

    #[inline(never)]
    fn apply_decided(
        &self,
        src: IpAddr,
        extension: Option<&str>,
        out: Outcome,
        p: &Packet,
        report: &mut Report,
    ) {
        if out.is_locked {
            report.set_response(LOCKED);
            report.relabel(EventKind::RequestNotAllowed, LOCKED_DETAIL);
            return;
        }
        if out.locked {
            if let (Some(ext), Some((_, lock_for))) = (extension, self.rules.lockout) {
                report.decisions.push(Decision::LockExtension {
                    source: src,
                    extension: ext.to_owned(),
                    duration: lock_for,
                });
                let ip = canonical_ip(p.source.ip());
                report.packet_event(p, ip, EventKind::ExtensionLocked, Some(ext));
                report.set_response(Decision::Respond(Reject {
                    reason: RejectReason::Forbidden,
                    retry_after: Some(lock_for),
                }));
            }
        }
        if let Some(reason) = out.ban {
            self.ban(canonical_ip(p.source.ip()), reason, p.now, p.wall, report);
            report.set_response(Decision::DropSilently);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use proptest::prelude::*;

    /// The reference: every event's time, and the exact rule.
    fn model_hit(events: &mut Vec<u64>, now: u64, limit: u64, window: u64) -> bool {
        let in_window = events
            .iter()
            .filter(|&&t| now.saturating_sub(t) < window)
            .count() as u64;
        if in_window + 1 >= limit {
            events.clear();
            true
        } else {
            events.push(now);
            false
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The inline-then-spilled window decides exactly as the model, and
        /// holds exactly the events in the window (fewer than the limit), with
        /// `spilled` matching its FIFO.
        #[test]
        fn events_match_the_exact_model(
            limit in 1u32..=70,
            window in 1u64..=2_000,
            // Also from the clock's start, where `now` is below the window.
            start in prop_oneof![Just(0u64), 0u64..=3_000, Just(1_000_000)],
            steps in proptest::collection::vec(
                prop_oneof![4 => 0u64..=20, 2 => 0u64..=400, 1 => 0u64..=5_000],
                0..400,
            ),
        ) {
            let rule = WindowLimit::new(limit, Duration::from_nanos(window), true).unwrap();
            let mut ev = Events::default();
            let mut cold: Option<Box<Cold>> = None;
            let mut model = Vec::new();
            let mut now = start;
            for step in steps {
                now += step;
                let want = model_hit(&mut model, now, u64::from(limit), window);
                let got = ev.hit(&mut cold, Instant::from_nanos(now), rule);
                prop_assert_eq!(got, want, "at {}", now);
                prop_assert!(ev.total() < u64::from(limit));
                prop_assert!(usize::from(ev.len) <= INLINE_EVENTS);
                let spill = cold.as_ref().map_or(0, |c| c.spill.len());
                prop_assert_eq!(u64::from(ev.spilled), spill as u64);
                prop_assert!(ev.spilled == 0 || ev.len > 0, "spilled events with an empty inline ring");
                // Exactly the events in the window are held (the expired
                // ones were all dropped before counting).
                let live = model.iter().filter(|&&t| now.saturating_sub(t) < window).count();
                prop_assert_eq!(ev.total(), live as u64);
            }
        }
    }

    #[test]
    fn a_burst_beyond_the_inline_events_spills_and_comes_back_inline() {
        let rule = WindowLimit::new(50, Duration::from_nanos(1_000), true).unwrap();
        let mut ev = Events::default();
        let mut cold = None;
        for i in 0..30 {
            assert!(!ev.hit(&mut cold, Instant::from_nanos(1_000 + i), rule));
        }
        assert_eq!(ev.total(), 30);
        assert_eq!(usize::from(ev.len), INLINE_EVENTS);
        assert_eq!(ev.spilled as usize, 30 - INLINE_EVENTS);
        // The 19 inline ones (1_000..=1_018) have left the window at 2_018:
        // the 11 spilled come back inline, and this one joins them there.
        assert!(!ev.hit(&mut cold, Instant::from_nanos(2_018), rule));
        assert_eq!(ev.total(), 12);
        assert_eq!(ev.spilled, 0);
        assert_eq!(ev.len, 12);
        // 49 events within the window, then the 50th reaches the limit.
        for _ in 0..37 {
            assert!(!ev.hit(&mut cold, Instant::from_nanos(2_018), rule));
        }
        assert_eq!(ev.total(), 49);
        assert!(ev.spilled > 0);
        assert!(ev.hit(&mut cold, Instant::from_nanos(2_018), rule));
        assert_eq!(ev.total(), 0);
        assert_eq!(cold.as_ref().unwrap().spill.capacity(), 0);
        // A buffer left from an earlier spill is freed on reach too.
        for i in 0..25 {
            assert!(!ev.hit(&mut cold, Instant::from_nanos(3_000 + i), rule));
        }
        assert!(!ev.hit(&mut cold, Instant::from_nanos(4_019), rule));
        assert_eq!((ev.spilled, ev.len), (0, 6));
        assert!(cold.as_ref().unwrap().spill.capacity() > 0);
        // Reached with nothing spilled (a lower limit on the same window).
        let low = WindowLimit::new(8, Duration::from_nanos(1_000), true).unwrap();
        assert!(!ev.hit(&mut cold, Instant::from_nanos(4_019), low));
        assert!(ev.hit(&mut cold, Instant::from_nanos(4_019), low));
        assert_eq!(ev.total(), 0);
        assert_eq!(cold.as_ref().unwrap().spill.capacity(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The tracker's own folding (mask computed once) is the ban
        /// list's: `IpFold::new(32, ipv6_prefix)` of the canonical address.
        #[test]
        fn fold_is_ipfold_of_the_canonical_address(
            prefix in 0u8..=128,
            addrs in proptest::collection::vec((0u8..3, any::<u32>(), any::<u128>()), 1..16),
        ) {
            let tracker = Tracker::new(TrackerConfig {
                ipv6_prefix: prefix,
                capacity: 16,
                max_open_challenges: 16,
                ..TrackerConfig::default()
            })
            .unwrap();
            let fold = pbxsec_ratelimit::IpFold::new(32, prefix);
            for (kind, v4, bits) in addrs {
                let ip = match kind {
                    0 => IpAddr::V4(std::net::Ipv4Addr::from(v4)),
                    1 => IpAddr::V6(std::net::Ipv4Addr::from(v4).to_ipv6_mapped()),
                    _ => IpAddr::V6(Ipv6Addr::from_bits(bits)),
                };
                prop_assert_eq!(tracker.fold(canonical_ip(ip)), fold.fold_ip(ip));
            }
        }
    }

    #[test]
    fn the_record_is_three_cache_lines() {
        assert_eq!(size_of::<SourceRecord>(), 192);
        assert_eq!(align_of::<SourceRecord>(), 64);
    }

    #[test]
    fn the_cold_part_is_the_size_the_readme_says() {
        // README, "Memory bound".
        assert_eq!(size_of::<Cold>(), 880);
    }
}
