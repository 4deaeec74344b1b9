//! The async shell behind `invite`, `join`, `sync` and `serve`: it starts the network, carries
//! bytes between it and the sync core, and does all journal work off the async runtime.

pub mod pair;

use std::time::Duration;

use anyhow::Result;
use mend_net::{Multiaddr, NetConfig};

pub use mend_node::{answer, human_duration, sync_with, Answer, ServedJournal, SharedJournal};

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
