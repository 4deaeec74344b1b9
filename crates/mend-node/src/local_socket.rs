//! The local socket between `mend serve` and the other `mend` commands of the same user on the
//! same home (docs/protocol.md, *Local socket*). Frames are `u32 LE length | postcard`, at most
//! [`FRAME_MAX`] bytes; open file descriptors travel beside a frame as `SCM_RIGHTS`.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

/// The version of the local protocol; a serve answers another version with
/// [`Reply::Refused`].
pub const VERSION: u16 = 1;
/// The largest frame either side accepts: an entry of the largest size (1 MiB) with room to
/// spare.
pub const FRAME_MAX: usize = 2 << 20;
/// The most file descriptors one frame may carry.
pub const FDS_MAX: usize = 3;
/// Where a serving home's socket lives, under the home.
pub const SOCKET_DIR: &str = "run";
pub const SOCKET_NAME: &str = "serve.sock";
/// The longest socket path Unix allows (`sun_path`, less its terminating zero).
pub const PATH_MAX: usize = 103;

/// What a command asks of the serve.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Run `mend ARGS` with the caller's working directory and environment, on the caller's
    /// stdin, stdout and stderr (three descriptors beside the frame).
    Run {
        version: u16,
        args: Vec<Vec<u8>>,
        cwd: Vec<u8>,
        env: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Deliver this signal to the command started by `Run` (the caller got it).
    Signal { signal: i32 },
    /// Forget the key.
    Lock { version: u16 },
    /// Take the key: the device's secrets follow on a pipe (its read end beside the frame).
    Unlock { version: u16 },
    /// Whether the serve holds the key (answered [`Reply::Ready`]).
    Hello { version: u16 },
    /// Write this entry into the serve's own journal (answered [`Reply::Written`]).
    Write {
        version: u16,
        entry: NewEntryRequest,
    },
    /// Answer a reading command from the journal the serve holds (answered with
    /// [`Reply::Answer`] and the answer's bytes).
    Query { version: u16, query: ReadQuery },
    /// A command that got the passphrase offers the key: taken (answered `Done`) only by a
    /// serve waiting for it (started `--locked`, or locked by `--lock-after`), not by one
    /// `mend lock` locked; the secrets follow on a pipe as for `Unlock`.
    OfferKey { version: u16 },
}

/// What a reading command asks.
#[derive(Debug, Serialize, Deserialize)]
pub enum ReadQuery {
    /// `mend list`, `mend search`.
    Read(mend_app::queries::Query),
    /// `mend status` (which also publishes reveal-together keys that are due).
    Status,
}

/// What a [`ReadQuery`] finds; postcard-encoded, its bytes after a [`Reply::Answer`].
#[derive(Debug, Serialize, Deserialize)]
pub enum ReadAnswer {
    Read(mend_app::queries::Answer),
    Status(Box<mend_app::status::Report>),
}

/// [`ReadAnswer`] as the serve encodes it, borrowing the entries it holds.
#[derive(Debug, Serialize)]
pub enum ReadAnswerRef<'a> {
    Read(mend_app::queries::AnswerRef<'a>),
    Status(&'a mend_app::status::Report),
}

/// The most bytes one answer may take (a journal of the largest size, read whole).
pub const ANSWER_MAX: usize = 512 << 20;

impl Request {
    /// The protocol version a request was made for (`None` for `Signal`, which only follows a
    /// `Run` already accepted).
    pub fn version(&self) -> Option<u16> {
        match self {
            Request::Run { version, .. }
            | Request::Lock { version }
            | Request::Unlock { version }
            | Request::Hello { version }
            | Request::Write { version, .. }
            | Request::Query { version, .. }
            | Request::OfferKey { version } => Some(*version),
            Request::Signal { .. } => None,
        }
    }
}

/// An entry `mend write` prepared (text from its arguments, stdin or the editor, dates parsed
/// in its own time zone), for the serve to add as this device's person.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewEntryRequest {
    /// When the entry is about, milliseconds since the Unix epoch (UTC).
    pub created_at_ms: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub mood: Option<u8>,
    pub acknowledgment: bool,
    pub prompt: Option<String>,
    pub private: bool,
}

/// What the serve answers.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Reply {
    /// The command runs; [`Reply::Exited`] follows.
    Started,
    /// The command ended with this exit code (128 + the signal, if a signal ended it).
    Exited { code: i32 },
    /// The serve holds no key: run the command directly.
    Locked,
    /// Done (for `Lock` and `Unlock`); `already`: it was so before.
    Done { already: bool },
    /// Refused, with the reason (another version, another user, secrets of another journal).
    Refused { why: String },
    /// Whether the serve holds the key.
    Ready { unlocked: bool },
    /// The entry was written, with this id.
    Written { id: String },
    /// The entry was not written: what happened, and what to do next.
    Failed { what: String, hint: String },
    /// The answer to a `Query`: the next `len` bytes on the stream, after this frame, are a
    /// postcard-encoded [`ReadAnswer`] (at most [`ANSWER_MAX`]).
    Answer { len: u64 },
}

/// The socket of a home.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join(SOCKET_DIR).join(SOCKET_NAME)
}

/// Send one frame, with `fds` beside it.
pub fn send<T: Serialize>(sock: &UnixStream, msg: &T, fds: &[RawFd]) -> std::io::Result<()> {
    let body = postcard::to_allocvec(msg).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    let mut sent = 0;
    while sent < frame.len() {
        let iov = [IoSlice::new(&frame[sent..])];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
            &cmsg
        } else {
            &[]
        };
        sent += sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
            .map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// Receive one frame and the descriptors that came with it; `None` at the end of the stream.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: &UnixStream,
) -> std::io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut head = [0u8; 4];
    let mut fds = Vec::new();
    let mut got = 0;
    while got < head.len() {
        let mut space = nix::cmsg_space!([RawFd; FDS_MAX]);
        let mut iov = [IoSliceMut::new(&mut head[got..])];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        for c in msg.cmsgs().map_err(std::io::Error::from)? {
            if let ControlMessageOwned::ScmRights(received) = c {
                // SAFETY: the kernel just gave these descriptors to this process; nothing
                // else owns them.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        if msg.bytes == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += msg.bytes;
    }
    if fds.len() > FDS_MAX {
        return Err(std::io::Error::other("too many descriptors in one frame"));
    }
    let len = u32::from_le_bytes(head) as usize;
    if len > FRAME_MAX {
        return Err(std::io::Error::other(
            "a frame larger than the protocol allows",
        ));
    }
    let mut body = vec![0u8; len];
    (&*sock).read_exact(&mut body)?;
    let msg = postcard::from_bytes(&body).map_err(std::io::Error::other)?;
    Ok(Some((msg, fds)))
}

/// Write all of `bytes` to a pipe and close it.
pub fn write_pipe(fd: OwnedFd, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes)
}

/// Read a pipe to its end, at most `max` bytes.
pub fn read_pipe(fd: OwnedFd, max: usize) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(256));
    std::fs::File::from(fd)
        .take(max as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > max {
        return Err(std::io::Error::other("more than the secrets on the pipe"));
    }
    Ok(out)
}
