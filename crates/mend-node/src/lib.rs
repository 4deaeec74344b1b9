//! mend-node: the tokio shell between the network and the journal, shared by `mend serve`,
//! `mend sync`, `invite` and `join`.
//!
//! It holds the journal as a long-running node uses it ([`ServedJournal`]: opened on demand,
//! the home's lock given back while idle, journal work off the async runtime, the entries
//! kept for the reading commands that ask serve), runs sync sessions with paired devices and
//! answers theirs ([`sync_with`], [`answer`]), and defines the home's local socket protocol
//! ([`local_socket`]). Policies (when to sync with whom) are mend-app's planners; the network
//! is mend-net's. It prints nothing: what a person should see comes back as values and lines.

mod error;
pub mod local_socket;
mod loops;
pub mod net;
pub mod pairing;
mod peer_sync;
pub mod relay;
mod served;

use std::time::Duration;

pub use error::NodeError;
pub use loops::{
    publish_keys, serve_node, sync_once, Local, LocalEvent, NodeEnd, SharedWatcher, SyncOutcome,
    Watcher,
};
pub use net::{
    net_config, parse_addrs, parse_relays, peer_id_of, runtime, usable_relays, NetOptions,
};
pub use peer_sync::{
    answer, note_refusal, note_rollback, reasons, refusal_line, rollback_line, sync_with, Answer,
    Summary,
};
pub use served::{answer_key, core, initiate_key, ServedJournal, SharedJournal};

/// A short duration as a person reads it: "850 ms", "2.4 s".
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
