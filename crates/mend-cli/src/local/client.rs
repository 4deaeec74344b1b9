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

/// Whether a command runs as a child of a serve holding the key: those that open the journal,
/// except `mend write` from its arguments or a pipe, which asks the serve to write the entry it
/// prepared (`Writer`). A write in the editor runs as a child, so that it holds the key to keep
/// the draft sealed should it not be saved.
fn runs_as_child(cmd: &Command) -> bool {
    if let Command::Write(a) = cmd {
        use std::io::IsTerminal;
        return a.recover || (a.text.is_empty() && std::io::stdin().is_terminal());
    }
    // Running a relay needs no journal.
    if let Command::Relay(a) = cmd {
        return a.action.is_some();
    }
    // A file the person names is read or written here, not by a serve that may run in the
    // login service's sandbox (its own /tmp, a read-only home).
    if let Command::Trends(a) = cmd {
        return a.output.is_none();
    }
    !matches!(
        cmd,
        Command::Init(_)
            | Command::Join(_)
            | Command::Serve(_)
            | Command::Passphrase(_)
            | Command::Prompt(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Demo(_)
            | Command::Lock
            | Command::Unlock
            | Command::Service(_)
            | Command::Config(_)
            | Command::Import(_)
            | Command::Write(_)
            | Command::List(_)
            | Command::Search(_)
            | Command::Status(_)
    )
}

/// How long a serve may take to say it started a command (or whether it holds the key).
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

const NOT_ANSWERING: &str = "note: mend serve is not answering; running this command here";

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
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
    if std::env::var_os(SERVED_FD_ENV).is_some() || !runs_as_child(&cli.command) {
        return None;
    }
    // The terminal goes to serve only once it has answered: descriptors sent to a serve that
    // hangs would stay open in its socket, and whatever reads this command's output (a pager,
    // a pipe) would never see the end of it.
    if !ready(&cli.global) {
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
    // A serve that does not answer at once (stopped, hung) starts nothing: run here.
    sock.set_read_timeout(Some(ANSWER_WITHIN)).ok()?;
    wire::send(&sock, &request, &[0, 1, 2]).ok()?;
    match wire::recv::<Reply>(&sock) {
        Ok(Some((Reply::Started, _))) => {}
        Ok(Some((Reply::Refused { why }, _))) => {
            eprintln!("note: mend serve did not run this command ({why}); running it here");
            return None;
        }
        Err(e) if timed_out(&e) => {
            eprintln!("{NOT_ANSWERING}");
            return None;
        }
        _ => return None,
    }
    // From here the command runs in the serve: this process only relays the signals it gets
    // and waits for the exit code, however long the command takes.
    let _ = sock.set_read_timeout(None);
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

/// Ask the home's serve a reading command's question. `None`: answer it here (no serve, a
/// serve that is locked, could not answer or is not answering, or this process is itself a
/// command a serve started).
pub fn query(global: &Global, query: wire::ReadQuery) -> Option<wire::ReadAnswer> {
    if std::env::var_os(SERVED_FD_ENV).is_some() {
        return None;
    }
    let sock = connect(global)?;
    sock.set_read_timeout(Some(ANSWER_WITHIN)).ok()?;
    let request = Request::Query {
        version: VERSION,
        query,
    };
    wire::send(&sock, &request, &[]).ok()?;
    let len = match wire::recv::<Reply>(&sock) {
        Ok(Some((Reply::Answer { len }, _))) => usize::try_from(len).ok()?,
        Err(e) if timed_out(&e) => {
            eprintln!("{NOT_ANSWERING}");
            return None;
        }
        _ => return None,
    };
    if len > wire::ANSWER_MAX {
        return None;
    }
    let mut bytes = vec![0u8; len];
    std::io::Read::read_exact(&mut &sock, &mut bytes).ok()?;
    postcard::from_bytes(&bytes).ok()
}

/// Whether the home's serve answers at once, holding the key (`Hello`).
fn ready(global: &Global) -> bool {
    let Some(sock) = connect(global) else {
        return false;
    };
    if sock.set_read_timeout(Some(ANSWER_WITHIN)).is_err()
        || wire::send(&sock, &Request::Hello { version: VERSION }, &[]).is_err()
    {
        return false;
    }
    match wire::recv::<Reply>(&sock) {
        Ok(Some((Reply::Ready { unlocked }, _))) => unlocked,
        Err(e) if timed_out(&e) => {
            eprintln!("{NOT_ANSWERING}");
            false
        }
        _ => false,
    }
}

/// Send `Lock` or `Unlock` (with the secrets on a pipe) to the home's serve.
pub fn ask(sock: &UnixStream, request: &Request, secrets: Option<&[u8]>) -> std::io::Result<Reply> {
    sock.set_read_timeout(Some(ANSWER_WITHIN * 2))?;
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

/// A serve that holds the key, ready to write an entry a command prepared in its own process
/// (text from the editor or stdin, dates in its own time zone): no passphrase, and no loading
/// of the journal, which the serve holds open.
pub struct Writer(UnixStream);

impl Writer {
    /// The home's serve, if one runs and holds the key (and this process was not started by a
    /// serve).
    pub fn connect(global: &Global) -> Option<Self> {
        if std::env::var_os(SERVED_FD_ENV).is_some() {
            return None;
        }
        if !ready(global) {
            return None;
        }
        Some(Self(connect(global)?))
    }

    /// Write the entry. `Ok(None)`: the serve could not (it was locked meanwhile, or went
    /// away before answering): write it directly instead.
    pub fn write(self, entry: wire::NewEntryRequest) -> anyhow::Result<Option<String>> {
        let request = Request::Write {
            version: VERSION,
            entry,
        };
        if wire::send(&self.0, &request, &[]).is_err() {
            return Ok(None);
        }
        match wire::recv::<Reply>(&self.0) {
            Ok(Some((Reply::Written { id }, _))) => Ok(Some(id)),
            Ok(Some((Reply::Failed { what, hint }, _))) => {
                Err(crate::fail::fail(what, hint).into())
            }
            _ => Ok(None),
        }
    }
}
