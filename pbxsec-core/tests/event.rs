//! The JSON shape of SecurityEvent, verdict mappings and Secret redaction.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
use pbxsec_core::{
    EventKind, RejectReason, Secret, SecurityEvent, Service, Severity, Transport, UnixTime, Verdict,
};

fn t0() -> UnixTime {
    UnixTime::from_millis(1_800_000_000_250)
}

#[test]
fn golden_minimal_event() {
    let e = SecurityEvent::new(t0(), EventKind::ChallengeSent, Service::Sip);
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"time":"2027-01-15T08:00:00.250Z","kind":"ChallengeSent","severity":"info","service":"sip"}"#
    );
}

#[test]
fn golden_full_event() {
    let e = SecurityEvent::new(t0(), EventKind::InvalidAccountId, Service::Sip)
        .with_source("[::ffff:198.51.100.9]:5070".parse().unwrap())
        .with_transport(Transport::Tls)
        .with_tenant("acme")
        .with_extension("1001")
        .with_user("alice")
        .with_detail("REGISTER for unknown extension");
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        concat!(
            r#"{"time":"2027-01-15T08:00:00.250Z","kind":"InvalidAccountID","severity":"warning","#,
            r#""service":"sip","transport":"tls","source_ip":"198.51.100.9","source_port":5070,"#,
            r#""tenant":"acme","extension":"1001","user":"alice","detail":"REGISTER for unknown extension"}"#
        )
    );
}

#[test]
fn golden_names_of_every_kind_service_and_transport() {
    let kinds = [
        (EventKind::FailedAcl, "FailedACL"),
        (EventKind::InvalidAccountId, "InvalidAccountID"),
        (EventKind::SessionLimit, "SessionLimit"),
        (EventKind::MemoryLimit, "MemoryLimit"),
        (EventKind::LoadAverageLimit, "LoadAverageLimit"),
        (EventKind::RequestNotSupported, "RequestNotSupported"),
        (EventKind::RequestNotAllowed, "RequestNotAllowed"),
        (EventKind::AuthMethodNotAllowed, "AuthMethodNotAllowed"),
        (EventKind::RequestBadFormat, "RequestBadFormat"),
        (EventKind::SuccessfulAuth, "SuccessfulAuth"),
        (EventKind::UnexpectedAddress, "UnexpectedAddress"),
        (
            EventKind::ChallengeResponseFailed,
            "ChallengeResponseFailed",
        ),
        (EventKind::InvalidPassword, "InvalidPassword"),
        (EventKind::ChallengeSent, "ChallengeSent"),
        (EventKind::InvalidTransport, "InvalidTransport"),
        (EventKind::ChallengeUnanswered, "ChallengeUnanswered"),
        (EventKind::ScannerDetected, "ScannerDetected"),
        (EventKind::UnknownDomain, "UnknownDomain"),
        (EventKind::RateExceeded, "RateExceeded"),
        (EventKind::Banned, "Banned"),
        (EventKind::Unbanned, "Unbanned"),
        (EventKind::ExtensionLocked, "ExtensionLocked"),
        (EventKind::WebUserBlockedOut, "WebUserBlockedOut"),
        (EventKind::SecondFactorFailed, "SecondFactorFailed"),
        (EventKind::TollFraudSuspected, "TollFraudSuspected"),
    ];
    for (kind, name) in kinds {
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<EventKind>(&format!("\"{name}\"")).unwrap(),
            kind
        );
    }
    let services = [
        (Service::Sip, "sip"),
        (Service::Web, "web"),
        (Service::Ami, "ami"),
        (Service::Ssh, "ssh"),
        (Service::Provisioning, "provisioning"),
        (Service::Api, "api"),
        (Service::Outbound, "outbound"),
    ];
    for (s, name) in services {
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
    }
    let transports = [
        (Transport::Udp, "udp"),
        (Transport::Tcp, "tcp"),
        (Transport::Tls, "tls"),
        (Transport::Ws, "ws"),
        (Transport::Wss, "wss"),
        (Transport::Http, "http"),
        (Transport::Https, "https"),
    ];
    for (t, name) in transports {
        assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{name}\""));
    }
}

#[test]
fn severity_follows_kind() {
    assert_eq!(EventKind::Banned.severity(), Severity::Alert);
    assert_eq!(EventKind::InvalidPassword.severity(), Severity::Warning);
    assert_eq!(EventKind::SuccessfulAuth.severity(), Severity::Info);
    let e = SecurityEvent::new(t0(), EventKind::TollFraudSuspected, Service::Outbound);
    assert_eq!(e.severity, Severity::Alert);
}

#[test]
fn event_json_round_trips_and_rejects_unknown_fields() {
    let e = SecurityEvent::new(t0(), EventKind::Banned, Service::Web)
        .with_source_ip("2001:db8::7".parse().unwrap())
        .with_detail("5 failed logins in 10m");
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(serde_json::from_str::<SecurityEvent>(&json).unwrap(), e);
    let extra = json.replacen('{', r#"{"password":"x","#, 1);
    assert!(serde_json::from_str::<SecurityEvent>(&extra).is_err());
}

#[test]
fn verdict_maps_to_sip_and_http() {
    assert_eq!(
        RejectReason::Unauthorized.sip_status(),
        (401, "Unauthorized")
    );
    assert_eq!(
        RejectReason::ProxyAuthenticationRequired.sip_status(),
        (407, "Proxy Authentication Required")
    );
    assert_eq!(RejectReason::TooManyRequests.sip_status().0, 503);
    assert_eq!(RejectReason::TooManyRequests.http_status(), 429);
    assert_eq!(RejectReason::Forbidden.http_status(), 403);
    assert!(Verdict::Accept.is_accept());
    assert!(!Verdict::Drop.is_accept());
    assert!(!Verdict::reject(RejectReason::Forbidden).is_accept());
}

#[test]
fn secret_never_prints() {
    let s = Secret::new("correct horse battery staple");
    assert_eq!(format!("{s:?}"), "Secret(***)");
    assert_eq!(format!("{s}"), "***");
    assert_eq!(s.expose(), "correct horse battery staple");
    let from_json: Secret = serde_json::from_str(r#""pin1234""#).unwrap();
    assert_eq!(from_json.expose(), "pin1234");
    assert!(!from_json.is_empty());
}
