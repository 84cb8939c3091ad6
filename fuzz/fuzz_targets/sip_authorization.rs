//! The Authorization path: scan a SIP message, read its Authorization (or
//! Proxy-Authorization) credentials, verify them. Never panics; `Ok` only
//! when the response is the one `expected_response` computes; the same
//! answer twice is refused as a replay.
//!
//! So that the fuzzer reaches the deep checks, the placeholder `@N@` in the
//! input is replaced by a fresh nonce of ours, and `@R@` by the correct
//! response for the credentials as scanned (when they can be computed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::{Secret, UnixTime};
use pbxsec_sip::digest::{
    Algorithm, DigestAuth, DigestConfig, DigestOutcome, NonceCounts, ServerKey, UserCredentials,
    expected_response,
};
use pbxsec_sip::{Message, StartLine, scan};

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data.get(i..i + from.len()) == Some(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fn credentials<'a>(m: &Message<'a>) -> Option<pbxsec_sip::DigestCredentials<'a>> {
    match m.authorization() {
        Ok(Some(c)) => Some(c),
        Ok(None) => m.proxy_authorization().ok().flatten(),
        Err(_) => None,
    }
}

fuzz_target!(|data: &[u8]| {
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
    let data = replace(data, b"@N@", nonce.as_str().as_bytes());

    // First pass: compute the right response for the credentials as scanned.
    let mut correct = None;
    if let Ok(m) = scan(&data) {
        if let (StartLine::Request { method, .. }, Some(c)) = (m.start_line(), credentials(&m)) {
            let alg = c.algorithm.map_or(Some(Algorithm::Md5), |a| {
                Algorithm::from_token(a.as_bytes())
            });
            correct = alg
                .and_then(|a| user.get(a))
                .and_then(|ha1| expected_response(ha1, method.as_bytes(), &c).ok());
        }
    }
    let data = match &correct {
        Some(r) => replace(&data, b"@R@", r.as_bytes()),
        None => data,
    };

    let Ok(m) = scan(&data) else { return };
    let StartLine::Request { method, uri } = m.start_line() else {
        return;
    };
    let Some(c) = credentials(&m) else { return };
    let mut counts = NonceCounts::new(4);
    let outcome = auth.verify(
        method.as_bytes(),
        uri.as_bytes(),
        &c,
        Some(&user),
        Some(&mut counts),
        now,
    );
    let _ = outcome.event_kind();
    // Ok, a stale nonce and a nonce problem are only ever reported for a
    // right response (a wrong one is a wrong password, whatever the nonce).
    if matches!(
        outcome,
        DigestOutcome::Ok { .. } | DigestOutcome::InvalidNonce(_) | DigestOutcome::StaleNonce
    ) {
        let alg = c
            .algorithm
            .map_or(Some(Algorithm::Md5), |a| {
                Algorithm::from_token(a.as_bytes())
            })
            .expect("judged only for a known algorithm");
        let expected = expected_response(user.get(alg).expect("stored"), method.as_bytes(), &c)
            .expect("computable");
        let given = c.response.expect("judged only with a response");
        assert!(given.eq_ignore_ascii_case(&expected));
    }
    if outcome.is_ok() {
        assert!(
            !auth
                .verify(
                    method.as_bytes(),
                    uri.as_bytes(),
                    &c,
                    Some(&user),
                    Some(&mut counts),
                    now
                )
                .is_ok()
        );
    }
});
