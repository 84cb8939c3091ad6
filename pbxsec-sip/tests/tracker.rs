//! Auth-failure tracker scenarios, driven by `ManualClock`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use pbxsec_core::{Clock, EventKind, ManualClock, RejectReason, Transport};
use pbxsec_sip::digest::{Algorithm, DigestOutcome, Field, Malformed, NonceProblem};
use pbxsec_sip::tracker::{
    BanReason, Decision, Packet, Report, Rule, Seen, Tracker, TrackerConfig,
};

const OK: DigestOutcome = DigestOutcome::Ok {
    algorithm: Algorithm::Md5,
};

struct Sim {
    clock: ManualClock,
    tracker: Tracker,
}

impl Sim {
    fn new(config: TrackerConfig) -> Self {
        Self {
            clock: ManualClock::default(),
            tracker: Tracker::new(config).unwrap(),
        }
    }

    fn packet(&self, src: &str) -> Packet {
        let source: SocketAddr = src.parse().unwrap();
        Packet::new(source, Transport::Udp, &self.clock)
    }

    fn see(&mut self, src: &str, seen: Seen<'_>) -> Report {
        let p = self.packet(src);
        self.tracker.observe(&p, seen)
    }

    /// One REGISTER exchange as the daemon drives it: request, challenge,
    /// credentials with `outcome`. Returns the last report (or the
    /// request's, when it was stopped there).
    fn register(&mut self, src: &str, ext: &str, outcome: DigestOutcome) -> Report {
        let r = self.see(
            src,
            Seen::Request {
                extension: Some(ext),
            },
        );
        if r.response() != &Decision::Accept {
            return r;
        }
        let r = self.see(src, Seen::ChallengeSent);
        if r.response() != &Decision::Accept {
            return r;
        }
        self.see(
            src,
            Seen::Credentials {
                extension: ext,
                outcome,
            },
        )
    }

    fn banned(&self, ip: &str) -> bool {
        let ip: IpAddr = ip.parse().unwrap();
        self.tracker.bans().check(&ip, self.clock.now()).is_banned()
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

fn bans(r: &Report) -> Vec<&Decision> {
    r.bans().collect()
}

fn has_event(r: &Report, kind: EventKind) -> bool {
    r.events.iter().any(|e| e.kind == kind)
}

#[test]
fn password_guessing_is_banned_at_exactly_the_threshold() {
    let mut sim = Sim::new(TrackerConfig::portsip());
    let attacker = "198.51.100.23:5070";
    for i in 1..50 {
        let r = sim.register(attacker, "1000", DigestOutcome::WrongPassword);
        assert_eq!(
            r.response(),
            &Decision::Challenge { stale: false },
            "attempt {i}"
        );
        assert!(bans(&r).is_empty(), "attempt {i}");
        assert!(has_event(&r, EventKind::InvalidPassword));
        sim.advance(10);
    }
    let r = sim.register(attacker, "1000", DigestOutcome::WrongPassword);
    assert_eq!(r.response(), &Decision::DropSilently);
    assert_eq!(
        bans(&r),
        vec![&Decision::Ban {
            key: "198.51.100.23".parse().unwrap(),
            duration: Some(Duration::from_secs(3600)),
            reason: BanReason::FailedAuth,
        }]
    );
    assert!(has_event(&r, EventKind::Banned));
    // From now on every packet from it is dropped, counted no more.
    let r = sim.see(attacker, Seen::Request { extension: None });
    assert_eq!(r.response(), &Decision::DropSilently);
    assert!(r.events.is_empty());
    assert!(sim.banned("198.51.100.23"));
    sim.advance(3600);
    assert!(!sim.banned("198.51.100.23"));
}

#[test]
fn success_does_not_launder_failures() {
    let mut sim = Sim::new(TrackerConfig::portsip());
    let src = "198.51.100.24:5060";
    for _ in 0..49 {
        sim.register(src, "1000", DigestOutcome::WrongPassword);
        sim.advance(5);
    }
    // One good login (a stolen password for another extension)...
    assert_eq!(sim.register(src, "1001", OK).response(), &Decision::Accept);
    // ...does not reset anything: the 50th failure still bans.
    let r = sim.register(src, "1000", DigestOutcome::WrongPassword);
    assert_eq!(bans(&r).len(), 1);
}

#[test]
fn extension_enumeration_is_banned_at_its_own_lower_threshold() {
    let mut sim = Sim::new(TrackerConfig::portsip());
    let scanner = "203.0.113.50:5060";
    for ext in 100..119 {
        let r = sim.register(scanner, &ext.to_string(), DigestOutcome::UnknownUser);
        // The same answer as a wrong password: svwar learns nothing.
        assert_eq!(r.response(), &Decision::Challenge { stale: false });
        assert!(has_event(&r, EventKind::InvalidAccountId));
        assert!(bans(&r).is_empty());
        sim.advance(1);
    }
    let r = sim.register(scanner, "119", DigestOutcome::UnknownUser);
    assert_eq!(r.response(), &Decision::DropSilently);
    assert!(matches!(
        bans(&r)[..],
        [Decision::Ban {
            reason: BanReason::UnknownExtension,
            ..
        }]
    ));
    // The event's JSON carries Asterisk's spelling.
    let json = serde_json::to_string(&r.events[0]).unwrap();
    assert!(json.contains("\"kind\":\"InvalidAccountID\""), "{json}");
}

#[test]
fn a_flood_of_unanswered_challenges_is_banned_by_the_407_rule() {
    let mut sim = Sim::new(TrackerConfig::portsip());
    let flooder = "192.0.2.66:5060";
    let mut banned_at = None;
    for i in 1..=100u32 {
        let r = sim.see(
            flooder,
            Seen::Request {
                extension: Some("1000"),
            },
        );
        if let [Decision::Ban { reason, .. }] = bans(&r)[..] {
            assert_eq!(*reason, BanReason::UnansweredChallenges);
            assert!(has_event(&r, EventKind::ChallengeUnanswered));
            assert_eq!(banned_at, None);
            banned_at = Some(i);
        }
        if r.response() == &Decision::Accept {
            let r = sim.see(flooder, Seen::ChallengeSent);
            assert!(has_event(&r, EventKind::ChallengeSent));
        }
        sim.advance(1);
    }
    // One challenge per second from t = 0; each times out after 32 s, so
    // the 50th (sent at t = 49 s) is judged unanswered at t = 81 s: the
    // 82nd request.
    assert_eq!(banned_at, Some(82));
    assert!(sim.banned("192.0.2.66"));
    let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
    assert!(bans(&r).is_empty());
}

#[test]
fn unanswered_challenges_are_counted_exactly() {
    let mut config = TrackerConfig::portsip();
    config.unanswered_challenge = Some(Rule::new(
        3,
        Duration::from_secs(600),
        Duration::from_secs(60),
    ));
    let mut sim = Sim::new(config);
    let src = "192.0.2.67:5060";
    for _ in 0..3 {
        sim.see(src, Seen::ChallengeSent);
    }
    assert_eq!(sim.tracker.open_challenges(), 3);
    // One is answered (with any credentials): only two remain unanswered.
    sim.see(
        src,
        Seen::Credentials {
            extension: "1000",
            outcome: OK,
        },
    );
    sim.advance(31);
    let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
    assert!(r.events.is_empty());
    sim.advance(1);
    let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
    assert_eq!(
        r.events
            .iter()
            .filter(|e| e.kind == EventKind::ChallengeUnanswered)
            .count(),
        2
    );
    assert!(bans(&r).is_empty());
    sim.see(src, Seen::ChallengeSent);
    sim.advance(32);
    let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
    assert_eq!(bans(&r).len(), 1, "the third unanswered challenge bans");
    assert_eq!(sim.tracker.open_challenges(), 0);
}

#[test]
fn a_legitimate_phone_is_never_banned() {
    let mut sim = Sim::new(TrackerConfig::portsip());
    let phone = "192.0.2.10:5060";
    for minute in 0..(24 * 60) {
        let r = sim.register(phone, "1000", OK);
        assert_eq!(r.response(), &Decision::Accept, "minute {minute}");
        assert!(has_event(&r, EventKind::SuccessfulAuth));
        if minute % 7 == 0 {
            // Now and then its nonce is stale: challenged again, not counted.
            let r = sim.see(
                phone,
                Seen::Credentials {
                    extension: "1000",
                    outcome: DigestOutcome::StaleNonce,
                },
            );
            assert_eq!(r.response(), &Decision::Challenge { stale: true });
            sim.see(phone, Seen::ChallengeSent);
            sim.see(
                phone,
                Seen::Credentials {
                    extension: "1000",
                    outcome: OK,
                },
            );
        }
        sim.advance(60);
        let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
        assert!(
            r.events.is_empty(),
            "no unanswered challenge at minute {minute}"
        );
    }
    assert!(!sim.banned("192.0.2.10"));
    assert!(sim.tracker.bans().is_empty(sim.clock.now()));
}

#[test]
fn a_whitelisted_trunk_is_never_counted() {
    let mut config = TrackerConfig::yeastar();
    config.ban.whitelist = vec!["203.0.113.0/24".parse().unwrap()];
    let mut sim = Sim::new(config);
    let trunk = "203.0.113.5:5060";
    for _ in 0..1000 {
        let r = sim.register(trunk, "trunk", DigestOutcome::WrongPassword);
        assert!(bans(&r).is_empty());
        assert!(
            !r.decisions
                .iter()
                .any(|d| matches!(d, Decision::LockExtension { .. }))
        );
        sim.see(trunk, Seen::AddressNotAllowed { extension: "trunk" });
        sim.see(
            trunk,
            Seen::Credentials {
                extension: "nobody",
                outcome: DigestOutcome::UnknownUser,
            },
        );
        sim.advance(1);
    }
    assert!(!sim.banned("203.0.113.5"));
    assert!(
        !sim.tracker
            .is_locked("203.0.113.5".parse().unwrap(), "trunk", sim.clock.now())
    );
}

#[test]
fn an_office_nat_with_one_bad_phone_is_not_banned_over_a_day() {
    let mut sim = Sim::new(TrackerConfig::yeastar());
    let office = "198.51.100.7";
    let addr = |port: u16| format!("{office}:{port}");
    let office_ip: IpAddr = office.parse().unwrap();
    let mut locks = 0;
    let mut forbidden = 0;
    // 24 h in 30-second steps: the 20 good phones every 60 s, the bad one
    // (extension 1099, wrong password) every 30 s.
    for step in 0..(24 * 120) {
        if step % 2 == 0 {
            for phone in 0..20u16 {
                let ext = format!("{}", 1000 + phone);
                let r = sim.register(&addr(5060 + phone), &ext, OK);
                assert_eq!(
                    r.response(),
                    &Decision::Accept,
                    "phone {ext} at step {step}"
                );
            }
        }
        let r = sim.register(&addr(5099), "1099", DigestOutcome::WrongPassword);
        assert!(bans(&r).is_empty(), "step {step}: {r:?}");
        for d in &r.decisions {
            if let Decision::LockExtension {
                source, extension, ..
            } = d
            {
                assert_eq!(*source, office_ip);
                assert_eq!(extension, "1099");
                locks += 1;
            }
        }
        if let Decision::Respond(rej) = r.response() {
            assert_eq!(rej.reason, RejectReason::Forbidden);
            forbidden += 1;
        }
        sim.advance(30);
    }
    assert!(!sim.banned(office));
    assert!(sim.tracker.is_shared_address(office_ip, sim.clock.now()));
    // Locked again and again (5 failures, then 30 min), refused while locked.
    assert!(locks >= 40, "{locks} locks");
    assert!(forbidden > 2000, "{forbidden} refusals while locked");
    // The lock is for that address only.
    let now = sim.clock.now();
    assert!(
        !sim.tracker
            .is_locked("192.0.2.99".parse().unwrap(), "1099", now)
    );
    assert!(!sim.tracker.is_locked(office_ip, "1000", now));
}

#[test]
fn an_attacker_behind_a_shared_address_gets_a_higher_but_finite_limit() {
    // The per-source limits alone (the lockout would lock extensions that
    // share a failure window before their 5th failure, and refuse them).
    let config = TrackerConfig {
        extension_lockout: None,
        ..TrackerConfig::yeastar()
    };
    let mut sim = Sim::new(config.clone());
    let office = "198.51.100.8:5060";
    for ext in 1000..1003 {
        sim.register(office, &ext.to_string(), OK);
    }
    let ip: IpAddr = "198.51.100.8".parse().unwrap();
    assert!(sim.tracker.is_shared_address(ip, sim.clock.now()));
    // Guessing across extensions, 4 per extension: the per-source limit is
    // 20 x 4 = 80 within 10 min.
    let mut banned_at = None;
    for i in 1..=80u32 {
        let ext = format!("2{:03}", i / 4);
        let r = sim.register(office, &ext, DigestOutcome::WrongPassword);
        if !bans(&r).is_empty() {
            banned_at = Some(i);
            break;
        }
    }
    assert_eq!(banned_at, Some(80));
    // Without the shared-address treatment it would be 20.
    let mut sim = Sim::new(config);
    let mut banned_at = None;
    for i in 1..=80u32 {
        let ext = format!("2{:03}", i / 4);
        let r = sim.register("198.51.100.9:5060", &ext, DigestOutcome::WrongPassword);
        if !bans(&r).is_empty() {
            banned_at = Some(i);
            break;
        }
    }
    assert_eq!(banned_at, Some(20));
}

#[test]
fn an_ipv6_attacker_rotating_inside_one_64_is_one_source() {
    let mut sim = Sim::new(TrackerConfig::fail2ban_asterisk());
    let mut banned = None;
    for i in 1..=10u32 {
        let src = format!("[2001:db8:1:2:{i:x}:{:x}::1]:5060", i * 7);
        let r = sim.register(&src, "1000", DigestOutcome::WrongPassword);
        if let [Decision::Ban { key, .. }] = bans(&r)[..] {
            banned = Some((i, *key));
        }
    }
    assert_eq!(banned, Some((10, "2001:db8:1:2::".parse().unwrap())));
    let r = sim.see(
        "[2001:db8:1:2:ffff::9]:5060",
        Seen::Request { extension: None },
    );
    assert_eq!(r.response(), &Decision::DropSilently);
    let r = sim.see("[2001:db8:1:3::9]:5060", Seen::Request { extension: None });
    assert_eq!(r.response(), &Decision::Accept);
}

#[test]
fn fail2ban_preset_bans_for_10_minutes_then_a_week_as_recidive() {
    let mut sim = Sim::new(TrackerConfig::fail2ban_asterisk());
    let src = "198.51.100.77:5060";
    let mut durations = Vec::new();
    for _round in 0..5 {
        for _ in 0..10 {
            let r = sim.register(src, "1000", DigestOutcome::WrongPassword);
            for d in bans(&r) {
                if let Decision::Ban { duration, .. } = d {
                    durations.push(*duration);
                }
            }
        }
        sim.advance(11 * 60);
    }
    assert_eq!(
        durations,
        vec![
            Some(Duration::from_secs(600)),
            Some(Duration::from_secs(600)),
            Some(Duration::from_secs(600)),
            Some(Duration::from_secs(600)),
            Some(Duration::from_secs(7 * 86_400)),
        ]
    );
}

#[test]
fn kamailio_preset_bans_more_than_16_requests_in_2_seconds() {
    let mut sim = Sim::new(TrackerConfig::kamailio_default());
    let src = "192.0.2.200:5060";
    for i in 1..=16 {
        let r = sim.see(src, Seen::Request { extension: None });
        assert_eq!(r.response(), &Decision::Accept, "request {i}");
        sim.clock.advance(Duration::from_millis(100));
    }
    let r = sim.see(src, Seen::Request { extension: None });
    assert_eq!(r.response(), &Decision::DropSilently);
    assert!(matches!(
        bans(&r)[..],
        [Decision::Ban {
            duration: Some(d),
            reason: BanReason::Flood,
            ..
        }] if *d == Duration::from_secs(300)
    ));
    // 16 requests every 2 s from a neighbour is fine.
    for _ in 0..100 {
        for _ in 0..8 {
            let r = sim.see("192.0.2.201:5060", Seen::Request { extension: None });
            assert_eq!(r.response(), &Decision::Accept);
        }
        sim.advance(1);
    }
}

#[test]
fn broken_credentials_count_against_the_extension_they_name() {
    let mut sim = Sim::new(TrackerConfig::yeastar());
    let svcrack = "203.0.113.77:5060";
    let mut locked = false;
    for i in 1..=5 {
        // svcrack: qop=auth without nc / cnonce.
        let r = sim.register(
            svcrack,
            "1000",
            DigestOutcome::Malformed(Malformed::Missing(Field::Nc)),
        );
        assert!(has_event(&r, EventKind::RequestBadFormat));
        if r.decisions
            .iter()
            .any(|d| matches!(d, Decision::LockExtension { .. }))
        {
            assert_eq!(i, 5);
            locked = true;
        }
    }
    assert!(locked);
    let r = sim.see(
        svcrack,
        Seen::Request {
            extension: Some("1000"),
        },
    );
    assert_eq!(
        r.response(),
        &Decision::Respond(pbxsec_core::Reject {
            reason: RejectReason::Forbidden,
            retry_after: None
        })
    );
    // An unreadable header counts too.
    let r = sim.see(
        svcrack,
        Seen::UnreadableCredentials {
            extension: Some("1001"),
        },
    );
    assert!(
        matches!(r.response(), Decision::Respond(rej) if rej.reason == RejectReason::BadRequest)
    );
}

#[test]
fn refusals_are_counted_and_foreign_domains_dropped() {
    let mut sim = Sim::new(TrackerConfig::yeastar());
    let src = "192.0.2.150:5060";
    for i in 1..=5 {
        let seen = if i % 2 == 0 {
            Seen::AddressNotAllowed { extension: "1000" }
        } else {
            Seen::UserAgentNotAllowed { extension: "1000" }
        };
        let r = sim.see(src, seen);
        if i < 5 {
            assert!(
                matches!(r.response(), Decision::Respond(rej) if rej.reason == RejectReason::Forbidden)
            );
            // An extension's address restriction is an ACL (Asterisk's
            // `FailedACL`, which fail2ban's Asterisk filter matches); a
            // User-Agent rule refuses the request.
            let kind = if i % 2 == 0 {
                EventKind::FailedAcl
            } else {
                EventKind::RequestNotAllowed
            };
            assert!(has_event(&r, kind), "{r:?}");
            assert!(!has_event(&r, EventKind::UnexpectedAddress));
        } else {
            assert!(matches!(
                bans(&r)[..],
                [Decision::Ban {
                    reason: BanReason::Refused,
                    ..
                }]
            ));
        }
    }
    let other = "192.0.2.151:5060";
    for _ in 0..100 {
        let r = sim.see(other, Seen::ForeignDomain);
        assert_eq!(r.response(), &Decision::DropSilently);
        assert!(has_event(&r, EventKind::UnknownDomain));
    }
    assert!(!sim.banned("192.0.2.151"));
}

#[test]
fn config_from_json_and_validation() {
    let c: TrackerConfig = serde_json::from_str(
        r#"{ "failed_auth": { "limit": 5, "window": "10m", "ban_for": "1h" }, "ipv6_prefix": 56 }"#,
    )
    .unwrap();
    assert_eq!(
        c.failed_auth.as_ref().unwrap().window,
        Duration::from_secs(600)
    );
    assert_eq!(c.challenge_timeout, Duration::from_secs(32));
    assert!(c.nat.is_some());
    assert!(Tracker::new(c).is_ok());
    assert!(serde_json::from_str::<TrackerConfig>(r#"{ "failed": 1 }"#).is_err());
    let mut bad = TrackerConfig::portsip();
    bad.failed_auth = Some(Rule::new(0, Duration::from_secs(1), Duration::from_secs(1)));
    let err = Tracker::new(bad).unwrap_err();
    assert!(err.to_string().contains("failed_auth"), "{err}");
    for preset in [
        TrackerConfig::portsip(),
        TrackerConfig::yeastar(),
        TrackerConfig::vodia(),
        TrackerConfig::fail2ban_asterisk(),
        TrackerConfig::kamailio_default(),
    ] {
        let json = serde_json::to_string(&preset).unwrap();
        let back: TrackerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, preset);
        assert!(Tracker::new(preset).is_ok());
    }
}

#[test]
fn vodia_preset_tolerates_ten_attempts() {
    let mut sim = Sim::new(TrackerConfig::vodia());
    for i in 1..=11 {
        let r = sim.register("192.0.2.90:5060", "1000", DigestOutcome::WrongPassword);
        assert_eq!(!bans(&r).is_empty(), i == 11, "attempt {i}");
    }
}

mod model {
    //! The open-challenge ledger against a simple model: per source, a list
    //! of pending challenges; an answer marks the oldest unmarked one; a
    //! pending one reaching its deadline unmarked is unanswered.
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Challenge(u8),
        Answer(u8),
        Wait(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4).prop_map(Op::Challenge),
            (0u8..4).prop_map(Op::Answer),
            (0u8..40).prop_map(Op::Wait),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn unanswered_challenges_match_the_model(ops in proptest::collection::vec(op(), 0..120)) {
            let config = TrackerConfig {
                unanswered_challenge: Some(Rule::new(65_536, Duration::from_secs(86_400), Duration::from_secs(1))),
                capacity: 64,
                ..TrackerConfig::default()
            };
            let mut sim = Sim::new(config);
            // source -> pending (deadline secs, answered)
            let mut model: HashMap<u8, Vec<(u64, bool)>> = HashMap::new();
            let mut expected: HashMap<String, usize> = HashMap::new();
            let mut got: HashMap<String, usize> = HashMap::new();
            let mut t = 0u64;
            let addr = |s: u8| format!("192.0.2.{}:5060", s + 1);
            let ip = |s: u8| format!("192.0.2.{}", s + 1);
            let tally = |r: &Report, got: &mut HashMap<String, usize>| {
                for e in &r.events {
                    if e.kind == EventKind::ChallengeUnanswered {
                        *got.entry(e.source_ip.unwrap().to_string()).or_default() += 1;
                    }
                }
            };
            for op in ops {
                match op {
                    Op::Challenge(s) => {
                        let r = sim.see(&addr(s), Seen::ChallengeSent);
                        tally(&r, &mut got);
                        model.entry(s).or_default().push((t + 32, false));
                    }
                    Op::Answer(s) => {
                        let r = sim.see(&addr(s), Seen::Credentials { extension: "1", outcome: OK });
                        tally(&r, &mut got);
                        if let Some(p) = model.get_mut(&s).and_then(|v| v.iter_mut().find(|(_, a)| !a)) {
                            p.1 = true;
                        }
                    }
                    Op::Wait(secs) => {
                        sim.advance(u64::from(secs));
                        t += u64::from(secs);
                        let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
                        tally(&r, &mut got);
                    }
                }
                // Expire the model at t (the tracker expires at the start of
                // each call, and after a challenge is queued).
                for (s, pending) in model.iter_mut() {
                    pending.retain(|&(d, answered)| {
                        if d <= t {
                            if !answered {
                                *expected.entry(ip(*s)).or_default() += 1;
                            }
                            false
                        } else {
                            true
                        }
                    });
                }
            }
            sim.advance(100);
            let r = sim.tracker.poll(sim.clock.now(), sim.clock.wall());
            tally(&r, &mut got);
            for (s, pending) in &model {
                let n = pending.iter().filter(|(_, a)| !a).count();
                if n > 0 {
                    *expected.entry(ip(*s)).or_default() += n;
                }
            }
            prop_assert_eq!(got, expected);
            prop_assert_eq!(sim.tracker.open_challenges(), 0);
        }
    }
}

#[test]
fn lockout_overflow_keeps_locks_and_still_counts_per_source() {
    // Lockout 5 / 10 min per extension; per source 20 failed auths.
    let mut sim = Sim::new(TrackerConfig::yeastar());
    let src = "203.0.113.50:5060";
    let ip: IpAddr = "203.0.113.50".parse().unwrap();
    // Three extensions locked (5 failures each), one inline slot left.
    for ext in ["2001", "2002", "2003"] {
        for _ in 0..5 {
            sim.register(src, ext, DigestOutcome::WrongPassword);
        }
        assert!(sim.tracker.is_locked(ip, ext, sim.clock.now()), "{ext}");
    }
    assert!(!sim.banned("203.0.113.50"));
    // A fourth and a fifth extension, failing in turn: 15 + 4 failures so
    // far, the 20th bans the source whatever the per-extension slots hold.
    let mut banned_at = None;
    for n in 0..4 {
        let ext = if n % 2 == 0 { "2004" } else { "2005" };
        let r = sim.register(src, ext, DigestOutcome::WrongPassword);
        if !bans(&r).is_empty() {
            banned_at = Some(n);
        }
    }
    // The locks in force were kept.
    for ext in ["2001", "2002", "2003"] {
        assert!(sim.tracker.is_locked(ip, ext, sim.clock.now()), "{ext}");
    }
    assert_eq!(banned_at, None, "15 + 4 = 19 failures: not yet");
    let r = sim.register(src, "2006", DigestOutcome::WrongPassword);
    assert_eq!(bans(&r).len(), 1, "the 20th failure bans: {r:?}");
}

#[test]
fn observe_into_reuses_the_report_and_decides_as_observe() {
    let mut a = Sim::new(TrackerConfig::yeastar());
    let mut b = Tracker::new(TrackerConfig::yeastar()).unwrap();
    let mut report = Report::new();
    for i in 0..40u16 {
        let src = format!("192.0.2.{}:5060", i % 3);
        let ext = format!("{}", 1000 + i % 2);
        for seen in [
            Seen::Request {
                extension: Some(&ext),
            },
            Seen::ChallengeSent,
            Seen::Credentials {
                extension: &ext,
                outcome: DigestOutcome::WrongPassword,
            },
        ] {
            let p = a.packet(&src);
            let expected = a.tracker.observe(&p, seen);
            b.observe_into(&p, seen, &mut report);
            assert_eq!(report, expected, "step {i}");
        }
        a.advance(10);
    }
}

/// The configuration of the mixed-observation tests: fail2ban's Asterisk
/// jail with Yeastar's extension lockout and an unanswered-challenge rule
/// of 2, so that observations leave 0, 1 or several events.
fn mixed_config() -> TrackerConfig {
    let mut config = TrackerConfig::fail2ban_asterisk();
    config.extension_lockout = TrackerConfig::yeastar().extension_lockout;
    config.unanswered_challenge = Some(Rule::new(
        2,
        Duration::from_secs(600),
        Duration::from_secs(60),
    ));
    config.challenge_timeout = Duration::from_secs(5);
    config
}

/// One of the mixed observations, chosen by `r % 10`.
fn mixed_seen(r: u64, ext: &str) -> Seen<'_> {
    match r % 10 {
        0 => Seen::Request {
            extension: Some(ext),
        },
        1 => Seen::ChallengeSent,
        2 => match r / 10 % 3 {
            0 => Seen::ChallengeSent,
            1 => Seen::UnknownExtension { extension: ext },
            _ => Seen::Credentials {
                extension: ext,
                outcome: DigestOutcome::InvalidNonce(NonceProblem::Replayed),
            },
        },
        3 => Seen::Credentials {
            extension: ext,
            outcome: OK,
        },
        4 | 5 => Seen::Credentials {
            extension: ext,
            outcome: DigestOutcome::WrongPassword,
        },
        6 => Seen::Credentials {
            extension: ext,
            outcome: DigestOutcome::UnknownUser,
        },
        7 => Seen::UnreadableCredentials {
            extension: Some(ext),
        },
        8 => Seen::AddressNotAllowed { extension: ext },
        _ => Seen::ForeignDomain,
    }
}

#[test]
fn a_reused_report_holds_exactly_each_observations_events() {
    // Observations that leave 0, 1 or several events (bans, locks,
    // unanswered challenges judged meanwhile, refusals, dropped domains),
    // in a pseudo-random order, and polls in between: one report reused
    // throughout (`observe_into` / `poll_into`) must always equal a fresh
    // one (`observe` / `poll`) from a twin tracker.
    let config = mixed_config();
    let mut a = Sim::new(config.clone());
    let mut b = Tracker::new(config).unwrap();
    let mut report = Report::new();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    // How often an observation left several events, and fewer than the
    // one before (so the run covers both).
    let (mut several, mut fewer, mut before) = (0, 0, 0);
    for step in 0..1500u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let src = format!("198.51.100.{}:5060", x % 5);
        let ext = format!("{}", 100 + (x >> 8) % 3);
        let seen = mixed_seen(x >> 16, &ext);
        let p = a.packet(&src);
        if (x >> 24) % 7 == 0 {
            let expected = a.tracker.poll(p.now, p.wall);
            b.poll_into(p.now, p.wall, &mut report);
            assert_eq!(report, expected, "poll at step {step}");
        } else {
            let expected = a.tracker.observe(&p, seen);
            b.observe_into(&p, seen, &mut report);
            assert_eq!(report, expected, "step {step}: {seen:?}");
        }
        let n = report.events.len();
        several += usize::from(n >= 2);
        fewer += usize::from(n < before);
        before = n;
        a.advance((x >> 32) % 4);
    }
    assert!(several >= 20 && fewer >= 20, "{several} {fewer}");
}

#[test]
fn nat_min_extensions_is_bounded() {
    let mut c = TrackerConfig::portsip();
    if let Some(n) = c.nat.as_mut() {
        n.min_extensions = 9;
    }
    let err = Tracker::new(c).unwrap_err();
    assert!(err.to_string().contains("nat"), "{err}");
}

#[test]
fn evicted_sources_are_never_banned_early_for_unanswered_challenges() {
    // A table of 4 slots for 24 sources, each sending a challenge every
    // 7 s that is never answered: records (with their open challenges) are
    // evicted again and again. A ban must never come before the source
    // really had `limit` unanswered challenges within the window.
    let mut config = TrackerConfig {
        unanswered_challenge: Some(Rule::new(
            3,
            Duration::from_secs(600),
            Duration::from_secs(60),
        )),
        capacity: 1,
        ..TrackerConfig::default()
    };
    config.nat = None;
    let mut sim = Sim::new(config);
    assert!(sim.tracker.source_slots() <= 8);
    let mut sent: HashMap<IpAddr, Vec<u64>> = HashMap::new();
    let timeout = 32;
    for step in 0..400u64 {
        let i = (step * 7) % 24;
        let ip: IpAddr = format!("192.0.2.{}", 10 + i).parse().unwrap();
        let r = sim.see(&format!("{ip}:5060"), Seen::ChallengeSent);
        sent.entry(ip).or_default().push(step);
        let now_s = step;
        for d in bans(&r) {
            if let Decision::Ban { key, .. } = d {
                // Challenges of that source whose deadline has passed and
                // that fell within the window.
                let due = sent[key]
                    .iter()
                    .filter(|&&t| t + timeout <= now_s && now_s - (t + timeout) < 600)
                    .count();
                assert!(due >= 3, "{key} banned at {now_s} s with {due} unanswered");
            }
        }
        sim.advance(1);
    }
}

#[test]
fn a_batch_reports_exactly_what_one_observation_at_a_time_does() {
    // The mixed observations of the reused-report test, from five sources
    // (so a batch holds the same source several times, and a record
    // started for a later observation moves under an earlier one), fed
    // to one tracker one at a time and to a twin in batches of 1 to 40
    // (so over `BATCH`, in several chunks), with polls between batches.
    let mut config = mixed_config();
    // A table in cache, and one over 8 MiB (where the batch starts the
    // records' loads early).
    for capacity in [1024, 40_000] {
        config.capacity = capacity;
        let mut a = Sim::new(config.clone());
        let mut b = Tracker::new(config.clone()).unwrap();
        let mut reports = Vec::new();
        let mut report = Report::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let exts: Vec<String> = (100..103).map(|e| e.to_string()).collect();
        let (mut batches, mut events) = (0, 0);
        for round in 0..150u32 {
            let n = (next() % 40 + 1) as usize;
            let mut batch = Vec::with_capacity(n);
            for _ in 0..n {
                let r = next();
                let src = format!("198.51.100.{}:5060", r % 5);
                let ext = &exts[((r >> 8) % 3) as usize];
                let seen = mixed_seen(r >> 16, ext);
                batch.push((a.packet(&src), seen));
                // Packets a few hundred milliseconds apart within a batch.
                a.clock.advance(Duration::from_millis(r >> 54));
            }
            let expected: Vec<Report> = batch
                .iter()
                .map(|(p, seen)| a.tracker.observe(p, *seen))
                .collect();
            b.observe_batch(&batch, &mut reports);
            assert_eq!(reports, expected, "round {round}, capacity {capacity}");
            batches += usize::from(n > 16);
            events += expected.iter().map(|r| r.events.len()).sum::<usize>();
            let p = a.packet("198.51.100.1:5060");
            let polled = a.tracker.poll(p.now, p.wall);
            b.poll_into(p.now, p.wall, &mut report);
            assert_eq!(report, polled, "poll after round {round}");
            a.advance(next() % 8);
        }
        assert!(batches >= 20 && events >= 500, "{batches} {events}");
    }
}

/// Credentials observed on their own (a request whose To user differs from
/// the Authorization username passes the request-time lock check).
fn credentials(sim: &mut Sim, src: &str, ext: &str, outcome: DigestOutcome) -> Report {
    sim.see(
        src,
        Seen::Credentials {
            extension: ext,
            outcome,
        },
    )
}

fn refused_as_locked(r: &Report) -> bool {
    matches!(r.response(), Decision::Respond(rej) if rej.reason == RejectReason::Forbidden && rej.retry_after.is_none())
        && r.events.iter().any(|e| {
            e.kind == EventKind::RequestNotAllowed
                && e.detail.as_deref() == Some("extension locked for this source")
        })
}

#[test]
fn a_locked_extension_refuses_credentials_that_name_it_whatever_they_say() {
    // Yeastar: 5 failures on one extension lock it for that address
    // (30 min); 20 failed auths per source ban the source.
    let mut sim = Sim::new(TrackerConfig::yeastar());
    let src = "203.0.113.60:5060";
    let ip: IpAddr = "203.0.113.60".parse().unwrap();
    for _ in 0..5 {
        credentials(&mut sim, src, "1000", DigestOutcome::WrongPassword);
    }
    assert!(sim.tracker.is_locked(ip, "1000", sim.clock.now()));
    // The request names another extension (To: 9999), so the request-time
    // check passes; the credentials name 1000.
    let r = sim.see(
        src,
        Seen::Request {
            extension: Some("9999"),
        },
    );
    assert_eq!(r.response(), &Decision::Accept);
    // Wrong and right passwords get the same answer, and neither is
    // counted: 40 more tries (twice the per-source limit) ban nothing.
    for i in 0..40 {
        let outcome = if i == 17 {
            OK
        } else {
            DigestOutcome::WrongPassword
        };
        let r = credentials(&mut sim, src, "1000", outcome);
        assert!(refused_as_locked(&r), "try {i}: {r:?}");
        assert!(bans(&r).is_empty(), "try {i}");
        assert!(!has_event(&r, EventKind::SuccessfulAuth), "try {i}");
        sim.advance(1);
    }
    assert!(!sim.banned("203.0.113.60"));
    // A malformed answer naming it is refused the same way.
    let r = sim.see(
        src,
        Seen::UnreadableCredentials {
            extension: Some("1000"),
        },
    );
    assert!(refused_as_locked(&r), "{r:?}");
    // Another extension from that address is verified as usual.
    let r = credentials(&mut sim, src, "1001", OK);
    assert_eq!(r.response(), &Decision::Accept);
    // After the lock, 1000 is verified again.
    sim.advance(30 * 60);
    let r = credentials(&mut sim, src, "1000", OK);
    assert_eq!(r.response(), &Decision::Accept);
}

#[test]
fn alternating_extensions_cannot_reset_an_extensions_count() {
    // Three decoys locked, then the target and another extension in turn:
    // the target is still locked by its 5th failure at the latest (its
    // failure window is never handed to another extension).
    let config = TrackerConfig {
        failed_auth: None,
        ..TrackerConfig::yeastar()
    };
    let mut sim = Sim::new(config);
    let src = "203.0.113.61:5060";
    let ip: IpAddr = "203.0.113.61".parse().unwrap();
    for ext in ["3001", "3002", "3003"] {
        for _ in 0..5 {
            sim.register(src, ext, DigestOutcome::WrongPassword);
        }
        assert!(sim.tracker.is_locked(ip, ext, sim.clock.now()), "{ext}");
    }
    let mut tried = 0;
    for n in 0..40 {
        let ext = if n % 2 == 0 { "3004" } else { "3005" };
        let r = sim.register(src, ext, DigestOutcome::WrongPassword);
        if ext == "3004" && matches!(r.response(), Decision::Challenge { .. }) {
            tried += 1;
        }
        if ext == "3004" && !matches!(r.response(), Decision::Challenge { .. }) {
            assert!(
                matches!(r.response(), Decision::Respond(rej) if rej.reason == RejectReason::Forbidden)
            );
        }
        sim.advance(2);
    }
    assert!(
        tried <= 4,
        "{tried} wrong passwords on 3004 went unpunished"
    );
    assert!(sim.tracker.is_locked(ip, "3004", sim.clock.now()));
}

#[test]
fn a_whitelisted_ipv6_address_stays_clear_inside_a_banned_prefix() {
    let mut config = TrackerConfig::portsip();
    config.ban.whitelist = vec!["2001:db8:1:2::10/128".parse().unwrap()];
    let mut sim = Sim::new(config);
    let trunk = "[2001:db8:1:2::10]:5060";
    // The whitelisted address fails a lot: nothing is counted.
    for _ in 0..200 {
        let r = sim.register(trunk, "trunk", DigestOutcome::WrongPassword);
        assert!(bans(&r).is_empty());
    }
    // Its neighbour in the same /64 is counted and banned as the /64.
    let mut banned = false;
    for i in 0..50 {
        let r = sim.register(
            "[2001:db8:1:2::99]:5060",
            "1000",
            DigestOutcome::WrongPassword,
        );
        banned |= !bans(&r).is_empty();
        assert_eq!(!bans(&r).is_empty(), i == 49, "attempt {}", i + 1);
    }
    assert!(banned);
    assert!(sim.banned("2001:db8:1:2::77"));
    // The whitelisted address still gets through.
    assert!(!sim.banned("2001:db8:1:2::10"));
    let r = sim.register(trunk, "trunk", OK);
    assert_eq!(r.response(), &Decision::Accept, "{r:?}");
}

#[test]
fn a_whitelisted_ipv6_address_does_not_exempt_its_prefix() {
    // The whitelisted address is the /64's first one, the address its
    // key is written as: its neighbours are still counted.
    let mut config = TrackerConfig::portsip();
    config.ban.whitelist = vec!["2001:db8:1:3::/128".parse().unwrap()];
    let mut sim = Sim::new(config);
    for i in 0..50 {
        let r = sim.register(
            "[2001:db8:1:3::5]:5060",
            "1000",
            DigestOutcome::WrongPassword,
        );
        assert_eq!(!bans(&r).is_empty(), i == 49, "attempt {}", i + 1);
    }
    assert!(sim.banned("2001:db8:1:3::5"));
}

#[test]
fn a_ban_list_that_bans_narrower_than_the_tracker_counts_is_refused() {
    use pbxsec_ratelimit::{BanConfig, BanList};
    use std::sync::Arc;
    let narrow = Arc::new(
        BanList::new(BanConfig {
            ipv6_prefix: 128,
            ..BanConfig::default()
        })
        .unwrap(),
    );
    let err = Tracker::with_ban_list(TrackerConfig::portsip(), narrow).unwrap_err();
    assert!(err.to_string().contains("ipv6_prefix"), "{err}");
    let wide = Arc::new(
        BanList::new(BanConfig {
            ipv6_prefix: 48,
            ..BanConfig::default()
        })
        .unwrap(),
    );
    assert!(Tracker::with_ban_list(TrackerConfig::portsip(), wide).is_ok());
    let zero = TrackerConfig {
        challenge_timeout: Duration::ZERO,
        ..TrackerConfig::portsip()
    };
    let err = Tracker::new(zero).unwrap_err();
    assert!(err.to_string().contains("challenge_timeout"), "{err}");
}

#[test]
fn svwar_requests_for_unknown_extensions_are_counted_at_their_own_limit() {
    // svwar registers extensions without credentials: the daemon reports
    // each request that names no such extension. PortSIP preset: 20
    // unknown extensions per hour ban (failed auths: 50).
    let mut sim = Sim::new(TrackerConfig::portsip());
    let src = "192.0.2.201:5060";
    for i in 1..=20u32 {
        let ext = format!("{}", 100 + i);
        let r = sim.see(
            src,
            Seen::Request {
                extension: Some(&ext),
            },
        );
        assert_eq!(r.response(), &Decision::Accept);
        let r = sim.see(src, Seen::UnknownExtension { extension: &ext });
        assert!(has_event(&r, EventKind::InvalidAccountId));
        if i < 20 {
            // The answer a known extension gets: a challenge.
            assert_eq!(r.response(), &Decision::Challenge { stale: false });
            assert!(bans(&r).is_empty());
        } else {
            assert!(matches!(
                bans(&r)[..],
                [Decision::Ban {
                    reason: BanReason::UnknownExtension,
                    ..
                }]
            ));
            assert_eq!(r.response(), &Decision::DropSilently);
        }
        sim.advance(1);
    }
    assert!(sim.banned("192.0.2.201"));
}

#[test]
fn right_answers_on_replayed_or_foreign_nonces_are_not_failures() {
    // A UDP REGISTER retransmitted after its 200 OK was lost carries the
    // same nc (replayed); a nonce of a key rotated out is foreign. The
    // response was right: a fresh challenge with stale=true, nothing
    // counted.
    let mut sim = Sim::new(TrackerConfig::yeastar());
    let src = "192.0.2.202:5060";
    for i in 0..100 {
        let problem = if i % 2 == 0 {
            NonceProblem::Replayed
        } else {
            NonceProblem::Foreign
        };
        let r = sim.register(src, "1000", DigestOutcome::InvalidNonce(problem));
        assert_eq!(r.response(), &Decision::Challenge { stale: true }, "{i}");
        assert!(bans(&r).is_empty());
        sim.advance(1);
    }
    assert!(!sim.banned("192.0.2.202"));
    assert!(
        !sim.tracker
            .is_locked("192.0.2.202".parse().unwrap(), "1000", sim.clock.now())
    );
}

/// A day of an office behind one address with no extension lockout
/// (PortSIP: 50 failed auths per hour ban the source): 20 phones register
/// every 60 s and one with a wrong password retries every 30 s, 120
/// failures an hour. Returns whether the office was banned.
fn office_day_without_lockout(config: TrackerConfig) -> bool {
    let mut sim = Sim::new(config);
    let office = "198.51.100.70";
    let addr = |port: u16| format!("{office}:{port}");
    for step in 0..(24 * 120) {
        if step % 2 == 0 {
            for phone in 0..20u16 {
                let ext = format!("{}", 1000 + phone);
                let r = sim.register(&addr(5060 + phone), &ext, OK);
                if r.response() == &Decision::DropSilently {
                    return true;
                }
            }
        }
        let r = sim.register(&addr(5099), "1099", DigestOutcome::WrongPassword);
        if !bans(&r).is_empty() || r.response() == &Decision::DropSilently {
            return true;
        }
        sim.advance(30);
    }
    sim.banned(office)
}

#[test]
fn an_office_nat_without_lockout_is_kept_by_the_raised_limit() {
    // 120 failures an hour: under the raised limit (50 x 4 = 200), over the
    // base one (50). The NAT treatment is what keeps the office.
    assert!(!office_day_without_lockout(TrackerConfig::portsip()));
    let no_nat = TrackerConfig {
        nat: None,
        ..TrackerConfig::portsip()
    };
    assert!(office_day_without_lockout(no_nat));
}

mod lockout_model {
    //! The per-extension lockout against the property it promises: no
    //! extension has more than `limit` failures answered (not refused as
    //! locked) within any lockout window, however many extensions fail
    //! (eight here: more than the four locks kept, so locks give their
    //! slots away); while at most four extensions failed, one that never
    //! failed is never locked.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn no_extension_gets_more_than_the_limit_per_window(
            ops in proptest::collection::vec((0u8..8, 0u8..40, any::<bool>()), 0..300)
        ) {
            let limit = 5usize;
            let window = 600u64;
            let config = TrackerConfig {
                failed_auth: None,
                ..TrackerConfig::yeastar()
            };
            let mut sim = Sim::new(config);
            let src = "192.0.2.210:5060";
            let ip: IpAddr = "192.0.2.210".parse().unwrap();
            // Per extension: the times of its failures that were answered.
            let mut answered: Vec<Vec<u64>> = vec![Vec::new(); 8];
            let mut failing = std::collections::HashSet::new();
            let mut t = 0u64;
            for (ext, wait, via_request) in ops {
                let name = format!("40{ext}");
                failing.insert(ext);
                let r = if via_request {
                    sim.register(src, &name, DigestOutcome::WrongPassword)
                } else {
                    credentials(&mut sim, src, &name, DigestOutcome::WrongPassword)
                };
                let refused = matches!(r.response(), Decision::Respond(rej) if rej.reason == RejectReason::Forbidden && rej.retry_after.is_none());
                if !refused {
                    let times = &mut answered[usize::from(ext)];
                    times.push(t);
                    let recent = times.iter().filter(|&&s| t - s < window).count();
                    prop_assert!(recent <= limit, "{name}: {recent} answered failures within the window at {t}");
                    if recent == limit {
                        prop_assert!(sim.tracker.is_locked(ip, &name, sim.clock.now()), "{name} not locked at its {limit}th failure");
                    }
                }
                sim.advance(u64::from(wait));
                t += u64::from(wait);
            }
            if failing.len() <= 4 {
                for never in ["4100", "4101", "5000"] {
                    prop_assert!(!sim.tracker.is_locked(ip, never, sim.clock.now()));
                }
            }
        }
    }
}

#[test]
fn a_lock_that_gives_its_slot_away_still_holds_to_its_end() {
    // Yeastar's lockout alone (5 failures / 10 min → 30 min). Four
    // extensions locked at once, then, 11 minutes later (their failures
    // have left the window), a fifth: the lock ending soonest gives its
    // slot away, but its extension stays locked until its 30 minutes end.
    let config = TrackerConfig {
        failed_auth: None,
        ..TrackerConfig::yeastar()
    };
    let mut sim = Sim::new(config);
    let src = "203.0.113.62:5060";
    let ip: IpAddr = "203.0.113.62".parse().unwrap();
    let exts = ["5001", "5002", "5003", "5004", "5005"];
    for ext in &exts[..4] {
        for _ in 0..5 {
            sim.register(src, ext, DigestOutcome::WrongPassword);
        }
        assert!(sim.tracker.is_locked(ip, ext, sim.clock.now()), "{ext}");
        sim.advance(1);
    }
    sim.advance(11 * 60);
    for _ in 0..5 {
        sim.register(src, "5005", DigestOutcome::WrongPassword);
    }
    for ext in exts {
        assert!(sim.tracker.is_locked(ip, ext, sim.clock.now()), "{ext}");
        let r = sim.register(src, ext, DigestOutcome::WrongPassword);
        assert!(
            matches!(r.response(), Decision::Respond(rej) if rej.reason == RejectReason::Forbidden),
            "{ext}: {r:?}"
        );
    }
    // 30 minutes after the first lock, it has ended.
    sim.advance(30 * 60 - 11 * 60 - 3);
    assert!(!sim.tracker.is_locked(ip, "5001", sim.clock.now()));
}

#[test]
fn an_unknown_name_is_locked_as_a_known_one_is() {
    // Yeastar: the lockout's answers for a known extension with wrong
    // passwords and for a name that does not exist are the same, so the
    // 403 does not tell which extensions exist.
    let answers = |outcome: DigestOutcome, ext: &str| {
        let config = TrackerConfig {
            failed_auth: None,
            unknown_extension: None,
            ..TrackerConfig::yeastar()
        };
        let mut sim = Sim::new(config);
        (0..8)
            .map(|_| {
                let r = sim.register("192.0.2.220:5060", ext, outcome);
                sim.advance(5);
                let locks = r
                    .decisions
                    .iter()
                    .filter(|d| matches!(d, Decision::LockExtension { .. }))
                    .count();
                (r.response().clone(), locks)
            })
            .collect::<Vec<_>>()
    };
    let known = answers(DigestOutcome::WrongPassword, "1000");
    let unknown = answers(DigestOutcome::UnknownUser, "9999");
    assert_eq!(known, unknown);
    // The 5th locks, the later ones are refused at the request.
    assert_eq!(known[4].1, 1, "{known:?}");
    assert!(matches!(&known[5].0, Decision::Respond(rej) if rej.reason == RejectReason::Forbidden));
}
