//! Table tests taken from the products' outbound-call settings (Yeastar P-Series, MyPBX, PortSIP).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Duration;

use pbxsec_core::{EventKind, Service, UnixTime};
use pbxsec_outbound::{
    Call, CallClass, CountryConfig, Decision, DenyCode, ExtensionConfig, OutboundConfig,
    OutboundPolicy, PORTSIP_STANDARD_INTERNATIONAL_USER, PORTSIP_STANDARD_USER, PinEntry,
    RouteConfig, RoutePattern,
};

const NOON: UnixTime = UnixTime::from_secs(1_800_000_000);

fn pattern(p: &str, strip: usize) -> RoutePattern {
    RoutePattern {
        pattern: p.to_owned(),
        strip,
        prepend: String::new(),
    }
}

/// Yeastar's example routes: `8X.` local, `0X.` long distance and `9X.`
/// international (strip the 9), the last one only for a permitted list.
fn yeastar() -> OutboundConfig {
    let mut c = OutboundConfig::yeastar_p_series();
    c.routes = vec![
        RouteConfig {
            patterns: vec![pattern("8X.", 1)],
            everyone: true,
            trunks: vec!["sip-trunk".to_owned()],
            ..RouteConfig::new("local")
        },
        RouteConfig {
            patterns: vec![pattern("0X.", 0)],
            everyone: true,
            trunks: vec!["sip-trunk".to_owned()],
            ..RouteConfig::new("long-distance")
        },
        RouteConfig {
            patterns: vec![pattern("9X.", 1)],
            extensions: vec!["1001".to_owned(), "1002".to_owned()],
            trunks: vec!["sip-trunk".to_owned()],
            ..RouteConfig::new("international")
        },
    ];
    c.countries = Some(CountryConfig {
        allow: vec!["1".to_owned(), "44".to_owned(), "49".to_owned()],
        deny: vec!["1-242".to_owned()],
        allow_unlisted: false,
    });
    c.extensions.insert(
        "1002".to_owned(),
        ExtensionConfig {
            max_call_duration: Some(Duration::from_secs(300)),
            ..ExtensionConfig::default()
        },
    );
    c
}

fn decide(policy: &OutboundPolicy, call: Call<'_>) -> Decision {
    policy.decide(&call, NOON).decision
}

#[test]
fn yeastar_routes_and_permitted_extensions() {
    let policy = OutboundPolicy::try_from(yeastar()).unwrap();
    // (extension, dialled, route or deny code, number sent, class)
    type Want = Result<(&'static str, &'static str, CallClass), DenyCode>;
    let table: &[(&str, &str, Want)] = &[
        (
            "1000",
            "85551234",
            Ok(("local", "5551234", CallClass::Local)),
        ),
        (
            "1000",
            "0201234567",
            Ok(("long-distance", "0201234567", CallClass::National)),
        ),
        (
            "1001",
            "90012125551234",
            Ok(("international", "0012125551234", CallClass::International)),
        ),
        (
            "1002",
            "9004420794600",
            Ok(("international", "004420794600", CallClass::International)),
        ),
        // 1000 is not on the international route's list.
        ("1000", "90012125551234", Err(DenyCode::NoRoutePermission)),
        // No route for 7...
        ("1001", "71234", Err(DenyCode::PatternNotAllowed)),
        // `8X.` needs three characters at least.
        ("1000", "81", Err(DenyCode::PatternNotAllowed)),
        ("1001", "9001242555123", Err(DenyCode::CountryNotAllowed)),
        ("1001", "900331234567", Err(DenyCode::CountryNotAllowed)),
        ("1001", "9a", Err(DenyCode::InvalidNumber)),
        ("1001", "", Err(DenyCode::InvalidNumber)),
    ];
    for (ext, dialled, want) in table {
        let got = decide(&policy, Call::new(ext, dialled));
        match (want, &got) {
            (
                Ok((route, number, class)),
                Decision::Allowed {
                    route: r,
                    number: n,
                    class: c,
                    trunk,
                    ..
                },
            ) => {
                assert_eq!(
                    (&**r, n.as_str(), c),
                    (*route, *number, class),
                    "{ext} -> {dialled}"
                );
                assert_eq!(trunk.as_deref(), Some("sip-trunk"));
            }
            (Err(code), Decision::Denied { code: c, .. }) => {
                assert_eq!(code, c, "{ext} -> {dialled}")
            }
            _ => panic!("{ext} -> {dialled}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn yeastar_country_codes_most_specific_wins() {
    let policy = OutboundPolicy::try_from(yeastar()).unwrap();
    let bahamas = policy.decide(&Call::new("1001", "9001242555123"), NOON);
    assert_eq!(
        bahamas.decision,
        Decision::Denied {
            code: DenyCode::CountryNotAllowed,
            message: "calls to +1242 are not allowed".to_owned()
        }
    );
    let event = bahamas.event.expect("a refused country is a fraud signal");
    assert_eq!(event.kind, EventKind::TollFraudSuspected);
    assert_eq!(event.service, Service::Outbound);
    assert_eq!(event.extension.as_deref(), Some("1001"));
    assert!(decide(&policy, Call::new("1001", "9001212555123")).is_allowed());
    // "BS" (a region id from libphonenumber) says the same as "1-242".
    let mut c = yeastar();
    c.countries.as_mut().unwrap().deny = vec!["BS".to_owned()];
    let policy = OutboundPolicy::try_from(c).unwrap();
    assert_eq!(
        decide(&policy, Call::new("1001", "9001242555123")).code(),
        Some(DenyCode::CountryNotAllowed)
    );
    assert!(decide(&policy, Call::new("1001", "9001212555123")).is_allowed());
}

#[test]
fn yeastar_max_duration_300s_for_one_user() {
    let policy = OutboundPolicy::try_from(yeastar()).unwrap();
    let limit = |ext| match decide(&policy, Call::new(ext, "85551234")) {
        Decision::Allowed { max_duration, .. } => max_duration,
        other => panic!("{other:?}"),
    };
    assert_eq!(limit("1002"), Duration::from_secs(300));
    assert_eq!(limit("1001"), Duration::from_secs(10_800));
}

#[test]
fn yeastar_extension_switches() {
    let mut c = yeastar();
    c.extensions.insert(
        "1001".to_owned(),
        ExtensionConfig {
            disallow_international_calls: true,
            ..ExtensionConfig::default()
        },
    );
    c.extensions.insert(
        "1003".to_owned(),
        ExtensionConfig {
            disable_outbound_calls: true,
            ..ExtensionConfig::default()
        },
    );
    let policy = OutboundPolicy::try_from(c).unwrap();
    let out = policy.decide(&Call::new("1001", "90012125551234"), NOON);
    assert_eq!(out.decision.code(), Some(DenyCode::InternationalDisabled));
    assert!(out.event.is_some());
    assert!(decide(&policy, Call::new("1001", "0201234567")).is_allowed());
    assert_eq!(
        decide(&policy, Call::new("1003", "85551234")).code(),
        Some(DenyCode::OutboundDisabled)
    );
}

/// MyPBX "International Call Limit": international calls (`00.`) ask for a
/// password; a PIN list names who entered it.
#[test]
fn mypbx_international_pin_route() {
    let c = OutboundConfig {
        routes: vec![
            RouteConfig {
                patterns: vec![pattern("00.", 0)],
                everyone: true,
                pin: Some("4711".into()),
                pin_list: vec![PinEntry {
                    pin: "80221".into(),
                    user: Some("alice".to_owned()),
                }],
                ..RouteConfig::new("international")
            },
            RouteConfig {
                patterns: vec![pattern("Z.", 0)],
                everyone: true,
                ..RouteConfig::new("local")
            },
        ],
        ..OutboundConfig::default()
    };
    let policy = OutboundPolicy::try_from(c).unwrap();
    let call = Call::new("300", "00441234567");
    let missing = policy.decide(&call, NOON);
    assert_eq!(missing.decision.code(), Some(DenyCode::PinRequired));
    assert_eq!(missing.event, None, "asking for a PIN is not fraud");
    let wrong = policy.decide(&call.with_pin("4712"), NOON);
    assert_eq!(wrong.decision.code(), Some(DenyCode::PinWrong));
    assert_eq!(wrong.event.unwrap().kind, EventKind::TollFraudSuspected);
    for (pin, user) in [("4711", None), ("80221", Some("alice"))] {
        match policy.decide(&call.with_pin(pin), NOON).decision {
            Decision::Allowed { pin_user, .. } => assert_eq!(pin_user.as_deref(), user),
            other => panic!("{pin}: {other:?}"),
        }
    }
    for wrong in ["", "47111", "471", "4711#", "8022"] {
        assert_eq!(
            decide(&policy, call.with_pin(wrong)).code(),
            Some(DenyCode::PinWrong),
            "{wrong:?}"
        );
    }
    // Local calls need no PIN.
    assert!(decide(&policy, Call::new("300", "5551234")).is_allowed());
}

#[test]
fn portsip_standard_user_is_refused_an_external_number() {
    let policy = OutboundPolicy::try_from(OutboundConfig::portsip()).unwrap();
    let out = policy.decide(
        &Call::new("101", "0201234567").with_role(PORTSIP_STANDARD_USER),
        NOON,
    );
    assert_eq!(out.decision.code(), Some(DenyCode::NoRoutePermission));
    let intl = Call::new("102", "0044201234567").with_role(PORTSIP_STANDARD_INTERNATIONAL_USER);
    assert!(decide(&policy, intl).is_allowed());
    assert!(
        decide(
            &policy,
            Call::new("102", "5551234").with_role(PORTSIP_STANDARD_INTERNATIONAL_USER)
        )
        .is_allowed()
    );
    // A standard user trying abroad is a fraud signal.
    let abroad = policy.decide(
        &Call::new("101", "0044201234567").with_role(PORTSIP_STANDARD_USER),
        NOON,
    );
    assert_eq!(abroad.decision.code(), Some(DenyCode::NoRoutePermission));
    assert!(abroad.event.is_some());
    // No role, or an unknown one: no outbound call.
    assert_eq!(
        decide(&policy, Call::new("103", "5551234").with_role("Guest")).code(),
        Some(DenyCode::NoRoutePermission)
    );
}

#[test]
fn group_and_role_permissions() {
    let c = OutboundConfig {
        routes: vec![RouteConfig {
            patterns: vec![pattern("X.", 0)],
            groups: vec!["sales".to_owned()],
            ..RouteConfig::new("sales-only")
        }],
        ..OutboundConfig::default()
    };
    let policy = OutboundPolicy::try_from(c).unwrap();
    assert!(
        decide(
            &policy,
            Call::new("1", "5551234").with_groups(&["support", "sales"])
        )
        .is_allowed()
    );
    assert_eq!(
        decide(&policy, Call::new("1", "5551234").with_groups(&["support"])).code(),
        Some(DenyCode::NoRoutePermission)
    );
}

#[test]
fn blocked_numbers_with_allowed_override() {
    let c = OutboundConfig {
        routes: vec![RouteConfig {
            patterns: vec![pattern("!", 0)],
            everyone: true,
            ..RouteConfig::new("all")
        }],
        blocked_numbers: vec![
            "0900X.".to_owned(),
            "0137[1-9]!".to_owned(),
            "5551234".to_owned(),
        ],
        allowed_numbers: vec!["09001234567".to_owned()],
        ..OutboundConfig::default()
    };
    let policy = OutboundPolicy::try_from(c).unwrap();
    for (n, blocked) in [
        ("09005555555", true),
        ("09001234567", false),
        ("01371", true),
        ("01370", false),
        ("5551234", true),
        ("55512345", false),
    ] {
        let out = policy.decide(&Call::new("1", n), NOON);
        assert_eq!(
            out.decision.code() == Some(DenyCode::NumberBlocked),
            blocked,
            "{n}"
        );
        assert_eq!(out.event.is_some(), blocked, "{n}");
    }
}

#[test]
fn routes_are_tried_in_order_with_strip_and_prepend() {
    let c = OutboundConfig {
        routes: vec![
            RouteConfig {
                patterns: vec![RoutePattern {
                    pattern: "9011X.".to_owned(),
                    strip: 4,
                    prepend: "+".to_owned(),
                }],
                everyone: true,
                ..RouteConfig::new("first")
            },
            RouteConfig {
                patterns: vec![pattern("9X.", 1)],
                everyone: true,
                ..RouteConfig::new("second")
            },
        ],
        international_prefixes: vec!["011".to_owned()],
        ..OutboundConfig::default()
    };
    let policy = OutboundPolicy::try_from(c).unwrap();
    match decide(&policy, Call::new("1", "90114420794600")) {
        Decision::Allowed {
            route,
            number,
            class,
            ..
        } => {
            assert_eq!(
                (&*route, number.as_str(), class),
                ("first", "+4420794600", CallClass::International)
            );
        }
        other => panic!("{other:?}"),
    }
    match decide(&policy, Call::new("1", "95551234")) {
        Decision::Allowed { route, number, .. } => {
            assert_eq!((&*route, number.as_str()), ("second", "5551234"))
        }
        other => panic!("{other:?}"),
    }
}
