//! Adding an entry without loading the document.
//!
//! Loading a 20,000-entry document costs Automerge about 150 ms, most of a `mend write`. Yet a
//! new entry needs little of the document: its heads (the new change depends on them), this
//! device's last change number and the highest operation counter held (where the new change's
//! operations start), the id of the `entries` map, and for the rules who this device's person
//! is and whether the device was removed. A [`Tip`] holds exactly that; the store keeps it
//! beside the journal files, valid only while they are unchanged.
//!
//! The change is built operation by operation as Automerge builds it inside
//! [`Journal::add_entry`], and the same rules check it first, so the bytes are the same as if
//! the document had been loaded (a test compares them). Entries that refer to another entry
//! (replies, receipts, answers) and relays (whose rules count the relay entries their author
//! wrote) need the document for their rules and are never added this way.

use std::num::NonZeroU64;

use automerge::legacy::{Key, ObjectId, Op, OpId, OpType, SortedVec};
use automerge::transaction::Transactable;
use automerge::{ActorId, Change, ChangeHash, ObjType, ReadDoc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Journal;
use crate::{Entry, JournalError, NewEntry, Person, Removal, Signer};

/// What adding an entry to one document needs to know of it (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    /// The document's heads, sorted.
    heads: Vec<[u8; 32]>,
    /// The `seq` of this device's last change in the document (0: none yet).
    seq: u64,
    /// The highest operation counter of any change held.
    max_op: u64,
    /// The id of the `entries` map: its counter and actor.
    entries: (u64, Vec<u8>),
    /// The journal's people, as the reader names authors.
    people: Vec<Person>,
    /// In the shared journal, this device's person (the rules' signer).
    person: Option<String>,
    /// In the shared journal, this device's removal, if it was removed.
    removed: Option<Removal>,
}

/// An entry added through a [`Tip`].
pub struct TipWrite {
    /// The log record's body, as [`Journal::signed_changes_since`] (shared) or
    /// [`Journal::changes_since`] (private) would give it for this one change.
    pub record: Vec<u8>,
    /// The entry as a reader of the document will read it.
    pub entry: Entry,
    /// The document's tip after the change.
    pub tip: Tip,
}

impl Journal {
    /// This document's [`Tip`], for adding entries later without loading it; `None` if it has
    /// no `entries` map yet.
    pub fn tip(&mut self) -> Result<Option<Tip>, JournalError> {
        let Ok(entries) = self.root_map("entries") else {
            return Ok(None);
        };
        let automerge::ObjId::Id(counter, actor, _) = entries else {
            return Ok(None);
        };
        let mut heads: Vec<[u8; 32]> = self.doc.get_heads().iter().map(|h| h.0).collect();
        heads.sort_unstable();
        let actors = self.held_actors();
        let me = ActorId::from(self.signer.actor());
        let (person, removed) = if self.private {
            (None, None)
        } else {
            (self.my_person().ok(), self.removal_of_this_device()?)
        };
        Ok(Some(Tip {
            heads,
            seq: actors.seq_of(&me),
            max_op: actors.max_op(),
            entries: (counter, actor.to_bytes().to_vec()),
            people: self.people()?,
            person,
            removed,
        }))
    }
}

impl Tip {
    /// Add `e` (whose id this device just drew at random) to the document this tip is of, as
    /// [`Journal::add_entry`] would: the same rules, the same change. `Ok(None)`: the entry
    /// refers to another one, or is a relay, so its rules need the document.
    pub fn add_entry(
        &self,
        signer: &Signer,
        journal_id: [u8; 16],
        private: bool,
        e: &NewEntry,
        now: DateTime<Utc>,
    ) -> Result<Option<TipWrite>, JournalError> {
        if let Some(r) = &self.removed {
            return Err(JournalError::Removed {
                by: r.by.clone(),
                at: r.at.format("%Y-%m-%d").to_string(),
            });
        }
        Journal::check_new(e)?;
        let fields = Journal::fields_of(e);
        // A relay's rules count the relay entries its author wrote: they need the document too.
        if fields.contains_key("ref") || e.kind == crate::Kind::Relay {
            return Ok(None);
        }
        if !private {
            let me = self.person.clone().ok_or(JournalError::NotRegistered)?;
            // Without a reference, the rules ask nothing of the document but whether the id is
            // taken, and this id was drawn at random just now: an empty document answers the same.
            let empty = automerge::AutoCommit::new();
            crate::Checker::new(&empty, journal_id)
                .check_local_entry(&e.id, &fields, &me)
                .map_err(JournalError::Rule)?;
        }
        let me = ActorId::from(signer.actor());
        // Counters near the top of the range would wrap: never from a real document.
        let overflow =
            || JournalError::Invalid("the journal's operation counters are exhausted".into());
        let start = self.max_op.checked_add(1).ok_or_else(overflow)?;
        let seq = self.seq.checked_add(1).ok_or_else(overflow)?;
        let max_op = start
            .checked_add(fields.len() as u64)
            .ok_or_else(overflow)?;
        let made = OpId(start, me.clone());
        let mut operations = Vec::with_capacity(fields.len() + 1);
        operations.push(Op {
            action: OpType::Make(ObjType::Map),
            obj: ObjectId::Id(OpId(
                self.entries.0,
                ActorId::from(self.entries.1.as_slice()),
            )),
            key: Key::Map(e.id.as_str().into()),
            pred: SortedVec::new(),
            insert: false,
        });
        for (key, value) in &fields {
            operations.push(Op {
                action: OpType::Put(value.clone()),
                obj: ObjectId::Id(made.clone()),
                key: Key::Map(key.as_str().into()),
                pred: SortedVec::new(),
                insert: false,
            });
        }
        let mut change = Change::from(automerge::ExpandedChange {
            operations,
            actor_id: me,
            hash: None,
            seq,
            start_op: NonZeroU64::new(start).ok_or_else(overflow)?,
            time: now.timestamp(),
            message: Some("write".into()),
            deps: self.heads.iter().map(|h| ChangeHash(*h)).collect(),
            extra_bytes: Vec::new(),
            author: None,
        });
        let hash = change.hash();
        let bytes = change.bytes().to_vec();
        let record = if private {
            bytes
        } else {
            let mut out = Vec::with_capacity(bytes.len() + 4 + 64);
            crate::inbound::put_bytes(&mut out, &bytes);
            out.extend_from_slice(&signer.sign(&journal_id, &hash));
            out
        };
        Ok(Some(TipWrite {
            record,
            entry: self.read_back(signer, journal_id, private, e, &fields)?,
            tip: Tip {
                heads: vec![hash.0],
                seq,
                max_op,
                ..self.clone()
            },
        }))
    }

    /// The entry as [`Journal::entries`] reads it out of the document: written into an empty
    /// one and read back by the same code.
    fn read_back(
        &self,
        signer: &Signer,
        journal_id: [u8; 16],
        private: bool,
        e: &NewEntry,
        fields: &std::collections::BTreeMap<String, automerge::ScalarValue>,
    ) -> Result<Entry, JournalError> {
        let mut scratch = Journal::blank(journal_id, signer, private);
        let entries = scratch
            .doc
            .put_object(automerge::ROOT, "entries", ObjType::Map)?;
        scratch.put_entry(&entries, &e.id, fields)?;
        let obj = match scratch.doc.get(&entries, e.id.as_str())? {
            Some((_, obj)) => obj,
            None => return Err(JournalError::NotFound(e.id.clone())),
        };
        scratch.read_entry(&e.id, &obj, &self.people)
    }
}
