//! Human durations: parse any string; whatever parses must format and parse
//! back to the same value, and formatting is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        let canonical = format_duration(d);
        assert_eq!(
            parse_duration(&canonical),
            Ok(d),
            "{text:?} -> {canonical:?}"
        );
        assert_eq!(format_duration(d), canonical);
    }
});
