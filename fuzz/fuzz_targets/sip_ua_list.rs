//! Fuzzes the User-Agent list parsers, round-tripping through the writers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_sip::{parse_line_list, parse_vodia_list, write_line_list, write_vodia_list};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(list) = parse_vodia_list(text) {
        let written = write_vodia_list(&list).expect("what was read can be written");
        assert_eq!(parse_vodia_list(&written).expect("what was written reads back"), list);
    }
    if let Ok(list) = parse_line_list(text) {
        let written = write_line_list(&list).expect("what was read can be written");
        assert_eq!(parse_line_list(&written).expect("what was written reads back"), list);
    }
});
