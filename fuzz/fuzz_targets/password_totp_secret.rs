//! TOTP secrets in base32 and typed codes: whatever `TotpSecret::from_base32`
//! accepts writes back (`to_base32`) to a form that reads back to the same
//! bytes, and `Totp::verify` takes any string without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::UnixTime;
use pbxsec_password::second_factor::{Totp, TotpParams, TotpSecret, TotpState};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(secret) = TotpSecret::from_base32(text) {
        let written = secret.to_base32();
        let back = TotpSecret::from_base32(written.expose());
        assert_eq!(back.as_ref().ok(), Some(&secret));
        assert_eq!(back.map(|s| s.to_base32()).ok(), Some(written));
    }
    let Ok(secret) = TotpSecret::from_bytes(vec![7; 20]) else {
        return;
    };
    let Ok(totp) = Totp::new(&TotpParams::default(), &secret) else {
        return;
    };
    let at = UnixTime::from_secs(1_800_000_000);
    let mut state = TotpState::default();
    if totp.verify(text, at, &mut state).is_ok() {
        // Only a six-digit code (spaces aside) can pass, and only once.
        assert_eq!(text.bytes().filter(u8::is_ascii_digit).count(), 6);
        assert!(totp.verify(text, at, &mut state).is_err());
    }
});
