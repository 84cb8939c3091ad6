//! Bursts of fraud-like denials: counted per extension and per source, one burst alert, an optional block (Yeastar-like), driven by ManualClock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::net::IpAddr;
use std::time::Duration;

use pbxsec_core::{Clock, EventKind, ManualClock, Severity, UnixTime};
use pbxsec_outbound::{
    BurstScope, Call, DenyCode, FraudBurstConfig, OutboundConfig, OutboundGuard, Outcome,
};

/// An office policy: international calls only for the "export" group and
/// behind a PIN, premium numbers blocked, a country list.
fn policy(burst: Option<FraudBurstConfig>) -> OutboundGuard {
    let mut config: OutboundConfig = serde_json::from_str(
        r#"{
        "routes": [
            { "name": "international", "patterns": [ { "pattern": "00." } ],
              "groups": ["export"], "pin_list": [ { "pin": "582913", "user": "cfo" } ] },
            { "name": "national", "patterns": [ { "pattern": "0[1-9]X." } ], "everyone": true }
        ],
        "countries": { "allow": ["33", "41", "44", "49", "1"], "deny": ["1-242", "1-876", "44-70"] },
        "blocked_numbers": ["0900X.", "0137X."]
    }"#,
    )
    .unwrap();
    config.fraud_burst = burst;
    OutboundGuard::try_from(config).unwrap()
}

fn attacker() -> IpAddr {
    "198.51.100.66".parse().unwrap()
}

/// The numbers of an international toll-fraud run: far-away and premium.
const RUN: [&str; 8] = [
    "00882123456",
    "0012425551234",
    "00447012345678",
    "0018765551234",
    "09005123456",
    "00881612345",
    "0013455551234",
    "0023765551234",
];

fn bursts_of(out: &Outcome) -> Vec<BurstScope> {
    out.bursts.iter().map(|b| b.scope.clone()).collect()
}

/// An attacker dials a loop of international and premium numbers from a
/// compromised extension, one every 3 seconds (under the 5 calls per second
/// rate limit). Each attempt is refused and alerts; the fifth makes a burst
/// and blocks the extension (and the source) for an hour; later attempts,
/// from that extension or another one from the same source, are refused
/// unread and raise no more alerts.
#[test]
fn an_international_toll_fraud_run_is_stopped() {
    let guard = policy(Some(FraudBurstConfig {
        limit: 5,
        window: Duration::from_secs(600),
        block: true,
        block_for: Some(Duration::from_secs(3600)),
        ..FraudBurstConfig::default()
    }));
    let clock = ManualClock::new("2026-11-29T02:00:00Z".parse::<UnixTime>().unwrap());
    let mut codes = Vec::new();
    let mut alerts = 0;
    let mut burst_events = Vec::new();
    for (i, n) in RUN.iter().cycle().take(12).enumerate() {
        let call = Call::new("1005", n).with_source(attacker());
        let out = guard.check_with(&call, &clock).outcome;
        assert!(!out.decision.is_allowed(), "{n}");
        codes.push(out.decision.code().unwrap());
        alerts += usize::from(out.event.is_some());
        if i == 4 {
            assert_eq!(
                bursts_of(&out),
                vec![BurstScope::Extension, BurstScope::Source(attacker())]
            );
            for b in &out.bursts {
                assert_eq!(b.count, 5);
                assert!(b.blocked);
                assert_eq!(b.blocked_for, Some(Duration::from_secs(3600)));
                assert_eq!(b.event.kind, EventKind::TollFraudSuspected);
                assert_eq!(b.event.severity, Severity::Alert);
                assert_eq!(b.event.extension.as_deref(), Some("1005"));
                assert_eq!(b.event.source_ip, Some(attacker()));
                assert!(b.event.detail.as_deref().unwrap().starts_with("burst: 5 "));
                burst_events.push(b.event.clone());
            }
        } else {
            assert!(out.bursts.is_empty(), "attempt {i}");
        }
        clock.advance(Duration::from_secs(3));
    }
    // Five refused by the policy, each with its own alert; then blocked.
    assert_eq!(alerts, 5);
    assert!(codes[..5].iter().all(|c| *c != DenyCode::ExtensionBlocked));
    assert!(codes[5..].iter().all(|c| *c == DenyCode::ExtensionBlocked));
    assert_eq!(burst_events.len(), 2);
    assert!(guard.is_extension_blocked("1005", None, clock.now()));

    // Even an ordinary national call from 1005 is refused while blocked.
    let national = guard
        .check_with(&Call::new("1005", "0301234567"), &clock)
        .outcome;
    assert_eq!(national.decision.code(), Some(DenyCode::ExtensionBlocked));
    assert!(national.event.is_none());
    // The attacker moves to another compromised extension: same source.
    let other = guard
        .check_with(
            &Call::new("1007", "00882123456").with_source(attacker()),
            &clock,
        )
        .outcome;
    assert_eq!(other.decision.code(), Some(DenyCode::SourceBlocked));
    // The office, from its own addresses, keeps working.
    let office = Call::new("1006", "0301234567").with_source("192.0.2.10".parse().unwrap());
    assert!(
        guard
            .check_with(&office, &clock)
            .outcome
            .decision
            .is_allowed()
    );

    // An hour after the block: allowed again (national), and a new run
    // needs five new fraud-like denials to block again.
    clock.advance(Duration::from_secs(3600));
    assert!(!guard.is_extension_blocked("1005", None, clock.now()));
    assert!(
        guard
            .check_with(&Call::new("1005", "0301234567"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
}

/// A user who mistypes the PIN once, then types it right, is not stopped;
/// nor is one who makes four fraud-like mistakes spread over more than the
/// window.
#[test]
fn a_user_who_mistypes_a_pin_once_is_not_stopped() {
    let guard = policy(Some(FraudBurstConfig::yeastar()));
    let clock = ManualClock::default();
    let call = Call::new("1010", "00441234567890").with_groups(&["export"]);
    let wrong = guard.check_with(&call.with_pin("582193"), &clock).outcome;
    assert_eq!(wrong.decision.code(), Some(DenyCode::PinWrong));
    assert!(
        wrong.event.is_some(),
        "a wrong PIN is still worth a line in the log"
    );
    assert!(wrong.bursts.is_empty());
    clock.advance(Duration::from_secs(5));
    let right = guard.check_with(&call.with_pin("582913"), &clock).outcome;
    assert!(right.decision.is_allowed(), "{:?}", right.decision);
    assert!(!guard.is_extension_blocked("1010", None, clock.now()));

    // Four fraud-like denials in ten minutes, then a pause, then one more:
    // never five inside one window.
    for n in ["09005123456", "09005123457", "09005123458"] {
        assert!(
            guard
                .check_with(&Call::new("1011", n), &clock)
                .outcome
                .bursts
                .is_empty()
        );
        clock.advance(Duration::from_secs(60));
    }
    clock.advance(Duration::from_secs(600));
    for n in ["09005123459", "09005123450", "09005123451", "09005123452"] {
        let out = guard.check_with(&Call::new("1011", n), &clock).outcome;
        assert_eq!(out.decision.code(), Some(DenyCode::NumberBlocked));
        assert!(out.bursts.is_empty());
    }
    assert!(!guard.is_extension_blocked("1011", None, clock.now()));
    // The fifth inside the window makes the burst.
    let fifth = guard
        .check_with(&Call::new("1011", "09005123453"), &clock)
        .outcome;
    assert_eq!(bursts_of(&fifth), vec![BurstScope::Extension]);
    assert!(guard.is_extension_blocked("1011", None, clock.now()));
}

/// Yeastar-like: the block lasts until an administrator lifts it.
#[test]
fn yeastar_preset_blocks_until_unblocked() {
    let mut config = OutboundConfig::yeastar_p_series();
    assert_eq!(config.fraud_burst, Some(FraudBurstConfig::yeastar()));
    config.routes = serde_json::from_str(
        r#"[{ "name": "all", "patterns": [ { "pattern": "X." } ], "everyone": true }]"#,
    )
    .unwrap();
    config.blocked_numbers = vec!["0900X.".to_owned()];
    let guard = OutboundGuard::try_from(config).unwrap();
    let clock = ManualClock::default();
    for i in 0..5 {
        let out = guard
            .check_with(&Call::new("200", "09001234567").with_tenant("acme"), &clock)
            .outcome;
        assert_eq!(out.bursts.len(), usize::from(i == 4));
        if let Some(b) = out.bursts.first() {
            assert!(b.blocked);
            assert_eq!(b.blocked_for, None);
            assert_eq!(b.event.tenant.as_deref(), Some("acme"));
            assert!(
                b.event
                    .detail
                    .as_deref()
                    .unwrap()
                    .contains("until an administrator")
            );
        }
        clock.advance(Duration::from_secs(1));
    }
    // Tenants are apart: 200 of another tenant is not blocked.
    assert!(!guard.is_extension_blocked("200", Some("other"), clock.now()));
    clock.advance(Duration::from_secs(30 * 86_400));
    let out = guard
        .check_with(&Call::new("200", "0301234567").with_tenant("acme"), &clock)
        .outcome;
    assert_eq!(out.decision.code(), Some(DenyCode::ExtensionBlocked));
    assert!(out.decision_message_mentions("until an administrator"));
    assert!(guard.unblock_extension("200", Some("acme"), &clock));
    assert!(!guard.unblock_extension("200", Some("acme"), &clock));
    assert!(
        guard
            .check_with(&Call::new("200", "0301234567").with_tenant("acme"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
}

/// The default: alert only. A burst is reported every `limit` fraud-like
/// denials; nothing is blocked.
#[test]
fn default_alerts_without_blocking() {
    let guard = policy(Some(FraudBurstConfig::default()));
    let clock = ManualClock::default();
    let mut bursts = 0;
    for _ in 0..12 {
        let out = guard
            .check_with(&Call::new("1005", "00882123456"), &clock)
            .outcome;
        assert_eq!(out.decision.code(), Some(DenyCode::NoRoutePermission));
        for b in &out.bursts {
            assert!(!b.blocked);
            assert!(!b.event.detail.as_deref().unwrap().contains("blocked"));
        }
        bursts += out.bursts.len();
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(bursts, 2, "at the 5th and the 10th");
    assert!(!guard.is_extension_blocked("1005", None, clock.now()));
    // Turned off: no burst at all.
    let off = policy(None);
    for _ in 0..12 {
        assert!(
            off.check_with(&Call::new("1005", "00882123456"), &clock)
                .outcome
                .bursts
                .is_empty()
        );
    }
}

#[test]
fn burst_config_is_validated() {
    let c: OutboundConfig = serde_json::from_str(r#"{ "fraud_burst": null }"#).unwrap();
    assert_eq!(c.fraud_burst, None);
    let c: OutboundConfig = serde_json::from_str(r#"{}"#).unwrap();
    assert_eq!(c.fraud_burst, Some(FraudBurstConfig::default()));
    let d = FraudBurstConfig::default();
    assert_eq!(
        (d.limit, d.window, d.block, d.block_for, d.per_source),
        (5, Duration::from_secs(600), false, None, true)
    );
    assert!(serde_json::from_str::<FraudBurstConfig>(r#"{ "limit": 3, "windw": "1m" }"#).is_err());
    for bad in [
        r#"{ "limit": 0 }"#,
        r#"{ "block": true, "block_for": "0s" }"#,
        r#"{ "capacity": 0 }"#,
        r#"{ "capacity": 1048577 }"#,
    ] {
        let c: OutboundConfig =
            serde_json::from_str(&format!(r#"{{ "fraud_burst": {bad} }}"#)).unwrap();
        let e = OutboundGuard::try_from(c).unwrap_err().to_string();
        assert!(e.contains("fraud_burst."), "{bad}: {e}");
    }
    // Round trip.
    let c = FraudBurstConfig {
        block: true,
        block_for: Some(Duration::from_secs(3600)),
        ..FraudBurstConfig::default()
    };
    let back: FraudBurstConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

trait MessageExt {
    fn decision_message_mentions(&self, s: &str) -> bool;
}

impl MessageExt for Outcome {
    fn decision_message_mentions(&self, s: &str) -> bool {
        matches!(&self.decision, pbxsec_outbound::Decision::Denied { message, .. } if message.contains(s))
    }
}
