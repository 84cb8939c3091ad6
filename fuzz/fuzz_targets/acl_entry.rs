//! ACL networks and entries: parse any string as a network (every written
//! form); whatever parses must write (`Display`) and parse back to the same
//! value, in the dotted-mask form too for IPv4, and an entry holding it must
//! round-trip through serde JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_acl::{Entry, Network, PortRange};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = text.parse::<Network>() {
        let written = n.to_string();
        assert_eq!(written.parse::<Network>(), Ok(n), "{text:?} -> {written:?}");
        if n.is_ipv4() {
            let dotted = format!("{}/{}", n.addr(), n.netmask());
            assert_eq!(dotted.parse::<Network>(), Ok(n), "{text:?} -> {dotted:?}");
        }
        assert!(n.contains(n.addr()));
        let entry = Entry::block(&written).expect("written form parses");
        let json = serde_json::to_string(&entry).expect("serialises");
        let back: Entry = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, entry);
    }
    if let Ok(p) = text.parse::<PortRange>() {
        assert_eq!(p.to_string().parse::<PortRange>(), Ok(p), "{text:?}");
    }
});
