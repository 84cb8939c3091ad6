//! Policy rules and presets against the products' own examples.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_core::Secret;
use pbxsec_password::strength::{
    ZXCVBN_MAX_CHARS, longest_keyboard_run, longest_repeated_run, longest_sequential_run,
    vodia_points, zxcvbn_score, zxcvbn_view,
};
use pbxsec_password::{
    AccountField, AccountInfo, CharClass, Charset, ClassRule, Error, HashConfig, PasswordHasher,
    PasswordHistory, PasswordPolicies, PasswordPolicy, PoliciesConfig, PolicyConfig, SecretKind,
    ViolationCode as C,
};

fn codes(policy: &PasswordPolicy, pw: &str, account: &AccountInfo) -> Vec<C> {
    match policy.check(&Secret::new(pw), account) {
        Ok(()) => Vec::new(),
        Err(v) => v.into_iter().map(|v| v.code).collect(),
    }
}

fn policy(config: PolicyConfig) -> PasswordPolicy {
    PasswordPolicy::try_from(config).unwrap()
}

fn none() -> AccountInfo {
    AccountInfo::new()
}

#[test]
fn sequential_runs_from_the_products() {
    for s in [
        "1234", "7890", "Abcd", "dcba", "0987", "XYZA1", "4321", "aBcD",
    ] {
        assert!(longest_sequential_run(s) >= 4 || s == "XYZA1", "{s}");
    }
    assert_eq!(longest_sequential_run("XYZA1"), 3);
    for (s, expect) in [("1357", 1), ("abd1", 2), ("a1b2", 1), ("zyxw", 4)] {
        assert_eq!(longest_sequential_run(s), expect, "{s}");
    }
    let p = policy(PolicyConfig {
        min_length: 1,
        sequential_run: Some(4),
        ..PolicyConfig::default()
    });
    for s in ["x1234y", "pw7890", "Abcdef", "zzdcba", "Q9876"] {
        assert_eq!(codes(&p, s, &none()), vec![C::SequentialRun], "{s}");
    }
    for s in ["x123y", "pw789", "Abc", "qwer", "a1b2c3d4"] {
        assert!(codes(&p, s, &none()).is_empty(), "{s}");
    }
    let keyboard = policy(PolicyConfig {
        min_length: 1,
        sequential_run: Some(4),
        keyboard_rows: true,
        ..PolicyConfig::default()
    });
    assert_eq!(longest_keyboard_run("xQWERx"), 4);
    assert_eq!(longest_keyboard_run("lkjh"), 4);
    assert_eq!(codes(&keyboard, "xqwerx", &none()), vec![C::KeyboardRun]);
    assert_eq!(codes(&keyboard, "ASDF99", &none()), vec![C::KeyboardRun]);
    assert!(codes(&keyboard, "qwe-asd", &none()).is_empty());
}

#[test]
fn repeated_runs_from_the_products() {
    for s in ["222", "Aaa", "###", "x2222", "ÄäÄ"] {
        assert!(longest_repeated_run(s) >= 3, "{s}");
    }
    let p = policy(PolicyConfig {
        min_length: 1,
        repeated_run: Some(3),
        ..PolicyConfig::default()
    });
    for s in ["a222b", "Aaa1", "###!", "ÄäÄ"] {
        assert_eq!(codes(&p, s, &none()), vec![C::RepeatedRun], "{s}");
    }
    for s in ["a22b", "Aa1", "##!#"] {
        assert!(codes(&p, s, &none()).is_empty(), "{s}");
    }
}

#[test]
fn portsip_class_rules() {
    let p = PasswordPolicy::portsip();
    let table: &[(&str, &[C])] = &[
        ("AjK5Up1G", &[]),
        ("pass1word!", &[]),
        ("Pass1word", &[]),
        ("pass1word", &[C::MissingUppercaseOrSpecial]),
        ("Password", &[C::MissingDigit]),
        (
            "93751026",
            &[C::MissingLetter, C::MissingUppercaseOrSpecial],
        ),
        ("#93751026", &[C::MissingLetter]),
        ("Ab1", &[C::TooShort]),
        ("Ab1xyzqwXm-9kd7Tq2Wz8pLr5Ns3Vb6Yc0", &[C::TooLong]),
        (
            "aaa",
            &[
                C::TooShort,
                C::MissingDigit,
                C::MissingUppercaseOrSpecial,
                C::RepeatedRun,
            ],
        ),
        ("Xx1234yz", &[C::SequentialRun]),
        ("Xx222yzq", &[C::RepeatedRun]),
    ];
    for (pw, want) in table {
        assert_eq!(codes(&p, pw, &none()), want.to_vec(), "{pw}");
    }
}

#[test]
fn account_information_is_refused() {
    let account = AccountInfo::new()
        .extension("1001")
        .user_name("jsmith")
        .name("John", "Smith")
        .email("jd-office@example.com")
        .phone_number("+49 (30) 555-0199");
    let p = PasswordPolicy::portsip();
    let fields = |pw: &str| -> Vec<AccountField> {
        p.check(&Secret::new(pw), &account)
            .err()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| (v.code == C::AccountInfo).then_some(v.field).flatten())
            .collect()
    };
    assert_eq!(fields("Xq1001!zk"), vec![AccountField::Extension]);
    assert_eq!(fields("Mr.Smith7"), vec![AccountField::LastName]);
    assert_eq!(
        fields("htimS-9Qz"),
        vec![AccountField::LastName],
        "reversed"
    );
    assert_eq!(
        fields("1001Smith!"),
        vec![AccountField::Extension, AccountField::LastName]
    );
    assert_eq!(
        fields("Zq!JSMITH9"),
        vec![AccountField::UserName, AccountField::LastName]
    );
    assert_eq!(fields("Office#42x"), vec![AccountField::Email]);
    assert!(
        fields("Qz!3049555x").is_empty(),
        "part of a phone number is not the number"
    );
    assert_eq!(fields("Qz!49305550199"), vec![AccountField::PhoneNumber]);
    assert!(fields("Qz!J0hn-Sm1th").is_empty());
    // A 1-digit extension does not ban its digit: fragments under 3 are ignored.
    let short = AccountInfo::new().extension("7").name("Al", "Li");
    assert!(p.check(&Secret::new("Qx7al!li9w"), &short).is_ok());
    // Messages name the field, never the password.
    let v = p.check(&Secret::new("Smith2026!"), &account).unwrap_err();
    let msg = v
        .iter()
        .find(|v| v.code == C::AccountInfo)
        .unwrap()
        .message
        .clone();
    assert!(
        msg.contains("last name") && !msg.contains("Smith2026"),
        "{msg}"
    );
}

#[test]
fn every_violation_is_reported_with_stable_codes() {
    let p = PasswordPolicy::yeastar_user();
    let account = AccountInfo::new().extension("1000");
    let v = p.check(&Secret::new("1000aaaa"), &account).unwrap_err();
    let got: Vec<&str> = v.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(
        got,
        [
            "too_short",
            "missing_uppercase",
            "repeated_run",
            "account_info"
        ]
    );
    for v in &v {
        assert!(!v.message.is_empty());
        assert!(!v.message.contains("1000aaaa"));
    }
    let json = serde_json::to_string(&v[0]).unwrap();
    assert!(json.contains(r#""code":"too_short""#), "{json}");
}

#[test]
fn yeastar_floors_and_separate_policies() {
    let both = PasswordPolicies::yeastar();
    let pw = "Xk7mQp2r"; // 8 characters
    assert!(
        both.for_kind(SecretKind::SipRegistration)
            .check(&Secret::new(pw), &none())
            .is_ok()
    );
    assert_eq!(
        codes(both.for_kind(SecretKind::User), pw, &none()),
        vec![C::TooShort]
    );
    assert!(both.user.check(&Secret::new("Xk7mQp2rWz"), &none()).is_ok());
    assert_eq!(both.user.config().history, 3);
    assert_eq!(both.sip_registration.config().min_length, 8);
    let config: PoliciesConfig = serde_json::from_str(
        r#"{"sip_registration": {"min_length": 12}, "user": {"min_length": 10, "history": 3}}"#,
    )
    .unwrap();
    let policies = PasswordPolicies::try_from(config).unwrap();
    assert_eq!(policies.sip_registration.config().min_length, 12);
}

#[test]
fn allow_weak_keeps_the_length_floor_and_allow_empty_is_separate() {
    let weak = policy(PolicyConfig {
        allow_weak: true,
        ..PasswordPolicy::portsip().config().clone()
    });
    assert!(weak.check(&Secret::new("aaaaaaaa"), &none()).is_ok());
    assert_eq!(codes(&weak, "aaa", &none()), vec![C::TooShort]);
    assert_eq!(codes(&weak, "", &none()), vec![C::Empty]);
    let empty_ok = policy(PolicyConfig {
        allow_empty: true,
        ..PasswordPolicy::portsip().config().clone()
    });
    assert!(empty_ok.check(&Secret::new(""), &none()).is_ok());
    assert_eq!(codes(&empty_ok, "a", &none()).first(), Some(&C::TooShort));
}

#[test]
fn class_rule_k_of_n() {
    let p = policy(PolicyConfig {
        min_length: 1,
        min_classes: Some(ClassRule {
            at_least: 3,
            of: CharClass::ALL.to_vec(),
        }),
        ..PolicyConfig::default()
    });
    assert!(codes(&p, "abcDEF12", &none()).is_empty());
    assert!(codes(&p, "abc!12", &none()).is_empty());
    assert_eq!(codes(&p, "abcdef12", &none()), vec![C::TooFewClasses]);
    // Caseless letters count as lower case; non-ASCII upper case counts.
    assert!(codes(&p, "日本Ä1", &none()).is_empty());
    assert_eq!(CharClass::of('٣'), CharClass::Special);
}

#[test]
fn lengths_are_counted_in_characters() {
    let p = policy(PolicyConfig {
        min_length: 4,
        max_length: Some(4),
        ..PolicyConfig::default()
    });
    assert!(
        codes(&p, "äöüß", &none()).is_empty(),
        "8 bytes, 4 characters"
    );
    assert!(codes(&p, "日本語字", &none()).is_empty());
    assert_eq!(
        codes(&p, "e\u{301}e\u{301}e", &none()),
        vec![C::TooLong],
        "combining marks count"
    );
    assert_eq!(codes(&p, "äöü", &none()), vec![C::TooShort]);
}

#[test]
fn vodia_points_and_thresholds() {
    assert_eq!(vodia_points("1"), 10);
    assert_eq!(vodia_points("a"), 26);
    assert_eq!(vodia_points("!"), 33);
    assert_eq!(vodia_points("aaaa"), 29);
    assert_eq!(vodia_points("1234"), 13);
    assert_eq!(vodia_points("Xq7!"), 26 + 26 + 10 + 33);
    let medium = PasswordPolicy::vodia_medium();
    let high = PasswordPolicy::vodia_high();
    // 5 unrelated letters = 130 points: medium, not high.
    assert!(codes(&medium, "xqmwz", &none()).is_empty());
    assert_eq!(codes(&high, "xqmwz", &none()), vec![C::LowPoints]);
    // 8 unrelated letters = 208: high.
    assert!(codes(&high, "xqmwzkfp", &none()).is_empty());
    assert_eq!(codes(&medium, "aaaaaaaaaaaa", &none()), vec![C::LowPoints]);
}

#[test]
fn nist_presets() {
    let single = PasswordPolicy::nist_single_factor();
    let second = PasswordPolicy::nist_with_second_factor();
    assert_eq!(single.config().min_length, 15);
    assert_eq!(second.config().min_length, 8);
    assert!(single.max_length() >= 64);
    // No composition rules: all lower case is fine.
    assert!(codes(&single, "purple monkey dishwasher", &none()).is_empty());
    assert!(codes(&second, "lorikeet-thimble", &none()).is_empty());
    // Blocklist: common and breached passwords, case-insensitively.
    assert_eq!(codes(&second, "password", &none()), vec![C::CommonPassword]);
    assert_eq!(
        codes(&second, "Iloveyou1", &none()),
        vec![C::CommonPassword]
    );
    assert_eq!(
        codes(&second, "qwertyuiop", &none()),
        vec![C::CommonPassword]
    );
    // Context words: account fields and configured words.
    let account = AccountInfo::new().user_name("marguerite");
    assert_eq!(
        codes(&second, "marguerite-rocks", &account),
        vec![C::AccountInfo]
    );
    let mut config = second.config().clone();
    config.context_words = vec!["Acme".into(), "pbx".into()];
    let with_words = policy(config);
    assert_eq!(
        codes(&with_words, "my-acme-phone-line", &none()),
        vec![C::ContextWord]
    );
    assert_eq!(
        PasswordPolicies::nist()
            .sip_registration
            .config()
            .min_length,
        15
    );
}

#[test]
fn zxcvbn_rule_uses_account_fields() {
    let p = policy(PolicyConfig {
        min_length: 1,
        min_zxcvbn_score: Some(3),
        ..PolicyConfig::default()
    });
    assert_eq!(codes(&p, "password1", &none()), vec![C::WeakScore]);
    assert!(codes(&p, "correct horse battery staple", &none()).is_empty());
    let pw = "quokkazanzibar";
    let account = AccountInfo::new()
        .user_name("zanzibar")
        .last_name_for_test("quokka");
    assert!(zxcvbn_score(pw, &[]) > zxcvbn_score(pw, &["zanzibar", "quokka"]));
    assert!(codes(&p, pw, &none()).is_empty());
    assert_eq!(codes(&p, pw, &account), vec![C::WeakScore]);
}

trait LastName {
    fn last_name_for_test(self, v: &str) -> Self;
}
impl LastName for AccountInfo {
    fn last_name_for_test(mut self, v: &str) -> Self {
        self.last_name = v.to_owned();
        self
    }
}

#[test]
fn zxcvbn_sees_a_bounded_prefix() {
    let crafted = [
        " .,?!'-/_:;+()@$\"#&*<>=[]\\~%^{}|1234567890".repeat(3),
        "4@8({[</369&#!1/|0$5+7%2/".repeat(4),
        "|!17@4$5({[<+%2".repeat(5),
        "a".repeat(100_000),
    ];
    for s in &crafted {
        let view = zxcvbn_view(s);
        assert!(s.starts_with(view));
        assert!(view.chars().count() <= ZXCVBN_MAX_CHARS);
        assert!(!view.is_empty());
    }
    let ordinary = "Tr0ub4dor&3horse";
    assert_eq!(zxcvbn_view(ordinary), ordinary);
    assert_eq!(zxcvbn_view("é".repeat(40).as_str()).chars().count(), 32);
}

#[test]
fn history_refuses_the_last_n() {
    // Cheap argon2 parameters: the rule, not the cost, is under test.
    let hasher = PasswordHasher::new(HashConfig {
        memory_kib: 64,
        iterations: 1,
        ..HashConfig::OWASP
    })
    .unwrap();
    let p = PasswordPolicy::yeastar_user();
    let mut history = PasswordHistory::default();
    for pw in [
        "First-Passw0rd",
        "Second-Passw0rd",
        "Third-Passw0rd",
        "Fourth-Passw0rd",
    ] {
        history.push(hasher.hash(&Secret::new(pw)).unwrap(), p.config().history);
    }
    assert_eq!(history.hashes.len(), 3);
    let change = |pw: &str| p.check_change(&Secret::new(pw), &none(), &history, &hasher);
    assert!(change("First-Passw0rd").is_ok(), "only the last 3 are kept");
    for pw in ["Second-Passw0rd", "Third-Passw0rd", "Fourth-Passw0rd"] {
        let v = change(pw).unwrap_err();
        assert_eq!(
            v.iter().map(|v| v.code).collect::<Vec<_>>(),
            vec![C::Reused]
        );
    }
    let json = serde_json::to_string(&history).unwrap();
    let back: PasswordHistory = serde_json::from_str(&json).unwrap();
    assert_eq!(back, history);
    assert!(serde_json::from_str::<PasswordHistory>(r#"{"hashes":[],"x":1}"#).is_err());
}

#[test]
fn generated_passwords_pass_their_policy() {
    let account = AccountInfo::new().extension("1001").name("John", "Smith");
    for (p, len, cs) in [
        (PasswordPolicy::portsip(), 8, Charset::Alphanumeric),
        (PasswordPolicy::portsip(), 32, Charset::Printable),
        (PasswordPolicy::yeastar_user(), 10, Charset::SipSafe),
        (PasswordPolicy::yeastar_sip(), 8, Charset::SipSafe),
        (PasswordPolicy::vodia_high(), 8, Charset::Alphanumeric),
        (
            PasswordPolicy::nist_single_factor(),
            15,
            Charset::Alphanumeric,
        ),
    ] {
        for _ in 0..20 {
            let pw = p.generate(len, cs, &account).unwrap();
            assert_eq!(pw.expose().chars().count(), len);
            assert!(
                p.check(&pw, &account).is_ok(),
                "{:?}",
                p.check(&pw, &account)
            );
            if cs == Charset::SipSafe {
                assert!(
                    pw.expose()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.!~*".contains(c))
                );
            }
        }
    }
    let keypad = policy(PolicyConfig {
        min_length: 6,
        repeated_run: Some(3),
        sequential_run: Some(3),
        ..PolicyConfig::default()
    });
    let pin = keypad.generate(6, Charset::Keypad, &none()).unwrap();
    assert!(pin.expose().chars().all(|c| c.is_ascii_digit()));
}

#[test]
fn unsatisfiable_generation_is_an_error() {
    let p = PasswordPolicy::portsip();
    let unsat = |r: Result<Secret, Error>| matches!(r, Err(Error::Unsatisfiable { .. }));
    assert!(unsat(p.generate(7, Charset::Alphanumeric, &none())));
    assert!(unsat(p.generate(33, Charset::Alphanumeric, &none())));
    assert!(
        unsat(p.generate(8, Charset::Keypad, &none())),
        "needs a letter"
    );
    assert!(unsat(p.generate(0, Charset::Printable, &none())));
    assert!(unsat(PasswordPolicy::vodia_high().generate(
        8,
        Charset::Keypad,
        &none()
    )));
    let three = policy(PolicyConfig {
        min_length: 2,
        require_lowercase: true,
        require_uppercase: true,
        require_digit: true,
        ..PolicyConfig::default()
    });
    assert!(unsat(three.generate(2, Charset::Alphanumeric, &none())));
}

#[test]
fn configs_are_validated() {
    let bad = [
        PolicyConfig {
            min_length: 20,
            max_length: Some(10),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            max_length: Some(5000),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            sequential_run: Some(1),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            keyboard_rows: true,
            ..PolicyConfig::default()
        },
        PolicyConfig {
            min_zxcvbn_score: Some(5),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            history: 1000,
            ..PolicyConfig::default()
        },
        PolicyConfig {
            account_info_min_fragment: Some(0),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            min_classes: Some(ClassRule {
                at_least: 3,
                of: vec![CharClass::Digit, CharClass::Digit],
            }),
            ..PolicyConfig::default()
        },
    ];
    for c in bad {
        assert!(
            matches!(
                PasswordPolicy::try_from(c.clone()),
                Err(Error::PolicyConfig { .. })
            ),
            "{c:?}"
        );
    }
    assert!(serde_json::from_str::<PolicyConfig>(r#"{"min_lenght": 8}"#).is_err());
    let c: PolicyConfig = serde_json::from_str(
        r#"{"min_length": 10, "min_classes": {"at_least": 3}, "sequential_run": 4, "keyboard_rows": true}"#,
    )
    .unwrap();
    assert_eq!(c.min_classes.as_ref().unwrap().of.len(), 4);
    PasswordPolicy::try_from(c).unwrap();
    // Every preset is a valid configuration.
    for p in [
        PasswordPolicy::portsip(),
        PasswordPolicy::yeastar_user(),
        PasswordPolicy::yeastar_sip(),
        PasswordPolicy::vodia_medium(),
        PasswordPolicy::vodia_high(),
        PasswordPolicy::nist_single_factor(),
        PasswordPolicy::nist_with_second_factor(),
    ] {
        let json = serde_json::to_string(p.config()).unwrap();
        let back: PolicyConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(PasswordPolicy::try_from(back).unwrap(), p);
    }
}
