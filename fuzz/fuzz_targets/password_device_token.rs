//! Trusted-device tokens: any string given to `verify` is refused without a
//! panic; tokens issued for any user and device id verify back to that device
//! id, and flipping any bit of one makes it fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::UnixTime;
use pbxsec_password::second_factor::{DeviceKey, DeviceTokenConfig, DeviceTokens};

fuzz_target!(|data: &[u8]| {
    let Ok(key) = DeviceKey::from_bytes(vec![0x42; 32]) else {
        return;
    };
    let Ok(tokens) = DeviceTokens::new(key, DeviceTokenConfig::default()) else {
        return;
    };
    let at = UnixTime::from_secs(1_800_000_000);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Parse: an attacker's cookie never verifies (they do not have the key).
    assert!(tokens.verify(text, "alice", 0, at).is_err());
    // Round trip: split the input into a user and a device id.
    let Some((user, device)) = text.split_at_checked(text.len() / 2) else {
        return;
    };
    if let Ok(token) = tokens.issue(user, device, 7, at) {
        let got = tokens.verify(token.expose(), user, 7, at);
        assert_eq!(got.map(|d| d.device_id), Ok(device.to_owned()));
        let mut bytes = token.expose().as_bytes().to_vec();
        let i = data.len() % bytes.len();
        if let Some(b) = bytes.get_mut(i) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        if let Ok(altered) = String::from_utf8(bytes) {
            assert!(tokens.verify(&altered, user, 7, at).is_err());
        }
    }
});
