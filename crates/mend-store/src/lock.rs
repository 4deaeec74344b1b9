//! The advisory lock that serialises `mend` processes on one home.

use std::fs::File;
use std::path::Path;

use crate::atomic::private_options;
use crate::StoreError;

/// Readers share the home; a writer has it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Held for as long as a command works on a home; released on drop.
#[derive(Debug)]
pub struct HomeLock {
    _file: File,
    pub access: Access,
}

impl HomeLock {
    /// Block until the lock is ours.
    pub fn acquire(path: &Path, access: Access) -> Result<Self, StoreError> {
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(StoreError::io(path))?;
        match access {
            Access::Read => file.lock_shared(),
            Access::Write => file.lock(),
        }
        .map_err(StoreError::io(path))?;
        Ok(Self {
            _file: file,
            access,
        })
    }
}
