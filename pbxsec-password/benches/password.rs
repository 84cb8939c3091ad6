//! Criterion benchmarks: policy check without zxcvbn, zxcvbn on crafted worst cases and ordinary passwords (ours, bounded, next to the `zxcvbn` crate called directly), and argon2id at the OWASP parameters (ours next to the `argon2` crate called directly).
#![allow(missing_docs)]

use argon2::password_hash::{PasswordHasher as _, SaltString};
use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use pbxsec_core::Secret;
use pbxsec_password::{AccountInfo, PasswordHasher, PasswordPolicy, PolicyConfig};
use std::time::Duration;

fn account() -> AccountInfo {
    AccountInfo::new()
        .extension("1001")
        .user_name("jsmith")
        .name("John", "Smith")
        .email("john.smith@example.com")
        .phone_number("+49 30 1234567")
}

/// The inputs zxcvbn is known to choke on, and ordinary passwords.
fn zxcvbn_inputs() -> Vec<(&'static str, String)> {
    let issue316 = " .,?!'-/_:;+()@$\"#&*<>=[]\\~%^{}|1234567890";
    let acsploit = "4@8({[</369&#!1/|0$5+7%2/";
    vec![
        ("ordinary_8", "AjK5Up1G".to_owned()),
        ("ordinary_16", "Tr0ub4dor&3horse".to_owned()),
        ("passphrase_28", "correct horse battery staple".to_owned()),
        ("zxcvbn316_42", issue316.to_owned()),
        ("zxcvbn316_x3_126", issue316.repeat(3)),
        ("acsploit_24", acsploit.chars().cycle().take(24).collect()),
        ("acsploit_100", acsploit.repeat(4)),
        ("l33t_dense_75", "|!17@4$5({[<+%2".repeat(5)),
        ("digits_100", "1234567890".repeat(10)),
        ("long_10k", "Xk7mQp2rWz9bLt4N".repeat(640)),
    ]
}

fn policy_check(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_check_16_chars");
    g.sample_size(50)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let account = account();
    let pw = Secret::new("Xk7mQp2rWz9bLt4N");
    let portsip = PasswordPolicy::portsip();
    g.bench_function("pbxsec_portsip", |b| {
        b.iter(|| portsip.check(black_box(&pw), &account))
    });
    let yeastar = PasswordPolicy::yeastar_user();
    g.bench_function("pbxsec_yeastar_user", |b| {
        b.iter(|| yeastar.check(black_box(&pw), &account))
    });
    let keyboard = PasswordPolicy::try_from(PolicyConfig {
        keyboard_rows: true,
        min_points: Some(200),
        ..PasswordPolicy::portsip().config().clone()
    })
    .unwrap_or_default();
    g.bench_function("pbxsec_portsip_keyboard_points", |b| {
        b.iter(|| keyboard.check(black_box(&pw), &account))
    });
    let nist = PasswordPolicy::nist_with_second_factor();
    g.bench_function("pbxsec_nist_blocklist", |b| {
        b.iter(|| nist.check(black_box(&pw), &account))
    });
    // Peer: the `passwords` crate's analyser and scorer on the same input.
    g.bench_function("passwords_analyze_score", |b| {
        b.iter(|| passwords::scorer::score(&passwords::analyzer::analyze(black_box(pw.expose()))))
    });
    g.finish();
}

fn zxcvbn_worst_cases(c: &mut Criterion) {
    let account = account();
    let policy = PasswordPolicy::try_from(PolicyConfig {
        min_zxcvbn_score: Some(3),
        max_length: None,
        ..PasswordPolicy::portsip().config().clone()
    })
    .unwrap_or_default();
    let inputs = zxcvbn_inputs();
    let mut g = c.benchmark_group("zxcvbn_check");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(200));
    for (name, pw) in &inputs {
        let secret = Secret::new(pw.clone());
        g.bench_with_input(
            BenchmarkId::new("pbxsec_policy_check", name),
            &secret,
            |b, pw| b.iter(|| policy.check(pw, &account)),
        );
    }
    let user_inputs = [
        "1001",
        "jsmith",
        "john",
        "smith",
        "john.smith@example.com",
        "49301234567",
    ];
    for (name, pw) in &inputs {
        g.bench_with_input(
            BenchmarkId::new("zxcvbn_crate_direct", name),
            pw,
            |b, pw| b.iter(|| zxcvbn::zxcvbn(pw, &user_inputs).score()),
        );
    }
    g.finish();
}

fn argon2_owasp(c: &mut Criterion) {
    let mut g = c.benchmark_group("argon2id_owasp_m19456_t2_p1");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let hasher = PasswordHasher::owasp();
    let pw = Secret::new("Xk7mQp2rWz9bLt4N");
    g.bench_function("pbxsec_hash", |b| b.iter(|| hasher.hash(black_box(&pw))));
    let stored = hasher.hash(&pw).unwrap_or_default();
    g.bench_function("pbxsec_verify", |b| {
        b.iter(|| hasher.verify(black_box(&pw), &stored))
    });
    g.bench_function("pbxsec_verify_unknown_user", |b| {
        b.iter(|| hasher.verify_unknown_user(black_box(&pw)))
    });
    let reference = argon2::Argon2::default();
    let salt = SaltString::encode_b64(b"0123456789abcdef").ok();
    g.bench_function("argon2_crate_hash", |b| {
        b.iter(|| {
            salt.as_ref().map(|s| {
                reference
                    .hash_password(black_box(pw.expose().as_bytes()), s)
                    .is_ok()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, policy_check, zxcvbn_worst_cases, argon2_owasp);
criterion_main!(benches);
