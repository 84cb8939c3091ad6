//! Recovery codes: format, argon2id storage, single use, remaining count.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
#![cfg(feature = "totp")]

use pbxsec_core::UnixTime;
use pbxsec_password::second_factor::recovery::ALPHABET;
use pbxsec_password::second_factor::{
    Error, RecoveryCodeConfig, RecoveryCodeSet, RecoveryCodes, Rejection,
};
use pbxsec_password::{HashConfig, PasswordHasher};

/// Cheap argon2id parameters so the tests stay fast; the OWASP ones are
/// checked once in `stored_as_owasp_argon2id_hashes_only`.
fn cheap(config: RecoveryCodeConfig) -> RecoveryCodes {
    let hasher = PasswordHasher::new(HashConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        ..HashConfig::OWASP
    })
    .unwrap();
    RecoveryCodes::with_hasher(config, hasher).unwrap()
}

const AT: UnixTime = UnixTime::from_secs(1_800_000_000);

#[test]
fn codes_look_like_ab3d_9kq2_and_differ() {
    let codes = cheap(RecoveryCodeConfig::default());
    let (shown, set) = codes.generate().unwrap();
    assert_eq!(shown.len(), 10);
    assert_eq!(set.codes.len(), 10);
    assert_eq!(set.remaining(), 10);
    for code in &shown {
        let s = code.expose();
        assert_eq!(s.len(), 9, "{s}");
        assert_eq!(s.as_bytes()[4], b'-');
        assert!(
            s.bytes()
                .filter(|b| *b != b'-')
                .all(|b| ALPHABET.contains(&b)),
            "{s}"
        );
    }
    let mut distinct: Vec<&str> = shown.iter().map(|c| c.expose()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
}

#[test]
fn each_code_works_once() {
    let codes = cheap(RecoveryCodeConfig {
        count: 4,
        ..RecoveryCodeConfig::default()
    });
    let (shown, mut set) = codes.generate().unwrap();
    // Used out of order; each once.
    for (i, idx) in [2usize, 0, 3, 1].into_iter().enumerate() {
        let code = shown[idx].expose();
        assert_eq!(codes.verify_and_consume(&mut set, code, AT), Ok(3 - i));
        assert_eq!(
            codes.verify_and_consume(&mut set, code, AT),
            if i == 3 {
                Err(Rejection::NoneLeft)
            } else {
                Err(Rejection::Invalid)
            }
        );
        assert_eq!(set.codes[idx].used_at, Some(AT));
    }
    assert_eq!(set.remaining(), 0);
}

#[test]
fn typing_is_forgiving_but_the_alphabet_is_not() {
    let codes = cheap(RecoveryCodeConfig {
        count: 2,
        ..RecoveryCodeConfig::default()
    });
    let (shown, mut set) = codes.generate().unwrap();
    let typed = shown[0].expose().to_uppercase().replace('-', " ");
    assert_eq!(codes.verify_and_consume(&mut set, &typed, AT), Ok(1));
    for bad in [
        "",
        "abcd",
        "abcd-efgh-j",
        "abcd-efg0",
        "abcd-efgl",
        "abcd_efgh",
        "ａｂｃｄ-ｅｆｇｈ",
    ] {
        assert_eq!(
            codes.verify_and_consume(&mut set, bad, AT),
            Err(Rejection::Malformed),
            "{bad:?}"
        );
    }
    // A well-formed code that is not in the set.
    assert_eq!(
        codes.verify_and_consume(&mut set, "2345-6789", AT),
        Err(Rejection::Invalid)
    );
    assert_eq!(set.remaining(), 1);
}

#[test]
fn stored_as_owasp_argon2id_hashes_only() {
    let codes = RecoveryCodes::new(RecoveryCodeConfig {
        count: 2,
        ..RecoveryCodeConfig::default()
    })
    .unwrap();
    let (shown, mut set) = codes.generate().unwrap();
    let json = serde_json::to_string(&set).unwrap();
    for code in &shown {
        let bare = code.expose().replace('-', "");
        assert!(!json.contains(&bare));
        assert!(!json.contains(code.expose()));
    }
    for stored in &set.codes {
        assert!(
            stored.hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            stored.hash
        );
    }
    // Round trip through storage, then use one.
    let mut back: RecoveryCodeSet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
    assert_eq!(
        codes.verify_and_consume(&mut back, shown[1].expose(), AT),
        Ok(1)
    );
    let json = serde_json::to_string(&back).unwrap();
    assert!(json.contains("used_at"));
    // Debug of the set shows hashes, never the codes.
    let shown_dbg = format!("{set:?} {shown:?}");
    for code in &shown {
        assert!(!shown_dbg.contains(code.expose()));
    }
    assert!(
        codes
            .verify_and_consume(&mut set, shown[0].expose(), AT)
            .is_ok()
    );
}

#[test]
fn unreadable_stored_hashes_count_as_no_match() {
    let codes = cheap(RecoveryCodeConfig {
        count: 2,
        ..RecoveryCodeConfig::default()
    });
    let (shown, mut set) = codes.generate().unwrap();
    set.codes[0].hash = "not a phc string".to_owned();
    assert_eq!(
        codes.verify_and_consume(&mut set, shown[0].expose(), AT),
        Err(Rejection::Invalid)
    );
    assert_eq!(
        codes.verify_and_consume(&mut set, shown[1].expose(), AT),
        Ok(1)
    );
}

#[test]
fn config_is_validated() {
    for config in [
        RecoveryCodeConfig {
            count: 0,
            ..RecoveryCodeConfig::default()
        },
        RecoveryCodeConfig {
            count: 51,
            ..RecoveryCodeConfig::default()
        },
        RecoveryCodeConfig {
            groups: 0,
            ..RecoveryCodeConfig::default()
        },
        RecoveryCodeConfig {
            group_len: 1,
            ..RecoveryCodeConfig::default()
        },
        RecoveryCodeConfig {
            groups: 1,
            group_len: 6,
            ..RecoveryCodeConfig::default()
        },
    ] {
        assert!(
            matches!(
                RecoveryCodes::new(config.clone()),
                Err(Error::Config { .. })
            ),
            "{config:?}"
        );
    }
    let config: RecoveryCodeConfig = serde_json::from_str(r#"{"count":8,"groups":3}"#).unwrap();
    let codes = cheap(config);
    let (shown, _) = codes.generate().unwrap();
    assert_eq!(shown.len(), 8);
    assert_eq!(shown[0].expose().len(), 14); // xxxx-xxxx-xxxx
    assert!(serde_json::from_str::<RecoveryCodeConfig>(r#"{"length":8}"#).is_err());
}
