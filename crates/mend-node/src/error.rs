//! The one error type of mend-node.

use mend_app::AppError;
use mend_crypto::CryptoError;
use mend_journal::JournalError;
use mend_net::NetError;
use mend_store::StoreError;
use mend_sync::SyncError;

/// The libraries' errors are boxed: journal work returns this through every layer, and the
/// largest of them is many times the size of the rest.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    App(Box<AppError>),
    #[error(transparent)]
    Store(Box<StoreError>),
    #[error(transparent)]
    Journal(Box<JournalError>),
    #[error(transparent)]
    Sync(Box<SyncError>),
    #[error(transparent)]
    Net(Box<NetError>),
    #[error(transparent)]
    Crypto(Box<CryptoError>),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("an answer could not be encoded: {0}")]
    Encode(#[from] postcard::Error),
    /// The thread doing journal work is gone (it panicked while holding the journal).
    #[error("the journal worker stopped")]
    WorkerStopped,
    /// Journal work panicked; nothing from it was kept.
    #[error(
        "journal work failed unexpectedly; nothing from it was kept and the journal is read \
         again from disk"
    )]
    Panicked,
    /// What a paired device answered ended the session (it refused, or answered out of turn).
    #[error("{0}")]
    Peer(String),
    /// Pairing ended without a paired device.
    #[error(transparent)]
    Pairing(Box<crate::pairing::PairingFailed>),
    /// A network address given that is none.
    #[error("{0:?} is not a network address")]
    BadAddress(String),
    /// A relay's address without the relay's id.
    #[error(
        "{0:?} is not a relay's address: it must start with /ip4/ or /ip6/ and end in /p2p/ and \
         the relay's id"
    )]
    BadRelay(String),
    /// A peer id given that is none.
    #[error("{0:?} is not a device's peer id (12D3KooW…, as `mend devices` shows it)")]
    BadPeerId(String),
    /// The relay's identity file is not one.
    #[error("{0}")]
    RelayKey(String),
}

macro_rules! boxed_from {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for NodeError {
            fn from(e: $ty) -> Self {
                NodeError::$variant(Box::new(e))
            }
        })*
    };
}

boxed_from!(
    App(AppError),
    Store(StoreError),
    Journal(JournalError),
    Sync(SyncError),
    Net(NetError),
    Crypto(CryptoError),
);
