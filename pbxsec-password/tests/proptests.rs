//! Property tests: generated passwords pass their policy, no input panics, and the run detectors and history agree with simple reference models.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_core::Secret;
use pbxsec_password::strength::{
    ZXCVBN_MAX_CHARS, longest_repeated_run, longest_sequential_run, vodia_points, zxcvbn_view,
};
use pbxsec_password::{
    AccountInfo, CharClass, Charset, ClassRule, Error, HashConfig, PasswordHasher, PasswordHistory,
    PasswordPolicy, PolicyConfig,
};
use proptest::prelude::*;

fn everything_on() -> PasswordPolicy {
    PasswordPolicy::try_from(PolicyConfig {
        min_length: 10,
        max_length: Some(40),
        require_letter: true,
        require_digit: true,
        require_uppercase_or_special: true,
        min_classes: Some(ClassRule {
            at_least: 3,
            of: CharClass::ALL.to_vec(),
        }),
        sequential_run: Some(3),
        keyboard_rows: true,
        repeated_run: Some(3),
        account_info_min_fragment: Some(3),
        min_zxcvbn_score: Some(3),
        min_points: Some(200),
        blocklist: true,
        context_words: vec!["acme".into()],
        ..PolicyConfig::default()
    })
    .unwrap()
}

fn policies() -> Vec<PasswordPolicy> {
    vec![
        PasswordPolicy::portsip(),
        PasswordPolicy::yeastar_user(),
        PasswordPolicy::yeastar_sip(),
        PasswordPolicy::vodia_medium(),
        PasswordPolicy::vodia_high(),
        PasswordPolicy::nist_single_factor(),
        PasswordPolicy::nist_with_second_factor(),
        PasswordPolicy::default(),
        everything_on(),
    ]
}

const CHARSETS: [Charset; 4] = [
    Charset::Printable,
    Charset::Alphanumeric,
    Charset::SipSafe,
    Charset::Keypad,
];

fn account() -> impl Strategy<Value = AccountInfo> {
    (
        "[0-9]{0,5}",
        "[a-zA-Z.]{0,10}",
        "\\PC{0,8}",
        "[a-zA-Z]{0,10}",
        "[0-9+ ]{0,14}",
    )
        .prop_map(|(ext, user, first, last, phone)| {
            AccountInfo::new()
                .extension(ext)
                .user_name(user.clone())
                .name(first, last)
                .email(format!("{user}@example.com"))
                .phone_number(phone)
        })
}

/// Reference model: the longest run of equal (lower-cased) characters, by brute force.
fn model_repeated(s: &str) -> usize {
    let c: Vec<char> = s
        .chars()
        .map(|c| c.to_lowercase().next().unwrap())
        .collect();
    let mut best = 0;
    for i in 0..c.len() {
        let mut j = i;
        while j < c.len() && c[j] == c[i] {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}

/// Reference model: a window is a run when every neighbour pair steps by +1
/// (or every pair by -1) in a-z or in the digit ring 0-9 (9 -> 0 steps +1).
fn model_sequential(s: &str) -> usize {
    let key = |c: char| -> Option<(u8, i32)> {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() {
            Some((0, c as i32 - 'a' as i32))
        } else if c.is_ascii_digit() {
            Some((1, c as i32 - '0' as i32))
        } else {
            None
        }
    };
    let step = |a: char, b: char| -> i32 {
        match (key(a), key(b)) {
            (Some((0, x)), Some((0, y))) if (y - x).abs() == 1 => y - x,
            (Some((1, x)), Some((1, y))) if (y - x).rem_euclid(10) == 1 => 1,
            (Some((1, x)), Some((1, y))) if (x - y).rem_euclid(10) == 1 => -1,
            _ => 0,
        }
    };
    let c: Vec<char> = s.chars().collect();
    let mut best = usize::from(!c.is_empty());
    for i in 0..c.len() {
        for j in i + 1..c.len() {
            let d = step(c[i], c[i + 1]);
            if d != 0 && (i..j).all(|k| step(c[k], c[k + 1]) == d) {
                best = best.max(j - i + 1);
            }
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_passwords_satisfy_their_policy(
        which in 0usize..9,
        cs in 0usize..4,
        len in 0usize..48,
        account in account(),
    ) {
        let policy = &policies()[which];
        match policy.generate(len, CHARSETS[cs], &account) {
            Ok(pw) => {
                prop_assert_eq!(pw.expose().chars().count(), len);
                prop_assert!(policy.check(&pw, &account).is_ok());
            }
            Err(Error::Unsatisfiable { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    #[test]
    fn no_input_panics(
        chars in prop::collection::vec(any::<char>(), 0..300),
        repeat in 1usize..20,
        account in account(),
    ) {
        let base: String = chars.into_iter().collect();
        let pw = base.repeat(repeat);
        for policy in policies() {
            let v = policy.violations(&pw, &account);
            prop_assert_eq!(v.is_empty(), policy.check(&Secret::new(pw.clone()), &account).is_ok());
            for v in &v {
                prop_assert!(!v.message.is_empty());
                if pw.chars().count() > 12 {
                    prop_assert!(!v.message.contains(pw.as_str()));
                }
            }
        }
        let view = zxcvbn_view(&pw);
        prop_assert!(pw.starts_with(view));
        prop_assert!(view.chars().count() <= ZXCVBN_MAX_CHARS);
        let points = vodia_points(&pw) as usize;
        let n = pw.chars().count();
        prop_assert!(points >= n && points <= 33 * n);
    }

    #[test]
    fn run_detectors_agree_with_models(s in "[a-dA-DxX0-3789#]{0,24}") {
        prop_assert_eq!(longest_repeated_run(&s), model_repeated(&s));
        prop_assert_eq!(longest_sequential_run(&s), model_sequential(&s));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// `PasswordHistory` against a plain `Vec` of the passwords themselves.
    #[test]
    fn history_agrees_with_a_vec(
        ops in prop::collection::vec((0u8..6, 1usize..5), 1..10),
        probe in 0u8..6,
        last in 0usize..6,
    ) {
        let hasher = PasswordHasher::new(HashConfig { memory_kib: 8, iterations: 1, ..HashConfig::OWASP }).unwrap();
        let mut history = PasswordHistory::default();
        let mut model: Vec<u8> = Vec::new();
        for (pw, keep) in ops {
            history.push(hasher.hash(&Secret::new(format!("pw-{pw}"))).unwrap(), keep);
            model.push(pw);
            let excess = model.len().saturating_sub(keep);
            model.drain(..excess);
            prop_assert_eq!(history.hashes.len(), model.len());
        }
        let expected = model.iter().rev().take(last).any(|p| *p == probe);
        prop_assert_eq!(history.contains(&Secret::new(format!("pw-{probe}")), &hasher, last), expected);
    }
}
