//! Where things stand, for `mend status` and any other front end: who is in the journal, what
//! waits for this person, how each paired device stands, and what was refused or given back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mend_journal::{as_rows, open_asks, together_rounds, unacknowledged, Device, Entry, SyncState};
use mend_store::{Doc, Entries, RefusalNote, RollbackNote, Store};
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

/// What this device knows of every other paired device (not removed): when they last
/// finished a sync, and how many entries have changed since. Read from the sync states saved
/// at the end of sessions started by either side.
pub fn standings(store: &mut Store, me: &str) -> Result<Vec<Standing>, AppError> {
    let devices = store.journal(Doc::Shared).devices()?;
    let mut out = Vec::new();
    for device in devices
        .into_iter()
        .filter(|d| d.key != me && d.removed.is_none())
    {
        let mut newest: Option<(std::time::SystemTime, String)> = None;
        for key in [initiate_key(&device.key), answer_key(&device.key)] {
            if let Some(at) = store.peer_state_saved_at(&key)? {
                if newest.as_ref().is_none_or(|(t, _)| at > *t) {
                    newest = Some((at, key));
                }
            }
        }
        let (last_synced, not_sent) = match newest {
            None => (None, None),
            Some((at, key)) => {
                let state = store
                    .load_peer_state(&key)?
                    .and_then(|b| SyncState::decode(&b).ok());
                let not_sent = state.and_then(|s| {
                    store
                        .journal_mut(Doc::Shared)
                        .entries_changed_since(&s.shared_heads)
                        .map(|ids| ids.len())
                });
                (Some(at.into()), not_sent)
            }
        };
        out.push(Standing {
            device,
            last_synced,
            not_sent,
        });
    }
    Ok(out)
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
    let params = device.key_file.params;
    Ok(Report {
        about: About {
            person: s.person_name.clone(),
            person_id: s.person_id.clone(),
            device: s.device_name.clone(),
            device_key: my_key,
            journal_id: store.journal_id().to_hex(),
            home: device.home_path(),
            disk_bytes: device.home.disk_usage(),
            log_records: store.stats(Doc::Shared).log_records,
            kdf_memory_kib: params.memory_kib,
            kdf_time_cost: params.time_cost,
            kdf_parallelism: params.parallelism,
            kdf_weak: params.is_weak(),
        },
        status,
    })
}

/// Where things stand for person `me` on the device with key `my_key`, over both documents'
/// `entries` as the store holds them.
pub fn status_of(
    store: &mut Store,
    me: &str,
    my_key: &str,
    entries: &Entries,
) -> Result<Status, AppError> {
    let standings = standings(store, my_key)?;
    let shared = store.journal(Doc::Shared);
    let all_shared = &entries.shared;
    let mut by_author: BTreeMap<String, usize> = BTreeMap::new();
    for e in all_shared {
        *by_author.entry(e.author.clone()).or_default() += 1;
    }
    let devices = shared.devices()?;
    let who = |key: &str| {
        devices.iter().find(|d| d.key == key).map_or_else(
            || format!("the device {}", &key[..key.len().min(16)]),
            |d| format!("{}'s {}", d.person, d.name),
        )
    };
    let refusals = store
        .refusals()
        .into_iter()
        .rev()
        .take(NOTES_SHOWN)
        .map(|n| (who(&n.device), n))
        .collect();
    let rollbacks = store
        .rollbacks()
        .into_iter()
        .rev()
        .take(NOTES_SHOWN)
        .map(|n| (who(&n.device), n))
        .collect();
    Ok(Status {
        people: shared.people()?.into_iter().map(|p| p.name).collect(),
        shared_entries: all_shared.len(),
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
    })
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
