//! Errors as the user sees them: one line saying what happened, one saying what to do next.

use std::fmt;

use mend_app::model::JournalError;
use mend_app::secrets::CryptoError;
use mend_app::store::StoreError;

/// An error the user caused, with the next step to take.
#[derive(Debug)]
pub struct Fail {
    pub what: String,
    pub hint: String,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Fail {}

/// Build a user error: `return Err(fail("what happened", "what to do").into())`.
pub fn fail(what: impl Into<String>, hint: impl Into<String>) -> Fail {
    Fail {
        what: what.into(),
        hint: hint.into(),
    }
}

fn journal_hint(e: &JournalError) -> &'static str {
    match e {
        JournalError::NotFound(_) => "`mend list` shows the ids of your entries",
        JournalError::Ambiguous { .. } => "type more characters of the id",
        JournalError::NotAuthor { .. } => "you can write an entry of your own about it",
        JournalError::Invalid(_) => "nothing was saved; fix the input and try again",
        JournalError::MalformedSync(_) => {
            "nothing from that message was kept; run `mend sync` again, and if it repeats, \
             update Mend on both laptops to the same version"
        }
        JournalError::UnknownImport(_) => {
            "import a Mend export (`mend export`) or a jrnl export (`jrnl --export json > FILE`)"
        }
        JournalError::NewerSchema { .. } => "update Mend on this device to read this journal",
        JournalError::MissingRoot(_) => {
            "this device has not received the journal yet: run `mend sync` with your \
             partner's device on the same network"
        }
        JournalError::Rule(_) => "nothing was saved; a journal holds what its two people may write",
        JournalError::ImportRefused(_) => {
            "nothing was imported; an import writes entries as you, of kinds you may write: \
             remove or fix the entries named and import again"
        }
        JournalError::NotRegistered => {
            "this device has not received the journal yet: run `mend sync` with the inviting \
             device on the same network"
        }
        JournalError::Removed { .. } => {
            "this laptop keeps what it had; nothing shared can be written or synced from it. \
             To take part again, start a new home here and join with an invite from a device \
             still in the journal (`mend join`)"
        }
        JournalError::Retracted => {
            "nothing was changed; write a new entry, or reply to it (`mend reply ID`)"
        }
        JournalError::Automerge(_) => {
            "nothing was changed; restore the journal from a backup or from your partner's device"
        }
    }
}

fn store_hint(e: &StoreError) -> String {
    match e {
        StoreError::WrongPassphrase => "try again; nothing was changed. A forgotten passphrase \
            cannot be recovered on this device (see docs/threat-model.md)"
            .into(),
        StoreError::NotInitialised { .. } => "run `mend init --name YOUR_NAME` to start a \
            journal here, or point --home (or MEND_HOME) at an existing one"
            .into(),
        StoreError::NotADirectory { .. } => {
            "point --home (or MEND_HOME) at the journal's directory, or at a new one for \
             `mend init`"
                .into()
        }
        StoreError::Unreadable { path } => format!(
            "nothing was changed; run mend as the user whose journal it is, or check its \
             permissions (`ls -ld {}`)",
            path.display()
        ),
        StoreError::AlreadyInitialised { .. } => {
            "nothing was changed; use another --home to start a second journal".into()
        }
        StoreError::NotEmpty { .. } => {
            "nothing was changed; give --home (or MEND_HOME) a new or empty directory".into()
        }
        StoreError::TooLarge { .. } => "nothing of it was written and the journal is as it was; \
            if it came from a sync, the other device sent more than Mend keeps"
            .into(),
        StoreError::NotPrivate { path, .. } => format!(
            "nothing was read or written there; make it yours alone (`chmod 700 {}`, owned by \
             you), or choose another --home",
            path.display()
        ),
        StoreError::Corrupt { .. } => "nothing was changed. Keep a copy of the home directory, \
            then restore the named file from a backup"
            .into(),
        StoreError::Crypto { source, .. } => match source {
            CryptoError::KdfTooExpensive { .. } | CryptoError::Malformed { .. } => {
                "this key file was not written by Mend, or was damaged; restore it from a backup"
                    .into()
            }
            CryptoError::UnsupportedVersion { .. } => {
                "update Mend on this device to read this file".into()
            }
            _ => "nothing was changed; restore the named file from a backup".into(),
        },
        StoreError::Io { .. } => "check that the path exists and that you may read and \
            write it; nothing else was changed"
            .into(),
        StoreError::Journal(j) => journal_hint(j).into(),
    }
}

/// How a command ends when the reader of its output went away (128 + SIGPIPE, as the shell
/// reports a program killed by that signal).
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Whether `err` is output that could not be written because its reader is gone.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().map(|io| io.kind()) == broken
            || e.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                == broken
    })
}

/// What to print for an error: the line saying what happened, and the next step.
pub fn explain(err: &anyhow::Error) -> (String, String) {
    if let Some(f) = err.downcast_ref::<Fail>() {
        return (f.what.clone(), f.hint.clone());
    }
    if let Some(n) = err.downcast_ref::<mend_node::NodeError>() {
        use mend_node::NodeError;
        return match n {
            NodeError::App(a) => explain_app(a),
            NodeError::Store(s) => (s.to_string(), store_hint(s)),
            NodeError::Journal(j) => (j.to_string(), journal_hint(j).into()),
            NodeError::Crypto(c) => (
                c.to_string(),
                "nothing was changed; this looks like damaged input".into(),
            ),
            NodeError::Pairing(p) => (p.to_string(), pairing_hint(p).into()),
            NodeError::BadAddress(_) => (
                n.to_string(),
                "use the form /ip4/192.168.1.20/tcp/4001 (as `mend invite` prints)".into(),
            ),
            NodeError::BadPeerId(_) => (
                n.to_string(),
                "copy the peer id from `mend devices` on the laptop that will use the relay".into(),
            ),
            NodeError::BadRelay(_) => (
                n.to_string(),
                "give the address `mend relay` printed, such as \
                 /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…"
                    .into(),
            ),
            other => (
                other.to_string(),
                "nothing more was written; if this keeps happening, run with RUST_LOG=debug and \
                 report it"
                    .into(),
            ),
        };
    }
    if let Some(a) = err.downcast_ref::<mend_app::AppError>() {
        return explain_app(a);
    }
    if let Some(s) = err.downcast_ref::<StoreError>() {
        return (s.to_string(), store_hint(s));
    }
    if let Some(j) = err.downcast_ref::<JournalError>() {
        return (j.to_string(), journal_hint(j).into());
    }
    if let Some(c) = err.downcast_ref::<CryptoError>() {
        return (
            c.to_string(),
            "nothing was changed; this looks like damaged input".into(),
        );
    }
    (
        format!("{err:#}"),
        "nothing more was written; if this keeps happening, run with RUST_LOG=debug and report it"
            .into(),
    )
}

/// What to do after pairing failed.
fn pairing_hint(p: &mend_node::pairing::PairingFailed) -> &'static str {
    use mend_node::pairing::PairingFailed as P;
    match p {
        P::NoJournalYet => "run `mend sync` with a paired device first",
        P::PartnerAlreadyJoined => {
            "to add another device of yours, run `mend invite --for me`; your partner adds \
             theirs from one of their own devices"
        }
        P::NoneJoined(_) => "run `mend invite` again when the other laptop is ready",
        P::Cancelled => "run `mend invite` again when ready",
        P::CodeMismatchThere => "run `mend invite` again and type the new code carefully",
        P::Protocol(_) | P::Refused(_) => "run `mend invite` again and retry",
        P::KeyMismatch | P::BadNames(_) | P::NetworkStopped => "run `mend invite` again",
        P::NotConfirmed => {
            "run `mend invite` again; answer y only when both screens show the same six digits"
        }
        P::CannotConfirm => "run `mend invite` in a terminal, or with --yes in a script you trust",
        P::Gone => "run `mend invite` again, and `mend join` with its new code",
        P::ThirdPerson => {
            "a device can join as one of them: use the same --name as on their other device"
        }
        P::NotAdded(_) => "nothing was added to the journal; run `mend invite` again",
        P::BadCode(..) => "type the code exactly as `mend invite` printed it",
        P::NoInviter(_) => {
            "run `mend invite` on the other laptop first, on the same network, or pass --peer \
             with the address it prints"
        }
        P::NoInviteThere => "run `mend invite` there again",
        P::Unreachable(_) => {
            "check the address `mend invite` printed on the other laptop and that it still waits"
        }
        P::CodeMismatchHere => "run `mend invite` again on the other laptop and type its new code",
        P::RefusedThirdPerson => {
            "to add a device for one of them, join with the same --name they use"
        }
        P::NotConfirmedThere => {
            "compare the six digits on both screens; run `mend invite` there again and `mend \
             join` here with its new code"
        }
        P::FirstSync(_) => "run `mend sync` with the other laptop nearby to fetch the journal",
    }
}

fn explain_app(a: &mend_app::AppError) -> (String, String) {
    match a {
        mend_app::AppError::Journal(j) => (j.to_string(), journal_hint(j).into()),
        mend_app::AppError::Store(s) => (s.to_string(), store_hint(s)),
        mend_app::AppError::Crypto(c) => (
            c.to_string(),
            "nothing was changed; this looks like damaged input".into(),
        ),
        mend_app::AppError::BadName => (
            a.to_string(),
            "nothing was created; choose another name".into(),
        ),
        mend_app::AppError::HandoverMismatch => (
            a.to_string(),
            "check --home / MEND_HOME, or stop that mend serve and run the command again".into(),
        ),
        mend_app::AppError::BadRelayAddr { .. } => (
            a.to_string(),
            "nothing was saved; give the address the relay printed (`mend relay`), such as \
             /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…"
                .into(),
        ),
        mend_app::AppError::RelayKnown { addr, by } => (
            format!(
                "the journal already remembers the relay {} (added by {})",
                crate::render::clean(addr),
                crate::render::clean(by)
            ),
            "nothing was saved; `mend relay list` shows the relays the journal remembers".into(),
        ),
        mend_app::AppError::TooManyRelays { .. } => (
            a.to_string(),
            "nothing was saved; forget one first with `mend relay remove ADDR` (`mend relay \
             list` shows them)"
                .into(),
        ),
        mend_app::AppError::UnknownRelay { .. } => (
            a.to_string(),
            "nothing was changed; `mend relay list` shows the relays the journal remembers, \
             with their ids"
                .into(),
        ),
        mend_app::AppError::RelayNotYours { author } => {
            let author = crate::render::clean(author);
            (
                format!("{author} added this relay; only {author} can remove it"),
                format!(
                    "nothing was changed; {author} can remove it with `mend relay remove` on \
                     their laptop"
                ),
            )
        }
        mend_app::AppError::UnknownSetting { at, .. } => (
            crate::render::clean(&a.to_string()).into_owned(),
            match at {
                None => "nothing was written; `mend config get` lists the settings with their \
                         values"
                    .into(),
                Some(p) => format!(
                    "remove or rename that line in {}; nothing was written",
                    crate::render::clean(&p.path.display().to_string())
                ),
            },
        ),
        mend_app::AppError::BadSetting { key, at, .. } => (
            crate::render::clean(&a.to_string()).into_owned(),
            match at {
                None => format!(
                    "nothing was written; for example `mend config set {}`",
                    setting_example(key)
                ),
                Some(p) => format!(
                    "fix that line in {}, or replace it with `mend config set {}`; nothing was \
                     written",
                    crate::render::clean(&p.path.display().to_string()),
                    setting_example(key)
                ),
            },
        ),
        mend_app::AppError::ConfigNotToml { path, .. } => (
            crate::render::clean(&a.to_string()).into_owned(),
            format!(
                "fix that line (settings are written as notify = \"on\"), or move {} away to \
                 start from the defaults; nothing was written",
                crate::render::clean(&path.display().to_string())
            ),
        ),
        mend_app::AppError::ConfigTooLarge { path, .. } => (
            crate::render::clean(&a.to_string()).into_owned(),
            format!(
                "it holds three short settings: remove what else is in {}, or move it away; \
                 nothing was written",
                crate::render::clean(&path.display().to_string())
            ),
        ),
        mend_app::AppError::ConfigIo { path, .. } => (
            crate::render::clean(&a.to_string()).into_owned(),
            format!(
                "check that you may read and write it (`ls -ld {}`), or point MEND_CONFIG at \
                 another file; nothing was written",
                crate::render::clean(&path.display().to_string())
            ),
        ),
    }
}

/// The arguments of a `mend config set` for the setting `key` (as an error names it).
fn setting_example(key: &str) -> &'static str {
    match key {
        "notify" => "notify off",
        "lock_after" => "lock_after 15m",
        _ => "relays /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…",
    }
}
