//! Asking the processor for memory before it is read.

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
