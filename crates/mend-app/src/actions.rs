//! What a person does to the journal, as actions on an open store: write an entry, move a
//! private one to the shared journal, retract or delete one. Each is one change per document,
//! made in this device's person's name; the journal's rules check it before it is made.
//! Answers to other entries (replies, receipts, promise events, reassurance) are in
//! [`crate::answering`].

use chrono::{DateTime, Utc};
use mend_crypto::random_id_hex;
use mend_journal::{inline_tags, merge_tags, Entry, EntryEdit, Extra, JournalError, NewEntry};
use mend_store::{Doc, Store};

use crate::AppError;

/// Why an action was not done.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("that entry is already shared")]
    AlreadyShared,
    #[error(transparent)]
    App(Box<AppError>),
}

impl<E: Into<AppError>> From<E> for ActionError {
    fn from(e: E) -> Self {
        ActionError::App(Box::new(e.into()))
    }
}

/// Write `entry` as person `me` to the shared journal, or to the private one: a fresh id,
/// written `now`. One change. Returns the new entry's id.
pub fn write(
    store: &mut Store,
    me: &str,
    mut entry: NewEntry,
    private: bool,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    entry.id = random_id_hex()?;
    entry.author_id = me.to_owned();
    entry.written_at = now;
    let doc = if private { Doc::Private } else { Doc::Shared };
    store.commit(doc, |j| j.add_entry(&entry, now))?;
    Ok(entry.id)
}

/// [`write`] run directly (no serve) on `device`: through what is kept beside the journal
/// while its files are unchanged (the documents are not loaded), else with the journal
/// loaded, after which what is kept is written afresh for the next command. `waiting` runs
/// once if another process holds the home's lock. Returns the new entry's id, and what
/// opening the journal found that the person should know.
pub fn write_direct(
    device: &crate::Device,
    mut entry: NewEntry,
    private: bool,
    now: DateTime<Utc>,
    waiting: impl FnOnce(),
) -> Result<(String, Vec<String>), AppError> {
    let s = &device.secrets;
    let journal_id = device.key_file.journal_id;
    let lock = device.lock(mend_store::LockMode::Write, waiting)?;
    let doc = if private { Doc::Private } else { Doc::Shared };
    entry.id = random_id_hex()?;
    entry.author_id = s.person_id.clone();
    entry.written_at = now;
    let lock = match mend_store::Cached::open(&device.home, s, journal_id, lock) {
        Ok(mut cached) => {
            if cached.add_entry(doc, &entry, now)?.is_some() {
                tracing::debug!("entry added without loading the journal");
                return Ok((entry.id, cached.warnings().to_vec()));
            }
            cached.into_lock()
        }
        Err(lock) => lock,
    };
    let mut store = Store::open(&device.home, s, journal_id, lock)?;
    store.commit(doc, |j| j.add_entry(&entry, now))?;
    let watched = crate::status::synced_heads(&store, &s.public_key_hex())?;
    store.save_tips(&watched);
    Ok((entry.id, store.warnings().to_vec()))
}

/// Move the private entry `id` to the shared journal, as it is, marked shared `now`. Shared
/// first, then removed from the private journal: a crash in between leaves a copy in both
/// places, never in neither. Returns the entry as it was.
pub fn share(
    store: &mut Store,
    me: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Entry, ActionError> {
    if store.journal(Doc::Shared).entry(id).is_ok() {
        return Err(ActionError::AlreadyShared);
    }
    let e = store.journal(Doc::Private).entry(id)?;
    let shared = NewEntry {
        id: e.id.clone(),
        author_id: e.author_id.clone(),
        created_at: e.created_at,
        written_at: e.written_at,
        edited_at: e.edited_at,
        text: e.text.clone(),
        tags: e.tags.clone(),
        mood: e.mood,
        kind: e.kind,
        extra: Extra {
            shared_at: Some(now),
            ..e.extra.clone()
        },
    };
    store.commit(Doc::Shared, |j| j.add_entry(&shared, now))?;
    store.commit(Doc::Private, |j| j.delete_entry(id, me, now))?;
    Ok(e)
}

/// The entry `id` of `doc`, if person `me` wrote it (only its author retracts or deletes it).
pub fn own_entry(store: &Store, doc: Doc, id: &str, me: &str) -> Result<Entry, AppError> {
    let e = store.journal(doc).entry(id)?;
    if e.author_id != me {
        return Err(JournalError::NotAuthor { author: e.author }.into());
    }
    Ok(e)
}

/// The entry `id` of `doc` as person `me` may edit it: their own, and not retracted. Checked
/// before an editor opens, so that nothing typed is lost to a refusal.
pub fn editable_entry(store: &Store, doc: Doc, id: &str, me: &str) -> Result<Entry, AppError> {
    let e = own_entry(store, doc, id, me)?;
    if e.extra.retracted_at.is_some() {
        return Err(JournalError::Retracted.into());
    }
    Ok(e)
}

/// Take back an entry of person `me`: a shared one is retracted (the timeline shows it as
/// retracted; its words stay in the history), a private one deleted. One change.
pub fn take_back(
    store: &mut Store,
    doc: Doc,
    id: &str,
    me: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match doc {
        Doc::Private => store.commit(doc, |j| j.delete_entry(id, me, now))?,
        Doc::Shared => store.commit(doc, |j| j.retract_entry(id, me, now))?,
    }
    Ok(())
}

/// The change that puts `text` in place of `current`'s: the tags written inline follow the
/// text, the tags given explicitly stay; each only if it differs (the text also when two
/// versions of it were kept after edits on two devices, which the new one settles). The same
/// text gives no change at all.
pub fn text_change(current: &Entry, text: &str) -> EntryEdit {
    let old_inline = inline_tags(&current.text);
    let mut tags = current.tags.clone();
    tags.retain(|tag| !old_inline.contains(tag));
    let tags = merge_tags(tags, inline_tags(text));
    let sorted = |t: &[String]| {
        let mut t = t.to_vec();
        t.sort();
        t
    };
    // The same tags in another order are no change.
    let tags_differ = sorted(&tags) != sorted(&current.tags);
    EntryEdit {
        text: (text != current.text || current.has_conflict()).then(|| text.to_owned()),
        tags: tags_differ.then_some(tags),
        ..EntryEdit::default()
    }
}

/// Edit the entry `id` of `doc`, written by person `me`. One change; none if `change` changes
/// nothing. Returns whether anything was written.
pub fn edit(
    store: &mut Store,
    doc: Doc,
    id: &str,
    me: &str,
    change: &EntryEdit,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    if *change == EntryEdit::default() {
        return Ok(false);
    }
    store.commit(doc, |j| j.edit_entry(id, me, change, now))?;
    Ok(true)
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Entries the journal's rules refuse: each with its place among the shared entries
    /// given (0-based) and why. Nothing was written.
    #[error("{} of the entries cannot be imported", .0.len())]
    Refused(Vec<(usize, String)>),
    #[error(transparent)]
    App(Box<AppError>),
}

impl<E: Into<AppError>> From<E> for ImportError {
    fn from(e: E) -> Self {
        ImportError::App(Box::new(e.into()))
    }
}

/// Import `shared` and `private` entries (already written in this device's person's name):
/// one change per document, entries whose id is held already skipped, each document's log
/// then folded into its snapshot so that opening stays fast. Returns how many were added.
/// A shared entry the rules refuse refuses the whole import, before anything is written.
pub fn import(
    store: &mut Store,
    shared: &[NewEntry],
    private: &[NewEntry],
    now: DateTime<Utc>,
) -> Result<usize, ImportError> {
    // The journal remembers at most RELAYS_MAX relays at once, as `mend relay add` keeps it:
    // live relay entries of an import past that are refused, before anything is written.
    if shared.iter().any(|e| e.kind == mend_journal::Kind::Relay) {
        let journal = store.journal(Doc::Shared);
        let held = journal.relays()?;
        let mut live = held.len();
        let mut refused = Vec::new();
        for (i, e) in shared.iter().enumerate() {
            let new_live = e.kind == mend_journal::Kind::Relay
                && e.extra.retracted_at.is_none()
                && !held.iter().any(|h| h.id == e.id);
            if new_live {
                live += 1;
                if live > crate::relays::RELAYS_MAX {
                    refused.push((
                        i,
                        format!(
                            "it would make more than {} relays remembered at once",
                            crate::relays::RELAYS_MAX
                        ),
                    ));
                }
            }
        }
        if !refused.is_empty() {
            return Err(ImportError::Refused(refused));
        }
    }
    let mut added = 0;
    for (doc, list) in [(Doc::Shared, shared), (Doc::Private, private)] {
        if list.is_empty() {
            continue;
        }
        added += match store.commit(doc, |j| j.add_entries(list, now)) {
            Err(mend_store::StoreError::Journal(JournalError::ImportRefused(refused))) => {
                return Err(ImportError::Refused(refused));
            }
            other => other?,
        };
        store.compact(doc)?;
    }
    Ok(added)
}

/// End the partnership: every device of the other person is removed, in one signed change.
/// The devices removed.
pub fn uncouple(
    store: &mut Store,
    now: DateTime<Utc>,
) -> Result<Vec<mend_journal::Device>, AppError> {
    Ok(store.commit(Doc::Shared, |j| j.uncouple(now))?)
}

/// Remove the device with key `key` from the journal, in this device's person's name (the
/// rules say who may: [`mend_journal::may_remove`]). One signed change.
pub fn remove_device(store: &mut Store, key: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    store.commit(Doc::Shared, |j| j.remove_device(key, now))?;
    Ok(())
}
