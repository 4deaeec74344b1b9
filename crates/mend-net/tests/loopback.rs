//! Two network loops on 127.0.0.1 exchange Mend requests; garbage closes the connection.

use std::time::Duration;

use mend_net::{start, NetConfig, NetEvent, Protocol};
use mend_sync::{Refusal, Request, Response};
use tokio::io::AsyncWriteExt;

fn config(seed: u8) -> NetConfig {
    NetConfig {
        identity_seed: [seed; 32],
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        mdns: false,
        mdns_interval: Duration::from_secs(20),
        request_timeout: Duration::from_secs(10),
        ping_interval: Duration::from_secs(5),
        ping_timeout: Duration::from_secs(20),
        allowed: None,
        pairing: mend_net::Pairing::Off,
        relays: Vec::new(),
        reserve: false,
    }
}

/// `mend relay` on loopback (identity seed `[seed; 32]`, only `allow` if any): its address
/// with its id; its events are drained in the background.
async fn relay_on_loopback(seed: u8, allow: Vec<mend_net::PeerId>) -> mend_net::Multiaddr {
    let mut events = mend_net::start_relay(mend_net::RelayConfig {
        identity_seed: [seed; 32],
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        external: Vec::new(),
        allow,
    })
    .await
    .unwrap();
    let addr = loop {
        if let Some(mend_net::RelayEvent::Listening(a)) = events.recv().await {
            break a.with(mend_net::multiaddr::Protocol::P2p(mend_net::relay_peer_id(
                &[seed; 32],
            )));
        }
    };
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    addr
}

async fn listening(events: &mut tokio::sync::mpsc::Receiver<NetEvent>) -> mend_net::Multiaddr {
    loop {
        if let Some(NetEvent::Listening(a)) = events.recv().await {
            return a;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_gets_its_answer_and_garbage_closes_the_connection() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let (a, mut a_events) = start(config(1)).await.unwrap();
        let (b, mut b_events) = start(config(2)).await.unwrap();
        let addr = listening(&mut b_events).await;
        let _ = listening(&mut a_events).await;
        let peer = a.dial(addr.clone()).await.unwrap();
        assert_eq!(peer, b.local_peer_id);
        let answering = tokio::spawn(async move {
            loop {
                match b_events.recv().await {
                    Some(NetEvent::Request {
                        request,
                        reply,
                        protocol,
                        ..
                    }) => {
                        // Pairing requests get no answer (the reply is dropped).
                        if let (
                            Protocol::Sync,
                            Request::Sync {
                                message,
                                signatures,
                                ..
                            },
                        ) = (protocol, request)
                        {
                            // A message of changes that broke the rules is refused.
                            if message == [0xee] {
                                let count = (signatures.len() / 96) as u32;
                                let reason = Refusal::BrokeRules { count };
                                let _ = reply.send(Response::Refused { reason });
                                continue;
                            }
                            let message = message.iter().rev().copied().collect();
                            let _ = reply.send(Response::Sync {
                                message,
                                signatures,
                                gained: 1,
                            });
                        }
                    }
                    Some(NetEvent::BadInput { .. }) => return true,
                    Some(_) => {}
                    None => return false,
                }
            }
        });
        let r = a
            .request(
                peer,
                Protocol::Sync,
                Request::Sync {
                    journal_id: [0; 16],
                    session: 1,
                    message: vec![1, 2, 3],
                    signatures: vec![5; 96],
                },
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Response::Sync {
                message: vec![3, 2, 1],
                signatures: vec![5; 96],
                gained: 1
            }
        );
        let r = a
            .request(
                peer,
                Protocol::Sync,
                Request::Sync {
                    journal_id: [0; 16],
                    session: 1,
                    message: vec![0xee],
                    signatures: vec![6; 2 * 96],
                },
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Response::Refused {
                reason: Refusal::BrokeRules { count: 2 }
            }
        );
        let r = a
            .request(peer, Protocol::Pair, Request::PairHello { spake: vec![] })
            .await;
        assert!(
            r.is_err(),
            "nobody answered the pairing request, so it fails: {r:?}"
        );

        // A raw TCP client that sends garbage never gets past the handshake and changes nothing.
        let port = addr.iter().find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        });
        let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port.unwrap()))
            .await
            .unwrap();
        let _ = raw.write_all(&[0xff; 4096]).await;
        drop(raw);
        // The real peer is still served.
        let r = a
            .request(
                peer,
                Protocol::Sync,
                Request::Sync {
                    journal_id: [0; 16],
                    session: 1,
                    message: vec![9],
                    signatures: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Response::Sync {
                message: vec![9],
                signatures: Vec::new(),
                gained: 1
            }
        );
        answering.abort();
    })
    .await
    .expect("the test finishes within 30 s");
}

/// A link that goes silent (a cut cable: no reset, no close) is noticed by the pings: the
/// connection is closed and the waiting request fails as closed, long before its own timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_link_is_closed_by_the_pings_not_left_to_the_request_timeout() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    tokio::time::timeout(Duration::from_secs(60), async {
        let quick = |seed| {
            let mut c = config(seed);
            c.ping_interval = Duration::from_millis(200);
            c.ping_timeout = Duration::from_secs(1);
            c.request_timeout = Duration::from_secs(45);
            c
        };
        let (a, mut a_events) = start(quick(3)).await.unwrap();
        let (b, mut b_events) = start(quick(4)).await.unwrap();
        let b_addr = listening(&mut b_events).await;
        let _ = listening(&mut a_events).await;
        let b_port = b_addr
            .iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                _ => None,
            })
            .unwrap();
        // A relay between the two that can be made to swallow everything, sockets left open.
        let silent = Arc::new(AtomicBool::new(false));
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_port = relay.local_addr().unwrap().port();
        let relaying = {
            let silent = silent.clone();
            tokio::spawn(async move {
                let (inbound, _) = relay.accept().await.unwrap();
                let outbound = tokio::net::TcpStream::connect(("127.0.0.1", b_port))
                    .await
                    .unwrap();
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                let pump = |mut from: tokio::net::tcp::OwnedReadHalf,
                            mut to: tokio::net::tcp::OwnedWriteHalf,
                            silent: Arc<AtomicBool>| async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if !silent.load(Ordering::SeqCst) && to.write_all(&buf[..n]).await.is_err()
                        {
                            break;
                        }
                    }
                    // Keep the write side open: a cut link sends no FIN either.
                    std::future::pending::<()>().await;
                };
                tokio::join!(pump(ri, wo, silent.clone()), pump(ro, wi, silent));
            })
        };
        // B answers every sync request after a pause, and says when one has arrived.
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::channel(4);
        let answering = tokio::spawn(async move {
            while let Some(ev) = b_events.recv().await {
                if let NetEvent::Request { reply, .. } = ev {
                    let _ = arrived_tx.send(()).await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let _ = reply.send(Response::Sync {
                        message: vec![],
                        signatures: vec![],
                        gained: 0,
                    });
                }
            }
        });
        let via_relay: mend_net::Multiaddr =
            format!("/ip4/127.0.0.1/tcp/{relay_port}").parse().unwrap();
        let peer = a.dial(via_relay).await.unwrap();
        assert_eq!(peer, b.local_peer_id);
        let request = || Request::Sync {
            journal_id: [0; 16],
            session: 7,
            message: vec![1],
            signatures: vec![],
        };
        assert!(a.request(peer, Protocol::Sync, request()).await.is_ok());
        arrived.recv().await.unwrap();
        // The second request reaches B; then the link goes silent before the answer.
        let pending = {
            let a = a.clone();
            tokio::spawn(async move { a.request(peer, Protocol::Sync, request()).await })
        };
        arrived.recv().await.unwrap();
        silent.store(true, Ordering::SeqCst);
        let err = pending
            .await
            .unwrap()
            .expect_err("the answer never crosses the silent link");
        assert!(
            err.to_string().contains("closed"),
            "the request should fail because the pings closed the connection, not at its \
             own 45 s timeout: {err}"
        );
        answering.abort();
        relaying.abort();
    })
    .await
    .expect("the test finishes within 60 s");
}

/// A serving node allows its paired devices only: a stranger's connection is closed when the
/// Noise handshake names it, before any protocol runs (its request gets no answer and the
/// program hears only `Denied`), while the paired device is answered; a device taken off the
/// list loses its connection and is refused from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_peers_get_a_connection_and_taking_one_off_closes_it() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let (a, mut a_events) = start(config(11)).await.unwrap();
        let (stranger, mut s_events) = start(config(12)).await.unwrap();
        let mut served = config(13);
        served.allowed = Some(vec![a.local_peer_id]);
        let (b, mut b_events) = start(served).await.unwrap();
        let addr = listening(&mut b_events).await;
        let _ = listening(&mut a_events).await;
        let _ = listening(&mut s_events).await;
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let answering = tokio::spawn(async move {
            while let Some(ev) = b_events.recv().await {
                match ev {
                    NetEvent::Request { peer, reply, .. } => {
                        let _ = seen_tx.send(format!("request from {peer}"));
                        let _ = reply.send(Response::Sync {
                            message: vec![1],
                            signatures: Vec::new(),
                            gained: 0,
                        });
                    }
                    NetEvent::Denied(peer) => {
                        let _ = seen_tx.send(format!("denied {peer}"));
                    }
                    _ => {}
                }
            }
        });
        let ask = || Request::Sync {
            journal_id: [0; 16],
            session: 1,
            message: vec![1],
            signatures: Vec::new(),
        };
        // The stranger: whether its dial completes or not, it gets no answer.
        let got = match stranger.dial(addr.clone()).await {
            Ok(peer) => stranger.request(peer, Protocol::Sync, ask()).await.ok(),
            Err(_) => None,
        };
        assert_eq!(got, None, "a stranger got an answer");
        assert_eq!(
            seen_rx.recv().await.unwrap(),
            format!("denied {}", stranger.local_peer_id)
        );
        // The allowed device is answered.
        let peer = a.dial(addr.clone()).await.unwrap();
        assert!(a.request(peer, Protocol::Sync, ask()).await.is_ok());
        assert_eq!(
            seen_rx.recv().await.unwrap(),
            format!("request from {}", a.local_peer_id)
        );
        // Taken off the list: its connection closes and it is refused from then on.
        b.allow_only(Vec::new()).await.unwrap();
        loop {
            match a_events.recv().await {
                Some(NetEvent::Disconnected(p)) if p == b.local_peer_id => break,
                Some(_) => {}
                None => panic!("the network stopped"),
            }
        }
        let again = match a.dial(addr).await {
            Ok(peer) => a.request(peer, Protocol::Sync, ask()).await.ok(),
            Err(_) => None,
        };
        assert_eq!(again, None, "a device taken off the list got an answer");
        answering.abort();
    })
    .await
    .expect("the test finishes within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_holding_a_reservation_is_reached_through_the_relay_and_hole_punched() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let relay = relay_on_loopback(9, Vec::new()).await;
        let (a_id, b_id) = (
            mend_net::peer_id_from_seed(&[1; 32]),
            mend_net::peer_id_from_seed(&[2; 32]),
        );
        // A serves: a reservation on the relay; only B may connect.
        let mut a_config = config(1);
        a_config.relays = vec![relay.clone()];
        a_config.reserve = true;
        a_config.allowed = Some(vec![b_id]);
        let (_a, mut a_events) = start(a_config).await.unwrap();
        let reachable = loop {
            match a_events.recv().await {
                Some(NetEvent::Reachable(addr)) => break addr,
                Some(_) => {}
                None => panic!("A's network stopped"),
            }
        };
        assert!(reachable.to_string().starts_with(&relay.to_string()));
        assert!(
            reachable.to_string().ends_with("/p2p-circuit"),
            "{reachable}"
        );
        let answering = tokio::spawn(async move {
            while let Some(ev) = a_events.recv().await {
                if let NetEvent::Request { reply, .. } = ev {
                    let _ = reply.send(Response::Refused {
                        reason: Refusal::NoInvite,
                    });
                }
            }
        });
        // B knows no address of A's: only the relay.
        let mut b_config = config(2);
        b_config.relays = vec![relay.clone()];
        b_config.allowed = Some(vec![a_id]);
        let (b, _b_events) = start(b_config).await.unwrap();
        assert_eq!(b.dial_peer(a_id).await.unwrap(), a_id);
        // On loopback the relay's view of A's address is one B can dial: the connection is
        // upgraded to a direct one, and the relayed one is closed.
        let mut path = None;
        for _ in 0..50 {
            path = b.path(a_id).await.unwrap();
            if path == Some(mend_net::Path::HolePunched) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(path, Some(mend_net::Path::HolePunched));
        let r = b
            .request(
                a_id,
                Protocol::Sync,
                Request::Sync {
                    journal_id: [0; 16],
                    session: 1,
                    message: vec![1],
                    signatures: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert!(matches!(r, Response::Refused { .. }), "{r:?}");
        answering.abort();
    })
    .await
    .expect("within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_address_without_its_id_is_refused() {
    let mut c = config(3);
    c.relays = vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()];
    assert!(matches!(
        start(c).await,
        Err(mend_net::NetError::BadRelay(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_told_which_devices_may_use_it_refuses_the_others() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let allowed = mend_net::peer_id_from_seed(&[4; 32]);
        let relay = relay_on_loopback(8, vec![allowed]).await;
        let reserve = |seed: u8| {
            let mut c = config(seed);
            c.relays = vec![relay.clone()];
            c.reserve = true;
            c
        };
        let reached = |mut events: tokio::sync::mpsc::Receiver<NetEvent>| async move {
            loop {
                match events.recv().await {
                    Some(NetEvent::Reachable(_)) => return true,
                    Some(NetEvent::Unreachable { .. }) | None => return false,
                    Some(_) => {}
                }
            }
        };
        let (_a, a_events) = start(reserve(4)).await.unwrap();
        let (_b, b_events) = start(reserve(5)).await.unwrap();
        assert!(
            reached(a_events).await,
            "the allowed device holds a reservation"
        );
        assert!(!reached(b_events).await, "another device is refused");
    })
    .await
    .expect("within 30 s");
}

/// A peer let through only because it is named as a relay (its connection carries circuits)
/// is never heard on Mend's protocols: its requests reach no one and get no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_let_through_as_a_relay_is_never_heard() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let (c, mut c_events) = start(config(7)).await.unwrap();
        let c_addr = listening(&mut c_events).await;
        let as_relay = c_addr.with(mend_net::multiaddr::Protocol::P2p(c.local_peer_id));
        // A allows only B (a paired device), and names C as a relay.
        let mut a_config = config(6);
        a_config.allowed = Some(vec![mend_net::peer_id_from_seed(&[2; 32])]);
        a_config.relays = vec![as_relay];
        let (a, mut a_events) = start(a_config).await.unwrap();
        let a_addr = listening(&mut a_events).await;
        let heard = tokio::spawn(async move {
            while let Some(ev) = a_events.recv().await {
                if let NetEvent::Request { .. } = ev {
                    return true;
                }
            }
            false
        });
        // C connects (allowed: a relay) and asks as a paired device would.
        assert_eq!(c.dial(a_addr).await.unwrap(), a.local_peer_id);
        let r = c
            .request(
                a.local_peer_id,
                Protocol::Sync,
                Request::Sync {
                    journal_id: [0; 16],
                    session: 1,
                    message: vec![1],
                    signatures: Vec::new(),
                },
            )
            .await;
        assert!(r.is_err(), "a relay got an answer: {r:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        heard.abort();
        assert!(
            !heard.await.unwrap_or(false),
            "the program heard a relay's request"
        );
    })
    .await
    .expect("within 30 s");
}
