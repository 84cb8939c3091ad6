//! Header-name classification: every known name, long and compact, in any case; near misses are extensions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_sip::{HeaderName, Message};

#[test]
fn every_known_name_classifies_in_any_case() {
    for &kind in HeaderName::ALL {
        let name = kind.as_str();
        assert_eq!(HeaderName::from_name(name), kind, "{name}");
        assert_eq!(
            HeaderName::from_name(&name.to_ascii_lowercase()),
            kind,
            "{name}"
        );
        assert_eq!(
            HeaderName::from_name(&name.to_ascii_uppercase()),
            kind,
            "{name}"
        );
        if let Some(c) = kind.compact() {
            assert_eq!(HeaderName::from_name(&c.to_string()), kind, "{c}");
            assert_eq!(
                HeaderName::from_name(&c.to_ascii_uppercase().to_string()),
                kind,
                "{c}"
            );
        }
        // One byte changed, one added, one removed: not this name (nor any known one,
        // except where the result happens to be another real name).
        let mut changed = name.as_bytes().to_vec();
        changed[name.len() / 2] = b'q';
        let changed = String::from_utf8(changed).unwrap();
        for near in [
            changed,
            format!("{name}x"),
            format!("x{name}"),
            name[1..].to_owned(),
        ] {
            let got = HeaderName::from_name(&near);
            assert!(
                got == HeaderName::Other
                    || got.as_str().eq_ignore_ascii_case(&near)
                    || (near.len() == 1 && got.compact().is_some()),
                "{near} classified as {got:?}"
            );
        }
    }
}

fn value(kind: HeaderName, i: usize) -> String {
    if kind == HeaderName::ContentLength {
        "0".to_owned()
    } else {
        format!("v{i}")
    }
}

#[test]
fn the_scanner_indexes_every_known_name() {
    // Every name as a header line (long form, odd case), CRLF and bare LF, with
    // the line long enough and short enough for both name paths.
    for end in ["\r\n", "\n"] {
        let mut text = format!("OPTIONS sip:a@b SIP/2.0{end}");
        for (i, &kind) in HeaderName::ALL.iter().enumerate() {
            let name: String = kind
                .as_str()
                .chars()
                .enumerate()
                .map(|(j, c)| {
                    if (i + j) % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            text.push_str(&format!("{name}:{}{end}", value(kind, i)));
        }
        text.push_str(end);
        let m = Message::scan(text.as_bytes()).unwrap();
        for (i, &kind) in HeaderName::ALL.iter().enumerate() {
            let h = m
                .get(kind)
                .unwrap_or_else(|| panic!("{kind:?} not indexed"));
            assert_eq!(h.kind, kind);
            assert_eq!(h.value, value(kind, i));
            assert!(h.name.eq_ignore_ascii_case(kind.as_str()));
        }
        // A CR inside a name that would otherwise fold onto `-` is not a token.
        let bad = format!("OPTIONS sip:a@b SIP/2.0{end}Call\rID: x{end}{end}");
        assert!(Message::scan(bad.as_bytes()).is_err());
    }
}
