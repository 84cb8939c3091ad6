//! Fuzzes the SIP scanner and every accessor on what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use pbxsec_sip::{HeaderName, Message, Signatures};

static SIGNATURES: OnceLock<Signatures> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::scan(data) else { return };
    let _ = m.validate();
    let _ = (m.via(), m.from(), m.to(), m.call_id(), m.cseq(), m.max_forwards(), m.contact());
    let _ = (m.authorization(), m.proxy_authorization(), m.www_authenticate(), m.proxy_authenticate());
    let _ = (m.user_agent(), m.server(), m.body());
    for v in m.vias() {
        let _ = v;
    }
    for c in m.contacts() {
        let _ = c;
    }
    for h in m.headers() {
        // Every header is found again by its own name, and offsets point at it.
        let first = m.header(h.name).expect("a header is found by its name");
        assert_eq!(first.kind, h.kind);
        assert!(data.get(h.offset..).is_some_and(|rest| rest.starts_with(h.name.as_bytes())));
        let _ = m.values(h.name).count();
    }
    // The index built while scanning agrees with a walk over the lines.
    for &kind in HeaderName::ALL {
        assert_eq!(m.get(kind), m.headers().find(|h| h.kind == kind), "{kind}");
    }
    // The on-demand digest reader agrees with the full parameter iterator.
    if let Ok(Some((_, params))) = m.authorization_params() {
        let mut expected = Ok(None);
        for p in params.clone() {
            match p {
                Ok(p) if p.name.eq_ignore_ascii_case("username") => {
                    expected = Ok(Some(p));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    expected = Err(e);
                    break;
                }
            }
        }
        assert_eq!(params.find("username"), expected);
    }
    // The narrow readers give the full parsers' answer when those succeed,
    // and fail only with the full parsers' error.
    let (from, from_user) = (m.from(), m.from_user());
    match (&from, &from_user) {
        (Ok(f), _) => assert_eq!(from_user, Ok(f.user())),
        (Err(e), Err(n)) => assert_eq!(e, n),
        (Err(_), Ok(_)) => {}
    }
    let (via, sent_by) = (m.via(), m.via_sent_by());
    match (&via, &sent_by) {
        (Ok(v), _) => assert_eq!(sent_by, Ok((v.host, v.port))),
        (Err(e), Err(n)) => assert_eq!(e, n),
        (Err(_), Ok(_)) => {}
    }
    let _ = SIGNATURES.get_or_init(Signatures::default_scanners).check(&m);
});
