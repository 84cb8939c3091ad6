//! Outbound configurations: any JSON into `OutboundConfig` and, when it
//! validates, into an `OutboundPolicy`; a config that deserialises writes
//! back to JSON that deserialises to the same config (PIN-free configs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_outbound::{OutboundConfig, OutboundPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<OutboundConfig>(data) else {
        return;
    };
    let _ = OutboundPolicy::try_from(&config);
    let has_pin = config.routes.iter().any(|r| r.pin.is_some() || !r.pin_list.is_empty());
    if !has_pin {
        let written = serde_json::to_string(&config).expect("serialise");
        let back: OutboundConfig = serde_json::from_str(&written).expect("reads back");
        assert_eq!(back, config);
    }
});
