//! mend-net: the libp2p shell of Mend.
//!
//! One event loop owns the swarm (TCP + Noise + Yamux, mDNS, identify, ping, and the
//! request-response protocols `/mend/sync/1` and `/mend/pair/1` with a length-prefixed codec of
//! our own). The rest of the program talks to it through a cloneable [`NetHandle`] over bounded
//! channels, and hears from it through a bounded stream of [`NetEvent`]s. It moves bytes and
//! knows nothing of journals, keys or files: what to answer is decided by the caller. Only this
//! crate knows libp2p.

mod codec;
mod event_loop;
mod identity;
mod relay_server;
mod source_limit;

pub use codec::MendCodec;
pub use event_loop::{
    relay_peer, start, NetConfig, NetError, NetEvent, NetHandle, Pairing, Path, Protocol,
    MAX_RELAYS,
};
pub use identity::{peer_id_from_public_key, peer_id_from_seed};
pub use libp2p::{multiaddr, Multiaddr, PeerId};
pub use relay_server::{relay_peer_id, start_relay, RelayConfig, RelayEvent};
