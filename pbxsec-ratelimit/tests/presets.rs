//! Table tests for every preset, driven by `ManualClock`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::net::IpAddr;
use std::time::Duration;

use pbxsec_core::{Clock, ManualClock, Transport};
use pbxsec_ratelimit::*;

/// One threshold preset: the events that must pass and the one that flags.
struct ThresholdRow {
    name: &'static str,
    config: ThresholdConfig,
    limit: u32,
    window: Duration,
    block_for: Option<Duration>,
}

fn threshold_rows() -> Vec<ThresholdRow> {
    let s = Duration::from_secs;
    vec![
        ThresholdRow {
            name: "portsip_failed_auth",
            config: ThresholdConfig::portsip_failed_auth(),
            limit: 50,
            window: s(3600),
            block_for: Some(s(3600)),
        },
        ThresholdRow {
            name: "portsip_unanswered_challenges",
            config: ThresholdConfig::portsip_unanswered_challenges(),
            limit: 50,
            window: s(3600),
            block_for: Some(s(3600)),
        },
        ThresholdRow {
            name: "yeastar_ssh",
            config: ThresholdConfig::yeastar_ssh(),
            limit: 10,
            window: s(60),
            block_for: None,
        },
        ThresholdRow {
            name: "yeastar_sip_udp",
            config: ThresholdConfig::yeastar_sip_udp(),
            limit: 40,
            window: s(2),
            block_for: None,
        },
        ThresholdRow {
            name: "yeastar_sip_tcp",
            config: ThresholdConfig::yeastar_sip_tcp(),
            limit: 40,
            window: s(2),
            block_for: None,
        },
        ThresholdRow {
            name: "yeastar_http",
            config: ThresholdConfig::yeastar_http(),
            limit: 120,
            window: s(60),
            block_for: None,
        },
        ThresholdRow {
            name: "yeastar_https",
            config: ThresholdConfig::yeastar_https(),
            limit: 120,
            window: s(60),
            block_for: None,
        },
        ThresholdRow {
            name: "mypbx_sip_udp_per_minute",
            config: ThresholdConfig::mypbx_sip_udp_per_minute(),
            limit: 120,
            window: s(60),
            block_for: None,
        },
        ThresholdRow {
            name: "mypbx_sip_udp_per_2s",
            config: ThresholdConfig::mypbx_sip_udp_per_2s(),
            limit: 40,
            window: s(2),
            block_for: None,
        },
        ThresholdRow {
            name: "mypbx_ssh_8022",
            config: ThresholdConfig::mypbx_ssh_8022(),
            limit: 5,
            window: s(60),
            block_for: None,
        },
        ThresholdRow {
            name: "mypbx_web_login",
            config: ThresholdConfig::mypbx_web_login(),
            limit: 5,
            window: s(600),
            block_for: Some(s(600)),
        },
        ThresholdRow {
            name: "vodia_default",
            config: ThresholdConfig::vodia_default(),
            limit: 11,
            window: s(60),
            block_for: Some(s(3600)),
        },
    ]
}

#[test]
fn threshold_presets_flag_on_the_limit_within_the_window() {
    for row in threshold_rows() {
        assert_eq!(row.config.limit, row.limit, "{}", row.name);
        assert_eq!(row.config.window, row.window, "{}", row.name);
        assert_eq!(row.config.block_for, row.block_for, "{}", row.name);
        let clock = ManualClock::default();
        let counter: ThresholdCounter<IpAddr> = ThresholdCounter::new(row.config.clone()).unwrap();
        let ip: IpAddr = "203.0.113.50".parse().unwrap();
        // `limit` events spread evenly over just under one window flag on the last.
        let step = (row.window - Duration::from_millis(1)) / (row.limit - 1).max(1);
        for n in 1..row.limit {
            assert_eq!(
                counter.record(&ip, 1, clock.now()),
                ThresholdDecision::Below {
                    total: u64::from(n)
                },
                "{} event {n}",
                row.name
            );
            clock.advance(step);
        }
        assert!(
            counter.record(&ip, 1, clock.now()).is_reached(),
            "{}: event {} within the window",
            row.name,
            row.limit
        );

        // The same events spread over one window and a bit never flag.
        let clock = ManualClock::default();
        let counter: ThresholdCounter<IpAddr> = ThresholdCounter::new(row.config.clone()).unwrap();
        let step = row.window / (row.limit - 1).max(1) + Duration::from_millis(1);
        for n in 1..=row.limit * 3 {
            let d = counter.record(&ip, 1, clock.now());
            assert!(
                !d.is_reached(),
                "{}: event {n} spread wider than the window",
                row.name
            );
            clock.advance(step);
        }
    }
}

#[test]
fn vodia_weights_tls_three_tcp_one() {
    assert_eq!(vodia_connection_weight(Transport::Tls), 3);
    assert_eq!(vodia_connection_weight(Transport::Tcp), 1);
    let clock = ManualClock::default();
    // 5 tolerated attempts: the 6th weight unit flags.
    let counter: ThresholdCounter<IpAddr> = ThresholdCounter::new(ThresholdConfig::vodia(
        5,
        Duration::from_secs(30),
        Duration::from_secs(600),
    ))
    .unwrap();
    let ip: IpAddr = "198.51.100.4".parse().unwrap();
    let table = [
        (Transport::Tcp, 0, ThresholdDecision::Below { total: 1 }),
        (Transport::Tls, 1, ThresholdDecision::Below { total: 4 }),
        (Transport::Tcp, 1, ThresholdDecision::Below { total: 5 }),
        (Transport::Tcp, 1, ThresholdDecision::Reached { total: 6 }),
        (Transport::Tls, 29, ThresholdDecision::Below { total: 3 }),
        (Transport::Tls, 31, ThresholdDecision::Below { total: 3 }), // the first one left the window
        (Transport::Tls, 0, ThresholdDecision::Reached { total: 6 }),
    ];
    for (i, (t, wait, want)) in table.into_iter().enumerate() {
        clock.advance(Duration::from_secs(wait));
        assert_eq!(
            counter.record(&ip, vodia_connection_weight(t), clock.now()),
            want,
            "row {i}"
        );
    }
}

#[test]
fn rate_presets() {
    // (config, rate per second, block_for)
    let rows = [
        (
            "portsip_level1",
            RateConfig::portsip_level1(),
            500u32,
            Some(Duration::from_secs(600)),
        ),
        (
            "portsip_level2",
            RateConfig::portsip_level2(),
            2000,
            Some(Duration::from_secs(3600)),
        ),
        (
            "yeastar_outbound_calls",
            RateConfig::yeastar_outbound_calls(),
            5,
            None,
        ),
    ];
    for (name, config, rate, block_for) in rows {
        assert_eq!(config.block_for, block_for, "{name}");
        let clock = ManualClock::default();
        let rl: RateLimiter<IpAddr> = RateLimiter::new(config).unwrap();
        let ip: IpAddr = "192.0.2.77".parse().unwrap();
        // A burst of `rate` at once passes, the next one does not.
        for n in 0..rate {
            assert!(
                rl.check(&ip, clock.now()).is_allowed(),
                "{name}: packet {n}"
            );
        }
        assert!(
            !rl.check(&ip, clock.now()).is_allowed(),
            "{name}: packet {} in the same instant",
            rate + 1
        );
        // Sustained exactly at the rate: always allowed.
        let interval = Duration::from_secs(1) / rate;
        for n in 0..rate * 3 {
            clock.advance(interval);
            assert!(
                rl.check(&ip, clock.now()).is_allowed(),
                "{name}: steady packet {n}"
            );
        }
        // Twice the rate for two seconds: about half denied.
        let mut denied = 0;
        for _ in 0..rate * 4 {
            clock.advance(interval / 2);
            denied += u32::from(!rl.check(&ip, clock.now()).is_allowed());
        }
        assert_eq!(denied, rate * 2, "{name}");
    }
}

#[test]
fn yeastar_outbound_five_calls_per_second_per_extension() {
    let clock = ManualClock::default();
    let rl: RateLimiter<String> = RateLimiter::new(RateConfig::yeastar_outbound_calls()).unwrap();
    let (a, b) = ("1001".to_owned(), "1002".to_owned());
    let results: Vec<bool> = (0..7)
        .map(|_| rl.check(&a, clock.now()).is_allowed())
        .collect();
    assert_eq!(results, [true, true, true, true, true, false, false]);
    assert!(
        rl.check(&b, clock.now()).is_allowed(),
        "another extension has its own budget"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(rl.remaining(&a, clock.now()), 5);
}

#[test]
fn fail2ban_escalation_and_yeastar_permanent_ban() {
    let h = Duration::from_secs(3600);
    let e = Escalation::fail2ban();
    let table = [
        (0, h),
        (1, 2 * h),
        (2, 4 * h),
        (3, 8 * h),
        (4, 7 * 24 * h),
        (20, 5 * 7 * 24 * h),
    ];
    for (repeat, want) in table {
        assert_eq!(e.duration(h, repeat), Some(want), "repeat {repeat}");
    }
    let yeastar = Escalation {
        permanent_after: Some(3),
        ..Escalation::default()
    };
    assert_eq!(yeastar.duration(h, 1), Some(h));
    assert_eq!(yeastar.duration(h, 2), None);

    let clock = ManualClock::default();
    let bans: BanList<IpAddr> = BanList::new(BanConfig {
        escalation: yeastar,
        ..BanConfig::default()
    })
    .unwrap();
    let ip: IpAddr = "203.0.113.3".parse().unwrap();
    for round in 0..2 {
        assert!(
            matches!(bans.ban(&ip, "login", "web", &clock), BanOutcome::Banned(_)),
            "round {round}"
        );
        clock.advance(h);
        assert!(!bans.is_banned(&ip, clock.now()));
    }
    bans.ban(&ip, "login", "web", &clock);
    clock.advance(Duration::from_secs(365 * 86_400));
    assert!(bans.is_banned(&ip, clock.now()), "third ban is permanent");
    assert!(bans.unban(&ip, &clock).is_some());
    assert!(!bans.is_banned(&ip, clock.now()));
}
