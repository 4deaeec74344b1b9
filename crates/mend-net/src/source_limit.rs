//! Connections from one source address, limited before the handshake.
//!
//! Who a peer is becomes known only after the Noise handshake, and each handshake costs the
//! listening laptop work (key agreement, a few hundred microseconds of CPU). A stranger on the
//! same network that dials over and over, with a fresh identity each time, would make
//! `mend serve` spend most of a core on handshakes that end in a refusal. So each source
//! address (an IPv6 address counts by its /64, which one host usually holds whole) gets a
//! bucket of attempts that refills at a steady rate; past it, a new connection is dropped as it
//! is accepted, before any handshake. The partner's laptop, on its own address, is not
//! affected by a stranger's dialling.
//!
//! [`Buckets`] is the policy, with the time passed in; [`SourceLimit`] is the libp2p behaviour
//! that asks it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use libp2p::core::{transport::PortUse, Endpoint};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Connections one source may open at once before it must wait.
pub(crate) const BURST: f64 = 64.0;
/// Connections a second one source may open after its burst. An honest device opens one per
/// sync; serving laptops reconnect after a link drop, with back-off.
pub(crate) const PER_SECOND: f64 = 8.0;
/// Sources remembered at most. Past it, sources whose bucket has refilled are forgotten; if
/// none has, a new source is refused until one has (a flood from many addresses then costs
/// no handshake either).
pub(crate) const SOURCES: usize = 4096;

/// What a source address is counted as: an IPv4 address, or an IPv6 address's /64.
fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The source's IP address in a multiaddr, if it has one.
fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

/// A bucket of connection attempts per source. No clock inside: `now` is seconds on any
/// steady clock.
#[derive(Debug)]
pub(crate) struct Buckets {
    /// Tokens left and when they were last counted.
    sources: HashMap<IpAddr, (f64, f64)>,
    burst: f64,
    per_second: f64,
    most: usize,
}

impl Buckets {
    pub(crate) fn new(burst: f64, per_second: f64, most: usize) -> Self {
        Self {
            sources: HashMap::new(),
            burst,
            per_second,
            most,
        }
    }

    fn refilled(&self, (tokens, at): (f64, f64), now: f64) -> f64 {
        (tokens + (now - at).max(0.0) * self.per_second).min(self.burst)
    }

    /// Take one attempt from `ip`'s bucket at `now`; false if it is empty.
    pub(crate) fn take(&mut self, ip: IpAddr, now: f64) -> bool {
        let source = source_of(ip);
        if !self.sources.contains_key(&source) && self.sources.len() >= self.most {
            let burst = self.burst;
            let full: Vec<IpAddr> = self
                .sources
                .iter()
                .filter(|(_, &b)| self.refilled(b, now) >= burst)
                .map(|(ip, _)| *ip)
                .collect();
            for ip in full {
                self.sources.remove(&ip);
            }
            if self.sources.len() >= self.most {
                return false;
            }
        }
        let tokens = match self.sources.get(&source) {
            Some(&b) => self.refilled(b, now),
            None => self.burst,
        };
        if tokens < 1.0 {
            self.sources.insert(source, (tokens, now));
            return false;
        }
        self.sources.insert(source, (tokens - 1.0, now));
        true
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.sources.len()
    }
}

/// The behaviour: asks [`Buckets`] about every inbound connection as it is accepted.
pub(crate) struct SourceLimit {
    buckets: Buckets,
    started: Instant,
}

impl SourceLimit {
    pub(crate) fn new() -> Self {
        Self {
            buckets: Buckets::new(BURST, PER_SECOND, SOURCES),
            started: Instant::now(),
        }
    }
}

impl NetworkBehaviour for SourceLimit {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        // A relayed connection arrives on a circuit listener (its local address is the
        // circuit; its remote one names only the peer): its limits are the relay's to keep,
        // and the connection with the relay itself was counted when it was made.
        if local
            .iter()
            .chain(remote.iter())
            .any(|p| matches!(p, Protocol::P2pCircuit))
        {
            return Ok(());
        }
        let Some(ip) = ip_of(remote) else {
            return Ok(());
        };
        if self.buckets.take(ip, self.started.elapsed().as_secs_f64()) {
            Ok(())
        } else {
            tracing::debug!(%ip, "refused a connection: too many from this address");
            Err(ConnectionDenied::new(std::io::Error::other(
                "too many connections from this address",
            )))
        }
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate_and_others_are_unaffected() {
        let mut b = Buckets::new(4.0, 2.0, 100);
        let stranger = ip("192.168.1.50");
        for _ in 0..4 {
            assert!(b.take(stranger, 0.0));
        }
        assert!(!b.take(stranger, 0.0), "past the burst");
        assert!(!b.take(stranger, 0.4), "less than one token back");
        assert!(b.take(ip("192.168.1.7"), 0.4), "the partner, elsewhere");
        assert!(b.take(stranger, 0.5), "one token after half a second");
        assert!(!b.take(stranger, 0.5));
        // Refused attempts do not earn anything: a second later, two are allowed.
        assert!(b.take(stranger, 1.5));
        assert!(b.take(stranger, 1.5));
        assert!(!b.take(stranger, 1.5));
    }

    #[test]
    fn an_ipv6_host_counts_once_for_its_whole_64() {
        let mut b = Buckets::new(2.0, 1.0, 100);
        assert!(b.take(ip("2001:db8:1:2::1"), 0.0));
        assert!(b.take(ip("2001:db8:1:2::ffff:9"), 0.0));
        assert!(!b.take(ip("2001:db8:1:2:abcd::77"), 0.0), "same /64");
        assert!(b.take(ip("2001:db8:1:3::1"), 0.0), "another /64");
    }

    #[test]
    fn memory_is_bounded_and_a_flood_of_sources_is_refused_until_buckets_refill() {
        let mut b = Buckets::new(2.0, 1.0, 3);
        for last in 1..=3 {
            assert!(b.take(ip(&format!("10.0.0.{last}")), 0.0));
        }
        assert!(!b.take(ip("10.0.0.4"), 0.0), "no room, none refilled");
        assert_eq!(b.remembered(), 3);
        // A second later every bucket is full again: they are forgotten, the new one counted.
        assert!(b.take(ip("10.0.0.4"), 1.0));
        assert_eq!(b.remembered(), 1);
    }
}
