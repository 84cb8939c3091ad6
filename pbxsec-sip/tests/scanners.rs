//! Requests as real scanners send them: captures from SIPVicious and hand-written floods.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;

use pbxsec_sip::{Field, Message, SignatureConfig, Signatures, Strength};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap()
}

#[test]
fn svmap_compact_options_has_no_user_agent_but_is_caught() {
    let bytes = fixture("sipvicious/svmap_compact_options.sip");
    let m = Message::scan(&bytes).unwrap();
    m.validate().unwrap();
    assert_eq!(m.method(), Some("OPTIONS"));
    assert_eq!(m.user_agent(), None);
    assert_eq!(m.header("v").unwrap().name, "v");
    let from = m.from().unwrap();
    assert_eq!(from.display_name.unwrap().raw(), "sipvicious");
    assert_eq!((from.user(), from.host()), (Some("100"), "1.1.1.1"));
    let via = m.via().unwrap();
    assert_eq!(
        (via.host, via.port, via.rport),
        ("127.0.0.1", Some(5072), Some(None))
    );
    assert_eq!(m.call_id().unwrap(), "495158452602247808904216");
    assert!(
        m.contact()
            .unwrap()
            .unwrap()
            .uri
            .raw
            .starts_with("sip:100@127.0.0.1")
    );

    let defaults = Signatures::default_scanners();
    let d = defaults.check(&m).unwrap();
    assert_eq!(
        (d.field, d.pattern, d.strength),
        (Field::FromDisplayName, "sipvicious", Strength::Strong)
    );
    // With only the @1.1.1.1> marker rule, the raw From still gives it away.
    let marker = Signatures::try_from(SignatureConfig {
        include_defaults: false,
        rules: vec![pbxsec_sip::RuleConfig {
            name: Some("svmap-marker".into()),
            field: Field::ToRaw,
            pattern: "@1.1.1.1>".into(),
            mode: pbxsec_sip::MatchMode::Substring,
            case_sensitive: true,
        }],
        ..SignatureConfig::default()
    })
    .unwrap();
    assert_eq!(marker.check(&m).unwrap().name, "svmap-marker");
}

#[test]
fn missing_user_agent_is_a_weak_signal_only_when_asked() {
    let bytes = fixture("sipvicious/svmap_compact_options.sip");
    let m = Message::scan(&bytes).unwrap();
    let ua_only =
        Signatures::from_user_agents(["friendly-scanner"], pbxsec_sip::MatchMode::Substring)
            .unwrap();
    assert_eq!(ua_only.check(&m), None);
    let mut config = SignatureConfig {
        include_defaults: false,
        ..SignatureConfig::default()
    };
    config.flag_missing_user_agent = true;
    let weak = Signatures::try_from(config).unwrap();
    let d = weak.check(&m).unwrap();
    assert_eq!(
        (d.strength, d.name, d.rule),
        (Strength::Weak, "missing-user-agent", None)
    );
    // A response without User-Agent is not flagged.
    let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(weak.check(&Message::scan(resp).unwrap()), None);
}

#[test]
fn svmap_and_svwar_announce_friendly_scanner() {
    let sigs = Signatures::default_scanners();
    for f in [
        "sipvicious/svmap_options.sip",
        "sipvicious/svwar_register_101.sip",
        "sipvicious/svwar_invite.sip",
        "handmade/friendly_scanner_options.sip",
    ] {
        let bytes = fixture(f);
        let m = Message::scan(&bytes).unwrap();
        m.validate().unwrap();
        assert_eq!(m.user_agent(), Some("friendly-scanner"), "{f}");
        let d = sigs.check(&m).unwrap();
        assert_eq!(
            (d.field, d.pattern),
            (Field::UserAgent, "friendly-scanner"),
            "{f}"
        );
    }
    let bytes = fixture("sipvicious/svwar_register_101.sip");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.to().unwrap().user(), Some("101"));
    let bytes = fixture("sipvicious/svwar_invite.sip");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.body().len(), 161);
}

#[test]
fn sipcli_is_caught() {
    let bytes = fixture("handmade/sipcli_register.sip");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.user_agent(), Some("sipcli/v1.8"));
    assert_eq!(
        Signatures::default_scanners().check(&m).unwrap().pattern,
        "sipcli"
    );
    assert_eq!(Signatures::kamailio().check(&m).unwrap().pattern, "sipcli");
}

#[test]
fn svcrack_digest_username_is_readable() {
    for f in [
        "sipvicious/svcrack_register_auth.sip",
        "handmade/svcrack_legacy_register_auth.sip",
    ] {
        let bytes = fixture(f);
        let m = Message::scan(&bytes).unwrap();
        m.validate().unwrap();
        let auth = m.authorization().unwrap().unwrap();
        assert!(auth.is_digest());
        assert_eq!(auth.username, Some("100"), "{f}");
        // The on-demand reader finds it too, without parsing the rest.
        let (scheme, params) = m.authorization_params().unwrap().unwrap();
        assert_eq!(scheme, "Digest");
        assert_eq!(
            params.find("username").unwrap().and_then(|p| p.value),
            Some("100"),
            "{f}"
        );
        assert_eq!(auth.realm, Some("pbx.test"));
        assert_eq!(auth.qop, Some("auth"));
        assert_eq!(auth.algorithm, Some("MD5"));
        assert_eq!(auth.uri, Some("sip:127.0.0.1"));
        assert_eq!(auth.nonce, Some("4a3b2c1d"));
    }
    let legacy = fixture("handmade/svcrack_legacy_register_auth.sip");
    let m = Message::scan(&legacy).unwrap();
    let auth = m.authorization().unwrap().unwrap();
    assert_eq!((auth.nc, auth.cnonce), (None, None));
    assert_eq!(auth.response, Some("7c99319d059547954f55f2d2b0c71208"));
    let real = fixture("sipvicious/svcrack_register_auth.sip");
    let m = Message::scan(&real).unwrap();
    let auth = m.authorization().unwrap().unwrap();
    assert_eq!(auth.nc, Some("00000001"));
    assert_eq!(auth.cnonce, Some("31c792a85ba94cf69c5c2e13e1be5721"));
    assert_eq!(auth.params().count(), 9);
}

#[test]
fn typical_register() {
    let bytes = fixture("handmade/register_yealink.sip");
    assert!((500..=600).contains(&bytes.len()));
    let m = Message::scan(&bytes).unwrap();
    m.validate().unwrap();
    assert_eq!(m.user_agent(), Some("Yealink SIP-T46U 108.86.0.20"));
    assert_eq!(m.from().unwrap().user(), Some("1000"));
    assert_eq!(m.via().unwrap().host, "192.0.2.45");
    let auth = m.authorization().unwrap().unwrap();
    assert_eq!(auth.username, Some("1000"));
    assert_eq!(auth.nc, Some("00000001"));
    assert_eq!(Signatures::default_scanners().check(&m), None);
}

#[test]
fn strict_peers_lose_the_legacy_svcrack_username() {
    // What the README claims about rsip and rsipstack: their typed
    // Authorization refuses qop=auth without nc / cnonce, so the username is lost.
    let bytes = fixture("handmade/svcrack_legacy_register_auth.sip");
    let m = Message::scan(&bytes).unwrap();
    let value = m.header("Authorization").unwrap().value;
    assert!(rsipstack::sip::typed::Authorization::parse(value).is_err());
    let header = <rsip::headers::Authorization as rsip::headers::UntypedHeader>::new(value);
    assert!(rsip::typed::Authorization::try_from(header).is_err());
    assert_eq!(m.authorization().unwrap().unwrap().username, Some("100"));
}
