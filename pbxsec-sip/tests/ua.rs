//! User-Agent and signature matching, list syntaxes and per-extension allow-by-prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_sip::{
    DEFAULT_SCANNERS, Error, ExtensionUaConfig, ExtensionUaPolicy, ExtensionUaRule, Field,
    ListProblem, MatchMode, RuleConfig, SignatureConfig, Signatures, UaPolicy, parse_line_list,
    parse_vodia_list, write_vodia_list,
};

#[test]
fn default_list_catches_everything_kamailio_drops() {
    let ours = Signatures::default_scanners();
    let kamailio = Signatures::kamailio();
    let samples = [
        "friendly-scanner",
        "Friendly-Scanner",
        "my friendly phone",
        "port scanner 2000",
        "sipcli/v1.8",
        "sipvicious 0.3.4",
        "VaxSIPUserAgent/3.1",
        "vaxsipuseragent",
        "pplsip",
        "PPLSIP-1.0",
    ];
    for ua in samples {
        assert!(
            kamailio.match_user_agent(ua).is_some(),
            "kamailio misses {ua}"
        );
        assert!(
            ours.match_user_agent(ua).is_some(),
            "default list misses {ua}"
        );
    }
    for ua in [
        "sip-scan",
        "SIPSCAN/1.0",
        "sundayddr",
        "iWar/1.0",
        "SIVuS VoIP scanner",
        "smap 0.6",
        "siparmyknife",
    ] {
        assert!(
            ours.match_user_agent(ua).is_some(),
            "default list misses {ua}"
        );
    }
    for ua in [
        "Yealink SIP-T46U 108.86.0.20",
        "Grandstream GXP2170 1.0.11.23",
        "Zoiper rv2.10",
        "bitsmap",
        "sipsak 0.9.8",
    ] {
        assert_eq!(ours.match_user_agent(ua), None, "false positive on {ua}");
    }
    // sipsak is opt-in.
    let with_sipsak = Signatures::try_from(SignatureConfig {
        optional: vec!["sipsak".into()],
        ..SignatureConfig::default()
    })
    .unwrap();
    assert_eq!(
        with_sipsak
            .match_user_agent("sipsak 0.9.8")
            .unwrap()
            .pattern,
        "sipsak"
    );
    // Every default entry documents its tool and where it was seen.
    assert!(
        DEFAULT_SCANNERS
            .iter()
            .all(|k| !k.tool.is_empty() && !k.seen.is_empty())
    );
}

#[test]
fn modes_and_case() {
    let rules = vec![
        RuleConfig::user_agent("abc", MatchMode::Prefix),
        RuleConfig::user_agent("exact ua", MatchMode::Exact),
        RuleConfig::user_agent("mid", MatchMode::Substring),
        RuleConfig {
            case_sensitive: true,
            ..RuleConfig::user_agent("CaSe", MatchMode::Substring)
        },
    ];
    let s = Signatures::try_from(SignatureConfig {
        include_defaults: false,
        rules,
        ..SignatureConfig::default()
    })
    .unwrap();
    let hit = |ua: &str| s.match_user_agent(ua).map(|d| d.rule.unwrap());
    assert_eq!(hit("ABCdef"), Some(0));
    assert_eq!(hit("xabc"), None);
    assert_eq!(hit("EXACT UA"), Some(1));
    assert_eq!(hit("exact ua2"), None);
    assert_eq!(hit("aMIDb"), Some(2));
    assert_eq!(hit("xCaSex"), Some(3));
    assert_eq!(hit("xcasex"), None);
    // A rule on another field does not fire on the User-Agent.
    let s = Signatures::try_from(SignatureConfig {
        include_defaults: false,
        rules: vec![RuleConfig {
            field: Field::FromHost,
            ..RuleConfig::user_agent("1.1.1.1", MatchMode::Exact)
        }],
        ..SignatureConfig::default()
    })
    .unwrap();
    assert_eq!(s.match_user_agent("1.1.1.1"), None);
    assert_eq!(
        s.match_field(Field::FromHost, "1.1.1.1").unwrap().pattern,
        "1.1.1.1"
    );
    // Empty patterns are refused.
    assert!(Signatures::from_user_agents([""], MatchMode::Substring).is_err());
}

#[test]
fn config_is_serde_with_defaults() {
    let c: SignatureConfig = serde_json::from_str(
        r#"{"rules":[{"pattern":"SIP Call","mode":"exact"},{"field":"from-display-name","pattern":"scan"}],"flag_missing_user_agent":true}"#,
    )
    .unwrap();
    assert!(c.include_defaults);
    assert_eq!(c.rules[0].mode, MatchMode::Exact);
    assert_eq!(c.rules[1].field, Field::FromDisplayName);
    assert!(serde_json::from_str::<SignatureConfig>(r#"{"bogus":1}"#).is_err());
    let s = Signatures::try_from(c).unwrap();
    assert_eq!(s.match_user_agent("sip call").unwrap().name, "SIP Call");
}

#[test]
fn vodia_list() {
    assert_eq!(
        parse_vodia_list(r#"friendly-scanner "SIP Call"  sipcli"#).unwrap(),
        ["friendly-scanner", "SIP Call", "sipcli"]
    );
    assert_eq!(parse_vodia_list("").unwrap(), Vec::<&str>::new());
    assert_eq!(
        parse_vodia_list("a\n\"b c\"\tdef").unwrap(),
        ["a", "b c", "def"]
    );
    let err = |s: &str| match parse_vodia_list(s).unwrap_err() {
        Error::List {
            line,
            column,
            problem,
        } => (line, column, problem),
        e => panic!("{e:?}"),
    };
    assert_eq!(
        err(r#"abc "SIP Call"#),
        (1, 5, ListProblem::UnterminatedQuote)
    );
    assert_eq!(err("abc\nde\"f"), (2, 3, ListProblem::QuoteInsidePattern));
    assert_eq!(err(r#""a"b"#), (1, 4, ListProblem::QuoteInsidePattern));
    assert_eq!(err(r#"x """#), (1, 3, ListProblem::EmptyPhrase));
    assert_eq!(err("é\u{1}"), (1, 2, ListProblem::ControlCharacter));
    let list = ["friendly-scanner", "SIP Call", "a\tb"];
    let text = write_vodia_list(&list).unwrap();
    assert_eq!(parse_vodia_list(&text).unwrap(), list);
    assert_eq!(write_vodia_list(&["a\"b"]), None);
    let s = Signatures::from_user_agents(
        parse_vodia_list(r#""SIP Call" sipcli"#).unwrap(),
        MatchMode::Substring,
    )
    .unwrap();
    assert_eq!(
        s.match_user_agent("my SIP Call app").unwrap().pattern,
        "SIP Call"
    );
    assert_eq!(s.match_user_agent("SIP"), None);
}

#[test]
fn line_list() {
    let text = "# scanners\r\nfriendly-scanner\n\n  SIP Call  \n#sipsak\nsipcli/v1.8\n";
    assert_eq!(
        parse_line_list(text).unwrap(),
        ["friendly-scanner", "SIP Call", "sipcli/v1.8"]
    );
    match parse_line_list("ok\nbad\u{7}x").unwrap_err() {
        Error::List {
            line,
            column,
            problem,
        } => assert_eq!(
            (line, column, problem),
            (2, 4, ListProblem::ControlCharacter)
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn yeastar_allow_by_prefix() {
    let policy = ExtensionUaPolicy::try_from(ExtensionUaConfig {
        rules: vec![ExtensionUaRule {
            extension: "1000".into(),
            allow_prefixes: vec!["Yealink".into()],
        }],
        case_sensitive: false,
    })
    .unwrap();
    assert_eq!(
        policy.check("1000", Some("Yealink SIP-T46U 108.86.0.20")),
        UaPolicy::Allowed
    );
    assert_eq!(
        policy.check("1000", Some("yealink W60B")),
        UaPolicy::Allowed
    );
    assert_eq!(
        policy.check("1000", Some("Grandstream GXP2170")),
        UaPolicy::Denied
    );
    assert_eq!(policy.check("1000", Some("MyYealink")), UaPolicy::Denied);
    assert_eq!(policy.check("1000", None), UaPolicy::Denied);
    assert_eq!(
        policy.check("1001", Some("friendly-scanner")),
        UaPolicy::Unrestricted
    );
    let strict = ExtensionUaPolicy::try_from(ExtensionUaConfig {
        rules: vec![ExtensionUaRule {
            extension: "1000".into(),
            allow_prefixes: vec!["Yealink".into()],
        }],
        case_sensitive: true,
    })
    .unwrap();
    assert_eq!(strict.check("1000", Some("yealink W60B")), UaPolicy::Denied);
    assert!(
        ExtensionUaPolicy::try_from(ExtensionUaConfig {
            rules: vec![ExtensionUaRule {
                extension: "1".into(),
                allow_prefixes: vec![String::new()]
            }],
            case_sensitive: false,
        })
        .is_err()
    );
}
