//! An unlocked device: its home, its key file and its secrets, and what every front end does
//! with them first: lock the home and load the journal, or read the entries through the read
//! index; find an entry by the start of its id. Asking for the passphrase, and showing
//! warnings, are the front end's.

use std::path::PathBuf;

use mend_crypto::{
    random_bytes, random_id_hex, DeviceSecrets, JournalId, JournalKey, KdfParams, KeyFile,
    Passphrase,
};
use mend_journal::{Entry, Kind, Person};
use mend_store::{Doc, Entries, Home, HomeLock, LockMode, Store, StoreError};

use crate::AppError;

/// A device whose key file is open; the journal is not loaded yet.
pub struct Device {
    pub home: Home,
    pub key_file: KeyFile,
    pub secrets: DeviceSecrets,
}

impl Device {
    /// Found a new journal on `home`, as the person `name` on the device `device` (both
    /// checked: 1 to 64 characters, no control characters), its key file sealed under `pass`
    /// with `params`. A home that already holds a journal is refused and left as it is.
    pub fn create(
        home: Home,
        name: &str,
        device: &str,
        pass: &Passphrase,
        params: KdfParams,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, AppError> {
        check_uninitialised(&home)?;
        let secrets = DeviceSecrets {
            journal_key: JournalKey::generate()?,
            identity_seed: random_bytes()?,
            person_id: random_id_hex()?,
            person_name: name.trim().to_owned(),
            device_name: device.trim().to_owned(),
        };
        if !mend_journal::valid_name(&secrets.person_name)
            || !mend_journal::valid_name(&secrets.device_name)
        {
            return Err(AppError::BadName);
        }
        let journal_id = JournalId::generate()?;
        home.init(&secrets, journal_id, pass, params, now)?;
        Ok(Self::from_parts(
            home.clone(),
            home.read_key_file()?,
            secrets,
        ))
    }

    /// Open the key file of `home` with `pass`. A home with no journal is said so before any
    /// key derivation runs. No lock is held meanwhile: the key file is only ever replaced
    /// atomically.
    pub fn unlock(home: Home, pass: &Passphrase) -> Result<Self, AppError> {
        home.check_initialised()?;
        let (key_file, secrets) = home.unlock(pass)?;
        Ok(Self {
            home,
            key_file,
            secrets,
        })
    }

    /// A device unlocked some other way (just created by `mend join`).
    /// A device whose secrets another process of this user handed over (a running
    /// `mend serve`, to a command it runs): the key file is read again and must belong to the
    /// same journal.
    pub fn from_handover(home: Home, journal_id: &[u8], secrets: &[u8]) -> Result<Self, AppError> {
        let key_file = home.read_key_file()?;
        if key_file.journal_id.0[..] != *journal_id {
            return Err(AppError::HandoverMismatch);
        }
        let secrets = DeviceSecrets::from_handover(secrets)?;
        Ok(Self::from_parts(home, key_file, secrets))
    }

    pub fn from_parts(home: Home, key_file: KeyFile, secrets: DeviceSecrets) -> Self {
        Self {
            home,
            key_file,
            secrets,
        }
    }

    /// Take the home's lock; `waiting` runs once if another process holds it.
    pub fn lock(&self, mode: LockMode, waiting: impl FnOnce()) -> Result<HomeLock, AppError> {
        Ok(self.home.lock_or_wait(mode, waiting)?)
    }

    /// Lock the home and load the journal. What opening found that the person should know is
    /// in [`Store::warnings`].
    pub fn open(&self, mode: LockMode, waiting: impl FnOnce()) -> Result<Store, AppError> {
        let lock = self.lock(mode, waiting)?;
        Ok(Store::open(
            &self.home,
            &self.secrets,
            self.key_file.journal_id,
            lock,
        )?)
    }

    /// Both documents' entries as they are stored, through the read index (which spares
    /// loading the journal when it has not changed since the index was written), and warnings.
    pub fn read_documents(
        &self,
        waiting: impl FnOnce(),
    ) -> Result<(Entries, Vec<String>), AppError> {
        let lock = self.lock(LockMode::Read, waiting)?;
        Ok(Store::read_entries(
            &self.home,
            &self.secrets,
            self.key_file.journal_id,
            lock,
        )?)
    }

    /// Every entry of both documents, as [`all_entries`] gives them, through the read index.
    pub fn read_entries(
        &self,
        waiting: impl FnOnce(),
    ) -> Result<(Vec<Entry>, Vec<String>), AppError> {
        let (entries, warnings) = self.read_documents(waiting)?;
        Ok((
            readable_entries(entries, self.key_file.journal_id),
            warnings,
        ))
    }

    /// The person this device writes as.
    pub fn me(&self) -> Person {
        Person {
            id: self.secrets.person_id.clone(),
            name: self.secrets.person_name.clone(),
        }
    }

    pub fn home_path(&self) -> PathBuf {
        self.home.root().to_owned()
    }
}

/// Every entry of both documents (shared, then private), with the reveal-together answers this
/// device may read opened.
/// A home about to hold a new journal (created or joined) must hold none yet.
pub fn check_uninitialised(home: &Home) -> Result<(), AppError> {
    if home.is_initialised() {
        return Err(StoreError::AlreadyInitialised {
            home: home.root().to_owned(),
        }
        .into());
    }
    if let Err(e @ (StoreError::NotADirectory { .. } | StoreError::Unreadable { .. })) =
        home.check_initialised()
    {
        return Err(e.into());
    }
    // A home is a directory of Mend's own: one that holds other files is not taken over.
    // What Mend itself puts there (left by an init that was cut short) does not count.
    const MENDS: &[&str] = &[
        "device.key",
        "lock",
        "run",
        "shared",
        "private",
        "peers",
        "index",
        "tips",
        "refusals",
        "rollbacks",
        "draft",
        // `mend relay`'s identity, when this home also runs a relay.
        "relay",
    ];
    let occupied = std::fs::read_dir(home.root())
        .map(|items| {
            items.flatten().any(|item| {
                let name = item.file_name();
                let name = name.to_string_lossy();
                // `device.key.tmp`, `index.<pid>.tmp`: a name of Mend's being replaced.
                let trimmed = name.trim_end_matches(".tmp");
                let base = if trimmed == "device.key" {
                    trimmed
                } else {
                    trimmed.split('.').next().unwrap_or_default()
                };
                !MENDS.contains(&base)
            })
        })
        .unwrap_or(false);
    if occupied {
        return Err(StoreError::NotEmpty {
            home: home.root().to_owned(),
        }
        .into());
    }
    Ok(())
}

/// Every entry of both documents (shared, then private), with the reveal-together answers this
/// device may read opened: what `export` and `show` read. Unlike [`readable_entries`] it keeps
/// the relays the journal remembers, so that a JSON export holds them too.
pub fn all_entries(store: &Store) -> Result<Vec<Entry>, AppError> {
    let mut all = store.entries()?.into_all();
    crate::together::open_answers(&mut all, store.journal_id());
    Ok(all)
}

/// Both documents' entries as stored, with the view of them this device reads beside them
/// (what [`readable_entries`] gives) without a second copy of the entries.
pub struct Journaled {
    pub docs: Entries,
    /// The reveal-together answers as this device reads them, by their place in the documents
    /// (shared, then private).
    opened: Vec<(usize, Entry)>,
}

impl Journaled {
    pub fn new(docs: Entries, journal_id: JournalId) -> Self {
        let opened =
            crate::together::opened_answers(docs.shared.iter().chain(&docs.private), journal_id);
        Self { docs, opened }
    }

    /// The entries this device reads, in the order [`readable_entries`] gives them.
    pub fn readable(&self) -> Vec<&Entry> {
        let mut opened = self.opened.iter().peekable();
        self.docs
            .shared
            .iter()
            .chain(&self.docs.private)
            .enumerate()
            .filter(|(_, e)| !matches!(e.kind, Kind::TogetherKey | Kind::TogetherReveal))
            .filter(|(_, e)| e.kind != Kind::Relay)
            .map(|(i, e)| match opened.peek() {
                Some((at, answer)) if *at == i => {
                    opened.next();
                    answer
                }
                _ => e,
            })
            .collect()
    }
}

/// Both documents' entries (shared, then private), with the reveal-together answers this
/// device may read opened: what `list` and `search` read. The relays the journal remembers are
/// configuration, not writing, and are left out (`mend relay list` shows them).
pub fn readable_entries(entries: Entries, journal_id: JournalId) -> Vec<Entry> {
    let mut all = entries.into_all();
    crate::together::open_answers(&mut all, journal_id);
    all.retain(|e| e.kind != Kind::Relay);
    all
}

/// The entry a prefix of its id names, across both documents: its document and whole id.
/// [`resolve`] over both documents' entries as read through the read index (no journal
/// loaded): the document and the entry.
pub fn resolve_in<'a>(entries: &'a Entries, prefix: &str) -> Result<(Doc, &'a Entry), AppError> {
    let all = entries
        .shared
        .iter()
        .map(|e| (Doc::Shared, e))
        .chain(entries.private.iter().map(|e| (Doc::Private, e)));
    let id = mend_journal::resolve_prefix(all.clone().map(|(_, e)| e.id.as_str()), prefix)?;
    all.into_iter()
        .find(|(_, e)| e.id == id)
        .ok_or_else(|| mend_journal::JournalError::NotFound(id).into())
}

pub fn resolve(store: &Store, prefix: &str) -> Result<(Doc, String), AppError> {
    let shared = store.journal(Doc::Shared).entry_ids()?;
    let private = store.journal(Doc::Private).entry_ids()?;
    let id = mend_journal::resolve_prefix(
        shared.iter().chain(private.iter()).map(String::as_str),
        prefix,
    )?;
    let doc = if shared.contains(&id) {
        Doc::Shared
    } else {
        Doc::Private
    };
    Ok((doc, id))
}
