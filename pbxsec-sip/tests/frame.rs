//! The TCP framer: end of headers, Content-Length, "need more bytes".
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use pbxsec_sip::{Error, Frame, Limits, Message, ScanProblem, frame};

const A: &[u8] = b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\nCall-ID: x\r\n\r\nhello";
const B: &[u8] = b"OPTIONS sip:b@h SIP/2.0\nContent-Length: 0\n\n";

#[test]
fn frames_a_stream() {
    let mut stream = Vec::new();
    stream.extend_from_slice(b"\r\n\r\n");
    stream.extend_from_slice(A);
    stream.extend_from_slice(B);
    let limits = Limits::default();
    let Frame::Complete { len } = frame(&stream, &limits).unwrap() else {
        panic!()
    };
    assert_eq!(len, 4 + A.len());
    let m = Message::scan(&stream[..len]).unwrap();
    assert_eq!(m.body(), b"hello");
    let rest = &stream[len..];
    assert_eq!(
        frame(rest, &limits).unwrap(),
        Frame::Complete { len: B.len() }
    );
    // Every prefix of A needs more; once headers are in, the missing count is exact.
    let head = A.len() - 5;
    for cut in 0..A.len() {
        let f = frame(&A[..cut], &limits).unwrap();
        if cut < head {
            assert_eq!(f, Frame::NeedMore { needed: None }, "cut {cut}");
        } else {
            assert_eq!(
                f,
                Frame::NeedMore {
                    needed: Some(A.len() - cut)
                },
                "cut {cut}"
            );
        }
    }
    assert_eq!(
        frame(b"\r\n\r\n", &limits).unwrap(),
        Frame::KeepAlive { len: 4 }
    );
}

#[test]
fn framer_limits_and_errors() {
    let limits = Limits {
        max_message_size: 64,
        ..Limits::default()
    };
    let big = [b'a'; 100];
    assert!(matches!(
        frame(&big, &limits),
        Err(Error::Scan {
            problem: ScanProblem::MessageTooLarge,
            ..
        })
    ));
    let huge_body = b"M sip:x SIP/2.0\r\nContent-Length: 1000\r\n\r\n";
    assert!(matches!(
        frame(huge_body, &limits),
        Err(Error::Scan {
            problem: ScanProblem::MessageTooLarge,
            ..
        })
    ));
    let bad = b"M sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n";
    assert!(matches!(
        frame(bad, &Limits::default()),
        Err(Error::Scan {
            problem: ScanProblem::BadContentLength,
            ..
        })
    ));
}

#[test]
fn scanner_limits() {
    let msg = b"OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let problem = |l: Limits| match Message::scan_with(msg, &l) {
        Err(Error::Scan { problem, .. }) => Some(problem),
        _ => None,
    };
    assert_eq!(
        problem(Limits {
            max_headers: 2,
            ..Limits::default()
        }),
        Some(ScanProblem::TooManyHeaders)
    );
    assert_eq!(
        problem(Limits {
            max_line_len: 10,
            ..Limits::default()
        }),
        Some(ScanProblem::LineTooLong)
    );
    assert_eq!(
        problem(Limits {
            max_message_size: 10,
            ..Limits::default()
        }),
        Some(ScanProblem::MessageTooLarge)
    );
    assert_eq!(
        problem(Limits {
            max_headers: 3,
            ..Limits::default()
        }),
        None
    );
    let l: Limits = serde_json::from_str(r#"{"max_headers": 10}"#).unwrap();
    assert_eq!(
        (l.max_headers, l.max_line_len),
        (10, pbxsec_sip::DEFAULT_MAX_LINE_LEN)
    );
}

#[test]
fn bare_lf_folding_and_lookup() {
    let msg = b"REGISTER sip:pbx SIP/2.0\nv: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKx;received=192.0.2.1;rport=5062\nVia: SIP/2.0/UDP a.example, SIP/2.0/UDP b.example\nf: \"A \\\"quoted\\\" name\" <sip:alice@[2001:db8::2]:5070>;tag=t1\nt:\n <sip:bob@example.com>\nSubject: one,\n two\nk: path, \"a,b\", <sip:c,d>\n\n";
    let m = Message::scan(msg).unwrap();
    let via = m.via().unwrap();
    assert_eq!(
        (via.transport, via.host, via.port),
        ("TCP", "2001:db8::1", Some(5061))
    );
    assert_eq!(
        (via.branch, via.received, via.rport),
        (Some("z9hG4bKx"), Some("192.0.2.1"), Some(Some(5062)))
    );
    let hosts: Vec<_> = m.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(hosts, ["2001:db8::1", "a.example", "b.example"]);
    let from = m.from().unwrap();
    assert_eq!(
        from.display_name.unwrap().chars().collect::<String>(),
        "A \"quoted\" name"
    );
    assert!(
        from.display_name
            .unwrap()
            .eq_ignore_ascii_case("a \"QUOTED\" name")
    );
    assert_eq!(
        (from.host(), from.port(), from.tag),
        ("2001:db8::2", Some(5070), Some("t1"))
    );
    assert!(from.uri.is_ipv6());
    assert_eq!(m.to().unwrap().user(), Some("bob"));
    assert_eq!(m.header("s").unwrap().value, "one,\n two");
    assert_eq!(
        m.values("Supported").collect::<Vec<_>>(),
        ["path", "\"a,b\"", "<sip:c,d>"]
    );
    assert_eq!(m.values("VIA").count(), 3);
    assert_eq!(m.header_all("via").count(), 2);
    let v = m.header("Via").unwrap();
    assert_eq!(&msg[v.offset..v.offset + 2], b"v:");
}

#[test]
fn value_parsers_on_their_own() {
    use pbxsec_sip::{DigestChallenge, NameAddr, Uri, ValueProblem, Via};
    let problem = |e: Error| match e {
        Error::Header { problem, .. } => problem,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        problem(Via::parse(" /2.0/UDP h").unwrap_err()),
        ValueProblem::BadProtocol
    );
    assert_eq!(
        problem(Via::parse("SIP/2.0/UDP h:99999").unwrap_err()),
        ValueProblem::BadPort
    );
    assert_eq!(
        problem(Via::parse("SIP/2.0/UDP h;rport=x").unwrap_err()),
        ValueProblem::BadPort
    );
    let v = Via::parse("SIP / 2.0 / WSS [::1] : 443 ; branch = z9hG4bKa").unwrap();
    assert_eq!(
        (v.protocol, v.transport, v.host, v.port, v.branch),
        (("SIP", "2.0"), "WSS", "::1", Some(443), Some("z9hG4bKa"))
    );
    let u = Uri::parse("sips:alice:secret@example.com:5061;transport=tls?subject=hi").unwrap();
    assert_eq!(
        (u.user, u.password, u.host, u.port),
        (Some("alice"), Some("secret"), "example.com", Some(5061))
    );
    assert_eq!(
        (u.params, u.headers),
        (";transport=tls", Some("subject=hi"))
    );
    let tel = Uri::parse("tel:+15551234").unwrap();
    assert_eq!(
        (tel.scheme, tel.opaque, tel.is_sip()),
        ("tel", "+15551234", false)
    );
    assert_eq!(
        problem(Uri::parse("<sip:a@b>").unwrap_err()),
        ValueProblem::BadUri
    );
    assert!(NameAddr::parse("*").unwrap().is_wildcard());
    assert_eq!(
        problem(NameAddr::parse("<sip:a@b").unwrap_err()),
        ValueProblem::UnterminatedAngle
    );
    let c = DigestChallenge::parse(
        "Digest realm=\"pbx\", nonce=\"abc\", qop=\"auth,auth-int\", stale=TRUE, algorithm=SHA-256",
    )
    .unwrap();
    assert_eq!(
        (c.realm, c.nonce, c.qop, c.stale, c.algorithm),
        (
            Some("pbx"),
            Some("abc"),
            Some("auth,auth-int"),
            Some("TRUE"),
            Some("SHA-256")
        )
    );
    assert!(c.is_digest());
    assert_eq!(
        problem(DigestChallenge::parse("Digest realm=\"pbx").unwrap_err()),
        ValueProblem::UnterminatedQuote
    );
    assert_eq!(
        problem(DigestChallenge::parse("=x").unwrap_err()),
        ValueProblem::BadScheme
    );
}
