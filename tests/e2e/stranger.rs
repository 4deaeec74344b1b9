//! A stranger on the network: a libp2p node with a fresh identity that speaks Mend's real
//! protocol (TCP, Noise, Yamux, `/mend/sync/1`) and dials from a source address of its
//! choosing, as another machine on the same Wi-Fi would. libp2p's own TCP transport picks the
//! source address itself (on loopback always 127.0.0.1), so this one binds it first.
//!
//! Shared by the end-to-end tests and the benchmark (`#[path]`), which use different parts.
#![allow(dead_code)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::core::upgrade::Version;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, yamux, Multiaddr, StreamProtocol, Transport};

/// TCP that dials from `source` and never listens.
struct BoundTcp {
    source: IpAddr,
}

type Dialling =
    Pin<Box<dyn Future<Output = std::io::Result<libp2p::tcp::tokio::TcpStream>> + Send>>;

impl Transport for BoundTcp {
    type Output = libp2p::tcp::tokio::TcpStream;
    type Error = std::io::Error;
    type ListenerUpgrade = std::future::Pending<std::io::Result<Self::Output>>;
    type Dial = Dialling;

    fn listen_on(
        &mut self,
        _: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        Err(TransportError::MultiaddrNotSupported(addr))
    }

    fn remove_listener(&mut self, _: ListenerId) -> bool {
        false
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let mut parts = addr.iter();
        let target = match (parts.next(), parts.next()) {
            (Some(Protocol::Ip4(ip)), Some(Protocol::Tcp(port))) => {
                SocketAddr::new(IpAddr::V4(ip), port)
            }
            _ => return Err(TransportError::MultiaddrNotSupported(addr)),
        };
        let source = self.source;
        Ok(Box::pin(async move {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(source, 0))?;
            let stream = socket.connect(target).await?;
            stream.set_nodelay(true)?;
            Ok(libp2p::tcp::tokio::TcpStream(stream))
        }))
    }

    fn poll(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        Poll::Pending
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The connection failed before the handshake completed (closed as it was accepted).
    NoHandshake,
    /// The handshake completed and the connection was then closed without an answer.
    ClosedAfterHandshake,
    /// The serving laptop answered the request: a stranger must never see this.
    Answered,
}

/// One attempt: a fresh identity dials `target` from `source` and asks to sync.
pub async fn attempt(source: IpAddr, target: &Multiaddr) -> Outcome {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_other_transport(|key| {
            BoundTcp { source }
                .upgrade(Version::V1)
                .authenticate(noise::Config::new(key).expect("a Noise key"))
                .multiplex(yamux::Config::default())
        })
        .expect("a transport")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                mend_net::MendCodec::sync(),
                [(
                    StreamProtocol::new("/mend/sync/1"),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            )
        })
        .expect("a behaviour")
        .build();
    let target: Multiaddr = target
        .iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect();
    if swarm.dial(target).is_err() {
        return Outcome::NoHandshake;
    }
    let run = async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    swarm.behaviour_mut().send_request(
                        &peer_id,
                        mend_sync::Request::Sync {
                            journal_id: [0; 16],
                            session: 1,
                            message: vec![0; 64],
                            signatures: Vec::new(),
                        },
                    );
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    let why = error.to_string();
                    assert!(
                        !why.contains("Connection refused"),
                        "nothing listens at the target: {why}"
                    );
                    return Outcome::NoHandshake;
                }
                SwarmEvent::Behaviour(request_response::Event::Message { .. }) => {
                    return Outcome::Answered
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. })
                | SwarmEvent::ConnectionClosed { .. } => return Outcome::ClosedAfterHandshake,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap_or(Outcome::ClosedAfterHandshake)
}
