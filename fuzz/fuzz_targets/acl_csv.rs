//! Vodia CSV import: import any text; whatever imports must export and
//! import again to the same table (same entries, same answers), and a
//! failed import must leave the list unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_acl::{Acl, Entry};
use pbxsec_core::UnixTime;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut base = Acl::vodia();
    base.insert(Entry::allow("10.0.0.0/8").expect("constant"));
    let before = base.clone();
    match base.import_csv(text) {
        Err(_) => assert_eq!(base, before, "a failed import changed the list"),
        Ok(_) => {
            let Ok(acl) = Acl::from_csv(text) else {
                panic!("imports into one list but not into an empty one: {text:?}");
            };
            let csv = acl.to_csv();
            let again = Acl::from_csv(&csv).expect("our own export imports");
            assert_eq!(again, acl, "{text:?} -> {csv:?}");
            assert_eq!(again.to_csv(), csv);
            // The compiled tables answer the same for every entry's address,
            // decided by that entry or a more specific one.
            let t1 = acl.compile(UnixTime::EPOCH).expect("compiles");
            let t2 = again.compile(UnixTime::EPOCH).expect("compiles");
            for e in &acl.entries {
                let ip = e.network.addr();
                assert_eq!(t1.check(ip, UnixTime::EPOCH), t2.check(ip, UnixTime::EPOCH));
                let decided = t1
                    .matching_entry(ip, None, UnixTime::EPOCH)
                    .expect("the entry itself matches");
                assert!(decided.network.prefix_len() >= e.network.prefix_len());
                assert_eq!(t1.check(ip, UnixTime::EPOCH), decided.action);
            }
        }
    }
});
