//! Digest verification: pbxsec-sip against the `digest_auth` crate on the same answers.
#![allow(missing_docs)] // criterion's macros generate undocumented pub fns
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench set-up: a panic is a failed bench

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use digest_auth::{AlgorithmType, AuthContext, AuthorizationHeader, HttpMethod, Qop};
use pbxsec_core::{Secret, UnixTime};
use pbxsec_sip::DigestCredentials;
use pbxsec_sip::digest::{
    Algorithm, DigestAuth, DigestConfig, ServerKey, UserCredentials, expected_response,
};

const REALM: &str = "pbx.example.com";
const URI: &str = "sip:pbx.example.com";
const PASSWORD: &str = "Corr3ct-Horse";

fn bench(c: &mut Criterion) {
    let now = UnixTime::from_secs(1_800_000_000);
    let auth = DigestAuth::new(
        DigestConfig {
            realm: REALM.into(),
            ..DigestConfig::default()
        },
        ServerKey::new(Secret::new("bench-server-key-0123456789")).unwrap(),
    )
    .unwrap();
    let user = UserCredentials::from_password("1000", REALM, &Secret::new(PASSWORD));
    let nonce = auth.nonce(now);
    let mut group = c.benchmark_group("digest_verify");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);

    for (alg, peer_alg, name) in [
        (Algorithm::Md5, AlgorithmType::MD5, "md5"),
        (Algorithm::Sha256, AlgorithmType::SHA2_256, "sha256"),
    ] {
        let unsigned = format!(
            "Digest username=\"1000\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{URI}\", \
             algorithm={alg}, qop=auth, nc=00000001, cnonce=\"0a4f113b\""
        );
        let response = expected_response(
            user.get(alg).unwrap(),
            b"REGISTER",
            &DigestCredentials::parse(&unsigned).unwrap(),
        )
        .unwrap();
        let signed = format!("{unsigned}, response=\"{response}\"");
        let params = DigestCredentials::parse(&signed).unwrap();
        assert!(
            auth.verify(b"REGISTER", URI.as_bytes(), &params, Some(&user), None, now)
                .is_ok()
        );

        // Ours: nonce HMAC check + HA2 + response from the stored HA1,
        // constant-time compare.
        group.bench_function(format!("pbxsec/{name}"), |b| {
            b.iter(|| {
                auth.verify(
                    black_box(b"REGISTER"),
                    black_box(URI.as_bytes()),
                    black_box(&params),
                    Some(&user),
                    None,
                    black_box(now),
                )
            });
        });

        // The peer: digest_auth recomputes the response from the plaintext
        // password (it has no stored-HA1 path) and the server compares strings.
        let mut context = AuthContext::new_with_method(
            "1000",
            PASSWORD,
            URI,
            Option::<&[u8]>::None,
            HttpMethod(Cow::Borrowed("REGISTER")),
        );
        context.set_custom_cnonce("0a4f113b");
        let mut header = AuthorizationHeader {
            realm: REALM.into(),
            nonce: nonce.as_str().into(),
            opaque: None,
            userhash: false,
            algorithm: digest_auth::Algorithm::new(peer_alg, false),
            response: String::new(),
            username: String::new(),
            uri: URI.into(),
            qop: Some(Qop::AUTH),
            cnonce: Some("0a4f113b".into()),
            nc: 1,
        };
        header.digest(&context);
        assert_eq!(
            header.response, response,
            "the peer computes the same response"
        );
        group.bench_function(format!("digest_auth/{name}"), |b| {
            b.iter(|| {
                let mut h = header.clone();
                h.digest(black_box(&context));
                h.response == black_box(response.as_str())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
