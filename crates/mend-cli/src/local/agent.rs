//! The serve's side of the local socket: it holds the device's secrets while unlocked and runs
//! the commands of the same user as child processes of its own, each on the caller's terminal
//! (the caller's stdin, stdout and stderr, passed over the socket), in the caller's directory
//! and environment. The secrets reach a child on a pipe, never on disk or on the socket.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc::UnboundedSender;
use zeroize::Zeroizing;

use super::wire::{self, Reply, Request, VERSION};
use crate::fail::fail;

/// The environment variable that tells a child which descriptor carries its secrets.
pub const SERVED_FD_ENV: &str = "MEND_SERVED_FD";
/// The descriptor a child reads its secrets from.
const SERVED_FD: i32 = 3;
/// The most bytes of secrets a pipe may carry (a journal id and a key file's payload).
pub const HANDOVER_MAX: usize = 4096;

/// What the socket tells the serve loop (mend-node's, which acts on it).
pub use mend_node::LocalEvent as AgentEvent;

struct AgentState {
    /// `journal id (16) | secrets`, while unlocked.
    handover: Mutex<Option<Zeroizing<Vec<u8>>>>,
    journal_id: [u8; 16],
    uid: u32,
    events: UnboundedSender<AgentEvent>,
    /// The journal the serving node holds open, while it runs (for `Write`).
    journal: Mutex<Option<mend_node::SharedJournal>>,
    /// Whether a key a command offers is taken: while locked at the start (`--locked`) or by
    /// `--lock-after`, not after `mend lock`.
    takes_offers: std::sync::atomic::AtomicBool,
}

/// The listening socket of a serving home; removed when dropped.
pub struct Agent {
    path: PathBuf,
    shared: Arc<AgentState>,
}

/// A home's secrets as handed over: the journal id, then the secrets' bytes.
pub fn handover_bytes(
    journal_id: &[u8; 16],
    secrets: &mend_app::secrets::DeviceSecrets,
) -> Result<Zeroizing<Vec<u8>>> {
    let body = secrets.to_handover()?;
    let mut out = Zeroizing::new(Vec::with_capacity(16 + body.len()));
    out.extend_from_slice(journal_id);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The directory that holds the socket: made 0700 by this user, or refused if it is anything
/// else (a symlink, another user's, open to others).
fn socket_dir(home: &Path) -> Result<PathBuf> {
    let dir = home.join(wire::SOCKET_DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != nix::unistd::getuid().as_raw() || meta.mode() & 0o077 != 0 {
        return Err(fail(
            format!("{} is not a private directory of this user", dir.display()),
            "remove it; mend serve makes it again (mode 0700)",
        )
        .into());
    }
    Ok(dir)
}

impl Agent {
    /// Listen on the home's socket. Another serve already listening there is an error; a
    /// socket left by one that stopped is replaced. `None` (said on stderr) where the home's
    /// path is too long for a Unix socket: serve then syncs, and commands ask for the
    /// passphrase as without it.
    pub fn start(
        home: &Path,
        journal_id: [u8; 16],
        handover: Option<Zeroizing<Vec<u8>>>,
        events: UnboundedSender<AgentEvent>,
    ) -> Result<Option<Self>> {
        let dir = socket_dir(home)?;
        let path = dir.join(wire::SOCKET_NAME);
        if path.as_os_str().len() > wire::PATH_MAX {
            eprintln!(
                "note: the home's path is too long for a Unix socket ({}), so other commands \
                 cannot run through this serve and ask for the passphrase as usual",
                path.display()
            );
            return Ok(None);
        }
        if UnixStream::connect(&path).is_ok() {
            return Err(fail(
                "mend serve is already running for this journal",
                "stop it first, or use it: commands run through it",
            )
            .into());
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let takes_offers = std::sync::atomic::AtomicBool::new(handover.is_none());
        let shared = Arc::new(AgentState {
            handover: Mutex::new(handover),
            journal_id,
            uid: nix::unistd::getuid().as_raw(),
            events,
            journal: Mutex::new(None),
            takes_offers,
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("local-socket".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let s = s.clone();
                    let _ = std::thread::Builder::new()
                        .name("local-command".into())
                        .spawn(move || {
                            if let Err(e) = serve_one(&s, conn) {
                                tracing::info!("a local connection ended: {e:#}");
                            }
                        });
                }
            })?;
        Ok(Some(Self { path, shared }))
    }

    /// The journal the serving node holds open (`None` while it is stopped or locked).
    pub fn set_journal(&self, journal: Option<mend_node::SharedJournal>) {
        if let Ok(mut j) = self.shared.journal.lock() {
            *j = journal;
        }
    }

    /// Forget the secrets (zeroized); commands are then answered [`Reply::Locked`]. Unless
    /// `mend lock` took them already, the next command that gets the passphrase hands the key
    /// back (a lock by `--lock-after`).
    pub fn forget(&self) {
        if let Ok(mut h) = self.shared.handover.lock() {
            if h.take().is_some() {
                self.shared
                    .takes_offers
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.forget();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The user id of the process at the other end of `conn`.
fn peer_uid(conn: &UnixStream) -> Result<u32> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let cred = nix::sys::socket::getsockopt(conn, nix::sys::socket::sockopt::PeerCredentials)?;
        Ok(cred.uid())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let (uid, _) = nix::unistd::getpeereid(conn)?;
        Ok(uid.as_raw())
    }
}

impl AgentState {
    /// The journal the serving node holds, while serve holds the key.
    fn journal_if_unlocked(&self) -> Option<mend_node::SharedJournal> {
        let unlocked = self.handover.lock().is_ok_and(|h| h.is_some());
        let journal = self.journal.lock().ok().and_then(|j| j.clone());
        journal.filter(|_| unlocked)
    }
}

fn serve_one(s: &AgentState, conn: UnixStream) -> Result<()> {
    if peer_uid(&conn)? != s.uid {
        wire::send(
            &conn,
            &Reply::Refused {
                why: "this mend serve runs for another user".into(),
            },
            &[],
        )?;
        return Ok(());
    }
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let Some((request, fds)) = wire::recv::<Request>(&conn)? else {
        return Ok(());
    };
    conn.set_read_timeout(None)?;
    if request.version().is_some_and(|v| v != VERSION) {
        return refuse(&conn, "another version of mend asked; run it directly");
    }
    match request {
        Request::Run { args, cwd, env, .. } => {
            let Ok([stdin, stdout, stderr]) = <[OwnedFd; 3]>::try_from(fds) else {
                return refuse(&conn, "a command came without its terminal");
            };
            let handover = match s.handover.lock() {
                Ok(h) => h.clone(),
                Err(_) => None,
            };
            let Some(handover) = handover else {
                wire::send(&conn, &Reply::Locked, &[])?;
                return Ok(());
            };
            let code = run_child(&conn, &handover, args, cwd, env, [stdin, stdout, stderr])?;
            let _ = s.events.send(AgentEvent::Used);
            wire::send(&conn, &Reply::Exited { code }, &[])?;
        }
        Request::Lock { .. } => {
            s.takes_offers
                .store(false, std::sync::atomic::Ordering::SeqCst);
            let was = s.handover.lock().map(|mut h| h.take()).ok().flatten();
            let _ = s.events.send(AgentEvent::Locked);
            wire::send(
                &conn,
                &Reply::Done {
                    already: was.is_none(),
                },
                &[],
            )?;
        }
        Request::Unlock { .. } | Request::OfferKey { .. } => {
            let offered = matches!(request, Request::OfferKey { .. });
            if offered && !s.takes_offers.load(std::sync::atomic::Ordering::SeqCst) {
                let held = s.handover.lock().is_ok_and(|h| h.is_some());
                let why = if held {
                    "it holds the key"
                } else {
                    "it was locked by `mend lock`"
                };
                return refuse(&conn, why);
            }
            let Some(pipe) = fds.into_iter().next() else {
                return refuse(&conn, "the secrets did not come");
            };
            let bytes = wire::read_pipe(pipe, HANDOVER_MAX)?;
            if bytes.len() < 16 || bytes[..16] != s.journal_id {
                return refuse(&conn, "those are the secrets of another journal");
            }
            mend_app::secrets::DeviceSecrets::from_handover(&bytes[16..])?;
            let mut h = s
                .handover
                .lock()
                .map_err(|_| anyhow::anyhow!("the socket's state is poisoned"))?;
            let already = h.is_some();
            *h = Some(bytes.clone());
            drop(h);
            s.takes_offers
                .store(false, std::sync::atomic::Ordering::SeqCst);
            if !already {
                let _ = s.events.send(AgentEvent::Unlocked(bytes));
            }
            wire::send(&conn, &Reply::Done { already }, &[])?;
        }
        Request::Hello { .. } => {
            let unlocked = s.handover.lock().is_ok_and(|h| h.is_some())
                && s.journal.lock().is_ok_and(|j| j.is_some());
            wire::send(&conn, &Reply::Ready { unlocked }, &[])?;
        }
        Request::Write { entry, .. } => {
            let Some(journal) = s.journal_if_unlocked() else {
                wire::send(&conn, &Reply::Locked, &[])?;
                return Ok(());
            };
            let reply = match write_entry(&journal, entry) {
                Ok(id) => {
                    let _ = s.events.send(AgentEvent::Wrote);
                    Reply::Written { id }
                }
                Err(e) => {
                    let (what, hint) = crate::fail::explain(&e);
                    Reply::Failed { what, hint }
                }
            };
            wire::send(&conn, &reply, &[])?;
        }
        Request::Query { query, .. } => {
            let Some(journal) = s.journal_if_unlocked() else {
                wire::send(&conn, &Reply::Locked, &[])?;
                return Ok(());
            };
            let answer = journal
                .lock()
                .map_err(|_| anyhow::anyhow!("the journal worker stopped"))
                .and_then(|mut j| Ok(j.answer(&query)?));
            let _ = s.events.send(AgentEvent::Used);
            match answer {
                Ok(bytes) => {
                    let len = bytes.len() as u64;
                    wire::send(&conn, &Reply::Answer { len }, &[])?;
                    std::io::Write::write_all(&mut &conn, &bytes)?;
                }
                // The command runs directly instead, and says what is wrong in its own words.
                Err(e) => {
                    tracing::debug!("a query was not answered: {e:#}");
                    wire::send(&conn, &Reply::Locked, &[])?;
                }
            }
        }
        Request::Signal { .. } => return refuse(&conn, "no command is running"),
    }
    Ok(())
}

/// Add an entry `mend write` prepared to the journal the serve holds open, as this device's
/// person, through the same action as a direct `mend write`; its id.
fn write_entry(journal: &mend_node::SharedJournal, e: wire::NewEntryRequest) -> Result<String> {
    let created_at = chrono::DateTime::from_timestamp_millis(e.created_at_ms)
        .ok_or_else(|| anyhow::anyhow!("the entry's date is out of range"))?;
    let entry = mend_app::model::NewEntry {
        created_at,
        tags: e.tags,
        text: e.text,
        mood: e.mood,
        kind: if e.acknowledgment {
            mend_app::model::Kind::Acknowledgment
        } else {
            mend_app::model::Kind::Entry
        },
        extra: mend_app::model::Extra {
            prompt: e.prompt,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut a = journal
        .lock()
        .map_err(|_| anyhow::anyhow!("the journal worker stopped"))?;
    let me = a.device.secrets.person_id.clone();
    let id = mend_app::actions::write(a.store()?, &me, entry, e.private, chrono::Utc::now());
    a.release_unless_answering();
    Ok(id?)
}

fn refuse(conn: &UnixStream, why: &str) -> Result<()> {
    wire::send(conn, &Reply::Refused { why: why.into() }, &[])?;
    Ok(())
}

/// Run `mend ARGS` as a child on the caller's descriptors; relay the caller's signals to it
/// (and a hang-up if the caller goes away); its exit code.
fn run_child(
    conn: &UnixStream,
    handover: &[u8],
    args: Vec<Vec<u8>>,
    cwd: Vec<u8>,
    env: Vec<(Vec<u8>, Vec<u8>)>,
    [stdin, stdout, stderr]: [OwnedFd; 3],
) -> Result<i32> {
    let exe = std::env::current_exe()?;
    let (reader, writer) = std::io::pipe()?;
    let reader_fd = reader.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.args(args.into_iter().map(OsString::from_vec))
        .env_clear()
        .envs(
            env.into_iter()
                .map(|(k, v)| (OsString::from_vec(k), OsString::from_vec(v))),
        )
        .env(SERVED_FD_ENV, SERVED_FD.to_string())
        .current_dir(PathBuf::from(OsString::from_vec(cwd)))
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    // SAFETY: only async-signal-safe calls between fork and exec: a session of its own (the
    // caller's terminal signals reach the caller, which relays them) and the secrets' pipe on
    // descriptor 3.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if reader_fd == SERVED_FD {
                let flags = libc::fcntl(SERVED_FD, libc::F_GETFD);
                if flags < 0 || libc::fcntl(SERVED_FD, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(reader_fd, SERVED_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(reader);
    let pid = child.id() as i32;
    wire::send(conn, &Reply::Started, &[])?;
    let _ = wire::write_pipe(writer.into(), handover);
    // Relay what the caller sends while the child runs; a hang-up if the caller goes away.
    let finished = Arc::new(Mutex::new(false));
    let watch = conn.try_clone()?;
    let done = finished.clone();
    std::thread::spawn(move || {
        let signal = loop {
            match wire::recv::<Request>(&watch) {
                Ok(Some((Request::Signal { signal }, _))) => {
                    if !deliver(&done, pid, signal) {
                        return;
                    }
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break libc::SIGHUP,
            }
        };
        deliver(&done, pid, signal);
    });
    // Wait without reaping, so that no signal can reach another process that took the pid.
    // SAFETY: waitid on our own child with WNOWAIT only inspects it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    if let Ok(mut f) = finished.lock() {
        *f = true;
    }
    if r < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let status = child.wait()?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Send `signal` to the child unless it has ended; whether it was still running.
fn deliver(finished: &Mutex<bool>, pid: i32, signal: i32) -> bool {
    let Ok(f) = finished.lock() else {
        return false;
    };
    if *f {
        return false;
    }
    // SAFETY: kill with a pid of our own child that has not been reaped (checked under the
    // lock the reaping side takes first).
    unsafe { libc::kill(pid, signal) };
    true
}
