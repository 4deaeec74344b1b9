//! An open journal: both documents loaded from their snapshot and log, and durable commits.

use std::fs;
use std::path::{Path, PathBuf};

use automerge::ChangeHash;
use mend_crypto::{
    open_chained, open_record, seal_chained, seal_record, Chain, DeviceSecrets, JournalId,
    JournalKey, RecordKind,
};

/// The keys a home's records are sealed under: the journal key for the shared journal (which
/// every paired device holds, so that they can read it), and this device's own key
/// ([`DeviceSecrets::device_key`]) for everything that never leaves it: the private journal,
/// the read index, the per-peer sync states, the tips, the notes and a kept draft.
#[derive(Clone)]
pub(crate) struct Keys {
    /// The shared journal's key of the current epoch (`crate::epochs`): what is written now.
    pub(crate) shared: JournalKey,
    pub(crate) device: JournalKey,
    /// The keys of the earlier epochs, newest first (the last is the journal key), which
    /// files written before the current epoch were sealed under.
    pub(crate) older: Vec<JournalKey>,
    /// The journal key pairing gave (the first epoch's): what files of releases before
    /// device-only keys were sealed under.
    pub(crate) first: JournalKey,
    /// The removed devices the current epoch accounts for.
    pub(crate) removals: u32,
}

impl Keys {
    /// The first epoch's keys only: for what is sealed under the device's own key.
    pub(crate) fn of(secrets: &DeviceSecrets, journal_id: JournalId) -> Self {
        Self {
            shared: secrets.journal_key.clone(),
            device: secrets.device_key(&journal_id),
            older: Vec::new(),
            first: secrets.journal_key.clone(),
            removals: 0,
        }
    }

    /// The keys of the journal in `root`, with its key epochs.
    pub(crate) fn load(
        root: &Path,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
    ) -> Result<Self, StoreError> {
        let mut keys = Self::of(secrets, journal_id);
        let epochs = crate::epochs::read(root, &keys, journal_id)?;
        for key in epochs.keys {
            keys.begin_epoch(key);
        }
        keys.removals = epochs.removals;
        Ok(keys)
    }

    /// Every key `key` (what files of releases before device-only keys were sealed under).
    pub(crate) fn of_journal_key(key: &JournalKey) -> Self {
        Self {
            shared: key.clone(),
            device: key.clone(),
            older: Vec::new(),
            first: key.clone(),
            removals: 0,
        }
    }

    /// Make `key` the current epoch's.
    pub(crate) fn begin_epoch(&mut self, key: JournalKey) {
        let previous = std::mem::replace(&mut self.shared, key);
        self.older.insert(0, previous);
    }

    /// The current epoch (0: the journal key's): one per key before it.
    pub(crate) fn epoch(&self) -> usize {
        self.older.len()
    }

    /// The keys of the epochs after the first, oldest first (what the epochs file keeps).
    pub(crate) fn epoch_keys(&self) -> Vec<JournalKey> {
        let all = self.older.iter().rev().chain(std::iter::once(&self.shared));
        all.skip(1).cloned().collect()
    }

    /// The key records of `kind` are sealed under.
    pub(crate) fn for_kind(&self, kind: RecordKind) -> &JournalKey {
        if device_only(kind) {
            &self.device
        } else {
            &self.shared
        }
    }
}

/// Whether records of `kind` never leave this device (and are sealed under its own key).
pub(crate) fn device_only(kind: RecordKind) -> bool {
    !matches!(
        kind,
        RecordKind::SharedSnapshot
            | RecordKind::SharedLog
            | RecordKind::SignedSharedSnapshot
            | RecordKind::SignedSharedLog
    )
}
use mend_journal::{Journal, JournalError, SavedShared, Signer};

use crate::atomic::{append_durable, create_private_dir, write_atomic};
use crate::index::{self, Entries, Fingerprint};
use crate::records::{decode_records, encode_header, frame, DataHeader};
use crate::{Home, HomeLock, LockMode, StoreError, DATA_HEADER_LEN, RECORD_MAX_LEN};

/// Which document: the shared journal, or this device's private one (never synced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    Shared,
    Private,
}

impl Doc {
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Doc::Shared => "shared",
            Doc::Private => "private",
        }
    }
    /// The record kinds this build writes: snapshot, log.
    pub(crate) fn kinds(self) -> (RecordKind, RecordKind) {
        match self {
            Doc::Shared => (
                RecordKind::SignedSharedSnapshot,
                RecordKind::SignedSharedLog,
            ),
            Doc::Private => (RecordKind::PrivateSnapshot, RecordKind::PrivateLog),
        }
    }
    /// The kinds written before signed changes, read once and upgraded.
    fn unsigned_kinds(self) -> Option<(RecordKind, RecordKind)> {
        match self {
            Doc::Shared => Some((RecordKind::SharedSnapshot, RecordKind::SharedLog)),
            Doc::Private => None,
        }
    }
}

pub(crate) const SNAPSHOT: &str = "snapshot";
const PEERS: &str = "peers";
pub(crate) const LOG: &str = "log";
/// Compact once the log holds this many records...
const COMPACT_RECORDS: usize = 1000;
/// ...or once it is larger than both this and the snapshot.
const COMPACT_MIN_BYTES: u64 = 1024 * 1024;

struct DocFiles {
    journal: Journal,
    dir: PathBuf,
    snapshot_len: u64,
    /// The snapshot's first bytes (header, length and random nonce): a new snapshot differs.
    snapshot_head: Vec<u8>,
    log_len: u64,
    log_records: usize,
    /// Read from files written before signed changes: rewritten (upgraded) by the first
    /// process that may write.
    unsigned: bool,
    /// The private journal, read from files sealed under the journal key (before device-only
    /// keys): rewritten under this device's own key by the first process that may write.
    legacy_seal: bool,
    /// Where the next log record stands (see [`Chain`]).
    chain: Chain,
    /// A log of the release before chained records, not empty: its records are read unchained,
    /// and the first process that may write compacts it.
    legacy_chain: bool,
    /// The key the snapshot and log are sealed under (for the shared journal, an earlier
    /// epoch's until they are rewritten): records appended to the log are sealed under it.
    sealed_with: JournalKey,
}

/// Where the first record of a log stood before logs named the snapshot they follow (a log
/// with a version 1 header): read, and rewritten by the first process that may write.
pub(crate) const FIRST_LINK: Chain = Chain {
    position: 0,
    previous: [0; mend_crypto::TAG_LEN],
};

/// Where the first record of a log stands that follows the snapshot whose tag is `follows`
/// (named in the log's header and bound into that record).
pub(crate) fn first_link(follows: [u8; mend_crypto::TAG_LEN]) -> Chain {
    Chain {
        position: 0,
        previous: follows,
    }
}

/// Where the first record of the log with header `header` stands.
pub(crate) fn log_start(header: &DataHeader) -> Chain {
    header.follows.map_or(FIRST_LINK, first_link)
}

/// Whether a log whose first record is `first` was written before chained records.
pub(crate) fn unchained_log(
    key: &JournalKey,
    journal_id: JournalId,
    kind: RecordKind,
    first: &[u8],
) -> bool {
    open_chained(key, &journal_id, kind, &FIRST_LINK, first).is_err()
        && open_record(key, &journal_id, kind, first).is_ok()
}

/// Open log records standing from `chain` on (unchained if `legacy`); the plaintexts and the
/// link after the last. A record that fails names its place in the log (`first` is its index).
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_log(
    key: &JournalKey,
    journal_id: JournalId,
    kind: RecordKind,
    legacy: bool,
    mut chain: Chain,
    records: &[&[u8]],
    first: usize,
    path: &Path,
) -> Result<(Vec<Vec<u8>>, Chain), StoreError> {
    let mut plain = Vec::with_capacity(records.len());
    for (i, sealed) in records.iter().enumerate() {
        let opened = if legacy {
            open_record(key, &journal_id, kind, sealed)
        } else {
            open_chained(key, &journal_id, kind, &chain, sealed)
        };
        plain.push(opened.map_err(|_| StoreError::Corrupt {
            path: path.to_owned(),
            why: format!(
                "record {} failed authentication (altered, a record before it dropped, moved, \
                 or from another file)",
                first + i
            ),
        })?);
        chain = chain.after(sealed).ok_or_else(|| StoreError::Corrupt {
            path: path.to_owned(),
            why: format!("record {} is too short", first + i),
        })?;
    }
    Ok((plain, chain))
}

/// A reader folds the read index's deltas into a new base once there are more than this many.
const INDEX_MAX_DELTAS: usize = 32;
/// A change that touched more entries than this leaves the read index stale (to be rebuilt by
/// the next reader) rather than appending them all.
const INDEX_MAX_TOUCHED: usize = 1000;
/// At most this much entry text in one delta of the read index.
const INDEX_MAX_DELTA_BYTES: usize = 4 << 20;

/// The bytes of a snapshot that identify it.
pub(crate) const SNAPSHOT_HEAD: usize = DATA_HEADER_LEN + 4 + mend_crypto::NONCE_LEN;

/// Sizes, for `mend status` and the benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    pub snapshot_bytes: u64,
    pub log_bytes: u64,
    pub log_records: usize,
}

/// An open, locked journal.
pub struct Store {
    root: PathBuf,
    journal_id: JournalId,
    key: Keys,
    shared: DocFiles,
    private: DocFiles,
    warnings: Vec<String>,
    /// None while released (see [`Store::release`]).
    lock: Option<HomeLock>,
    /// Leave compaction to [`Store::compact_if_due`] (for long-running processes).
    defer_compaction: bool,
    /// How many times each document's files were written (or found written by another
    /// process) since the store was opened: shared, private. See [`Store::undo_to`].
    writes: [u64; 2],
    /// Which opening of the journal this is in this process: a mark taken on another opening
    /// is never undone to.
    instance: u64,
    /// A commit failed after changing a document in memory (a sync message applied, then
    /// refused by a check, or too large to write): what is in memory is no longer what is on
    /// disk, and the store must be opened again before it is used.
    stale: bool,
}

/// Where a document's files stood ([`Store::mark`]).
#[derive(Debug, Clone)]
pub struct Mark {
    doc: Doc,
    instance: u64,
    writes: u64,
    log_len: u64,
    log_records: usize,
    chain: Chain,
    snapshot_head: Vec<u8>,
}

/// Numbers the stores opened in this process ([`Store::mark`]).
static NEXT_INSTANCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn doc_index(doc: Doc) -> usize {
    usize::from(doc == Doc::Private)
}

/// Cut the file at `path` back to `len` bytes, durably.
fn truncate_durable(path: &Path, len: u64) -> Result<(), StoreError> {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(StoreError::io(path))?;
    f.set_len(len).map_err(StoreError::io(path))?;
    f.sync_data().map_err(StoreError::io(path))
}

/// Whether `e` is the shared journal's files failing to read (damaged, altered, foreign).
fn damaged_shared(e: &StoreError, root: &Path) -> bool {
    let shared = root.join(Doc::Shared.dir());
    match e {
        StoreError::Corrupt { path, .. } | StoreError::Crypto { path, .. } => {
            path.starts_with(&shared)
        }
        StoreError::Journal(_) => true,
        _ => false,
    }
}

/// The largest data file (a log) Mend reads back; nothing is written past it.
pub(crate) const LOG_MAX_LEN: u64 = RECORD_MAX_LEN as u64 * 4;

pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>, StoreError> {
    let len = fs::metadata(path).map_err(StoreError::io(path))?.len();
    if len > LOG_MAX_LEN {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            why: format!("{len} bytes is larger than Mend ever writes"),
        });
    }
    fs::read(path).map_err(StoreError::io(path))
}

impl Store {
    /// Write the first snapshot and an empty log for both documents of a new home.
    pub(crate) fn create_files(
        root: &Path,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        shared: &mut Journal,
        private: &mut Journal,
    ) -> Result<(), StoreError> {
        let keys = Keys::of(secrets, journal_id);
        for (doc, journal) in [(Doc::Shared, shared), (Doc::Private, private)] {
            let dir = root.join(doc.dir());
            create_private_dir(&dir)?;
            let (_, _, tag) = write_snapshot(&dir, &keys, journal_id, doc, journal)?;
            write_empty_log(&dir, journal_id, doc, tag)?;
        }
        Ok(())
    }

    /// Load both documents. `lock` decides whether this store may write.
    pub fn open(
        home: &Home,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        lock: HomeLock,
    ) -> Result<Self, StoreError> {
        let mut warnings = Vec::new();
        let signer = Signer::from_seed(&secrets.identity_seed);
        let keys = Keys::load(home.root(), secrets, journal_id)?;
        let mut load = |doc: Doc| -> Result<DocFiles, StoreError> {
            load_doc(
                &home.root().join(doc.dir()),
                &keys,
                journal_id,
                doc,
                &signer,
                &mut warnings,
            )
        };
        let shared = load(Doc::Shared)?;
        let private = load(Doc::Private)?;
        let mut store = Self {
            root: home.root().to_owned(),
            journal_id,
            key: keys.clone(),
            shared,
            private,
            warnings,
            lock: Some(lock),
            defer_compaction: false,
            writes: [0; 2],
            instance: NEXT_INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            stale: false,
        };
        // A journal written before signed changes: everything held now is trusted as this
        // device's history, and the files are rewritten in the signed format (a compaction:
        // a crash at any point leaves a journal that opens with everything in it).
        if store.shared.unsigned && store.lock.as_ref().map(|l| l.access) == Some(LockMode::Write) {
            store.compact(Doc::Shared)?;
            tracing::info!("upgraded the shared journal to signed changes");
        }
        let writer = store.lock.as_ref().map(|l| l.access) == Some(LockMode::Write);
        // A private journal sealed under the journal key, or a log of unchained records: the
        // compaction writes it afresh under this device's own key, chained.
        let resealing = store.private.legacy_seal;
        for doc in [Doc::Shared, Doc::Private] {
            let files = store.files_mut(doc);
            if writer && (files.legacy_chain || files.legacy_seal) {
                store.compact(doc)?;
                tracing::info!(?doc, "upgraded (device key, chained log)");
            }
        }
        if writer && resealing {
            store.reseal_legacy();
        }
        // Removals that arrived before key epochs existed (or while the epochs file could not
        // be written) begin one now.
        store.begin_epoch_if_removed()?;
        Ok(store)
    }

    /// Whether the shared journal was read from files written before signed changes and not
    /// yet upgraded (the store was opened read-only).
    pub fn needs_upgrade(&self) -> bool {
        self.shared.unsigned
    }

    /// Both documents' entries, for commands that only read them: from the read index when it
    /// matches the journal files (without loading the documents), else by loading the journal,
    /// after which the index is written afresh. Also returns what opening found that the user
    /// should know, as [`Store::warnings`] does.
    pub fn read_entries(
        home: &Home,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        lock: HomeLock,
    ) -> Result<(Entries, Vec<String>), StoreError> {
        let root = home.root();
        let print = index::fingerprint(root).ok();
        let keys = Keys::load(root, secrets, journal_id)?;
        let key = &keys;
        if let Some(print) = &print {
            if let Some(found) = index::read(root, key, journal_id, print) {
                // Fold a long chain of deltas into a new base.
                if found.deltas > INDEX_MAX_DELTAS {
                    if let Err(e) = index::write(root, key, journal_id, print, &found.entries) {
                        tracing::debug!("read index not rewritten: {e}");
                    }
                }
                return Ok((found.entries, Vec::new()));
            }
        }
        let store = match Store::open(home, secrets, journal_id, lock) {
            Ok(store) => store,
            // A damaged shared journal does not lock the private entries out: they are read
            // on their own (nothing is written), and what is damaged is said.
            Err(e) if damaged_shared(&e, root) => {
                let _lock = home.lock(LockMode::Read)?;
                let mut warnings = Vec::new();
                let signer = Signer::from_seed(&secrets.identity_seed);
                let private = load_doc(
                    &root.join(Doc::Private.dir()),
                    key,
                    journal_id,
                    Doc::Private,
                    &signer,
                    &mut warnings,
                )?;
                warnings.push(format!(
                    "the shared journal cannot be read ({e}); only this device's private \
                     entries are shown. Nothing was changed: restore the named file from a \
                     backup"
                ));
                let entries = Entries {
                    shared: Vec::new(),
                    private: private.journal.entries()?,
                };
                return Ok((entries, warnings));
            }
            Err(e) => return Err(e),
        };
        let entries = store.entries()?;
        // Only what was read from exactly these files (no torn tail dropped) is indexed.
        if let Some(print) = print.filter(|p| store.loaded_from(p)) {
            if let Err(e) = index::write(root, key, journal_id, &print, &entries) {
                tracing::debug!("read index not written: {e}");
            }
        }
        Ok((entries, store.warnings))
    }

    /// The fingerprint of the journal's files in `home` as they are now (no lock needed: a
    /// process writing meanwhile makes it differ from any fingerprint taken before or after).
    pub fn journal_print(home: &Home) -> Option<Fingerprint> {
        index::fingerprint(home.root()).ok()
    }

    /// Both documents' entries, from the read index when it matches the files (which, with
    /// the home's lock held, are what this store holds), else read out of the documents and
    /// the index written afresh; with the files' fingerprint they match. Only while locked.
    pub fn entries_current(&self) -> Result<(Entries, Option<Fingerprint>), StoreError> {
        let root = self.root.as_path();
        let print = index::fingerprint(root).ok();
        let key = &self.key;
        if let Some(print) = &print {
            if let Some(found) = index::read(root, key, self.journal_id, print) {
                return Ok((found.entries, Some(print.clone())));
            }
        }
        let entries = self.entries()?;
        let print = print.filter(|_| self.is_locked());
        if let Some(print) = &print {
            if let Err(e) = index::write(root, key, self.journal_id, print, &entries) {
                tracing::debug!("read index not written: {e}");
            }
        }
        Ok((entries, print))
    }

    /// Both documents' entries.
    pub fn entries(&self) -> Result<Entries, StoreError> {
        Ok(Entries {
            shared: self.journal(Doc::Shared).entries()?,
            private: self.journal(Doc::Private).entries()?,
        })
    }

    /// Whether the documents were loaded from files with this fingerprint.
    pub(crate) fn loaded_from(&self, print: &Fingerprint) -> bool {
        let [shared, private] = &print.0;
        [(&self.shared, shared), (&self.private, private)]
            .iter()
            .all(|(f, p)| {
                f.snapshot_len == p.snapshot_len
                    && f.snapshot_head == p.snapshot_head
                    && f.log_len == p.log_len
            })
    }

    fn files(&self, doc: Doc) -> &DocFiles {
        match doc {
            Doc::Shared => &self.shared,
            Doc::Private => &self.private,
        }
    }

    fn files_mut(&mut self, doc: Doc) -> &mut DocFiles {
        match doc {
            Doc::Shared => &mut self.shared,
            Doc::Private => &mut self.private,
        }
    }

    pub fn journal(&self, doc: Doc) -> &Journal {
        &self.files(doc).journal
    }

    /// The document for reads that need exclusive access (such as walking its history).
    /// Changes made through this are not saved: use [`Store::commit`] for that.
    pub fn journal_mut(&mut self, doc: Doc) -> &mut Journal {
        &mut self.files_mut(doc).journal
    }

    pub fn journal_id(&self) -> JournalId {
        self.journal_id
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn key(&self) -> &Keys {
        &self.key
    }

    /// What opening found that the user should know (a dropped torn record).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn stats(&self, doc: Doc) -> StoreStats {
        let f = self.files(doc);
        StoreStats {
            snapshot_bytes: f.snapshot_len,
            log_bytes: f.log_len,
            log_records: f.log_records,
        }
    }

    /// Run one user action on a document and make it durable: its changes are sealed and
    /// appended to the log and fsynced before this returns. If `action` fails, nothing is
    /// written and the document is as it was.
    pub fn commit<T>(
        &mut self,
        doc: Doc,
        action: impl FnOnce(&mut Journal) -> Result<T, JournalError>,
    ) -> Result<T, StoreError> {
        if self.lock.as_ref().map(|l| l.access) != Some(LockMode::Write) {
            return Err(StoreError::Io {
                path: self.files(doc).dir.clone(),
                source: std::io::Error::other("the journal was opened read-only"),
            });
        }
        let index_before = self.index_before_change();
        let files = self.files_mut(doc);
        let heads = files.journal.heads();
        let out = match action(&mut files.journal) {
            Ok(out) => out,
            Err(e) => {
                files.journal.rollback();
                // Changes applied before the action failed (a sync message whose changes passed
                // and then failed a check) are in memory only: never to be written later.
                if files.journal.heads() != heads {
                    self.stale = true;
                }
                return Err(e.into());
            }
        };
        if files.journal.heads() == heads {
            return Ok(out);
        }
        // A new device's first sync brought the document whole: it becomes the first snapshot
        // (the log stays empty), so nothing is saved again now and the next open loads it
        // rather than checking every change of a log record again.
        let whole =
            heads.is_empty() && doc == Doc::Shared && self.files_mut(doc).journal.has_saved_copy();
        let written = if whole {
            self.write_snapshot_of(doc)
        } else {
            self.append_record(doc, &heads)
        };
        if let Err(e) = written {
            self.stale = true;
            return Err(e);
        }
        if doc == Doc::Shared {
            self.begin_epoch_if_removed()?;
        }
        if let Some(before) = index_before {
            self.follow_in_index(doc, Some(&heads), before);
        }
        if !self.defer_compaction && self.compaction_due(doc) {
            self.compact_or_keep_log(doc)?;
        }
        Ok(out)
    }

    /// The shared journal's current key epoch on this device (0: the journal key pairing
    /// gave). See `crate::epochs`.
    pub fn journal_key_epoch(&self) -> usize {
        self.key.epoch()
    }

    /// Whether the shared journal's files are sealed under the current epoch's key.
    pub(crate) fn sealed_with_current(&self) -> bool {
        self.shared.sealed_with.expose() == self.key.shared.expose()
    }

    /// Begin a new key epoch if the registry holds removed devices (an uncoupling among them)
    /// that the current epoch does not account for: a fresh key, kept in the epochs file
    /// first, then the shared journal rewritten under it.
    fn begin_epoch_if_removed(&mut self) -> Result<(), StoreError> {
        if !self.may_write() {
            return Ok(());
        }
        let removed = self
            .shared
            .journal
            .devices()
            .map(|d| d.iter().filter(|d| d.removed.is_some()).count())
            .unwrap_or(0) as u32;
        if removed <= self.key.removals {
            return Ok(());
        }
        let path = self.root.join(crate::epochs::EPOCHS);
        let fresh = JournalKey::generate().map_err(|source| StoreError::Crypto {
            path: path.clone(),
            source,
        })?;
        let mut keys = self.key.clone();
        keys.begin_epoch(fresh);
        keys.removals = removed;
        let epochs = crate::epochs::Epochs {
            keys: keys.epoch_keys(),
            removals: removed,
        };
        crate::epochs::write(&self.root, &keys, self.journal_id, &epochs)?;
        self.key = keys;
        tracing::info!(epoch = self.key.epoch(), "began a new key epoch");
        self.compact(Doc::Shared)
    }

    /// Where `doc`'s files stand now, to be put back there by [`Store::undo_to`].
    pub fn mark(&self, doc: Doc) -> Mark {
        let f = self.files(doc);
        Mark {
            doc,
            instance: self.instance,
            writes: self.writes[doc_index(doc)],
            log_len: f.log_len,
            log_records: f.log_records,
            chain: f.chain,
            snapshot_head: f.snapshot_head.clone(),
        }
    }

    /// How many times `doc`'s files have been written since the store was opened.
    pub fn writes(&self, doc: Doc) -> u64 {
        self.writes[doc_index(doc)]
    }

    /// Put the document of `mark` back where its files stood at `mark`, when the only writes
    /// since were `own` log records of the caller's (a sync session refused at its end, say):
    /// the log is cut back to its length then and the document read again from disk. Returns
    /// whether it was done; when anything else was written meanwhile (another command, another
    /// process, a compaction), nothing is changed and it returns false.
    pub fn undo_to(&mut self, mark: &Mark, own: u64) -> Result<bool, StoreError> {
        let doc = mark.doc;
        let f = self.files(doc);
        if !self.may_write()
            || mark.instance != self.instance
            || self.writes[doc_index(doc)] != mark.writes + own
            || f.snapshot_head != mark.snapshot_head
            || f.log_records < mark.log_records
        {
            return Ok(false);
        }
        if own == 0 {
            return Ok(true);
        }
        let dir = f.dir.clone();
        let signer = f.journal.signer().clone();
        truncate_durable(&dir.join(LOG), mark.log_len)?;
        let mut warnings = Vec::new();
        let files = load_doc(
            &dir,
            &self.key,
            self.journal_id,
            doc,
            &signer,
            &mut warnings,
        )?;
        debug_assert_eq!(files.log_records, mark.log_records);
        debug_assert_eq!(files.chain, mark.chain);
        *self.files_mut(doc) = files;
        self.writes[doc_index(doc)] += 1;
        self.stale = false;
        tracing::info!(?doc, records = own, "undid a refused session's log records");
        Ok(true)
    }

    /// Whether a failed commit left the documents in memory ahead of the disk: open the store
    /// again before using it.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Compact `doc`, unless its snapshot would be larger than a reader accepts: then the log
    /// is kept as it is (said in the log, not an error: what was committed is on disk).
    fn compact_or_keep_log(&mut self, doc: Doc) -> Result<(), StoreError> {
        match self.compact(doc) {
            Err(StoreError::TooLarge { why, .. }) => {
                tracing::warn!(?doc, "not compacted: the snapshot {why}");
                Ok(())
            }
            other => other,
        }
    }

    /// Seal what `doc` holds beyond `heads` as one log record and append it durably, if the
    /// record and the log stay within what a reader accepts.
    fn append_record(
        &mut self,
        doc: Doc,
        heads: &[mend_journal::ChangeHash],
    ) -> Result<(), StoreError> {
        let journal_id = self.journal_id;
        let files = self.files_mut(doc);
        let changes = match doc {
            Doc::Shared => files.journal.signed_changes_since(heads)?,
            Doc::Private => files.journal.changes_since(heads),
        };
        let link = files.chain;
        let sealed = seal_chained(
            &files.sealed_with,
            &journal_id,
            doc.kinds().1,
            &link,
            &changes,
        )
        .map_err(|source| StoreError::Crypto {
            path: files.dir.join(LOG),
            source,
        })?;
        // A sync round can carry tens of MiB: no copy is kept longer than needed.
        drop(changes);
        let log = files.dir.join(LOG);
        if sealed.len() > RECORD_MAX_LEN {
            return Err(StoreError::TooLarge {
                path: log,
                why: format!(
                    "one change of {} MiB is more than the {} MiB Mend reads back",
                    sealed.len() >> 20,
                    RECORD_MAX_LEN >> 20
                ),
            });
        }
        let framed_len = 4 + sealed.len() as u64;
        if files.log_len + framed_len > LOG_MAX_LEN {
            return Err(StoreError::TooLarge {
                path: log,
                why: format!(
                    "the log would grow past the {} MiB Mend reads back",
                    LOG_MAX_LEN >> 20
                ),
            });
        }
        let len = (sealed.len() as u32).to_le_bytes();
        append_durable(&log, files.log_len, &[&len, &sealed])?;
        files.log_len += framed_len;
        files.log_records += 1;
        files.chain = link.after(&sealed).unwrap_or(link);
        self.writes[doc_index(doc)] += 1;
        Ok(())
    }

    fn compaction_due(&self, doc: Doc) -> bool {
        let f = self.files(doc);
        compaction_due(f.log_len, f.snapshot_len, f.log_records)
    }

    /// Whether the store holds the home's lock for writing.
    pub(crate) fn may_write(&self) -> bool {
        self.lock.as_ref().map(|l| l.access) == Some(LockMode::Write)
    }

    /// Do not compact inside [`Store::commit`]; the caller calls [`Store::compact_if_due`] when
    /// it has time (a sync answers first and folds the log afterwards).
    pub fn defer_compaction(&mut self) {
        self.defer_compaction = true;
    }

    /// Compact the documents whose log has grown past the thresholds.
    pub fn compact_if_due(&mut self) -> Result<(), StoreError> {
        for doc in [Doc::Shared, Doc::Private] {
            if self.lock.is_some() && self.compaction_due(doc) {
                self.compact_or_keep_log(doc)?;
            }
        }
        Ok(())
    }

    /// Give the home's lock back while keeping the documents in memory, so that other processes
    /// can write; [`Store::relock`] takes it again and catches up with what they wrote.
    pub fn release(&mut self) {
        self.lock = None;
    }

    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Take the lock again and apply what other processes appended meanwhile. If another process
    /// replaced a snapshot (compaction), this returns an error: open the store afresh instead.
    pub fn relock(&mut self, lock: HomeLock) -> Result<(), StoreError> {
        let journal_id = self.journal_id;
        let mut warnings = Vec::new();
        for doc in [Doc::Shared, Doc::Private] {
            let files = self.files_mut(doc);
            let snap_path = files.dir.join(SNAPSHOT);
            let now = index::doc_print(&files.dir).map_err(StoreError::io(&snap_path))?;
            if now.snapshot_head != files.snapshot_head || now.snapshot_len != files.snapshot_len {
                return Err(StoreError::Corrupt {
                    path: snap_path,
                    why: "replaced by another process; open the journal again".into(),
                });
            }
            let log_path = files.dir.join(LOG);
            let bytes = read_capped(&log_path)?;
            let decoded = decode_records(&bytes).map_err(|why| StoreError::Corrupt {
                path: log_path.clone(),
                why,
            })?;
            if decoded.records.len() < files.log_records {
                return Err(StoreError::Corrupt {
                    path: log_path,
                    why: "shorter than before; open the journal again".into(),
                });
            }
            let kind = match (files.unsigned, doc.unsigned_kinds()) {
                (true, Some((_, old))) => old,
                _ => doc.kinds().1,
            };
            let record_key = files.sealed_with.clone();
            let (plain, chain) = open_log(
                &record_key,
                journal_id,
                kind,
                files.legacy_chain,
                files.chain,
                &decoded.records[files.log_records..],
                files.log_records,
                &log_path,
            )?;
            files.chain = chain;
            let unsigned = files.unsigned;
            apply_log_records(
                &mut files.journal,
                doc,
                unsigned,
                &plain,
                &log_path,
                &mut warnings,
            )?;
            let grew = decoded.records.len() > files.log_records;
            files.log_len = decoded.valid_len as u64;
            files.log_records = decoded.records.len();
            if grew {
                self.writes[doc_index(doc)] += 1;
            }
        }
        self.warnings.extend(warnings);
        self.lock = Some(lock);
        Ok(())
    }

    fn peer_path(&self, device_key: &str) -> Result<PathBuf, StoreError> {
        peer_path(&self.root, device_key)
    }

    /// The saved sync state for a paired device, if any. A damaged one is an error.
    pub fn load_peer_state(&self, device_key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        load_peer_state(&self.root, &self.key, self.journal_id, device_key)
    }

    /// When the sync state for a paired device was last saved (the end of the last finished
    /// session with it), from the file's modification time; `None` if there is none.
    pub fn peer_state_saved_at(
        &self,
        device_key: &str,
    ) -> Result<Option<std::time::SystemTime>, StoreError> {
        peer_state_saved_at(&self.root, device_key)
    }

    /// The sync states and notes a release before device-only keys sealed under the journal
    /// key, sealed again under this device's own key (the read index and the tips, being
    /// caches, are simply written afresh). What cannot be read either way is left as it is.
    fn reseal_legacy(&self) {
        let shared_only = Keys::of_journal_key(&self.key.first);
        let mut files: Vec<(PathBuf, RecordKind)> = vec![
            (
                self.root.join(crate::refusals::REFUSALS),
                RecordKind::Refusals,
            ),
            (
                self.root.join(crate::refusals::ROLLBACKS),
                RecordKind::Rollbacks,
            ),
        ];
        if let Ok(peers) = fs::read_dir(self.root.join(PEERS)) {
            files.extend(
                peers
                    .flatten()
                    .map(|p| (p.path(), RecordKind::SyncState))
                    .filter(|(p, _)| p.extension().is_none()),
            );
        }
        for (path, kind) in files {
            if open_one(&path, &self.key, self.journal_id, kind).is_ok() {
                continue;
            }
            let Ok(Some(plain)) = open_one(&path, &shared_only, self.journal_id, kind) else {
                continue;
            };
            let resealed = seal_one(&path, &self.key, self.journal_id, kind, &plain)
                .and_then(|bytes| write_atomic(&path, &bytes));
            if let Err(e) = resealed {
                tracing::warn!("{}: not sealed again: {e}", path.display());
            }
        }
    }

    /// Save the sync state for a paired device (sealed, replaced atomically).
    pub fn save_peer_state(&self, device_key: &str, state: &[u8]) -> Result<(), StoreError> {
        let path = self.peer_path(device_key)?;
        create_private_dir(&self.root.join(PEERS))?;
        let bytes = seal_one(
            &path,
            &self.key,
            self.journal_id,
            RecordKind::SyncState,
            state,
        )?;
        write_atomic(&path, &bytes)
    }

    /// Fold the log into a new snapshot. A crash at any point leaves a journal that opens with
    /// everything in it: the new snapshot is renamed into place before the log is emptied, and
    /// applying log records the snapshot already holds changes nothing.
    pub fn compact(&mut self, doc: Doc) -> Result<(), StoreError> {
        let index_before = self.index_before_change();
        self.write_snapshot_of(doc)?;
        if let Some(before) = index_before {
            self.follow_in_index(doc, None, before);
        }
        Ok(())
    }

    /// Write `doc` whole as its snapshot and empty its log (the read index is the caller's).
    fn write_snapshot_of(&mut self, doc: Doc) -> Result<(), StoreError> {
        let journal_id = self.journal_id;
        let key = self.key.clone();
        let files = self.files_mut(doc);
        let (len, head, tag) =
            write_snapshot(&files.dir, &key, journal_id, doc, &mut files.journal)?;
        files.snapshot_len = len;
        files.snapshot_head = head;
        files.log_len = write_empty_log(&files.dir, journal_id, doc, tag)?;
        files.log_records = 0;
        files.unsigned = false;
        files.legacy_seal = false;
        files.sealed_with = key.for_kind(doc.kinds().0).clone();
        files.chain = first_link(tag);
        files.legacy_chain = false;
        tracing::debug!(?doc, snapshot_bytes = files.snapshot_len, "compacted");
        self.writes[doc_index(doc)] += 1;
        Ok(())
    }

    /// The journal files' fingerprint before a change, when there is a read index to keep
    /// current and it has not grown past a few times the journal's own size.
    fn index_before_change(&self) -> Option<Fingerprint> {
        let len = fs::metadata(self.root.join(index::INDEX)).ok()?.len();
        let data: u64 = [&self.shared, &self.private]
            .iter()
            .map(|f| f.snapshot_len + f.log_len)
            .sum();
        if len > 4 * data + 4 * 1024 * 1024 {
            return None;
        }
        index::fingerprint(&self.root).ok()
    }

    /// Append to the read index what the change to `doc` since `heads` did to its entries
    /// (`None`: the files changed but no entry did), so that the next reader need not load
    /// the journal. When that cannot be told cheaply nothing is appended, and the next reader
    /// finds the index stale and rebuilds it. Never fails the change itself.
    fn follow_in_index(&mut self, doc: Doc, heads: Option<&[ChangeHash]>, before: Fingerprint) {
        let journal = &mut self.files_mut(doc).journal;
        let touched = match heads {
            Some(heads) => journal.entries_touched_since(heads, INDEX_MAX_TOUCHED),
            None => Some(Default::default()),
        };
        let Some(touched) = touched else {
            tracing::debug!(
                ?doc,
                "read index left stale: the change was not only to entries"
            );
            return;
        };
        let appended = journal
            .entries_with_ids(&touched)
            .map_err(StoreError::from)
            .and_then(|(upserts, removed)| {
                // A delta as large as the entries it carries would be a copy of them in memory
                // and on disk: past a few MiB the next reader rebuilds the index instead.
                let bytes: usize = upserts.iter().map(|e| e.text.len()).sum();
                if bytes > INDEX_MAX_DELTA_BYTES {
                    return Err(StoreError::TooLarge {
                        path: self.root.join(index::INDEX),
                        why: format!("a delta of {} MiB", bytes >> 20),
                    });
                }
                let after = index::fingerprint(&self.root).map_err(StoreError::io(&self.root))?;
                let prints = (before, after);
                index::append(
                    &self.root,
                    &self.key,
                    self.journal_id,
                    prints,
                    doc,
                    &upserts,
                    removed,
                )
            });
        if let Err(e) = appended {
            tracing::debug!(?doc, "read index left stale: {e}");
        }
    }
}

fn write_snapshot(
    dir: &Path,
    key: &Keys,
    journal_id: JournalId,
    doc: Doc,
    journal: &mut Journal,
) -> Result<(u64, Vec<u8>, [u8; mend_crypto::TAG_LEN]), StoreError> {
    let path = dir.join(SNAPSHOT);
    let body = match doc {
        Doc::Shared => journal.save_signed(),
        Doc::Private => journal.save(),
    };
    let bytes = seal_one(&path, key, journal_id, doc.kinds().0, &body)?;
    write_atomic(&path, &bytes)?;
    let tag = Chain::tag_of(&bytes).expect("a sealed record ends with its tag");
    Ok((bytes.len() as u64, bytes[..SNAPSHOT_HEAD].to_vec(), tag))
}

/// A data file holding one record: `plain` sealed as `kind` (for `path`, named in errors).
/// Whether a document's log has grown enough to be folded into a new snapshot.
pub(crate) fn compaction_due(log_len: u64, snapshot_len: u64, log_records: usize) -> bool {
    log_len > snapshot_len.max(COMPACT_MIN_BYTES) || log_records >= COMPACT_RECORDS
}

/// Where the sync state for the paired device `device_key` is kept under `root`.
pub(crate) fn peer_path(root: &Path, device_key: &str) -> Result<PathBuf, StoreError> {
    let valid = !device_key.is_empty()
        && device_key.len() <= 128
        && device_key
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
    if !valid {
        return Err(StoreError::Corrupt {
            path: root.join(PEERS),
            why: format!("{device_key:?} is not a device key"),
        });
    }
    Ok(root.join(PEERS).join(device_key))
}

/// The saved sync state for a paired device, if any. A damaged one is an error.
pub(crate) fn load_peer_state(
    root: &Path,
    key: &Keys,
    journal_id: JournalId,
    device_key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let path = peer_path(root, device_key)?;
    match open_one(&path, key, journal_id, RecordKind::SyncState) {
        // Saved by a release before device-only keys, under the journal key: not trusted
        // now (the partner holds that key). The next session starts from nothing, which
        // costs one fuller exchange and loses nothing.
        Err(_) if legacy_peer_state(&path, key, journal_id) => Ok(None),
        other => other,
    }
}

/// Whether the sync state at `path` was sealed under the journal key (before device-only keys).
fn legacy_peer_state(path: &Path, key: &Keys, journal_id: JournalId) -> bool {
    let shared_only = Keys::of_journal_key(&key.first);
    open_one(path, &shared_only, journal_id, RecordKind::SyncState).is_ok()
}

/// When the sync state for a paired device was last saved, from the file's modification time.
pub(crate) fn peer_state_saved_at(
    root: &Path,
    device_key: &str,
) -> Result<Option<std::time::SystemTime>, StoreError> {
    let path = peer_path(root, device_key)?;
    match std::fs::metadata(&path) {
        Ok(m) => Ok(m.modified().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(&path)(e)),
    }
}

pub(crate) fn seal_one(
    path: &Path,
    key: &Keys,
    journal_id: JournalId,
    kind: RecordKind,
    plain: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let sealed = seal_record(key.for_kind(kind), &journal_id, kind, plain).map_err(|source| {
        StoreError::Crypto {
            path: path.to_owned(),
            source,
        }
    })?;
    // What a reader would refuse is never written.
    if sealed.len() > RECORD_MAX_LEN {
        return Err(StoreError::TooLarge {
            path: path.to_owned(),
            why: format!(
                "it would hold {} MiB, more than the {} MiB Mend reads back",
                sealed.len() >> 20,
                RECORD_MAX_LEN >> 20
            ),
        });
    }
    let mut bytes = encode_header(&DataHeader {
        kind,
        journal_id,
        follows: None,
    });
    bytes.extend(frame(&sealed));
    Ok(bytes)
}

/// The plaintext of a data file written by [`seal_one`], or `None` if there is no such file.
/// A file of another kind or journal, or one that fails authentication, is an error.
pub(crate) fn open_one(
    path: &Path,
    key: &Keys,
    journal_id: JournalId,
    kind: RecordKind,
) -> Result<Option<Vec<u8>>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let corrupt = |why: &str| StoreError::Corrupt {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let bytes = read_capped(path)?;
    let decoded = decode_records(&bytes).map_err(|why| corrupt(&why))?;
    if decoded.header.kind != kind || decoded.header.journal_id != journal_id {
        return Err(corrupt("it belongs to another kind of file or journal"));
    }
    if decoded.records.len() != 1 || decoded.torn_bytes != 0 {
        return Err(corrupt("it must hold exactly one whole record"));
    }
    open_record(key.for_kind(kind), &journal_id, kind, decoded.records[0])
        .map(Some)
        .map_err(|_| corrupt("its record failed authentication"))
}

/// An empty log after the snapshot whose sealed record ends with `follows` (its tag).
fn write_empty_log(
    dir: &Path,
    journal_id: JournalId,
    doc: Doc,
    follows: [u8; mend_crypto::TAG_LEN],
) -> Result<u64, StoreError> {
    let header = encode_header(&DataHeader {
        kind: doc.kinds().1,
        journal_id,
        follows: Some(follows),
    });
    write_atomic(&dir.join(LOG), &header)?;
    Ok(header.len() as u64)
}

/// Apply log records' bodies to their document: the shared journal's are checked change by
/// change, in one batch, and what breaks the rules is left out with a warning; unsigned records
/// (written before signed changes) and the private journal's are this device's own.
fn apply_log_records(
    journal: &mut Journal,
    doc: Doc,
    unsigned: bool,
    plain: &[Vec<u8>],
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<(), StoreError> {
    if doc == Doc::Private || unsigned {
        for body in plain {
            journal.apply_own_unsigned(body)?;
        }
        return Ok(());
    }
    if plain.is_empty() {
        return Ok(());
    }
    let admission = journal
        .apply_signed_records(plain.iter().map(Vec::as_slice))
        .map_err(|e| StoreError::Corrupt {
            path: path.to_owned(),
            why: format!("a record cannot be read: {e}"),
        })?;
    if let Some(first) = admission.refused.first() {
        let msg = format!(
            "{}: {} change(s) broke the journal's rules and were left out ({})",
            path.display(),
            admission.refused.len(),
            first.why
        );
        tracing::warn!("{msg}");
        warnings.push(msg);
    }
    Ok(())
}

/// Whether every change in log record bodies `plain` is held by `journal` already.
fn log_records_held(journal: &Journal, doc: Doc, unsigned: bool, plain: &[Vec<u8>]) -> bool {
    let signed = doc == Doc::Shared && !unsigned;
    plain.iter().all(|body| journal.holds_record(body, signed))
}

fn load_doc(
    dir: &Path,
    key: &Keys,
    journal_id: JournalId,
    doc: Doc,
    signer: &Signer,
    warnings: &mut Vec<String>,
) -> Result<DocFiles, StoreError> {
    let corrupt = |path: &Path, why: String| StoreError::Corrupt {
        path: path.to_owned(),
        why,
    };
    let check_header = |path: &Path, h: &DataHeader, kind: RecordKind| {
        if h.kind != kind {
            return Err(corrupt(path, "it holds records of another kind".into()));
        }
        if h.journal_id != journal_id {
            return Err(corrupt(path, "it belongs to another journal".into()));
        }
        Ok(())
    };
    let open =
        |record_key: &JournalKey, path: &Path, kind: RecordKind, sealed: &[u8], index: usize| {
            open_record(record_key, &journal_id, kind, sealed).map_err(|_| {
                corrupt(
                    path,
                    format!("record {index} failed authentication (altered, or from another file)"),
                )
            })
        };

    let snap_path = dir.join(SNAPSHOT);
    if !snap_path.exists() {
        return Err(corrupt(&snap_path, "the file is missing".into()));
    }
    let snap_bytes = read_capped(&snap_path)?;
    let decoded = decode_records(&snap_bytes).map_err(|why| corrupt(&snap_path, why))?;
    // Written before signed changes? Then both files are read as they were and upgraded.
    let unsigned = doc
        .unsigned_kinds()
        .is_some_and(|(snap, _)| decoded.header.kind == snap);
    let (snap_kind, log_kind) = match doc.unsigned_kinds() {
        Some(kinds) if unsigned => kinds,
        _ => doc.kinds(),
    };
    check_header(&snap_path, &decoded.header, snap_kind)?;
    if decoded.records.len() != 1 || decoded.torn_bytes != 0 {
        return Err(corrupt(
            &snap_path,
            "a snapshot holds exactly one whole record".into(),
        ));
    }
    // The private journal of a release before device-only keys was sealed under the journal
    // key: read so, and upgraded (sealed under this device's own key) by the first process
    // that may write. Once upgraded, nothing sealed under the journal key is accepted there.
    let mut record_key = key.for_kind(snap_kind);
    let mut legacy_seal = false;
    let plain = match open(record_key, &snap_path, snap_kind, decoded.records[0], 0) {
        Err(_)
            if doc == Doc::Private
                && open_record(&key.first, &journal_id, snap_kind, decoded.records[0]).is_ok() =>
        {
            legacy_seal = true;
            record_key = &key.first;
            open(record_key, &snap_path, snap_kind, decoded.records[0], 0)?
        }
        // The shared journal sealed under an earlier epoch's key: a new epoch began and the
        // process that began it stopped before rewriting the journal. Read so, and rewritten
        // under the current key by the first process that may write.
        Err(e) if doc == Doc::Shared => {
            let earlier = key
                .older
                .iter()
                .find(|k| open_record(k, &journal_id, snap_kind, decoded.records[0]).is_ok())
                .ok_or(e)?;
            legacy_seal = true;
            record_key = earlier;
            open(record_key, &snap_path, snap_kind, decoded.records[0], 0)?
        }
        other => other?,
    };
    let jid = journal_id.0;
    let mut journal = if doc == Doc::Shared && !unsigned {
        let saved = SavedShared::decode(&plain).map_err(|e| corrupt(&snap_path, e.to_string()))?;
        Journal::load(
            &saved.doc,
            saved.signatures,
            saved.legacy_heads,
            signer,
            jid,
            false,
        )?
    } else {
        Journal::load(
            &plain,
            Default::default(),
            Vec::new(),
            signer,
            jid,
            doc == Doc::Private,
        )?
    };
    let mut unsigned_log = unsigned;
    let snapshot_tag = Chain::tag_of(decoded.records[0]).expect("a whole sealed record");

    let log_path = dir.join(LOG);
    let log_bytes = read_capped(&log_path)?;
    let decoded = decode_records(&log_bytes).map_err(|why| corrupt(&log_path, why))?;
    // A crash during the upgrade can leave a signed snapshot beside the old log, whose records
    // the snapshot already holds.
    let log_kind = match doc.unsigned_kinds() {
        Some((_, old)) if decoded.header.kind == old => {
            unsigned_log = true;
            old
        }
        _ => log_kind,
    };
    check_header(&log_path, &decoded.header, log_kind)?;
    // Records are chained (each binds its position and the tag of the one before), so one
    // dropped from the middle of the log, or records put in another order, fail to open. A
    // log of the release before is read unchained, and compacted by the first writer.
    let legacy_chain = decoded
        .records
        .first()
        .is_some_and(|first| unchained_log(record_key, journal_id, log_kind, first));
    let start = log_start(&decoded.header);
    // A log of a release before logs named their snapshot: read as it is, and rewritten (with
    // the snapshot it follows named) by the first process that may write.
    if decoded.header.follows.is_none() {
        legacy_seal = true;
    }
    let follows_another = decoded
        .header
        .follows
        .is_some_and(|tag| tag != snapshot_tag);
    let (plain, chain) = if follows_another {
        // The log follows another snapshot than this one. Either a rewrite (a compaction, a
        // new key epoch) stopped between writing the snapshot and emptying the log, and the
        // snapshot already holds everything in it: left unread, and emptied by the first
        // process that may write. Or the snapshot was put back to an older copy than the log:
        // refused, naming both, rather than opened without what the log holds.
        let opened = std::iter::once(record_key)
            .chain(key.older.iter())
            .find_map(|k| {
                open_log(
                    k,
                    journal_id,
                    log_kind,
                    false,
                    start,
                    &decoded.records,
                    0,
                    &log_path,
                )
                .ok()
            })
            .ok_or_else(|| {
                corrupt(
                    &log_path,
                    "it does not follow the snapshot beside it, and its records cannot be \
                     opened"
                        .into(),
                )
            })?;
        if !log_records_held(&journal, doc, unsigned_log, &opened.0) {
            return Err(corrupt(
                &log_path,
                format!(
                    "it was written after another snapshot than {}: that file was put back \
                     to an older copy (or the log copied from elsewhere), and opening them \
                     together would lose what the log holds; put back the snapshot that goes \
                     with it",
                    snap_path.display()
                ),
            ));
        }
        legacy_seal = true;
        (Vec::new(), first_link(snapshot_tag))
    } else {
        open_log(
            record_key,
            journal_id,
            log_kind,
            legacy_chain,
            start,
            &decoded.records,
            0,
            &log_path,
        )?
    };
    apply_log_records(&mut journal, doc, unsigned_log, &plain, &log_path, warnings)?;
    let unsigned = unsigned || unsigned_log;
    if unsigned {
        journal.trust_held_history();
    }
    if decoded.torn_bytes > 0 {
        let msg = format!(
            "{}: dropped a torn final record ({} bytes) left by an interrupted write; \
             every earlier record is intact",
            log_path.display(),
            decoded.torn_bytes
        );
        tracing::warn!("{msg}");
        warnings.push(msg);
    }
    Ok(DocFiles {
        journal,
        dir: dir.to_owned(),
        snapshot_len: snap_bytes.len() as u64,
        snapshot_head: snap_bytes[..SNAPSHOT_HEAD.min(snap_bytes.len())].to_vec(),
        log_len: decoded.valid_len as u64,
        log_records: decoded.records.len(),
        unsigned,
        legacy_seal,
        chain,
        legacy_chain,
        sealed_with: record_key.clone(),
    })
}
