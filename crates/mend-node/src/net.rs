//! The network as a node starts it: its configuration from a front end's options, and the
//! runtime the node's async work runs on.

use std::time::Duration;

use mend_net::{Multiaddr, NetConfig};

use crate::NodeError;

/// A request may take this long: enough for the largest sync message on a slow network.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Each connection is pinged this often; one that leaves a ping unanswered this long is closed.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
pub const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// How often mDNS asks the network.
pub const MDNS_INTERVAL: Duration = Duration::from_secs(15);

/// Where to listen and whom to dial, as a person gives them.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// Addresses to listen on (multiaddrs); none: any interface, a port the system picks.
    pub listen: Vec<String>,
    /// Devices to dial directly (multiaddrs); given any, mDNS is not used.
    pub peers: Vec<String>,
    pub no_mdns: bool,
    /// Relays (multiaddrs ending in `/p2p/<relay id>`): given on the command line and
    /// remembered by the journal.
    pub relays: Vec<String>,
}

/// The runtime `invite`, `join`, `sync` and `serve` run on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The peer id (as printed) of the device whose public key (hex) this is.
pub fn peer_id_of(hex_key: &str) -> Option<String> {
    mend_net::peer_id_from_public_key(hex_key).map(|p| p.to_string())
}

/// Parse network addresses; the first that is none is an error naming it.
pub fn parse_addrs(list: &[String]) -> Result<Vec<Multiaddr>, NodeError> {
    list.iter()
        .map(|a| {
            a.parse::<Multiaddr>()
                .map_err(|_| NodeError::BadAddress(a.clone()))
        })
        .collect()
}

/// Parse relay addresses: each must end in the relay's `/p2p/` id. Repeats are dropped.
pub fn parse_relays(list: &[String]) -> Result<Vec<Multiaddr>, NodeError> {
    let mut out: Vec<Multiaddr> = Vec::new();
    for a in list {
        let addr = a
            .parse::<Multiaddr>()
            .map_err(|_| NodeError::BadAddress(a.clone()))?;
        // An IP address (this build resolves no names) and the relay's id.
        let ip = matches!(
            addr.iter().next(),
            Some(mend_net::multiaddr::Protocol::Ip4(_) | mend_net::multiaddr::Protocol::Ip6(_))
        );
        if mend_net::relay_peer(&addr).is_none() || !ip {
            return Err(NodeError::BadRelay(a.clone()));
        }
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

/// Of the relays a journal remembers, those this build can dial (an address of a later
/// release's is left out, not an error).
pub fn usable_relays(remembered: Vec<String>) -> Vec<String> {
    remembered
        .into_iter()
        .filter(|a| parse_relays(std::slice::from_ref(a)).is_ok())
        .collect()
}

/// The network configuration for this device (its identity seed) and these options.
pub fn net_config(identity_seed: [u8; 32], opts: &NetOptions) -> Result<NetConfig, NodeError> {
    let mut listen = parse_addrs(&opts.listen)?;
    if listen.is_empty() {
        listen.push("/ip4/0.0.0.0/tcp/0".parse().expect("valid address"));
    }
    Ok(NetConfig {
        identity_seed,
        listen,
        mdns: !opts.no_mdns && opts.peers.is_empty(),
        mdns_interval: MDNS_INTERVAL,
        request_timeout: REQUEST_TIMEOUT,
        ping_interval: PING_INTERVAL,
        ping_timeout: PING_TIMEOUT,
        // Set by the loops (the paired devices) or left open by pairing.
        allowed: None,
        pairing: mend_net::Pairing::Off,
        relays: parse_relays(&opts.relays)?,
        // Set by the nodes that must be reachable (serve, invite).
        reserve: false,
    })
}
