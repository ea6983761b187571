//! The one stable hash of the crate, 64-bit FNV-1a: feature buckets, model-file checksums,
//! corpus splits and suggested rule ids must come out the same on every machine, in every
//! release, which `std`'s hasher does not promise.

/// FNV-1a's 64-bit offset basis (the featurizer's character n-gram walk rolls its own hash
/// with it and [`FNV_PRIME`]).
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`, started from `seed` mixed into the offset basis.
#[inline]
pub(crate) fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    fnv1a_continued(FNV_OFFSET ^ seed, bytes)
}

/// [`fnv1a`] of `bytes` continued from `h`, the hash of the bytes before them:
/// `fnv1a_continued(fnv1a(seed, a), b) == fnv1a(seed, a ++ b)`.
#[inline]
pub(crate) fn fnv1a_continued(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_continued_is_the_hash_of_both_parts() {
        let seed = 0x5eed;
        assert_eq!(
            fnv1a_continued(fnv1a(seed, b"dis"), b"chem"),
            fnv1a(seed, b"dischem")
        );
        assert_ne!(fnv1a(seed, b"dischem"), fnv1a(seed + 1, b"dischem"));
    }
}
