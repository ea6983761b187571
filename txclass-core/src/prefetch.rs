//! Asking the processor for memory before it is read.
//!
//! Why `unsafe`: stable Rust has no safe prefetch (`core::intrinsics::prefetch_read_data` is
//! unstable), and the x86-64 intrinsic may be called without `unsafe` only from a function
//! compiled with `#[target_feature]`, which an `#[inline(always)]` helper cannot be. Scoring
//! uses it to ask for a line's weight rows ([`crate::classifier`]'s text rows).

/// Starts loading the cache line that holds `value`, without waiting for it.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn read<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 processor has, and a prefetch
    // never faults; `value` is a reference besides.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
