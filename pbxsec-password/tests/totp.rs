//! TOTP: RFC 6238 known answers, the skew window, replay protection (also under threads), enrollment and its URI, QR codes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
#![cfg(feature = "totp")]

use std::sync::Barrier;
use std::time::Duration;

use pbxsec_core::UnixTime;
use pbxsec_password::second_factor::{
    Error, Rejection, SharedTotpState, Totp, TotpAlgorithm, TotpConfig, TotpEnrollment, TotpParams,
    TotpSecret, TotpState,
};
use proptest::prelude::*;

fn params(algorithm: TotpAlgorithm, digits: u8, window: u8) -> TotpParams {
    TotpParams::try_from(TotpConfig {
        algorithm,
        digits,
        window,
        ..TotpConfig::default()
    })
    .unwrap()
}

fn rfc_totp(algorithm: TotpAlgorithm, window: u8) -> Totp {
    // RFC 6238 Appendix A: the seeds are ASCII digits repeated to the hash length.
    let seed: &[u8] = match algorithm {
        TotpAlgorithm::Sha1 => b"12345678901234567890",
        TotpAlgorithm::Sha256 => b"12345678901234567890123456789012",
        TotpAlgorithm::Sha512 => {
            b"1234567890123456789012345678901234567890123456789012345678901234"
        }
    };
    let secret = TotpSecret::from_bytes(seed.to_vec()).unwrap();
    Totp::new(&params(algorithm, 8, window), &secret).unwrap()
}

/// RFC 6238 Appendix B: time (s), SHA-1, SHA-256, SHA-512 codes (8 digits, 30 s).
const RFC6238_VECTORS: [(u64, &str, &str, &str); 6] = [
    (59, "94287082", "46119246", "90693936"),
    (1_111_111_109, "07081804", "68084774", "25091201"),
    (1_111_111_111, "14050471", "67062674", "99943326"),
    (1_234_567_890, "89005924", "91819424", "93441116"),
    (2_000_000_000, "69279037", "90698825", "38618901"),
    (20_000_000_000, "65353130", "77737706", "47863826"),
];

#[test]
fn rfc6238_appendix_b_vectors() {
    for (t, sha1, sha256, sha512) in RFC6238_VECTORS {
        let at = UnixTime::from_secs(t);
        for (alg, code) in [
            (TotpAlgorithm::Sha1, sha1),
            (TotpAlgorithm::Sha256, sha256),
            (TotpAlgorithm::Sha512, sha512),
        ] {
            let totp = rfc_totp(alg, 0);
            assert_eq!(totp.code_at(at).expose(), code, "{alg} at {t}");
            let mut state = TotpState::default();
            let accepted = totp.verify(code, at, &mut state).unwrap();
            assert_eq!(accepted.step, t / 30, "{alg} at {t}");
            assert_eq!(accepted.drift, 0);
            assert_eq!(state.last_step, Some(t / 30));
        }
    }
}

#[test]
fn rfc6238_vectors_are_refused_one_step_later_with_window_zero() {
    for (t, sha1, _, _) in RFC6238_VECTORS {
        let totp = rfc_totp(TotpAlgorithm::Sha1, 0);
        let later = UnixTime::from_secs(t + 30);
        let mut state = TotpState::default();
        assert_eq!(
            totp.verify(sha1, later, &mut state),
            Err(Rejection::Invalid)
        );
        assert_eq!(
            state,
            TotpState::default(),
            "a failure must not move the state"
        );
    }
}

#[test]
fn six_digit_codes_are_the_last_six_digits() {
    // RFC 4226's dynamic truncation mod 10^6 is the 8-digit value's last six digits.
    for (t, sha1, sha256, sha512) in RFC6238_VECTORS {
        for (alg, code8, seed_len) in [
            (TotpAlgorithm::Sha1, sha1, 20),
            (TotpAlgorithm::Sha256, sha256, 32),
            (TotpAlgorithm::Sha512, sha512, 64),
        ] {
            let seed: Vec<u8> = b"1234567890"
                .iter()
                .copied()
                .cycle()
                .take(seed_len)
                .collect();
            let totp =
                Totp::new(&params(alg, 6, 0), &TotpSecret::from_bytes(seed).unwrap()).unwrap();
            assert_eq!(totp.code_at(UnixTime::from_secs(t)).expose(), &code8[2..]);
        }
    }
}

#[test]
fn skew_one_step_either_side_needs_window_one() {
    let t = 1_234_567_890;
    let now = UnixTime::from_secs(t);
    for alg in [
        TotpAlgorithm::Sha1,
        TotpAlgorithm::Sha256,
        TotpAlgorithm::Sha512,
    ] {
        let wide = rfc_totp(alg, 1);
        let strict = rfc_totp(alg, 0);
        let step = t / 30;
        for (delta, drift) in [(-1i64, -1i8), (1, 1)] {
            let other = step.checked_add_signed(delta).unwrap();
            let code = wide.code_for_step(other);
            let mut state = TotpState::default();
            let ok = wide.verify(code.expose(), now, &mut state).unwrap();
            assert_eq!((ok.step, ok.drift), (other, drift), "{alg} {delta}");
            let mut state = TotpState::default();
            assert_eq!(
                strict.verify(code.expose(), now, &mut state),
                Err(Rejection::Invalid),
                "{alg} {delta}"
            );
        }
        // Two steps away is outside a window of one.
        let code = wide.code_for_step(step - 2);
        assert_eq!(
            wide.verify(code.expose(), now, &mut TotpState::default()),
            Err(Rejection::Invalid)
        );
    }
}

#[test]
fn a_code_is_refused_for_the_rest_of_its_validity() {
    let totp = rfc_totp(TotpAlgorithm::Sha1, 1);
    let t0 = 1_800_000_010; // 10 s into a step
    let code = totp.code_at(UnixTime::from_secs(t0));
    let mut state = TotpState::default();
    totp.verify(code.expose(), UnixTime::from_secs(t0), &mut state)
        .unwrap();
    // With window 1 the code stays inside the window until its step's
    // successor ends, 50 s later: refused all that time.
    for dt in [0, 1, 19, 20, 45, 49] {
        assert_eq!(
            totp.verify(code.expose(), UnixTime::from_secs(t0 + dt), &mut state),
            Err(Rejection::Replayed),
            "+{dt} s"
        );
    }
    // After that it is simply out of the window.
    assert_eq!(
        totp.verify(code.expose(), UnixTime::from_secs(t0 + 50), &mut state),
        Err(Rejection::Invalid)
    );
    // A wrong code is still Invalid, not Replayed.
    let wrong = if code.expose() == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    assert_eq!(
        totp.verify(wrong, UnixTime::from_secs(t0), &mut state),
        Err(Rejection::Invalid)
    );
}

#[test]
fn an_older_code_is_refused_after_a_newer_one() {
    let totp = rfc_totp(TotpAlgorithm::Sha256, 1);
    let now = UnixTime::from_secs(1_800_000_000);
    let step = totp.step_at(now);
    let mut state = TotpState::default();
    // The user types the next step's code (their phone runs fast) ...
    totp.verify(totp.code_for_step(step + 1).expose(), now, &mut state)
        .unwrap();
    // ... then the current and previous ones are dead, although inside the window.
    for older in [step, step - 1] {
        assert_eq!(
            totp.verify(totp.code_for_step(older).expose(), now, &mut state),
            Err(Rejection::Replayed)
        );
    }
    // Two steps later, a fresh code passes again.
    let later = now.saturating_add(Duration::from_secs(60));
    totp.verify(totp.code_at(later).expose(), later, &mut state)
        .unwrap();
    assert_eq!(state.last_step, Some(step + 2));
}

#[test]
fn concurrent_logins_with_the_same_code_pass_once() {
    const THREADS: usize = 8;
    let totp = rfc_totp(TotpAlgorithm::Sha1, 1);
    let shared = SharedTotpState::default();
    for round in 0..50u64 {
        let at = UnixTime::from_secs(1_800_000_000 + round * 30);
        let code = totp.code_at(at);
        let barrier = Barrier::new(THREADS);
        let passed = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        totp.verify_shared(code.expose(), at, &shared)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            for r in &results {
                assert!(matches!(r, Ok(_) | Err(Rejection::Replayed)), "{r:?}");
            }
            results.iter().filter(|r| r.is_ok()).count()
        });
        assert_eq!(passed, 1, "round {round}");
        assert_eq!(shared.snapshot().last_step, Some(totp.step_at(at)));
    }
}

#[test]
fn verify_with_reports_a_lost_race_as_replayed() {
    let totp = rfc_totp(TotpAlgorithm::Sha1, 1);
    let at = UnixTime::from_secs(1_800_000_000);
    let code = totp.code_at(at);
    let mut seen = None;
    let ok = totp.verify_with(code.expose(), at, |step| {
        seen = Some(step);
        true
    });
    assert_eq!(ok.unwrap().step, totp.step_at(at));
    assert_eq!(seen, Some(totp.step_at(at)));
    assert_eq!(
        totp.verify_with(code.expose(), at, |_| false),
        Err(Rejection::Replayed)
    );
}

#[test]
fn malformed_codes() {
    let totp = Totp::new(
        &params(TotpAlgorithm::Sha1, 6, 1),
        &TotpSecret::generate(160).unwrap(),
    )
    .unwrap();
    let at = UnixTime::from_secs(1_800_000_000);
    let mut state = TotpState::default();
    for bad in [
        "",
        "12345",
        "1234567",
        "12a456",
        "１２３４５６",
        "123456789012345678",
    ] {
        assert_eq!(
            totp.verify(bad, at, &mut state),
            Err(Rejection::Malformed),
            "{bad:?}"
        );
    }
    // Apps show "123 456"; spaces are fine.
    let code = totp.code_at(at);
    let (a, b) = code.expose().split_at(3);
    totp.verify(&format!(" {a} {b} "), at, &mut state).unwrap();
}

#[test]
fn secrets_are_generated_at_the_configured_size_and_differ() {
    let a = TotpSecret::generate(160).unwrap();
    let b = TotpSecret::generate(160).unwrap();
    assert_eq!(a.bits(), 160);
    assert_ne!(a, b);
    assert_eq!(a.to_base32().expose().len(), 32);
    assert_eq!(TotpSecret::from_base32(a.to_base32().expose()).unwrap(), a);
    assert!(matches!(
        TotpSecret::generate(64),
        Err(Error::SecretTooShort { bits: 64 })
    ));
    assert_eq!(
        TotpSecret::from_base32("not base32!"),
        Err(Error::SecretEncoding)
    );
    // Lower case, spaces and padding as apps export them.
    let spaced = a.to_base32().expose().to_lowercase();
    let spaced = format!("{} {}==", &spaced[..16], &spaced[16..]);
    assert_eq!(TotpSecret::from_base32(&spaced).unwrap(), a);
}

#[test]
fn enrollment_uri_parses_back_with_totp_rs() {
    for config in [
        TotpConfig::authenticator_app().with_issuer("Acme PBX"),
        TotpConfig::sha256_8_digits().with_issuer("Acme"),
        TotpConfig {
            algorithm: TotpAlgorithm::Sha512,
            period: Duration::from_secs(60),
            ..TotpConfig::default()
        },
    ] {
        let params = TotpParams::try_from(config).unwrap();
        let enrollment = TotpEnrollment::begin(&params, "alice@example.com").unwrap();
        let uri = enrollment.uri();
        assert!(uri.expose().starts_with("otpauth://totp/"));
        for key in ["secret=", "issuer=", "algorithm=", "digits=", "period="] {
            assert!(uri.expose().contains(key), "{key} missing");
        }
        let parsed = totp_rs::TOTP::from_url(uri.expose()).unwrap();
        assert_eq!(parsed.issuer.as_deref(), Some(params.issuer()));
        assert_eq!(parsed.account_name, "alice@example.com");
        assert_eq!(parsed.digits, usize::from(params.digits()));
        assert_eq!(parsed.step, params.period().as_secs());
        assert_eq!(parsed.algorithm.to_string(), params.algorithm().as_str());
        assert_eq!(
            parsed.get_secret_base32(),
            enrollment.secret_base32().expose()
        );
        // And the parsed TOTP produces the same codes.
        let at = UnixTime::from_secs(1_800_000_000);
        let ours = Totp::from_base32(&params, enrollment.secret_base32().expose()).unwrap();
        assert_eq!(parsed.generate(at.as_secs()), ours.code_at(at).expose());
    }
}

#[test]
fn enrollment_is_active_only_after_one_valid_code() {
    let params = TotpParams::default();
    let enrollment = TotpEnrollment::begin(&params, "1000").unwrap();
    let at = UnixTime::from_secs(1_800_000_000);
    let totp = Totp::from_base32(&params, enrollment.secret_base32().expose()).unwrap();
    let code = totp.code_at(at);
    let wrong = if code.expose() == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        enrollment.confirm(wrong, at).unwrap_err(),
        Rejection::Invalid
    );
    // Resumed from the session in the next request, then confirmed.
    let secret = TotpSecret::from_base32(enrollment.secret_base32().expose()).unwrap();
    let resumed = TotpEnrollment::resume(&params, "1000", &secret).unwrap();
    let mut confirmed = resumed.confirm(code.expose(), at).unwrap();
    assert_eq!(confirmed.state.last_step, Some(totp.step_at(at)));
    // The confirmation code cannot double as the first login.
    assert_eq!(
        confirmed
            .totp
            .verify(code.expose(), at, &mut confirmed.state),
        Err(Rejection::Replayed)
    );
}

#[test]
fn labels_are_checked() {
    let params = TotpParams::default();
    for bad in ["", "a:b", "new\nline"] {
        assert!(matches!(
            TotpEnrollment::begin(&params, bad),
            Err(Error::Label {
                field: "account",
                ..
            })
        ));
    }
    let bad_issuer = TotpConfig::default().with_issuer("Acme:PBX");
    assert!(matches!(
        TotpParams::try_from(bad_issuer),
        Err(Error::Label {
            field: "issuer",
            ..
        })
    ));
}

#[test]
fn config_is_validated_and_strict() {
    let bad = [
        TotpConfig {
            digits: 7,
            ..TotpConfig::default()
        },
        TotpConfig {
            digits: 10,
            ..TotpConfig::default()
        },
        TotpConfig {
            period: Duration::from_millis(30_500),
            ..TotpConfig::default()
        },
        TotpConfig {
            period: Duration::ZERO,
            ..TotpConfig::default()
        },
        TotpConfig {
            window: 11,
            ..TotpConfig::default()
        },
        TotpConfig {
            secret_bits: 120,
            ..TotpConfig::default()
        },
        TotpConfig {
            secret_bits: 161,
            ..TotpConfig::default()
        },
    ];
    for config in bad {
        assert!(
            matches!(
                TotpParams::try_from(config.clone()),
                Err(Error::Config { .. })
            ),
            "{config:?}"
        );
    }
    let config: TotpConfig =
        serde_json::from_str(r#"{"issuer":"Acme","algorithm":"SHA256","period":"1m"}"#).unwrap();
    let params = TotpParams::try_from(config).unwrap();
    assert_eq!(params.algorithm(), TotpAlgorithm::Sha256);
    assert_eq!(params.period(), Duration::from_secs(60));
    assert_eq!(params.digits(), 6);
    assert!(serde_json::from_str::<TotpConfig>(r#"{"skew":1}"#).is_err());
    assert_eq!(
        TotpParams::try_from(TotpConfig::default()).unwrap(),
        TotpParams::default()
    );
}

#[test]
fn state_serialises_small() {
    let mut state = TotpState::default();
    assert_eq!(serde_json::to_string(&state).unwrap(), "{}");
    assert!(state.advance_to(60_000_000));
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(json, r#"{"last_step":60000000}"#);
    assert_eq!(serde_json::from_str::<TotpState>(&json).unwrap(), state);
    let shared = SharedTotpState::from(state);
    assert_eq!(shared.snapshot(), state);
}

#[test]
fn nothing_secret_in_debug_output() {
    let params = TotpParams::default();
    let enrollment = TotpEnrollment::begin(&params, "alice").unwrap();
    let secret = enrollment.secret_base32();
    let at = UnixTime::from_secs(1_800_000_000);
    let totp = Totp::from_base32(&params, secret.expose()).unwrap();
    let code = totp.code_at(at);
    let confirmed = enrollment.confirm(code.expose(), at).unwrap();
    let raw = TotpSecret::from_base32(secret.expose()).unwrap();
    for shown in [
        format!("{enrollment:?}"),
        format!("{totp:?}"),
        format!("{confirmed:?}"),
        format!("{raw:?}"),
        format!("{:?}", enrollment.uri()),
        format!("{code:?}"),
    ] {
        assert!(!shown.contains(secret.expose()), "{shown}");
        assert!(!shown.contains(code.expose()), "{shown}");
    }
}

#[cfg(feature = "qr")]
#[test]
fn qr_png_decodes_to_the_uri() {
    let params = TotpParams::try_from(TotpConfig::default().with_issuer("Acme PBX")).unwrap();
    let enrollment = TotpEnrollment::begin(&params, "alice@example.com").unwrap();
    let png_bytes = enrollment.qr_png().unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes.as_slice()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, enrollment.uri().expose());
}

#[cfg(feature = "qr")]
#[test]
fn qr_svg_is_a_document_with_modules() {
    let enrollment = TotpEnrollment::begin(&TotpParams::default(), "alice").unwrap();
    let svg = enrollment.qr_svg().unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.matches("h1v1h-1z").count() > 100);
}

/// Reference model: a step is accepted iff it is later than every step accepted before.
fn model(steps: &[u64]) -> Vec<bool> {
    let mut best: Option<u64> = None;
    steps
        .iter()
        .map(|&s| {
            let ok = best.is_none_or(|b| s > b);
            if ok {
                best = Some(s);
            }
            ok
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replay_state_matches_the_model(steps in proptest::collection::vec(0u64..40, 0..40)) {
        let expected = model(&steps);
        let mut state = TotpState::default();
        let shared = SharedTotpState::default();
        for (i, &s) in steps.iter().enumerate() {
            prop_assert_eq!(state.advance_to(s), expected[i]);
            prop_assert_eq!(shared.advance_to(s), expected[i]);
            prop_assert_eq!(shared.snapshot(), state);
        }
    }

    #[test]
    fn verify_accepts_exactly_fresh_steps_in_the_window(
        offsets in proptest::collection::vec(-3i64..=3, 1..12),
        window in 0u8..=2,
    ) {
        let totp = rfc_totp(TotpAlgorithm::Sha1, window);
        let at = UnixTime::from_secs(1_800_000_000);
        let now = totp.step_at(at);
        let mut state = TotpState::default();
        let mut best: Option<u64> = None;
        for off in offsets {
            let step = now.checked_add_signed(off).unwrap();
            let got = totp.verify(totp.code_for_step(step).expose(), at, &mut state);
            if off.unsigned_abs() > u64::from(window) {
                // A code from outside the window (unless it happens to collide).
                prop_assert!(got.is_err());
            } else if best.is_none_or(|b| step > b) {
                prop_assert_eq!(got.map(|a| a.step), Ok(step));
                best = Some(step);
            } else {
                prop_assert_eq!(got, Err(Rejection::Replayed));
            }
        }
    }

    #[test]
    fn uri_round_trips_for_any_label(
        account in "[A-Za-z0-9._@+ -]{1,40}",
        issuer in "[A-Za-z0-9.@ -]{1,30}",
    ) {
        let params = TotpParams::try_from(TotpConfig::default().with_issuer(issuer.clone())).unwrap();
        let enrollment = TotpEnrollment::begin(&params, &account).unwrap();
        let parsed = totp_rs::TOTP::from_url(enrollment.uri().expose()).unwrap();
        prop_assert_eq!(parsed.issuer.as_deref(), Some(issuer.as_str()));
        prop_assert_eq!(&parsed.account_name, &account);
    }
}
