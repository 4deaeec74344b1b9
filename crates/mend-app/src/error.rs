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
    /// A relay address without the shape of a multiaddr with a `/p2p/` id
    /// ([`mend_journal::valid_relay_addr`]). Nothing was written.
    #[error("{addr:?} is not a relay address (a multiaddr ending in /p2p/ and the relay's id)")]
    BadRelayAddr { addr: String },
    /// The journal remembers this relay already (added by `by`, a name). Nothing was written.
    #[error("the journal already remembers the relay {addr} (added by {by})")]
    RelayKnown { addr: String, by: String },
    /// The journal remembers as many relays as it may ([`mend_journal::RELAYS_MAX`]).
    #[error("the journal already remembers {max} relays, the most it keeps")]
    TooManyRelays { max: usize },
    /// No relay the journal remembers has this address or an id starting so.
    #[error("the journal remembers no relay {which:?}")]
    UnknownRelay { which: String },
    /// The relay was added by the partner (`author`, a name): only they can remove it.
    #[error("{author} added this relay; only {author} can remove it")]
    RelayNotYours { author: String },
}
