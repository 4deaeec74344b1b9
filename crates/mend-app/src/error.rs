//! The one error type of mend-app: what went wrong underneath, kept whole so that a front end
//! can say what happened and what to do next.

use mend_crypto::CryptoError;
use mend_journal::JournalError;
use mend_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Secrets handed over by a running serve belong to another journal than the home's.
    #[error("the key mend serve handed over belongs to another journal than this home's")]
    HandoverMismatch,
    /// A person's or a device's name that is empty, too long or holds control characters.
    #[error("a name must be 1 to 64 characters with no control characters")]
    BadName,
}
