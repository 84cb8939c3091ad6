//! Keys: canonical IP addresses folded to a prefix.
//!
//! Every keyed structure in this crate accepts any `Hash + Eq + Clone` key.
//! Keys of type [`IpAddr`], [`Ipv6Addr`], [`SocketAddr`] and `(IpAddr, u16)`
//! are recognised (by type, at no run-time cost) and passed through
//! [`canonical_ip`] and then folded to the configured prefix before they are
//! counted, banned or looked up: an attacker holding a whole IPv6 `/64` is one
//! key, not 2^64 of them. Other key types are used as they are.

use std::any::Any;
use std::borrow::Cow;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use pbxsec_core::canonical_ip;

/// The default IPv6 prefix length keys are folded to: a `/64`, what one
/// subscriber (and so one attacker) is usually given.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;
/// The default IPv4 prefix length keys are folded to: `/32`, one address.
pub const DEFAULT_IPV4_PREFIX: u8 = 32;

/// How IP addresses are folded before they are used as keys.
///
/// `IpFold::default()` keeps IPv4 addresses whole (`/32`) and folds IPv6
/// addresses to their `/64`. `IpFold::new(32, 128)` turns folding off.
///
/// ```
/// use std::net::IpAddr;
/// use pbxsec_ratelimit::IpFold;
///
/// let fold = IpFold::default();
/// let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
/// assert_eq!(fold.fold_ip(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
/// let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
/// assert_eq!(fold.fold_ip(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpFold {
    v4_prefix: u8,
    v6_prefix: u8,
}

impl Default for IpFold {
    fn default() -> Self {
        Self {
            v4_prefix: DEFAULT_IPV4_PREFIX,
            v6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

impl IpFold {
    /// Folds IPv4 addresses to `/v4_prefix` and IPv6 addresses to
    /// `/v6_prefix`; lengths beyond 32 and 128 are clamped.
    pub const fn new(v4_prefix: u8, v6_prefix: u8) -> Self {
        Self {
            v4_prefix: if v4_prefix > 32 { 32 } else { v4_prefix },
            v6_prefix: if v6_prefix > 128 { 128 } else { v6_prefix },
        }
    }

    /// The IPv4 prefix length.
    pub const fn v4_prefix(self) -> u8 {
        self.v4_prefix
    }

    /// The IPv6 prefix length.
    pub const fn v6_prefix(self) -> u8 {
        self.v6_prefix
    }

    /// The canonical address with the bits past the prefix cleared.
    #[inline]
    pub fn fold_ip(self, ip: IpAddr) -> IpAddr {
        match canonical_ip(ip) {
            IpAddr::V4(v4) => IpAddr::V4(self.fold_v4(v4)),
            IpAddr::V6(v6) => IpAddr::V6(self.fold_v6(v6)),
        }
    }

    #[inline]
    fn fold_v4(self, ip: Ipv4Addr) -> Ipv4Addr {
        let bits = u32::from(ip);
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.v4_prefix))
            .unwrap_or(0);
        Ipv4Addr::from(bits & mask)
    }

    #[inline]
    fn fold_v6(self, ip: Ipv6Addr) -> Ipv6Addr {
        let bits = u128::from(ip);
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.v6_prefix))
            .unwrap_or(0);
        Ipv6Addr::from(bits & mask)
    }

    /// `key` folded if it is an IP-bearing key type (see the [module
    /// docs](self)), borrowed unchanged otherwise.
    #[inline]
    pub fn fold_key<K: Clone + 'static>(self, key: &K) -> Cow<'_, K> {
        fold_key(self, key)
    }
}

/// `true` when [`fold_key`] certainly returns `key` itself: a key that
/// carries no IP address, or an IPv4 address (`IpAddr::V4`, `Ipv4Addr`)
/// kept whole (a /32 prefix). A few instructions (the type tests compile
/// away), so that a per-packet lookup can skip folding, its `Cow` and its
/// copy in the common case: fewer instructions between one lookup's cache
/// miss and the next one's, which lets the CPU overlap them.
#[inline(always)]
pub(crate) fn fold_is_identity<K: 'static>(fold: IpFold, key: &K) -> bool {
    let any = key as &dyn Any;
    if let Some(ip) = any.downcast_ref::<IpAddr>() {
        return matches!(ip, IpAddr::V4(_)) && fold.v4_prefix == 32;
    }
    if any.is::<Ipv4Addr>() {
        return fold.v4_prefix == 32;
    }
    !(any.is::<SocketAddr>() || any.is::<(IpAddr, u16)>() || any.is::<Ipv6Addr>())
}

/// Folds an IP-bearing key; other keys are borrowed unchanged.
#[inline]
pub(crate) fn fold_key<K: Clone + 'static>(fold: IpFold, key: &K) -> Cow<'_, K> {
    let any = key as &dyn Any;
    if let Some(ip) = any.downcast_ref::<IpAddr>() {
        // The common case first, reading only the variant: an IPv4 key
        // kept whole is already canonical and folded. (Reading the whole
        // address here would also defeat store-to-load forwarding when the
        // caller has just written it field by field.)
        if let IpAddr::V4(v4) = ip {
            if fold.v4_prefix == 32 {
                return Cow::Borrowed(key);
            }
            return owned(IpAddr::V4(fold.fold_v4(*v4)), key);
        }
        return owned(fold.fold_ip(*ip), key);
    }
    if let Some(sa) = any.downcast_ref::<SocketAddr>() {
        return owned(SocketAddr::new(fold.fold_ip(sa.ip()), sa.port()), key);
    }
    if let Some((ip, port)) = any.downcast_ref::<(IpAddr, u16)>() {
        return owned((fold.fold_ip(*ip), *port), key);
    }
    if let Some(ip) = any.downcast_ref::<Ipv6Addr>() {
        return owned(fold.fold_v6(*ip), key);
    }
    if let Some(ip) = any.downcast_ref::<Ipv4Addr>() {
        return owned(fold.fold_v4(*ip), key);
    }
    Cow::Borrowed(key)
}

#[inline]
fn owned<'a, K: Clone + 'static, T: Any + PartialEq>(folded: T, key: &'a K) -> Cow<'a, K> {
    let any = key as &dyn Any;
    if any.downcast_ref::<T>() == Some(&folded) {
        return Cow::Borrowed(key);
    }
    match (&folded as &dyn Any).downcast_ref::<K>() {
        Some(k) => Cow::Owned(k.clone()),
        None => Cow::Borrowed(key),
    }
}

/// The IP address a key carries, if its type is one of the IP-bearing ones.
#[inline]
pub(crate) fn key_ip<K: 'static>(key: &K) -> Option<IpAddr> {
    let any = key as &dyn Any;
    if let Some(ip) = any.downcast_ref::<IpAddr>() {
        return Some(canonical_ip(*ip));
    }
    if let Some(sa) = any.downcast_ref::<SocketAddr>() {
        return Some(canonical_ip(sa.ip()));
    }
    if let Some((ip, _)) = any.downcast_ref::<(IpAddr, u16)>() {
        return Some(canonical_ip(*ip));
    }
    if let Some(ip) = any.downcast_ref::<Ipv6Addr>() {
        return Some(canonical_ip(IpAddr::V6(*ip)));
    }
    any.downcast_ref::<Ipv4Addr>().map(|ip| IpAddr::V4(*ip))
}

/// Walks `keys` [`BATCH`](crate::BATCH) at a time for the batch methods:
/// `f(base, chunk)` gets each chunk's offset and its keys folded, `None`
/// for a key the whitelist matches (never counted).
#[inline]
pub(crate) fn folded_chunks<K: Hash + Eq + Clone + 'static>(
    keys: &[K],
    fold: IpFold,
    whitelist: Option<&crate::Whitelist<K>>,
    mut f: impl FnMut(usize, &[Option<Cow<'_, K>>]),
) {
    for (c, chunk) in keys.chunks(crate::BATCH).enumerate() {
        let folded: [Option<Cow<'_, K>>; crate::BATCH] = std::array::from_fn(|j| {
            let key = chunk.get(j)?;
            if whitelist.is_some_and(|wl| wl.contains(key)) {
                return None;
            }
            Some(fold_key(fold, key))
        });
        f(
            c * crate::BATCH,
            folded.get(..chunk.len()).unwrap_or_default(),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use proptest::prelude::*;

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
            any::<u128>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
            // IPv4-mapped IPv6: folding makes it IPv4.
            any::<u32>().prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
        ]
    }

    /// `fold_is_identity` holds only where `fold_key` gives the key itself.
    fn check<K: Clone + PartialEq + std::fmt::Debug + 'static>(
        fold: IpFold,
        key: &K,
    ) -> Result<(), TestCaseError> {
        let want = fold_key(fold, key);
        if fold_is_identity(fold, key) {
            prop_assert!(matches!(want, Cow::Borrowed(_)));
            prop_assert_eq!(&*want, key);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn fold_is_identity_only_where_fold_keeps_the_key(ip in ip(), port in any::<u16>(), v4 in 0u8..=33, v6 in 0u8..=129) {
            let fold = IpFold::new(v4, v6);
            check(fold, &ip)?;
            check(fold, &SocketAddr::new(ip, port))?;
            check(fold, &(ip, port))?;
            check(fold, &format!("{ip}"))?;
            match ip {
                IpAddr::V4(a) => check(fold, &a)?,
                IpAddr::V6(a) => check(fold, &a)?,
            }
        }
    }
}
