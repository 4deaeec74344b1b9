//! The one event loop that owns the swarm, and the handle the rest of the program holds.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol as Part;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, dcutr, identify, mdns, noise, ping, relay, tcp, yamux,
    Multiaddr, PeerId, StreamProtocol, Swarm,
};
use mend_sync::{Request, Response, PAIR_PROTOCOL, SYNC_PROTOCOL};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroize;

use crate::identity::keypair_from_seed;
use crate::MendCodec;

/// Commands queued for the loop at most.
const COMMAND_QUEUE: usize = 32;
/// Events queued for the program at most; past that, hints are dropped and requests refused.
const EVENT_QUEUE: usize = 64;
/// At most this many concurrent request streams per connection: a session asks one round at
/// a time, and both sides may run one at once. With frames of up to 64 MiB, what one peer can
/// make this device buffer before its byte budget is charged is bounded by this, times
/// [`MAX_PER_PEER`].
const MAX_STREAMS: usize = 2;
/// Connections: being set up (before the Noise handshake names the peer), established from
/// outside, and per peer. Two laptops need a handful; a stranger flooding the port gets no more.
const MAX_PENDING_INCOMING: u32 = 16;
const MAX_ESTABLISHED_INCOMING: u32 = 32;
/// Two direct connections (both devices dialling at once), and one through a relay while a
/// direct one is being punched.
const MAX_PER_PEER: u32 = 3;
/// A relayed connection is reported once hole punching has worked or this long has passed,
/// so that a session starts on the direct path when there is one.
const PUNCH_GRACE: Duration = Duration::from_secs(1);
/// A relayed connection beside a direct one is closed after this long with no request under
/// way (a request the other side sent on it just before is then answered first).
const RELAYED_QUIET: Duration = Duration::from_secs(2);
/// A reservation on a relay that was lost or refused is asked for again after this long,
/// doubling up to [`RESERVE_RETRY_MAX`].
const RESERVE_RETRY: Duration = Duration::from_secs(5);
const RESERVE_RETRY_MAX: Duration = Duration::from_secs(300);
/// Relays used at most (the journal remembers at most 16; a few more from the command line).
pub const MAX_RELAYS: usize = 24;
/// Events held back while the program is busy, before the peer they come from is cut off
/// (never dropped silently).
const EVENT_BACKLOG: usize = 1024;

/// Whether this node takes part in pairing, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// No pairing protocol at all (`sync`, `serve`).
    Off,
    /// An invite is open: pairing requests are answered, in frames of at most 4 KiB.
    Inviting,
    /// Joining: pairing requests are sent, never answered.
    Joining,
}

/// Which of Mend's protocols a request travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Sync,
    Pair,
}

/// How to start the network.
pub struct NetConfig {
    /// The device's ed25519 identity seed (zeroized when the config is dropped).
    pub identity_seed: [u8; 32],
    /// Addresses to listen on, such as `/ip4/0.0.0.0/tcp/0`.
    pub listen: Vec<Multiaddr>,
    /// Find devices on the local network with mDNS.
    pub mdns: bool,
    /// How often mDNS asks the network (tens of seconds; libp2p's default is 5 minutes).
    pub mdns_interval: Duration,
    /// How long one request may take, sized for the largest sync message.
    pub request_timeout: Duration,
    /// How often each connection is pinged, and how long an answer may take before the
    /// connection is taken for dead and closed (a cut link otherwise looks alive until a request
    /// times out). Mend uses 5 s and 20 s.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// The only peers connections are kept with (paired devices), decided when the Noise
    /// handshake names the peer and before any protocol runs; a stranger's connection is closed
    /// and reported as [`NetEvent::Denied`]. `None`: every peer (pairing, where the other
    /// device is not known yet). Changed later with [`NetHandle::allow_only`].
    pub allowed: Option<Vec<PeerId>>,
    pub pairing: Pairing,
    /// Relays (each address ends in `/p2p/<relay id>`): paired devices not on this network are
    /// dialled through them when no other address is known.
    pub relays: Vec<Multiaddr>,
    /// Hold a reservation on each relay, so that devices elsewhere can reach this one through
    /// it (`serve`, `invite`).
    pub reserve: bool,
}

/// How a connection with a device goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// Straight to the device (on the same network, or at an address it can be dialled at).
    Direct,
    /// First through a relay, then straight to the device by hole punching (DCUtR).
    HolePunched,
    /// Through this relay (its address, with its `/p2p/` id); the relay sees only the
    /// encrypted stream.
    Relayed(Multiaddr),
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Direct => f.write_str("direct"),
            Path::HolePunched => f.write_str("hole-punched"),
            Path::Relayed(relay) => write!(f, "via relay {relay}"),
        }
    }
}

impl Drop for NetConfig {
    fn drop(&mut self) {
        self.identity_seed.zeroize();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot listen on {addr}: {why}")]
    Listen { addr: Multiaddr, why: String },
    #[error("cannot reach {target}: {why}")]
    Dial { target: String, why: String },
    #[error("the other device stopped answering ({why})")]
    Request { peer: PeerId, why: String },
    #[error("the network could not start: {0}")]
    Start(String),
    #[error("the network has stopped")]
    Stopped,
    #[error("{0} is not a relay's address: it must end in /p2p/ and the relay's id")]
    BadRelay(Multiaddr),
}

/// The relay's peer id, from its address's last `/p2p/` part.
pub fn relay_peer(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Part::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The address of `peer` through `relay`.
fn circuit(relay: &Multiaddr, peer: PeerId) -> Multiaddr {
    relay.clone().with(Part::P2pCircuit).with(Part::P2p(peer))
}

/// The relay's own address in a relayed one (the part before `/p2p-circuit`).
fn relay_part(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .take_while(|p| !matches!(p, Part::P2pCircuit))
        .collect()
}

/// What the network tells the program.
#[derive(Debug)]
pub enum NetEvent {
    Listening(Multiaddr),
    /// mDNS saw this peer: a hint only; trust comes from pinned peer ids.
    Discovered(PeerId),
    Connected(PeerId),
    Disconnected(PeerId),
    /// A peer asks something. Answer through `reply`; dropping it answers nothing.
    Request {
        peer: PeerId,
        protocol: Protocol,
        request: Request,
        reply: oneshot::Sender<Response>,
    },
    /// A peer sent something unreadable or broke the protocol; its connection was closed.
    BadInput {
        peer: PeerId,
        why: String,
    },
    /// A device that is not allowed tried to connect; it was closed before anything ran.
    Denied(PeerId),
    /// A relay holds a reservation for this device: it can be reached at this address.
    Reachable(Multiaddr),
    /// A relay refused or lost this device's reservation; it is asked again later.
    Unreachable {
        relay: Multiaddr,
        why: String,
    },
}

enum Command {
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    },
    DialPeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    },
    Request {
        peer: PeerId,
        protocol: Protocol,
        request: Request,
        reply: oneshot::Sender<Result<Response, NetError>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    Disconnect {
        peer: PeerId,
    },
    AllowOnly {
        peers: Vec<PeerId>,
    },
    Path {
        peer: PeerId,
        reply: oneshot::Sender<Option<Path>>,
    },
    UseRelays {
        relays: Vec<Multiaddr>,
    },
}

/// A cloneable handle on the network loop. The loop stops when every handle is dropped.
#[derive(Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
    pub local_peer_id: PeerId,
}

impl NetHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Connect to an address; returns the peer id found there.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        self.ask(|reply| Command::Dial { addr, reply }).await?
    }

    /// Connect to a peer found by mDNS (no-op if already connected).
    pub async fn dial_peer(&self, peer: PeerId) -> Result<PeerId, NetError> {
        self.ask(|reply| Command::DialPeer { peer, reply }).await?
    }

    /// Send a request and wait for its response.
    pub async fn request(
        &self,
        peer: PeerId,
        protocol: Protocol,
        request: Request,
    ) -> Result<Response, NetError> {
        self.ask(|reply| Command::Request {
            peer,
            protocol,
            request,
            reply,
        })
        .await?
    }

    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        self.ask(|reply| Command::ListenAddrs { reply }).await
    }

    /// Keep connections with these peers only (the paired devices, as the registry says now):
    /// connections with any other are closed, and new ones refused.
    pub async fn allow_only(&self, peers: Vec<PeerId>) -> Result<(), NetError> {
        self.commands
            .send(Command::AllowOnly { peers })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// How the connection with `peer` goes now (`None`: not connected).
    pub async fn path(&self, peer: PeerId) -> Result<Option<Path>, NetError> {
        self.ask(|reply| Command::Path { peer, reply }).await
    }

    /// Use these relays from now on too (a sync brought ones the journal remembers); those in
    /// use stay.
    pub async fn use_relays(&self, relays: Vec<Multiaddr>) -> Result<(), NetError> {
        self.commands
            .send(Command::UseRelays { relays })
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Close every connection to a peer.
    pub async fn disconnect(&self, peer: PeerId) -> Result<(), NetError> {
        self.commands
            .send(Command::Disconnect { peer })
            .await
            .map_err(|_| NetError::Stopped)
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    // First: a connection they deny never reaches the protocols below. The source limit is
    // asked as a connection is accepted, before its handshake; the allowlist once the
    // handshake names the peer.
    sources: crate::source_limit::SourceLimit,
    allowed: Toggle<allow_block_list::Behaviour<allow_block_list::AllowedPeers>>,
    limits: connection_limits::Behaviour,
    sync: request_response::Behaviour<MendCodec>,
    pair: Toggle<request_response::Behaviour<MendCodec>>,
    mdns: Toggle<mdns::tokio::Behaviour>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    relay_client: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
}

/// A relay this device uses.
struct Relay {
    addr: Multiaddr,
    peer: PeerId,
    /// The listener holding (or asking for) a reservation on it.
    listener: Option<ListenerId>,
    /// When to ask for a reservation again, and how long to wait after that.
    retry_at: Option<tokio::time::Instant>,
    backoff: Duration,
}

/// What kind of path one connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Direct,
    Punched,
    Relayed(Multiaddr),
}

type Reply = BoxFuture<
    'static,
    (
        PeerId,
        Protocol,
        ResponseChannel<Response>,
        Option<Response>,
    ),
>;

struct Loop {
    swarm: Swarm<Behaviour>,
    events: mpsc::Sender<NetEvent>,
    dials: HashMap<ConnectionId, oneshot::Sender<Result<PeerId, NetError>>>,
    requests: HashMap<(Protocol, OutboundRequestId), oneshot::Sender<Result<Response, NetError>>>,
    replies: FuturesUnordered<Reply>,
    discovered: HashMap<PeerId, Vec<Multiaddr>>,
    listening: Vec<Multiaddr>,
    /// Events the program has not taken yet while its queue is full.
    backlog: std::collections::VecDeque<NetEvent>,
    relays: Vec<Relay>,
    reserve: bool,
    /// Each peer's open connections and their paths.
    connections: HashMap<PeerId, Vec<(ConnectionId, Kind)>>,
    /// Relayed connections not reported yet: reported once punched, or at their deadline.
    unreported: HashMap<PeerId, tokio::time::Instant>,
    /// Requests under way with each peer (both ways): a relayed connection is closed once a
    /// direct one exists and none is.
    busy: HashMap<PeerId, usize>,
    /// The peer each outbound request went to.
    request_peer: HashMap<(Protocol, OutboundRequestId), PeerId>,
    /// The paired devices the program allows (`None`: any peer, while pairing); relays are
    /// allowed to connect besides them, never heard.
    paired: Option<std::collections::HashSet<PeerId>>,
    /// Inbound requests whose response has not left yet.
    inbound: std::collections::HashSet<(PeerId, request_response::InboundRequestId)>,
    /// Connections from `Command::Dial` (an address given): their address is remembered.
    explicit: std::collections::HashSet<ConnectionId>,
    /// When to close a peer's relayed connections, a direct one being open (after a quiet
    /// moment, so a request the other side just sent on it is not cut).
    close_relayed_at: HashMap<PeerId, tokio::time::Instant>,
    /// Dials through relays asked for before a listener was up.
    waiting_for_listener: Vec<(PeerId, oneshot::Sender<Result<PeerId, NetError>>)>,
    /// Dials answered once their peer is reported.
    held: HashMap<PeerId, Vec<oneshot::Sender<Result<PeerId, NetError>>>>,
}

/// A failed dial in a few words a person can act on. libp2p's own text names every layer it
/// went through; the whole of it goes to the debug log.
fn gist(error: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        (
            "Connection refused",
            "connection refused (nothing listens there)",
        ),
        ("No route to host", "no route to that host"),
        ("Network is unreachable", "that network is unreachable"),
        ("timed out", "no answer (timed out)"),
        ("Timeout", "no answer (timed out)"),
        (
            "Unexpected peer ID",
            "another device answers at that address",
        ),
        (
            "Handshake failed",
            "the connection was closed during the handshake",
        ),
        ("not supported", "that address is not one Mend can dial"),
        (
            "NoReservation",
            "it holds no reservation on that relay (not serving?)",
        ),
        (
            "no reservation",
            "it holds no reservation on that relay (not serving?)",
        ),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| error.contains(known))
        .map_or_else(|| error.to_owned(), |(_, gist)| (*gist).to_owned())
}

/// Start the network on the current tokio runtime.
pub async fn start(config: NetConfig) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
    let keypair = keypair_from_seed(&config.identity_seed);
    let local_peer_id = keypair.public().to_peer_id();
    let rr_config = request_response::Config::default()
        .with_request_timeout(config.request_timeout)
        .with_max_concurrent_streams(MAX_STREAMS);
    let mdns_config = mdns::Config {
        query_interval: config.mdns_interval,
        ..Default::default()
    };
    let want_mdns = config.mdns;
    let pairing = config.pairing;
    let mut relays: Vec<Relay> = Vec::new();
    for addr in config.relays.iter() {
        let peer = relay_peer(addr).ok_or_else(|| NetError::BadRelay(addr.clone()))?;
        // A device of the journal (or this one) named as a relay is not taken for one: it
        // would be let through as a relay and hidden as a device.
        let a_device =
            peer == local_peer_id || config.allowed.as_ref().is_some_and(|p| p.contains(&peer));
        if a_device || relays.iter().any(|r| r.peer == peer) || relays.len() >= MAX_RELAYS {
            continue;
        }
        relays.push(Relay {
            addr: addr.clone(),
            peer,
            listener: None,
            retry_at: None,
            backoff: RESERVE_RETRY,
        });
    }
    // The relays are always allowed: connections through them need one with them.
    let allowed = config.allowed.clone().map(|mut peers| {
        peers.extend(relays.iter().map(|r| r.peer));
        peers
    });
    let ping_config = ping::Config::new()
        .with_interval(config.ping_interval)
        .with_timeout(config.ping_timeout);
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Start(e.to_string()))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| NetError::Start(e.to_string()))?
        .with_behaviour(|key, relay_client| {
            let peer = key.public().to_peer_id();
            let mdns = if want_mdns {
                Some(mdns::tokio::Behaviour::new(mdns_config, peer)?)
            } else {
                None
            };
            let pair = match pairing {
                Pairing::Off => None,
                Pairing::Inviting => Some(ProtocolSupport::Inbound),
                Pairing::Joining => Some(ProtocolSupport::Outbound),
            }
            .map(|support| {
                request_response::Behaviour::with_codec(
                    MendCodec::pairing(),
                    [(StreamProtocol::new(PAIR_PROTOCOL), support)],
                    rr_config.clone(),
                )
            });
            let allowed = allowed.map(|peers| {
                let mut b =
                    allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
                for p in peers {
                    b.allow_peer(p);
                }
                b
            });
            Ok(Behaviour {
                sources: crate::source_limit::SourceLimit::new(),
                allowed: Toggle::from(allowed),
                limits: connection_limits::Behaviour::new(
                    connection_limits::ConnectionLimits::default()
                        .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
                        .with_max_established_incoming(Some(MAX_ESTABLISHED_INCOMING))
                        .with_max_established_per_peer(Some(MAX_PER_PEER)),
                ),
                sync: request_response::Behaviour::with_codec(
                    MendCodec::sync(),
                    [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                    rr_config,
                ),
                pair: Toggle::from(pair),
                mdns: Toggle::from(mdns),
                identify: identify::Behaviour::new(identify::Config::new(
                    "/mend/1".into(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping_config),
                relay_client,
                dcutr: dcutr::Behaviour::new(peer),
            })
        })
        .map_err(|e| NetError::Start(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                why: e.to_string(),
            })?;
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let mut lp = Loop {
        swarm,
        events: ev_tx,
        dials: HashMap::new(),
        requests: HashMap::new(),
        replies: FuturesUnordered::new(),
        discovered: HashMap::new(),
        listening: Vec::new(),
        backlog: std::collections::VecDeque::new(),
        relays,
        reserve: config.reserve,
        connections: HashMap::new(),
        unreported: HashMap::new(),
        busy: HashMap::new(),
        request_peer: HashMap::new(),
        held: HashMap::new(),
        waiting_for_listener: Vec::new(),
        paired: config.allowed.as_ref().map(|p| p.iter().copied().collect()),
        inbound: std::collections::HashSet::new(),
        explicit: std::collections::HashSet::new(),
        close_relayed_at: HashMap::new(),
    };
    // Reservations are asked for once a listener is up: the connection to the relay then leaves
    // from the listening port, the address a NAT maps for it is the one hole punching needs.
    tokio::spawn(async move { lp.run(cmd_rx).await });
    Ok((
        NetHandle {
            commands: cmd_tx,
            local_peer_id,
        },
        ev_rx,
    ))
}

impl Loop {
    async fn run(&mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            // A handle of its own to wait on, so the branches below may use the loop.
            let events = self.events.clone();
            let wake = self.next_wake();
            tokio::select! {
                _ = async { tokio::time::sleep_until(wake.expect("checked")).await }, if wake.is_some() => {
                    self.timers();
                }
                cmd = commands.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                Some((peer, protocol, channel, answer)) = self.replies.next(), if !self.replies.is_empty() => {
                    // The request stays under way until its response has left
                    // (ResponseSent) or failed (InboundFailure): a relayed connection is not
                    // closed under it.
                    let _ = peer;
                    if let Some(response) = answer {
                        let b = self.swarm.behaviour_mut();
                        let _ = match protocol {
                            Protocol::Sync => b.sync.send_response(channel, response),
                            Protocol::Pair => match b.pair.as_mut() {
                                Some(pair) => pair.send_response(channel, response),
                                None => Ok(()),
                            },
                        };
                    }
                }
                permit = events.reserve(), if !self.backlog.is_empty() => {
                    let Ok(permit) = permit else { break };
                    if let Some(event) = self.backlog.pop_front() {
                        permit.send(event);
                    }
                }
                event = self.swarm.select_next_some() => self.swarm_event(event),
            }
        }
        tracing::debug!("network loop stopped");
    }

    /// Tell the program. While its queue is full, events wait in order in a backlog; a
    /// backlog grown past its bound means the program cannot keep up with some peer, which is
    /// then cut off (its requests fail on its side and it tries again), never dropped unseen.
    fn emit(&mut self, event: NetEvent) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(event);
        } else if let Err(mpsc::error::TrySendError::Full(event)) = self.events.try_send(event) {
            self.backlog.push_back(event);
        }
        if self.backlog.len() > EVENT_BACKLOG {
            // Hints can go; a request's peer is disconnected and told nothing.
            self.backlog
                .retain(|e| !matches!(e, NetEvent::Discovered(_) | NetEvent::Listening(_)));
            while self.backlog.len() > EVENT_BACKLOG {
                if let Some(NetEvent::Request { peer, .. }) = self.backlog.pop_back() {
                    tracing::warn!(%peer, "the program is not keeping up; closing the connection");
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
            }
        }
    }

    /// Start a dial; `reply` hears the peer id once connected, or why not.
    fn dial(
        &mut self,
        opts: DialOpts,
        target: String,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    ) {
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.dials.insert(id, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(NetError::Dial {
                    target,
                    why: e.to_string(),
                }));
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Dial { addr, reply } => {
                let opts = DialOpts::unknown_peer_id().address(addr.clone()).build();
                self.explicit.insert(opts.connection_id());
                self.dial(opts, addr.to_string(), reply);
            }
            Command::DialPeer { peer, reply } => {
                if self.unreported.contains_key(&peer) {
                    // Connected through a relay, hole punching under way: answered with it.
                    self.held.entry(peer).or_default().push(reply);
                    return;
                }
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(peer));
                    return;
                }
                let mut addrs = self.discovered.get(&peer).cloned().unwrap_or_default();
                if addrs.is_empty() && !self.relays.is_empty() && !self.has_listener() {
                    // Through a relay only once listening: the connection to the relay then
                    // leaves from the listening port, which hole punching needs.
                    self.waiting_for_listener.push((peer, reply));
                    return;
                }
                if addrs.is_empty() {
                    // Not on this network: through every relay at once (the first to answer
                    // is used).
                    addrs = self
                        .relays
                        .iter()
                        .filter(|r| r.peer != peer)
                        .map(|r| circuit(&r.addr, peer))
                        .collect();
                }
                let opts = DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                self.dial(opts, peer.to_string(), reply);
            }
            Command::Request {
                peer,
                protocol,
                request,
                reply,
            } => {
                let b = self.swarm.behaviour_mut();
                let id = match protocol {
                    Protocol::Sync => b.sync.send_request(&peer, request),
                    Protocol::Pair => match b.pair.as_mut() {
                        Some(pair) => pair.send_request(&peer, request),
                        None => {
                            let _ = reply.send(Err(NetError::Request {
                                peer,
                                why: "this node does not pair".into(),
                            }));
                            return;
                        }
                    },
                };
                self.requests.insert((protocol, id), reply);
                self.request_peer.insert((protocol, id), peer);
                *self.busy.entry(peer).or_default() += 1;
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.listening.clone());
            }
            Command::Disconnect { peer } => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::AllowOnly { mut peers } => {
                self.paired = Some(peers.iter().copied().collect());
                peers.extend(self.relays.iter().map(|r| r.peer));
                if let Some(allowed) = self.swarm.behaviour_mut().allowed.as_mut() {
                    let now: std::collections::HashSet<PeerId> =
                        allowed.allowed_peers().iter().copied().collect();
                    for gone in now.iter().filter(|p| !peers.contains(p)) {
                        // Also closes the connections it has.
                        allowed.disallow_peer(*gone);
                    }
                    for p in peers {
                        allowed.allow_peer(p);
                    }
                }
            }
            Command::Path { peer, reply } => {
                let _ = reply.send(self.path(&peer));
            }
            Command::UseRelays { relays } => {
                for addr in relays {
                    let Some(peer) = relay_peer(&addr) else {
                        continue;
                    };
                    let a_device = peer == *self.swarm.local_peer_id()
                        || self.paired.as_ref().is_some_and(|p| p.contains(&peer));
                    if self.relays.len() >= MAX_RELAYS
                        || a_device
                        || self.relays.iter().any(|r| r.peer == peer)
                    {
                        continue;
                    }
                    if let Some(allowed) = self.swarm.behaviour_mut().allowed.as_mut() {
                        allowed.allow_peer(peer);
                    }
                    self.relays.push(Relay {
                        addr,
                        peer,
                        listener: None,
                        retry_at: None,
                        backoff: RESERVE_RETRY,
                    });
                }
                self.reserve_all();
            }
        }
    }

    /// How the connection with `peer` goes: hole-punched or direct before relayed.
    fn path(&self, peer: &PeerId) -> Option<Path> {
        let conns = self.connections.get(peer)?;
        if conns.iter().any(|(_, k)| *k == Kind::Punched) {
            Some(Path::HolePunched)
        } else if conns.iter().any(|(_, k)| *k == Kind::Direct) {
            Some(Path::Direct)
        } else {
            conns.iter().find_map(|(_, k)| match k {
                Kind::Relayed(relay) => Some(Path::Relayed(relay.clone())),
                _ => None,
            })
        }
    }

    fn has_listener(&self) -> bool {
        self.listening
            .iter()
            .any(|a| !a.iter().any(|p| p == Part::P2pCircuit))
    }

    fn is_relay(&self, peer: &PeerId) -> bool {
        self.relays.iter().any(|r| r.peer == *peer)
    }

    /// Ask each relay that has no listener (and is due) for a reservation, when this node
    /// reserves.
    fn reserve_all(&mut self) {
        if !self.reserve {
            return;
        }
        let now = tokio::time::Instant::now();
        for i in 0..self.relays.len() {
            let r = &self.relays[i];
            if r.listener.is_some() || r.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            let addr = r.addr.clone().with(Part::P2pCircuit);
            match self.swarm.listen_on(addr) {
                Ok(id) => {
                    let r = &mut self.relays[i];
                    r.listener = Some(id);
                    r.retry_at = None;
                }
                Err(e) => self.reservation_lost(i, e.to_string()),
            }
        }
    }

    /// A relay's reservation was refused or lost: ask again later, less often each time.
    fn reservation_lost(&mut self, i: usize, why: String) {
        let r = &mut self.relays[i];
        r.listener = None;
        r.retry_at = Some(tokio::time::Instant::now() + r.backoff);
        r.backoff = (r.backoff * 2).min(RESERVE_RETRY_MAX);
        tracing::info!(relay = %r.addr, "no reservation on the relay: {why}");
        let relay = r.addr.clone();
        self.listening
            .retain(|a| !(a.iter().any(|p| p == Part::P2pCircuit) && relay_part(a) == relay));
        self.emit(NetEvent::Unreachable {
            relay,
            why: gist(&why),
        });
    }

    /// When a timer is next due: a reservation to ask for again, a relayed connection to report.
    fn next_wake(&self) -> Option<tokio::time::Instant> {
        let retries = self.relays.iter().filter_map(|r| r.retry_at);
        retries
            .chain(self.unreported.values().copied())
            .chain(self.close_relayed_at.values().copied())
            .min()
    }

    fn timers(&mut self) {
        let now = tokio::time::Instant::now();
        self.reserve_all();
        let due: Vec<PeerId> = self
            .unreported
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            self.report(peer);
        }
        let closing: Vec<PeerId> = self
            .close_relayed_at
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in closing {
            // Busy again: asked again once it is quiet (`done_with`).
            self.close_relayed_at.remove(&peer);
            self.close_relayed_now(peer);
        }
    }

    /// Tell the program (and the dials waiting) that `peer` is connected.
    fn report(&mut self, peer: PeerId) {
        self.unreported.remove(&peer);
        for reply in self.held.remove(&peer).unwrap_or_default() {
            let _ = reply.send(Ok(peer));
        }
        if self.connections.contains_key(&peer) {
            self.emit(NetEvent::Connected(peer));
        }
    }

    /// A request with `peer` ended: with none left, a relayed connection beside a direct one
    /// can go.
    fn done_with(&mut self, peer: PeerId) {
        if let Some(n) = self.busy.get_mut(&peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.busy.remove(&peer);
                self.close_relayed_if_direct(peer);
            }
        }
    }

    /// `peer`'s relayed connections, when a direct one is open beside them and no request is
    /// under way (none otherwise).
    fn relayed_beside_direct(&self, peer: &PeerId) -> Vec<ConnectionId> {
        let Some(conns) = self.connections.get(peer) else {
            return Vec::new();
        };
        if self.busy.contains_key(peer) || conns.iter().all(|(_, k)| matches!(k, Kind::Relayed(_)))
        {
            return Vec::new();
        }
        conns
            .iter()
            .filter(|(_, k)| matches!(k, Kind::Relayed(_)))
            .map(|(c, _)| *c)
            .collect()
    }

    /// Once a direct connection with `peer` exists and no request is under way, its relayed
    /// connections are closed after a quiet moment (requests would otherwise be spread over
    /// both).
    fn close_relayed_if_direct(&mut self, peer: PeerId) {
        if !self.relayed_beside_direct(&peer).is_empty() {
            self.close_relayed_at
                .entry(peer)
                .or_insert_with(|| tokio::time::Instant::now() + RELAYED_QUIET);
        }
    }

    /// Close `peer`'s relayed connections now, if a direct one is open and nothing is under way.
    fn close_relayed_now(&mut self, peer: PeerId) {
        for c in self.relayed_beside_direct(&peer) {
            tracing::debug!(%peer, "closing the relayed connection: a direct one is open");
            self.swarm.close_connection(c);
        }
    }

    fn rr_event(&mut self, protocol: Protocol, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request,
                        channel,
                        request_id,
                    },
                ..
            } => {
                // A relay (or any peer let through only to carry connections) is no paired
                // device: its requests are not heard, and its connection is kept (circuits
                // run over it).
                if self.paired.as_ref().is_some_and(|p| !p.contains(&peer)) {
                    tracing::debug!(%peer, "ignored a request from a peer that is no paired device");
                    return;
                }
                let (tx, rx) = oneshot::channel();
                if self.inbound.insert((peer, request_id)) {
                    *self.busy.entry(peer).or_default() += 1;
                }
                self.replies
                    .push(async move { (peer, protocol, channel, rx.await.ok()) }.boxed());
                self.emit(NetEvent::Request {
                    peer,
                    protocol,
                    request,
                    reply: tx,
                });
            }
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.requests.remove(&(protocol, request_id)) {
                    let _ = reply.send(Ok(response));
                }
                if let Some(peer) = self.request_peer.remove(&(protocol, request_id)) {
                    self.done_with(peer);
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.requests.remove(&(protocol, request_id)) {
                    let _ = reply.send(Err(NetError::Request {
                        peer,
                        why: error.to_string(),
                    }));
                }
                if let Some(peer) = self.request_peer.remove(&(protocol, request_id)) {
                    self.done_with(peer);
                }
            }
            Event::InboundFailure {
                peer, request_id, ..
            }
            | Event::ResponseSent {
                peer, request_id, ..
            } if self.inbound.contains(&(peer, request_id)) => {
                self.inbound.remove(&(peer, request_id));
                self.done_with(peer);
                // What the failure was is handled as below.
                if let Event::InboundFailure { error, .. } = event {
                    self.inbound_failure(peer, error);
                }
            }
            Event::InboundFailure { peer, error, .. } => self.inbound_failure(peer, error),
            Event::ResponseSent { .. } => {}
        }
    }

    fn inbound_failure(&mut self, peer: PeerId, error: request_response::InboundFailure) {
        match error {
            request_response::InboundFailure::Io(error) => {
                // Unreadable frames, oversized frames, or a stream cut mid-request: close.
                tracing::warn!(%peer, "bad inbound request: {error}");
                let _ = self.swarm.disconnect_peer_id(peer);
                self.emit(NetEvent::BadInput {
                    peer,
                    why: error.to_string(),
                });
            }
            error => {
                tracing::debug!(%peer, "inbound request ended without an answer: {error}");
            }
        }
    }

    fn swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { mut address, .. } => {
                // A circuit address ends in this device's id; the others do not, and the
                // program adds it to each.
                if address.iter().last() == Some(Part::P2p(*self.swarm.local_peer_id())) {
                    address.pop();
                }
                // A reservation renewed announces its address again.
                if self.listening.contains(&address) {
                    return;
                }
                self.listening.push(address.clone());
                if address.iter().any(|p| p == Part::P2pCircuit) {
                    self.emit(NetEvent::Reachable(address));
                } else {
                    self.emit(NetEvent::Listening(address));
                    self.reserve_all();
                    for (peer, reply) in std::mem::take(&mut self.waiting_for_listener) {
                        self.command(Command::DialPeer { peer, reply });
                    }
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some(i) = self
                    .relays
                    .iter()
                    .position(|r| r.listener == Some(listener_id))
                {
                    let why = match reason {
                        Ok(()) => "the relay closed the connection".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    self.reservation_lost(i, why);
                }
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::debug!("listener error: {error}");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let relayed = endpoint.is_relayed();
                let kind = if relayed {
                    let addr = match &endpoint {
                        libp2p::core::ConnectedPoint::Dialer { address, .. } => address,
                        libp2p::core::ConnectedPoint::Listener { local_addr, .. } => local_addr,
                    };
                    Kind::Relayed(relay_part(addr))
                } else {
                    Kind::Direct
                };
                let had_direct = self
                    .connections
                    .get(&peer_id)
                    .is_some_and(|c| c.iter().any(|(_, k)| !matches!(k, Kind::Relayed(_))));
                let was_connected = self.connections.contains_key(&peer_id);
                self.connections
                    .entry(peer_id)
                    .or_default()
                    .push((connection_id, kind));
                // An address this device was given and dialled (a `--peer`) is where the peer
                // can be dialled again once an idle connection has been closed. Not one hole
                // punching dialled: a NAT's mapping does not outlive its connection.
                let given = self.explicit.remove(&connection_id);
                if let libp2p::core::ConnectedPoint::Dialer { address, .. } = &endpoint {
                    if !relayed && given {
                        let known = self.discovered.entry(peer_id).or_default();
                        if !known.contains(address) && known.len() < 16 {
                            known.push(address.clone());
                        }
                    }
                }
                if self.is_relay(&peer_id) {
                    if let Some(reply) = self.dials.remove(&connection_id) {
                        let _ = reply.send(Ok(peer_id));
                    }
                    return;
                }
                if relayed && !had_direct {
                    // Hole punching starts now; the path is told once it is known.
                    tracing::debug!(%peer_id, "connected through a relay");
                    if let Some(reply) = self.dials.remove(&connection_id) {
                        if was_connected && !self.unreported.contains_key(&peer_id) {
                            // Already told: the dial is answered now.
                            let _ = reply.send(Ok(peer_id));
                        } else {
                            self.held.entry(peer_id).or_default().push(reply);
                        }
                    }
                    if !was_connected {
                        self.unreported
                            .insert(peer_id, tokio::time::Instant::now() + PUNCH_GRACE);
                    }
                    return;
                }
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                if !relayed {
                    self.close_relayed_if_direct(peer_id);
                }
                if self.unreported.contains_key(&peer_id) || !was_connected {
                    self.report(peer_id);
                }
            }
            SwarmEvent::IncomingConnectionError {
                peer_id: Some(peer),
                error: ListenError::Denied { .. },
                ..
            } => {
                tracing::debug!(%peer, "refused a connection from a device that is not paired");
                self.emit(NetEvent::Denied(peer));
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                peer_id,
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    tracing::debug!(?peer_id, "a dial failed: {error}");
                    let _ = reply.send(Err(NetError::Dial {
                        target: peer_id.map_or_else(|| "the address".into(), |p| p.to_string()),
                        why: gist(&error.to_string()),
                    }));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                if let Some(conns) = self.connections.get_mut(&peer_id) {
                    conns.retain(|(c, _)| *c != connection_id);
                    if conns.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
                if num_established == 0 {
                    self.connections.remove(&peer_id);
                    self.close_relayed_at.remove(&peer_id);
                    let held = self.held.remove(&peer_id).unwrap_or_default();
                    for reply in held {
                        let _ = reply.send(Err(NetError::Dial {
                            target: peer_id.to_string(),
                            why: "the connection closed".into(),
                        }));
                    }
                    let unreported = self.unreported.remove(&peer_id).is_some();
                    if !self.is_relay(&peer_id) && !unreported {
                        self.emit(NetEvent::Disconnected(peer_id));
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            })) => match result {
                Ok(connection) => {
                    tracing::info!(peer = %remote_peer_id, "hole punching worked: a direct connection");
                    if let Some(conns) = self.connections.get_mut(&remote_peer_id) {
                        for (c, k) in conns.iter_mut() {
                            if *c == connection {
                                *k = Kind::Punched;
                            }
                        }
                    }
                    self.close_relayed_if_direct(remote_peer_id);
                    if self.unreported.contains_key(&remote_peer_id) {
                        self.report(remote_peer_id);
                    }
                }
                Err(e) => {
                    tracing::info!(peer = %remote_peer_id, "hole punching did not work: {e}");
                    if self.unreported.contains_key(&remote_peer_id) {
                        self.report(remote_peer_id);
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(
                relay::client::Event::ReservationReqAccepted {
                    relay_peer_id,
                    renewal,
                    ..
                },
            )) => {
                tracing::debug!(relay = %relay_peer_id, renewal, "reservation accepted");
                for r in self.relays.iter_mut().filter(|r| r.peer == relay_peer_id) {
                    r.backoff = RESERVE_RETRY;
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.rr_event(Protocol::Sync, e),
            SwarmEvent::Behaviour(BehaviourEvent::Pair(e)) => self.rr_event(Protocol::Pair, e),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if peer == *self.swarm.local_peer_id() {
                        continue;
                    }
                    let known = self.discovered.entry(peer).or_default();
                    if !known.contains(&addr) {
                        known.push(addr);
                    }
                    self.emit(NetEvent::Discovered(peer));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(e @ (ping::Failure::Timeout | ping::Failure::Other { .. })),
            })) => {
                // No answer to a ping: the link is gone. Closing the connection fails its
                // requests now instead of at their timeout.
                tracing::info!(%peer, "closing a connection that stopped answering: {e}");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Expired(gone))) => {
                for (peer, addr) in gone {
                    if let Some(list) = self.discovered.get_mut(&peer) {
                        list.retain(|a| *a != addr);
                    }
                }
            }
            _ => {}
        }
    }
}
