//! The advisory lock that serialises `mend` processes on one home.

use std::fs::File;
use std::path::Path;

use crate::atomic::private_options;
use crate::StoreError;

/// Readers share the home; a writer has it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Read,
    Write,
}

/// Held for as long as a command works on a home; released on drop.
#[derive(Debug)]
pub struct HomeLock {
    _file: File,
    pub access: LockMode,
}

impl HomeLock {
    /// Block until the lock is ours.
    pub fn acquire(path: &Path, access: LockMode) -> Result<Self, StoreError> {
        Self::acquire_or_wait(path, access, || {})
    }

    /// Take the lock; if another process holds it, call `waiting` once, then block until it is
    /// ours (so that a command can say why it pauses).
    pub fn acquire_or_wait(
        path: &Path,
        access: LockMode,
        waiting: impl FnOnce(),
    ) -> Result<Self, StoreError> {
        let mut options = private_options();
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let file = options
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(StoreError::io(path))?;
        let attempt = match access {
            LockMode::Read => file.try_lock_shared(),
            LockMode::Write => file.try_lock(),
        };
        match attempt {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                match access {
                    LockMode::Read => file.lock_shared(),
                    LockMode::Write => file.lock(),
                }
                .map_err(StoreError::io(path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io(path)(e)),
        }
        Ok(Self {
            _file: file,
            access,
        })
    }
}
