//! Second-factor checks: TOTP verification with window ±1 and the replay check
//! next to totp-rs' own `check` on the same secret, codes and times; trusted-device
//! tokens; recovery codes (argon2id).
#![allow(missing_docs)] // criterion's macros generate undocumented pub fns
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench setup: a panic is a failed run

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pbxsec_core::UnixTime;
use pbxsec_password::second_factor::{
    DeviceKey, DeviceTokenConfig, DeviceTokens, RecoveryCodeConfig, RecoveryCodes, SharedTotpState,
    Totp, TotpParams, TotpSecret, TotpState,
};

const SECRET: &[u8] = b"12345678901234567890";
const AT: u64 = 1_800_000_000;

fn totp(c: &mut Criterion) {
    let params = TotpParams::default(); // SHA-1, 6 digits, 30 s, window ±1
    let ours = Totp::new(&params, &TotpSecret::from_bytes(SECRET.to_vec()).unwrap()).unwrap();
    let peer = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        SECRET.to_vec(),
        None,
        String::new(),
    )
    .unwrap();
    let at = UnixTime::from_secs(AT);
    // The code of the previous step: both libraries must try the window.
    let code = ours.code_for_step(ours.step_at(at) - 1);
    let code = code.expose().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let mut g = c.benchmark_group("totp_verify_window1");
    g.bench_function("pbxsec verify + replay (accept)", |b| {
        b.iter(|| {
            // A fresh state each time, so the code is accepted and the state advanced.
            let mut state = TotpState::default();
            black_box(ours.verify(black_box(&code), black_box(at), &mut state))
        })
    });
    g.bench_function("pbxsec verify_shared + replay (accept)", |b| {
        b.iter(|| {
            let state = SharedTotpState::default();
            black_box(ours.verify_shared(black_box(&code), black_box(at), &state))
        })
    });
    g.bench_function("pbxsec verify (wrong code)", |b| {
        let mut state = TotpState::default();
        b.iter(|| black_box(ours.verify(black_box(wrong), black_box(at), &mut state)))
    });
    g.bench_function("totp-rs check (accept)", |b| {
        b.iter(|| black_box(peer.check(black_box(&code), black_box(AT))))
    });
    g.bench_function("totp-rs check (wrong code)", |b| {
        b.iter(|| black_box(peer.check(black_box(wrong), black_box(AT))))
    });
    g.finish();
}

fn device(c: &mut Criterion) {
    let tokens = DeviceTokens::new(
        DeviceKey::from_bytes(vec![7; 32]).unwrap(),
        DeviceTokenConfig::default(),
    )
    .unwrap();
    let at = UnixTime::from_secs(AT);
    let token = tokens
        .issue("alice@example.com", "laptop-7f3a9c", 3, at)
        .unwrap();
    let token = token.expose().to_owned();
    let mut g = c.benchmark_group("trusted_device");
    g.bench_function("issue", |b| {
        b.iter(|| black_box(tokens.issue(black_box("alice@example.com"), "laptop-7f3a9c", 3, at)))
    });
    g.bench_function("verify (valid)", |b| {
        b.iter(|| black_box(tokens.verify(black_box(&token), "alice@example.com", 3, at)))
    });
    g.finish();
}

fn recovery(c: &mut Criterion) {
    // OWASP argon2id (m = 19456 KiB, t = 2, p = 1), 10 codes.
    let codes = RecoveryCodes::new(RecoveryCodeConfig::default()).unwrap();
    let (shown, set) = codes.generate().unwrap();
    let at = UnixTime::from_secs(AT);
    let first = shown[0].expose().to_owned();
    let mut g = c.benchmark_group("recovery_code_owasp_argon2id");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.bench_function("verify_and_consume (first of 10 matches)", |b| {
        b.iter(|| {
            let mut set = set.clone();
            black_box(codes.verify_and_consume(&mut set, black_box(&first), at))
        })
    });
    g.bench_function("verify_and_consume (unknown code, 10 hashes tried)", |b| {
        b.iter(|| {
            let mut set = set.clone();
            black_box(codes.verify_and_consume(&mut set, black_box("2345-6789"), at))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    targets = totp, device
}
criterion_group! {
    name = slow;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = recovery
}
criterion_main!(benches, slow);
