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
    let mut h = FNV_OFFSET ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}
