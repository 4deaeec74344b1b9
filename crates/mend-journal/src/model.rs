//! The journal document and the one-change-per-action rule.
//!
//! Root of the document (see `docs/architecture.md`):
//! ```text
//! schema: int            journal_id: str          created_at: timestamp
//! people:  { person_id: { name: str, added_at: timestamp } }
//! devices: { device_key: { person: person_id, name: str, added_at: timestamp, added_by: person_id,
//!                          removed_at?, removed_by?, removed_by_device? } }
//! entries: { entry_id:  { author, created_at, written_at?, edited_at?, text: str,
//!                         tags?: str (space-separated), mood?: int, kind?: str } }
//! ```
//! Entries of the practices may also hold `ref` (the entry they answer or update), `every` and
//! `until` (promises), `feelings` (check-ins), `prompt`, `sealed` (a reveal-together answer, hex),
//! `shared_at`, `retracted_at` and `retracted_by` (a person id). See `docs/format.md`.
//! Optional fields are absent at their default: `written_at` = `created_at`, no tags, no mood,
//! kind `"entry"`.
//!
//! Only the device that creates a journal creates these root objects. A device that joins starts
//! from [`Journal::empty`] and receives them: two independently created `entries` maps would
//! conflict, and one side's entries would vanish behind the other's.
//!
//! `Journal`'s methods are spread by concern: this file (creating, loading, committing, saving),
//! `registry.rs` (people and devices), `writing.rs` (entries written, edited, retracted),
//! `reading.rs` (entries read, what changed, history) and `inbound.rs` (what arrives).

use std::collections::HashMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, TimeZone, Utc};

use crate::signed::{Sig, Signer};
use crate::{JournalError, Person};

/// What a sync session remembers about one peer; saved between sessions so that a reconnect
/// only exchanges what is new.
pub use automerge::sync::State as SyncState;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;
pub use crate::rules::TEXT_MAX_BYTES;

/// One journal document: the shared journal, or a device's private one.
///
/// The shared journal signs every change this device makes and keeps the signatures of every
/// change it holds beside the document (`crate::signed`); what arrives is checked by the rules
/// before it is applied (`crate::inbound`). The private journal is never synced and is neither
/// signed nor checked. A clone is a whole independent copy (as the fuzz targets start each
/// input from).
#[derive(Clone)]
pub struct Journal {
    pub(crate) doc: AutoCommit,
    pub(crate) private: bool,
    pub(crate) journal_id: [u8; 16],
    pub(crate) signer: Signer,
    /// The signature of every signed change held, by hash.
    pub(crate) sigs: HashMap<ChangeHash, Sig>,
    /// Changes held before signatures existed are trusted up to these heads (see
    /// `docs/threat-model.md`, "Upgrading a journal made before signed changes").
    pub(crate) legacy_heads: Vec<ChangeHash>,
    /// Changes that arrived before their dependencies, held outside the document until those
    /// come and they can be checked (`crate::inbound`), with their signatures.
    pub(crate) waiting: HashMap<ChangeHash, (automerge::Change, Option<Sig>)>,
    /// The actors of the document as of some heads (`crate::shape`), brought up to date when
    /// changes arrive.
    pub(crate) actors: Option<(Vec<ChangeHash>, crate::shape::Actors)>,
    /// The document as saved bytes, at the heads beside them: what a new device's first sync
    /// brought whole, written as its first snapshot without saving the document again.
    pub(crate) saved_copy: Option<(Vec<ChangeHash>, Vec<u8>)>,
}

pub(crate) fn ts(t: DateTime<Utc>) -> ScalarValue {
    ScalarValue::Timestamp(t.timestamp_millis())
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn options(action: &str, now: DateTime<Utc>) -> CommitOptions {
    // Automerge records change times in seconds since the epoch.
    CommitOptions::default()
        .with_message(action)
        .with_time(now.timestamp())
}

impl Journal {
    pub(crate) fn blank(journal_id: [u8; 16], signer: &Signer, private: bool) -> Self {
        Self {
            doc: AutoCommit::new().with_actor(ActorId::from(signer.actor())),
            private,
            journal_id,
            signer: signer.clone(),
            sigs: HashMap::new(),
            legacy_heads: Vec::new(),
            waiting: HashMap::new(),
            actors: None,
            saved_copy: None,
        }
    }

    /// Create a new journal with its root objects, founded by `founder`. One change. The shared
    /// journal's founding change also registers the founding device (`device_name`), signed by
    /// it: every later change is checked against that registry.
    pub fn create(
        journal_id: [u8; 16],
        founder: &Person,
        device_name: Option<&str>,
        signer: &Signer,
        private: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, JournalError> {
        let mut journal = Self::blank(journal_id, signer, private);
        let doc = &mut journal.doc;
        doc.put(automerge::ROOT, "schema", SCHEMA_VERSION)?;
        doc.put(
            automerge::ROOT,
            "journal_id",
            crate::rules::hex_lower(&journal_id),
        )?;
        doc.put(automerge::ROOT, "created_at", ts(now))?;
        let people = doc.put_object(automerge::ROOT, "people", ObjType::Map)?;
        doc.put_object(automerge::ROOT, "entries", ObjType::Map)?;
        doc.put_object(automerge::ROOT, "devices", ObjType::Map)?;
        let p = doc.put_object(&people, founder.id.as_str(), ObjType::Map)?;
        doc.put(&p, "name", founder.name.as_str())?;
        doc.put(&p, "added_at", ts(now))?;
        if let (Some(name), false) = (device_name, private) {
            let devices = match doc.get(automerge::ROOT, "devices")? {
                Some((_, id)) => id,
                None => return Err(JournalError::MissingRoot("devices")),
            };
            let key = crate::rules::hex_lower(&signer.public_key());
            let d = doc.put_object(&devices, key.as_str(), ObjType::Map)?;
            doc.put(&d, "person", founder.id.as_str())?;
            doc.put(&d, "name", name)?;
            doc.put(&d, "added_at", ts(now))?;
            doc.put(&d, "added_by", founder.id.as_str())?;
        }
        journal.commit("create journal", now);
        Ok(journal)
    }

    /// An empty document, for a device that will receive the journal from its partner.
    /// `legacy_heads`: the history its inviter held before signed changes, which this device
    /// takes on the inviter's word (empty for a journal made since).
    pub fn empty(
        journal_id: [u8; 16],
        signer: &Signer,
        private: bool,
        legacy_heads: Vec<ChangeHash>,
    ) -> Self {
        let mut journal = Self::blank(journal_id, signer, private);
        journal.legacy_heads = legacy_heads;
        journal
    }

    /// Load a saved document: a snapshot's document, the signatures of its changes and the
    /// heads up to which unsigned history is trusted.
    pub fn load(
        doc: &[u8],
        signatures: HashMap<ChangeHash, Sig>,
        legacy_heads: Vec<ChangeHash>,
        signer: &Signer,
        journal_id: [u8; 16],
        private: bool,
    ) -> Result<Self, JournalError> {
        let mut journal = Self::blank(journal_id, signer, private);
        journal.doc = AutoCommit::load(doc)?.with_actor(ActorId::from(signer.actor()));
        journal.sigs = signatures;
        journal.legacy_heads = legacy_heads;
        journal.check_schema()?;
        Ok(journal)
    }

    /// Apply changes this device wrote itself before signed changes existed (a version 1 log
    /// record, or the private journal's log, which only this device ever writes). Nothing is
    /// checked: see [`Journal::apply_signed`] for everything else.
    pub fn apply_own_unsigned(&mut self, bytes: &[u8]) -> Result<(), JournalError> {
        // Not checked against the rules, but against what Automerge assumes (`crate::shape`):
        // damaged or planted bytes are an error, never a panic.
        let changes = crate::rules::causal_order(crate::split_changes(bytes)?);
        let mut actors = self.held_actors();
        for change in changes.iter().filter(|c| !self.holds(&c.hash())) {
            actors
                .check(change)
                .and_then(|()| crate::shape::actors_in_bounds(change))
                .map_err(|why| {
                    JournalError::MalformedSync(format!("a change of this device's own log: {why}"))
                })?;
            actors.add(change);
        }
        self.doc.load_incremental(bytes)?;
        self.check_schema()
    }

    /// Trust everything held now as history from before signed changes (an upgrade).
    pub fn trust_held_history(&mut self) {
        self.legacy_heads = self.doc.get_heads();
    }

    /// The heads up to which unsigned history is trusted.
    pub fn legacy_heads(&self) -> &[ChangeHash] {
        &self.legacy_heads
    }

    /// Commit the open change as `action` and, in the shared journal, sign it.
    pub(crate) fn commit(&mut self, action: &str, now: DateTime<Utc>) {
        if let Some(hash) = self.doc.commit_with(options(action, now)) {
            if !self.private {
                let sig = self.signer.sign(&self.journal_id, &hash);
                self.sigs.insert(hash, sig);
            }
        }
    }

    pub(crate) fn check_schema(&self) -> Result<(), JournalError> {
        if let Some((v, _)) = self.doc.get(automerge::ROOT, "schema")? {
            let found = v.as_i64().unwrap_or(i64::MAX);
            if found > SCHEMA_VERSION {
                return Err(JournalError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        Ok(())
    }

    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document as bytes, without touching this instance's save state.
    pub fn clone_bytes(&self) -> Vec<u8> {
        self.doc.clone().save()
    }

    /// The changes made since `heads`, in Automerge's incremental format.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Drop changes made since the last commit (after a failed action).
    pub fn rollback(&mut self) {
        self.doc.rollback();
    }

    /// How many operations the document holds (what its load time grows with).
    pub fn op_count(&self) -> usize {
        self.doc.stats().num_ops as usize
    }

    /// The underlying document, for the sync core.
    /// The key this device signs its changes with.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    pub fn journal_id(&self) -> Result<Option<String>, JournalError> {
        Ok(self
            .doc
            .get(automerge::ROOT, "journal_id")?
            .and_then(|(v, _)| v.as_str().map(str::to_owned)))
    }

    pub(crate) fn root_map(&self, name: &'static str) -> Result<ObjId, JournalError> {
        match self.doc.get(automerge::ROOT, name)? {
            Some((Value::Object(ObjType::Map), id)) => Ok(id),
            _ => Err(JournalError::MissingRoot(name)),
        }
    }

    pub(crate) fn get_str(&self, obj: &ObjId, key: &str) -> Result<Option<String>, JournalError> {
        Ok(self
            .doc
            .get(obj, key)?
            .and_then(|(v, _)| v.as_str().map(str::to_owned)))
    }
}
