//! Trusted-device tokens: round trip, expiry, revocation by generation, tampering.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
#![cfg(feature = "totp")]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pbxsec_core::{Clock, ManualClock, UnixTime};
use pbxsec_password::second_factor::device::MAX_TOKEN_LEN;
use pbxsec_password::second_factor::{
    DeviceKey, DeviceTokenConfig, DeviceTokens, Error, Rejection,
};
use proptest::prelude::*;

fn tokens(days: u64) -> DeviceTokens {
    DeviceTokens::new(
        DeviceKey::from_bytes((0u8..32).collect()).unwrap(),
        DeviceTokenConfig::remember_for_days(days),
    )
    .unwrap()
}

#[test]
fn valid_until_expiry_then_refused() {
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    let t = tokens(30);
    let token = t.issue("alice", "laptop", 0, clock.wall()).unwrap();
    let ok = t.verify(token.expose(), "alice", 0, clock.wall()).unwrap();
    assert_eq!(ok.device_id, "laptop");
    assert_eq!(
        ok.expires_at,
        clock
            .wall()
            .saturating_add(Duration::from_secs(30 * 86_400))
    );
    clock.advance(Duration::from_secs(30 * 86_400 - 1));
    assert!(t.verify(token.expose(), "alice", 0, clock.wall()).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        t.verify(token.expose(), "alice", 0, clock.wall()),
        Err(Rejection::Expired)
    );
}

#[test]
fn bumping_the_generation_revokes_every_token_of_the_user() {
    let t = tokens(30);
    let at = UnixTime::from_secs(1_800_000_000);
    let laptop = t.issue("alice", "laptop", 7, at).unwrap();
    let phone = t.issue("alice", "phone", 7, at).unwrap();
    let bob = t.issue("bob", "laptop", 7, at).unwrap();
    for token in [&laptop, &phone] {
        assert!(t.verify(token.expose(), "alice", 7, at).is_ok());
        assert_eq!(
            t.verify(token.expose(), "alice", 8, at),
            Err(Rejection::Revoked)
        );
    }
    // Bob's generation did not move.
    assert!(t.verify(bob.expose(), "bob", 7, at).is_ok());
    // A token is only good for the user it was issued to.
    assert_eq!(
        t.verify(bob.expose(), "alice", 7, at),
        Err(Rejection::WrongUser)
    );
}

#[test]
fn any_altered_character_is_refused() {
    let t = tokens(30);
    let at = UnixTime::from_secs(1_800_000_000);
    let token = t.issue("alice@example.com", "laptop-7f3a", 3, at).unwrap();
    let s = token.expose();
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "cookie-safe"
    );
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..s.len() {
        for &c in [b'A', b'z', b'7', b'-'].iter() {
            let mut bytes = s.as_bytes().to_vec();
            if bytes[i] == c {
                continue;
            }
            bytes[i] = c;
            let altered = String::from_utf8(bytes).unwrap();
            let got = t.verify(&altered, "alice@example.com", 3, at);
            assert!(
                matches!(got, Err(Rejection::Invalid | Rejection::Malformed)),
                "position {i}: {got:?}"
            );
        }
        assert!(alphabet.contains(&s.as_bytes()[i]));
    }
}

#[test]
fn any_altered_byte_is_refused() {
    let t = tokens(30);
    let at = UnixTime::from_secs(1_800_000_000);
    let token = t.issue("alice", "laptop", 3, at).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
    for i in 0..raw.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bytes = raw.clone();
            bytes[i] ^= flip;
            let altered = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(
                t.verify(&altered, "alice", 3, at),
                Err(Rejection::Invalid),
                "byte {i} ^ {flip:#x}"
            );
        }
    }
    // Truncated or extended.
    for cut in [0, 1, raw.len() - 1] {
        let altered = URL_SAFE_NO_PAD.encode(&raw[..cut]);
        assert!(t.verify(&altered, "alice", 3, at).is_err());
    }
    let mut longer = raw.clone();
    longer.push(0);
    assert!(
        t.verify(&URL_SAFE_NO_PAD.encode(&longer), "alice", 3, at)
            .is_err()
    );
}

#[test]
fn another_key_or_garbage_is_refused() {
    let t = tokens(30);
    let other =
        DeviceTokens::new(DeviceKey::generate().unwrap(), DeviceTokenConfig::default()).unwrap();
    let at = UnixTime::from_secs(1_800_000_000);
    let token = other.issue("alice", "laptop", 0, at).unwrap();
    assert_eq!(
        t.verify(token.expose(), "alice", 0, at),
        Err(Rejection::Invalid)
    );
    for garbage in [
        "",
        "!!!",
        "a",
        &"A".repeat(MAX_TOKEN_LEN + 1),
        "abc=",
        "abc def",
    ] {
        assert!(t.verify(garbage, "alice", 0, at).is_err(), "{garbage:?}");
    }
    assert_eq!(
        t.verify(&"A".repeat(MAX_TOKEN_LEN + 1), "alice", 0, at),
        Err(Rejection::Malformed)
    );
}

#[test]
fn setup_errors() {
    assert!(matches!(
        DeviceKey::from_bytes(vec![1; 31]),
        Err(Error::Config { .. })
    ));
    let key = || DeviceKey::from_bytes(vec![1; 32]).unwrap();
    for lifetime in [Duration::from_secs(59), Duration::from_secs(401 * 86_400)] {
        assert!(DeviceTokens::new(key(), DeviceTokenConfig { lifetime }).is_err());
    }
    let t = tokens(1);
    let at = UnixTime::from_secs(1_800_000_000);
    assert!(matches!(
        t.issue(&"u".repeat(129), "d", 0, at),
        Err(Error::TokenField { field: "user", .. })
    ));
    assert!(matches!(
        t.issue("u", &"d".repeat(129), 0, at),
        Err(Error::TokenField {
            field: "device id",
            ..
        })
    ));
    let config: DeviceTokenConfig = serde_json::from_str(r#"{"lifetime":"14d"}"#).unwrap();
    assert_eq!(config, DeviceTokenConfig::remember_for_days(14));
    assert!(serde_json::from_str::<DeviceTokenConfig>(r#"{"days":14}"#).is_err());
    let id = DeviceTokens::new_device_id().unwrap();
    assert_eq!(id.len(), 22);
    assert_ne!(id, DeviceTokens::new_device_id().unwrap());
}

#[test]
fn key_and_token_never_in_debug() {
    let key = DeviceKey::from_bytes(vec![0xab; 32]).unwrap();
    let t = DeviceTokens::new(key.clone(), DeviceTokenConfig::default()).unwrap();
    let token = t
        .issue("alice", "laptop", 0, UnixTime::from_secs(1_800_000_000))
        .unwrap();
    let shown = format!("{key:?} {t:?} {token:?}");
    assert!(!shown.contains("171")); // 0xab
    assert!(!shown.contains("ab, ab"));
    assert!(!shown.contains(token.expose()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Model: a token verifies iff same user, same generation and before expiry.
    #[test]
    fn verify_matches_the_model(
        user in "[a-z0-9@.]{0,20}",
        other_user in "[a-z0-9@.]{0,20}",
        device in "\\PC{0,30}",
        issued_gen in 0u64..4,
        current_gen in 0u64..4,
        days in 1u64..60,
        elapsed_h in 0u64..(61 * 24),
    ) {
        let t = tokens(days);
        let at = UnixTime::from_secs(1_800_000_000);
        let token = t.issue(&user, &device, issued_gen, at).unwrap();
        let later = at.saturating_add(Duration::from_secs(elapsed_h * 3600));
        let got = t.verify(token.expose(), &other_user, current_gen, later);
        let expected = if other_user != user {
            Err(Rejection::WrongUser)
        } else if issued_gen != current_gen {
            Err(Rejection::Revoked)
        } else if elapsed_h >= days * 24 {
            Err(Rejection::Expired)
        } else {
            Ok(device.clone())
        };
        prop_assert_eq!(got.map(|d| d.device_id), expected);
    }

    #[test]
    fn arbitrary_strings_never_verify(s in "\\PC{0,400}") {
        let t = tokens(30);
        prop_assert!(t.verify(&s, "alice", 0, UnixTime::from_secs(1_800_000_000)).is_err());
    }
}
