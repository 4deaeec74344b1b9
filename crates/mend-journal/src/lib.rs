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
mod inbound;
mod inflate;
mod model;
mod practices;
mod prompts;
mod query;
mod reading;
mod registry;
mod relays;
mod row;
mod rules;
mod shape;
mod signed;
mod tags;
mod tip;
mod writing;

pub use automerge::ChangeHash;

/// The reason a removal records when it ends the partnership (`removed_why`).
pub const UNCOUPLED: &str = "uncoupled";
pub use entry::{
    Arrivals, Device, Entry, EntryEdit, Extra, Kind, NewEntry, Person, Removal, Version, MOOD_RANGE,
};
pub use error::JournalError;
pub use exchange::{
    parse_import, ImportFile, JrnlEntry, JrnlExport, MendExport, IMPORT_MAX_ENTRIES,
    MEND_EXPORT_FORMAT, MEND_EXPORT_VERSION,
};
pub use inbound::{split_changes, Admission, SavedShared, MAX_CHANGES_PER_BATCH};
pub use model::{Journal, SyncState, SCHEMA_VERSION, TEXT_MAX_BYTES};
pub use practices::{
    acknowledgment_template, empty_sections, is_threaded, iso_week, open_asks, promise_period,
    promise_records, record_counts, responses_to, shown_under_its_target, together_rounds, trends,
    unacknowledged, PromiseRecord, RecordRefusal, Round, Tally, Trends, WeekTrend,
    ACKNOWLEDGMENT_SECTIONS,
};
pub use prompts::{all_prompts, prompt, prompt_for_day, Prompt, PRACTICES};
pub use query::{contains_word, fold, resolve_prefix, same_tag, search_matches, Filter};
pub use relays::{
    live_relays, relay_addrs, valid_relay_addr, RELAYS_MAX, RELAY_ADDRS_MAX, RELAY_ADDR_MAX_BYTES,
    RELAY_ENTRIES_PER_PERSON,
};
pub use row::{as_rows, EntryRow};
pub use rules::{causal_order, may_remove, valid_entry_id, valid_name, Checker, Refused};
pub use signed::{
    actor_of, decode_pairs, encode_pairs, signing_bytes, verify, Sig, Signer, CHANGE_DOMAIN,
    SIGNED_PAIR_LEN,
};
pub use tags::{inline_tags, merge_tags, normalize_tag};
pub use tip::{Tip, TipWrite};

/// Maps and sets filled per change of a batch: foldhash (seeded at random per process, so a
/// peer cannot aim collisions) instead of SipHash, which cost a sixth of the checking time.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
