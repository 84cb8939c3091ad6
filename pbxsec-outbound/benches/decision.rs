//! A full outbound decision with 200 routes, 10,000 blocked-number entries and
//! country rules, and its parts side by side with the peer crates doing the
//! same job on the same inputs: `regex::RegexSet` for dial patterns, a std
//! `HashSet` plus a `RegexSet` for number lists, `phonenumber::parse` for
//! finding the country code. Then what burst detection adds to
//! `OutboundGuard::check` (`guard_*` groups: the same guard with
//! `fraud_burst` off and on).
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)] // bench setup: a panic is a broken bench

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pbxsec_core::{Instant, UnixTime};
use pbxsec_outbound::{
    Call, CountryConfig, DialPattern, FraudBurstConfig, OutboundConfig, OutboundGuard,
    OutboundPolicy, RouteConfig, RoutePattern,
};

/// A deterministic pseudo-random sequence (xorshift), so every run measures
/// the same inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

/// 199 routes with two-to-three-digit prefixes spread over every first
/// digit, each open to 50 extensions, then the international route `9X.`
/// last of all (the worst place for it).
fn route_patterns() -> Vec<String> {
    (0..199)
        .map(|i| format!("{}{:02}X.", (i % 9) + 1, i / 9))
        .chain(std::iter::once("9X.".to_owned()))
        .collect()
}

fn config() -> OutboundConfig {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let routes = route_patterns()
        .into_iter()
        .enumerate()
        .map(|(i, p)| RouteConfig {
            patterns: vec![RoutePattern {
                pattern: p,
                strip: 1,
                prepend: String::new(),
            }],
            extensions: (0..50)
                .map(|e| format!("{}", 1000 + (i * 7 + e) % 400))
                .collect(),
            trunks: vec![format!("trunk-{}", i % 4)],
            ..RouteConfig::new(format!("route-{i}"))
        })
        .collect();
    let mut blocked: Vec<String> = (0..9_900)
        .map(|_| format!("00{}", rng.digits(11)))
        .collect();
    blocked.extend((0..100).map(|i| format!("0{:03}X.", 900 + i)));
    let allow = [
        "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44",
        "45", "46", "47", "48", "49", "51", "52", "54", "55", "56", "57", "58", "60", "61", "62",
        "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
        "212", "213", "216", "218", "220",
    ];
    let deny = [
        "1-242", "1-246", "1-264", "1-268", "1-284", "1-340", "1-345", "1-441", "1-473", "1-649",
        "1-664", "1-670", "1-671", "1-684", "1-721", "1-758", "1-767", "1-784", "1-787", "1-809",
        "1-829", "1-849", "1-868", "1-869", "1-876", "1-939", "7-9", "44-70", "44-9", "49-900",
    ];
    OutboundConfig {
        routes,
        blocked_numbers: blocked,
        countries: Some(CountryConfig {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
            deny: deny.iter().map(|s| (*s).to_owned()).collect(),
            allow_unlisted: false,
        }),
        ..OutboundConfig::default()
    }
}

/// A dial pattern as a regular expression, for the `RegexSet` peer.
fn to_regex(p: &str) -> String {
    let mut out = String::from("^");
    for c in p.chars() {
        match c {
            'X' => out.push_str("[0-9]"),
            'Z' => out.push_str("[1-9]"),
            'N' => out.push_str("[2-9]"),
            '.' => out.push_str("[0-9*#+]+"),
            '!' => out.push_str("[0-9*#+]*"),
            '*' | '+' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

fn bench(c: &mut Criterion) {
    let config = config();
    let policy = OutboundPolicy::try_from(&config).unwrap();
    let wall = UnixTime::from_secs(1_800_000_000);
    // Extension 1200 is on the international route's list (route 199: 1193-1242)
    // but not on route 8 (`900X.`, 1056-1105), which matches first.
    let allowed = Call::new("1200", "9001212555123");
    let refused_country = Call::new("1200", "9001242555123");
    assert!(policy.decide(&allowed, wall).decision.is_allowed());
    assert!(!policy.decide(&refused_country, wall).decision.is_allowed());

    let mut g = c.benchmark_group("decision");
    g.bench_function("pbxsec_allowed_international", |b| {
        b.iter(|| policy.decide(black_box(&allowed), wall));
    });
    g.bench_function("pbxsec_denied_country", |b| {
        b.iter(|| policy.decide(black_box(&refused_country), wall));
    });
    g.finish();

    // Finding the first of 200 routes whose pattern matches.
    let texts = route_patterns();
    let ours: Vec<DialPattern> = texts
        .iter()
        .map(|t| DialPattern::parse(t).unwrap())
        .collect();
    let set = regex::RegexSet::new(texts.iter().map(|t| to_regex(t))).unwrap();
    let number = "9001212555123";
    assert_eq!(
        ours.iter().position(|p| p.matches(number)),
        set.matches(number).iter().next()
    );
    let mut g = c.benchmark_group("first_matching_route_of_200");
    g.bench_function("pbxsec_dialpattern_scan", |b| {
        b.iter(|| ours.iter().position(|p| p.matches(black_box(number))));
    });
    g.bench_function("regex_regexset", |b| {
        b.iter(|| set.matches(black_box(number)).iter().next());
    });
    g.finish();

    // 10,000 blocked entries: is this number on the list?
    let exact: HashSet<&str> = config
        .blocked_numbers
        .iter()
        .filter(|s| !s.contains('X'))
        .map(String::as_str)
        .collect();
    let patterns = regex::RegexSet::new(
        config
            .blocked_numbers
            .iter()
            .filter(|s| s.contains('X'))
            .map(|t| to_regex(t)),
    )
    .unwrap();
    let only_blocked = OutboundConfig {
        routes: vec![RouteConfig {
            patterns: vec![RoutePattern::new("!")],
            everyone: true,
            ..RouteConfig::new("all")
        }],
        blocked_numbers: config.blocked_numbers.clone(),
        ..OutboundConfig::default()
    };
    let list_policy = OutboundPolicy::try_from(only_blocked).unwrap();
    let not_listed = Call::new("1", "0044207946000");
    assert!(list_policy.decide(&not_listed, wall).decision.is_allowed());
    let mut g = c.benchmark_group("blocked_list_10000_not_listed");
    g.bench_function("pbxsec_policy_with_list", |b| {
        b.iter(|| list_policy.decide(black_box(&not_listed), wall));
    });
    g.bench_function("std_hashset_plus_regexset", |b| {
        b.iter(|| {
            let n = black_box(not_listed.dialled);
            exact.contains(n) || patterns.is_match(n)
        });
    });
    g.finish();

    // Finding the country code of an international number.
    let mut g = c.benchmark_group("country_code");
    let only_country = OutboundConfig {
        routes: vec![RouteConfig {
            patterns: vec![RoutePattern::new("!")],
            everyone: true,
            ..RouteConfig::new("all")
        }],
        countries: config.countries.clone(),
        ..OutboundConfig::default()
    };
    let country_policy = OutboundPolicy::try_from(only_country).unwrap();
    let intl = Call::new("1", "0012125551234");
    assert!(country_policy.decide(&intl, wall).decision.is_allowed());
    g.bench_function("pbxsec_policy_with_country_rules", |b| {
        b.iter(|| country_policy.decide(black_box(&intl), wall));
    });
    g.bench_function("phonenumber_parse", |b| {
        b.iter(|| {
            phonenumber::parse(None, black_box("+12125551234"))
                .map(|n| n.code().value())
                .ok()
        });
    });
    g.finish();

    // Burst detection inside the guard: the same calls through a guard
    // without it and with it (alert only for the denial, so that it keeps
    // being counted; with `block` for the allowed call, so that the block
    // list is looked up).
    let guard = |burst: Option<FraudBurstConfig>| {
        OutboundGuard::try_from(OutboundConfig {
            call_rate: None,
            fraud_burst: burst,
            ..config.clone()
        })
        .unwrap()
    };
    let off = guard(None);
    let counting = guard(Some(FraudBurstConfig::default()));
    let blocking = guard(Some(FraudBurstConfig {
        block: true,
        ..FraudBurstConfig::default()
    }));
    let now = Instant::from_nanos(1_000_000_000);
    let mut g = c.benchmark_group("guard_denied_country");
    g.bench_function("fraud_burst_off", |b| {
        b.iter(|| off.check(black_box(&refused_country), now, wall));
    });
    g.bench_function("fraud_burst_counting", |b| {
        b.iter(|| counting.check(black_box(&refused_country), now, wall));
    });
    g.finish();
    let mut g = c.benchmark_group("guard_allowed_international");
    g.bench_function("fraud_burst_off", |b| {
        b.iter(|| off.check(black_box(&allowed), now, wall));
    });
    g.bench_function("fraud_burst_blocking", |b| {
        b.iter(|| blocking.check(black_box(&allowed), now, wall));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = bench
}
criterion_main!(benches);
