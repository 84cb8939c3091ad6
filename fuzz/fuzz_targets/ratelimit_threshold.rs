//! Event thresholds, differentially: arbitrary events (key, time step,
//! weight) go to a `ThresholdCounter` and to a model that keeps every
//! timestamp. With room for every key, each decision must equal the
//! model's; with a tiny table (eviction), a key may be flagged late but
//! never early.
#![no_main]

use std::collections::HashMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pbxsec_core::Instant;
use pbxsec_ratelimit::{ThresholdConfig, ThresholdCounter, ThresholdDecision};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let limit = u32::from(head & 0x0f) + 1;
    let clear = head & 0x10 != 0;
    let tiny = head & 0x20 != 0;
    let window_ms = u64::from(head >> 6) * 700 + 300;
    let window = window_ms * 1_000_000;
    let capacity = if tiny { 4 } else { 4096 };
    let Ok(counter) = ThresholdCounter::<u8>::new(
        ThresholdConfig::new(limit, Duration::from_millis(window_ms))
            .with_capacity(capacity)
            .with_clear_on_reach(clear),
    ) else {
        return;
    };
    let mut model: HashMap<u8, Vec<(u64, u32)>> = HashMap::new();
    let mut now = 0u64;
    for ev in rest.chunks_exact(3) {
        let (key, step, weight) = (ev[0] & 0x1f, u64::from(ev[1]) * 10_000_000, u32::from(ev[2] & 3));
        now += step;
        if weight > 0 {
            model.entry(key).or_default().push((now, weight));
        }
        let sum: u64 = model
            .get(&key)
            .map(|v| v.iter().filter(|(t, _)| now - t < window).map(|&(_, w)| u64::from(w)).sum())
            .unwrap_or(0);
        let got = counter.record(&key, weight, Instant::from_nanos(now));
        let should = weight > 0 && sum >= u64::from(limit);
        if got.is_reached() {
            assert!(sum >= u64::from(limit), "flagged early: {got:?} sum {sum}");
        }
        if !tiny {
            assert_eq!(got.is_reached(), should, "{got:?} sum {sum}");
            if let ThresholdDecision::Below { total } = got {
                assert_eq!(total.min(u64::from(limit)), sum.min(u64::from(limit)));
            }
        }
        if got.is_reached() && clear {
            model.remove(&key);
        }
    }
});
