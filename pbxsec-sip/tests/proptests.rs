//! Property tests: any bytes scan without panicking; generated headers read back exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_sip::{
    DigestCredentials, Frame, Limits, Message, frame, parse_line_list, parse_vodia_list,
    write_line_list, write_vodia_list,
};
use proptest::prelude::*;

mod common;
use common::touch_everything;

/// Header names: known ones in random case, compact forms, and extensions.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "User-Agent",
            "Subject",
            "Accept"
        ])
        .prop_flat_map(|n| prop::collection::vec(any::<bool>(), n.len()).prop_map(
            move |up| {
                n.chars()
                    .zip(up)
                    .map(|(c, u)| {
                        if u {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect()
            }
        )),
        prop::sample::select(vec!["v", "f", "t", "i", "m", "s", "k", "c", "e", "o"])
            .prop_map(String::from),
        "X-[A-Za-z0-9]{1,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Message::scan(&bytes) {
            touch_everything(&m);
        }
        let _ = frame(&bytes, &Limits::default());
    }

    #[test]
    fn sip_like_bytes_do_not_panic(lines in prop::collection::vec("[ -~\t]{0,40}", 0..12), crlf in any::<bool>()) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = String::from("INVITE sip:a@b SIP/2.0");
        text.push_str(end);
        for l in &lines {
            text.push_str(l);
            text.push_str(end);
        }
        text.push_str(end);
        if let Ok(m) = Message::scan(text.as_bytes()) {
            touch_everything(&m);
        }
        if let Ok(Frame::Complete { len }) = frame(text.as_bytes(), &Limits::default()) {
            prop_assert!(len <= text.len());
        }
    }

    /// Reference model: the list of (name, value) pairs we wrote.
    #[test]
    fn generated_headers_read_back(
        headers in prop::collection::vec((name(), "[!-~]([ -~]{0,30}[!-~])?", any::<bool>()), 0..20),
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("OPTIONS sip:100@example.com SIP/2.0{end}");
        for (n, v, fold) in &headers {
            // A folded value: the first word on the header line, the rest on a continuation line.
            match (fold, v.split_once(' ')) {
                (true, Some((a, b))) if !a.is_empty() && !b.trim().is_empty() => {
                    text.push_str(&format!("{n}: {a}{end} {b}{end}"));
                }
                _ => text.push_str(&format!("{n}:  {v}{end}")),
            }
        }
        text.push_str(end);
        let m = Message::scan(text.as_bytes()).unwrap();
        prop_assert_eq!(m.header_count(), headers.len());
        let got: Vec<(String, String)> = m
            .headers()
            .map(|h| (h.name.to_owned(), h.value.replace(&format!("{end} "), " ")))
            .collect();
        let want: Vec<(String, String)> = headers.iter().map(|(n, v, _)| (n.clone(), v.trim().to_owned())).collect();
        prop_assert_eq!(&got, &want);
        // Lookup by any spelling finds the first header of that kind, long or compact.
        for (n, v, _) in &headers {
            let first = m.header(n).unwrap();
            let kind = pbxsec_sip::HeaderName::from_name(n);
            let expected = headers.iter().find(|(m2, _, _)| {
                if kind == pbxsec_sip::HeaderName::Other { m2.eq_ignore_ascii_case(n) } else { pbxsec_sip::HeaderName::from_name(m2) == kind }
            }).unwrap();
            prop_assert_eq!(first.value.replace(&format!("{end} "), " "), expected.1.trim());
            let _ = v;
        }
    }

    #[test]
    fn digest_params_read_back(user in "[a-zA-Z0-9._-]{1,16}", realm in "[ -!#-\\[\\]-~]{0,20}", nc in proptest::option::of("[0-9a-f]{8}")) {
        let mut value = format!("Digest username=\"{user}\", realm=\"{realm}\",qop=auth");
        if let Some(nc) = &nc {
            value.push_str(&format!(" ,nc={nc}"));
        }
        let c = DigestCredentials::parse(&value).unwrap();
        prop_assert_eq!(c.username, Some(user.as_str()));
        prop_assert_eq!(c.realm, Some(realm.as_str()));
        prop_assert_eq!(c.qop, Some("auth"));
        prop_assert_eq!(c.nc, nc.as_deref());
        prop_assert_eq!(c.cnonce, None);
    }

    #[test]
    fn vodia_list_round_trip(patterns in prop::collection::vec("[!#-~]([ \t!#-~]{0,10}[!#-~])?", 0..10)) {
        let text = write_vodia_list(&patterns).unwrap();
        let back = parse_vodia_list(&text).unwrap();
        prop_assert_eq!(back, patterns.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn line_list_round_trip(patterns in prop::collection::vec("[!-\"$-~]([ !-~]{0,10}[!-~])?", 0..10)) {
        let text = write_line_list(&patterns).unwrap();
        let back = parse_line_list(&text).unwrap();
        prop_assert_eq!(back, patterns.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn list_parsers_never_panic(text in "\\PC{0,60}") {
        let _ = parse_vodia_list(&text);
        let _ = parse_line_list(&text);
    }
}

/// Reference model for the matcher: the first rule (in order) whose mode
/// holds on the ASCII-lowercased text, found by plain string functions.
fn model(rules: &[(String, u8)], ua: &str) -> Option<usize> {
    let ua = ua.to_ascii_lowercase();
    rules.iter().position(|(p, mode)| {
        let p = p.to_ascii_lowercase();
        match mode % 3 {
            0 => ua.contains(&p),
            1 => ua.starts_with(&p),
            _ => ua == p,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matcher_agrees_with_the_model(
        rules in prop::collection::vec(("[abAB]{1,4}", 0u8..3), 1..12),
        uas in prop::collection::vec("[abAB ]{0,10}", 1..8),
    ) {
        use pbxsec_sip::{MatchMode, RuleConfig, SignatureConfig, Signatures};
        let config = SignatureConfig {
            include_defaults: false,
            rules: rules
                .iter()
                .map(|(p, m)| RuleConfig::user_agent(p.as_str(), [MatchMode::Substring, MatchMode::Prefix, MatchMode::Exact][usize::from(*m)]))
                .collect(),
            ..SignatureConfig::default()
        };
        let sigs = Signatures::try_from(config).unwrap();
        for ua in &uas {
            prop_assert_eq!(sigs.match_user_agent(ua).and_then(|d| d.rule), model(&rules, ua), "ua {:?}", ua);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Reference model for the on-demand reader: the first parameter of that
    /// name that the full iterator yields, or the first error before it.
    #[test]
    fn on_demand_auth_param_agrees_with_the_iterator(
        value in r#"Digest ([a-zA-Z]{1,9}(=("[a-z,\\ "]{0,8}"|[a-z0-9,]{0,8}))?[ ,]{0,3}){0,6}[=" ]{0,2}"#,
        wanted in prop::sample::select(vec!["username", "USERNAME", "realm", "nonce", "nc", "x"]),
    ) {
        let text = format!("REGISTER sip:a SIP/2.0\r\nAuthorization: {value}\r\n\r\n");
        let Ok(m) = Message::scan(text.as_bytes()) else { return Ok(()); };
        let Ok(Some((scheme, params))) = m.authorization_params() else { return Ok(()); };
        prop_assert!(scheme.eq_ignore_ascii_case("Digest"));
        let mut expected = Ok(None);
        for p in params.clone() {
            match p {
                Ok(p) if p.name.eq_ignore_ascii_case(wanted) => { expected = Ok(Some(p)); break; }
                Ok(_) => {}
                Err(e) => { expected = Err(e); break; }
            }
        }
        prop_assert_eq!(params.find(wanted), expected);
        // And the eager parser agrees on the username when it succeeds.
        if let Ok(Some(c)) = m.authorization() {
            prop_assert_eq!(c.username, params.find("username").unwrap().and_then(|p| p.value));
        }
    }
}

/// Reference model of a SIP URI split (the straightforward `str` version the
/// one-pass parser replaced): scheme, user, password, host, port, params, headers.
type UriParts<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<u16>,
    &'a str,
    Option<&'a str>,
);

fn uri_model(s: &str) -> Option<UriParts<'_>> {
    let (scheme, opaque) = s.split_once(':')?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || s.contains([' ', '\t', '\r', '\n']) {
        return None;
    }
    let sip = scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips");
    if !sip {
        return Some((scheme, None, None, "", None, "", None));
    }
    let (userinfo, hostpart) = match opaque.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, opaque),
    };
    let (user, password) =
        match userinfo.map(|u| u.split_once(':').map_or((u, None), |(a, b)| (a, Some(b)))) {
            Some((u, p)) => (Some(u), p),
            None => (None, None),
        };
    let end = hostpart.find([';', '?']).unwrap_or(hostpart.len());
    let (hostport, tail) = hostpart.split_at(end);
    let (params, headers) = match tail.split_once('?') {
        Some((p, h)) => (p, Some(h)),
        None => (tail, None),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return None,
        }
    } else {
        hostport
            .split_once(':')
            .map_or((hostport, None), |(h, p)| (h, Some(p)))
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 20 && p.bytes().all(|c| c.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    Some((scheme, user, password, host, port, params, headers))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn uri_parser_agrees_with_the_model(s in r"(sip|SIPS|tel|x1|1x)?:?[a-z0-9@:;?=\[\]. ]{0,24}") {
        let got = pbxsec_sip::Uri::parse(&s).ok().map(|u| (u.scheme, u.user, u.password, u.host, u.port, u.params, u.headers));
        prop_assert_eq!(got, uri_model(&s), "{:?}", s);
    }
}

/// name-addr values built from pieces that hit every branch of the parser:
/// quoted display names with escapes and `<`/`>`/`@` inside, token display
/// names, bare addr-specs, several schemes, user:password, ports, URI and
/// header parameters, stray whitespace and junk.
fn name_addr_like() -> impl Strategy<Value = String> {
    let display = prop_oneof![
        Just(String::new()),
        r#""([a-z <>@:;,]|\\"|\\\\){0,8}" ?"#,
        "[A-Za-z][A-Za-z .-]{0,8} ",
        r#""[a-z]{0,4}"#,
    ];
    let uri = r"(sip|SIPS|tel|x|)?:?([a-z0-9]{0,4}(:[a-z]{0,3})?@)?[a-z0-9.\[\]:]{0,10}(;[a-z=@]{0,6})?(\?[a-z=]{0,4})?";
    let angle = prop_oneof![
        Just((true, true)),
        Just((false, false)),
        Just((true, false))
    ];
    let params = r"(;[a-z]{0,3}(=[a-z0-9@,]{0,4})?){0,2}( |;|,|>|<)?";
    (display, uri, angle, params, "[ \t]{0,1}").prop_map(|(d, u, (lt, gt), p, ws)| {
        format!(
            "{ws}{d}{}{u}{}{p}",
            if lt { "<" } else { "" },
            if gt { ">" } else { "" }
        )
    })
}

/// Via values: the usual shape and variations of every part.
fn via_like() -> impl Strategy<Value = String> {
    let proto = prop_oneof![
        Just("SIP/2.0/".to_owned()),
        r"(SIP|sip|x)? ?/ ?(2\.0|1)? ?/ ?",
    ];
    let transport = r"(UDP|tcp|TLS|ws|;|)";
    let host = r"( |\t)?(\[[0-9a-f:]{0,6}\]?|[a-z0-9.\-,]{0,8}|)";
    let port = r"( ?: ?[0-9]{0,6})?";
    let params = r"(;[a-z]{0,7}(=[a-z0-9.]{0,5})?){0,3}( |,.*|;)?";
    (proto, transport, host, port, params).prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}{d}{e}"))
}

/// A REGISTER carrying `from` and `via` as its From and Via values.
fn register_with(from: &str, via: &str) -> String {
    format!(
        "REGISTER sip:pbx.example.com SIP/2.0\r\nVia: {via}\r\nFrom: {from}\r\n\
         To: <sip:1000@pbx.example.com>\r\nCall-ID: a@b\r\nCSeq: 1 REGISTER\r\n\r\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The narrow From-user reader gives the full parser's user whenever the
    /// full parser succeeds, and fails only where the full parser fails.
    #[test]
    fn user_reader_agrees_with_the_full_parser(s in name_addr_like()) {
        let full = pbxsec_sip::NameAddr::parse(&s);
        let narrow = pbxsec_sip::NameAddr::parse_user(&s);
        match (&full, &narrow) {
            (Ok(n), Ok(u)) => prop_assert_eq!(n.user(), *u, "{:?}", s),
            (Ok(n), Err(e)) => prop_assert!(false, "narrow failed {:?} where full gave {:?}: {:?}", e, n, s),
            (Err(_), _) => {}
        }
        // The same through a scanned message (offsets count in the message).
        let msg = register_with(&s, "SIP/2.0/UDP h");
        if let Ok(m) = Message::scan(msg.as_bytes()) {
            let full = m.from();
            let narrow = m.from_user();
            if let Ok(n) = &full {
                prop_assert_eq!(narrow.as_ref().ok().copied(), Some(n.user()), "{:?}", s);
            }
            if let Err(e) = &narrow {
                prop_assert_eq!(Some(e), full.as_ref().err(), "{:?}", s);
            }
        }
    }

    /// The narrow sent-by reader gives the full parser's host and port
    /// whenever it succeeds, and fails with the same error otherwise when it fails.
    #[test]
    fn sent_by_reader_agrees_with_the_full_parser(s in via_like()) {
        let full = pbxsec_sip::Via::parse(&s);
        let narrow = pbxsec_sip::Via::parse_sent_by(&s);
        if let Ok(v) = &full {
            prop_assert_eq!(narrow.as_ref().ok().copied(), Some((v.host, v.port)), "{:?}", s);
        }
        if let Err(e) = &narrow {
            prop_assert_eq!(Some(e), full.as_ref().err(), "{:?}", s);
        }
        let msg = register_with("<sip:1@h>", &s);
        if let Ok(m) = Message::scan(msg.as_bytes()) {
            let full = m.via();
            let narrow = m.via_sent_by();
            if let Ok(v) = &full {
                prop_assert_eq!(narrow.as_ref().ok().copied(), Some((v.host, v.port)), "{:?}", s);
            }
            if let Err(e) = &narrow {
                prop_assert_eq!(Some(e), full.as_ref().err(), "{:?}", s);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The sent-by port against a reference model: 1 to 20 digits whose
    /// value fits a u16 (leading zeros included), else a bad port.
    #[test]
    fn sent_by_port_matches_a_reference_model(digits in "[0-9]{0,24}", pad in "( |\t)?") {
        let s = format!("SIP/2.0/UDP 192.0.2.1{pad}:{pad}{digits};branch=z9hG4bK1");
        let want = (!digits.is_empty() && digits.len() <= 20)
            .then(|| digits.trim_start_matches('0').parse::<u128>().unwrap_or(0))
            .and_then(|n| u16::try_from(n).ok());
        let got = pbxsec_sip::Via::parse_sent_by(&s);
        match want {
            Some(p) => prop_assert_eq!(got.ok(), Some(("192.0.2.1", Some(p))), "{:?}", s),
            None => prop_assert!(got.is_err(), "{:?}", s),
        }
    }
}
