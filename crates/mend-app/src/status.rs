//! Where things stand, for `mend status` and any other front end: who is in the journal, what
//! waits for this person, how each paired device stands, and what was refused or given back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mend_journal::{
    as_rows, open_asks, together_rounds, unacknowledged, ChangeHash, Device, Entry, SyncState,
};
use mend_store::{Cached, Doc, Entries, LockMode, RefusalNote, RollbackNote, Store};
use serde::{Deserialize, Serialize};

use crate::AppError;

/// The saved state of sessions this device starts with a peer (its file name among the
/// peer states).
pub fn initiate_key(device_key: &str) -> String {
    format!("{device_key}-i")
}

/// The saved state of sessions a peer starts with this device.
pub fn answer_key(device_key: &str) -> String {
    format!("{device_key}-r")
}

/// Where a paired device stands, as far as this one knows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Standing {
    pub device: Device,
    /// When the last finished sync with it ended.
    pub last_synced: Option<DateTime<Utc>>,
    /// Entries written or changed here (or received from elsewhere) since then, which that
    /// device did not have at the time; `None` if unknown.
    pub not_sent: Option<usize>,
}

/// Where `mend status` reads what it shows: the journal loaded ([`Store`]), or what is kept
/// beside it while its files are unchanged ([`Cached`]).
trait Source {
    fn devices(&self) -> Result<Vec<Device>, AppError>;
    fn people(&self) -> Result<Vec<String>, AppError>;
    fn refusals(&self) -> Vec<RefusalNote>;
    fn rollbacks(&self) -> Vec<RollbackNote>;
    fn saved_at(&self, key: &str) -> Result<Option<std::time::SystemTime>, AppError>;
    fn peer_state(&self, key: &str) -> Result<Option<Vec<u8>>, AppError>;
    /// What this source may not know (then the journal must be loaded).
    type Gap;
    /// How many entries changed since `heads` (`None` if that cannot be told at all).
    fn changed_since(&mut self, heads: &[ChangeHash]) -> Result<Option<usize>, Self::Gap>;
}

/// What a [`Cached`] journal cannot answer without loading the documents.
struct Unknown;

impl Source for Store {
    fn devices(&self) -> Result<Vec<Device>, AppError> {
        Ok(self.journal(Doc::Shared).devices()?)
    }
    fn people(&self) -> Result<Vec<String>, AppError> {
        Ok(self
            .journal(Doc::Shared)
            .people()?
            .into_iter()
            .map(|p| p.name)
            .collect())
    }
    fn refusals(&self) -> Vec<RefusalNote> {
        Store::refusals(self)
    }
    fn rollbacks(&self) -> Vec<RollbackNote> {
        Store::rollbacks(self)
    }
    fn saved_at(&self, key: &str) -> Result<Option<std::time::SystemTime>, AppError> {
        Ok(self.peer_state_saved_at(key)?)
    }
    fn peer_state(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.load_peer_state(key)?)
    }
    type Gap = std::convert::Infallible;
    fn changed_since(&mut self, heads: &[ChangeHash]) -> Result<Option<usize>, Self::Gap> {
        Ok(self
            .journal_mut(Doc::Shared)
            .entries_changed_since(heads)
            .map(|ids| ids.len()))
    }
}

impl Source for Cached {
    fn devices(&self) -> Result<Vec<Device>, AppError> {
        Ok(Cached::devices(self).to_vec())
    }
    fn people(&self) -> Result<Vec<String>, AppError> {
        Ok(Cached::people(self)
            .iter()
            .map(|p| p.name.clone())
            .collect())
    }
    fn refusals(&self) -> Vec<RefusalNote> {
        Cached::refusals(self)
    }
    fn rollbacks(&self) -> Vec<RollbackNote> {
        Cached::rollbacks(self)
    }
    fn saved_at(&self, key: &str) -> Result<Option<std::time::SystemTime>, AppError> {
        Ok(self.peer_state_saved_at(key)?)
    }
    fn peer_state(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.load_peer_state(key)?)
    }
    type Gap = Unknown;
    fn changed_since(&mut self, heads: &[ChangeHash]) -> Result<Option<usize>, Self::Gap> {
        self.entries_changed_since(heads).map(Some).ok_or(Unknown)
    }
}

/// The paired devices other than `me` that are not removed.
fn others(devices: Vec<Device>, me: &str) -> impl Iterator<Item = Device> + '_ {
    devices
        .into_iter()
        .filter(move |d| d.key != me && d.removed.is_none())
}

/// The newest saved sync state of `device` (either side's sessions), with when it was saved.
fn newest_state(
    src: &impl Source,
    device: &Device,
) -> Result<Option<(std::time::SystemTime, Option<SyncState>)>, AppError> {
    let mut newest: Option<(std::time::SystemTime, String)> = None;
    for key in [initiate_key(&device.key), answer_key(&device.key)] {
        if let Some(at) = src.saved_at(&key)? {
            if newest.as_ref().is_none_or(|(t, _)| at > *t) {
                newest = Some((at, key));
            }
        }
    }
    let Some((at, key)) = newest else {
        return Ok(None);
    };
    let state = src
        .peer_state(&key)?
        .and_then(|b| SyncState::decode(&b).ok());
    Ok(Some((at, state)))
}

/// The shared heads at which each paired device other than `me` last synced, as far as the
/// saved sync states tell: what [`Store::save_tips`] should follow.
pub fn synced_heads(store: &Store, me: &str) -> Result<Vec<Vec<ChangeHash>>, AppError> {
    let mut out = Vec::new();
    for device in others(Source::devices(store)?, me) {
        if let Some((_, Some(state))) = newest_state(store, &device)? {
            out.push(state.shared_heads);
        }
    }
    Ok(out)
}

/// What this device knows of every other paired device (not removed): when they last
/// finished a sync, and how many entries have changed since. Read from the sync states saved
/// at the end of sessions started by either side.
pub fn standings(store: &mut Store, me: &str) -> Result<Vec<Standing>, AppError> {
    let Ok(out) = standings_from(store, me)?;
    Ok(out)
}

/// [`standings`] from `src`, or what it does not know.
fn standings_from<S: Source>(
    src: &mut S,
    me: &str,
) -> Result<Result<Vec<Standing>, S::Gap>, AppError> {
    let mut out = Vec::new();
    for device in others(src.devices()?, me) {
        let (last_synced, not_sent) = match newest_state(src, &device)? {
            None => (None, None),
            Some((at, state)) => {
                let not_sent = match state {
                    Some(s) => match src.changed_since(&s.shared_heads) {
                        Ok(n) => n,
                        Err(gap) => return Ok(Err(gap)),
                    },
                    None => None,
                };
                (Some(at.into()), not_sent)
            }
        };
        out.push(Standing {
            device,
            last_synced,
            not_sent,
        });
    }
    Ok(Ok(out))
}

/// Everything `mend status` shows about the journal, read from an open store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// The names of the journal's people.
    pub people: Vec<String>,
    pub shared_entries: usize,
    pub private_entries: usize,
    /// Shared entries by author's name.
    pub by_author: BTreeMap<String, usize>,
    /// The partner's entries this person has not answered with a receipt, oldest first.
    #[serde(with = "as_rows")]
    pub unacknowledged: Vec<Entry>,
    /// Requests for reassurance not answered yet.
    #[serde(with = "as_rows")]
    pub open_asks: Vec<Entry>,
    /// Reveal-together prompts the partner answered and this person has not.
    pub prompts_waiting: Vec<String>,
    pub devices: Vec<Device>,
    /// The last refusal notes, newest first, each with who it came from ("Sam's sam-laptop").
    pub refusals: Vec<(String, RefusalNote)>,
    /// The last rollback notes, newest first, each with who gave the changes back.
    pub rollbacks: Vec<(String, RollbackNote)>,
    pub standings: Vec<Standing>,
}

/// How many notes of each kind [`status_of`] reports.
const NOTES_SHOWN: usize = 3;

/// This device and its home, for `mend status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct About {
    pub person: String,
    pub person_id: String,
    pub device: String,
    /// The device's public key, hex.
    pub device_key: String,
    /// The journal's id, hex.
    pub journal_id: String,
    pub home: std::path::PathBuf,
    /// Bytes the home takes on disk.
    pub disk_bytes: u64,
    /// Records in the shared journal's log since its last snapshot.
    pub log_records: usize,
    /// The passphrase's Argon2id parameters.
    pub kdf_memory_kib: u32,
    pub kdf_time_cost: u32,
    pub kdf_parallelism: u32,
    /// The cheap test profile.
    pub kdf_weak: bool,
}

/// What `mend status` shows: this device, and where things stand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub about: About,
    pub status: Status,
}

/// The whole report for `device`, whose journal `store` holds open (locked for writing):
/// reveal-together keys due are published first (both have answered since the last look).
/// `entries`, when given, are both documents' entries as the files hold them now (a copy kept
/// in memory, or the read index); otherwise they are read through the index.
pub fn report(
    store: &mut Store,
    device: &crate::Device,
    entries: Option<&Entries>,
) -> Result<Report, AppError> {
    let s = &device.secrets;
    let mut entries = match entries {
        Some(e) => std::borrow::Cow::Borrowed(e),
        None => std::borrow::Cow::Owned(store.entries_current()?.0),
    };
    if crate::together::publish_ready_from(store, &s.person_id, &entries)? > 0 {
        entries = std::borrow::Cow::Owned(store.entries_current()?.0);
    }
    let my_key = s.public_key_hex();
    let status = status_of(store, &s.person_id, &my_key, &entries)?;
    Ok(Report {
        about: about(
            device,
            store.journal_id(),
            store.stats(Doc::Shared).log_records,
        ),
        status,
    })
}

/// The whole report for `device`, run directly (no serve): from what is kept beside the
/// journal when its files are unchanged since (no document loaded), else as [`report`] with
/// the journal loaded, after which what is kept is written afresh. `waiting` runs once if
/// another process holds the home's lock. Also returns what opening the journal found that
/// the person should know.
pub fn report_direct(
    device: &crate::Device,
    waiting: impl FnOnce(),
) -> Result<(Report, Vec<String>), AppError> {
    let lock = device.lock(LockMode::Write, waiting)?;
    let s = &device.secrets;
    let my_key = s.public_key_hex();
    let journal_id = device.key_file.journal_id;
    let lock = match Cached::open(&device.home, s, journal_id, lock) {
        Ok(mut cached) => {
            let ready = cached.entries().filter(|entries| {
                cached.removed() || crate::together::keys_due(&s.person_id, entries).is_empty()
            });
            if let Some(entries) = ready {
                if let Ok(status) = status_from(&mut cached, &s.person_id, &my_key, &entries)? {
                    tracing::debug!("status told without loading the journal");
                    let report = Report {
                        about: about(device, journal_id, cached.log_records(Doc::Shared)),
                        status,
                    };
                    return Ok((report, cached.warnings().to_vec()));
                }
            }
            cached.into_lock()
        }
        Err(lock) => lock,
    };
    let mut store = Store::open(&device.home, s, journal_id, lock)?;
    let report = report(&mut store, device, None)?;
    let watched = synced_heads(&store, &my_key)?;
    store.save_tips(&watched);
    Ok((report, store.warnings().to_vec()))
}

fn about(device: &crate::Device, journal_id: mend_crypto::JournalId, log_records: usize) -> About {
    let s = &device.secrets;
    let params = device.key_file.params;
    About {
        person: s.person_name.clone(),
        person_id: s.person_id.clone(),
        device: s.device_name.clone(),
        device_key: s.public_key_hex(),
        journal_id: journal_id.to_hex(),
        home: device.home_path(),
        disk_bytes: device.home.disk_usage(),
        log_records,
        kdf_memory_kib: params.memory_kib,
        kdf_time_cost: params.time_cost,
        kdf_parallelism: params.parallelism,
        kdf_weak: params.is_weak(),
    }
}

/// Where things stand for person `me` on the device with key `my_key`, over both documents'
/// `entries` as the store holds them.
pub fn status_of(
    store: &mut Store,
    me: &str,
    my_key: &str,
    entries: &Entries,
) -> Result<Status, AppError> {
    let Ok(status) = status_from(store, me, my_key, entries)?;
    Ok(status)
}

/// [`status_of`] from `src`, or what it does not know.
fn status_from<S: Source>(
    src: &mut S,
    me: &str,
    my_key: &str,
    entries: &Entries,
) -> Result<Result<Status, S::Gap>, AppError> {
    let standings = match standings_from(src, my_key)? {
        Ok(s) => s,
        Err(gap) => return Ok(Err(gap)),
    };
    let all_shared = &entries.shared;
    // The relays the journal remembers are not entries anyone wrote (`crate::relays`).
    let counted = || {
        all_shared
            .iter()
            .filter(|e| e.kind != mend_journal::Kind::Relay)
    };
    let mut by_author: BTreeMap<String, usize> = BTreeMap::new();
    for e in counted() {
        *by_author.entry(e.author.clone()).or_default() += 1;
    }
    let devices = src.devices()?;
    let who = |key: &str| {
        devices.iter().find(|d| d.key == key).map_or_else(
            || format!("the device {}", &key[..key.len().min(16)]),
            |d| format!("{}'s {}", d.person, d.name),
        )
    };
    let refusals = src
        .refusals()
        .into_iter()
        .rev()
        .take(NOTES_SHOWN)
        .map(|n| (who(&n.device), n))
        .collect();
    let rollbacks = src
        .rollbacks()
        .into_iter()
        .rev()
        .take(NOTES_SHOWN)
        .map(|n| (who(&n.device), n))
        .collect();
    Ok(Ok(Status {
        people: src.people()?,
        shared_entries: counted().count(),
        private_entries: entries.private.len(),
        by_author,
        unacknowledged: unacknowledged(all_shared, me)
            .into_iter()
            .cloned()
            .collect(),
        open_asks: open_asks(all_shared).into_iter().cloned().collect(),
        prompts_waiting: together_rounds(all_shared)
            .iter()
            .filter(|r| r.second.is_none() && r.first.author_id != me)
            .filter_map(|r| r.first.extra.prompt.clone())
            .collect(),
        devices,
        refusals,
        rollbacks,
        standings,
    }))
}

/// How it is known who made a version of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A version in this device's private journal (made here, never signed or synced).
    Private,
    /// The device's signature of the change was checked now against its key.
    SignatureChecked,
    /// History from before signed changes: only the change's actor id says who.
    Unsigned,
}

/// One version of an entry's text, with who made it ("Sam on sam-laptop") and how that is known.
pub struct Authored {
    pub version: mend_journal::Version,
    pub by: String,
    pub proof: Proof,
}

/// Every version of the entry `id` of `doc`, oldest first, each with who made it.
pub fn history(store: &mut Store, doc: Doc, id: &str) -> Result<Vec<Authored>, AppError> {
    let devices = store.journal(Doc::Shared).devices()?;
    let versions = store.journal_mut(doc).history(id)?;
    Ok(versions
        .into_iter()
        .map(|v| {
            let by = devices
                .iter()
                .find(|d| d.key.starts_with(&v.actor))
                .map_or_else(
                    || "an unknown device".to_owned(),
                    |d| format!("{} on {}", d.person, d.name),
                );
            let proof = match (&v.signed_by, doc) {
                (_, Doc::Private) => Proof::Private,
                (Some(_), Doc::Shared) => Proof::SignatureChecked,
                (None, Doc::Shared) => Proof::Unsigned,
            };
            Authored {
                version: v,
                by,
                proof,
            }
        })
        .collect())
}
