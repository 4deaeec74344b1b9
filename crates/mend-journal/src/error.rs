use thiserror::Error;

/// Everything that can go wrong in the journal model.
#[derive(Debug, Error)]
pub enum JournalError {
    #[error("the journal document could not be read: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("the journal was written by a newer Mend (schema {found}; this build reads up to {supported})")]
    NewerSchema { found: i64, supported: i64 },
    #[error("no entry with id {0}")]
    NotFound(String),
    #[error("the id prefix {prefix} matches {count} entries")]
    Ambiguous { prefix: String, count: usize },
    #[error("this entry was written by {author}; only its author can change it")]
    NotAuthor { author: String },
    #[error("the journal document has no {0}; it was not created by Mend")]
    MissingRoot(&'static str),
    #[error("invalid entry: {0}")]
    Invalid(String),
    /// A peer's sync message that this device refuses to read.
    #[error("malformed sync message: {0}")]
    MalformedSync(String),
    /// What this device was about to write breaks the journal's rules.
    #[error("that would break the journal's rules: {0}")]
    Rule(String),
    /// Entries of an import that break the rules: (position in the file from 1, why).
    #[error("{} of the entries cannot be imported (the first: entry {} of the file: {})", .0.len(), .0[0].0 + 1, .0[0].1)]
    ImportRefused(Vec<(usize, String)>),
    /// This device is not in the journal's registry (its journal has not arrived yet).
    #[error("this device is not yet part of the journal")]
    NotRegistered,
    /// This device was removed from the journal: it keeps what it has, writes nothing shared.
    #[error("this device was removed from the journal by {by} on {at}")]
    Removed { by: String, at: String },
    #[error("the file is not a Mend or jrnl JSON export: {0}")]
    UnknownImport(String),
    /// An edit of an entry its author took back.
    #[error("that entry was retracted; it can no longer be edited")]
    Retracted,
}
