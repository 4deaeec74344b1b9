//! The journal as the network shell uses it: opened on demand (taking the home's lock), shared
//! between sessions behind a mutex, and only ever touched from blocking threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mend_app::device::Journaled;
use mend_journal::{Device, JournalError, SyncState};
use mend_net::{peer_id_from_public_key, PeerId};
use mend_store::{Doc, Fingerprint, LockMode, Store};
use mend_sync::SyncError;

use crate::local_socket::{ReadAnswerRef, ReadQuery};
use crate::NodeError;

type Result<T, E = NodeError> = std::result::Result<T, E>;

/// Close the store (and release the home's lock) after this long without use: long enough to
/// keep it across the rounds of one session, short enough that other commands barely wait.
const IDLE_CLOSE: Duration = Duration::from_millis(500);
/// A peer that has said nothing for this long mid-session is taken to have gone (link cut,
/// laptop closed): the sync state of its unfinished session is dropped from memory.
const SESSION_STALE: Duration = Duration::from_secs(10);

pub type SharedJournal = Arc<Mutex<ServedJournal>>;

/// A session this device is answering: the peer's session id, its sync state, when last used.
struct Answering {
    session: u64,
    state: SyncState,
    used: Instant,
    /// Entries gained so far in this session.
    gained: u32,
}

/// Where a session this device answers began: the peer's session id, the shared heads then,
/// where the shared journal's files stood, and how many log records the session has written.
struct SessionStart {
    session: u64,
    heads: Vec<mend_app::model::ChangeHash>,
    mark: mend_store::Mark,
    written: u64,
}

/// What changes when any process writes to the journal.
type FileStamps = Vec<(u64, Option<SystemTime>)>;

pub struct ServedJournal {
    pub device: mend_app::Device,
    /// Shows what opening the journal found that the person should know.
    warn: fn(&[String]),
    store: Option<Store>,
    /// Sync states of the peers this device is answering, by device key, with when each was
    /// last used (a peer that vanished mid-session is forgotten after a while).
    answering: HashMap<String, Answering>,
    /// For each session being answered (by device key): its id and the shared heads when it
    /// began, to tell at its end what it brought.
    answer_starts: HashMap<String, SessionStart>,
    last_used: Instant,
    /// The journal's files as this process last left them.
    known: FileStamps,
    /// Another process wrote before this one took the lock again (found when taking it); said
    /// by the next [`ServedJournal::changed_elsewhere`].
    written_elsewhere: bool,
    /// The entries as the files last held them, for the reading commands that run through
    /// this serve; good while the files' fingerprint is the same.
    readable: Option<Readable>,
    /// What each paired device has sent in the sessions this one answers.
    pub budgets: mend_app::budget::Budgets,
    /// A steady clock for the request rate.
    pub started: Instant,
    /// The relays the shared journal remembered at these heads (reading them looks at every
    /// entry, and serve asks after every session).
    relays_at: Option<(Vec<mend_app::model::ChangeHash>, Vec<String>)>,
}

/// Both documents' entries as the journal files with `print` hold them, and the answers
/// this device can open among them.
struct Readable {
    print: Option<Fingerprint>,
    journal: Journaled,
}

/// Sync-core errors inside a store action become journal errors.
pub fn core(e: SyncError) -> JournalError {
    match e {
        SyncError::Journal(j) => j,
        other => JournalError::Invalid(other.to_string()),
    }
}

impl ServedJournal {
    /// The journal of `device`, not opened yet; `warn` shows what opening it finds that the
    /// person should know (a damaged tail dropped, say).
    pub fn new(device: mend_app::Device, warn: fn(&[String])) -> SharedJournal {
        let mut a = ServedJournal {
            device,
            warn,
            store: None,
            answering: HashMap::new(),
            answer_starts: HashMap::new(),
            last_used: Instant::now(),
            known: Vec::new(),
            written_elsewhere: false,
            readable: None,
            budgets: Default::default(),
            started: Instant::now(),
            relays_at: None,
        };
        a.known = a.fingerprint();
        Arc::new(Mutex::new(a))
    }

    /// Run blocking journal work on a blocking thread.
    pub async fn with<T: Send + 'static>(
        shared: &SharedJournal,
        f: impl FnOnce(&mut ServedJournal) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Self::with_err(shared, f).await
    }

    /// [`ServedJournal::with`], for work whose errors are of another type (a front end's).
    pub async fn with_err<T, E>(
        shared: &SharedJournal,
        f: impl FnOnce(&mut ServedJournal) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = shared.lock().map_err(|_| NodeError::WorkerStopped)?;
            // A panic in journal work (Automerge on a peer's message, say) must not leave a
            // half-changed document in memory: drop it, and the next use reloads from disk,
            // where only completed commits are.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut guard)))
                .unwrap_or_else(|_| {
                    guard.store = None;
                    guard.answering.clear();
                    guard.readable = None;
                    Err(NodeError::Panicked.into())
                });
            // What this process wrote is not news. Only while it holds the lock: once the lock
            // is given back another process may already be writing (see `release`).
            if guard.store.as_ref().is_some_and(Store::is_locked) {
                guard.known = guard.fingerprint();
            }
            out
        })
        .await
        .map_err(|_| NodeError::WorkerStopped)?
    }

    /// The open store, opening it (and taking the lock) if needed.
    /// The open store, taking the home's lock if needed. A store released while idle keeps its
    /// documents in memory and only catches up with what other processes appended since.
    pub fn store(&mut self) -> Result<&mut Store> {
        self.last_used = Instant::now();
        // A failed commit left it ahead of the disk: read the journal again.
        if self.store.as_ref().is_some_and(Store::is_stale) {
            self.store = None;
            self.readable = None;
        }
        let held = self.store.as_ref().is_some_and(Store::is_locked);
        if let Some(store) = self.store.as_mut().filter(|s| !s.is_locked()) {
            let lock = self.device.home.lock(LockMode::Write)?;
            if store.relock(lock).is_err() {
                self.store = None; // another process compacted: load afresh
            }
        }
        if self.store.is_none() {
            let mut store = self.device.open(LockMode::Write, || {})?;
            (self.warn)(store.warnings());
            // Sync answers first; the log is folded into a snapshot when the process is idle.
            store.defer_compaction();
            self.store = Some(store);
        }
        // Compared once the lock is held: what another process wrote while the lock was free
        // (even while this one waited for it) is news, although this process has now read it
        // in and the files it leaves will include it.
        if !held && self.fingerprint() != self.known {
            self.written_elsewhere = true;
        }
        Ok(self.store.as_mut().expect("just opened"))
    }

    /// Give the lock back (compacting first if due) if nobody used the journal lately, so that
    /// other `mend` commands can run. A peer mid-session keeps its sync state in memory; the
    /// journal it answers from catches up on relock, so the lock is not held for it.
    pub fn close_if_idle(&mut self) {
        self.answering
            .retain(|_, a| a.used.elapsed() < SESSION_STALE);
        if self.last_used.elapsed() > IDLE_CLOSE {
            self.release();
        }
    }

    /// Give the home's lock back now unless a session this device answers is under way: for
    /// the short looks serve takes between sessions (has anything changed, who is paired), so
    /// that a command run meanwhile does not wait for the idle delay.
    pub fn release_unless_answering(&mut self) {
        self.answering
            .retain(|_, a| a.used.elapsed() < SESSION_STALE);
        if self.answering.is_empty() {
            self.release();
        }
    }

    fn release(&mut self) {
        // Sessions that vanished mid-way are forgotten with their sync state.
        let answering = &self.answering;
        self.answer_starts.retain(|k, _| answering.contains_key(k));
        let Some(store) = self.store.as_mut().filter(|s| s.is_locked()) else {
            return;
        };
        // Not while a session is being answered: one refused part-way is taken back by cutting
        // the log, which a compaction would have folded into the snapshot.
        if self.answer_starts.is_empty() {
            if let Err(e) = store.compact_if_due() {
                tracing::warn!("compaction failed, the log stays as it is: {e}");
            }
        }
        // The files as this process leaves them, taken before another process can write.
        self.known = self.fingerprint();
        if let Some(store) = self.store.as_mut() {
            store.release();
        }
    }

    /// Finish: fold the log if due and give the lock back.
    pub fn close(&mut self) {
        self.release();
        self.store = None;
    }

    fn fingerprint(&self) -> FileStamps {
        let root: PathBuf = self.device.home_path();
        ["shared/snapshot", "shared/log"]
            .iter()
            .map(|f| {
                std::fs::metadata(root.join(f))
                    .map(|m| (m.len(), m.modified().ok()))
                    .unwrap_or((0, None))
            })
            .collect()
    }

    /// True (once) when another process changed the journal since this one last touched it.
    pub fn changed_elsewhere(&mut self) -> bool {
        let now = self.fingerprint();
        let changed = now != self.known || self.written_elsewhere;
        self.known = now;
        self.written_elsewhere = false;
        changed
    }

    /// The entries as the files hold them now: from memory while the files are as they were
    /// when last read (no lock taken), otherwise read again (through the read index) under the
    /// home's lock.
    /// Leaves the home's lock as it found it, or taken if it had to read.
    fn refresh_readable(&mut self) -> Result<()> {
        let now = Store::journal_print(&self.device.home);
        let current = |r: &Readable| now.is_some() && r.print == now;
        if !self.readable.as_ref().is_some_and(current) {
            let journal_id = self.device.key_file.journal_id;
            let (docs, print) = self.store()?.entries_current()?;
            let journal = Journaled::new(docs, journal_id);
            self.readable = Some(Readable { print, journal });
        }
        Ok(())
    }

    /// Publish this device's reveal-together keys for every round both have answered, reading
    /// the entries from memory while the files are unchanged (serve does this after every
    /// session). Returns how many were published.
    pub fn publish_keys(&mut self) -> Result<usize> {
        let me = self.device.secrets.person_id.clone();
        self.store()?;
        let refreshed = self.refresh_readable();
        let cached = self.readable.take();
        let published = refreshed.and_then(|()| {
            let store = self.store.as_mut().expect("just opened");
            let docs = &cached.as_ref().expect("just refreshed").journal.docs;
            Ok(mend_app::together::publish_ready_from(store, &me, docs)?)
        });
        // Keys published change the files: the entries are read again next time.
        if published.as_ref().is_ok_and(|n| *n == 0) {
            self.readable = cached;
        }
        published
    }

    /// Answer a reading command that runs through this serve: the answer, encoded (a
    /// [`crate::local_socket::ReadAnswer`]).
    pub fn answer(&mut self, query: &ReadQuery) -> Result<Vec<u8>> {
        let encode = |a: &ReadAnswerRef| Ok(postcard::to_allocvec(a)?);
        match query {
            ReadQuery::Read(q) => {
                let refreshed = self.refresh_readable();
                self.release_unless_answering();
                refreshed?;
                let all = self
                    .readable
                    .as_ref()
                    .expect("refreshed")
                    .journal
                    .readable();
                encode(&ReadAnswerRef::Read(mend_app::queries::answer_refs(
                    &all, q,
                )))
            }
            ReadQuery::Status => {
                // Under the lock from the start: the entries status reads (and may publish
                // keys after) are the files' as they stay until it is done.
                self.store()?;
                let refreshed = self.refresh_readable();
                let cached = self.readable.take();
                let report = refreshed.and_then(|()| {
                    let store = self.store.as_mut().expect("just opened");
                    Ok(mend_app::status::report(
                        store,
                        &self.device,
                        cached.as_ref().map(|c| &c.journal.docs),
                    )?)
                });
                self.readable = cached;
                self.release_unless_answering();
                encode(&ReadAnswerRef::Status(&report?))
            }
        }
    }

    pub fn my_key(&self) -> String {
        self.device.secrets.public_key_hex()
    }

    /// The other devices paired with this journal and not removed from it, by peer id. An
    /// error if this device itself was removed: it syncs with no one.
    pub fn paired(&mut self) -> Result<HashMap<PeerId, Device>> {
        let me = self.my_key();
        let journal = self.store()?.journal(Doc::Shared);
        if let Some(r) = journal.removal_of_this_device()? {
            return Err(mend_journal::JournalError::Removed {
                by: r.by,
                at: r.at.format("%Y-%m-%d").to_string(),
            }
            .into());
        }
        let devices = journal.devices()?;
        Ok(devices
            .into_iter()
            .filter(|d| d.key != me && d.removed.is_none())
            .filter_map(|d| peer_id_from_public_key(&d.key).map(|p| (p, d)))
            .collect())
    }

    /// The relays the journal remembers (`mend relay add`), as written.
    pub fn relays(&mut self) -> Result<Vec<String>> {
        let journal = self.store()?.journal_mut(Doc::Shared);
        let heads = journal.heads();
        if let Some((at, relays)) = &self.relays_at {
            if *at == heads {
                return Ok(relays.clone());
            }
        }
        let relays = self.store()?.journal(Doc::Shared).relay_addrs();
        self.relays_at = Some((heads, relays.clone()));
        Ok(relays)
    }

    /// The device of this journal with this peer id, if it was removed from it.
    pub fn removed_device(&mut self, peer: &PeerId) -> Result<Option<Device>> {
        let devices = self.store()?.journal(Doc::Shared).devices()?;
        Ok(devices.into_iter().find(|d| {
            d.removed.is_some() && peer_id_from_public_key(&d.key).as_ref() == Some(peer)
        }))
    }

    /// The answering side's sync state for a device's session: the one in progress if this is
    /// its next round, otherwise a fresh start from the state saved after the last finished
    /// session (an unfinished one is dropped: what it sent may never have arrived).
    /// Also the entries gained so far in that session.
    pub fn answering_state(&mut self, key: &str, session: u64) -> Result<(SyncState, u32)> {
        if let Some(a) = self.answering.remove(key) {
            if a.session == session {
                return Ok((a.state, a.gained));
            }
            tracing::debug!("a new session replaces an unfinished one");
        }
        let saved = self.store()?.load_peer_state(&answer_key(key))?;
        Ok((
            saved
                .and_then(|b| SyncState::decode(&b).ok())
                .unwrap_or_default(),
            0,
        ))
    }

    pub fn keep_answering_state(&mut self, key: &str, session: u64, state: SyncState, gained: u32) {
        self.answering.insert(
            key.to_owned(),
            Answering {
                session,
                state,
                used: Instant::now(),
                gained,
            },
        );
    }

    /// Whether the session `session` with `key` has its start noted.
    pub fn answering_started(&self, key: &str, session: u64) -> bool {
        self.answer_starts
            .get(key)
            .is_some_and(|s| s.session == session)
    }

    /// Note where session `session` with `key` began: the shared heads and files now.
    pub fn note_answering_start(&mut self, key: &str, session: u64) -> Result<()> {
        let store = self.store()?;
        let start = SessionStart {
            session,
            heads: store.journal_mut(Doc::Shared).heads(),
            mark: store.mark(Doc::Shared),
            written: 0,
        };
        self.answer_starts.insert(key.to_owned(), start);
        Ok(())
    }

    /// The session with `key` wrote `records` more log records.
    pub fn note_answering_writes(&mut self, key: &str, records: u64) {
        if let Some(start) = self.answer_starts.get_mut(key) {
            start.written += records;
        }
    }

    /// The shared heads at which the session with `key` began (none known: empty).
    pub fn answering_start(&self, key: &str) -> Vec<mend_app::model::ChangeHash> {
        self.answer_starts
            .get(key)
            .map(|s| s.heads.clone())
            .unwrap_or_default()
    }

    /// Drop the session with `key` (refused part-way) and take back what it wrote, if nothing
    /// else was written since it began. Whether the journal is now as it was before it.
    pub fn undo_answering(&mut self, key: &str, session: u64) -> Result<bool> {
        self.answering.remove(key);
        let Some(start) = self.answer_starts.remove(key) else {
            return Ok(true); // it had not begun: nothing of it was written
        };
        if start.session != session {
            return Ok(false);
        }
        let undone = self.store()?.undo_to(&start.mark, start.written)?;
        if start.written > 0 {
            self.readable = None;
        }
        Ok(undone)
    }

    /// The session with `key` ended: save its state, and give the home's lock back at once
    /// (unless another session is being answered) so that a command waiting to read what it
    /// brought runs now.
    pub fn finish_answering(&mut self, key: &str, state: &SyncState) -> Result<()> {
        self.answering.remove(key);
        self.answer_starts.remove(key);
        let path_key = answer_key(key);
        self.store()?.save_peer_state(&path_key, &state.encode())?;
        self.release_unless_answering();
        Ok(())
    }
}

pub use mend_app::status::{answer_key, initiate_key};

#[cfg(test)]
mod tests {
    use super::*;
    use mend_crypto::{random_bytes, DeviceSecrets, JournalId, JournalKey, KdfParams, Passphrase};
    use mend_store::Home;

    /// Journal work that panics (Automerge on a hostile message, say) leaves neither a poisoned
    /// worker nor a half-changed document: the next use reads the journal again from disk.
    #[test]
    fn a_panic_in_journal_work_reloads_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("home"));
        let secrets = DeviceSecrets {
            journal_key: JournalKey::generate().unwrap(),
            identity_seed: random_bytes().unwrap(),
            person_id: "a".repeat(32),
            person_name: "Alex".into(),
            device_name: "laptop".into(),
        };
        let pass = Passphrase::from("pass");
        home.init(
            &secrets,
            JournalId::generate().unwrap(),
            &pass,
            KdfParams::INSECURE_TEST,
            chrono::Utc::now(),
        )
        .unwrap();
        let (key_file, secrets) = home.unlock(&pass).unwrap();
        let shared = ServedJournal::new(
            mend_app::Device::from_parts(home, key_file, secrets),
            |_| {},
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let heads = |shared: &SharedJournal| {
            rt.block_on(ServedJournal::with(shared, |a| {
                Ok::<_, NodeError>(a.store()?.journal_mut(Doc::Shared).heads())
            }))
        };
        let before = heads(&shared).unwrap();
        let failed = rt.block_on(ServedJournal::with(&shared, |a| -> Result<()> {
            // Change the document in memory, then fail half-way.
            let store = a.store()?;
            let j = store.journal_mut(Doc::Shared);
            let me = mend_journal::Person {
                id: "b".repeat(32),
                name: "Sam".into(),
            };
            j.add_person(&me, chrono::Utc::now()).unwrap();
            panic!("the sync engine fell over");
        }));
        let err = failed.unwrap_err().to_string();
        assert!(err.contains("read again from disk"), "{err}");
        // Not poisoned, and the half-made change is gone.
        assert_eq!(heads(&shared).unwrap(), before);
    }
}
