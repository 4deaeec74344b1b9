//! A command's side of the local socket: while `mend serve` runs for this home and holds the
//! key, a command that needs the journal runs through it (no passphrase), on this terminal;
//! otherwise it runs here as always.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use nix::sys::signal::{SigSet, Signal};

use super::agent::SERVED_FD_ENV;
use super::wire::{self, Reply, Request, VERSION};
use crate::cli::{Cli, Command, Global};
use crate::passphrase::{ENV_NEW_PASSPHRASE, ENV_PASSPHRASE};

/// Whether a command opens the journal (and so can run through a serve holding the key).
fn needs_the_key(cmd: &Command) -> bool {
    !matches!(
        cmd,
        Command::Init(_)
            | Command::Join(_)
            | Command::Serve(_)
            | Command::Passphrase(_)
            | Command::Prompt(_)
            | Command::Completions(_)
            | Command::Man
            | Command::Demo(_)
            | Command::Lock
            | Command::Unlock
    )
}

/// The home's socket, connected, if a serve listens on it.
pub fn connect(global: &Global) -> Option<UnixStream> {
    let home = crate::unlock::home(global).ok()?;
    UnixStream::connect(wire::socket_path(home.root())).ok()
}

/// Run this command through the home's serve. `None`: run it here (no serve, a serve that is
/// locked or refuses, a command that does not need the key, or this process is itself a
/// command a serve started).
pub fn forward(cli: &Cli) -> Option<ExitCode> {
    if std::env::var_os(SERVED_FD_ENV).is_some() || !needs_the_key(&cli.command) {
        return None;
    }
    let sock = connect(&cli.global)?;
    let args = std::env::args_os()
        .skip(1)
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let cwd = std::env::current_dir()
        .ok()?
        .as_os_str()
        .as_bytes()
        .to_vec();
    let env = std::env::vars_os()
        .filter(|(k, _)| k != ENV_PASSPHRASE && k != ENV_NEW_PASSPHRASE && k != SERVED_FD_ENV)
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    let request = Request::Run {
        version: VERSION,
        args,
        cwd,
        env,
    };
    wire::send(&sock, &request, &[0, 1, 2]).ok()?;
    match wire::recv::<Reply>(&sock) {
        Ok(Some((Reply::Started, _))) => {}
        Ok(Some((Reply::Refused { why }, _))) => {
            eprintln!("note: mend serve did not run this command ({why}); running it here");
            return None;
        }
        _ => return None,
    }
    // From here the command runs in the serve: this process only relays the signals it gets
    // and waits for the exit code.
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        signals.add(s);
    }
    let _ = signals.thread_block();
    if let Ok(relay) = sock.try_clone() {
        std::thread::spawn(move || {
            while let Ok(s) = signals.wait() {
                if wire::send(&relay, &Request::Signal { signal: s as i32 }, &[]).is_err() {
                    break;
                }
            }
        });
    }
    match wire::recv::<Reply>(&sock) {
        Ok(Some((Reply::Exited { code }, _))) => Some(ExitCode::from(code.clamp(0, 255) as u8)),
        _ => {
            anstream::eprintln!(
                "{} mend serve stopped while running this command",
                owo_colors::OwoColorize::red(&"error:")
            );
            anstream::eprintln!(
                "{} run `mend status` to see what was saved, then try again",
                owo_colors::OwoColorize::dimmed(&"hint:")
            );
            Some(ExitCode::FAILURE)
        }
    }
}

/// Send `Lock` or `Unlock` (with the secrets on a pipe) to the home's serve.
pub fn ask(sock: &UnixStream, request: &Request, secrets: Option<&[u8]>) -> std::io::Result<Reply> {
    match secrets {
        None => wire::send(sock, request, &[])?,
        Some(bytes) => {
            let (reader, writer) = std::io::pipe()?;
            use std::os::fd::AsRawFd;
            wire::send(sock, request, &[reader.as_raw_fd()])?;
            drop(reader);
            wire::write_pipe(writer.into(), bytes)?;
        }
    }
    match wire::recv::<Reply>(sock)? {
        Some((reply, _)) => Ok(reply),
        None => Err(std::io::ErrorKind::UnexpectedEof.into()),
    }
}
