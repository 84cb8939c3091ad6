//! Network bans and the run-time whitelist, against reference models that scan every ban linearly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use pbxsec_core::{Clock, Instant, ManualClock, UnixTime};
use pbxsec_ratelimit::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/netbans.txt",
        ))),
        ..ProptestConfig::default()
    }
}

const S: u64 = 1_000_000_000;

const ADDRS: &[&str] = &[
    "203.0.113.0",
    "203.0.113.5",
    "203.0.113.200",
    "203.0.114.1",
    "198.51.100.7",
    "2001:db8::1",
    "2001:db8::2",
    "2001:db8:0:1::1",
    "2001:db8:1::1",
    "2001:db9::1",
    "::ffff:203.0.113.5",
];

const NETS: &[&str] = &[
    "203.0.113.0/24",
    "203.0.113.0/29",
    "203.0.0.0/16",
    "203.0.113.5/32",
    "2001:db8::/48",
    "2001:db8:0:1::/64",
    "2001:db8::/32",
    "2001:db8::1/128",
];

fn addr(i: usize) -> IpAddr {
    ADDRS[i % ADDRS.len()].parse().unwrap()
}

fn net(i: usize) -> IpNet {
    NETS[i % NETS.len()].parse().unwrap()
}

fn canonical(ip: IpAddr) -> IpAddr {
    pbxsec_core::canonical_ip(ip)
}

/// The `/64` (IPv6) or `/32` (IPv4) the ban list folds a key to.
fn fold(ip: IpAddr) -> IpAddr {
    IpFold::default().fold_ip(ip)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Host(IpAddr),
    Net(IpNet),
}

/// Every ban in force (or ended, not yet expired), scanned linearly.
#[derive(Default)]
struct Model {
    bans: Vec<(Target, Option<u64>)>,
    white: Vec<IpNet>,
}

impl Model {
    fn active(&self, now: u64) -> impl Iterator<Item = &(Target, Option<u64>)> {
        self.bans
            .iter()
            .filter(move |(_, u)| u.is_none_or(|u| u > now))
    }

    fn whitelisted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.white
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&fold(ip)))
    }

    fn check(&self, ip: IpAddr, now: u64) -> BanCheck {
        if self.whitelisted(ip) {
            return BanCheck::Clear;
        }
        let c = canonical(ip);
        let mut found: Option<Option<u64>> = None;
        for (t, until) in self.active(now) {
            let covers = match t {
                Target::Host(k) => *k == fold(c),
                Target::Net(n) => n.contains(&c),
            };
            if covers {
                found = Some(match found {
                    None => *until,
                    Some(None) => None,
                    Some(Some(a)) => until.map(|b| a.max(b)),
                });
            }
        }
        match found {
            None => BanCheck::Clear,
            Some(u) => BanCheck::Banned {
                until: u.map(Instant::from_nanos),
            },
        }
    }

    /// Bans `t` until `until`; `true` if the list changed.
    fn ban(&mut self, t: Target, until: Option<u64>, now: u64) -> bool {
        self.bans.retain(|(_, u)| u.is_none_or(|u| u > now));
        match self.bans.iter_mut().find(|(x, _)| *x == t) {
            Some((_, old)) => {
                let longer = match (*old, until) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(o), Some(n)) => n > o,
                };
                if longer {
                    *old = until;
                }
                longer
            }
            None => {
                self.bans.push((t, until));
                true
            }
        }
    }

    /// A manual unban. An ended ban not yet expired stays until `expire`
    /// reports it.
    fn unban(&mut self, t: Target, now: u64) -> bool {
        let before = self.active(now).count();
        self.bans
            .retain(|(x, u)| *x != t || u.is_some_and(|u| u <= now));
        before != self.active(now).count()
    }

    /// Removes ended bans; returns how many.
    fn expire(&mut self, now: u64) -> usize {
        let before = self.bans.len();
        self.bans.retain(|(_, u)| u.is_none_or(|u| u > now));
        before - self.bans.len()
    }

    /// Adds a whitelisted network; returns how many bans it lifts.
    fn whitelist(&mut self, n: IpNet, now: u64) -> usize {
        self.white.push(n);
        let white = self.white.clone();
        let before = self.active(now).count();
        self.bans.retain(|(t, u)| {
            let lifted = match t {
                Target::Host(k) => white.iter().any(|w| w.contains(k)),
                Target::Net(b) => white.iter().any(|w| w.contains(b)),
            };
            !(lifted && u.is_none_or(|u| u > now))
        });
        before - self.active(now).count()
    }
}

#[derive(Clone, Debug)]
enum Op {
    BanHost(usize, Option<u64>),
    BanNet(usize, Option<u64>),
    UnbanHost(usize),
    UnbanNet(usize),
    Advance(u64),
    Expire,
    Whitelist(usize),
}

fn dur() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![4 => (1u64..120).prop_map(Some), 1 => Just(None)]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (0..ADDRS.len(), dur()).prop_map(|(a, d)| Op::BanHost(a, d)),
        4 => (0..NETS.len(), dur()).prop_map(|(n, d)| Op::BanNet(n, d)),
        2 => (0..ADDRS.len()).prop_map(Op::UnbanHost),
        2 => (0..NETS.len()).prop_map(Op::UnbanNet),
        4 => (1u64..60).prop_map(Op::Advance),
        1 => Just(Op::Expire),
        1 => (0..NETS.len() + 2).prop_map(Op::Whitelist),
    ];
    proptest::collection::vec(op, 1..60)
}

/// A whitelist entry: one of the ban networks, or a single address.
fn white_net(i: usize) -> IpNet {
    match i.checked_sub(NETS.len()) {
        None => net(i),
        Some(0) => "203.0.113.5/32".parse().unwrap(),
        Some(_) => "2001:db8::2/128".parse().unwrap(),
    }
}

fn check_all(list: &BanList<IpAddr>, model: &Model, now: Instant) -> Result<(), TestCaseError> {
    for i in 0..ADDRS.len() {
        let a = addr(i);
        prop_assert_eq!(
            list.check(&a, now),
            model.check(a, now.as_nanos()),
            "check {}",
            a
        );
    }
    let hosts = model
        .active(now.as_nanos())
        .filter(|(t, _)| matches!(t, Target::Host(_)))
        .count();
    let nets = model
        .active(now.as_nanos())
        .filter(|(t, _)| matches!(t, Target::Net(_)))
        .count();
    prop_assert_eq!(list.len(now), hosts);
    prop_assert_eq!(list.list_nets(now).len(), nets);
    prop_assert_eq!(list.network_bans(now), nets);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// check, expiry and unban with mixed host and network bans (and
    /// whitelisting at run time) agree with a model that scans every ban.
    #[test]
    fn mixed_bans_match_model(ops in ops()) {
        let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
        let list: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
        let mut model = Model::default();
        for op in ops {
            let now = clock.now().as_nanos();
            match op {
                Op::BanHost(a, d) => {
                    let a = addr(a);
                    let got = list.ban_for_or_permanent(a, d, &clock);
                    if model.whitelisted(a) {
                        prop_assert_eq!(got, BanOutcome::Whitelisted);
                    } else {
                        let expect = model.ban(Target::Host(fold(canonical(a))), d.map(|d| now + d * S), now);
                        prop_assert_eq!(matches!(got, BanOutcome::Banned(_)), expect, "ban {} {:?}", a, got);
                    }
                }
                Op::BanNet(n, d) => {
                    let n = net(n);
                    let got = list.ban_net(n, d.map(Duration::from_secs), "r", "admin", &clock);
                    if model.white.iter().any(|w| w.contains(&n)) {
                        prop_assert_eq!(got, BanOutcome::Whitelisted);
                    } else {
                        let expect = model.ban(Target::Net(n), d.map(|d| now + d * S), now);
                        match got {
                            BanOutcome::Banned(c) => {
                                prop_assert!(expect);
                                prop_assert_eq!(c.net_prefix, Some(n.prefix_len()));
                                prop_assert_eq!(c.key, n.network());
                            }
                            other => prop_assert!(!expect, "{:?}", other),
                        }
                    }
                }
                Op::UnbanHost(a) => {
                    let a = addr(a);
                    let expect = model.unban(Target::Host(fold(canonical(a))), now);
                    prop_assert_eq!(list.unban(&a, &clock).is_some(), expect);
                }
                Op::UnbanNet(n) => {
                    let n = net(n);
                    let expect = model.unban(Target::Net(n), now);
                    prop_assert_eq!(list.unban_net(n, &clock).is_some(), expect);
                }
                Op::Advance(s) => clock.advance(Duration::from_secs(s)),
                Op::Expire => {
                    let changes = list.expire(&clock);
                    let all = changes.iter().all(|c| matches!(c.change, BanAction::Unban { cause: UnbanCause::Expired, .. }));
                    prop_assert!(all);
                    prop_assert_eq!(changes.len(), model.expire(now));
                }
                Op::Whitelist(i) => {
                    let w = white_net(i);
                    let lifted = model.whitelist(w, now);
                    let changes = list.whitelist_net(w, &clock);
                    prop_assert_eq!(changes.len(), lifted, "whitelist {}", w);
                    let all = changes.iter().all(|c| matches!(c.change, BanAction::Unban { cause: UnbanCause::Whitelisted, .. }));
                    prop_assert!(all);
                }
            }
            check_all(&list, &model, clock.now())?;
        }
    }

    /// Whitelist::contains agrees with a linear scan of the networks and a
    /// set of keys after any sequence of run-time changes (both the linear
    /// and the per-prefix-length representation are reached).
    #[test]
    fn whitelist_matches_model(ops in proptest::collection::vec((0u8..5, 0u32..64, 0u8..=32), 1..80)) {
        let wl: Whitelist<IpAddr> = Whitelist::new();
        let mut nets: Vec<IpNet> = Vec::new();
        let mut keys: Vec<IpAddr> = Vec::new();
        for (kind, x, len) in ops {
            let ip = IpAddr::from([10, 0, (x / 8) as u8, (x % 8) as u8 * 32]);
            let n = IpNet::new(ip, len).unwrap().trunc();
            match kind {
                0 | 1 => {
                    let fresh = !nets.contains(&n);
                    prop_assert_eq!(wl.add_net(n), fresh);
                    if fresh { nets.push(n); }
                }
                2 => {
                    let had = nets.contains(&n);
                    prop_assert_eq!(wl.remove_net(&n), had);
                    nets.retain(|m| *m != n);
                }
                3 => {
                    let fresh = !keys.contains(&ip);
                    prop_assert_eq!(wl.add_key(ip), fresh);
                    if fresh { keys.push(ip); }
                }
                _ => {
                    let had = keys.contains(&ip);
                    prop_assert_eq!(wl.remove_key(&ip), had);
                    keys.retain(|k| *k != ip);
                }
            }
            prop_assert_eq!(wl.is_empty(), nets.is_empty() && keys.is_empty());
            for y in 0..64u32 {
                for off in [0u8, 7, 31] {
                    let probe = IpAddr::from([10, 0, (y / 8) as u8, (y % 8) as u8 * 32 + off]);
                    let expect = keys.contains(&probe) || nets.iter().any(|n| n.contains(&probe));
                    prop_assert_eq!(wl.contains(&probe), expect, "{}", probe);
                }
            }
        }
    }
}

/// `ban_for` for `Some(secs)`, `ban_permanent` for `None`.
trait BanHelper {
    fn ban_for_or_permanent(
        &self,
        a: IpAddr,
        d: Option<u64>,
        clock: &ManualClock,
    ) -> BanOutcome<IpAddr>;
}

impl BanHelper for BanList<IpAddr> {
    fn ban_for_or_permanent(
        &self,
        a: IpAddr,
        d: Option<u64>,
        clock: &ManualClock,
    ) -> BanOutcome<IpAddr> {
        match d {
            Some(s) => self.ban_for(&a, Duration::from_secs(s), "r", "rule", clock),
            None => self.ban_permanent(&a, "r", "admin", clock),
        }
    }
}

#[test]
fn snapshot_round_trip_with_network_bans() {
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    let list: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
    let v4: IpNet = "203.0.113.0/24".parse().unwrap();
    let v6: IpNet = "2001:db8:77::/48".parse().unwrap();
    let short: IpNet = "198.51.100.0/25".parse().unwrap();
    let host: IpAddr = "192.0.2.9".parse().unwrap();
    assert!(matches!(
        list.ban_net(
            v4,
            Some(Duration::from_secs(7200)),
            "scanner",
            "admin",
            &clock
        ),
        BanOutcome::Banned(_)
    ));
    assert!(matches!(
        list.ban_net(v6, None, "hoster", "admin", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(matches!(
        list.ban_net(
            short,
            Some(Duration::from_secs(60)),
            "short",
            "admin",
            &clock
        ),
        BanOutcome::Banned(_)
    ));
    assert!(matches!(
        list.ban(&host, "50 failed auths", "sip-auth", &clock),
        BanOutcome::Banned(_)
    ));
    let snap = list.snapshot(&clock);
    assert_eq!(snap.nets.len(), 3);
    let json = serde_json::to_string(&snap).unwrap();
    let back: BanSnapshot<IpAddr> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);

    // A restart two minutes later: the 60 s network ban ended meanwhile.
    let later = ManualClock::new(UnixTime::from_secs(1_800_000_120));
    let fresh: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
    assert_eq!(fresh.restore(&back, &later), 3);
    let now = later.now();
    assert!(
        fresh
            .check(&"203.0.113.200".parse().unwrap(), now)
            .is_banned()
    );
    assert!(
        fresh
            .check(&"2001:db8:77:ffff::1".parse().unwrap(), now)
            .is_banned()
    );
    assert!(
        !fresh
            .check(&"198.51.100.1".parse().unwrap(), now)
            .is_banned()
    );
    assert!(fresh.check(&host, now).is_banned());
    let ban = fresh.get_net(v4, now).unwrap();
    assert_eq!(ban.reason, "scanner");
    // 7200 s from the original ban, 120 s of which passed.
    assert_eq!(
        fresh
            .check(&"203.0.113.1".parse().unwrap(), now)
            .remaining(now),
        Some(Duration::from_secs(7080))
    );
    assert_eq!(fresh.get_net(v6, now).unwrap().until, None);
    assert_eq!(fresh.list_nets(now).len(), 2);

    // A snapshot without network bans keeps the old JSON shape.
    let plain: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
    plain.ban(&host, "r", "rule", &clock);
    let json = serde_json::to_string(&plain.snapshot(&clock)).unwrap();
    assert!(!json.contains("\"nets\""));
    assert!(!json.contains("net_prefix"));
}

#[test]
fn network_ban_expires_with_a_change_and_respects_the_cap() {
    let clock = ManualClock::default();
    let list: BanList<IpAddr> = BanList::new(BanConfig {
        max_network_bans: 2,
        ..BanConfig::default()
    })
    .unwrap();
    let a: IpNet = "203.0.113.0/24".parse().unwrap();
    let b: IpNet = "2001:db8::/48".parse().unwrap();
    let c: IpNet = "198.51.100.0/24".parse().unwrap();
    assert!(matches!(
        list.ban_net(a, Some(Duration::from_secs(10)), "r", "admin", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(matches!(
        list.ban_net(b, None, "r", "admin", &clock),
        BanOutcome::Banned(_)
    ));
    assert_eq!(
        list.ban_net(c, None, "r", "admin", &clock),
        BanOutcome::Full
    );
    clock.advance(Duration::from_secs(10));
    let changes = list.expire(&clock);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "203.0.113.0".parse::<IpAddr>().unwrap());
    assert_eq!(changes[0].net_prefix, Some(24));
    assert!(matches!(
        list.ban_net(c, None, "r", "admin", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(
        BanList::<IpAddr>::new(BanConfig {
            max_network_bans: MAX_NETWORK_BANS + 1,
            ..BanConfig::default()
        })
        .is_err()
    );
}

#[test]
fn network_ban_changes_apply_on_another_node() {
    let clock = ManualClock::default();
    let one: BanList<IpAddr> = BanList::new(BanConfig {
        origin: "one".into(),
        ..BanConfig::default()
    })
    .unwrap();
    let two: BanList<IpAddr> = BanList::new(BanConfig {
        origin: "two".into(),
        ..BanConfig::default()
    })
    .unwrap();
    let n: IpNet = "203.0.113.0/24".parse().unwrap();
    let BanOutcome::Banned(change) =
        one.ban_net(n, Some(Duration::from_secs(600)), "scan", "admin", &clock)
    else {
        panic!("not banned");
    };
    let json = serde_json::to_string(&change).unwrap();
    assert!(json.contains("\"net_prefix\":24"));
    let change: BanChange<IpAddr> = serde_json::from_str(&json).unwrap();
    assert!(two.apply_remote(&change, &clock));
    assert!(
        two.check(&"203.0.113.9".parse().unwrap(), clock.now())
            .is_banned()
    );
    assert!(two.drain_changes().is_empty());
    let unban = one.unban_net(n, &clock).unwrap();
    assert!(two.apply_remote(&unban, &clock));
    assert!(
        !two.check(&"203.0.113.9".parse().unwrap(), clock.now())
            .is_banned()
    );
}

/// The operator's case: a trunk's address was banned (a burst of failed
/// registrations during a misconfiguration); whitelisting it lets its
/// traffic through at once and says why in the change.
#[test]
fn whitelisting_a_banned_trunk_lifts_its_ban() {
    let clock = ManualClock::default();
    let bans: BanList<IpAddr> = BanList::new(BanConfig::default()).unwrap();
    let wl = bans.whitelist();
    let trunk: IpAddr = "198.51.100.20".parse().unwrap();
    let counter: ThresholdCounter<IpAddr> =
        ThresholdCounter::new(ThresholdConfig::portsip_failed_auth())
            .unwrap()
            .with_whitelist(Arc::clone(&wl));
    assert!(matches!(
        bans.ban(&trunk, "50 failed auths", "sip-auth", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(bans.check(&trunk, clock.now()).is_banned());

    let changes = bans.whitelist_net("198.51.100.16/28".parse().unwrap(), &clock);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, trunk);
    assert_eq!(
        changes[0].change,
        BanAction::Unban {
            cause: UnbanCause::Whitelisted,
            grace_until: None
        }
    );
    assert!(!bans.check(&trunk, clock.now()).is_banned());
    assert!(bans.get(&trunk, clock.now()).is_none());
    // The counters that share the whitelist stop counting it at once.
    assert_eq!(
        counter.record(&trunk, 1, clock.now()),
        ThresholdDecision::Whitelisted
    );
    assert_eq!(
        bans.ban(&trunk, "r", "rule", &clock),
        BanOutcome::Whitelisted
    );

    // Changed directly through the shared whitelist: `check` is clear at
    // once, and the next `expire` lifts the ban with a change.
    let other: IpAddr = "192.0.2.50".parse().unwrap();
    assert!(matches!(
        bans.ban(&other, "r", "rule", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(wl.add_key(other));
    assert!(!bans.check(&other, clock.now()).is_banned());
    let changes = bans.expire(&clock);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, other);
    assert!(bans.expire(&clock).is_empty());

    // Removing it again: it may be banned again.
    assert!(wl.remove_key(&other));
    assert!(matches!(
        bans.ban(&other, "r", "rule", &clock),
        BanOutcome::Banned(_)
    ));

    // Whitelisting one address inside a banned network exempts it, and
    // leaves the network ban for the rest.
    let n: IpNet = "203.0.113.0/24".parse().unwrap();
    assert!(matches!(
        bans.ban_net(n, None, "r", "admin", &clock),
        BanOutcome::Banned(_)
    ));
    assert!(
        bans.whitelist_net("203.0.113.7/32".parse().unwrap(), &clock)
            .is_empty()
    );
    assert!(
        !bans
            .check(&"203.0.113.7".parse().unwrap(), clock.now())
            .is_banned()
    );
    assert!(
        bans.check(&"203.0.113.8".parse().unwrap(), clock.now())
            .is_banned()
    );
    // ... and whitelisting the whole network lifts it.
    let changes = bans.whitelist_net("203.0.0.0/16".parse().unwrap(), &clock);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].net_prefix, Some(24));
    assert!(bans.list_nets(clock.now()).is_empty());
}

#[test]
fn whitelist_replace_and_concurrent_readers() {
    let wl: Arc<Whitelist<IpAddr>> =
        Arc::new(Whitelist::from_nets(["10.0.0.0/8".parse().unwrap()]));
    let a: IpAddr = "10.1.1.1".parse().unwrap();
    let old: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let new: Vec<IpNet> = vec![
        "10.1.0.0/16".parse().unwrap(),
        "192.168.0.0/16".parse().unwrap(),
    ];
    std::thread::scope(|s| {
        let reader = {
            let (wl, old, new) = (Arc::clone(&wl), old.clone(), new.clone());
            s.spawn(move || {
                // Every read sees the old whitelist or the new one, whole:
                // `a` is in both, so no single `contains` may miss it, and
                // one `nets` read is exactly one of the two versions. (Two
                // separate reads may see two versions: each read is atomic,
                // a pair of them is not.)
                for _ in 0..20_000 {
                    assert!(
                        wl.contains(&a),
                        "saw a whitelist without 10.1.1.1 mid-replace"
                    );
                    let nets = wl.nets();
                    assert!(nets == old || nets == new, "saw {nets:?} mid-replace");
                }
            })
        };
        for i in 0..200 {
            if i % 2 == 0 {
                wl.replace(new.clone(), []);
            } else {
                wl.replace(old.clone(), []);
            }
        }
        reader.join().unwrap();
    });
    assert_eq!(wl.generation(), 200);
    assert_eq!(wl.nets(), vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]);
    wl.clear();
    assert!(wl.is_empty());
    assert!(!wl.contains(&a));
}

/// A whitelisted IPv6 address exempts itself, not the /64 its bans are
/// folded to, even when it is the prefix's first address (the one the
/// /64's key is written as); a whitelisted network holding the whole /64
/// exempts it all.
#[test]
fn a_whitelisted_ipv6_address_exempts_itself_not_its_prefix() {
    let clock = ManualClock::default();
    let bans: BanList<IpAddr> = BanList::new(BanConfig {
        whitelist: vec![
            "2001:db8:5::/128".parse().unwrap(),
            "2001:db8:6::10/128".parse().unwrap(),
            "2001:db8:7::/48".parse().unwrap(),
        ],
        ..BanConfig::default()
    })
    .unwrap();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    for (listed, neighbour) in [
        ("2001:db8:5::", "2001:db8:5::9"),
        ("2001:db8:6::10", "2001:db8:6::9"),
    ] {
        // The whitelisted address itself is never banned.
        assert!(matches!(
            bans.ban(&ip(listed), "test", "test", &clock),
            BanOutcome::Whitelisted
        ));
        // Its neighbour is, as the /64, and the whole /64 but the
        // whitelisted address is then refused.
        assert!(
            matches!(
                bans.ban(&ip(neighbour), "test", "test", &clock),
                BanOutcome::Banned(_)
            ),
            "{neighbour}"
        );
        assert!(bans.check(&ip(neighbour), clock.now()).is_banned());
        assert!(
            !bans.check(&ip(listed), clock.now()).is_banned(),
            "{listed}"
        );
    }
    assert!(bans.check(&ip("2001:db8:5::1:2"), clock.now()).is_banned());
    // A whitelisted /48 holds every /64 in it.
    assert!(matches!(
        bans.ban(&ip("2001:db8:7:1::9"), "test", "test", &clock),
        BanOutcome::Whitelisted
    ));
    // A /64 banned, then a /48 around it whitelisted: lifted (the /64's key
    // is not whitelisted as an address; the /48 holds the whole /64).
    assert!(matches!(
        bans.ban(&ip("2001:db8:8:1::9"), "test", "test", &clock),
        BanOutcome::Banned(_)
    ));
    let changes = bans.whitelist_net("2001:db8:8::/48".parse().unwrap(), &clock);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].key, ip("2001:db8:8:1::"));
    // A ban key whitelisted as a key (IPv6, folded to /64): lifted too.
    assert!(matches!(
        bans.ban(&ip("2001:db8:9:1::9"), "test", "test", &clock),
        BanOutcome::Banned(_)
    ));
    let changes = bans.whitelist_key(ip("2001:db8:9:1::"), &clock);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(!bans.check(&ip("2001:db8:9:1::9"), clock.now()).is_banned());
    // Whitelisting the /64's first address later does not lift its ban.
    let changes = bans.whitelist_net("2001:db8:6::/128".parse().unwrap(), &clock);
    assert!(changes.is_empty(), "{changes:?}");
    assert!(bans.check(&ip("2001:db8:6::9"), clock.now()).is_banned());
}

/// Keys whitelisted exactly (not as networks), for key types that folding
/// does not keep whole (IPv6 kept at /128, socket addresses): whitelisting a
/// banned key lifts its ban, and a whitelisted key is not banned again.
#[test]
fn an_exactly_whitelisted_key_is_lifted_and_not_banned_again() {
    let clock = ManualClock::default();
    let bans: BanList<IpAddr> = BanList::new(BanConfig {
        ipv6_prefix: 128,
        ..BanConfig::default()
    })
    .unwrap();
    let host: IpAddr = "2001:db8:a::5".parse().unwrap();
    assert!(matches!(
        bans.ban(&host, "test", "test", &clock),
        BanOutcome::Banned(_)
    ));
    let changes = bans.whitelist_key(host, &clock);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(!bans.check(&host, clock.now()).is_banned());
    assert!(bans.is_empty(clock.now()));
    assert!(matches!(
        bans.ban(&host, "test", "test", &clock),
        BanOutcome::Whitelisted
    ));
    let sockets: BanList<std::net::SocketAddr> = BanList::new(BanConfig::default()).unwrap();
    let peer: std::net::SocketAddr = "[2001:db8:b::7]:5060".parse().unwrap();
    assert!(matches!(
        sockets.ban(&peer, "test", "test", &clock),
        BanOutcome::Banned(_)
    ));
    // The peer itself whitelisted: its /64's ban stays (the peer is exempt
    // from it), the ban key (the /64, port kept) whitelisted: lifted.
    assert!(sockets.whitelist_key(peer, &clock).is_empty());
    assert!(!sockets.check(&peer, clock.now()).is_banned());
    let neighbour: std::net::SocketAddr = "[2001:db8:b::8]:5060".parse().unwrap();
    assert!(sockets.check(&neighbour, clock.now()).is_banned());
    let changes = sockets.whitelist_key(sockets.folded(&peer), &clock);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(!sockets.check(&neighbour, clock.now()).is_banned());
}
