//! The compiled policy and the decision it makes.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The hasher of every lookup table: `ahash` (fast on short keys, keyed
/// per process so a config cannot be crafted against it).
type Hasher = ahash::RandomState;
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::{EventKind, SecurityEvent, Service, UnixTime};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::{CallClass, OutboundConfig};
use crate::country::CountryRules;
use crate::decision::{Decision, DenyCode, Outcome};
use crate::error::Error;
use crate::hours::TimeCondition;
use crate::numbers::NumberList;
use crate::pattern::{DialPattern, SYMBOLS, symbol};

/// The longest dialled number accepted (characters).
pub const MAX_NUMBER_LEN: usize = 32;
/// The longest PIN accepted (digits).
pub const MAX_PIN_LEN: usize = 32;

/// Who is calling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The calling extension.
    pub extension: &'a str,
    /// The groups (departments) the extension belongs to.
    pub groups: &'a [&'a str],
    /// The caller's role (PortSIP), if the PBX has roles.
    pub role: Option<&'a str>,
    /// The tenant, on a multi-tenant PBX.
    pub tenant: Option<&'a str>,
    /// The address the call came from (the SIP peer), when known: put in
    /// events and counted for bursts per source.
    pub source: Option<IpAddr>,
}

/// One call attempt: who, what was dialled, and the PIN entered (if any).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Call<'a> {
    /// Who is calling.
    pub caller: Caller<'a>,
    /// The digits dialled.
    pub dialled: &'a str,
    /// The PIN the caller entered, if the PBX asked for one.
    pub pin: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// A call from `extension` to `dialled`, with no group, role, tenant or PIN.
    pub const fn new(extension: &'a str, dialled: &'a str) -> Self {
        Self {
            caller: Caller {
                extension,
                groups: &[],
                role: None,
                tenant: None,
                source: None,
            },
            dialled,
            pin: None,
        }
    }

    /// Sets the caller's groups.
    #[must_use]
    pub const fn with_groups(mut self, groups: &'a [&'a str]) -> Self {
        self.caller.groups = groups;
        self
    }

    /// Sets the caller's role.
    #[must_use]
    pub const fn with_role(mut self, role: &'a str) -> Self {
        self.caller.role = Some(role);
        self
    }

    /// Sets the caller's tenant.
    #[must_use]
    pub const fn with_tenant(mut self, tenant: &'a str) -> Self {
        self.caller.tenant = Some(tenant);
        self
    }

    /// Sets the address the call came from.
    #[must_use]
    pub const fn with_source(mut self, source: IpAddr) -> Self {
        self.caller.source = Some(source);
        self
    }

    /// Sets the PIN entered.
    #[must_use]
    pub const fn with_pin(mut self, pin: &'a str) -> Self {
        self.pin = Some(pin);
        self
    }
}

#[derive(Clone, Debug)]
struct Pin {
    digits: [u8; MAX_PIN_LEN],
    len: u8,
    user: Option<Arc<str>>,
}

#[derive(Clone, Debug)]
struct CompiledPattern {
    pattern: DialPattern,
    strip: usize,
    prepend: Box<str>,
}

#[derive(Clone, Debug)]
struct Route {
    name: Arc<str>,
    patterns: Vec<CompiledPattern>,
    everyone: bool,
    extensions: HashSet<Box<str>, Hasher>,
    groups: HashSet<Box<str>, Hasher>,
    roles: HashSet<Box<str>, Hasher>,
    trunks: Vec<Arc<str>>,
    hours: Option<usize>,
    pins: Vec<Pin>,
}

impl Route {
    fn permits(&self, caller: &Caller<'_>) -> bool {
        self.everyone
            || self.extensions.contains(caller.extension)
            || caller.groups.iter().any(|g| self.groups.contains(*g))
            || caller.role.is_some_and(|r| self.roles.contains(r))
    }

    /// Constant-time check of `attempt` against every PIN; the index of the
    /// matching entry. Every entry is compared whatever the outcome.
    fn verify_pin(&self, attempt: &str) -> Option<usize> {
        let bytes = attempt.as_bytes();
        let mut buf = [0u8; MAX_PIN_LEN];
        let fits = bytes.len() <= MAX_PIN_LEN;
        for (slot, b) in buf.iter_mut().zip(bytes) {
            *slot = *b;
        }
        let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
        let mut found = subtle::Choice::from(0);
        let mut index = u32::MAX;
        for (i, pin) in self.pins.iter().enumerate() {
            let eq = pin.digits.ct_eq(&buf) & pin.len.ct_eq(&len);
            index = u32::conditional_select(&index, &u32::try_from(i).unwrap_or(u32::MAX), eq);
            found |= eq;
        }
        (fits && bool::from(found)).then_some(index as usize)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Extension {
    disable_outbound: bool,
    disable_outside_hours: bool,
    disallow_international: bool,
    max_duration: Option<Duration>,
}

/// A compiled outbound policy: immutable, cheap to share (`Arc`), queried
/// with [`OutboundPolicy::decide`].
///
/// Build it from an [`OutboundConfig`] with `TryFrom`; every check that can
/// fail happens then, so a decision never fails.
#[derive(Clone, Debug)]
pub struct OutboundPolicy {
    international_prefixes: Vec<Vec<u8>>,
    national_prefixes: Vec<Vec<u8>>,
    routes: Vec<Route>,
    /// Per first symbol of the dialled number: the (route, pattern) pairs
    /// that can match, in configuration order.
    by_first: [Vec<(u32, u32)>; SYMBOLS],
    countries: Option<CountryRules>,
    blocked: NumberList,
    allowed: NumberList,
    conditions: Vec<TimeCondition>,
    business_hours: Option<usize>,
    roles: HashMap<Box<str>, [bool; 3], Hasher>,
    extensions: HashMap<Box<str>, Extension, Hasher>,
    max_duration: Duration,
}

fn symbols_of(field: &str, s: &str) -> Result<Vec<u8>, Error> {
    s.bytes()
        .map(symbol)
        .collect::<Option<Vec<u8>>>()
        .filter(|v| !v.is_empty() && v.len() <= MAX_NUMBER_LEN)
        .ok_or_else(|| {
            Error::config(
                field,
                format!(
                    "{:?} must be 1 to {MAX_NUMBER_LEN} of 0-9, *, #, +",
                    crate::error::excerpt(s)
                ),
            )
        })
}

const fn class_index(c: CallClass) -> usize {
    match c {
        CallClass::Local => 0,
        CallClass::National => 1,
        CallClass::International => 2,
    }
}

impl TryFrom<OutboundConfig> for OutboundPolicy {
    type Error = Error;
    fn try_from(c: OutboundConfig) -> Result<Self, Error> {
        Self::new(&c)
    }
}

impl TryFrom<&OutboundConfig> for OutboundPolicy {
    type Error = Error;
    fn try_from(c: &OutboundConfig) -> Result<Self, Error> {
        Self::new(c)
    }
}

impl OutboundPolicy {
    /// Validates and compiles a configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the field (`routes[2].patterns[0].pattern`)
    /// and what is wrong with it.
    pub fn new(c: &OutboundConfig) -> Result<Self, Error> {
        let international_prefixes = c
            .international_prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| symbols_of(&format!("international_prefixes[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?;
        let national_prefixes = c
            .national_prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| symbols_of(&format!("national_prefixes[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?;

        let mut condition_index = HashMap::new();
        let mut conditions = Vec::with_capacity(c.time_conditions.len());
        for (name, tc) in &c.time_conditions {
            condition_index.insert(name.as_str(), conditions.len());
            conditions.push(TimeCondition::new(tc, &format!("time_conditions.{name}"))?);
        }
        let find_condition = |field: &str, name: &str| {
            condition_index.get(name).copied().ok_or_else(|| {
                Error::config(
                    field,
                    format!(
                        "no time condition named {:?} in time_conditions",
                        crate::error::excerpt(name)
                    ),
                )
            })
        };
        let business_hours = c
            .business_hours
            .as_deref()
            .map(|n| find_condition("business_hours", n))
            .transpose()?;

        let mut routes = Vec::with_capacity(c.routes.len());
        let mut by_first: [Vec<(u32, u32)>; SYMBOLS] = Default::default();
        let mut names = HashSet::new();
        for (ri, r) in c.routes.iter().enumerate() {
            let field = format!("routes[{ri}]");
            if r.name.is_empty() {
                return Err(Error::config(
                    format!("{field}.name"),
                    "a route needs a name",
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(Error::config(
                    format!("{field}.name"),
                    format!("a second route named {:?}", crate::error::excerpt(&r.name)),
                ));
            }
            if r.patterns.is_empty() {
                return Err(Error::config(
                    format!("{field}.patterns"),
                    "a route needs at least one pattern",
                ));
            }
            let route_id =
                u32::try_from(ri).map_err(|_| Error::config("routes", "too many routes"))?;
            let mut patterns = Vec::with_capacity(r.patterns.len());
            for (pi, p) in r.patterns.iter().enumerate() {
                let pf = format!("{field}.patterns[{pi}]");
                let pattern = DialPattern::parse(&p.pattern)
                    .map_err(|e| e.in_field(format!("{pf}.pattern")))?;
                if !p.prepend.is_empty() {
                    symbols_of(&format!("{pf}.prepend"), &p.prepend)?;
                }
                if p.strip > MAX_NUMBER_LEN {
                    return Err(Error::config(
                        format!("{pf}.strip"),
                        format!("at most {MAX_NUMBER_LEN}"),
                    ));
                }
                let first = pattern.first_symbols();
                let pattern_id =
                    u32::try_from(pi).map_err(|_| Error::config(&pf, "too many patterns"))?;
                for (s, list) in by_first.iter_mut().enumerate() {
                    if first & (1 << s) != 0 {
                        list.push((route_id, pattern_id));
                    }
                }
                patterns.push(CompiledPattern {
                    pattern,
                    strip: p.strip,
                    prepend: p.prepend.clone().into_boxed_str(),
                });
            }
            let hours = r
                .time_condition
                .as_deref()
                .map(|n| find_condition(&format!("{field}.time_condition"), n))
                .transpose()?;
            let mut pins = Vec::new();
            let entries = r
                .pin
                .iter()
                .map(|p| (p, None))
                .chain(r.pin_list.iter().map(|e| (&e.pin, e.user.as_deref())));
            for (i, (pin, user)) in entries.enumerate() {
                let pf = if r.pin.is_some() && i == 0 {
                    format!("{field}.pin")
                } else {
                    format!("{field}.pin_list[{}]", i - usize::from(r.pin.is_some()))
                };
                let bytes = pin.expose().as_bytes();
                if bytes.is_empty()
                    || bytes.len() > MAX_PIN_LEN
                    || !bytes.iter().all(u8::is_ascii_digit)
                {
                    // Never repeat the PIN itself.
                    return Err(Error::config(
                        pf,
                        format!("a PIN is 1 to {MAX_PIN_LEN} digits"),
                    ));
                }
                let mut digits = [0u8; MAX_PIN_LEN];
                for (slot, b) in digits.iter_mut().zip(bytes) {
                    *slot = *b;
                }
                pins.push(Pin {
                    digits,
                    len: u8::try_from(bytes.len()).unwrap_or(u8::MAX),
                    user: user.map(Arc::from),
                });
            }
            routes.push(Route {
                name: Arc::from(r.name.as_str()),
                patterns,
                everyone: r.everyone,
                extensions: r.extensions.iter().map(|s| s.as_str().into()).collect(),
                groups: r.groups.iter().map(|s| s.as_str().into()).collect(),
                roles: r.roles.iter().map(|s| s.as_str().into()).collect(),
                trunks: r.trunks.iter().map(|s| Arc::from(s.as_str())).collect(),
                hours,
                pins,
            });
        }

        let countries = c
            .countries
            .as_ref()
            .map(|cc| CountryRules::new(&cc.allow, &cc.deny, cc.allow_unlisted, "countries"))
            .transpose()?;
        let blocked = NumberList::new(&c.blocked_numbers, "blocked_numbers")?;
        let allowed = NumberList::new(&c.allowed_numbers, "allowed_numbers")?;

        let roles = c
            .roles
            .iter()
            .map(|(name, role)| {
                let mut classes = [false; 3];
                for &class in &role.classes {
                    if let Some(slot) = classes.get_mut(class_index(class)) {
                        *slot = true;
                    }
                }
                (name.as_str().into(), classes)
            })
            .collect();
        let mut extensions = HashMap::default();
        for (name, e) in &c.extensions {
            if e.disable_outbound_calls_outside_business_hours && business_hours.is_none() {
                return Err(Error::config(
                    format!("extensions.{name}.disable_outbound_calls_outside_business_hours"),
                    "needs the top-level business_hours time condition",
                ));
            }
            extensions.insert(
                name.as_str().into(),
                Extension {
                    disable_outbound: e.disable_outbound_calls,
                    disable_outside_hours: e.disable_outbound_calls_outside_business_hours,
                    disallow_international: e.disallow_international_calls,
                    max_duration: e.max_call_duration,
                },
            );
        }
        Ok(Self {
            international_prefixes,
            national_prefixes,
            routes,
            by_first,
            countries,
            blocked,
            allowed,
            conditions,
            business_hours,
            roles,
            extensions,
            max_duration: c.max_call_duration,
        })
    }

    /// How many routes the policy has.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The class of a number sent to a trunk, and where its country code
    /// starts when it is international.
    fn classify(&self, symbols: &[u8]) -> (CallClass, usize) {
        if symbols.first() == Some(&12) {
            return (CallClass::International, 1);
        }
        for p in &self.international_prefixes {
            if symbols.starts_with(p) {
                return (CallClass::International, p.len());
            }
        }
        if self
            .national_prefixes
            .iter()
            .any(|p| symbols.starts_with(p))
        {
            return (CallClass::National, 0);
        }
        (CallClass::Local, 0)
    }

    fn listed_blocked(&self, number: &str, symbols: &[u8]) -> bool {
        !self.blocked.is_empty()
            && self.blocked.contains(number, symbols)
            && !self.allowed.contains(number, symbols)
    }

    /// Decides on one call attempt at wall-clock time `wall` (read it from
    /// a [`pbxsec_core::Clock`]).
    ///
    /// The checks, in order: the number is well formed; the blocked list
    /// (the allowed list overriding it); the extension's switches (outbound
    /// disabled, outside business hours); the routes in order, the first
    /// whose pattern matches, which the caller may use and whose time
    /// condition is open is taken; on it, the caller's role and
    /// international switch, the country rules, the blocked list again on
    /// the number as sent, and the PIN. The time limit is the shorter of
    /// the global and the extension's maximum duration.
    pub fn decide(&self, call: &Call<'_>, wall: UnixTime) -> Outcome {
        let decision = self.decide_only(call, wall);
        let event = self.fraud_event(call, &decision, wall);
        Outcome {
            decision,
            event,
            bursts: Vec::new(),
        }
    }

    pub(crate) fn fraud_event(
        &self,
        call: &Call<'_>,
        decision: &Decision,
        wall: UnixTime,
    ) -> Option<SecurityEvent> {
        let Decision::Denied { code, message } = decision else {
            return None;
        };
        let fraud_like = match code {
            DenyCode::CountryNotAllowed
            | DenyCode::InternationalDisabled
            | DenyCode::NumberBlocked
            | DenyCode::PinWrong
            | DenyCode::PinLocked
            | DenyCode::RateExceeded => true,
            DenyCode::InvalidNumber
            | DenyCode::PinRequired
            | DenyCode::ExtensionBlocked
            | DenyCode::SourceBlocked => false,
            _ => {
                let symbols: Vec<u8> = call.dialled.bytes().filter_map(symbol).collect();
                self.classify(&symbols).0 == CallClass::International
                    || self.routes_would_be_international(&symbols)
            }
        };
        fraud_like.then(|| event(call, *code, message, wall))
    }

    /// `true` when a matching route would send the number abroad (a refused
    /// `9X.` international call counts as an international attempt).
    fn routes_would_be_international(&self, symbols: &[u8]) -> bool {
        let Some(&first) = symbols.first() else {
            return false;
        };
        let Some(cands) = self.by_first.get(usize::from(first)) else {
            return false;
        };
        cands.iter().any(|&(r, p)| {
            self.routes
                .get(r as usize)
                .and_then(|route| route.patterns.get(p as usize))
                .is_some_and(|cp| {
                    cp.pattern.matches_symbols(symbols)
                        && self.classify(&rewrite_symbols(symbols, cp)).0
                            == CallClass::International
                })
        })
    }

    pub(crate) fn decide_only(&self, call: &Call<'_>, wall: UnixTime) -> Decision {
        let dialled = call.dialled;
        let mut buf = [0u8; MAX_NUMBER_LEN];
        let len = dialled.len();
        if len == 0 || len > MAX_NUMBER_LEN {
            return deny(
                DenyCode::InvalidNumber,
                format!("a number has 1 to {MAX_NUMBER_LEN} characters"),
            );
        }
        for (slot, b) in buf.iter_mut().zip(dialled.bytes()) {
            match symbol(b) {
                Some(s) => *slot = s,
                None => {
                    return deny(
                        DenyCode::InvalidNumber,
                        "a number has only 0-9, *, # and +".to_owned(),
                    );
                }
            }
        }
        let symbols = buf.get(..len).unwrap_or_default();
        if self.listed_blocked(dialled, symbols) {
            return deny(
                DenyCode::NumberBlocked,
                format!("{dialled} is a blocked number"),
            );
        }
        let ext = self
            .extensions
            .get(call.caller.extension)
            .copied()
            .unwrap_or_default();
        let who = call.caller.extension;
        if ext.disable_outbound {
            return deny(
                DenyCode::OutboundDisabled,
                format!("outbound calls are disabled for extension {who}"),
            );
        }
        if ext.disable_outside_hours
            && self
                .business_hours
                .and_then(|i| self.conditions.get(i))
                .is_some_and(|tc| !tc.is_open(wall))
        {
            return deny(
                DenyCode::OutsideHours,
                format!("extension {who} may not call out outside business hours"),
            );
        }

        let first = symbols.first().copied().unwrap_or(0);
        let candidates = self
            .by_first
            .get(usize::from(first))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut best: Option<DenyCode> = None;
        for &(ri, pi) in candidates {
            let Some(route) = self.routes.get(ri as usize) else {
                continue;
            };
            let Some(cp) = route.patterns.get(pi as usize) else {
                continue;
            };
            if !cp.pattern.matches_symbols(symbols) {
                continue;
            }
            if !route.permits(&call.caller) {
                if best.is_none() {
                    best = Some(DenyCode::NoRoutePermission);
                }
                continue;
            }
            if route
                .hours
                .and_then(|i| self.conditions.get(i))
                .is_some_and(|tc| !tc.is_open(wall))
            {
                best = Some(DenyCode::OutsideHours);
                continue;
            }
            return self.on_route(call, route, ri as usize, cp, &ext, symbols);
        }
        match best {
            Some(DenyCode::OutsideHours) => deny(
                DenyCode::OutsideHours,
                format!("the routes for {dialled} are closed at this time"),
            ),
            Some(code) => deny(
                code,
                format!("extension {who} may not use a route for {dialled}"),
            ),
            None => deny(
                DenyCode::PatternNotAllowed,
                format!("no outbound route matches {dialled}"),
            ),
        }
    }

    fn on_route(
        &self,
        call: &Call<'_>,
        route: &Route,
        route_index: usize,
        cp: &CompiledPattern,
        ext: &Extension,
        symbols: &[u8],
    ) -> Decision {
        let dialled = call.dialled;
        let number = rewrite(dialled, cp);
        let out_symbols = rewrite_symbols(symbols, cp);
        let (class, cc_start) = self.classify(&out_symbols);
        let who = call.caller.extension;
        if let Some(role) = call.caller.role {
            let ok = self
                .roles
                .get(role)
                .and_then(|classes| classes.get(class_index(class)))
                .copied()
                .unwrap_or(false);
            if !ok {
                return deny(
                    DenyCode::NoRoutePermission,
                    format!("role {role:?} may not make {class:?} calls").to_lowercase(),
                );
            }
        }
        if class == CallClass::International {
            if ext.disallow_international {
                return deny(
                    DenyCode::InternationalDisabled,
                    format!("extension {who} may not make international calls"),
                );
            }
            if let Some(countries) = &self.countries {
                let rest = out_symbols.get(cc_start..).unwrap_or_default();
                let d = countries.decide(rest);
                if !d.allowed {
                    let message = if d.rule_len > 0 {
                        let code = out_symbols
                            .get(cc_start..cc_start + d.rule_len)
                            .unwrap_or_default()
                            .iter()
                            .map(|&s| char::from(b'0' + s))
                            .collect::<String>();
                        format!("calls to +{code} are not allowed")
                    } else {
                        format!("the country of {number} is not in the allowed list")
                    };
                    return deny(DenyCode::CountryNotAllowed, message);
                }
            }
        }
        if number != dialled && self.listed_blocked(&number, &out_symbols) {
            return deny(
                DenyCode::NumberBlocked,
                format!("{number} is a blocked number"),
            );
        }
        let mut pin_user = None;
        if !route.pins.is_empty() {
            let Some(attempt) = call.pin else {
                return deny(
                    DenyCode::PinRequired,
                    format!("route {} needs a PIN", route.name),
                );
            };
            match route.verify_pin(attempt) {
                Some(i) => pin_user = route.pins.get(i).and_then(|p| p.user.clone()),
                None => {
                    return deny(
                        DenyCode::PinWrong,
                        format!("wrong PIN for route {}", route.name),
                    );
                }
            }
        }
        let max_duration = ext
            .max_duration
            .map_or(self.max_duration, |d| d.min(self.max_duration));
        Decision::Allowed {
            route: route.name.clone(),
            route_index,
            number,
            trunk: route.trunks.first().cloned(),
            class,
            pin_user,
            max_duration,
        }
    }

    /// The trunks of the route at `route_index`, in order of preference.
    pub fn trunks(&self, route_index: usize) -> &[Arc<str>] {
        self.routes
            .get(route_index)
            .map(|r| r.trunks.as_slice())
            .unwrap_or_default()
    }
}

fn rewrite(dialled: &str, cp: &CompiledPattern) -> String {
    let rest = dialled
        .get(cp.strip.min(dialled.len())..)
        .unwrap_or_default();
    let mut out = String::with_capacity(cp.prepend.len() + rest.len());
    out.push_str(&cp.prepend);
    out.push_str(rest);
    out
}

fn rewrite_symbols(symbols: &[u8], cp: &CompiledPattern) -> Vec<u8> {
    let rest = symbols
        .get(cp.strip.min(symbols.len())..)
        .unwrap_or_default();
    cp.prepend
        .bytes()
        .filter_map(symbol)
        .chain(rest.iter().copied())
        .collect()
}

fn deny(code: DenyCode, message: String) -> Decision {
    Decision::Denied { code, message }
}

fn event(call: &Call<'_>, code: DenyCode, message: &str, wall: UnixTime) -> SecurityEvent {
    let mut e = SecurityEvent::new(wall, EventKind::TollFraudSuspected, Service::Outbound)
        .with_extension(call.caller.extension)
        .with_detail(format!("{code}: {message}"));
    if let Some(t) = call.caller.tenant {
        e = e.with_tenant(t);
    }
    if let Some(ip) = call.caller.source {
        e = e.with_source_ip(ip);
    }
    e
}
