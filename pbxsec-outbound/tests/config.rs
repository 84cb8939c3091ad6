//! Configuration: serde defaults, unknown fields, errors that name the field and position, presets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Duration;

use pbxsec_outbound::{Error, OutboundConfig, OutboundPolicy, PatternProblem};

fn load(json: &str) -> Result<OutboundPolicy, String> {
    let config: OutboundConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
    OutboundPolicy::try_from(config).map_err(|e| e.to_string())
}

#[test]
fn empty_config_has_documented_defaults() {
    let c: OutboundConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, OutboundConfig::default());
    assert_eq!(c.international_prefixes, ["00"]);
    assert_eq!(c.national_prefixes, ["0"]);
    assert_eq!(c.max_call_duration, Duration::from_secs(10_800));
    assert!(c.routes.is_empty() && c.countries.is_none());
}

#[test]
fn unknown_fields_are_refused() {
    let err = load(r#"{ "routes": [], "max_call_duraton": "1h" }"#).unwrap_err();
    assert!(err.contains("unknown field `max_call_duraton`"), "{err}");
    let err = load(
        r#"{ "routes": [ { "name": "a", "patterns": [ { "pattern": "X.", "strp": 1 } ] } ] }"#,
    )
    .unwrap_err();
    assert!(err.contains("unknown field `strp`"), "{err}");
}

#[test]
fn errors_name_the_field_and_position() {
    let cases = [
        (
            r#"{ "routes": [ { "name": "a", "patterns": [ { "pattern": "X." } ] },
                             { "name": "b", "patterns": [ { "pattern": "9X." }, { "pattern": "9[5-1]." } ] } ] }"#,
            "routes[1].patterns[1].pattern: invalid dial pattern \"9[5-1].\" at byte 1: invalid range inside [..]; write e.g. [1-5]",
        ),
        (
            r#"{ "routes": [ { "name": "a", "patterns": [] } ] }"#,
            "routes[0].patterns: a route needs at least one pattern",
        ),
        (
            r#"{ "routes": [ { "name": "a", "patterns": [ { "pattern": "X." } ], "time_condition": "night" } ] }"#,
            "routes[0].time_condition: no time condition named \"night\" in time_conditions",
        ),
        (
            r#"{ "routes": [ { "name": "a", "patterns": [ { "pattern": "X." } ], "pin": "12a4" } ] }"#,
            "routes[0].pin: a PIN is 1 to 32 digits",
        ),
        (
            r#"{ "countries": { "allow": ["1"], "deny": ["28"] } }"#,
            "countries.deny[0]: \"28\" does not start with a country calling code in the libphonenumber metadata",
        ),
        (
            r#"{ "blocked_numbers": ["1900X.", "0900Q"] }"#,
            "blocked_numbers[1]: invalid dial pattern \"0900Q\" at byte 4: unexpected character; use digits, X, Z, N, [..], '.', '!', '+', '*' or '#'",
        ),
        (
            r#"{ "time_conditions": { "office": { "time_zone": "Europe/Berlinn" } } }"#,
            "time_conditions.office.time_zone: \"Europe/Berlinn\" is not a time zone in the IANA database",
        ),
        (
            r#"{ "time_conditions": { "office": { "weekly": [ { "days": ["mon"], "from": "18:00", "to": "08:00" } ] } } }"#,
            "time_conditions.office.weekly[0].to: must be after `from`; write a range across midnight as two ranges",
        ),
        (
            r#"{ "international_prefixes": ["0 0"] }"#,
            "international_prefixes[0]: \"0 0\" must be 1 to 32 of 0-9, *, #, +",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(load(json).unwrap_err(), want);
    }
}

#[test]
fn a_pin_never_appears_in_errors_or_output() {
    let json = r#"{ "routes": [ { "name": "a", "patterns": [ { "pattern": "X." } ],
                    "pin_list": [ { "pin": "1234" }, { "pin": "98x76", "user": "bob" } ] } ] }"#;
    let err = load(json).unwrap_err();
    assert_eq!(err, "routes[0].pin_list[1]: a PIN is 1 to 32 digits");
    let ok: OutboundConfig = serde_json::from_str(&json.replace("98x76", "9876")).unwrap();
    let written = serde_json::to_string(&ok).unwrap();
    assert!(
        !written.contains("1234") && !written.contains("9876"),
        "{written}"
    );
    assert!(!format!("{ok:?}").contains("1234"));
    // What was written back does not load: "***" is not a PIN.
    let back: OutboundConfig = serde_json::from_str(&written).unwrap();
    assert!(OutboundPolicy::try_from(back).is_err());
}

#[test]
fn presets_compile_and_round_trip() {
    for preset in [
        OutboundConfig::yeastar_p_series(),
        OutboundConfig::portsip(),
    ] {
        let json = serde_json::to_string(&preset).unwrap();
        let back: OutboundConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, preset);
        OutboundPolicy::try_from(preset).unwrap();
    }
}

#[test]
fn pattern_errors_are_values() {
    match pbxsec_outbound::DialPattern::parse("0[13") {
        Err(Error::Pattern {
            position, problem, ..
        }) => {
            assert_eq!((position, problem), (1, PatternProblem::UnclosedClass));
        }
        other => panic!("{other:?}"),
    }
}
