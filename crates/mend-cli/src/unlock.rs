//! Finding the home, unlocking it, and opening the store: what almost every command does first.

use anyhow::Result;
use mend_app::model::Entry;
use mend_app::store::{Doc, Entries, Home, LockMode, Store};

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

/// An unlocked device ([`mend_app::Device`]) as the CLI uses it: the passphrase asked from
/// the usual sources, a note on stderr while waiting for the lock, warnings printed.
pub struct Unlocked(mend_app::Device);

impl std::ops::Deref for Unlocked {
    type Target = mend_app::Device;
    fn deref(&self) -> &mend_app::Device {
        &self.0
    }
}

/// The secrets a running `mend serve` handed this process (it started it to run a command of
/// its user), read from the descriptor it names; `None` when not started so.
fn served_secrets() -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let Some(fd) = std::env::var_os(crate::local::agent::SERVED_FD_ENV) else {
        return Ok(None);
    };
    let fd: i32 = fd
        .to_str()
        .and_then(|s| s.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| fail("MEND_SERVED_FD is not a descriptor", "unset MEND_SERVED_FD"))?;
    // SAFETY: the descriptor was opened for this process by the serve that started it, and
    // nothing else in this process uses it; it is read once.
    let pipe = unsafe { OwnedFd::from_raw_fd(fd) };
    let bytes =
        crate::local::wire::read_pipe(pipe, crate::local::agent::HANDOVER_MAX).map_err(|e| {
            fail(
                format!("cannot read the key from mend serve: {e}"),
                "run the command again",
            )
        })?;
    if bytes.len() < 16 {
        return Err(fail(
            "mend serve handed over no key",
            "run `mend unlock`, or stop mend serve",
        )
        .into());
    }
    Ok(Some(bytes))
}

/// Whether a command that got the passphrase offers the key to a waiting serve (not `serve`
/// itself, nor `unlock`, which hands it over its own way).
pub static OFFER_TO_SERVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

fn waiting() {
    eprintln!(
        "waiting: another mend command is using this journal (such as `mend serve` mid-sync)…"
    );
}

impl Unlocked {
    /// Ask for the passphrase and open the key file.
    pub fn new(global: &Global) -> Result<Self> {
        let home = home(global)?;
        // Said before asking for a passphrase that could not help.
        home.check_initialised()?;
        if let Some(secrets) = served_secrets()? {
            return Ok(Self(mend_app::Device::from_handover(
                home,
                &secrets[..16],
                &secrets[16..],
            )?));
        }
        let pass = passphrase::current(global.passphrase_file.as_deref())?;
        let device = Self(mend_app::Device::unlock(home, &pass)?);
        if OFFER_TO_SERVE.load(std::sync::atomic::Ordering::SeqCst) {
            device.offer_to_serve(global);
        }
        Ok(device)
    }

    /// Hand the key to a `mend serve` of this home that waits for it (started at login with
    /// `--locked`, or locked by `--lock-after`), so the passphrase is typed once: said on
    /// stderr when taken; any failure is silent (the command goes on as it was).
    fn offer_to_serve(&self, global: &Global) {
        let Some(sock) = crate::local::client::connect(global) else {
            return;
        };
        let Ok(bytes) =
            crate::local::agent::handover_bytes(&self.key_file.journal_id.0, &self.secrets)
        else {
            return;
        };
        let offer = crate::local::wire::Request::OfferKey {
            version: crate::local::wire::VERSION,
        };
        if let Ok(crate::local::wire::Reply::Done { already: false }) =
            crate::local::client::ask(&sock, &offer, Some(&bytes))
        {
            eprintln!(
                "note: mend serve was waiting for the key and has it now: it syncs, and \
                 commands need no passphrase"
            );
        }
    }

    /// A device whose secrets `mend unlock` handed to this serve (`journal id | secrets`).
    pub fn from_handover(global: &Global, bytes: &[u8]) -> Result<Self> {
        let home = home(global)?;
        Ok(Self(mend_app::Device::from_handover(
            home,
            &bytes[..16.min(bytes.len())],
            bytes.get(16..).unwrap_or_default(),
        )?))
    }

    /// The device, for a long-running holder of the journal (serve's node).
    pub fn into_device(self) -> mend_app::Device {
        self.0
    }

    /// Lock the home and load the journal.
    pub fn open(&self, access: LockMode) -> Result<Store> {
        let store = self.0.open(access, waiting)?;
        warn(store.warnings());
        Ok(store)
    }

    /// Write an entry directly (no serve), as [`mend_app::actions::write_direct`].
    pub fn write_direct(
        &self,
        entry: mend_app::model::NewEntry,
        private: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(String, Vec<String>)> {
        Ok(mend_app::actions::write_direct(
            &self.0, entry, private, now, waiting,
        )?)
    }

    /// `mend status` directly (no serve), as [`mend_app::status::report_direct`].
    pub fn status_direct(&self) -> Result<(mend_app::status::Report, Vec<String>)> {
        Ok(mend_app::status::report_direct(&self.0, waiting)?)
    }

    /// Every entry of both documents, as [`all_entries`] gives them, through the read index.
    pub fn read_entries(&self) -> Result<Vec<Entry>> {
        let (entries, warnings) = self.0.read_entries(waiting)?;
        warn(&warnings);
        Ok(entries)
    }

    /// Both documents' entries as they are stored, through the read index.
    pub fn read_documents(&self) -> Result<Entries> {
        let (entries, warnings) = self.0.read_documents(waiting)?;
        warn(&warnings);
        Ok(entries)
    }
}

/// Show what opening the journal found that the person should know.
pub fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Every entry of both documents, with the reveal-together answers this device may read opened.
pub fn all_entries(store: &Store) -> Result<Vec<Entry>> {
    Ok(mend_app::device::all_entries(store)?)
}

/// Resolve an id prefix across both documents; returns the document and the full id.
pub fn resolve(store: &Store, prefix: &str) -> Result<(Doc, String)> {
    Ok(mend_app::device::resolve(store, prefix)?)
}
