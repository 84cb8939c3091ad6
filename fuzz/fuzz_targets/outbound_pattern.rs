//! Dial patterns: parse any string; whatever parses writes back in canonical
//! form that parses to the same pattern, and matching any number (the bytes
//! after the first newline) neither panics nor depends on the spelling.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_outbound::DialPattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, number) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(p) = DialPattern::parse(pattern) {
        let canonical = p.to_string();
        let again = DialPattern::parse(&canonical).expect("canonical form parses");
        assert_eq!(again, p, "{pattern:?} -> {canonical:?}");
        assert_eq!(again.to_string(), canonical);
        assert_eq!(again.matches(number), p.matches(number));
    }
});
