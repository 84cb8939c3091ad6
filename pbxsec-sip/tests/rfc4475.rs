//! RFC 4475 torture messages: valid ones scan with the right values, invalid ones are rejected, none panics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

mod common;
use common::touch_everything;

use pbxsec_sip::{
    Error, HeaderName, InvalidProblem, Message, ScanProblem, StartLine, ValueProblem,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/rfc4475")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("{name}.dat"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const VALID: [&str; 13] = [
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];
const INVALID: [&str; 19] = [
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
    "bigcode",
];
const APPLICATION: [&str; 16] = [
    "insuf", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "multi01", "mcl01",
    "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01", "inv2543",
];

#[test]
fn every_file_is_classified_and_none_panics() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("dat") {
            continue;
        }
        seen += 1;
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        assert!(
            VALID.contains(&stem.as_str())
                || INVALID.contains(&stem.as_str())
                || APPLICATION.contains(&stem.as_str())
                || stem == "badbranch"
                || stem == "test",
            "{stem} is not classified"
        );
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(m) = Message::scan(&bytes) {
            touch_everything(&m);
        }
        // Every prefix too: a truncated datagram must not panic either.
        for cut in (0..bytes.len()).step_by(7) {
            if let Ok(m) = Message::scan(&bytes[..cut]) {
                touch_everything(&m);
            }
        }
    }
    assert_eq!(seen, 50);
}

#[test]
fn valid_messages_scan_and_validate() {
    for name in VALID {
        let bytes = read(name);
        let m = Message::scan(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn invalid_messages_are_rejected() {
    for name in INVALID {
        let bytes = read(name);
        let outcome = Message::scan(&bytes).and_then(|m| m.validate());
        assert!(outcome.is_err(), "{name} was accepted");
    }
}

fn reject(name: &str) -> Error {
    let bytes = read(name);
    Message::scan(&bytes)
        .and_then(|m| m.validate())
        .unwrap_err()
}

#[test]
fn invalid_messages_say_what_and_where() {
    let scan = |name: &str| match reject(name) {
        Error::Scan { offset, problem } => (offset, problem),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(scan("lwsstart"), (7, ScanProblem::BadRequestUri));
    assert_eq!(scan("ltgtruri").1, ScanProblem::BadRequestUri);
    assert_eq!(scan("lwsruri").1, ScanProblem::BadRequestUri);
    assert_eq!(scan("trws").1, ScanProblem::BadRequestUri); // the trailing SPs make the URI hold a space
    assert_eq!(scan("bigcode"), (8, ScanProblem::BadStatusCode));
    assert_eq!(scan("clerr").1, ScanProblem::ContentLengthExceedsBody);
    assert_eq!(scan("ncl").1, ScanProblem::BadContentLength);
    let header = |name: &str| match reject(name) {
        Error::Header {
            header, problem, ..
        } => (header, problem),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        header("badinv01"),
        (HeaderName::Via, ValueProblem::EmptyParameter)
    );
    assert_eq!(
        header("scalar02"),
        (HeaderName::CSeq, ValueProblem::BadNumber)
    );
    assert_eq!(
        header("scalarlg"),
        (HeaderName::CSeq, ValueProblem::BadNumber)
    );
    assert_eq!(
        header("quotbal"),
        (HeaderName::To, ValueProblem::UnterminatedQuote)
    );
    assert_eq!(
        header("regbadct"),
        (HeaderName::Contact, ValueProblem::UriNeedsAngleBrackets)
    );
    assert_eq!(header("badaspec"), (HeaderName::To, ValueProblem::BadUri));
    assert_eq!(
        header("baddn"),
        (HeaderName::From, ValueProblem::BadDisplayName)
    );
    let invalid = |name: &str| match reject(name) {
        Error::Invalid { problem, .. } => problem,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(invalid("badvers"), InvalidProblem::UnsupportedVersion);
    assert_eq!(invalid("escruri"), InvalidProblem::RequestUriHeaders);
    assert_eq!(invalid("baddate"), InvalidProblem::BadDate);
    assert_eq!(invalid("mismatch01"), InvalidProblem::CSeqMethodMismatch);
    assert_eq!(invalid("mismatch02"), InvalidProblem::CSeqMethodMismatch);
    // The offset points at the problem in the file.
    let bytes = read("quotbal");
    let Error::Header { offset, .. } = reject("quotbal") else {
        unreachable!()
    };
    assert!(bytes[offset..].starts_with(b"\"Mr. J. User"));
}

#[test]
fn wsinv_values() {
    let bytes = read("wsinv");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.method(), Some("INVITE"));
    assert_eq!(
        m.request_uri(),
        Some("sip:vivekg@chair-dnrc.example.com;unknownparam")
    );
    let to = m.to().unwrap();
    assert_eq!(to.user(), Some("vivekg"));
    assert_eq!(to.host(), "chair-dnrc.example.com");
    assert_eq!(to.tag, Some("1918181833n"));
    let from = m.from().unwrap();
    assert_eq!(from.display_name.unwrap().raw(), r#"J Rosenberg \\\""#);
    assert_eq!(
        from.display_name.unwrap().chars().collect::<String>(),
        r#"J Rosenberg \""#
    );
    assert_eq!(from.tag, Some("98asjd8"));
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.call_id().unwrap(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.content_length(), Some(150));
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, "INVITE"));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport, vias[0].host, vias[0].branch),
        ("UDP", "192.0.2.2", Some("390skdjuw"))
    );
    assert_eq!(
        (vias[1].transport, vias[1].host, vias[1].branch),
        ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8"))
    );
    assert_eq!(
        (vias[2].transport, vias[2].host, vias[2].branch),
        ("UDP", "192.168.255.111", Some("z9hG4bK30239"))
    );
    assert_eq!(m.header("s").unwrap().value, "");
    assert_eq!(m.header("Subject").unwrap().name, "s");
    assert_eq!(
        m.header("newfangledheader").unwrap().value,
        "newfangled value\r\n continued newfangled value"
    );
    let contact = m.contact().unwrap().unwrap();
    assert_eq!(contact.display_name.unwrap().raw(), r#"Quoted string \"\""#);
    assert_eq!(contact.params.get("newparam"), Some(Some("newvalue")));
    assert_eq!(contact.params.get("secondparam"), Some(None));
    assert_eq!(contact.params.get("q"), Some(Some("0.33")));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn intmeth_esc_and_friends() {
    let bytes = read("intmeth");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(
        m.method(),
        Some("!interesting-Method0123456789_*+`.%indeed'~")
    );
    assert_eq!(m.to().unwrap().host(), "example.com");
    assert_eq!(
        m.from().unwrap().display_name.unwrap().raw(),
        "token1~` token2'+_ token3*%!.-"
    );
    assert_eq!(m.from().unwrap().tag, Some("_token~1'+`*%!-."));
    assert_eq!(
        m.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(m.max_forwards().unwrap(), Some(255));

    let bytes = read("esc01");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.to().unwrap().user(), Some("%75se%72"));
    assert_eq!(m.header("Content-Type").unwrap().value, "application/sdp");
    assert_eq!(m.call_id().unwrap(), "esc01.239409asdfakjkn23onasd0-3234");

    let bytes = read("escnull");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(m.content_length(), Some(0));

    let bytes = read("esc02");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.method(), Some("RE%47IST%45R"));
    // `C%6Fntact` is an extension header, not Contact.
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(m.header("C%6Fntact").unwrap().kind, HeaderName::Other);

    let bytes = read("lwsdisp");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.from().unwrap().display_name.unwrap().raw(), "caller");

    let bytes = read("semiuri");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.values("Accept").count(), 6);

    let bytes = read("transports");
    let m = Message::scan(&bytes).unwrap();
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    let bytes = read("dblreq");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.content_length(), Some(0));
    assert!(m.body().is_empty());
    assert!(m.as_bytes().len() < bytes.len());

    let bytes = read("noreason");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(
        m.start_line(),
        StartLine::Response {
            code: 100,
            reason: ""
        }
    );

    let bytes = read("unreason");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.status(), Some(200));
    assert!(m.reason().unwrap().starts_with("= 2**3 * 5**2 но"));

    let bytes = read("mpart01");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.body().len(), m.content_length().unwrap());

    let bytes = read("longreq");
    let m = Message::scan(&bytes).unwrap();
    assert!(m.header_count() > 10);
}

#[test]
fn application_level_messages_scan() {
    for name in APPLICATION {
        let bytes = read(name);
        Message::scan(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let bytes = read("badbranch");
    let m = Message::scan(&bytes).unwrap();
    assert_eq!(m.via().unwrap().branch, Some("z9hG4bK"));
    let bytes = read("regaut01");
    let m = Message::scan(&bytes).unwrap();
    let auth = m.authorization().unwrap().unwrap();
    assert_eq!(auth.scheme, "NoOneKnowsThisScheme");
    assert!(!auth.is_digest());
    let bytes = read("zeromf");
    assert_eq!(
        Message::scan(&bytes).unwrap().max_forwards().unwrap(),
        Some(0)
    );
    let bytes = read("multi01");
    assert!(Message::scan(&bytes).unwrap().validate().is_err());
    let bytes = read("mcl01");
    assert!(Message::scan(&bytes).unwrap().validate().is_err());
    let bytes = read("test");
    assert!(Message::scan(&bytes).is_err());
}
