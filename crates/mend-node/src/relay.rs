//! `mend relay`: a circuit relay run from a home directory, its identity kept there so its
//! address stays the same across restarts.

use std::io::Write;
use std::path::Path;

use mend_net::{start_relay, Multiaddr, RelayConfig, RelayEvent};

use crate::{parse_addrs, NodeError, SharedWatcher};

/// The relay's identity file in a home.
pub const KEY_FILE: &str = "relay.key";

/// The relay's identity seed: read from `home/relay.key`, or made and kept there (mode 0600)
/// the first time. It names the relay only: it opens nothing.
pub fn identity(home: &Path) -> Result<zeroize::Zeroizing<[u8; 32]>, NodeError> {
    let path = home.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                NodeError::RelayKey(format!(
                    "{} is not a relay identity (32 bytes)",
                    path.display()
                ))
            })?;
            Ok(zeroize::Zeroizing::new(seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = mend_crypto::random_bytes()?;
            {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(home)?;
            }
            let tmp = home.join(format!("{KEY_FILE}.tmp"));
            {
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(&seed)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok(zeroize::Zeroizing::new(seed))
        }
        Err(e) => Err(e.into()),
    }
}

/// Where a relay listens unless told: every interface, port 4001.
pub fn default_listen() -> Vec<String> {
    vec!["/ip4/0.0.0.0/tcp/4001".into(), "/ip6/::/tcp/4001".into()]
}

/// Run a relay until Ctrl-C or a termination signal: tell the watcher its addresses (with its
/// `/p2p/` id) and, one line each, the reservations and circuits (peer ids only).
pub async fn run_relay(
    home: &Path,
    listen: &[String],
    external: &[String],
    allow: &[String],
    watcher: SharedWatcher,
) -> Result<(), NodeError> {
    let allow = parse_peer_ids(allow)?;
    let seed = identity(home)?;
    let listen = if listen.is_empty() {
        default_listen()
    } else {
        listen.to_vec()
    };
    let listen = parse_addrs(&listen)?;
    let external = parse_addrs(external)?;
    let id = mend_net::relay_peer_id(&seed);
    let mut events = start_relay(RelayConfig {
        identity_seed: *seed,
        listen,
        external: external.clone(),
        allow: allow.clone(),
    })
    .await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    watcher.say(&format!(
        "Relay {id}. Laptops use it with --relay ADDR, one of:"
    ));
    if !allow.is_empty() {
        watcher.note(&format!(
            "note: only {} device{} may use this relay",
            allow.len(),
            if allow.len() == 1 { "" } else { "s" }
        ));
    }
    for addr in &external {
        watcher.say(&format!("  {}", with_id(addr, &id)));
    }
    let mut reserved = std::collections::HashSet::new();
    loop {
        let event = tokio::select! {
            _ = ctrl_c.recv() => break,
            _ = term.recv() => break,
            e = events.recv() => match e {
                Some(e) => e,
                None => break,
            },
        };
        match event {
            RelayEvent::Listening(addr) => watcher.say(&format!("  {}", with_id(&addr, &id))),
            RelayEvent::Reserved(peer) => {
                if reserved.insert(peer) {
                    watcher.note(&format!("note: {peer} holds a reservation"));
                }
            }
            RelayEvent::ReservationEnded(peer) => {
                reserved.remove(&peer);
                tracing::info!(%peer, "reservation ended");
            }
            RelayEvent::CircuitOpened { from, to } => {
                tracing::info!(%from, %to, "circuit opened");
            }
            // Mostly a device trying its partner, which holds no reservation (not serving).
            RelayEvent::CircuitRefused { from, to, why } => {
                tracing::info!(%from, %to, "refused a circuit: {why}");
            }
            RelayEvent::CircuitClosed { from, to } => {
                tracing::info!(%from, %to, "circuit closed");
            }
        }
    }
    watcher.say("Relay stopped.");
    Ok(())
}

/// Peer ids as `mend devices` shows them; the first that is none is an error naming it.
pub fn parse_peer_ids(list: &[String]) -> Result<Vec<mend_net::PeerId>, NodeError> {
    list.iter()
        .map(|p| {
            p.trim()
                .parse::<mend_net::PeerId>()
                .map_err(|_| NodeError::BadPeerId(p.clone()))
        })
        .collect()
}

fn with_id(addr: &Multiaddr, id: &mend_net::PeerId) -> String {
    format!("{addr}/p2p/{id}")
}
