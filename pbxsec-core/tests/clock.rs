//! ManualClock and SystemClock behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
use std::sync::Arc;
use std::time::Duration;

use pbxsec_core::{Clock, Instant, ManualClock, SystemClock, UnixTime};

#[test]
fn manual_clock_starts_at_zero_and_given_wall_time() {
    let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
    assert_eq!(clock.now(), Instant::ZERO);
    assert_eq!(clock.wall(), UnixTime::from_secs(1_800_000_000));
}

#[test]
fn clones_share_one_time() {
    let clock = ManualClock::default();
    let a = clock.clone();
    let b = Arc::new(clock.clone());
    clock.advance(Duration::from_millis(1500));
    assert_eq!(a.now().as_nanos(), 1_500_000_000);
    assert_eq!(b.now(), a.now());
    assert_eq!(
        b.wall()
            .saturating_duration_since(ManualClock::default().wall()),
        Duration::from_millis(1500)
    );
}

#[test]
fn advance_moves_both_readings_and_set_wall_moves_only_wall() {
    let clock = ManualClock::new(UnixTime::from_secs(100));
    clock.advance(Duration::from_secs(10));
    assert_eq!(clock.now(), Instant::from_nanos(10_000_000_000));
    assert_eq!(clock.wall(), UnixTime::from_secs(110));
    // An NTP step backwards moves the wall clock only.
    clock.set_wall(UnixTime::from_secs(50));
    assert_eq!(clock.wall(), UnixTime::from_secs(50));
    assert_eq!(clock.now(), Instant::from_nanos(10_000_000_000));
}

#[test]
fn advance_saturates_instead_of_wrapping() {
    let clock = ManualClock::new(UnixTime::from_millis(u64::MAX - 1));
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), Instant::from_nanos(u64::MAX));
    assert_eq!(clock.wall(), UnixTime::from_millis(u64::MAX));
}

#[test]
fn instant_arithmetic_saturates() {
    let t = Instant::from_nanos(5);
    assert_eq!(t - Duration::from_nanos(10), Instant::ZERO);
    assert_eq!(t + Duration::MAX, Instant::from_nanos(u64::MAX));
    assert_eq!(t.checked_sub(Duration::from_nanos(6)), None);
    assert_eq!(
        Instant::ZERO.saturating_duration_since(t),
        Duration::ZERO,
        "earlier minus later is zero"
    );
    assert_eq!(
        t.checked_add(Duration::from_nanos(1)),
        Some(Instant::from_nanos(6))
    );
}

#[test]
fn clock_is_usable_through_references_and_trait_objects() {
    fn elapsed(c: &impl Clock, since: Instant) -> Duration {
        c.now().saturating_duration_since(since)
    }
    let clock = ManualClock::default();
    let dynamic: Arc<dyn Clock> = Arc::new(clock.clone());
    clock.advance(Duration::from_secs(3));
    assert_eq!(elapsed(&&clock, Instant::ZERO), Duration::from_secs(3));
    assert_eq!(elapsed(&dynamic, Instant::ZERO), Duration::from_secs(3));
}

#[test]
fn system_clock_is_monotonic_and_wall_is_recent() {
    let a = SystemClock.now();
    let b = SystemClock.now();
    assert!(b >= a);
    // After 2020-01-01: the machine's wall clock is at least roughly right.
    assert!(SystemClock.wall() > UnixTime::from_secs(1_577_836_800));
}

#[test]
fn unix_time_rfc3339_round_trip() {
    let t = UnixTime::from_millis(1_800_000_000_123);
    assert_eq!(t.to_string(), "2027-01-15T08:00:00.123Z");
    assert_eq!("2027-01-15T08:00:00.123Z".parse::<UnixTime>().unwrap(), t);
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, r#""2027-01-15T08:00:00.123Z""#);
    assert_eq!(serde_json::from_str::<UnixTime>(&json).unwrap(), t);
    assert_eq!(
        serde_json::from_str::<UnixTime>("1800000000123").unwrap(),
        t,
        "integer milliseconds are accepted too"
    );
    assert!(serde_json::from_str::<UnixTime>("-1").is_err());
    assert!("yesterday".parse::<UnixTime>().is_err());
}

#[test]
fn unix_time_display_clamps_beyond_year_9999() {
    assert_eq!(
        UnixTime::from_millis(u64::MAX).to_string(),
        "9999-12-31T23:59:59.999Z"
    );
}
