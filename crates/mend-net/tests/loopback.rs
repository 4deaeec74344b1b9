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
    }
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
                        if let (Protocol::Sync, Request::Sync { message, .. }) = (protocol, request)
                        {
                            let message = message.iter().rev().copied().collect();
                            let _ = reply.send(Response::Sync { message, gained: 1 });
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
                },
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Response::Sync {
                message: vec![3, 2, 1],
                gained: 1
            }
        );
        let r = a
            .request(peer, Protocol::Pair, Request::PairHello { spake: vec![] })
            .await;
        assert!(
            r.is_err(),
            "nobody answered the pairing request, so it fails: {r:?}"
        );
        let _ = Refusal::NotPaired;

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
                },
            )
            .await
            .unwrap();
        assert_eq!(
            r,
            Response::Sync {
                message: vec![9],
                gained: 1
            }
        );
        answering.abort();
    })
    .await
    .expect("the test finishes within 30 s");
}
