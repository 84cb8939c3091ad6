//! Helpers shared by the integration tests (`mod common;` in each test file).

use pbxsec_sip::{HeaderName, Message};

/// Exercises every accessor of a scanned message; must never panic.
///
/// Also checks that the index built while scanning agrees with a plain walk
/// over the header lines: for every known name, [`Message::get`] returns the
/// first header of that kind that [`Message::headers`] yields, and a lookup
/// by each header's own name finds a header of the same kind.
pub(crate) fn touch_everything(m: &Message<'_>) {
    let _ = m.validate();
    let _ = (
        m.via(),
        m.from(),
        m.to(),
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
        m.contact(),
    );
    let _ = (
        m.authorization(),
        m.proxy_authorization(),
        m.www_authenticate(),
        m.proxy_authenticate(),
    );
    let _ = (m.user_agent(), m.server(), m.body(), m.content_length());
    let _ = (m.vias().count(), m.contacts().count(), m.body().len());
    let mut count = 0;
    for h in m.headers() {
        count += 1;
        let _ = m.values(h.name).count();
        assert_eq!(m.header(h.name).map(|x| x.kind), Some(h.kind));
    }
    assert_eq!(count, m.header_count());
    for &kind in HeaderName::ALL {
        assert_eq!(
            m.get(kind),
            m.headers().find(|h| h.kind == kind),
            "{kind}: index and walk disagree"
        );
        assert_eq!(
            m.get_all(kind).collect::<Vec<_>>(),
            m.headers().filter(|h| h.kind == kind).collect::<Vec<_>>(),
        );
    }
}
