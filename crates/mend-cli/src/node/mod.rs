//! The async shell behind `invite`, `join`, `sync` and `serve`: it starts the network, carries
//! bytes between it and the sync core, and does all journal work off the async runtime.

pub mod pair;
mod peer_sync;
mod served;

use std::time::Duration;

use anyhow::Result;
use mend_net::{Multiaddr, NetConfig};

pub use peer_sync::{answer, sync_with, Answer, Summary};
pub use served::{ServedJournal, SharedJournal};

use crate::cli::NetArgs;
use crate::fail::fail;

/// A request may take this long: enough for the largest sync message on a slow network.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Each connection is pinged this often; one that leaves a ping unanswered this long is closed.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
pub const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// How often mDNS asks the network.
pub const MDNS_INTERVAL: Duration = Duration::from_secs(15);

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn parse_addrs(list: &[String]) -> Result<Vec<Multiaddr>> {
    list.iter()
        .map(|a| {
            a.parse::<Multiaddr>().map_err(|_| {
                fail(
                    format!("{a:?} is not a network address"),
                    "use the form /ip4/192.168.1.20/tcp/4001 (as `mend invite` prints)",
                )
                .into()
            })
        })
        .collect()
}

/// The network configuration for this device and these arguments.
pub fn net_config(identity_seed: [u8; 32], args: &NetArgs) -> Result<NetConfig> {
    let mut listen = parse_addrs(&args.listen)?;
    if listen.is_empty() {
        listen.push("/ip4/0.0.0.0/tcp/0".parse().expect("valid address"));
    }
    Ok(NetConfig {
        identity_seed,
        listen,
        mdns: !args.no_mdns && args.peer.is_empty(),
        mdns_interval: MDNS_INTERVAL,
        request_timeout: REQUEST_TIMEOUT,
        ping_interval: PING_INTERVAL,
        ping_timeout: PING_TIMEOUT,
    })
}

pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Where a paired device stands, as far as this one knows.
pub struct Standing {
    pub device: mend_journal::Device,
    /// When the last finished sync with it ended.
    pub last_synced: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries written or changed here (or received from elsewhere) since then, which that
    /// device did not have at the time; `None` if unknown.
    pub not_sent: Option<usize>,
}

/// What this device knows of every other paired device: when they last finished a sync, and
/// how many entries have changed since. Read from the sync states saved at the end of sessions
/// (started by either side).
pub fn standings(store: &mut mend_store::Store, me: &str) -> Result<Vec<Standing>> {
    let devices = store.journal(mend_store::Doc::Shared).devices()?;
    let mut out = Vec::new();
    for device in devices
        .into_iter()
        .filter(|d| d.key != me && d.removed.is_none())
    {
        let mut newest: Option<(std::time::SystemTime, String)> = None;
        for key in [
            served::initiate_key(&device.key),
            served::answer_key(&device.key),
        ] {
            if let Some(at) = store.peer_state_saved_at(&key)? {
                if newest.as_ref().is_none_or(|(t, _)| at > *t) {
                    newest = Some((at, key));
                }
            }
        }
        let (last_synced, not_sent) = match newest {
            None => (None, None),
            Some((at, key)) => {
                let state = store
                    .load_peer_state(&key)?
                    .and_then(|b| mend_journal::SyncState::decode(&b).ok());
                let not_sent = state.and_then(|s| {
                    store
                        .journal_mut(mend_store::Doc::Shared)
                        .entries_changed_since(&s.shared_heads)
                        .map(|ids| ids.len())
                });
                (Some(at.into()), not_sent)
            }
        };
        out.push(Standing {
            device,
            last_synced,
            not_sent,
        });
    }
    Ok(out)
}
