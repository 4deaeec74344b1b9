//! `mend relay`: a circuit relay (v2) that laptops on different networks reach each other
//! through.
//!
//! It carries streams that are already Noise-encrypted between the two devices: it learns
//! their peer ids, when they connect and how much they send, nothing of what. Its limits are
//! sized for a journal's sync (a first pull of tens of MB), not the public defaults of 2
//! minutes and 128 KiB per circuit.

use std::num::NonZeroU32;
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, identify, noise, ping, relay, tcp, yamux, Multiaddr,
    PeerId,
};
use tokio::sync::mpsc;

use crate::identity::keypair_from_seed;
use crate::NetError;

/// Reservations held at once, and per device (a laptop reserves once per relay; a few more
/// cover reconnects).
pub const MAX_RESERVATIONS: usize = 128;
pub const MAX_RESERVATIONS_PER_PEER: usize = 4;
/// How long a reservation lasts before the device renews it.
pub const RESERVATION_DURATION: Duration = Duration::from_secs(60 * 60);
/// Circuits open at once, and per device.
pub const MAX_CIRCUITS: usize = 64;
pub const MAX_CIRCUITS_PER_PEER: usize = 8;
/// One circuit lasts at most this long and carries at most this much (both ways): enough for
/// the first pull of a large journal, bounded so that a relay cannot be used without end.
pub const MAX_CIRCUIT_DURATION: Duration = Duration::from_secs(10 * 60);
pub const MAX_CIRCUIT_BYTES: u64 = 256 << 20;
/// Connections from outside at most.
const MAX_ESTABLISHED: u32 = 512;
const MAX_PENDING: u32 = 64;

/// How to start a relay.
pub struct RelayConfig {
    /// The relay's ed25519 identity seed (its peer id stays the same across restarts).
    pub identity_seed: [u8; 32],
    pub listen: Vec<Multiaddr>,
    /// Addresses laptops reach it at that it does not listen on (a forwarded port).
    pub external: Vec<Multiaddr>,
    /// Only these devices may connect (reserve, open circuits, be reached); none: anyone.
    pub allow: Vec<PeerId>,
}

impl Drop for RelayConfig {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.identity_seed);
    }
}

/// What a relay tells the program (peer ids and timing: all it knows).
#[derive(Debug)]
pub enum RelayEvent {
    Listening(Multiaddr),
    Reserved(PeerId),
    ReservationEnded(PeerId),
    CircuitOpened {
        from: PeerId,
        to: PeerId,
    },
    CircuitRefused {
        from: PeerId,
        to: PeerId,
        why: String,
    },
    CircuitClosed {
        from: PeerId,
        to: PeerId,
    },
}

#[derive(NetworkBehaviour)]
struct RelayBehaviour {
    allowed: Toggle<allow_block_list::Behaviour<allow_block_list::AllowedPeers>>,
    limits: connection_limits::Behaviour,
    relay: relay::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

fn limits() -> relay::Config {
    let per = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    relay::Config {
        max_reservations: MAX_RESERVATIONS,
        max_reservations_per_peer: MAX_RESERVATIONS_PER_PEER,
        reservation_duration: RESERVATION_DURATION,
        reservation_rate_limiters: Vec::new(),
        max_circuits: MAX_CIRCUITS,
        max_circuits_per_peer: MAX_CIRCUITS_PER_PEER,
        max_circuit_duration: MAX_CIRCUIT_DURATION,
        max_circuit_bytes: MAX_CIRCUIT_BYTES,
        circuit_src_rate_limiters: Vec::new(),
    }
    // A device reserves again when its connection drops: a burst of 30, then one every 10 s.
    .reservation_rate_per_peer(per(30), Duration::from_secs(10))
    // Many devices may share one address (a household, a NAT): wider per address.
    .reservation_rate_per_ip(per(256), Duration::from_secs(1))
    .circuit_src_per_peer(per(60), Duration::from_secs(5))
    .circuit_src_per_ip(per(256), Duration::from_secs(1))
}

/// The peer id a relay with this seed has.
pub fn relay_peer_id(seed: &[u8; 32]) -> PeerId {
    keypair_from_seed(seed).public().to_peer_id()
}

/// Start a relay on the current tokio runtime; it runs until the receiver is dropped.
pub async fn start_relay(config: RelayConfig) -> Result<mpsc::Receiver<RelayEvent>, NetError> {
    let keypair = keypair_from_seed(&config.identity_seed);
    let allowed = (!config.allow.is_empty()).then(|| {
        let mut b = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
        for p in &config.allow {
            b.allow_peer(*p);
        }
        b
    });
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Start(e.to_string()))?
        .with_behaviour(|key| RelayBehaviour {
            allowed: Toggle::from(allowed),
            limits: connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_pending_incoming(Some(MAX_PENDING))
                    .with_max_established_incoming(Some(MAX_ESTABLISHED))
                    .with_max_established_per_peer(Some(4)),
            ),
            relay: relay::Behaviour::new(key.public().to_peer_id(), limits()),
            identify: identify::Behaviour::new(identify::Config::new(
                "/mend/1".into(),
                key.public(),
            )),
            ping: ping::Behaviour::new(ping::Config::new()),
        })
        .map_err(|e| NetError::Start(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    // A relay serves whoever reaches it: no need to wait for the network to confirm an
    // address first.
    swarm
        .behaviour_mut()
        .relay
        .set_status(Some(relay::Status::Enable));
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                why: e.to_string(),
            })?;
    }
    for addr in &config.external {
        swarm.add_external_address(addr.clone());
    }
    // Loopback addresses are advertised only by a relay that listens on nothing else (a test).
    let loopback = |a: &Multiaddr| {
        a.iter().any(|p| match p {
            libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_loopback(),
            libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        })
    };
    let only_loopback = config.listen.iter().all(loopback);
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let event = match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    if only_loopback || !loopback(&address) {
                        swarm.add_external_address(address.clone());
                    }
                    RelayEvent::Listening(address)
                }
                SwarmEvent::Behaviour(RelayBehaviourEvent::Relay(e)) => match e {
                    relay::Event::ReservationReqAccepted {
                        src_peer_id,
                        renewed: false,
                    } => RelayEvent::Reserved(src_peer_id),
                    relay::Event::ReservationClosed { src_peer_id }
                    | relay::Event::ReservationTimedOut { src_peer_id } => {
                        RelayEvent::ReservationEnded(src_peer_id)
                    }
                    relay::Event::CircuitReqAccepted {
                        src_peer_id,
                        dst_peer_id,
                    } => RelayEvent::CircuitOpened {
                        from: src_peer_id,
                        to: dst_peer_id,
                    },
                    relay::Event::CircuitReqDenied {
                        src_peer_id,
                        dst_peer_id,
                        status,
                    } => RelayEvent::CircuitRefused {
                        from: src_peer_id,
                        to: dst_peer_id,
                        why: format!("{status:?}"),
                    },
                    relay::Event::CircuitClosed {
                        src_peer_id,
                        dst_peer_id,
                        ..
                    } => RelayEvent::CircuitClosed {
                        from: src_peer_id,
                        to: dst_peer_id,
                    },
                    other => {
                        tracing::debug!("relay: {other:?}");
                        continue;
                    }
                },
                _ => continue,
            };
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
