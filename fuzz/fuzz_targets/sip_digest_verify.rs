//! Digest verification on arbitrary parameters: never panics, and `Ok` only
//! when the response is the one `expected_response` computes.
//!
//! Input: byte 0 says which of the ten parameters are present (bits 0..=7
//! and, from byte 1, bits 0..=1), byte 1 bit 2 swaps in a fresh nonce of
//! ours and bit 3 a correct response for the rest; the remainder is split on
//! `\n` into method, request-URI and the parameters in `DigestParams` order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::{Secret, UnixTime};
use pbxsec_sip::digest::{
    Algorithm, DigestAuth, DigestConfig, DigestParams, NonceCounts, ServerKey, UserCredentials,
    expected_response,
};

fuzz_target!(|data: &[u8]| {
    let (Some(&f0), Some(&f1)) = (data.first(), data.get(1)) else {
        return;
    };
    let flags = u16::from(f0) | (u16::from(f1) << 8);
    let mut parts = data.get(2..).unwrap_or_default().split(|&b| b == b'\n');
    let method = parts.next().unwrap_or_default();
    let request_uri = parts.next().unwrap_or_default();
    let mut field = |bit: u16| {
        let v = parts.next().unwrap_or_default();
        (flags & (1 << bit) != 0).then_some(v)
    };
    let mut params = DigestParams {
        username: field(0),
        realm: field(1),
        nonce: field(2),
        uri: field(3),
        response: field(4),
        algorithm: field(5),
        cnonce: field(6),
        qop: field(7),
        nc: field(8),
        opaque: field(9),
    };
    let now = UnixTime::from_secs(1_800_000_000);
    let auth = DigestAuth::new(
        DigestConfig {
            realm: "fuzz.example".into(),
            ..DigestConfig::default()
        },
        ServerKey::new(Secret::new("fuzzing-server-key-0123")).expect("key"),
    )
    .expect("config");
    let user = UserCredentials::from_password("1000", "fuzz.example", &Secret::new("pw"));
    let nonce = auth.nonce(now);
    if flags & (1 << 10) != 0 {
        params.nonce = Some(nonce.as_str().as_bytes());
    }
    let algorithm = params
        .algorithm
        .map_or(Some(Algorithm::Md5), Algorithm::from_token);
    let computed = algorithm
        .and_then(|a| user.get(a))
        .and_then(|ha1| expected_response(ha1, method, &params).ok());
    if flags & (1 << 11) != 0 {
        if let Some(c) = &computed {
            params.response = Some(c.as_bytes());
        }
    }
    let mut counts = NonceCounts::new(4);
    let outcome = auth.verify(method, request_uri, &params, Some(&user), Some(&mut counts), now);
    if outcome.is_ok() {
        let given = params.response.expect("Ok needs a response");
        let computed = computed.as_deref().expect("Ok needs a computable response");
        assert!(given.eq_ignore_ascii_case(computed.as_bytes()));
        // The same answer again is a replay.
        assert!(!auth
            .verify(method, request_uri, &params, Some(&user), Some(&mut counts), now)
            .is_ok());
    }
    let _ = outcome.event_kind();
});
