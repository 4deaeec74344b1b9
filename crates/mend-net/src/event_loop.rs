//! The one event loop that owns the swarm, and the handle the rest of the program holds.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, identify, mdns, noise, ping, tcp, yamux, Multiaddr,
    PeerId, StreamProtocol, Swarm,
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
const MAX_PER_PEER: u32 = 2;
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
}

type Reply = BoxFuture<'static, (Protocol, ResponseChannel<Response>, Option<Response>)>;

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
    let allowed = config.allowed.clone();
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
        .with_behaviour(|key| {
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
    };
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
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                Some((protocol, channel, answer)) = self.replies.next(), if !self.replies.is_empty() => {
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
                self.dial(opts, addr.to_string(), reply);
            }
            Command::DialPeer { peer, reply } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(peer));
                    return;
                }
                let addrs = self.discovered.get(&peer).cloned().unwrap_or_default();
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
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.listening.clone());
            }
            Command::Disconnect { peer } => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::AllowOnly { peers } => {
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
        }
    }

    fn rr_event(&mut self, protocol: Protocol, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let (tx, rx) = oneshot::channel();
                self.replies
                    .push(async move { (protocol, channel, rx.await.ok()) }.boxed());
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
            }
            Event::InboundFailure {
                peer,
                error: request_response::InboundFailure::Io(error),
                ..
            } => {
                // Unreadable frames, oversized frames, or a stream cut mid-request: close.
                tracing::warn!(%peer, "bad inbound request: {error}");
                let _ = self.swarm.disconnect_peer_id(peer);
                self.emit(NetEvent::BadInput {
                    peer,
                    why: error.to_string(),
                });
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound request ended without an answer: {error}");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                self.listening.push(address.clone());
                self.emit(NetEvent::Listening(address));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                // An address this device dialled (a `--peer`) is where the peer can be
                // dialled again once an idle connection has been closed.
                if let libp2p::core::ConnectedPoint::Dialer { address, .. } = &endpoint {
                    let known = self.discovered.entry(peer_id).or_default();
                    if !known.contains(address) && known.len() < 16 {
                        known.push(address.clone());
                    }
                }
                self.emit(NetEvent::Connected(peer_id));
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
                num_established: 0,
                ..
            } => self.emit(NetEvent::Disconnected(peer_id)),
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
