//! Where passphrases come from: a no-echo prompt on the terminal, or for scripts the
//! environment (`MEND_PASSPHRASE`, `MEND_NEW_PASSPHRASE`) or a file. Never argv.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use mend_app::secrets::{ExposeSecret, KdfParams, Passphrase};
use zeroize::Zeroizing;

use crate::fail::fail;

pub const ENV_PASSPHRASE: &str = "MEND_PASSPHRASE";
pub const ENV_NEW_PASSPHRASE: &str = "MEND_NEW_PASSPHRASE";
/// Set to 1 to use the cheap Argon2id profile (tests and demos only; it prints a warning).
pub const ENV_INSECURE_KDF: &str = "MEND_INSECURE_TEST_KDF";

fn from_file(path: &Path) -> Result<Passphrase> {
    let raw = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        fail(
            format!("cannot read the passphrase file {}: {e}", path.display()),
            "check the path given to --passphrase-file",
        )
    })?);
    let line = raw.lines().next().unwrap_or("");
    non_empty(Passphrase::from(line.to_owned()))
}

fn non_empty(p: Passphrase) -> Result<Passphrase> {
    if p.expose_secret().is_empty() {
        return Err(fail(
            "the passphrase is empty",
            "choose a passphrase of a few words",
        )
        .into());
    }
    Ok(p)
}

fn from_env(var: &str) -> Option<Passphrase> {
    std::env::var(var).ok().map(Passphrase::from)
}

fn prompt(text: &str) -> Result<Passphrase> {
    if !std::io::stderr().is_terminal() && !Path::new("/dev/tty").exists() {
        return Err(no_terminal());
    }
    // Echo goes off before the prompt is shown: a passphrase pasted or typed the moment the
    // prompt appears must not be echoed in the gap between the two.
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| no_terminal())?;
    let quiet = EchoOff::on(&tty);
    std::io::Write::write_all(&mut &tty, text.as_bytes()).map_err(|_| no_terminal())?;
    let p = rpassword::read_password().map_err(|_| no_terminal());
    drop(quiet);
    non_empty(Passphrase::from(p?))
}

/// Echo switched off on a terminal for as long as this lives; the old settings come back on drop.
struct EchoOff<'a> {
    tty: &'a std::fs::File,
    before: Option<nix::sys::termios::Termios>,
}

impl<'a> EchoOff<'a> {
    fn on(tty: &'a std::fs::File) -> Self {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let before = tcgetattr(tty).ok();
        if let Some(old) = &before {
            let mut quiet = old.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            quiet.local_flags.insert(LocalFlags::ECHONL);
            let _ = tcsetattr(tty, SetArg::TCSANOW, &quiet);
        }
        EchoOff { tty, before }
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Some(old) = &self.before {
            let _ = nix::sys::termios::tcsetattr(self.tty, nix::sys::termios::SetArg::TCSANOW, old);
        }
    }
}

fn no_terminal() -> anyhow::Error {
    fail(
        "no passphrase given and no terminal to ask on",
        format!("set {ENV_PASSPHRASE} or use --passphrase-file FILE"),
    )
    .into()
}

/// The passphrase that unlocks this device.
pub fn current(file: Option<&Path>) -> Result<Passphrase> {
    if let Some(f) = file {
        return from_file(f);
    }
    if let Some(p) = from_env(ENV_PASSPHRASE) {
        return non_empty(p);
    }
    prompt("Passphrase: ")
}

/// A passphrase being chosen: from the given file or variable, else asked twice.
pub fn choose(file: Option<&Path>, env: &str) -> Result<Passphrase> {
    if let Some(f) = file {
        return from_file(f);
    }
    if let Some(p) = from_env(env) {
        return non_empty(p);
    }
    let first = prompt("Choose a passphrase: ")?;
    let second = prompt("Type it again: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(fail(
            "the two passphrases differ",
            "nothing was changed; run the command again",
        )
        .into());
    }
    Ok(first)
}

/// Argon2id parameters for a new key file: calibrated to this machine, unless the
/// documented test switch is set, in which case a warning is printed.
pub fn kdf_params() -> Result<KdfParams> {
    if std::env::var(ENV_INSECURE_KDF).is_ok_and(|v| v == "1") {
        eprintln!(
            "warning: {ENV_INSECURE_KDF}=1: using the cheap test key-derivation profile. \
             Anyone with this device's files could guess a weak passphrase quickly. \
             Never use it for a real journal."
        );
        return Ok(KdfParams::INSECURE_TEST);
    }
    Ok(KdfParams::calibrate(std::time::Duration::from_millis(700))?)
}
