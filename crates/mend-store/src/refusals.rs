//! What this device refused from its peers: kept (sealed) so that `mend status` can say so
//! after the sync that met it has ended.

use serde::{Deserialize, Serialize};

use crate::store::{open_one, seal_one};
use crate::{atomic::write_atomic, Store, StoreError};
use mend_crypto::RecordKind;

const REFUSALS: &str = "refusals";
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

impl Store {
    /// The refusals noted so far, oldest first. A damaged file reads as none.
    pub fn refusals(&self) -> Vec<RefusalNote> {
        let path = self.root().join(REFUSALS);
        open_one(&path, self.key(), self.journal_id(), RecordKind::Refusals)
            .ok()
            .flatten()
            .and_then(|plain| postcard::from_bytes(&plain).ok())
            .unwrap_or_default()
    }

    /// Note a refusal (sealed, replaced atomically; the oldest notes fall off).
    pub fn note_refusal(&self, note: RefusalNote) -> Result<(), StoreError> {
        let path = self.root().join(REFUSALS);
        let mut notes = self.refusals();
        notes.push(note);
        let drop = notes.len().saturating_sub(KEEP);
        notes.drain(..drop);
        let plain = postcard::to_stdvec(&notes).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let bytes = seal_one(
            &path,
            self.key(),
            self.journal_id(),
            RecordKind::Refusals,
            &plain,
        )?;
        write_atomic(&path, &bytes)
    }
}
