//! mend-journal: the Mend journal as an Automerge document, and the queries over it.
//!
//! It knows what an entry is (author, when it is about, when it was written, text, tags, mood,
//! kind), how a user action becomes exactly one Automerge change with its time set, how
//! concurrent edits are kept rather than lost, and how journals are exported and imported
//! (Mend's own JSON, jrnl's JSON). It does no I/O and knows nothing of files, keys, sockets or
//! tokio: callers hand it bytes and times.

mod entry;
mod error;
mod exchange;
mod model;
mod query;
mod tags;

pub use automerge::ChangeHash;
pub use entry::{Device, Entry, EntryEdit, NewEntry, Person, KIND_ENTRY, MOOD_RANGE};
pub use error::JournalError;
pub use exchange::{
    parse_import, ImportFile, JrnlEntry, JrnlExport, MendExport, IMPORT_MAX_ENTRIES,
    MEND_EXPORT_FORMAT, MEND_EXPORT_VERSION,
};
pub use model::{Journal, SyncState, SCHEMA_VERSION, TEXT_MAX_BYTES};
pub use query::{resolve_prefix, search_matches, Filter};
pub use tags::{inline_tags, normalize_tag};
