//! The dialled-number path: any dialled string and PIN through a policy with
//! routes, strip/prepend, country rules, number lists and PINs. It must not
//! panic, and an allowed call's number is the dialled one rewritten by the
//! route (strip, then prepend), within the length bounds.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pbxsec_core::UnixTime;
use pbxsec_outbound::{Call, Decision, OutboundConfig, OutboundPolicy};

const CONFIG: &str = r#"{
    "international_prefixes": ["00", "011"],
    "routes": [
        { "name": "local", "patterns": [ { "pattern": "8X.", "strip": 1 } ], "everyone": true },
        { "name": "intl", "patterns": [ { "pattern": "9X.", "strip": 1 }, { "pattern": "+!", "prepend": "" } ],
          "extensions": ["1001"], "pin_list": [ { "pin": "4711", "user": "a" } ] },
        { "name": "rest", "patterns": [ { "pattern": "[0-7*#]!", "prepend": "0" } ], "everyone": true,
          "time_condition": "office" }
    ],
    "countries": { "allow": ["1", "44", "49"], "deny": ["1-242", "BS", "4490"] },
    "blocked_numbers": ["0900X.", "1900!", "+882!", "5551234"],
    "allowed_numbers": ["0900123"],
    "time_conditions": { "office": { "time_zone": "Europe/Berlin",
        "weekly": [ { "days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00" } ] } }
}"#;

fn policy() -> &'static OutboundPolicy {
    static POLICY: OnceLock<OutboundPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let config: OutboundConfig = serde_json::from_str(CONFIG).expect("config");
        OutboundPolicy::try_from(config).expect("policy")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let dialled = parts.next().unwrap_or_default();
    let pin = parts.next();
    let ext = parts.next().unwrap_or("1001");
    let mut call = Call::new(ext, dialled);
    if let Some(pin) = pin {
        call = call.with_pin(pin);
    }
    let wall = UnixTime::from_secs(1_800_000_000 + u64::from(data.first().copied().unwrap_or(0)) * 3600);
    let out = policy().decide(&call, wall);
    if let Decision::Allowed { number, .. } = &out.decision {
        assert!(number.len() <= dialled.len() + 1, "{dialled:?} -> {number:?}");
        assert!(out.event.is_none());
    }
});
