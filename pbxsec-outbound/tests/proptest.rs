//! Properties against simple reference models: the pattern matcher against backtracking, country rules against brute-force longest prefix, number lists against a linear scan.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_core::UnixTime;
use pbxsec_outbound::{
    Call, CountryConfig, DenyCode, DialPattern, OutboundConfig, OutboundPolicy, RouteConfig,
    RoutePattern,
};
use proptest::prelude::*;

const ALPHABET: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', '+',
];

/// A pattern element as the reference model sees it.
#[derive(Clone, Debug)]
enum El {
    /// One character out of the set.
    One(Vec<char>),
    /// `.`
    OneOrMore,
    /// `!`
    ZeroOrMore,
}

fn element() -> impl Strategy<Value = (String, El)> {
    prop_oneof![
        4 => proptest::sample::select(ALPHABET).prop_map(|c| (c.to_string(), El::One(vec![c]))),
        1 => Just(("X".to_owned(), El::One(ALPHABET[..10].to_vec()))),
        1 => Just(("Z".to_owned(), El::One(ALPHABET[1..10].to_vec()))),
        1 => Just(("n".to_owned(), El::One(ALPHABET[2..10].to_vec()))),
        1 => proptest::sample::subsequence(ALPHABET.to_vec(), 1..5).prop_map(|set| {
            let text: String = set.iter().collect();
            (format!("[{text}]"), El::One(set))
        }),
        1 => (0u8..10, 0u8..10).prop_map(|(a, b)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let set: Vec<char> = (lo..=hi).map(|d| char::from(b'0' + d)).collect();
            (format!("[{lo}-{hi}]"), El::One(set))
        }),
        1 => Just((".".to_owned(), El::OneOrMore)),
        1 => Just(("!".to_owned(), El::ZeroOrMore)),
    ]
}

fn pattern() -> impl Strategy<Value = (String, Vec<El>)> {
    proptest::collection::vec(element(), 1..10).prop_map(|els| {
        let text = els.iter().map(|(t, _)| t.as_str()).collect::<String>();
        (text, els.into_iter().map(|(_, e)| e).collect())
    })
}

/// The reference: plain recursive backtracking over the elements.
fn reference(els: &[El], s: &[char]) -> bool {
    match els.split_first() {
        None => s.is_empty(),
        Some((El::One(set), rest)) => {
            s.first().is_some_and(|c| set.contains(c))
                && reference(rest, s.get(1..).unwrap_or_default())
        }
        Some((El::OneOrMore, rest)) => (1..=s.len()).any(|k| reference(rest, &s[k..])),
        Some((El::ZeroOrMore, rest)) => (0..=s.len()).any(|k| reference(rest, &s[k..])),
    }
}

/// A number that (usually) fits the pattern, so both outcomes are covered.
fn fitting(els: &[El], seed: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    let mut next = || {
        i += 1;
        seed.get(i % seed.len().max(1)).copied().unwrap_or(0)
    };
    for e in els {
        match e {
            El::One(set) => out.push(set[next() % set.len()]),
            El::OneOrMore | El::ZeroOrMore => {
                let min = usize::from(matches!(e, El::OneOrMore));
                for _ in 0..min + next() % 3 {
                    out.push(ALPHABET[next() % ALPHABET.len()]);
                }
            }
        }
    }
    out
}

fn number() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET), 0..14)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matcher_agrees_with_backtracking(
        (text, els) in pattern(),
        random in number(),
        seed in proptest::collection::vec(0usize..1000, 1..20),
    ) {
        let compiled = DialPattern::parse(&text).unwrap();
        let fit = fitting(&els, &seed);
        for n in [&random, &fit] {
            let chars: Vec<char> = n.chars().collect();
            prop_assert_eq!(compiled.matches(n), reference(&els, &chars), "{} vs {:?}", text, n);
        }
        // Canonical form: parses back to the same pattern.
        let again = DialPattern::parse(&compiled.to_string()).unwrap();
        prop_assert_eq!(&again, &compiled);
    }

    #[test]
    fn any_text_parses_or_fails_cleanly(text in "\\PC{0,40}") {
        if let Ok(p) = DialPattern::parse(&text) {
            prop_assert_eq!(DialPattern::parse(&p.to_string()).unwrap(), p);
        }
    }
}

const CODES: &[&str] = &[
    "1", "7", "20", "27", "30", "44", "49", "86", "242", "263", "355", "880", "882", "998",
];

fn prefix() -> impl Strategy<Value = String> {
    (proptest::sample::select(CODES), "[0-9]{0,3}").prop_map(|(c, rest)| format!("{c}{rest}"))
}

fn any_route(config: &mut OutboundConfig) {
    config.routes = vec![RouteConfig {
        patterns: vec![RoutePattern::new("!")],
        everyone: true,
        ..RouteConfig::new("all")
    }];
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn country_decision_is_the_longest_prefix(
        rules in proptest::collection::vec((prefix(), any::<bool>()), 0..12),
        allow_unlisted in any::<bool>(),
        called in prop_oneof![
            (prefix(), "[0-9]{0,8}").prop_map(|(p, r)| format!("{p}{r}")),
            "[0-9]{0,10}",
        ],
    ) {
        // One action per prefix (a prefix both allowed and denied is a load error).
        let mut seen = std::collections::BTreeMap::new();
        for (p, allow) in &rules {
            seen.entry(p.clone()).or_insert(*allow);
        }
        let mut config = OutboundConfig::default();
        any_route(&mut config);
        config.countries = Some(CountryConfig {
            allow: seen.iter().filter(|(_, a)| **a).map(|(p, _)| p.clone()).collect(),
            deny: seen.iter().filter(|(_, a)| !**a).map(|(p, _)| p.clone()).collect(),
            allow_unlisted,
        });
        let policy = OutboundPolicy::try_from(config).unwrap();
        // Brute force: the longest rule the number starts with, else unlisted.
        let expected = seen
            .iter()
            .filter(|(p, _)| called.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map_or(allow_unlisted, |(_, a)| *a);
        let dialled = format!("00{called}");
        let got = policy.decide(&Call::new("1", &dialled), UnixTime::EPOCH).decision;
        if expected {
            prop_assert!(got.is_allowed(), "{} {:?}", dialled, got);
        } else {
            prop_assert_eq!(got.code(), Some(DenyCode::CountryNotAllowed));
        }
    }

    #[test]
    fn number_lists_agree_with_a_linear_scan(
        blocked in proptest::collection::vec(pattern(), 0..30),
        allowed in proptest::collection::vec(pattern(), 0..5),
        dialled in proptest::collection::vec(proptest::sample::select(ALPHABET), 1..14)
            .prop_map(|v| v.into_iter().collect::<String>()),
    ) {
        let mut config = OutboundConfig::default();
        any_route(&mut config);
        config.blocked_numbers = blocked.iter().map(|(t, _)| t.clone()).collect();
        config.allowed_numbers = allowed.iter().map(|(t, _)| t.clone()).collect();
        let policy = OutboundPolicy::try_from(config).unwrap();
        let chars: Vec<char> = dialled.chars().collect();
        let on = |list: &[(String, Vec<El>)]| list.iter().any(|(_, els)| reference(els, &chars));
        let expected = on(&blocked) && !on(&allowed);
        let got = policy.decide(&Call::new("1", &dialled), UnixTime::EPOCH).decision;
        prop_assert_eq!(got.code() == Some(DenyCode::NumberBlocked), expected, "{}", dialled);
    }
}
