//! Digest authentication: RFC known answers, challenges, nonces, outcomes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Duration;

use pbxsec_core::{EventKind, Secret, UnixTime};
use pbxsec_sip::DigestCredentials;
use pbxsec_sip::digest::{
    Algorithm, ChallengeKind, DigestAuth, DigestConfig, DigestError, DigestOutcome, Field, Ha1,
    Malformed, NONCE_LEN, NonceCounts, NonceProblem, ServerKey, UserCredentials, expected_response,
};

const REALM: &str = "pbx.example.com";
const URI: &[u8] = b"sip:pbx.example.com";
const T0: UnixTime = UnixTime::from_secs(1_800_000_000);

fn key(s: &str) -> ServerKey {
    ServerKey::new(Secret::new(s)).unwrap()
}

fn auth() -> DigestAuth {
    auth_with(DigestConfig {
        realm: REALM.into(),
        ..DigestConfig::default()
    })
}

fn auth_with(config: DigestConfig) -> DigestAuth {
    DigestAuth::new(config, key("server-key-0123456789")).unwrap()
}

fn user() -> UserCredentials {
    UserCredentials::from_password("1000", REALM, &Secret::new("Corr3ct-Horse"))
}

/// Owned answer fields, so tests can alter them one by one.
#[derive(Clone)]
struct Answer {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    algorithm: Option<String>,
    qop: Option<String>,
    nc: Option<String>,
    cnonce: Option<String>,
    opaque: Option<String>,
    response: String,
}

/// Parses a credentials value kept alive for the rest of the test.
fn parse(header: String) -> DigestCredentials<'static> {
    DigestCredentials::parse(Box::leak(header.into_boxed_str())).unwrap()
}

impl Answer {
    /// The `Authorization` value this answer is sent as.
    fn header(&self, with_response: bool) -> String {
        let mut h = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
            self.username, self.realm, self.nonce, self.uri
        );
        if with_response {
            h.push_str(&format!(", response=\"{}\"", self.response));
        }
        if let Some(a) = &self.algorithm {
            h.push_str(&format!(", algorithm={a}"));
        }
        if let Some(q) = &self.qop {
            h.push_str(&format!(", qop={q}"));
        }
        if let Some(nc) = &self.nc {
            h.push_str(&format!(", nc={nc}"));
        }
        if let Some(c) = &self.cnonce {
            h.push_str(&format!(", cnonce=\"{c}\""));
        }
        if let Some(o) = &self.opaque {
            h.push_str(&format!(", opaque=\"{o}\""));
        }
        h
    }

    fn params(&self) -> DigestCredentials<'static> {
        parse(self.header(true))
    }

    /// A correct answer from a phone that knows `creds`.
    fn correct(
        nonce: &str,
        algorithm: Algorithm,
        creds: &UserCredentials,
        nc: &str,
        opaque: Option<&str>,
    ) -> Self {
        let mut a = Self {
            username: "1000".into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: std::str::from_utf8(URI).unwrap().into(),
            algorithm: Some(algorithm.as_str().into()),
            qop: Some("auth".into()),
            nc: Some(nc.into()),
            cnonce: Some("0a4f113b".into()),
            opaque: opaque.map(Into::into),
            response: String::new(),
        };
        a.sign(creds.get(algorithm).unwrap());
        a
    }

    fn sign(&mut self, ha1: &Ha1) {
        self.response = expected_response(ha1, b"REGISTER", &parse(self.header(false))).unwrap();
    }
}

fn verify(auth: &DigestAuth, a: &Answer, now: UnixTime) -> DigestOutcome {
    auth.verify(b"REGISTER", URI, &a.params(), Some(&user()), None, now)
}

// ---------------------------------------------------------------- known answers

#[test]
fn rfc2617_section_3_5_worked_example() {
    let ha1 = Ha1::compute(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert_eq!(ha1.expose_hex(), "939e7578ed9e3c518a452acee763bce9");
    // The Authorization header of RFC 2617 section 3.5, as the scanner reads it.
    let params = DigestCredentials::parse(
        "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
         qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
         response=\"6629fae49393a05397450978507c4ef1\",\r\n \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    assert_eq!(
        expected_response(&ha1, b"GET", &params).unwrap(),
        "6629fae49393a05397450978507c4ef1"
    );
    assert_eq!(params.response, Some("6629fae49393a05397450978507c4ef1"));
}

/// RFC 7616 section 3.9.1's Authorization header, for `algorithm`.
fn rfc7616_params(algorithm: &str, response: &str) -> DigestCredentials<'static> {
    parse(format!(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
         algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
         cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
         response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    ))
}

#[test]
fn rfc7616_section_3_9_1_sha256_example() {
    let ha1 = Ha1::compute(
        Algorithm::Sha256,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    let expected = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
    let params = rfc7616_params("SHA-256", expected);
    assert_eq!(expected_response(&ha1, b"GET", &params).unwrap(), expected);
}

#[test]
fn rfc7616_section_3_9_1_md5_example() {
    let ha1 = Ha1::compute(
        Algorithm::Md5,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    let expected = "8ca523f5e9506fed4657c9700eebdbec";
    let params = rfc7616_params("MD5", expected);
    assert_eq!(expected_response(&ha1, b"GET", &params).unwrap(), expected);
}

#[test]
fn a_scanned_register_verifies() {
    let auth = auth();
    let nonce = auth.nonce(T0);
    let a = Answer::correct(nonce.as_str(), Algorithm::Sha256, &user(), "00000001", None);
    let msg = format!(
        "REGISTER sip:pbx.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:1000@pbx.example.com>\r\n\
         From: <sip:1000@pbx.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@192.0.2.10\r\n\
         CSeq: 2 REGISTER\r\n\
         Contact: <sip:1000@192.0.2.10:5060>\r\n\
         Authorization: {}\r\n\
         Content-Length: 0\r\n\r\n",
        a.header(true)
    );
    let m = pbxsec_sip::scan(msg.as_bytes()).unwrap();
    let pbxsec_sip::StartLine::Request { method, uri } = m.start_line() else {
        panic!("a request")
    };
    let creds = m.authorization().unwrap().unwrap();
    assert_eq!(
        auth.verify(
            method.as_bytes(),
            uri.as_bytes(),
            &creds,
            Some(&user()),
            None,
            T0
        ),
        DigestOutcome::Ok {
            algorithm: Algorithm::Sha256
        }
    );
}

#[test]
fn ha1_from_hex_normalises_and_validates() {
    let ha1 = Ha1::from_hex(Algorithm::Md5, "939E7578ED9E3C518A452ACEE763BCE9").unwrap();
    assert_eq!(ha1.expose_hex(), "939e7578ed9e3c518a452acee763bce9");
    assert_eq!(
        ha1,
        Ha1::compute(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life"
        )
    );
    assert!(matches!(
        Ha1::from_hex(Algorithm::Sha256, "939e7578ed9e3c518a452acee763bce9"),
        Err(DigestError::InvalidHa1 {
            expected: 64,
            len: 32,
            not_hex: false,
            ..
        })
    ));
    assert!(matches!(
        Ha1::from_hex(Algorithm::Md5, "z39e7578ed9e3c518a452acee763bce9"),
        Err(DigestError::InvalidHa1 { not_hex: true, .. })
    ));
    // The error does not repeat the value.
    let err = Ha1::from_hex(Algorithm::Md5, "secretsecret").unwrap_err();
    assert!(!err.to_string().contains("secret"));
    assert!(!format!("{ha1:?}").contains("939e"));
}

// ------------------------------------------------------------------ challenges

#[test]
fn challenge_offers_both_algorithms_sha256_first() {
    let auth = auth_with(DigestConfig {
        realm: REALM.into(),
        opaque: Some("op4que".into()),
        ..DigestConfig::default()
    });
    let ch = auth.challenge(ChallengeKind::Www, T0, false);
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0].header_name(), "WWW-Authenticate");
    assert_eq!(ch[0].kind.status(), 401);
    let nonce = ch[0].nonce;
    assert_eq!(nonce.as_str().len(), NONCE_LEN);
    assert_eq!(
        ch[0].to_string(),
        format!(
            "Digest realm=\"{REALM}\", nonce=\"{nonce}\", opaque=\"op4que\", algorithm=SHA-256, qop=\"auth\""
        )
    );
    assert_eq!(
        ch[1].to_string(),
        format!(
            "Digest realm=\"{REALM}\", nonce=\"{nonce}\", opaque=\"op4que\", algorithm=MD5, qop=\"auth\""
        )
    );
    let stale = auth.challenge(ChallengeKind::Proxy, T0, true);
    assert_eq!(stale[0].header_name(), "Proxy-Authenticate");
    assert_eq!(stale[0].kind.status(), 407);
    assert!(stale[0].to_string().ends_with(", stale=true"));
    assert_ne!(stale[0].nonce, nonce, "every challenge gets its own nonce");
}

#[test]
fn challenge_with_one_algorithm() {
    let auth = auth_with(DigestConfig {
        realm: REALM.into(),
        algorithms: vec![Algorithm::Md5],
        ..DigestConfig::default()
    });
    let ch = auth.challenge(ChallengeKind::Www, T0, false);
    assert_eq!(ch.len(), 1);
    assert!(ch[0].to_string().contains("algorithm=MD5"));
    // SHA-256 is then not accepted.
    let a = Answer::correct(
        ch[0].nonce.as_str(),
        Algorithm::Sha256,
        &user(),
        "00000001",
        None,
    );
    assert_eq!(verify(&auth, &a, T0), DigestOutcome::AlgorithmNotAllowed);
}

#[test]
fn config_validation() {
    let bad = |config: DigestConfig| DigestAuth::new(config, key("server-key-0123456789"));
    assert!(matches!(
        bad(DigestConfig {
            realm: String::new(),
            ..DigestConfig::default()
        }),
        Err(DigestError::Config { field: "realm", .. })
    ));
    assert!(matches!(
        bad(DigestConfig {
            realm: "a\"b".into(),
            ..DigestConfig::default()
        }),
        Err(DigestError::Config { field: "realm", .. })
    ));
    assert!(matches!(
        bad(DigestConfig {
            algorithms: vec![],
            ..DigestConfig::default()
        }),
        Err(DigestError::Config {
            field: "algorithms",
            ..
        })
    ));
    assert!(matches!(
        bad(DigestConfig {
            algorithms: vec![Algorithm::Md5, Algorithm::Md5],
            ..DigestConfig::default()
        }),
        Err(DigestError::Config {
            field: "algorithms",
            ..
        })
    ));
    assert!(matches!(
        bad(DigestConfig {
            nonce_lifetime: Duration::ZERO,
            ..DigestConfig::default()
        }),
        Err(DigestError::Config {
            field: "nonce_lifetime",
            ..
        })
    ));
    assert!(matches!(
        ServerKey::new(Secret::new("short")),
        Err(DigestError::KeyTooShort { len: 5 })
    ));
}

#[test]
fn config_from_json_with_defaults_and_unknown_fields_refused() {
    let c: DigestConfig =
        serde_json::from_str(r#"{ "realm": "x.org", "nonce_lifetime": "10m" }"#).unwrap();
    assert_eq!(c.nonce_lifetime, Duration::from_secs(600));
    assert_eq!(c.max_drift, Duration::from_secs(3));
    assert_eq!(c.algorithms, vec![Algorithm::Sha256, Algorithm::Md5]);
    assert!(c.check_uri);
    let c: DigestConfig = serde_json::from_str(r#"{ "algorithms": ["MD5"] }"#).unwrap();
    assert_eq!(c.algorithms, vec![Algorithm::Md5]);
    assert_eq!(c.nonce_lifetime, Duration::from_secs(300));
    assert!(serde_json::from_str::<DigestConfig>(r#"{ "relm": "x" }"#).is_err());
    let back: DigestConfig =
        serde_json::from_str(&serde_json::to_string(&DigestConfig::default()).unwrap()).unwrap();
    assert_eq!(back, DigestConfig::default());
}

// -------------------------------------------------------------------- outcomes

#[test]
fn correct_answers_verify_for_both_algorithms() {
    let auth = auth();
    let nonce = auth.nonce(T0);
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let a = Answer::correct(nonce.as_str(), alg, &user(), "00000001", None);
        assert_eq!(
            verify(&auth, &a, T0.saturating_add(Duration::from_secs(10))),
            DigestOutcome::Ok { algorithm: alg }
        );
        assert_eq!(
            DigestOutcome::Ok { algorithm: alg }.event_kind(),
            EventKind::SuccessfulAuth
        );
    }
}

#[test]
fn algorithm_absent_means_md5() {
    let auth = auth();
    let mut a = Answer::correct(
        auth.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    a.algorithm = None;
    assert_eq!(
        verify(&auth, &a, T0),
        DigestOutcome::Ok {
            algorithm: Algorithm::Md5
        }
    );
}

#[test]
fn uppercase_hex_response_is_accepted() {
    let auth = auth();
    let mut a = Answer::correct(
        auth.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    a.response = a.response.to_ascii_uppercase();
    assert!(verify(&auth, &a, T0).is_ok());
}

#[test]
fn every_altered_response_is_a_wrong_password() {
    let auth = auth();
    let nonce = auth.nonce(T0);
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let good = Answer::correct(nonce.as_str(), alg, &user(), "00000001", None);
        for i in 0..good.response.len() {
            let mut a = good.clone();
            let mut bytes = a.response.into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            a.response = String::from_utf8(bytes).unwrap();
            assert_eq!(
                verify(&auth, &a, T0),
                DigestOutcome::WrongPassword,
                "{alg} digit {i}"
            );
        }
    }
    assert_eq!(
        DigestOutcome::WrongPassword.event_kind(),
        EventKind::InvalidPassword
    );
}

#[test]
fn wrong_password_and_altered_fields() {
    let auth = auth();
    let nonce = auth.nonce(T0);
    let wrong = UserCredentials::from_password("1000", REALM, &Secret::new("guess123"));
    let a = Answer::correct(nonce.as_str(), Algorithm::Sha256, &wrong, "00000001", None);
    assert_eq!(verify(&auth, &a, T0), DigestOutcome::WrongPassword);

    // A correct response for other fields than those sent: the signed
    // cnonce / nc / method do not match.
    let good = Answer::correct(nonce.as_str(), Algorithm::Md5, &user(), "00000001", None);
    let mut a = good.clone();
    a.cnonce = Some("deadbeef".into());
    assert_eq!(verify(&auth, &a, T0), DigestOutcome::WrongPassword);
    let mut a = good.clone();
    a.nc = Some("00000002".into());
    assert_eq!(verify(&auth, &a, T0), DigestOutcome::WrongPassword);
    assert_eq!(
        auth.verify(b"INVITE", URI, &good.params(), Some(&user()), None, T0),
        DigestOutcome::WrongPassword
    );
}

#[test]
fn unknown_user() {
    let auth = auth();
    let a = Answer::correct(
        auth.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert_eq!(
        auth.verify(b"REGISTER", URI, &a.params(), None, None, T0),
        DigestOutcome::UnknownUser
    );
    // A user with only a SHA-256 HA1 cannot answer with MD5.
    let sha_only = UserCredentials::new().with(user().get(Algorithm::Sha256).unwrap().clone());
    assert_eq!(
        auth.verify(b"REGISTER", URI, &a.params(), Some(&sha_only), None, T0),
        DigestOutcome::UnknownUser
    );
    assert_eq!(
        DigestOutcome::UnknownUser.event_kind(),
        EventKind::InvalidAccountId
    );
}

#[test]
fn realm_and_uri_mismatch() {
    let auth = auth();
    let good = Answer::correct(
        auth.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    let mut a = good.clone();
    a.realm = "other.example.com".into();
    assert_eq!(verify(&auth, &a, T0), DigestOutcome::RealmMismatch);
    assert_eq!(
        auth.verify(
            b"REGISTER",
            b"sip:other.example.com",
            &good.params(),
            Some(&user()),
            None,
            T0
        ),
        DigestOutcome::UriMismatch
    );
    // With the URI check off, the digest uri is only signed, not compared.
    let lax = auth_with(DigestConfig {
        realm: REALM.into(),
        check_uri: false,
        ..DigestConfig::default()
    });
    let a = Answer::correct(
        lax.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert!(
        lax.verify(
            b"REGISTER",
            b"sip:other.example.com",
            &a.params(),
            Some(&user()),
            None,
            T0
        )
        .is_ok()
    );
}

#[test]
fn stale_nonce_is_stale_only_with_a_right_response() {
    let auth = auth();
    let nonce = auth.nonce(T0);
    let good = Answer::correct(nonce.as_str(), Algorithm::Sha256, &user(), "00000001", None);
    // Exactly at the lifetime: still fresh. One millisecond more: stale.
    assert!(verify(&auth, &good, T0.saturating_add(Duration::from_secs(300))).is_ok());
    let later = T0.saturating_add(Duration::from_millis(300_001));
    assert_eq!(verify(&auth, &good, later), DigestOutcome::StaleNonce);
    assert_eq!(
        DigestOutcome::StaleNonce.event_kind(),
        EventKind::ChallengeResponseFailed
    );
    let wrong = UserCredentials::from_password("1000", REALM, &Secret::new("guess"));
    let bad = Answer::correct(nonce.as_str(), Algorithm::Sha256, &wrong, "00000001", None);
    assert_eq!(verify(&auth, &bad, later), DigestOutcome::WrongPassword);
}

#[test]
fn configurable_lifetime() {
    let auth = auth_with(DigestConfig {
        realm: REALM.into(),
        nonce_lifetime: Duration::from_secs(30),
        ..DigestConfig::default()
    });
    let a = Answer::correct(
        auth.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert!(verify(&auth, &a, T0.saturating_add(Duration::from_secs(30))).is_ok());
    assert_eq!(
        verify(&auth, &a, T0.saturating_add(Duration::from_secs(31))),
        DigestOutcome::StaleNonce
    );
}

#[test]
fn future_nonce_beyond_drift_is_refused() {
    let auth = auth();
    let issued = T0.saturating_add(Duration::from_secs(10));
    let a = Answer::correct(
        auth.nonce(issued).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert_eq!(
        verify(&auth, &a, T0),
        DigestOutcome::InvalidNonce(NonceProblem::Future)
    );
    // Within the 3 s drift: fine.
    assert!(verify(&auth, &a, T0.saturating_add(Duration::from_secs(7))).is_ok());
}

/// A server of our realm with another key (its nonces are foreign to us).
fn other_server() -> DigestAuth {
    DigestAuth::new(
        DigestConfig {
            realm: REALM.into(),
            ..DigestConfig::default()
        },
        key("another-key-abcdefghij"),
    )
    .unwrap()
}

#[test]
fn foreign_key_and_forged_nonces() {
    let ours = auth();
    let theirs = other_server();
    let a = Answer::correct(
        theirs.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert!(verify(&theirs, &a, T0).is_ok());
    assert_eq!(
        verify(&ours, &a, T0),
        DigestOutcome::InvalidNonce(NonceProblem::Foreign)
    );
    // A nonce of ours with its time changed (to extend its life) fails the MAC.
    let nonce = ours.nonce(T0);
    let mut forged = nonce.as_str().to_owned().into_bytes();
    forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let a = Answer::correct(&forged, Algorithm::Md5, &user(), "00000001", None);
    assert_eq!(
        verify(&ours, &a, T0),
        DigestOutcome::InvalidNonce(NonceProblem::Foreign)
    );
    // Not even our format.
    for junk in [
        "",
        "abc",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        &"zz".repeat(32),
    ] {
        let a = Answer::correct(junk, Algorithm::Md5, &user(), "00000001", None);
        assert_eq!(
            verify(&ours, &a, T0),
            DigestOutcome::InvalidNonce(NonceProblem::Foreign),
            "{junk:?}"
        );
    }
    // A nonce made for another realm with the same key is foreign too.
    let other_realm = DigestAuth::new(
        DigestConfig {
            realm: "other.example.com".into(),
            ..DigestConfig::default()
        },
        key("server-key-0123456789"),
    )
    .unwrap();
    let a = Answer::correct(
        other_realm.nonce(T0).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert_eq!(
        verify(&ours, &a, T0),
        DigestOutcome::InvalidNonce(NonceProblem::Foreign)
    );
}

#[test]
fn servers_sharing_a_key_verify_each_others_nonces() {
    let a1 = auth();
    let a2 = auth();
    let a = Answer::correct(
        a1.nonce(T0).as_str(),
        Algorithm::Sha256,
        &user(),
        "00000001",
        None,
    );
    assert!(verify(&a2, &a, T0.saturating_add(Duration::from_secs(1))).is_ok());
}

#[test]
fn key_rotation_keeps_the_previous_key_for_one_lifetime() {
    let mut auth = auth();
    let old_nonce = auth.nonce(T0);
    let rotated_at = T0.saturating_add(Duration::from_secs(100));
    auth.rotate_key(key("brand-new-key-9876543210"), rotated_at)
        .unwrap();
    let old = Answer::correct(
        old_nonce.as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    let new = Answer::correct(
        auth.nonce(rotated_at).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert!(verify(&auth, &old, rotated_at).is_ok());
    assert!(verify(&auth, &new, rotated_at).is_ok());
    // The old nonce goes stale at T0 + 300 s, before the grace period ends.
    assert_eq!(
        verify(&auth, &old, T0.saturating_add(Duration::from_secs(301))),
        DigestOutcome::StaleNonce
    );
    // After one lifetime past the rotation, the old key is gone: foreign.
    assert_eq!(
        verify(
            &auth,
            &old,
            rotated_at.saturating_add(Duration::from_secs(300))
        ),
        DigestOutcome::InvalidNonce(NonceProblem::Foreign)
    );
    // A second rotation forgets the first key at once.
    let mut auth2 = self::auth();
    let n0 = auth2.nonce(T0);
    auth2.rotate_key(key("second-key-0000000000"), T0).unwrap();
    auth2.rotate_key(key("third-key-00000000000"), T0).unwrap();
    let a = Answer::correct(n0.as_str(), Algorithm::Md5, &user(), "00000001", None);
    assert_eq!(
        verify(&auth2, &a, T0),
        DigestOutcome::InvalidNonce(NonceProblem::Foreign)
    );
}

#[test]
fn malformed_answers() {
    let auth = auth_with(DigestConfig {
        realm: REALM.into(),
        opaque: Some("op4que".into()),
        ..DigestConfig::default()
    });
    let nonce = auth.nonce(T0);
    let good = Answer::correct(
        nonce.as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        Some("op4que"),
    );
    assert!(verify(&auth, &good, T0).is_ok());

    let check = |f: &dyn Fn(&mut Answer), expected: DigestOutcome| {
        let mut a = good.clone();
        f(&mut a);
        assert_eq!(verify(&auth, &a, T0), expected);
        assert_eq!(
            expected.event_kind().severity(),
            pbxsec_core::Severity::Warning
        );
    };
    use DigestOutcome::Malformed as M;
    // svcrack: qop=auth without nc and cnonce.
    check(&|a| a.nc = None, M(Malformed::Missing(Field::Nc)));
    check(&|a| a.cnonce = None, M(Malformed::Missing(Field::Cnonce)));
    check(&|a| a.qop = None, M(Malformed::Missing(Field::Qop)));
    check(&|a| a.opaque = None, M(Malformed::Missing(Field::Opaque)));
    check(
        &|a| a.opaque = Some("other".into()),
        M(Malformed::Invalid(Field::Opaque)),
    );
    check(
        &|a| a.qop = Some("auth-int".into()),
        M(Malformed::Invalid(Field::Qop)),
    );
    check(
        &|a| a.nc = Some("1".into()),
        M(Malformed::Invalid(Field::Nc)),
    );
    check(
        &|a| a.nc = Some("00000000".into()),
        M(Malformed::Invalid(Field::Nc)),
    );
    check(
        &|a| a.nc = Some("0000000g".into()),
        M(Malformed::Invalid(Field::Nc)),
    );
    check(
        &|a| a.cnonce = Some(String::new()),
        M(Malformed::Invalid(Field::Cnonce)),
    );
    check(
        &|a| a.response.push('0'),
        M(Malformed::Invalid(Field::Response)),
    );
    check(
        &|a| a.response = "x".repeat(32),
        M(Malformed::Invalid(Field::Response)),
    );
    check(
        &|a| a.algorithm = Some("MD5-sess".into()),
        DigestOutcome::AlgorithmNotAllowed,
    );
    check(
        &|a| a.algorithm = Some("SHA-512-256".into()),
        DigestOutcome::AlgorithmNotAllowed,
    );
    assert_eq!(
        DigestOutcome::AlgorithmNotAllowed.event_kind(),
        EventKind::AuthMethodNotAllowed
    );
    let empty = DigestCredentials::parse("Digest foo=bar").unwrap();
    assert_eq!(
        auth.verify(b"REGISTER", URI, &empty, Some(&user()), None, T0),
        M(Malformed::Missing(Field::Username))
    );
    let basic = parse(good.header(true).replacen("Digest", "Basic", 1));
    assert_eq!(
        auth.verify(b"REGISTER", URI, &basic, Some(&user()), None, T0),
        M(Malformed::Invalid(Field::Scheme))
    );
    // Case-insensitive tokens.
    let mut a = good.clone();
    a.algorithm = Some("md5".into());
    a.qop = Some("AUTH".into());
    a.sign(user().get(Algorithm::Md5).unwrap());
    assert!(verify(&auth, &a, T0).is_ok());
}

#[test]
fn nc_must_increase_per_nonce_when_state_is_kept() {
    let auth = auth();
    let mut counts = NonceCounts::new(16);
    let nonce = auth.nonce(T0);
    let run = |counts: &mut NonceCounts, nc: &str| {
        let a = Answer::correct(nonce.as_str(), Algorithm::Md5, &user(), nc, None);
        auth.verify(
            b"REGISTER",
            URI,
            &a.params(),
            Some(&user()),
            Some(counts),
            T0,
        )
    };
    assert!(run(&mut counts, "00000001").is_ok());
    assert_eq!(
        run(&mut counts, "00000001"),
        DigestOutcome::InvalidNonce(NonceProblem::Replayed)
    );
    assert!(run(&mut counts, "00000002").is_ok());
    assert!(run(&mut counts, "0000000a").is_ok());
    assert_eq!(
        run(&mut counts, "00000009"),
        DigestOutcome::InvalidNonce(NonceProblem::Replayed)
    );
    assert_eq!(counts.len(), 1);
    // A wrong password does not touch the state.
    let wrong = UserCredentials::from_password("1000", REALM, &Secret::new("x"));
    let a = Answer::correct(nonce.as_str(), Algorithm::Md5, &wrong, "00000100", None);
    assert_eq!(
        auth.verify(
            b"REGISTER",
            URI,
            &a.params(),
            Some(&user()),
            Some(&mut counts),
            T0
        ),
        DigestOutcome::WrongPassword
    );
    assert!(run(&mut counts, "0000000b").is_ok());
}

#[test]
fn nonce_counts_stay_bounded_and_never_reopen_a_replay() {
    let auth = auth();
    let mut counts = NonceCounts::new(4);
    let mut used = Vec::new();
    for i in 0..10u64 {
        let t = T0.saturating_add(Duration::from_millis(i));
        let nonce = auth.nonce(t);
        let a = Answer::correct(nonce.as_str(), Algorithm::Md5, &user(), "00000001", None);
        assert!(
            auth.verify(
                b"REGISTER",
                URI,
                &a.params(),
                Some(&user()),
                Some(&mut counts),
                t
            )
            .is_ok()
        );
        assert!(counts.len() <= 4);
        used.push(a);
    }
    let now = T0.saturating_add(Duration::from_millis(20));
    for a in &used {
        assert_eq!(
            auth.verify(
                b"REGISTER",
                URI,
                &a.params(),
                Some(&user()),
                Some(&mut counts),
                now
            ),
            DigestOutcome::InvalidNonce(NonceProblem::Replayed)
        );
    }
    // Nonces past their lifetime are dropped, not counted as evictions.
    let much_later = T0.saturating_add(Duration::from_secs(1000));
    let a = Answer::correct(
        auth.nonce(much_later).as_str(),
        Algorithm::Md5,
        &user(),
        "00000001",
        None,
    );
    assert!(
        auth.verify(
            b"REGISTER",
            URI,
            &a.params(),
            Some(&user()),
            Some(&mut counts),
            much_later
        )
        .is_ok()
    );
}

#[test]
fn secrets_never_print() {
    let k = key("server-key-0123456789");
    assert!(!format!("{k:?}").contains("0123"));
    let auth = auth();
    assert!(!format!("{auth:?}").contains("0123"));
    let u = user();
    let dbg = format!("{u:?}");
    assert!(!dbg.contains(user().get(Algorithm::Md5).unwrap().expose_hex()));
}

#[test]
fn a_wrong_response_is_a_wrong_password_whatever_the_nonce() {
    // Foreign (another key's, forged, junk), future and stale nonces: a
    // wrong response on any of them is a wrong password, so an attacker
    // cannot guess on nonces that are not fresh without being counted; a
    // right one says only what is wrong with the nonce.
    let ours = auth();
    let theirs = other_server();
    let wrong = UserCredentials::from_password("1000", REALM, &Secret::new("guess123"));
    let future = ours.nonce(T0.saturating_add(Duration::from_secs(60)));
    let cases = [
        (
            theirs.nonce(T0).as_str().to_owned(),
            DigestOutcome::InvalidNonce(NonceProblem::Foreign),
        ),
        (
            "dcd98b7102dd2f0e8b11d0f600bfb0c093".to_owned(),
            DigestOutcome::InvalidNonce(NonceProblem::Foreign),
        ),
        (
            future.as_str().to_owned(),
            DigestOutcome::InvalidNonce(NonceProblem::Future),
        ),
        (
            ours.nonce(T0).as_str().to_owned(),
            DigestOutcome::StaleNonce,
        ),
    ];
    let at = T0.saturating_add(Duration::from_secs(301));
    for (nonce, right_outcome) in cases {
        let at = if right_outcome == DigestOutcome::StaleNonce {
            at
        } else {
            T0
        };
        let right = Answer::correct(&nonce, Algorithm::Md5, &user(), "00000001", None);
        assert_eq!(verify(&ours, &right, at), right_outcome, "{nonce}");
        let guess = Answer::correct(&nonce, Algorithm::Md5, &wrong, "00000001", None);
        assert_eq!(
            verify(&ours, &guess, at),
            DigestOutcome::WrongPassword,
            "{nonce}"
        );
        // A replayed nc: the right answer again is a replay, a wrong one
        // with that nc a wrong password (judged before the replay).
        if right_outcome != DigestOutcome::StaleNonce {
            let fresh = ours.nonce(T0);
            let mut counts = NonceCounts::new(16);
            let first = Answer::correct(fresh.as_str(), Algorithm::Md5, &user(), "00000001", None);
            let check = |a: &Answer, counts: &mut NonceCounts| {
                ours.verify(
                    b"REGISTER",
                    URI,
                    &a.params(),
                    Some(&user()),
                    Some(counts),
                    T0,
                )
            };
            assert!(check(&first, &mut counts).is_ok());
            assert_eq!(
                check(&first, &mut counts),
                DigestOutcome::InvalidNonce(NonceProblem::Replayed)
            );
            let guess = Answer::correct(fresh.as_str(), Algorithm::Md5, &wrong, "00000001", None);
            assert_eq!(check(&guess, &mut counts), DigestOutcome::WrongPassword);
        }
        // An unknown user is unknown, whatever the nonce.
        assert_eq!(
            ours.verify(b"REGISTER", URI, &right.params(), None, None, at),
            DigestOutcome::UnknownUser,
            "{nonce}"
        );
    }
}
