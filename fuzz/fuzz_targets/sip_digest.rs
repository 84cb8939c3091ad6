//! Fuzzes the Authorization and WWW-Authenticate parameter parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_sip::{DigestChallenge, DigestCredentials};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = DigestCredentials::parse(text) {
        // Every known field is one of the parameters, borrowed from the input.
        for value in [c.username, c.realm, c.nonce, c.uri, c.response, c.algorithm, c.cnonce, c.qop, c.nc, c.opaque]
            .into_iter()
            .flatten()
        {
            assert!(text.contains(value));
        }
        assert!(c.params().all(|p| p.is_ok()));
    }
    if let Ok(c) = DigestChallenge::parse(text) {
        assert!(c.params().all(|p| p.is_ok()));
    }
});
