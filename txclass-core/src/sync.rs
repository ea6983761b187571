//! One lock-poison policy for the whole core: a poisoned `std` lock is used as it is.
//!
//! Every critical section in the core leaves its data consistent after each single
//! operation (a counter bumped, an entry inserted or removed, a queue pushed or popped), so
//! a panic inside one never leaves a half-written state behind. Propagating the poison
//! would instead turn one panicking caller into a panic in every later one: a poisoned
//! limiter would stop every partner call, a poisoned queue every retry.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `lock()` under the core's poison policy.
pub(crate) trait Lock<T> {
    /// The guard, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Lock<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `read()` / `write()` under the core's poison policy (only the Redis parts use an `RwLock`).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) trait ReadWrite<T> {
    /// A read guard, poisoned or not.
    fn read_locked(&self) -> RwLockReadGuard<'_, T>;
    /// A write guard, poisoned or not.
    fn write_locked(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> ReadWrite<T> for RwLock<T> {
    fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_locked(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}
