//! The read index: both documents' entries as they were last read out of the journal, sealed
//! under this device's own key (it holds private entries too), so that `mend list`, `search`, `promise list` and `trends` need not
//! load the Automerge documents while nothing has changed.
//!
//! The index records a fingerprint of the journal files it was read from: for each document
//! the snapshot's length and first bytes (which hold its random nonce, so every new snapshot
//! differs) and the log's length and last 16 bytes (the tag of its last record). Snapshots are
//! only ever replaced and logs only appended to (or emptied together with a new snapshot), so
//! any change to the journal changes the fingerprint. Each change appends a delta (what it did
//! to the entries, from which fingerprint to which); a reader follows them from the base and
//! uses the index only if they end at the files' fingerprint. It is a cache: when it is
//! missing, stale, damaged, from another journal or of another version, the journal is loaded
//! as usual and the index written afresh; failing to write it is never an error.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use mend_crypto::{open_record, seal_record, JournalId, RecordKind, TAG_LEN};
use mend_journal::{Entry, EntryRow as Row};
use serde::{Deserialize, Serialize};

use crate::records::{decode_records, frame};
use crate::store::{read_capped, seal_one, Doc, Keys, SNAPSHOT, SNAPSHOT_HEAD};
use crate::{StoreError, DATA_HEADER_LEN};

pub(crate) const INDEX: &str = "index";
/// The version of the index's plaintext; another version is rebuilt, not read. Bump it when
/// what the index holds, or what `Journal::entries` makes of a document, changes.
const INDEX_VERSION: u32 = 1;

/// What identifies the state of one document's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocPrint {
    pub snapshot_len: u64,
    pub snapshot_head: Vec<u8>,
    pub log_len: u64,
    pub log_tail: Vec<u8>,
}

/// What identifies the state of the journal's files: the shared document, then the private one.
/// Any change to the journal, by any process, changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint(pub(crate) [DocPrint; 2]);

/// Both documents' entries, in the order the documents give them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entries {
    pub shared: Vec<Entry>,
    pub private: Vec<Entry>,
}

impl Entries {
    /// Shared entries first, then private ones.
    pub fn into_all(self) -> Vec<Entry> {
        let mut all = self.shared;
        all.extend(self.private);
        all
    }
}

/// The index's first record, its base.
#[derive(Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    /// The version of Mend that read the entries out (how it reads them may change).
    mend: String,
    fingerprint: Fingerprint,
    shared: Vec<Row>,
    private: Vec<Row>,
}

const MEND_VERSION: &str = env!("CARGO_PKG_VERSION");

fn rows(entries: &[Entry]) -> Vec<Row> {
    entries.iter().map(Row::from).collect()
}

fn from_rows(rows: Vec<Row>) -> Option<Vec<Entry>> {
    rows.into_iter().map(Row::into_entry).collect()
}

fn read_at(f: &mut fs::File, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.seek(SeekFrom::Start(pos))?;
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// The fingerprint of one document's files in `dir` as they are now.
pub(crate) fn doc_print(dir: &Path) -> std::io::Result<DocPrint> {
    let mut snap = fs::File::open(dir.join(SNAPSHOT))?;
    let snapshot_len = snap.metadata()?.len();
    let snapshot_head = read_at(&mut snap, 0, SNAPSHOT_HEAD.min(snapshot_len as usize))?;
    let mut log = fs::File::open(dir.join(crate::store::LOG))?;
    let log_len = log.metadata()?.len();
    let log_tail = if log_len >= (DATA_HEADER_LEN + TAG_LEN) as u64 {
        read_at(&mut log, log_len - TAG_LEN as u64, TAG_LEN)?
    } else {
        Vec::new()
    };
    Ok(DocPrint {
        snapshot_len,
        snapshot_head,
        log_len,
        log_tail,
    })
}

/// The fingerprint of the journal files under `root` as they are now (a few bytes read).
pub(crate) fn fingerprint(root: &Path) -> std::io::Result<Fingerprint> {
    Ok(Fingerprint([
        doc_print(&root.join(Doc::Shared.dir()))?,
        doc_print(&root.join(Doc::Private.dir()))?,
    ]))
}

/// A change to one document's entries, appended to the index by the command that made it.
#[derive(Serialize, Deserialize)]
struct Delta {
    /// The files' fingerprint before the change and after it.
    before: Fingerprint,
    after: Fingerprint,
    private: bool,
    /// Entries written or changed, whole.
    upserts: Vec<Row>,
    /// Entries deleted.
    removed: Vec<String>,
}

/// What [`read`] found: the entries, and how many deltas it applied to the base.
pub(crate) struct Found {
    pub entries: Entries,
    pub deltas: usize,
}

/// The index's entries, if it exists, opens under `key`, and after its deltas describes the
/// files with `fingerprint`. Anything else is `None` (logged at debug level).
pub(crate) fn read(
    root: &Path,
    key: &Keys,
    journal_id: JournalId,
    fingerprint: &Fingerprint,
) -> Option<Found> {
    let path = root.join(INDEX);
    if !path.exists() {
        return None;
    }
    let found = read_chain(&path, key, journal_id, fingerprint);
    if found.is_none() {
        tracing::debug!("read index not used: stale, damaged or not this journal's");
    }
    found
}

fn read_chain(
    path: &Path,
    key: &Keys,
    journal_id: JournalId,
    fingerprint: &Fingerprint,
) -> Option<Found> {
    let bytes = read_capped(path).ok()?;
    let decoded = decode_records(&bytes).ok()?;
    if decoded.header.kind != RecordKind::ReadIndex || decoded.header.journal_id != journal_id {
        return None;
    }
    let open = |sealed: &[u8]| {
        open_record(
            key.for_kind(RecordKind::ReadIndex),
            &journal_id,
            RecordKind::ReadIndex,
            sealed,
        )
        .ok()
    };
    let (base, deltas) = decoded.records.split_first()?;
    let base: IndexFile = postcard::from_bytes(&open(base)?).ok()?;
    if base.version != INDEX_VERSION || base.mend != MEND_VERSION {
        return None;
    }
    // Follow the deltas for as long as each starts where the last ended.
    let mut running = base.fingerprint;
    let mut changed: [BTreeMap<String, Option<Row>>; 2] = Default::default();
    let mut applied = 0;
    for sealed in deltas {
        let Some(delta) = open(sealed).and_then(|p| postcard::from_bytes::<Delta>(&p).ok()) else {
            break;
        };
        if delta.before != running {
            break;
        }
        let doc = &mut changed[usize::from(delta.private)];
        for id in delta.removed {
            doc.insert(id, None);
        }
        for row in delta.upserts {
            doc.insert(row.id.clone(), Some(row));
        }
        running = delta.after;
        applied += 1;
    }
    if running != *fingerprint {
        return None;
    }
    let [shared, private] = changed;
    Some(Found {
        entries: Entries {
            shared: merged(base.shared, shared)?,
            private: merged(base.private, private)?,
        },
        deltas: applied,
    })
}

/// `rows` with `changed` applied (a row replaced or added, or removed for `None`), in the
/// order a document gives its entries: by id.
fn merged(rows: Vec<Row>, changed: BTreeMap<String, Option<Row>>) -> Option<Vec<Entry>> {
    if changed.is_empty() {
        return from_rows(rows);
    }
    let mut rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| !changed.contains_key(&r.id))
        .collect();
    rows.extend(changed.into_values().flatten());
    rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    from_rows(rows)
}

/// Append what a change did to one document's entries (`upserts` whole, `removed` by id),
/// taking the files from `before` to `after`. Only readers that reach `before` use it.
pub(crate) fn append(
    root: &Path,
    key: &Keys,
    journal_id: JournalId,
    (before, after): (Fingerprint, Fingerprint),
    doc: Doc,
    upserts: &[Entry],
    removed: Vec<String>,
) -> Result<(), StoreError> {
    let path = root.join(INDEX);
    let delta = Delta {
        before,
        after,
        private: doc == Doc::Private,
        upserts: rows(upserts),
        removed,
    };
    let plain = postcard::to_allocvec(&delta).map_err(|e| StoreError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let sealed = seal_record(
        key.for_kind(RecordKind::ReadIndex),
        &journal_id,
        RecordKind::ReadIndex,
        &plain,
    )
    .map_err(|source| StoreError::Crypto {
        path: path.clone(),
        source,
    })?;
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&frame(&sealed)))
        .map_err(StoreError::io(&path))
}

/// Replace the index with `entries`, read from files with `fingerprint`. Not fsynced: a
/// crash can at worst leave an index that fails to open, which is then rebuilt.
pub(crate) fn write(
    root: &Path,
    key: &Keys,
    journal_id: JournalId,
    fingerprint: &Fingerprint,
    entries: &Entries,
) -> Result<(), StoreError> {
    let path = root.join(INDEX);
    let file = IndexFile {
        version: INDEX_VERSION,
        mend: MEND_VERSION.to_owned(),
        fingerprint: fingerprint.clone(),
        shared: rows(&entries.shared),
        private: rows(&entries.private),
    };
    let plain = postcard::to_allocvec(&file).map_err(|e| StoreError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let bytes = seal_one(&path, key, journal_id, RecordKind::ReadIndex, &plain)?;
    // Readers share the lock, so two may write at once: each through a name of its own.
    let tmp = root.join(format!("{INDEX}.{}.tmp", std::process::id()));
    // Created exclusively, never through a symlink (one left by a process of the same pid
    // number that was killed is removed first).
    let _ = fs::remove_file(&tmp);
    let mut options = crate::atomic::private_options();
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let written = options
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Io { path, source });
    }
    remove_abandoned_temp_files(root);
    Ok(())
}

/// Remove what a reader killed while writing the index left behind (`index.<pid>.tmp`, sealed
/// but as large as the index). Only files untouched for a minute: another reader may be
/// writing its own right now.
fn remove_abandoned_temp_files(root: &Path) {
    let Ok(dir) = fs::read_dir(root) else {
        return;
    };
    let prefix = format!("{INDEX}.");
    for item in dir.flatten() {
        let name = item.file_name();
        let name = name.to_string_lossy();
        let abandoned = name.starts_with(&prefix)
            && name.ends_with(".tmp")
            && item
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if abandoned {
            let _ = fs::remove_file(item.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use mend_journal::Extra;

    #[test]
    fn every_field_of_an_entry_survives_the_index() {
        let at = |s| {
            Utc.timestamp_opt(s, 123_456_789)
                .single()
                .expect("a moment")
        };
        let full = Entry {
            id: "0123456789abcdef".into(),
            author: "Sam".into(),
            author_id: "ab".repeat(16),
            created_at: at(1_700_000_000),
            written_at: at(1_700_000_100),
            edited_at: Some(at(1_700_000_200)),
            text: "words\nover lines ✓".into(),
            tags: vec!["trust".into(), "call".into()],
            mood: Some(4),
            kind: mend_journal::Kind::Promise,
            private: true,
            conflicting_texts: vec!["other words".into()],
            extra: Extra {
                refers_to: Some("fedcba".into()),
                every: Some("week".into()),
                until: Some(at(1_800_000_000)),
                feelings: vec!["hopeful".into()],
                shared_at: Some(at(1_700_000_300)),
                retracted_at: Some(at(1_700_000_400)),
                retracted_by: Some("Sam".into()),
                prompt: Some("What helped today?".into()),
                sealed: Some("00ff".into()),
            },
        };
        let bare = Entry {
            edited_at: None,
            mood: None,
            tags: Vec::new(),
            conflicting_texts: Vec::new(),
            extra: Extra::default(),
            ..full.clone()
        };
        for e in [full, bare] {
            let bytes = postcard::to_allocvec(&Row::from(&e)).expect("encodes");
            let row: Row = postcard::from_bytes(&bytes).expect("decodes");
            assert_eq!(row.into_entry(), Some(e));
        }
    }
}
