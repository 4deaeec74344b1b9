//! Writing in `$EDITOR`. The editor needs a plaintext file: it lives in a private (0700)
//! directory, on a RAM-backed one (`$XDG_RUNTIME_DIR`) when there is one, is overwritten and
//! removed as soon as the editor exits. See docs/threat-model.md.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use anyhow::Result;
use zeroize::Zeroizing;

use crate::fail::fail;

fn private_dir() -> Result<tempfile::TempDir> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    // 0700 whatever the umask (tempfile's default is 0777 less the umask).
    Ok(tempfile::Builder::new()
        .prefix("mend-edit-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(&base)
        .map_err(|e| {
            fail(
                format!(
                    "cannot create a private directory for the editor in {}: {e}",
                    base.display()
                ),
                "set XDG_RUNTIME_DIR or TMPDIR to a directory you can write",
            )
        })?)
}

fn editor_command() -> String {
    std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_owned())
}

/// The signal that arrived while the editor ran (0: none). Set by [`note_signal`], which does
/// nothing else (an atomic store is all a signal handler may safely do).
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// While the editor runs, Ctrl-C, a hang-up and a termination are caught instead of ending
/// mend on the spot, so that the plaintext draft is always wiped and removed. The previous
/// handlers come back when this is dropped. (The editor itself gets the default handlers:
/// caught signals are reset by exec.)
struct CatchSignals(Vec<(Signal, SigAction)>);

const CAUGHT: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGTERM,
    Signal::SIGQUIT,
];

impl CatchSignals {
    fn new() -> Self {
        SIGNALLED.store(0, Ordering::SeqCst);
        let catch = SigAction::new(
            SigHandler::Handler(note_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only stores into an atomic.
        let old = CAUGHT
            .iter()
            .filter_map(|&sig| unsafe { sigaction(sig, &catch) }.ok().map(|o| (sig, o)))
            .collect();
        Self(old)
    }
}

impl Drop for CatchSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.0 {
            // SAFETY: restoring the handler that was there before.
            let _ = unsafe { sigaction(*sig, old) };
        }
    }
}

/// Overwrite the draft with zeros and remove it and its directory.
fn wipe(path: &std::path::Path, dir: tempfile::TempDir) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.is_file() {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
            {
                let _ = f.write_all(&vec![0u8; meta.len() as usize]);
                let _ = f.sync_all();
            }
        }
    }
    drop(dir);
}

/// Open `initial` in the user's editor and return what they saved.
///
/// The draft is created 0600 (whatever the umask), exclusively and without following a
/// symlink, in a fresh 0700 directory; it is wiped and removed when the editor exits, and also
/// when mend is interrupted (Ctrl-C), hung up or terminated meanwhile: then mend ends as that
/// signal would end it, with nothing saved.
pub fn edit(initial: &str) -> Result<Zeroizing<String>> {
    let dir = private_dir()?;
    let path = dir.path().join("entry.md");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        f.write_all(initial.as_bytes())?;
    }
    let editor = editor_command();
    let catching = CatchSignals::new();
    // Through the shell, so that EDITOR="code --wait" works.
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("mend-editor")
        .arg(&path)
        .spawn();
    let status = match spawned {
        Ok(mut child) => loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            let sig = SIGNALLED.load(Ordering::SeqCst);
            // Ctrl-C reaches the editor too, which decides (a terminal editor keeps going);
            // a hang-up or a termination is for mend: pass it on, clean up, and end.
            if sig == libc::SIGHUP || sig == libc::SIGTERM {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    Signal::try_from(sig).ok(),
                );
                let _ = child.wait();
                wipe(&path, dir);
                drop(catching);
                std::process::exit(128 + sig);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        },
        Err(e) => Err(e),
    };
    let interrupted = SIGNALLED.load(Ordering::SeqCst) != 0;
    drop(catching);
    let text = std::fs::read_to_string(&path).map(Zeroizing::new);
    wipe(&path, dir);
    match status {
        Ok(s) if s.success() => {}
        Ok(_) if interrupted => {
            return Err(fail(
                "the editor was interrupted",
                "nothing was saved, and the draft was wiped",
            )
            .into())
        }
        Ok(_) => {
            return Err(fail(
                format!("the editor ({editor}) exited with an error"),
                "nothing was saved; fix $EDITOR or pass the text on the command line",
            )
            .into())
        }
        Err(e) => {
            return Err(fail(
                format!("cannot start the editor ({editor}): {e}"),
                "set $EDITOR to an editor you have, or pass the text on the command line",
            )
            .into())
        }
    }
    Ok(text?)
}
