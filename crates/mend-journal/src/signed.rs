//! Signed changes: who made a change is proven by a signature, not read from the change.
//!
//! Every change a device makes to the shared journal is signed with the device's Ed25519 key
//! over `"mend/change/v1" | 0x00 | journal id (16) | change hash (32)`. The device's Automerge
//! actor id is the first 16 bytes of its public key, so a change made under an actor id can only
//! be signed by the one device whose key starts with it. Automerge has no room for a signature
//! inside a change, so signatures are kept beside the changes: on disk next to each log record
//! and snapshot, on the wire next to each sync message, as `(hash, signature)` pairs of 96 bytes
//! (`docs/format.md`, `docs/protocol.md`).

use std::collections::HashMap;
use std::fmt;

use automerge::ChangeHash;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::JournalError;

/// The domain label of a change signature (followed by one zero byte).
pub const CHANGE_DOMAIN: &[u8] = b"mend/change/v1";
/// One stored or sent signature: the change hash (32 bytes), then the signature (64 bytes).
pub const SIGNED_PAIR_LEN: usize = 96;

/// A change signature.
pub type Sig = [u8; 64];

/// What is signed for one change of one journal.
pub fn signing_bytes(journal_id: &[u8; 16], hash: &ChangeHash) -> [u8; 63] {
    let mut out = [0u8; 63];
    out[..14].copy_from_slice(CHANGE_DOMAIN);
    // out[14] stays 0: the domain label's terminator.
    out[15..31].copy_from_slice(journal_id);
    out[31..].copy_from_slice(&hash.0);
    out
}

/// A device's signing key, held while the journal is open. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The Automerge actor id this device writes under: the first 16 bytes of its public key.
    pub fn actor(&self) -> [u8; 16] {
        actor_of(&self.public_key())
    }

    pub fn sign(&self, journal_id: &[u8; 16], hash: &ChangeHash) -> Sig {
        self.key.sign(&signing_bytes(journal_id, hash)).to_bytes()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([REDACTED])")
    }
}

/// The actor id bound to a public key.
pub fn actor_of(public_key: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&public_key[..16]);
    out
}

/// Whether `sig` is `public_key`'s signature of change `hash` in journal `journal_id`.
pub fn verify(public_key: &[u8; 32], journal_id: &[u8; 16], hash: &ChangeHash, sig: &Sig) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    key.verify_strict(
        &signing_bytes(journal_id, hash),
        &Signature::from_bytes(sig),
    )
    .is_ok()
}

/// The fewest signatures worth spreading over threads (below this, starting them costs more).
const PARALLEL_FROM: usize = 64;

/// Verify many signatures of journal `journal_id`, each `(public key, change hash, signature)`,
/// spread over the machine's cores; which verified, in order. Each is checked on its own and
/// strictly, exactly as [`verify`] does: the verdict of every signature is the one [`verify`]
/// gives, whichever others share the call.
pub fn verify_all(journal_id: &[u8; 16], items: &[([u8; 32], ChangeHash, Sig)]) -> Vec<bool> {
    // A key is decompressed once per call, not once per signature.
    let mut keys: HashMap<[u8; 32], Option<VerifyingKey>> = HashMap::new();
    for (key, _, _) in items {
        keys.entry(*key)
            .or_insert_with(|| VerifyingKey::from_bytes(key).ok());
    }
    let one = |(key, hash, sig): &([u8; 32], ChangeHash, Sig)| match &keys[key] {
        Some(k) => k
            .verify_strict(
                &signing_bytes(journal_id, hash),
                &Signature::from_bytes(sig),
            )
            .is_ok(),
        None => false,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
    if threads < 2 || items.len() < PARALLEL_FROM {
        return items.iter().map(one).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<bool>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("signature checks do not panic"))
            .collect()
    })
}

/// Encode `(hash, signature)` pairs as 96-byte records, back to back.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a ChangeHash, &'a Sig)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (hash, sig) in pairs {
        out.extend_from_slice(&hash.0);
        out.extend_from_slice(sig);
    }
    out
}

/// Decode 96-byte `(hash, signature)` records; anything but a whole number of them is refused.
pub fn decode_pairs(bytes: &[u8]) -> Result<HashMap<ChangeHash, Sig>, JournalError> {
    if !bytes.len().is_multiple_of(SIGNED_PAIR_LEN) {
        return Err(JournalError::MalformedSync(format!(
            "{} bytes of signatures is not a whole number of {SIGNED_PAIR_LEN}-byte records",
            bytes.len()
        )));
    }
    let mut out = HashMap::with_capacity(bytes.len() / SIGNED_PAIR_LEN);
    for rec in bytes.chunks_exact(SIGNED_PAIR_LEN) {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&rec[..32]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&rec[32..]);
        out.insert(ChangeHash(hash), sig);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_binds_key_journal_and_change() {
        let signer = Signer::from_seed(&[7; 32]);
        let other = Signer::from_seed(&[8; 32]);
        let (j1, j2) = ([1; 16], [2; 16]);
        let (h1, h2) = (ChangeHash([3; 32]), ChangeHash([4; 32]));
        let sig = signer.sign(&j1, &h1);
        assert!(verify(&signer.public_key(), &j1, &h1, &sig));
        assert!(!verify(&other.public_key(), &j1, &h1, &sig));
        assert!(!verify(&signer.public_key(), &j2, &h1, &sig));
        assert!(!verify(&signer.public_key(), &j1, &h2, &sig));
        let mut bent = sig;
        bent[5] ^= 1;
        assert!(!verify(&signer.public_key(), &j1, &h1, &bent));
        assert_eq!(signer.actor(), actor_of(&signer.public_key()));
        assert!(!format!("{signer:?}").contains('7'));
    }

    #[test]
    fn many_at_once_give_the_verdicts_one_by_one_gives() {
        let signer = Signer::from_seed(&[7; 32]);
        let other = Signer::from_seed(&[8; 32]);
        let jid = [1; 16];
        let items: Vec<_> = (0..200u8)
            .map(|i| {
                let hash = ChangeHash([i; 32]);
                let mut sig = signer.sign(&jid, &hash);
                match i % 5 {
                    1 => sig[7] ^= 1,                            // bent
                    2 => return (other.public_key(), hash, sig), // wrong key
                    3 => return ([0xff; 32], hash, sig),         // not a key
                    _ => {}
                }
                (signer.public_key(), hash, sig)
            })
            .collect();
        let many = verify_all(&jid, &items);
        let singly: Vec<bool> = items
            .iter()
            .map(|(k, h, s)| verify(k, &jid, h, s))
            .collect();
        assert_eq!(many, singly);
        assert_eq!(many.iter().filter(|ok| **ok).count(), 80);
        assert_eq!(verify_all(&jid, &items[..3]), singly[..3]);
    }

    #[test]
    fn pairs_round_trip_and_refuse_a_torn_record() {
        let sig = [9u8; 64];
        let hash = ChangeHash([5; 32]);
        let bytes = encode_pairs([(&hash, &sig)]);
        assert_eq!(bytes.len(), SIGNED_PAIR_LEN);
        assert_eq!(decode_pairs(&bytes).unwrap().get(&hash), Some(&sig));
        assert!(decode_pairs(&bytes[..95]).is_err());
        assert!(decode_pairs(&[]).unwrap().is_empty());
    }
}
