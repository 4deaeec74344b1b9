//! The one error type of mend-app: what went wrong underneath, kept whole so that a front end
//! can say what happened and what to do next.

use std::path::PathBuf;

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
    /// A setting Mend does not know, named in `mend config` or found in the settings file
    /// (`at`: where). Nothing was written.
    #[error(
        "unknown setting {key:?}{} (the settings are {})",
        in_place(at),
        crate::config::known_keys()
    )]
    UnknownSetting {
        key: String,
        at: Option<crate::config::FilePlace>,
    },
    /// A value a setting cannot take (`value` as shown: quoted text, or the file's TOML), given
    /// to `mend config set` or found in the settings file (`at`). Nothing was written.
    #[error(
        "{value} is not a valid value for {key}{}: expected {expected}",
        in_place(at)
    )]
    BadSetting {
        key: String,
        value: String,
        expected: String,
        at: Option<crate::config::FilePlace>,
    },
    /// The settings file is not TOML (or not UTF-8). Nothing was written.
    #[error("{} is not valid TOML: line {line}: {why}", path.display())]
    ConfigNotToml {
        path: PathBuf,
        line: usize,
        why: String,
    },
    /// The settings file is larger than Mend reads ([`crate::config::FILE_MAX_BYTES`]).
    #[error("{} is {size} bytes; a settings file may hold at most {max}", path.display())]
    ConfigTooLarge { path: PathBuf, size: u64, max: u64 },
    /// The settings file (or its directory) could not be read or written.
    #[error("{}: {source}", path.display())]
    ConfigIo {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// ` in FILE line N`, or nothing.
fn in_place(at: &Option<crate::config::FilePlace>) -> String {
    at.as_ref().map(|p| format!(" in {p}")).unwrap_or_default()
}
