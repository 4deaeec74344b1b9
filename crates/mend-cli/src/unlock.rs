//! Finding the home, unlocking it, and opening the store: what almost every command does first.

use std::path::PathBuf;

use anyhow::Result;
use mend_crypto::{DeviceSecrets, JournalId, KeyFile};
use mend_journal::{Entry, Person};
use mend_store::{Doc, Entries, Home, HomeLock, LockMode, Store};

use crate::cli::Global;
use crate::fail::fail;
use crate::passphrase;

/// The home named by --home / MEND_HOME, else the platform's data directory.
pub fn home(global: &Global) -> Result<Home> {
    if let Some(h) = &global.home {
        return Ok(Home::new(h));
    }
    let base = dirs::data_dir().ok_or_else(|| {
        fail(
            "cannot find a data directory for this user",
            "pass --home DIR or set MEND_HOME",
        )
    })?;
    Ok(Home::new(base.join("mend")))
}

/// An unlocked device: the key file opened, the journal not yet loaded.
pub struct Unlocked {
    pub home: Home,
    pub key_file: KeyFile,
    pub secrets: DeviceSecrets,
}

impl Unlocked {
    /// Ask for the passphrase and open the key file. No lock is held while the KDF runs: the
    /// key file is only ever replaced atomically.
    pub fn new(global: &Global) -> Result<Self> {
        let home = home(global)?;
        if !home.is_initialised() {
            // Say so before asking for a passphrase that could not help.
            return Err(mend_store::StoreError::NotInitialised {
                home: home.root().to_owned(),
            }
            .into());
        }
        let pass = passphrase::current(global.passphrase_file.as_deref())?;
        let (key_file, secrets) = home.unlock(&pass)?;
        Ok(Self {
            home,
            key_file,
            secrets,
        })
    }

    /// A device unlocked some other way (just created by `mend join`).
    pub fn from_parts(home: Home, key_file: KeyFile, secrets: DeviceSecrets) -> Self {
        Self {
            home,
            key_file,
            secrets,
        }
    }

    fn lock(&self, access: LockMode) -> Result<HomeLock> {
        Ok(self.home.lock_or_wait(access, || {
            eprintln!(
                "waiting: another mend command is using this journal (such as `mend serve` \
                 mid-sync)…"
            )
        })?)
    }

    /// Lock the home and load the journal.
    pub fn open(&self, access: LockMode) -> Result<Store> {
        let lock = self.lock(access)?;
        let store = Store::open(&self.home, &self.secrets, self.key_file.journal_id, lock)?;
        warn(store.warnings());
        Ok(store)
    }

    /// Every entry of both documents, as [`all_entries`] gives them, for commands that only
    /// read entries: through the read index, which spares loading the journal when it has not
    /// changed since the index was written.
    pub fn read_entries(&self) -> Result<Vec<Entry>> {
        Ok(readable(self.read_documents()?, self.key_file.journal_id))
    }

    /// Both documents' entries as they are stored, through the read index (see
    /// [`Unlocked::read_entries`]).
    pub fn read_documents(&self) -> Result<Entries> {
        let lock = self.lock(LockMode::Read)?;
        let journal_id = self.key_file.journal_id;
        let (entries, warnings) = Store::read_entries(&self.home, &self.secrets, journal_id, lock)?;
        warn(&warnings);
        Ok(entries)
    }

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

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Every entry of both documents, with the reveal-together answers this device may read opened.
pub fn all_entries(store: &Store) -> Result<Vec<Entry>> {
    Ok(readable(store.entries()?, store.journal_id()))
}

/// Shared entries, then private ones, with the reveal-together answers this device may read
/// opened.
fn readable(entries: Entries, journal_id: JournalId) -> Vec<Entry> {
    let mut all = entries.into_all();
    mend_app::together::open_answers(&mut all, journal_id);
    all
}

/// Resolve an id prefix across both documents; returns the document and the full id.
pub fn resolve(store: &Store, prefix: &str) -> Result<(Doc, String)> {
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
