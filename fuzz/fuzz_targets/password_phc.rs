//! Stored PHC strings: `needs_rehash` and the PHC parser on any string
//! never panic; an unparsable string is an error, never `Ok`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_password::needs_rehash;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if needs_rehash(text) == Ok(false) {
        // Only a string naming exactly our algorithm, version and parameters
        // (in any order) is current.
        assert!(text.starts_with("$argon2id$v=19$"), "{text:?}");
        for param in ["m=19456", "t=2", "p=1"] {
            assert!(text.contains(param), "{text:?}");
        }
    }
});
