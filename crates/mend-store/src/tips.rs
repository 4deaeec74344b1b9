//! What `mend write` and `mend status` need to know of the journal, kept beside it so that
//! they need not load the Automerge documents (about 150 ms each at 20,000 entries).
//!
//! The `tips` file holds, sealed under this device's own key: each document's [`Tip`] (what adding
//! an entry needs), the registry (people and devices), each log's record count, and for the
//! heads at which paired devices last synced, the entries changed since. It names the
//! journal files' fingerprint it was read from (see `crate::index`) and is used only while
//! the files still have that fingerprint: any change to them by any other path (a sync, an
//! edit, a compaction) makes it stale, and the next command loads the journal as before and
//! writes it afresh. An entry added through it updates it. It is a cache: missing, stale,
//! damaged or of another version, it is ignored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mend_crypto::{DeviceSecrets, JournalId, RecordKind};
use mend_journal::{ChangeHash, Device, Entry, NewEntry, Person, Signer, Tip};
use serde::{Deserialize, Serialize};

use crate::atomic::{append_durable, write_atomic};
use crate::index::{self, Fingerprint};
use crate::records::{frame, RECORD_MAX_LEN};
use crate::refusals::{read_notes, REFUSALS, ROLLBACKS};
use crate::store::{open_one, seal_one, Doc, Keys, LOG, LOG_MAX_LEN};
use crate::{Entries, Home, HomeLock, LockMode, RefusalNote, RollbackNote, Store, StoreError};

pub(crate) const TIPS: &str = "tips";
/// The version of the tips file's plaintext; another version is ignored.
const TIPS_VERSION: u32 = 1;
const MEND_VERSION: &str = env!("CARGO_PKG_VERSION");
/// At most this many heads of paired devices are followed.
const WATCHED_MAX: usize = 64;

#[derive(Serialize, Deserialize)]
struct TipsFile {
    version: u32,
    mend: String,
    fingerprint: Fingerprint,
    /// The shared document's tip, then the private one's.
    tips: [Option<Tip>; 2],
    /// Records in each log since its snapshot.
    log_records: [usize; 2],
    people: Vec<Person>,
    devices: Vec<Device>,
    /// For heads of the shared document (sorted), the entries changed since then.
    changed_since: Vec<(Vec<[u8; 32]>, BTreeSet<String>)>,
    /// What opening the files found that the person should know ([`Store::warnings`]).
    warnings: Vec<String>,
}

fn sorted(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
    out.sort_unstable();
    out
}

fn doc_at(doc: Doc) -> usize {
    usize::from(doc == Doc::Private)
}

impl Store {
    /// Write the tips file for the files as they are now, following the entries changed
    /// since each of `watched` (the heads at which paired devices last synced). Only with
    /// the journal locked for writing and in step with its files; failing is never an error
    /// for the caller (logged).
    pub fn save_tips(&mut self, watched: &[Vec<ChangeHash>]) {
        if let Err(e) = self.try_save_tips(watched) {
            tracing::debug!("tips not written: {e}");
        }
    }

    fn try_save_tips(&mut self, watched: &[Vec<ChangeHash>]) -> Result<(), StoreError> {
        // The quick write appends under the current epoch's key: not while the shared journal
        // is still sealed under an earlier one.
        if !self.may_write() || self.is_stale() || !self.sealed_with_current() {
            return Ok(());
        }
        let root = self.root().to_owned();
        let fingerprint = index::fingerprint(&root).map_err(StoreError::io(&root))?;
        if !self.loaded_from(&fingerprint) {
            return Ok(());
        }
        let mut changed_since = Vec::new();
        for heads in watched.iter().take(WATCHED_MAX) {
            if let Some(ids) = self.journal_mut(Doc::Shared).entries_changed_since(heads) {
                changed_since.push((sorted(heads), ids));
            }
        }
        let shared = self.journal(Doc::Shared);
        let (people, devices) = (shared.people()?, shared.devices()?);
        let file = TipsFile {
            version: TIPS_VERSION,
            mend: MEND_VERSION.to_owned(),
            fingerprint,
            tips: [
                self.journal_mut(Doc::Shared).tip()?,
                self.journal_mut(Doc::Private).tip()?,
            ],
            log_records: [
                self.stats(Doc::Shared).log_records,
                self.stats(Doc::Private).log_records,
            ],
            people,
            devices,
            changed_since,
            warnings: self.warnings().to_vec(),
        };
        write_tips(&root, self.key(), self.journal_id(), &file)
    }
}

fn write_tips(
    root: &Path,
    key: &Keys,
    journal_id: JournalId,
    file: &TipsFile,
) -> Result<(), StoreError> {
    let path = root.join(TIPS);
    let plain = postcard::to_allocvec(file).map_err(|e| StoreError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let bytes = seal_one(&path, key, journal_id, RecordKind::Tips, &plain)?;
    write_atomic(&path, &bytes)
}

/// Whether every record of both documents' files opens under `key` as the kind its file
/// holds, with no torn tail.
fn records_authenticate(root: &Path, key: &Keys, journal_id: JournalId) -> bool {
    [Doc::Shared, Doc::Private].iter().all(|doc| {
        let (snap, log) = doc.kinds();
        [(crate::store::SNAPSHOT, snap), (LOG, log)]
            .iter()
            .all(|(name, kind)| {
                let Ok(bytes) = crate::store::read_capped(&root.join(doc.dir()).join(name)) else {
                    return false;
                };
                let Ok(decoded) = crate::records::decode_records(&bytes) else {
                    return false;
                };
                if decoded.header.kind != *kind
                    || decoded.header.journal_id != journal_id
                    || decoded.torn_bytes != 0
                {
                    return false;
                }
                let key = key.for_kind(*kind);
                if *name == LOG {
                    // Chained, as loading reads them (an unchained log is loaded and upgraded).
                    crate::store::open_log(
                        key,
                        journal_id,
                        *kind,
                        false,
                        crate::store::log_start(&decoded.header),
                        &decoded.records,
                        0,
                        Path::new(LOG),
                    )
                    .is_ok()
                } else {
                    decoded.records.iter().all(|sealed| {
                        mend_crypto::open_record(key, &journal_id, *kind, sealed).is_ok()
                    })
                }
            })
    })
}

/// The link at which a record appended to the log of `dir` stands: after its last record
/// (whose tag ends the log's first `log_len` bytes), or the first link of an empty log.
fn next_link(log: &Path, log_len: u64, records: usize) -> Result<mend_crypto::Chain, StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    if records == 0 {
        // The first record binds the snapshot the log follows, named in its header.
        let mut header = vec![0u8; crate::records::LOG_HEADER_LEN.min(log_len as usize)];
        let mut f = std::fs::File::open(log).map_err(StoreError::io(log))?;
        f.read_exact(&mut header).map_err(StoreError::io(log))?;
        let decoded =
            crate::records::decode_records(&header).map_err(|why| StoreError::Corrupt {
                path: log.to_owned(),
                why,
            })?;
        return Ok(crate::store::log_start(&decoded.header));
    }
    let tag_len = mend_crypto::TAG_LEN as u64;
    let mut f = std::fs::File::open(log).map_err(StoreError::io(log))?;
    f.seek(SeekFrom::Start(log_len.saturating_sub(tag_len)))
        .map_err(StoreError::io(log))?;
    let mut previous = [0u8; mend_crypto::TAG_LEN];
    f.read_exact(&mut previous).map_err(StoreError::io(log))?;
    Ok(mend_crypto::Chain {
        position: records as u64,
        previous,
    })
}

fn read_tips(root: &Path, key: &Keys, journal_id: JournalId) -> Option<TipsFile> {
    let plain = open_one(&root.join(TIPS), key, journal_id, RecordKind::Tips).ok()??;
    let file = postcard::from_bytes::<TipsFile>(&plain).ok()?;
    (file.version == TIPS_VERSION && file.mend == MEND_VERSION).then_some(file)
}

/// The journal as its tips file describes it, while its files are unchanged: enough to add
/// an entry and to say where things stand, without loading the documents.
pub struct Cached {
    root: PathBuf,
    key: Keys,
    journal_id: JournalId,
    signer: Signer,
    lock: HomeLock,
    file: TipsFile,
}

impl Cached {
    /// The journal of `home` as its tips file describes it, under `lock`; the lock back if
    /// there is no such file, or it does not describe the files as they are now.
    pub fn open(
        home: &Home,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        lock: HomeLock,
    ) -> Result<Self, HomeLock> {
        let root = home.root().to_owned();
        let Ok(keys) = Keys::load(&root, secrets, journal_id) else {
            return Err(lock);
        };
        let key = &keys;
        let Some(file) = read_tips(&root, key, journal_id) else {
            return Err(lock);
        };
        match index::fingerprint(&root) {
            Ok(print) if print == file.fingerprint => {}
            _ => return Err(lock),
        }
        // The fingerprint reads a few bytes only: a record damaged in the middle of a file
        // keeps it. Every record must still authenticate, as loading would check, or the
        // journal is loaded and the damage reported as usual. (Opening, not parsing: about
        // a millisecond a megabyte.)
        if !records_authenticate(&root, key, journal_id) {
            return Err(lock);
        }
        Ok(Self {
            key: key.clone(),
            root,
            journal_id,
            signer: Signer::from_seed(&secrets.identity_seed),
            lock,
            file,
        })
    }

    /// Give the lock back (to open the journal as usual under it).
    pub fn into_lock(self) -> HomeLock {
        self.lock
    }

    /// Add `e` (its id just drawn at random) to `doc` as one signed change, made durable
    /// before this returns, as [`Store::commit`] with [`mend_journal::Journal::add_entry`]
    /// would. `Ok(None)`, with nothing written: this needs the document (the entry refers to
    /// another one, or the log is due to be compacted).
    pub fn add_entry(
        &mut self,
        doc: Doc,
        e: &NewEntry,
        now: DateTime<Utc>,
    ) -> Result<Option<Entry>, StoreError> {
        if self.lock.access != LockMode::Write {
            return Ok(None);
        }
        let at = doc_at(doc);
        let Some(tip) = &self.file.tips[at] else {
            return Ok(None);
        };
        let print = &self.file.fingerprint.0[at];
        if crate::store::compaction_due(
            print.log_len,
            print.snapshot_len,
            self.file.log_records[at],
        ) {
            return Ok(None);
        }
        let Some(written) =
            tip.add_entry(&self.signer, self.journal_id.0, doc == Doc::Private, e, now)?
        else {
            return Ok(None);
        };
        let dir = self.root.join(doc.dir());
        let log = dir.join(LOG);
        let link = next_link(&log, print.log_len, self.file.log_records[at])?;
        let sealed = mend_crypto::seal_chained(
            self.key.for_kind(doc.kinds().1),
            &self.journal_id,
            doc.kinds().1,
            &link,
            &written.record,
        )
        .map_err(|source| StoreError::Crypto {
            path: log.clone(),
            source,
        })?;
        let framed = frame(&sealed);
        if sealed.len() > RECORD_MAX_LEN || print.log_len + framed.len() as u64 > LOG_MAX_LEN {
            return Ok(None);
        }
        append_durable(&log, print.log_len, &[&framed])?;
        // What follows only keeps the caches in step; were it lost, the next command would
        // load the journal and write them afresh.
        let before = self.file.fingerprint.clone();
        let after = index::fingerprint(&self.root).map_err(StoreError::io(&self.root))?;
        if let Err(err) = index::append(
            &self.root,
            &self.key,
            self.journal_id,
            (before, after.clone()),
            doc,
            std::slice::from_ref(&written.entry),
            Vec::new(),
        ) {
            tracing::debug!("read index left stale: {err}");
        }
        self.file.fingerprint = after;
        self.file.tips[at] = Some(written.tip);
        self.file.log_records[at] += 1;
        if doc == Doc::Shared {
            for (_, ids) in &mut self.file.changed_since {
                ids.insert(e.id.clone());
            }
        }
        if let Err(err) = write_tips(&self.root, &self.key, self.journal_id, &self.file) {
            tracing::debug!("tips not written: {err}");
        }
        Ok(Some(written.entry))
    }

    /// Both documents' entries, through the read index; `None` if it does not describe the
    /// files as they are.
    pub fn entries(&self) -> Option<Entries> {
        index::read(
            &self.root,
            &self.key,
            self.journal_id,
            &self.file.fingerprint,
        )
        .map(|found| found.entries)
    }

    /// What opening these files found that the person should know, as [`Store::warnings`].
    pub fn warnings(&self) -> &[String] {
        &self.file.warnings
    }

    pub fn people(&self) -> &[Person] {
        &self.file.people
    }

    pub fn devices(&self) -> &[Device] {
        &self.file.devices
    }

    /// Whether this device was removed from the journal.
    pub fn removed(&self) -> bool {
        let key: String = self
            .signer
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.file
            .devices
            .iter()
            .any(|d| d.key == key && d.removed.is_some())
    }

    /// How many entries changed since the shared document's `heads`, if followed.
    pub fn entries_changed_since(&self, heads: &[ChangeHash]) -> Option<usize> {
        let heads = sorted(heads);
        self.file
            .changed_since
            .iter()
            .find(|(h, _)| *h == heads)
            .map(|(_, ids)| ids.len())
    }

    /// Records in the log of `doc` since its snapshot.
    pub fn log_records(&self, doc: Doc) -> usize {
        self.file.log_records[doc_at(doc)]
    }

    pub fn journal_id(&self) -> JournalId {
        self.journal_id
    }

    pub fn refusals(&self) -> Vec<RefusalNote> {
        read_notes(
            &self.root,
            &self.key,
            self.journal_id,
            REFUSALS,
            RecordKind::Refusals,
        )
    }

    pub fn rollbacks(&self) -> Vec<RollbackNote> {
        read_notes(
            &self.root,
            &self.key,
            self.journal_id,
            ROLLBACKS,
            RecordKind::Rollbacks,
        )
    }

    pub fn load_peer_state(&self, device_key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        crate::store::load_peer_state(&self.root, &self.key, self.journal_id, device_key)
    }

    pub fn peer_state_saved_at(
        &self,
        device_key: &str,
    ) -> Result<Option<std::time::SystemTime>, StoreError> {
        crate::store::peer_state_saved_at(&self.root, device_key)
    }
}
