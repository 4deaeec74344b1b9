use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong with Mend's files.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no Mend journal in {}", home.display())]
    NotInitialised { home: PathBuf },
    /// The home names a file, not a directory.
    #[error("{} is a file, not a Mend home (a directory)", home.display())]
    NotADirectory { home: PathBuf },
    /// The home or its key file cannot be read by this user.
    #[error("cannot read {}: permission denied", path.display())]
    Unreadable { path: PathBuf },
    #[error("{} already holds a Mend journal", home.display())]
    AlreadyInitialised { home: PathBuf },
    /// A directory that holds other things: a journal is kept in one of its own.
    #[error("{} is not empty, and holds no Mend journal", home.display())]
    NotEmpty { home: PathBuf },
    #[error("{} is damaged: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
    #[error("{}: {source}", path.display())]
    Crypto {
        path: PathBuf,
        source: mend_crypto::CryptoError,
    },
    /// Writing this would make a file Mend refuses to read back: nothing was written.
    #[error("{} was not written: {why}", path.display())]
    TooLarge { path: PathBuf, why: String },
    /// The home is not this user's alone: refused before anything is read or written there.
    #[error("{} is not private: {why}", path.display())]
    NotPrivate { path: PathBuf, why: String },
    #[error("wrong passphrase for this device")]
    WrongPassphrase,
    #[error(transparent)]
    Journal(#[from] mend_journal::JournalError),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
