//! A home directory: where one device keeps its key file and its journal.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mend_crypto::{CryptoError, DeviceSecrets, JournalId, KdfParams, KeyFile, Passphrase};
use mend_journal::{ChangeHash, Journal, Person, Signer};

use crate::atomic::{check_private_dir, create_private_dir, write_atomic};
use crate::{HomeLock, LockMode, Store, StoreError};

/// The sealed device key file, relative to the home.
pub const KEY_FILE: &str = "device.key";
const LOCK_FILE: &str = "lock";

/// One device's home directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join(KEY_FILE)
    }

    pub fn is_initialised(&self) -> bool {
        self.key_path().exists()
    }

    /// Whether a journal is here, and if not, why: no such directory or no journal in it, the
    /// home is a file, or it cannot be read by this user. Each is said differently, since each
    /// asks for something different.
    pub fn check_initialised(&self) -> Result<(), StoreError> {
        let denied = |e: &std::io::Error| e.kind() == std::io::ErrorKind::PermissionDenied;
        match fs::metadata(&self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotInitialised {
                    home: self.root.clone(),
                })
            }
            Err(e) if denied(&e) => {
                return Err(StoreError::Unreadable {
                    path: self.root.clone(),
                })
            }
            Err(e) => return Err(StoreError::io(&self.root)(e)),
            Ok(m) if !m.is_dir() => {
                return Err(StoreError::NotADirectory {
                    home: self.root.clone(),
                })
            }
            Ok(_) => {}
        }
        let key = self.key_path();
        match fs::metadata(&key) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotInitialised {
                home: self.root.clone(),
            }),
            Err(e) if denied(&e) => Err(StoreError::Unreadable {
                path: self.root.clone(),
            }),
            Err(e) => Err(StoreError::io(&key)(e)),
        }
    }

    /// Take the home's lock (blocking). Fails if there is no journal here.
    pub fn lock(&self, access: LockMode) -> Result<HomeLock, StoreError> {
        self.lock_or_wait(access, || {})
    }

    /// Lock the home; if another process has it, call `waiting` once before blocking.
    pub fn lock_or_wait(
        &self,
        access: LockMode,
        waiting: impl FnOnce(),
    ) -> Result<HomeLock, StoreError> {
        self.check_initialised()?;
        check_private_dir(&self.root)?;
        HomeLock::acquire_or_wait(&self.root.join(LOCK_FILE), access, waiting)
    }

    /// Read and parse (not open) the key file; KDF parameters are checked against the caps.
    pub fn read_key_file(&self) -> Result<KeyFile, StoreError> {
        let path = self.key_path();
        self.check_initialised()?;
        check_private_dir(&self.root)?;
        let len = fs::metadata(&path).map_err(StoreError::io(&path))?.len();
        if len > mend_crypto::KEYFILE_MAX_LEN as u64 {
            return Err(StoreError::Corrupt {
                path,
                why: "larger than any key file".into(),
            });
        }
        let bytes = fs::read(&path).map_err(StoreError::io(&path))?;
        KeyFile::parse(&bytes).map_err(|source| StoreError::Crypto { path, source })
    }

    /// Open the key file with the passphrase.
    pub fn unlock(&self, passphrase: &Passphrase) -> Result<(KeyFile, DeviceSecrets), StoreError> {
        let file = self.read_key_file()?;
        let secrets = file.open(passphrase).map_err(|e| match e {
            CryptoError::WrongPassphrase => StoreError::WrongPassphrase,
            source => StoreError::Crypto {
                path: self.key_path(),
                source,
            },
        })?;
        Ok((file, secrets))
    }

    /// Take a home that holds no journal yet: create it (0700) and hold its lock. Refuses one that
    /// holds a journal, checked again under the lock.
    fn claim_new(&self) -> Result<HomeLock, StoreError> {
        let taken = || StoreError::AlreadyInitialised {
            home: self.root.clone(),
        };
        if self.is_initialised() {
            return Err(taken());
        }
        create_private_dir(&self.root)?;
        check_private_dir(&self.root)?;
        let lock = HomeLock::acquire(&self.root.join(LOCK_FILE), LockMode::Write)?;
        if self.is_initialised() {
            return Err(taken());
        }
        Ok(lock)
    }

    /// Create this device and a new journal founded by its person.
    pub fn init(
        &self,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        passphrase: &Passphrase,
        params: KdfParams,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _lock = self.claim_new()?;
        let founder = person_of(secrets);
        let signer = Signer::from_seed(&secrets.identity_seed);
        let jid = journal_id.0;
        let device = Some(secrets.device_name.as_str());
        let mut shared = Journal::create(jid, &founder, device, &signer, false, now)?;
        let mut private = Journal::create(jid, &founder, None, &signer, true, now)?;
        self.write_new_home(
            secrets,
            journal_id,
            passphrase,
            params,
            &mut shared,
            &mut private,
        )
    }

    /// Create this device for a journal that a partner device will send: the shared document
    /// starts empty (it must not create root objects of its own) and is filled by the first sync.
    /// `legacy_heads`: the inviter's history from before signed changes, taken on its word.
    #[allow(clippy::too_many_arguments)]
    pub fn join(
        &self,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        legacy_heads: Vec<ChangeHash>,
        passphrase: &Passphrase,
        params: KdfParams,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _lock = self.claim_new()?;
        let me = person_of(secrets);
        let signer = Signer::from_seed(&secrets.identity_seed);
        let jid = journal_id.0;
        let mut shared = Journal::empty(jid, &signer, false, legacy_heads);
        let mut private = Journal::create(jid, &me, None, &signer, true, now)?;
        self.write_new_home(
            secrets,
            journal_id,
            passphrase,
            params,
            &mut shared,
            &mut private,
        )
    }

    fn write_new_home(
        &self,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        passphrase: &Passphrase,
        params: KdfParams,
        shared: &mut Journal,
        private: &mut Journal,
    ) -> Result<(), StoreError> {
        Store::create_files(&self.root, secrets, journal_id, shared, private)?;
        let key = KeyFile::seal(secrets, journal_id, passphrase, params).map_err(|source| {
            StoreError::Crypto {
                path: self.key_path(),
                source,
            }
        })?;
        // The key file is written last: a home without one is not a journal yet.
        write_atomic(&self.key_path(), &key.to_bytes())
    }

    /// Re-wrap the journal key under a new passphrase. Nothing else is re-encrypted; the key
    /// file is replaced atomically, so after a crash either passphrase works, never neither.
    pub fn change_passphrase(
        &self,
        old: &Passphrase,
        new: &Passphrase,
        params: KdfParams,
    ) -> Result<(), StoreError> {
        let _lock = self.lock(LockMode::Write)?;
        let (file, secrets) = self.unlock(old)?;
        let key = KeyFile::seal(&secrets, file.journal_id, new, params).map_err(|source| {
            StoreError::Crypto {
                path: self.key_path(),
                source,
            }
        })?;
        write_atomic(&self.key_path(), &key.to_bytes())
    }

    /// Bytes used by this home's files.
    pub fn disk_usage(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(rd) = fs::read_dir(p) else { return 0 };
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.root)
    }
}

/// The person a device's secrets say it belongs to.
fn person_of(secrets: &DeviceSecrets) -> Person {
    Person {
        id: secrets.person_id.clone(),
        name: secrets.person_name.clone(),
    }
}
