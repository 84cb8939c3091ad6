//! Random tables and addresses shared by the benchmarks (deterministic).

#![allow(dead_code)] // each bench binary uses part of it

/// SplitMix64: small, fast, deterministic.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `n` distinct random IPv4 prefixes, lengths uniform in `min..=max`,
/// host bits clear, each with a value 1 (Allow) or 2 (Block).
pub(crate) fn v4_prefixes(n: usize, min: u8, max: u8, seed: u64) -> Vec<(u32, u8, u8)> {
    let mut rng = Rng::new(seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = min + rng.below(u64::from(max - min) + 1) as u8;
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        };
        let addr = rng.next_u64() as u32 & mask;
        if seen.insert((addr, len)) {
            out.push((addr, len, 1 + (rng.next_u64() & 1) as u8));
        }
    }
    out
}

/// The same for IPv6.
pub(crate) fn v6_prefixes(n: usize, min: u8, max: u8, seed: u64) -> Vec<(u128, u8, u8)> {
    let mut rng = Rng::new(seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = min + rng.below(u64::from(max - min) + 1) as u8;
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        };
        let addr = ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) & mask;
        if seen.insert((addr, len)) {
            out.push((addr, len, 1 + (rng.next_u64() & 1) as u8));
        }
    }
    out
}

/// `n` lookup addresses: half inside a random prefix of the table (hits),
/// half uniformly random (mostly misses in small tables).
pub(crate) fn v4_lookups(prefixes: &[(u32, u8, u8)], n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let r = rng.next_u64() as u32;
            if i % 2 == 0 {
                let (a, l, _) = prefixes[rng.below(prefixes.len() as u64) as usize];
                let host = if l == 0 {
                    u32::MAX
                } else {
                    u32::MAX >> u32::from(l)
                };
                a | (r & host)
            } else {
                r
            }
        })
        .collect()
}

/// The same for IPv6.
pub(crate) fn v6_lookups(prefixes: &[(u128, u8, u8)], n: usize, seed: u64) -> Vec<u128> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let r = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
            if i % 2 == 0 {
                let (a, l, _) = prefixes[rng.below(prefixes.len() as u64) as usize];
                let host = if l == 0 {
                    u128::MAX
                } else {
                    u128::MAX >> u32::from(l)
                };
                a | (r & host)
            } else {
                r
            }
        })
        .collect()
}
