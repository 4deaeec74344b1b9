//! Errors as the user sees them: one line saying what happened, one saying what to do next.

use std::fmt;

use mend_crypto::CryptoError;
use mend_journal::JournalError;
use mend_store::StoreError;

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
        StoreError::AlreadyInitialised { .. } => {
            "nothing was changed; use another --home to start a second journal".into()
        }
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
    }
}
