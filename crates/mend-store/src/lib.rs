//! mend-store: Mend's files on disk.
//!
//! A home directory holds the sealed device key file, and for each journal document (the shared
//! one and the device's private one) a sealed snapshot plus an append-only log of sealed
//! incremental changes. Writes are reported done only after fsync; snapshots are replaced by
//! temp file + fsync + rename + directory fsync; a torn final log record is dropped with a
//! warning; any other authentication failure is an error naming the file. An advisory lock
//! serialises `mend` processes. It depends on mend-crypto and mend-journal, never on tokio or
//! the network. Layouts are specified in `docs/format.md`.

mod atomic;
mod draft;
mod epochs;
mod error;
mod home;
mod index;
mod lock;
mod records;
mod refusals;
mod store;
mod tips;

pub use error::StoreError;
pub use home::{Home, KEY_FILE};
pub use index::{Entries, Fingerprint};
pub use lock::{HomeLock, LockMode};
pub use records::{
    decode_records, encode_header, DataHeader, Decoded, DATA_HEADER_LEN, DATA_MAGIC, DATA_VERSION,
    LOG_HEADER_LEN, LOG_VERSION, RECORD_MAX_LEN,
};
pub use refusals::{RefusalNote, RollbackNote};
pub use store::{Doc, Mark, Store, StoreStats};
pub use tips::Cached;
