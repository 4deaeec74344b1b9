//! mend-app: what every front end of Mend shares, above the libraries.
//!
//! So far: actions ([`actions`]: write, share, retract or delete), the relays the journal
//! remembers ([`relays`]), where things stand
//! ([`status`]), the unlocked device handle ([`device`]: open the journal, read entries through the
//! read index, find an entry by its id's start), who a joining device becomes ([`pairing`]), who may answer what in the practices
//! and writing such answers ([`answering`]), reveal-together ([`together`]: answers sealed under their own keys, the keys
//! published once both have answered, answers opened with the keys this device may use), and
//! the policies that decide when a device syncs with whom ([`ServePlanner`] for `mend serve`,
//! [`SyncPlanner`] for `mend sync`), as a planner: events in (a device found, connected, a session ended, a
//! change written by another process, the clock), effects out (dial, start a session, look for
//! local changes, publish reveal-together keys, read the registry again). It does no I/O and
//! keeps no clock of its own: the shell passes the time in, so tests run whole scenarios on a
//! virtual clock with no sleeps. It must not depend on tokio or libp2p (peers are any ordered,
//! hashable id; the network shell uses libp2p's peer ids); files are reached only through
//! mend-store.

pub mod actions;
pub mod answering;
pub mod budget;
pub mod config;
pub mod device;
mod error;
mod lock_plan;
pub mod notices;
pub mod pairing;
pub mod queries;
pub mod relays;
mod serve_plan;
pub mod service;
pub mod status;
mod sync_plan;
pub mod together;

pub use device::Device;
pub use error::AppError;
pub use lock_plan::{LockEffect, LockEvent, LockPlanner};
pub use serve_plan::{Effect, Event, ServePlanner, LOCAL_POLL, RESYNC};
pub use sync_plan::{
    Finished, SyncEffect, SyncEvent, SyncPlanner, RELAY_AFTER, RELAY_RETRY, RETRY_AFTER,
};

/// The journal's model as front ends name it: entries and their kinds, the practices' pure
/// rules and texts, the import formats. (`Device` here is a registry record; the unlocked
/// device is [`crate::Device`].)
pub mod model {
    pub use mend_journal::{
        acknowledgment_template, all_prompts, empty_sections, inline_tags, merge_tags,
        normalize_tag, parse_import, promise_records, prompt, prompt_for_day, responses_to,
        search_matches, shown_under_its_target, trends, valid_name, Arrivals, ChangeHash, Device,
        Entry, EntryEdit, Extra, Filter, ImportFile, JournalError, Kind, MendExport, NewEntry,
        Person, PromiseRecord, Prompt, RecordRefusal, Removal, Trends, Version, WeekTrend,
        TEXT_MAX_BYTES,
    };
}

/// The home on disk as front ends name it: which document, which lock, its errors.
pub mod store {
    pub use mend_store::{Doc, Entries, Home, LockMode, Store, StoreError};
}

/// The passphrase, its key derivation and the device's secrets, as front ends handle them.
pub mod secrets {
    pub use mend_crypto::{CryptoError, DeviceSecrets, ExposeSecret, KdfParams, Passphrase};
}
