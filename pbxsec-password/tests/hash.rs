//! argon2id hashing: known answers from the reference implementation, interoperability with the `argon2` crate's verifier, `needs_rehash`, unknown users.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use argon2::{PasswordHash, PasswordVerifier};
use pbxsec_core::Secret;
use pbxsec_password::hash::{HashConfig, PasswordHasher};
use pbxsec_password::{Error, hash_password, needs_rehash, verify_password, verify_unknown_user};

/// PHC strings produced by the C reference implementation (phc-winner-argon2,
/// through argon2-cffi 25.1); the first is the argon2id vector in the
/// reference's own `src/test.c`.
const REFERENCE: &[(&str, &str)] = &[
    (
        "password",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
    ),
    (
        "correct horse battery staple",
        "$argon2id$v=19$m=19456,t=2,p=1$cGJ4c2VjLWthdC1zYWx0MQ$XsH0OI/q3lWntoXL9zjbUjVWlEHIEeTeF9em51ShHJQ",
    ),
    (
        "Pässw0rd!",
        "$argon2id$v=19$m=4096,t=3,p=2$MDEyMzQ1Njc4OWFiY2RlZg$RylZOPr2gnDhxO2dGR4eZdmJYLZKetsTUlyrLaQUlls",
    ),
    (
        "password",
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    ),
    (
        "password",
        "$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$lV5dWxY6G2C7o1/DbQSWR0+6T2tZrVNihmbwf7L5Pq8",
    ),
];

#[test]
fn reference_phc_strings_verify_with_ours() {
    let hasher = PasswordHasher::owasp();
    for (password, phc) in REFERENCE {
        assert!(
            hasher.verify(&Secret::new(*password), phc).unwrap(),
            "{phc}"
        );
        assert!(!hasher.verify(&Secret::new("wrong"), phc).unwrap(), "{phc}");
    }
}

#[test]
fn our_hashes_verify_with_the_argon2_crates_verifier() {
    let password = "Zürich-Kennwort 2026";
    let phc = hash_password(&Secret::new(password)).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let parsed = PasswordHash::new(&phc).unwrap();
    assert_eq!(
        parsed.salt.unwrap().len(),
        22,
        "16-byte salt, unpadded base64"
    );
    assert_eq!(parsed.hash.unwrap().len(), 32);
    let reference = argon2::Argon2::default();
    assert!(
        reference
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    );
    assert!(
        reference
            .verify_password(b"Zurich-Kennwort 2026", &parsed)
            .is_err()
    );
}

/// A hash this crate produced, checked once with the C reference
/// implementation (argon2-cffi 25.1: `PasswordHasher().verify(h, pw)` is
/// `True`, a wrong password raises `VerifyMismatchError`); it must keep
/// verifying here too.
const OURS_CHECKED_BY_C_REFERENCE: (&str, &str) = (
    "Zürich-Kennwort 2026",
    "$argon2id$v=19$m=19456,t=2,p=1$wrwQ8KFeh4gtKReuooq4Nw$IVr2A5VI6r/dqX256ddNnV6j0p+ctLly5AcdWCZ/2gM",
);

#[test]
fn a_hash_of_ours_checked_by_the_c_reference_still_verifies() {
    let (pw, phc) = OURS_CHECKED_BY_C_REFERENCE;
    assert!(verify_password(&Secret::new(pw), phc).unwrap());
    assert!(!needs_rehash(phc).unwrap());
    let parsed = PasswordHash::new(phc).unwrap();
    assert!(
        argon2::Argon2::default()
            .verify_password(pw.as_bytes(), &parsed)
            .is_ok()
    );
}

#[test]
fn salts_differ_and_both_verify() {
    let pw = Secret::new("same password");
    let a = hash_password(&pw).unwrap();
    let b = hash_password(&pw).unwrap();
    assert_ne!(a, b);
    assert!(verify_password(&pw, &a).unwrap());
    assert!(verify_password(&pw, &b).unwrap());
}

#[test]
fn needs_rehash_compares_each_field() {
    let owasp = "$argon2id$v=19$m=19456,t=2,p=1$cGJ4c2VjLWthdC1zYWx0MQ$XsH0OI/q3lWntoXL9zjbUjVWlEHIEeTeF9em51ShHJQ";
    assert!(!needs_rehash(owasp).unwrap());
    let salt_hash = "$cGJ4c2VjLWthdC1zYWx0MQ$XsH0OI/q3lWntoXL9zjbUjVWlEHIEeTeF9em51ShHJQ";
    for (prefix, why) in [
        ("$argon2i$v=19$m=19456,t=2,p=1", "algorithm"),
        ("$argon2d$v=19$m=19456,t=2,p=1", "algorithm"),
        ("$argon2id$v=16$m=19456,t=2,p=1", "version"),
        ("$argon2id$m=19456,t=2,p=1", "no version means 0x10"),
        ("$argon2id$v=19$m=65536,t=2,p=1", "memory"),
        ("$argon2id$v=19$m=19456,t=3,p=1", "iterations"),
        ("$argon2id$v=19$m=19456,t=2,p=2", "parallelism"),
    ] {
        let phc = format!("{prefix}{salt_hash}");
        assert!(needs_rehash(&phc).unwrap(), "{why}: {phc}");
    }
    // Output length: a 16-byte output against our 32.
    assert!(
        needs_rehash("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA").unwrap()
    );
    // A configured hasher judges by its own parameters.
    let cheap = PasswordHasher::new(HashConfig {
        memory_kib: 4096,
        iterations: 3,
        parallelism: 2,
        ..HashConfig::OWASP
    })
    .unwrap();
    assert!(cheap.needs_rehash(owasp).unwrap());
    let mine = cheap.hash(&Secret::new("x")).unwrap();
    assert!(!cheap.needs_rehash(&mine).unwrap());
    assert!(needs_rehash(&mine).unwrap());
    assert!(matches!(
        needs_rehash("not a hash"),
        Err(Error::InvalidHash { .. })
    ));
}

#[test]
fn unknown_users_cost_an_argon2_computation_and_never_succeed() {
    let hasher = PasswordHasher::owasp();
    for pw in ["", "password", "anything at all"] {
        assert!(!hasher.verify_unknown_user(&Secret::new(pw)));
    }
    assert!(!verify_unknown_user(&Secret::new("x")));
}

#[test]
fn unusable_stored_hashes_are_errors_not_failed_logins() {
    let pw = Secret::new("x");
    for phc in [
        "",
        "plaintext",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        // 4 GiB of memory asked by a tampered hash: refused before allocating.
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=1000,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
    ] {
        let err = verify_password(&pw, phc).unwrap_err();
        assert!(matches!(err, Error::InvalidHash { .. }), "{phc}: {err:?}");
    }
}

#[test]
fn config_is_validated_and_serde() {
    let config: HashConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, HashConfig::OWASP);
    assert_eq!(
        (config.memory_kib, config.iterations, config.parallelism),
        (19456, 2, 1)
    );
    assert!(serde_json::from_str::<HashConfig>(r#"{"memory": 1}"#).is_err());
    for bad in [
        HashConfig {
            parallelism: 0,
            ..HashConfig::OWASP
        },
        HashConfig {
            iterations: 0,
            ..HashConfig::OWASP
        },
        HashConfig {
            memory_kib: 7,
            ..HashConfig::OWASP
        },
        HashConfig {
            memory_kib: u32::MAX,
            ..HashConfig::OWASP
        },
        HashConfig {
            output_len: 8,
            ..HashConfig::OWASP
        },
    ] {
        assert!(
            matches!(PasswordHasher::new(bad), Err(Error::HashParams { .. })),
            "{bad:?}"
        );
    }
}
