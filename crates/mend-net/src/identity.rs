//! Device keys and libp2p peer ids.

use libp2p::identity::{ed25519, Keypair, PublicKey};
use libp2p::PeerId;

/// The peer id of a device, from its ed25519 public key (hex).
pub fn peer_id_from_public_key(hex_key: &str) -> Option<PeerId> {
    let bytes = hex::decode(hex_key).ok()?;
    let key = ed25519::PublicKey::try_from_bytes(&bytes).ok()?;
    Some(PublicKey::from(key).to_peer_id())
}

/// The libp2p keypair of a device from its identity seed.
pub(crate) fn keypair_from_seed(seed: &[u8; 32]) -> Keypair {
    let mut copy = *seed;
    // The copy is zeroized by libp2p as it builds the key.
    Keypair::ed25519_from_bytes(&mut copy).expect("any 32 bytes are an ed25519 secret key")
}

/// The peer id a device with this identity seed has.
pub fn peer_id_from_seed(seed: &[u8; 32]) -> PeerId {
    keypair_from_seed(seed).public().to_peer_id()
}
