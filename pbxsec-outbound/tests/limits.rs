//! Call limits through pbxsec-ratelimit: Yeastar's 5 calls per second and 30 concurrent calls on a trunk, tenant and global limits, wrong-PIN locking, slots never leaked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use pbxsec_core::{Clock, EventKind, ManualClock};
use pbxsec_outbound::{
    Call, Decision, DenyCode, OutboundConfig, OutboundGuard, RouteConfig, RoutePattern, TrunkConfig,
};
use proptest::prelude::*;

fn config(trunks: &[(&str, u32)]) -> OutboundConfig {
    OutboundConfig {
        routes: vec![
            RouteConfig {
                patterns: vec![RoutePattern::new("00.")],
                everyone: true,
                pin: Some("2468".into()),
                ..RouteConfig::new("international")
            },
            RouteConfig {
                patterns: vec![RoutePattern::new("X.")],
                everyone: true,
                trunks: trunks.iter().map(|(t, _)| (*t).to_owned()).collect(),
                ..RouteConfig::new("out")
            },
        ],
        trunks: trunks
            .iter()
            .map(|(t, n)| {
                (
                    (*t).to_owned(),
                    TrunkConfig {
                        max_concurrent_calls: *n,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>(),
        ..OutboundConfig::yeastar_p_series()
    }
}

#[test]
fn yeastar_five_calls_per_second_per_extension() {
    let guard = OutboundGuard::new(&config(&[])).unwrap();
    let clock = ManualClock::default();
    let call = Call::new("1001", "5551234");
    for i in 0..5 {
        assert!(
            guard
                .check_with(&call, &clock)
                .outcome
                .decision
                .is_allowed(),
            "call {i}"
        );
    }
    let sixth = guard.check_with(&call, &clock);
    assert_eq!(sixth.outcome.decision.code(), Some(DenyCode::RateExceeded));
    assert_eq!(
        sixth.outcome.event.unwrap().kind,
        EventKind::TollFraudSuspected
    );
    // Another extension has its own budget.
    assert!(
        guard
            .check_with(&Call::new("1002", "5551234"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
    // The same extension number in another tenant too.
    assert!(
        guard
            .check_with(&call.with_tenant("acme"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
    clock.advance(Duration::from_secs(1));
    for i in 0..5 {
        assert!(
            guard
                .check_with(&call, &clock)
                .outcome
                .decision
                .is_allowed(),
            "next second, call {i}"
        );
    }
    assert!(
        !guard
            .check_with(&call, &clock)
            .outcome
            .decision
            .is_allowed()
    );
}

#[test]
fn yeastar_thirty_concurrent_calls_on_a_trunk() {
    let c = OutboundConfig {
        call_rate: None,
        ..config(&[("sip-trunk", 30)])
    };
    let guard = OutboundGuard::new(&c).unwrap();
    let clock = ManualClock::default();
    let mut calls: Vec<_> = (0..30)
        .map(|i| {
            let ext = format!("{}", 1000 + i);
            let checked = guard.check_with(&Call::new(&ext, "5551234"), &clock);
            match &checked.outcome.decision {
                Decision::Allowed { trunk, .. } => assert_eq!(trunk.as_deref(), Some("sip-trunk")),
                other => panic!("call {i}: {other:?}"),
            }
            checked.slot.unwrap()
        })
        .collect();
    assert_eq!(calls[0].trunk(), Some("sip-trunk"));
    let full = guard.check_with(&Call::new("2000", "5551234"), &clock);
    assert_eq!(full.outcome.decision.code(), Some(DenyCode::TrunkFull));
    assert!(full.slot.is_none());
    // One call ends: its line is free again.
    drop(calls.pop());
    let next = guard.check_with(&Call::new("2000", "5551234"), &clock);
    assert!(next.outcome.decision.is_allowed());
    assert!(
        guard
            .check_with(&Call::new("2001", "5551234"), &clock)
            .slot
            .is_none()
    );
}

#[test]
fn failover_to_the_next_trunk_with_a_free_line() {
    let c = OutboundConfig {
        call_rate: None,
        ..config(&[("a", 2), ("b", 1)])
    };
    let guard = OutboundGuard::new(&c).unwrap();
    let clock = ManualClock::default();
    let mut held = Vec::new();
    for want in ["a", "a", "b"] {
        let checked = guard.check_with(&Call::new("1", "5551234"), &clock);
        match &checked.outcome.decision {
            Decision::Allowed { trunk, .. } => assert_eq!(trunk.as_deref(), Some(want)),
            other => panic!("{other:?}"),
        }
        held.push(checked.slot.unwrap());
    }
    let full = guard.check_with(&Call::new("1", "5551234"), &clock);
    assert_eq!(full.outcome.decision.code(), Some(DenyCode::TrunkFull));
    held.remove(0);
    let again = guard.check_with(&Call::new("1", "5551234"), &clock);
    assert!(
        matches!(again.outcome.decision, Decision::Allowed { ref trunk, .. } if trunk.as_deref() == Some("a"))
    );
}

#[test]
fn tenant_and_global_limits() {
    let c = OutboundConfig {
        call_rate: None,
        max_concurrent_calls: Some(3),
        max_concurrent_calls_per_tenant: Some(2),
        ..config(&[])
    };
    let guard = OutboundGuard::new(&c).unwrap();
    let clock = ManualClock::default();
    let a1 = guard
        .check_with(&Call::new("1", "5551234").with_tenant("a"), &clock)
        .slot
        .unwrap();
    let _a2 = guard
        .check_with(&Call::new("2", "5551234").with_tenant("a"), &clock)
        .slot
        .unwrap();
    let a3 = guard.check_with(&Call::new("3", "5551234").with_tenant("a"), &clock);
    assert_eq!(a3.outcome.decision.code(), Some(DenyCode::TenantFull));
    let _b1 = guard
        .check_with(&Call::new("1", "5551234").with_tenant("b"), &clock)
        .slot
        .unwrap();
    let b2 = guard.check_with(&Call::new("2", "5551234").with_tenant("b"), &clock);
    assert_eq!(b2.outcome.decision.code(), Some(DenyCode::SystemFull));
    drop(a1);
    assert!(
        guard
            .check_with(&Call::new("2", "5551234").with_tenant("b"), &clock)
            .slot
            .is_some()
    );
}

#[test]
fn wrong_pins_lock_the_pin_route() {
    let guard = OutboundGuard::new(&OutboundConfig {
        call_rate: None,
        // The PIN budget alone: bursts (which would block 1001 after five
        // fraud-like denials) are tested in tests/bursts.rs.
        fraud_burst: None,
        ..config(&[])
    })
    .unwrap();
    let clock = ManualClock::default();
    let call = Call::new("1001", "0044207946000");
    for _ in 0..3 {
        let out = guard.check_with(&call.with_pin("1111"), &clock).outcome;
        assert_eq!(out.decision.code(), Some(DenyCode::PinWrong));
        assert!(out.event.is_some());
    }
    // Budget used up: even the right PIN is refused, unread, for now.
    let locked = guard.check_with(&call.with_pin("2468"), &clock).outcome;
    assert_eq!(locked.decision.code(), Some(DenyCode::PinLocked));
    assert!(locked.event.is_some());
    // Another extension is not affected.
    assert!(
        guard
            .check_with(&Call::new("1002", "0044207946000").with_pin("2468"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
    // One more attempt every 5 minutes (3 per 15 minutes).
    clock.advance(Duration::from_secs(299));
    assert_eq!(
        guard
            .check_with(&call.with_pin("2468"), &clock)
            .outcome
            .decision
            .code(),
        Some(DenyCode::PinLocked)
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        guard
            .check_with(&call.with_pin("2468"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
    // Calls that need no PIN were never locked.
    assert!(
        guard
            .check_with(&Call::new("1001", "5551234"), &clock)
            .outcome
            .decision
            .is_allowed()
    );
}

#[derive(Clone, Debug)]
enum Op {
    /// Start a call (tenant 0-2).
    Start(u8),
    /// End the n-th call in progress.
    End(usize),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Slots against a counting model: a call is allowed exactly when the
    /// model has a free line on the system, its tenant and some trunk, and
    /// every slot dropped frees exactly its own places.
    #[test]
    fn slots_agree_with_a_counting_model(ops in proptest::collection::vec(
        prop_oneof![(0u8..3).prop_map(Op::Start), (0usize..8).prop_map(Op::End)], 1..80)
    ) {
        let limits = [("t1", 2u32), ("t2", 3u32)];
        let c = OutboundConfig {
            call_rate: None,
            max_concurrent_calls: Some(4),
            max_concurrent_calls_per_tenant: Some(3),
            ..config(&limits)
        };
        let guard = OutboundGuard::new(&c).unwrap();
        let clock = ManualClock::default();
        let tenants = ["x", "y", "z"];
        // The model: calls in progress as (tenant, trunk index).
        let mut model: Vec<(usize, usize)> = Vec::new();
        let mut slots = Vec::new();
        for op in ops {
            match op {
                Op::Start(t) => {
                    let t = usize::from(t);
                    let checked = guard.check(&Call::new("1", "5551234").with_tenant(tenants[t]), clock.now(), clock.wall());
                    let count = |f: &dyn Fn(&(usize, usize)) -> bool| model.iter().filter(|c| f(c)).count();
                    let expected = if model.len() >= 4 {
                        Err(DenyCode::SystemFull)
                    } else if count(&|c| c.0 == t) >= 3 {
                        Err(DenyCode::TenantFull)
                    } else if let Some(k) = (0..2).find(|&k| count(&|c| c.1 == k) < limits[k].1 as usize) {
                        Ok(k)
                    } else {
                        Err(DenyCode::TrunkFull)
                    };
                    match (expected, checked.slot) {
                        (Ok(k), Some(slot)) => {
                            prop_assert_eq!(slot.trunk(), Some(limits[k].0));
                            model.push((t, k));
                            slots.push(slot);
                        }
                        (Err(code), None) => prop_assert_eq!(checked.outcome.decision.code(), Some(code)),
                        (want, got) => prop_assert!(false, "wanted {:?}, got slot {:?}", want, got.is_some()),
                    }
                }
                Op::End(i) => {
                    if !slots.is_empty() {
                        let i = i % slots.len();
                        slots.remove(i);
                        model.remove(i);
                    }
                }
            }
        }
        // Everything released: the full capacity is available again.
        drop(slots);
        let again: Vec<_> = (0..4)
            .map(|i| guard.check(&Call::new("1", "5551234").with_tenant(tenants[i % 2]), clock.now(), clock.wall()).slot)
            .collect();
        prop_assert!(again.iter().all(Option::is_some));
    }
}
