//! The operating system's CSPRNG, the only source of randomness here.

use zeroize::Zeroizing;

use super::{Error, Result};

/// `len` random bytes from the OS CSPRNG (`getrandom`).
pub(crate) fn bytes(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut buf).map_err(|e| Error::Rng(e.to_string()))?;
    Ok(buf)
}

/// A uniformly random index below `n` (`1 ..= 256`), by rejection sampling
/// so no symbol is more likely than another.
pub(crate) fn index_below(n: usize) -> Result<usize> {
    // The largest multiple of n that fits in a byte value range 0..=255.
    let n16 = u16::try_from(n).unwrap_or(256).clamp(1, 256);
    let limit = 256 - (256 % n16);
    loop {
        let mut b = [0u8; 1];
        getrandom::fill(&mut b).map_err(|e| Error::Rng(e.to_string()))?;
        let v = u16::from(b[0]);
        if v < limit {
            return Ok(usize::from(v % n16));
        }
    }
}
