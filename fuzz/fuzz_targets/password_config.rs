//! Password policy configs: any JSON; whatever parses and validates must
//! serialise and parse back to an equal config and policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_password::{PasswordPolicies, PasswordPolicy, PoliciesConfig, PolicyConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = serde_json::from_slice::<PolicyConfig>(data) {
        let json = serde_json::to_string(&config).expect("a config serialises");
        let back: PolicyConfig = serde_json::from_str(&json).expect("round trip parses");
        assert_eq!(back, config);
        if let Ok(policy) = PasswordPolicy::try_from(config) {
            assert_eq!(PasswordPolicy::try_from(back).ok(), Some(policy));
        }
    }
    if let Ok(config) = serde_json::from_slice::<PoliciesConfig>(data) {
        let json = serde_json::to_string(&config).expect("a config serialises");
        let back: PoliciesConfig = serde_json::from_str(&json).expect("round trip parses");
        assert_eq!(back, config);
        let _ = PasswordPolicies::try_from(config);
    }
});
