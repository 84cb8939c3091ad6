//! The auth-failure tracker: turns what the SIP front door saw and did into
//! counted security events, bans per source and lockouts per extension.
//!
//! See [`Tracker`] for how to drive it and the crate README for the rules,
//! the NAT treatment and the memory bound.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::{
    Clock, EventKind, Instant, Reject, RejectReason, SecurityEvent, Service, Transport, UnixTime,
};
use pbxsec_ratelimit::{
    BanAction, BanConfig, BanList, BanOutcome, Escalation, IpFold, Recidive, ThresholdConfig,
    ThresholdCounter, ThresholdDecision, Whitelist,
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
    /// count as a shared address. Default 3, at least 2.
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
    /// How long a challenge may stay unanswered (default 32 s).
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
    /// source (Yeastar).
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The response decision first, then bans and locks (also for other
    /// sources whose challenges timed out meanwhile).
    pub decisions: Vec<Decision>,
    /// Security events to log, Asterisk-named.
    pub events: Vec<SecurityEvent>,
}

impl Report {
    fn new(first: Decision) -> Self {
        Self {
            decisions: vec![first],
            events: Vec::new(),
        }
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

    fn set_response(&mut self, d: Decision) {
        if let Some(first) = self.decisions.first_mut() {
            *first = d;
        }
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

/// A per-source counter with its rule. With the NAT treatment on, the
/// counter's limit is the raised one and the base limit is read from the
/// exact total it reports, so one lookup serves both.
struct Counted {
    rule: Rule,
    counter: ThresholdCounter<IpAddr>,
    /// The raised limit, when the NAT treatment applies to this rule.
    raised: Option<u64>,
}

impl Counted {
    fn new(
        field: &'static str,
        rule: &Rule,
        nat: Option<&NatConfig>,
        fold: u8,
        capacity: usize,
        whitelist: &Arc<Whitelist<IpAddr>>,
    ) -> TrackerResult<Self> {
        let raised = nat.filter(|n| n.factor > 1).map(|n| {
            rule.limit
                .saturating_mul(n.factor)
                .min(pbxsec_ratelimit::MAX_LIMIT)
        });
        let mut c =
            ThresholdConfig::new(raised.unwrap_or(rule.limit), rule.window).with_capacity(capacity);
        c.ipv6_prefix = fold;
        let counter = ThresholdCounter::new(c)
            .map(|t| t.with_whitelist(Arc::clone(whitelist)))
            .map_err(|e| TrackerError::Config {
                field,
                problem: e.to_string(),
            })?;
        Ok(Self {
            rule: rule.clone(),
            counter,
            raised: raised.map(u64::from),
        })
    }

    /// Records one event; `true` when the limit for this source is reached
    /// (the raised one if `shared` says the source is a shared address;
    /// `shared` is only asked when the base limit is reached).
    fn record(&self, key: &IpAddr, now: Instant, shared: impl FnOnce() -> bool) -> bool {
        match self.counter.record(key, 1, now) {
            ThresholdDecision::Reached { .. } => true,
            ThresholdDecision::Below { total } => {
                if self.raised.is_some() && total >= u64::from(self.rule.limit) && !shared() {
                    self.counter.reset(key);
                    true
                } else {
                    false
                }
            }
            ThresholdDecision::Whitelisted => false,
        }
    }
}

/// Open-challenge bookkeeping for one source.
#[derive(Clone, Copy, Default)]
struct Open {
    open: u32,
    answered: u32,
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
pub struct Tracker {
    failed: Option<Counted>,
    unknown: Option<Counted>,
    unanswered: Option<Counted>,
    refused: Option<Counted>,
    flood: Option<Counted>,
    lockout: Option<(LockoutRule, ThresholdCounter<(IpAddr, u64)>)>,
    locks: BanList<(IpAddr, u64)>,
    bans: Arc<BanList<IpAddr>>,
    whitelist: Arc<Whitelist<IpAddr>>,
    nat: Option<NatState>,
    fold: IpFold,
    hasher: RandomState,
    timeout: Duration,
    max_open: usize,
    open_queue: VecDeque<(Instant, IpAddr)>,
    open: HashMap<IpAddr, Open>,
}

/// Distinct successful extensions per source, counted per epoch.
struct NatState {
    config: NatConfig,
    period_ns: u64,
    /// (source, extension, epoch) → successes; only "was there one" is read.
    pairs: ThresholdCounter<(IpAddr, u64, u64)>,
    /// (source, epoch) → distinct extensions that succeeded.
    distinct: ThresholdCounter<(IpAddr, u64)>,
}

impl NatState {
    fn epoch(&self, now: Instant) -> u64 {
        now.as_nanos() / self.period_ns.max(1)
    }

    fn success(&self, source: IpAddr, ext: u64, now: Instant) {
        let epoch = self.epoch(now);
        if self.pairs.count(&(source, ext, epoch), now) == 0 {
            self.distinct.record(&(source, epoch), 1, now);
        }
        self.pairs.record(&(source, ext, epoch), 1, now);
    }

    fn shared(&self, source: IpAddr, now: Instant) -> bool {
        let epoch = self.epoch(now);
        let min = u64::from(self.config.min_extensions);
        self.distinct.count(&(source, epoch), now) >= min
            || (epoch > 0 && self.distinct.count(&(source, epoch - 1), now) >= min)
    }
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
    pub fn with_ban_list(config: TrackerConfig, bans: Arc<BanList<IpAddr>>) -> TrackerResult<Self> {
        if config.ipv6_prefix > 128 {
            return Err(TrackerError::Config {
                field: "ipv6_prefix",
                problem: format!("{} is longer than 128", config.ipv6_prefix),
            });
        }
        if config.capacity == 0 || config.max_open_challenges == 0 {
            return Err(TrackerError::Config {
                field: "capacity",
                problem: "must be at least 1".into(),
            });
        }
        if let Some(n) = &config.nat {
            if n.min_extensions < 2 || n.factor == 0 || n.period.is_zero() {
                return Err(TrackerError::Config {
                    field: "nat",
                    problem:
                        "min_extensions must be at least 2, factor at least 1, period not zero"
                            .into(),
                });
            }
        }
        let whitelist = bans.whitelist();
        let fold = config.ipv6_prefix;
        let cap = config.capacity;
        let nat = config.nat.as_ref();
        let counted = |field: &'static str, rule: &Option<Rule>, raise: bool| {
            rule.as_ref()
                .map(|r| {
                    check_rule(field, r.limit, r.window)?;
                    Counted::new(
                        field,
                        r,
                        if raise { nat } else { None },
                        fold,
                        cap,
                        &whitelist,
                    )
                })
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
                let c = ThresholdConfig::new(l.limit, l.window).with_capacity(cap);
                let counter = ThresholdCounter::new(c).map_err(|e| TrackerError::Config {
                    field: "extension_lockout",
                    problem: e.to_string(),
                })?;
                Some((l.clone(), counter))
            }
            None => None,
        };
        let locks = BanList::new(BanConfig {
            capacity: cap,
            ..BanConfig::default()
        })
        .map_err(|e| TrackerError::Config {
            field: "capacity",
            problem: e.to_string(),
        })?;
        let nat = match config.nat {
            Some(n) => {
                let window = n.period.saturating_mul(2);
                let mk = |limit: u32| {
                    ThresholdConfig::new(limit, window)
                        .with_capacity(cap)
                        .with_clear_on_reach(false)
                };
                let err = |e: pbxsec_ratelimit::Error| TrackerError::Config {
                    field: "nat",
                    problem: e.to_string(),
                };
                Some(NatState {
                    period_ns: u64::try_from(n.period.as_nanos()).unwrap_or(u64::MAX),
                    pairs: ThresholdCounter::new(mk(2)).map_err(err)?,
                    distinct: ThresholdCounter::new(mk(n.min_extensions)).map_err(err)?,
                    config: n,
                })
            }
            None => None,
        };
        Ok(Self {
            failed,
            unknown,
            unanswered,
            refused,
            flood,
            lockout,
            locks,
            bans,
            whitelist,
            nat,
            fold: IpFold::new(32, fold),
            hasher: RandomState::new(),
            timeout: config.challenge_timeout,
            max_open: config.max_open_challenges,
            open_queue: VecDeque::new(),
            open: HashMap::new(),
        })
    }

    /// The ban list the tracker bans on: check it first thing per packet,
    /// snapshot it, share it.
    pub fn bans(&self) -> &Arc<BanList<IpAddr>> {
        &self.bans
    }

    /// `true` when `extension` is locked for `source` at `now`.
    pub fn is_locked(&self, source: IpAddr, extension: &str, now: Instant) -> bool {
        let key = (self.fold.fold_ip(source), self.hasher.hash_one(extension));
        self.locks.check(&key, now).is_banned()
    }

    /// `true` when `source` counts as a shared (NAT) address at `now`:
    /// at least `nat.min_extensions` distinct extensions authenticated from
    /// it in the current or previous NAT period.
    pub fn is_shared_address(&self, source: IpAddr, now: Instant) -> bool {
        let src = self.fold.fold_ip(source);
        self.nat.as_ref().is_some_and(|n| n.shared(src, now))
    }

    /// Challenges awaiting an answer.
    pub fn open_challenges(&self) -> usize {
        self.open_queue.len()
    }

    /// Judges the challenges whose time ran out (call it now and then when
    /// idle; [`observe`](Self::observe) does it too).
    pub fn poll(&mut self, now: Instant, wall: UnixTime) -> Report {
        let mut report = Report::new(Decision::Accept);
        self.expire(now, wall, &mut report);
        report
    }

    fn event(&self, p: &Packet, kind: EventKind, extension: Option<&str>) -> SecurityEvent {
        let e = SecurityEvent::new(p.wall, kind, Service::Sip)
            .with_source(p.source)
            .with_transport(p.transport);
        match extension {
            Some(x) => e.with_extension(x),
            None => e,
        }
    }

    fn ban(
        &self,
        key: IpAddr,
        rule: &Rule,
        reason: BanReason,
        now: Instant,
        wall: UnixTime,
        report: &mut Report,
    ) {
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
            report.events.push(
                SecurityEvent::new(wall, EventKind::Banned, Service::Sip)
                    .with_source_ip(change.key)
                    .with_detail(reason.as_str()),
            );
        }
    }

    /// Counts one event for `src` under `which` rule; bans when reached.
    fn count(
        &self,
        which: fn(&Self) -> Option<&Counted>,
        reason: BanReason,
        src: IpAddr,
        p: &Packet,
        report: &mut Report,
    ) -> bool {
        let Some(c) = which(self) else { return false };
        let shared = || self.nat.as_ref().is_some_and(|n| n.shared(src, p.now));
        if c.record(&src, p.now, shared) {
            self.ban(src, &c.rule, reason, p.now, p.wall, report);
            report.set_response(Decision::DropSilently);
            return true;
        }
        false
    }

    fn expire(&mut self, now: Instant, wall: UnixTime, report: &mut Report) {
        while let Some(&(deadline, src)) = self.open_queue.front() {
            if deadline > now && self.open_queue.len() <= self.max_open {
                break;
            }
            self.open_queue.pop_front();
            let unanswered = match self.open.get_mut(&src) {
                Some(o) => {
                    o.open = o.open.saturating_sub(1);
                    let un = if o.answered > 0 {
                        o.answered -= 1;
                        false
                    } else {
                        true
                    };
                    if o.open == 0 {
                        self.open.remove(&src);
                    }
                    un
                }
                None => false,
            };
            if unanswered {
                report.events.push(
                    SecurityEvent::new(wall, EventKind::ChallengeUnanswered, Service::Sip)
                        .with_source_ip(src),
                );
                if let Some(c) = &self.unanswered {
                    let shared = || self.nat.as_ref().is_some_and(|n| n.shared(src, now));
                    if c.record(&src, now, shared) {
                        self.ban(
                            src,
                            &c.rule,
                            BanReason::UnansweredChallenges,
                            now,
                            wall,
                            report,
                        );
                    }
                }
            }
        }
    }

    fn answered(&mut self, src: IpAddr) {
        if let Some(o) = self.open.get_mut(&src) {
            if o.answered < o.open {
                o.answered += 1;
            }
        }
    }

    /// A failed attempt against `extension` (if named) from `src`.
    fn failed(&mut self, src: IpAddr, extension: Option<&str>, p: &Packet, report: &mut Report) {
        if let (Some(ext), Some((rule, counter))) = (extension, &self.lockout) {
            let key = (src, self.hasher.hash_one(ext));
            if counter.record(&key, 1, p.now).is_reached() {
                let clock = Frozen {
                    now: p.now,
                    wall: p.wall,
                };
                if let BanOutcome::Banned(_) = self.locks.ban_for(
                    &key,
                    rule.lock_for,
                    "failed registrations",
                    "sip-extension-lockout",
                    &clock,
                ) {
                    report.decisions.push(Decision::LockExtension {
                        source: src,
                        extension: ext.to_owned(),
                        duration: rule.lock_for,
                    });
                    report
                        .events
                        .push(self.event(p, EventKind::ExtensionLocked, Some(ext)));
                    report.set_response(Decision::Respond(Reject {
                        reason: RejectReason::Forbidden,
                        retry_after: Some(rule.lock_for),
                    }));
                }
            }
        }
        self.count(|t| t.failed.as_ref(), BanReason::FailedAuth, src, p, report);
    }

    /// Feeds one observation and returns what to do. See [`Tracker`] for
    /// the order of calls.
    pub fn observe(&mut self, p: &Packet, seen: Seen<'_>) -> Report {
        let src = self.fold.fold_ip(p.source.ip());
        let mut report = Report::new(Decision::Accept);
        self.expire(p.now, p.wall, &mut report);
        if self.bans.check(&src, p.now).is_banned() {
            report.set_response(Decision::DropSilently);
            return report;
        }
        let listed = self.whitelist.contains(&src);
        let forbidden = Decision::Respond(Reject {
            reason: RejectReason::Forbidden,
            retry_after: None,
        });
        match seen {
            Seen::Request { extension } => {
                if !listed {
                    self.count(|t| t.flood.as_ref(), BanReason::Flood, src, p, &mut report);
                }
                if let Some(ext) = extension {
                    if report.response() == &Decision::Accept && self.is_locked(src, ext, p.now) {
                        report.set_response(forbidden);
                        report.events.push(
                            self.event(p, EventKind::RequestNotAllowed, Some(ext))
                                .with_detail("extension locked for this source"),
                        );
                    }
                }
            }
            Seen::ChallengeSent => {
                report
                    .events
                    .push(self.event(p, EventKind::ChallengeSent, None));
                if !listed && self.unanswered.is_some() {
                    self.open_queue.push_back((p.now + self.timeout, src));
                    self.open.entry(src).or_default().open += 1;
                    self.expire(p.now, p.wall, &mut report);
                }
            }
            Seen::Credentials { extension, outcome } => {
                self.answered(src);
                report
                    .events
                    .push(self.event(p, outcome.event_kind(), Some(extension)));
                let response = match outcome {
                    DigestOutcome::Ok { .. } => {
                        if let Some(n) = &self.nat {
                            n.success(src, self.hasher.hash_one(extension), p.now);
                        }
                        Decision::Accept
                    }
                    DigestOutcome::StaleNonce => Decision::Challenge { stale: true },
                    DigestOutcome::UnknownUser => {
                        if !listed {
                            self.count(
                                |t| t.unknown.as_ref(),
                                BanReason::UnknownExtension,
                                src,
                                p,
                                &mut report,
                            );
                        }
                        Decision::Challenge { stale: false }
                    }
                    DigestOutcome::Malformed(_)
                    | DigestOutcome::RealmMismatch
                    | DigestOutcome::UriMismatch => Decision::Respond(Reject {
                        reason: RejectReason::BadRequest,
                        retry_after: None,
                    }),
                    _ => Decision::Challenge { stale: false },
                };
                if report.response() == &Decision::Accept {
                    report.set_response(response);
                }
                if !outcome.is_ok()
                    && outcome != DigestOutcome::StaleNonce
                    && outcome != DigestOutcome::UnknownUser
                    && !listed
                {
                    self.failed(src, Some(extension), p, &mut report);
                }
            }
            Seen::UnreadableCredentials { extension } => {
                self.answered(src);
                report.set_response(Decision::Respond(Reject {
                    reason: RejectReason::BadRequest,
                    retry_after: None,
                }));
                report
                    .events
                    .push(self.event(p, EventKind::RequestBadFormat, extension));
                if !listed {
                    self.failed(src, extension, p, &mut report);
                }
            }
            Seen::AddressNotAllowed { extension } | Seen::UserAgentNotAllowed { extension } => {
                let kind = if matches!(seen, Seen::AddressNotAllowed { .. }) {
                    EventKind::UnexpectedAddress
                } else {
                    EventKind::RequestNotAllowed
                };
                report.set_response(forbidden);
                report.events.push(self.event(p, kind, Some(extension)));
                if !listed {
                    self.count(
                        |t| t.refused.as_ref(),
                        BanReason::Refused,
                        src,
                        p,
                        &mut report,
                    );
                }
            }
            Seen::ForeignDomain => {
                report.set_response(Decision::DropSilently);
                report
                    .events
                    .push(self.event(p, EventKind::UnknownDomain, None));
            }
        }
        report
    }
}
