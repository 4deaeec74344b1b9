//! What this device refused from its peers, and the changes of its own it got back after its
//! journal had been put back to an older copy: kept (sealed) so that `mend status` can say so
//! after the sync that met it has ended.

use serde::{Deserialize, Serialize};

use crate::store::{open_one, seal_one, Keys};
use crate::{atomic::write_atomic, Store, StoreError};
use mend_crypto::{JournalId, RecordKind};

pub(crate) const REFUSALS: &str = "refusals";
pub(crate) const ROLLBACKS: &str = "rollbacks";
/// Only the most recent notes are kept.
const KEEP: usize = 20;

/// Changes from one device, met in one sync, that broke the journal's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalNote {
    /// When (seconds since the epoch, UTC).
    pub at: i64,
    /// The key (hex) of the device they came from (the peer of the sync).
    pub device: String,
    /// How many changes were refused.
    pub count: u32,
    /// Why, one line per distinct reason.
    pub reasons: Vec<String>,
}

/// Changes of this device's own that a peer gave back in one sync: its journal had been put
/// back to an older copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackNote {
    /// When (seconds since the epoch, UTC).
    pub at: i64,
    /// The key (hex) of the device that gave them back.
    pub device: String,
    /// How many changes came back.
    pub count: u32,
}

/// The notes in `file` under `root`, oldest first. A damaged file reads as none.
pub(crate) fn read_notes<T: serde::de::DeserializeOwned>(
    root: &std::path::Path,
    key: &Keys,
    journal_id: JournalId,
    file: &str,
    kind: RecordKind,
) -> Vec<T> {
    open_one(&root.join(file), key, journal_id, kind)
        .ok()
        .flatten()
        .and_then(|plain| postcard::from_bytes(&plain).ok())
        .unwrap_or_default()
}

impl Store {
    /// The refusals noted so far, oldest first. A damaged file reads as none.
    pub fn refusals(&self) -> Vec<RefusalNote> {
        self.read_notes(REFUSALS, RecordKind::Refusals)
    }

    /// Note a refusal (sealed, replaced atomically; the oldest notes fall off).
    pub fn note_refusal(&self, note: RefusalNote) -> Result<(), StoreError> {
        self.add_note(REFUSALS, RecordKind::Refusals, note)
    }

    /// The rollbacks noted so far, oldest first. A damaged file reads as none.
    pub fn rollbacks(&self) -> Vec<RollbackNote> {
        self.read_notes(ROLLBACKS, RecordKind::Rollbacks)
    }

    /// Note that a peer gave back changes of this device's own.
    pub fn note_rollback(&self, note: RollbackNote) -> Result<(), StoreError> {
        self.add_note(ROLLBACKS, RecordKind::Rollbacks, note)
    }

    fn read_notes<T: serde::de::DeserializeOwned>(&self, file: &str, kind: RecordKind) -> Vec<T> {
        read_notes(self.root(), self.key(), self.journal_id(), file, kind)
    }

    fn add_note<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        file: &str,
        kind: RecordKind,
        note: T,
    ) -> Result<(), StoreError> {
        let path = self.root().join(file);
        let mut notes: Vec<T> = self.read_notes(file, kind);
        notes.push(note);
        let drop = notes.len().saturating_sub(KEEP);
        notes.drain(..drop);
        let plain = postcard::to_stdvec(&notes).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let bytes = seal_one(&path, self.key(), self.journal_id(), kind, &plain)?;
        write_atomic(&path, &bytes)
    }
}
