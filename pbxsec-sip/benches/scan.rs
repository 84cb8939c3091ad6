//! Scanner and User-Agent matching benchmarks, with full-parse peers in the same run.
#![allow(missing_docs)] // criterion's macros generate undocumented pub fns
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a panic is a failed run

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::{Criterion, criterion_group, criterion_main};
use pbxsec_sip::{MatchMode, Message, Signatures};

const REGISTER: &[u8] = include_bytes!("../tests/fixtures/handmade/register_yealink.sip");

/// What every contender extracts: User-Agent, From user, top Via sent-by
/// host, digest username (lengths summed so nothing is optimised away).
/// Each value is read by the narrowest accessor that returns it: the From
/// user by [`Message::from_user`] (display name and `<...>` read, the URI
/// only up to its user part, no header parameters), the sent-by by
/// [`Message::via_sent_by`] (no Via parameters), the username on demand
/// (the parameter list up to `username`, the first one here). Each returns
/// what the full parser returns whenever that succeeds (proptests in
/// `tests/proptests.rs`). The peers parse the whole values: they have no
/// narrower accessor.
fn ours(bytes: &[u8]) -> usize {
    let m = Message::scan(bytes).unwrap();
    let ua = m.user_agent().unwrap();
    let user = m.from_user().unwrap().unwrap();
    let (host, port) = m.via_sent_by().unwrap();
    let (_, params) = m.authorization_params().unwrap().unwrap();
    let username = params.find("username").unwrap().unwrap().value.unwrap();
    ua.len() + user.len() + host.len() + port.unwrap_or(0) as usize + username.len()
}

/// The same through the full parsers, as the peers do: the whole From
/// name-addr ([`Message::from`]), the whole Via with its parameters
/// ([`Message::via`]) and every digest parameter ([`Message::authorization`],
/// what the verifier needs).
fn ours_full(bytes: &[u8]) -> usize {
    let m = Message::scan(bytes).unwrap();
    let ua = m.user_agent().unwrap();
    let from = m.from().unwrap();
    let via = m.via().unwrap();
    let auth = m.authorization().unwrap().unwrap();
    ua.len()
        + from.user().unwrap().len()
        + via.host.len()
        + via.port.unwrap_or(0) as usize
        + auth.username.unwrap().len()
}

fn with_rsip(bytes: &[u8]) -> usize {
    use rsip::prelude::*;
    let req = rsip::Request::try_from(bytes).unwrap();
    let ua = req.user_agent_header().unwrap().value().len();
    let from = req.from_header().unwrap().typed().unwrap();
    let user = from.uri.auth.unwrap().user.len();
    let via = req.via_header().unwrap().typed().unwrap();
    let sent_by = via.sent_by().to_string().len();
    let auth = req.authorization_header().unwrap().typed().unwrap();
    ua + user + sent_by + auth.username.len()
}

fn with_rsipstack(bytes: &[u8]) -> usize {
    use rsipstack::sip::headers::untyped::ToTypedHeader;
    use rsipstack::sip::prelude::*;
    let req = rsipstack::sip::Request::try_from(bytes).unwrap();
    let ua = req.user_agent_header().unwrap().value().len();
    let from = req.from_header().unwrap().typed().unwrap();
    let user = from.uri.auth.unwrap().user.len();
    let via = req.via_header().unwrap().typed().unwrap();
    let sent_by = via.sent_by().to_string().len();
    let auth =
        rsipstack::sip::typed::Authorization::parse(req.authorization_header().unwrap().value())
            .unwrap();
    ua + user + sent_by + auth.username.len()
}

fn with_sipx(bytes: &[u8]) -> usize {
    use sipx_sip::{Address, HeaderName, Limits, Via};
    let msg =
        sipx_sip::parse_datagram(bytes::Bytes::copy_from_slice(bytes), &Limits::default()).unwrap();
    let h = msg.headers();
    let ua = h.get(&HeaderName::UserAgent).unwrap().raw_value().len();
    let from = Address::parse(h.get(&HeaderName::From).unwrap().raw_value(), "From").unwrap();
    let user = from.uri.user().unwrap().len();
    let via = Via::parse_one(h.get(&HeaderName::Via).unwrap().raw_value()).unwrap();
    let sent_by = via.host.to_string().len() + via.port.unwrap_or(0) as usize;
    // sipx-sip has no parser for Authorization credentials (it is a client
    // core: it parses challenges and writes credentials); find the username
    // in the raw value the way a hand-written caller would.
    let auth = h.get(&HeaderName::Authorization).unwrap().raw_value();
    let start = memchr::memmem::find(auth, b"username=\"").unwrap() + 10;
    let len = memchr::memchr(b'"', &auth[start..]).unwrap();
    ua + user + sent_by + len
}

/// One contender: scan the datagram and read the four values.
type Contender = fn(&[u8]) -> usize;

fn register(c: &mut Criterion) {
    // Everyone reads the same values (sent-by is text for the peers, host + port for us).
    let sent_by = "192.0.2.45:5060".len();
    assert_eq!(
        ours(REGISTER),
        with_rsip(REGISTER) - sent_by + "192.0.2.45".len() + 5060
    );
    assert_eq!(ours(REGISTER), ours_full(REGISTER));
    assert_eq!(with_rsip(REGISTER), with_rsipstack(REGISTER));
    assert!(with_sipx(REGISTER) > 0);
    let mut g = c.benchmark_group("register_599B");
    g.bench_function("pbxsec-sip", |b| b.iter(|| ours(black_box(REGISTER))));
    g.bench_function("pbxsec-sip_full", |b| {
        b.iter(|| ours_full(black_box(REGISTER)))
    });
    g.bench_function("rsip", |b| b.iter(|| with_rsip(black_box(REGISTER))));
    g.bench_function("rsipstack", |b| {
        b.iter(|| with_rsipstack(black_box(REGISTER)))
    });
    g.bench_function("sipx-sip", |b| b.iter(|| with_sipx(black_box(REGISTER))));
    g.finish();

    // The same contenders timed by the thread's CPU time instead of the wall
    // clock: on a shared machine, time spent preempted is not counted.
    let contenders: [(&str, Contender); 5] = [
        ("pbxsec-sip", ours),
        ("pbxsec-sip_full", ours_full),
        ("rsip", with_rsip),
        ("rsipstack", with_rsipstack),
        ("sipx-sip", with_sipx),
    ];
    let mut g = c.benchmark_group("register_599B_cpu");
    for (name, f) in contenders {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = ThreadTime::now();
                for _ in 0..iters {
                    black_box(f(black_box(REGISTER)));
                }
                t.elapsed()
            })
        });
    }
    g.finish();
}

fn ua_1000(c: &mut Criterion) {
    // 1,000 patterns: the default list plus synthetic ones in all three modes.
    let synthetic: Vec<String> = (0..1000
        - pbxsec_sip::DEFAULT_SCANNERS
            .iter()
            .filter(|k| !k.optional)
            .count())
        .map(|i| {
            format!(
                "tool-{i:04}-{}",
                ["scan", "dialer", "probe", "crack"][i % 4]
            )
        })
        .collect();
    let rules = synthetic
        .iter()
        .enumerate()
        .map(|(i, p)| {
            pbxsec_sip::RuleConfig::user_agent(
                p.as_str(),
                [MatchMode::Substring, MatchMode::Prefix, MatchMode::Exact][i % 3],
            )
        })
        .collect();
    let config = pbxsec_sip::SignatureConfig {
        rules,
        ..pbxsec_sip::SignatureConfig::default()
    };
    let sigs = Signatures::try_from(config).unwrap();
    assert_eq!(sigs.rules().len(), 1000);
    let benign = "Yealink SIP-T46U 108.86.0.20";
    let scanner = "friendly-scanner";
    assert!(
        sigs.match_user_agent(benign).is_none(),
        "{:?}",
        sigs.match_user_agent(benign)
    );
    assert!(sigs.match_user_agent(scanner).is_some());
    let mut g = c.benchmark_group("ua_match_1000_patterns");
    g.bench_function("benign_yealink", |b| {
        b.iter(|| sigs.match_user_agent(black_box(benign)).is_some())
    });
    g.bench_function("friendly_scanner", |b| {
        b.iter(|| sigs.match_user_agent(black_box(scanner)).is_some())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = register, ua_1000 }
criterion_main!(benches);
