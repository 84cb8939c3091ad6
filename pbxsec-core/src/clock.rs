//! Time, injected.
//!
//! Every pbxsec type with a window, a rate or an expiry takes its time from a
//! [`Clock`]. Production code uses [`SystemClock`]; tests and doc examples use
//! [`ManualClock`], which only moves when told to, so a "50 failures in an
//! hour" rule is tested in microseconds without sleeping.
//!
//! A clock gives two readings:
//!
//! * [`Clock::now`], a **monotonic** [`Instant`], for windows and rates. It
//!   never goes backwards, even when the wall clock is stepped by NTP.
//! * [`Clock::wall`], the **wall clock** as a [`UnixTime`], for expiries that
//!   must survive a restart (a ban written to disk "until 14:00 UTC").
//!
//! No pbxsec crate reads the operating system's time anywhere except in
//! [`SystemClock`].

use std::fmt;
use std::ops::{Add, Sub};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A monotonic point in time: nanoseconds since the clock's origin.
///
/// It is a plain `u64` (8 bytes, `Copy`, cheap to store per key), unlike
/// [`std::time::Instant`], and it can be made from a number, which lets
/// [`ManualClock`] start at zero. Instants from different clock *types* are not
/// comparable; all [`SystemClock`]s share one origin, and all clones of one
/// [`ManualClock`] share one time.
///
/// The range is about 584 years from the origin; arithmetic saturates.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Self = Self(0);

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Self)
    }

    /// `self - d`, or `None` if that is before the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Self> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_sub(nanos).map(Self)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    /// Saturating addition.
    fn add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self(u64::MAX))
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    /// Saturating subtraction (stops at the origin).
    fn sub(self, d: Duration) -> Self {
        self.checked_sub(d).unwrap_or(Self::ZERO)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

/// A wall-clock time: milliseconds since 1970-01-01T00:00:00Z.
///
/// Used for expiries that are written to disk or shared between hosts. It
/// serialises as an RFC 3339 UTC string with millisecond precision
/// (`"2026-11-23T18:05:36.123Z"`), which round-trips exactly, and
/// deserialises from that form or from an integer number of milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);

    /// The time `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// The time `secs` seconds after the Unix epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Converts a [`SystemTime`]; times before the epoch become the epoch and
    /// sub-millisecond precision is truncated.
    pub fn from_system_time(t: SystemTime) -> Self {
        let millis = t
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self(millis)
    }

    /// The same time as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// `self + d`, saturating; precision below one millisecond is truncated.
    pub fn saturating_add(self, d: Duration) -> Self {
        let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for UnixTime {
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T18:05:36.123Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // humantime formats any time from 0000 to 9999; later ones are clamped.
        const MAX_MILLIS: u64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        let t = Self(self.0.min(MAX_MILLIS)).to_system_time();
        write!(f, "{}", humantime::format_rfc3339_millis(t))
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({self})")
    }
}

impl std::str::FromStr for UnixTime {
    type Err = crate::Error;
    /// Parses RFC 3339 (`2026-11-23T18:05:36Z`, fractions allowed, UTC only).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_rfc3339_weak(s)
            .map(Self::from_system_time)
            .map_err(|e| crate::Error::Time {
                input: crate::error::excerpt(s),
                problem: e.to_string(),
            })
    }
}

impl serde::Serialize for UnixTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for UnixTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = UnixTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 UTC time or milliseconds since the Unix epoch")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<UnixTime, E> {
                Ok(UnixTime(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<UnixTime, E> {
                u64::try_from(v)
                    .map(UnixTime)
                    .map_err(|_| E::custom("a time before 1970 is not accepted"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<UnixTime, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A source of time: a monotonic reading and a wall-clock reading.
///
/// Implemented by [`SystemClock`] (production) and [`ManualClock`] (tests),
/// and by references and `Arc`s of any clock, so a value can hold
/// `C: Clock` and be given `&clock` or `Arc<clock>` alike.
pub trait Clock: Send + Sync {
    /// The monotonic time, for windows and rates. Never goes backwards.
    fn now(&self) -> Instant;
    /// The wall-clock time, for expiries that outlive the process.
    fn wall(&self) -> UnixTime;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn wall(&self) -> UnixTime {
        (**self).wall()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn wall(&self) -> UnixTime {
        (**self).wall()
    }
}

/// The operating system's clocks: the only place pbxsec reads real time.
///
/// [`now`](Clock::now) counts from the first time any `SystemClock` was read
/// in this process, so all `SystemClock` values agree with one another.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    fn origin() -> std::time::Instant {
        static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
        *ORIGIN.get_or_init(std::time::Instant::now)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        let origin = Self::origin();
        let nanos = std::time::Instant::now()
            .saturating_duration_since(origin)
            .as_nanos();
        Instant(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
    fn wall(&self) -> UnixTime {
        UnixTime::from_system_time(SystemTime::now())
    }
}

/// A clock that moves only when told to, for tests and examples.
///
/// Cheap to clone; clones share one time, so the clock given to a ban list
/// and the one kept by the test move together. It starts at
/// [`Instant::ZERO`] and at the wall time given to [`ManualClock::new`].
///
/// ```
/// use std::time::Duration;
/// use pbxsec_core::{Clock, ManualClock, UnixTime};
///
/// let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(shared.now().as_nanos(), 90_000_000_000);
/// assert_eq!(shared.wall(), UnixTime::from_secs(1_800_000_090));
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    mono_nanos: AtomicU64,
    wall_millis: AtomicU64,
}

impl ManualClock {
    /// A clock at monotonic zero and at the given wall time.
    pub fn new(wall: UnixTime) -> Self {
        Self {
            inner: Arc::new(ManualInner {
                mono_nanos: AtomicU64::new(0),
                wall_millis: AtomicU64::new(wall.as_millis()),
            }),
        }
    }

    /// Moves both readings forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .inner
            .mono_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(nanos))
            });
        let _ = self
            .inner
            .wall_millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(millis))
            });
    }

    /// Sets the wall clock (as an NTP step would); the monotonic reading does
    /// not move, not even backwards.
    pub fn set_wall(&self, wall: UnixTime) {
        self.inner
            .wall_millis
            .store(wall.as_millis(), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// A clock at monotonic zero and wall time 2026-01-01T00:00:00Z.
    fn default() -> Self {
        Self::new(UnixTime::from_secs(1_767_225_600))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        Instant(self.inner.mono_nanos.load(Ordering::SeqCst))
    }
    fn wall(&self) -> UnixTime {
        UnixTime(self.inner.wall_millis.load(Ordering::SeqCst))
    }
}
