//! The stateful front door: the policy plus the call limits, counted with
//! `pbxsec-ratelimit`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pbxsec_core::{Clock, EventKind, Instant, SecurityEvent, Service, UnixTime};
use pbxsec_ratelimit::{
    BanCheck, BanConfig, BanList, ConcurrencyConfig, ConcurrencyGuard, ConcurrencyLimiter,
    RateLimiter, ThresholdConfig, ThresholdCounter, ThresholdDecision,
};

use crate::config::{FraudBurstConfig, OutboundConfig};
use crate::decision::{BurstScope, Decision, DenyCode, FraudBurst, Outcome};
use crate::error::Error;
use crate::policy::{Call, OutboundPolicy};

/// The most distinct tenants holding concurrent-call places at once.
const TENANT_KEYS: usize = 65_536;
/// The largest `fraud_burst.capacity`: memory for it is allocated when the
/// guard is built (about 120 bytes per key for each of the two counters).
const MAX_BURST_KEYS: usize = 1 << 20;
/// The most distinct trunks holding concurrent-call places at once.
const TRUNK_KEYS: usize = 65_536;

/// An outbound policy with its call limits: the type a PBX keeps, one per
/// system, shared by every thread (all methods take `&self`).
///
/// # How to drive it
///
/// 1. Build it once from an [`OutboundConfig`] with
///    [`OutboundGuard::new`] (or `TryFrom`).
/// 2. For every outbound call attempt, read the clock once and call
///    [`check(&call, now, wall)`](Self::check) (or
///    [`check_with`](Self::check_with) and a [`Clock`]).
/// 3. Act on [`Checked::outcome`]: on `Allowed`, send the call to
///    `number` through `trunk` and hang up after `max_duration`; on
///    `Denied { code: PinRequired, .. }`, prompt for a PIN and check again
///    with [`Call::with_pin`]; on any other denial, refuse it
///    ([`DenyCode::reject_reason`]). Log [`Outcome::event`] when it is set.
/// 4. Keep [`Checked::slot`] for as long as the call lasts and drop it when
///    the call ends: that frees its place on the trunk, the tenant and the
///    system. A slot cannot be released twice and is released on every
///    path that drops it.
///
/// With [`OutboundConfig::fraud_burst`] (on by default), every denial that
/// carries a fraud event is counted per extension (and per source address,
/// [`Call::with_source`]); the one that completes a burst carries a
/// [`FraudBurst`] in [`Outcome::bursts`], and with `block` the extension
/// (or source) is refused first thing (`extension_blocked`,
/// `source_blocked`) until the block ends or
/// [`unblock_extension`](Self::unblock_extension) lifts it.
///
/// The checks, in order: a burst block, the extension's call rate (every attempt counts,
/// refused ones too, so a dialler gets nowhere), the wrong-PIN lock (when a
/// PIN is entered), the policy ([`OutboundPolicy::decide`]), a wrong PIN is
/// counted, then a place on the system, the tenant and the first trunk of
/// the route with a free line.
pub struct OutboundGuard {
    policy: OutboundPolicy,
    call_rate: Option<RateLimiter<Box<str>>>,
    wrong_pins: RateLimiter<Box<str>>,
    global: Option<(ConcurrencyLimiter<()>, u32)>,
    tenants: Option<(ConcurrencyLimiter<Box<str>>, u32)>,
    trunks: ConcurrencyLimiter<Arc<str>>,
    trunk_limits: std::collections::HashMap<Arc<str>, u32>,
    bursts: Option<Bursts>,
}

/// Burst detection: counters of fraud-like denials and the blocks they set.
struct Bursts {
    config: FraudBurstConfig,
    per_extension: ThresholdCounter<Box<str>>,
    per_source: Option<ThresholdCounter<IpAddr>>,
    blocked_extensions: BanList<Box<str>>,
    blocked_sources: BanList<IpAddr>,
    /// Set once anything was ever blocked: until then the block lists are
    /// not looked up (the common case costs one atomic load).
    any_blocked: AtomicBool,
}

/// The time of one check, as a [`Clock`] for the ban lists.
struct At {
    now: Instant,
    wall: UnixTime,
}

impl Clock for At {
    fn now(&self) -> Instant {
        self.now
    }
    fn wall(&self) -> UnixTime {
        self.wall
    }
}

impl Bursts {
    fn new(config: &FraudBurstConfig) -> Result<Self, Error> {
        let field = |f: &str| format!("fraud_burst.{f}");
        if config.capacity > MAX_BURST_KEYS {
            return Err(Error::config(
                field("capacity"),
                format!(
                    "{} exceeds the maximum of {MAX_BURST_KEYS}",
                    config.capacity
                ),
            ));
        }
        let threshold = ThresholdConfig::new(config.limit, config.window)
            .with_capacity(config.capacity)
            .with_clear_on_reach(true);
        let per_extension = ThresholdCounter::new(threshold.clone())
            .map_err(|e| limiter_error(&field("limit"), &e))?;
        let per_source = config
            .per_source
            .then(|| ThresholdCounter::new(threshold))
            .transpose()
            .map_err(|e| limiter_error(&field("limit"), &e))?;
        if config.block_for == Some(Duration::ZERO) {
            return Err(Error::config(field("block_for"), "must be more than 0s"));
        }
        let bans = BanConfig {
            ban_for: config.block_for.unwrap_or(Duration::from_secs(3600)),
            capacity: config.capacity,
            origin: "outbound".to_owned(),
            ..BanConfig::default()
        };
        let blocked_extensions =
            BanList::new(bans.clone()).map_err(|e| limiter_error(&field("capacity"), &e))?;
        let blocked_sources =
            BanList::new(bans).map_err(|e| limiter_error(&field("capacity"), &e))?;
        Ok(Self {
            config: config.clone(),
            per_extension,
            per_source,
            blocked_extensions,
            blocked_sources,
            any_blocked: AtomicBool::new(false),
        })
    }

    /// The refusal for a blocked extension or source, if one is blocked.
    #[allow(clippy::borrowed_box)] // the ban list's key type is `Box<str>`
    fn blocked(&self, call: &Call<'_>, ext_key: &Box<str>, now: Instant) -> Option<Checked> {
        if !self.config.block || !self.any_blocked.load(Ordering::Acquire) {
            return None;
        }
        let ext = self.blocked_extensions.check(ext_key, now);
        let (code, message) = if ext.is_banned() {
            let who = call.caller.extension;
            (
                DenyCode::ExtensionBlocked,
                format!(
                    "outbound calls of extension {who} are blocked after a burst of fraud-like attempts{}",
                    until(ext, now)
                ),
            )
        } else {
            let ip = call.caller.source?;
            let src = self.blocked_sources.check(&ip, now);
            if !src.is_banned() {
                return None;
            }
            (
                DenyCode::SourceBlocked,
                format!(
                    "outbound calls from {ip} are blocked after a burst of fraud-like attempts{}",
                    until(src, now)
                ),
            )
        };
        Some(Checked {
            outcome: Outcome {
                decision: Decision::Denied { code, message },
                event: None,
                bursts: Vec::new(),
            },
            slot: None,
        })
    }

    /// Counts one fraud-like denial; the bursts it completes.
    #[allow(clippy::borrowed_box)] // the counter's key type is `Box<str>`
    fn record(
        &self,
        call: &Call<'_>,
        ext_key: &Box<str>,
        now: Instant,
        wall: UnixTime,
    ) -> Vec<FraudBurst> {
        let mut out = Vec::new();
        if let ThresholdDecision::Reached { total } = self.per_extension.record(ext_key, 1, now) {
            let blocked =
                self.config.block && self.block(&self.blocked_extensions, ext_key, now, wall);
            out.push(self.burst(call, BurstScope::Extension, total, blocked, wall));
        }
        if let (Some(counter), Some(ip)) = (&self.per_source, call.caller.source) {
            if let ThresholdDecision::Reached { total } = counter.record(&ip, 1, now) {
                let blocked =
                    self.config.block && self.block(&self.blocked_sources, &ip, now, wall);
                out.push(self.burst(call, BurstScope::Source(ip), total, blocked, wall));
            }
        }
        out
    }

    fn block<K: std::hash::Hash + Eq + Clone + 'static>(
        &self,
        list: &BanList<K>,
        key: &K,
        now: Instant,
        wall: UnixTime,
    ) -> bool {
        let at = At { now, wall };
        self.any_blocked.store(true, Ordering::Release);
        let reason = "burst of fraud-like outbound call attempts";
        let outcome = match self.config.block_for {
            Some(d) => list.ban_for(key, d, reason, "fraud_burst", &at),
            None => list.ban_permanent(key, reason, "fraud_burst", &at),
        };
        matches!(
            outcome,
            pbxsec_ratelimit::BanOutcome::Banned(_)
                | pbxsec_ratelimit::BanOutcome::AlreadyBanned { .. }
        )
    }

    fn burst(
        &self,
        call: &Call<'_>,
        scope: BurstScope,
        count: u64,
        blocked: bool,
        wall: UnixTime,
    ) -> FraudBurst {
        let window = self.config.window;
        let who = match &scope {
            BurstScope::Extension => format!("extension {}", call.caller.extension),
            BurstScope::Source(ip) => format!("source {ip}"),
        };
        let action = match (blocked, self.config.block_for) {
            (false, _) => String::new(),
            (true, Some(d)) => format!("; its outbound calls are blocked for {}s", d.as_secs()),
            (true, None) => {
                "; its outbound calls are blocked until an administrator unblocks them".to_owned()
            }
        };
        let mut event = SecurityEvent::new(wall, EventKind::TollFraudSuspected, Service::Outbound)
            .with_extension(call.caller.extension)
            .with_detail(format!(
                "burst: {count} fraud-like outbound call attempts from {who} within {}s{action}",
                window.as_secs()
            ));
        if let Some(t) = call.caller.tenant {
            event = event.with_tenant(t);
        }
        if let Some(ip) = call.caller.source {
            event = event.with_source_ip(ip);
        }
        FraudBurst {
            scope,
            count,
            window,
            blocked,
            blocked_for: if blocked { self.config.block_for } else { None },
            event,
        }
    }
}

fn until(check: BanCheck, now: Instant) -> String {
    match check.remaining(now) {
        Some(d) => format!(" for {}s more", d.as_secs().max(1)),
        None => " until an administrator unblocks them".to_owned(),
    }
}

impl std::fmt::Debug for OutboundGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundGuard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What [`OutboundGuard::check`] returns: the outcome, and for an allowed
/// call the place it holds.
#[derive(Debug)]
pub struct Checked {
    /// The decision and the event to log, if any.
    pub outcome: Outcome,
    /// For an allowed call: its place on the trunk, tenant and system.
    /// Drop it when the call ends.
    pub slot: Option<CallSlot>,
}

/// The concurrent-call places one allowed call holds; dropping it releases
/// them.
#[derive(Debug)]
pub struct CallSlot {
    _global: Option<ConcurrencyGuard<()>>,
    _tenant: Option<ConcurrencyGuard<Box<str>>>,
    trunk: Option<ConcurrencyGuard<Arc<str>>>,
}

impl CallSlot {
    /// The trunk whose place this slot holds, when the trunk has a limit.
    pub fn trunk(&self) -> Option<&str> {
        self.trunk.as_ref().map(|g| &**g.key())
    }
}

fn limiter_error(field: &str, e: &pbxsec_ratelimit::Error) -> Error {
    Error::config(field, e)
}

impl TryFrom<OutboundConfig> for OutboundGuard {
    type Error = Error;
    fn try_from(c: OutboundConfig) -> Result<Self, Error> {
        Self::new(&c)
    }
}

impl OutboundGuard {
    /// Validates `config` and builds the policy and its limiters.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the field, as [`OutboundPolicy::new`], or a
    /// limit that cannot work (`call_rate`, `wrong_pin_rate`).
    pub fn new(config: &OutboundConfig) -> Result<Self, Error> {
        let policy = OutboundPolicy::new(config)?;
        let call_rate = config
            .call_rate
            .clone()
            .map(RateLimiter::new)
            .transpose()
            .map_err(|e| limiter_error("call_rate", &e))?;
        let wrong_pins = RateLimiter::new(config.wrong_pin_rate.clone())
            .map_err(|e| limiter_error("wrong_pin_rate", &e))?;
        let global = config
            .max_concurrent_calls
            .map(|max| {
                ConcurrencyLimiter::new(ConcurrencyConfig {
                    max_concurrent: max,
                    capacity: 1,
                })
                .map(|l| (l, max))
            })
            .transpose()
            .map_err(|e| limiter_error("max_concurrent_calls", &e))?;
        let tenants = config
            .max_concurrent_calls_per_tenant
            .map(|max| {
                ConcurrencyLimiter::new(ConcurrencyConfig {
                    max_concurrent: max,
                    capacity: TENANT_KEYS,
                })
                .map(|l| (l, max))
            })
            .transpose()
            .map_err(|e| limiter_error("max_concurrent_calls_per_tenant", &e))?;
        let trunks = ConcurrencyLimiter::new(ConcurrencyConfig {
            max_concurrent: 0,
            capacity: TRUNK_KEYS,
        })
        .map_err(|e| limiter_error("trunks", &e))?;
        let trunk_limits = config
            .trunks
            .iter()
            .map(|(name, t)| (Arc::from(name.as_str()), t.max_concurrent_calls))
            .collect();
        let bursts = config.fraud_burst.as_ref().map(Bursts::new).transpose()?;
        Ok(Self {
            policy,
            call_rate,
            wrong_pins,
            global,
            tenants,
            trunks,
            trunk_limits,
            bursts,
        })
    }

    /// The compiled policy.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// [`check`](Self::check) with the time read from `clock`.
    pub fn check_with(&self, call: &Call<'_>, clock: &impl Clock) -> Checked {
        self.check(call, clock.now(), clock.wall())
    }

    /// Decides on one call attempt; see the [type docs](Self) for the order
    /// of the checks. `now` times the rates, `wall` the time conditions.
    pub fn check(&self, call: &Call<'_>, now: Instant, wall: UnixTime) -> Checked {
        let ext_key = extension_key(call);
        let Some(bursts) = &self.bursts else {
            return self.check_counted(call, &ext_key, now, wall);
        };
        if let Some(refused) = bursts.blocked(call, &ext_key, now) {
            return refused;
        }
        let mut checked = self.check_counted(call, &ext_key, now, wall);
        if checked.outcome.event.is_some() {
            checked.outcome.bursts = bursts.record(call, &ext_key, now, wall);
        }
        checked
    }

    /// `true` while the extension's outbound calls are blocked after a
    /// burst ([`FraudBurstConfig::block`]).
    pub fn is_extension_blocked(
        &self,
        extension: &str,
        tenant: Option<&str>,
        now: Instant,
    ) -> bool {
        let key = key_of(extension, tenant);
        self.bursts
            .as_ref()
            .is_some_and(|b| b.blocked_extensions.check(&key, now).is_banned())
    }

    /// Lifts the block of an extension (an administrator's action; it also
    /// forgets the fraud-like denials counted for it). `false` if it was not
    /// blocked.
    pub fn unblock_extension(
        &self,
        extension: &str,
        tenant: Option<&str>,
        clock: &impl Clock,
    ) -> bool {
        let key = key_of(extension, tenant);
        self.bursts.as_ref().is_some_and(|b| {
            b.per_extension.reset(&key);
            b.blocked_extensions.forget(&key, clock).is_some()
        })
    }

    /// Lifts the block of a source address. `false` if it was not blocked.
    pub fn unblock_source(&self, source: IpAddr, clock: &impl Clock) -> bool {
        self.bursts.as_ref().is_some_and(|b| {
            if let Some(c) = &b.per_source {
                c.reset(&source);
            }
            b.blocked_sources.forget(&source, clock).is_some()
        })
    }

    #[allow(clippy::borrowed_box)] // the limiters' key type is `Box<str>`
    fn check_counted(
        &self,
        call: &Call<'_>,
        ext_key: &Box<str>,
        now: Instant,
        wall: UnixTime,
    ) -> Checked {
        if let Some(rate) = &self.call_rate {
            if !rate.check(ext_key, now).is_allowed() {
                let who = call.caller.extension;
                return self.denied(
                    call,
                    DenyCode::RateExceeded,
                    format!("extension {who} calls out faster than allowed"),
                    wall,
                );
            }
        }
        if call.pin.is_some() && self.wrong_pins.remaining(ext_key, now) == 0 {
            let who = call.caller.extension;
            return self.denied(
                call,
                DenyCode::PinLocked,
                format!("too many wrong PINs from extension {who}; try again later"),
                wall,
            );
        }
        let outcome = self.policy.decide(call, wall);
        let Decision::Allowed { route_index, .. } = &outcome.decision else {
            if outcome.decision.code() == Some(DenyCode::PinWrong) {
                // Counted; once the budget is used up the next PIN is refused
                // unread (pin_locked) until it refills.
                let _ = self.wrong_pins.check(ext_key, now);
            }
            return Checked {
                outcome,
                slot: None,
            };
        };
        let route_index = *route_index;
        self.take_slot(call, outcome, route_index, wall)
    }

    fn take_slot(
        &self,
        call: &Call<'_>,
        mut outcome: Outcome,
        route_index: usize,
        wall: UnixTime,
    ) -> Checked {
        let global = match &self.global {
            Some((limiter, _)) => match limiter.try_acquire(&()) {
                Ok(g) => Some(g),
                Err(_) => {
                    return self.denied(
                        call,
                        DenyCode::SystemFull,
                        "every outbound line of the system is in use".to_owned(),
                        wall,
                    );
                }
            },
            None => None,
        };
        let tenant = match (&self.tenants, call.caller.tenant) {
            (Some((limiter, _)), Some(t)) => match limiter.try_acquire(&Box::from(t)) {
                Ok(g) => Some(g),
                Err(_) => {
                    return self.denied(
                        call,
                        DenyCode::TenantFull,
                        format!("every outbound line of tenant {t} is in use"),
                        wall,
                    );
                }
            },
            _ => None,
        };
        let trunks = self.policy.trunks(route_index);
        let mut chosen = None;
        let mut trunk_guard = None;
        for trunk in trunks {
            match self.trunk_limits.get(trunk) {
                None => {
                    chosen = Some(trunk.clone());
                    break;
                }
                Some(&limit) => {
                    if let Ok(g) = self.trunks.try_acquire_with_limit(trunk, limit) {
                        chosen = Some(trunk.clone());
                        trunk_guard = Some(g);
                        break;
                    }
                }
            }
        }
        if chosen.is_none() && !trunks.is_empty() {
            return self.denied(
                call,
                DenyCode::TrunkFull,
                "every trunk of the route is at its concurrent-call limit".to_owned(),
                wall,
            );
        }
        if let Decision::Allowed { trunk, .. } = &mut outcome.decision {
            *trunk = chosen;
        }
        Checked {
            outcome,
            slot: Some(CallSlot {
                _global: global,
                _tenant: tenant,
                trunk: trunk_guard,
            }),
        }
    }

    fn denied(&self, call: &Call<'_>, code: DenyCode, message: String, wall: UnixTime) -> Checked {
        let decision = Decision::Denied { code, message };
        let event = self.policy.fraud_event(call, &decision, wall);
        Checked {
            outcome: Outcome {
                decision,
                event,
                bursts: Vec::new(),
            },
            slot: None,
        }
    }
}

/// The rate-limit key of a caller: the extension, or tenant NUL extension.
fn extension_key(call: &Call<'_>) -> Box<str> {
    key_of(call.caller.extension, call.caller.tenant)
}

fn key_of(extension: &str, tenant: Option<&str>) -> Box<str> {
    match tenant {
        Some(t) => format!("{t}\u{0}{extension}").into_boxed_str(),
        None => Box::from(extension),
    }
}
