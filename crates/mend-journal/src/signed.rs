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
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_chacha::rand_core::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

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

/// A registered public key as a verifier: `None` for bytes that are not a point, or a point of
/// small order (with which anyone could make signatures that verify).
fn usable_key(public_key: &[u8; 32]) -> Option<ed25519_zebra::VerificationKeyBytes> {
    let key = VerifyingKey::from_bytes(public_key).ok()?;
    (!key.is_weak()).then(|| ed25519_zebra::VerificationKeyBytes::from(*public_key))
}

/// Whether a public key may be registered for a device: a point that is not of small order.
pub fn is_usable_key(public_key: &[u8; 32]) -> bool {
    usable_key(public_key).is_some()
}

/// Whether `sig` is `public_key`'s signature of change `hash` in journal `journal_id`.
///
/// The rule is ZIP 215's (the cofactored equation, as Zcash fixed it so that checking one
/// signature and checking many at once always agree), with keys of small order refused.
/// Every device applies this one rule, alone or in a batch, so no two devices can disagree
/// about a signature.
pub fn verify(public_key: &[u8; 32], journal_id: &[u8; 16], hash: &ChangeHash, sig: &Sig) -> bool {
    let Some(key) = usable_key(public_key) else {
        return false;
    };
    ed25519_zebra::VerificationKey::try_from(key).is_ok_and(|k| {
        k.verify(
            &ed25519_zebra::Signature::from_bytes(sig),
            &signing_bytes(journal_id, hash),
        )
        .is_ok()
    })
}

/// The fewest signatures worth spreading over threads (below this, starting them costs more).
const PARALLEL_FROM: usize = 64;

/// Check one part of a batch: all its signatures at once, and only if that fails each on its
/// own (to find which). The random weights of the batch equation come from a hash of
/// everything in the part, so a signer cannot choose signatures that cancel out.
fn verify_part(journal_id: &[u8; 16], part: &[([u8; 32], ChangeHash, Sig)]) -> Vec<bool> {
    // A key is looked at once per part, not once per signature.
    let mut usable: HashMap<[u8; 32], Option<ed25519_zebra::VerificationKeyBytes>> = HashMap::new();
    let keys: Vec<_> = part
        .iter()
        .map(|(k, _, _)| *usable.entry(*k).or_insert_with(|| usable_key(k)))
        .collect();
    let items: Vec<Option<ed25519_zebra::batch::Item>> = part
        .iter()
        .zip(&keys)
        .map(|((_, hash, sig), key)| {
            let key = (*key)?;
            let msg = signing_bytes(journal_id, hash);
            Some((key, ed25519_zebra::Signature::from_bytes(sig), &msg).into())
        })
        .collect();
    let mut seed = Sha256::new();
    seed.update(b"mend/batch-weights/v1\0");
    seed.update(journal_id);
    for (key, hash, sig) in part {
        seed.update(key);
        seed.update(hash.0);
        seed.update(sig);
    }
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for item in items.iter().flatten() {
        batch.queue(item.clone());
    }
    if batch
        .verify(ChaCha20Rng::from_seed(seed.finalize().into()))
        .is_ok()
    {
        return items.iter().map(Option::is_some).collect();
    }
    items
        .into_iter()
        .map(|item| item.is_some_and(|i| i.verify_single().is_ok()))
        .collect()
}

/// Verify many signatures of journal `journal_id`, each `(public key, change hash, signature)`,
/// spread over the machine's cores and checked in batches; which verified, in order. The
/// verdict of every signature is the one [`verify`] gives, whichever others share the call
/// (ZIP 215 makes a batch and one-by-one checking agree).
pub fn verify_all(journal_id: &[u8; 16], items: &[([u8; 32], ChangeHash, Sig)]) -> Vec<bool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
    if threads < 2 || items.len() < PARALLEL_FROM {
        return verify_part(journal_id, items);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || verify_part(journal_id, part)))
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
    fn a_key_of_small_order_verifies_nothing() {
        // The identity point as a key: with it, R = identity and s = 0 satisfy the cofactored
        // equation for every message. ZIP 215 alone accepts that; Mend refuses the key.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let msg = signing_bytes(&[1; 16], &ChangeHash([3; 32]));
        let zebra = ed25519_zebra::VerificationKey::try_from(weak).unwrap();
        assert!(zebra
            .verify(&ed25519_zebra::Signature::from_bytes(&forged), &msg)
            .is_ok());
        assert!(!is_usable_key(&weak));
        assert!(!verify(&weak, &[1; 16], &ChangeHash([3; 32]), &forged));
        let items = vec![(weak, ChangeHash([3; 32]), forged); 100];
        assert!(verify_all(&[1; 16], &items).iter().all(|ok| !ok));
    }

    #[test]
    fn a_batch_of_good_signatures_all_verify() {
        let signer = Signer::from_seed(&[7; 32]);
        let jid = [1; 16];
        let items: Vec<_> = (0..300u16)
            .map(|i| {
                let hash = ChangeHash([(i % 251) as u8; 32]);
                (signer.public_key(), hash, signer.sign(&jid, &hash))
            })
            .collect();
        assert!(verify_all(&jid, &items).iter().all(|ok| *ok));
        assert!(!verify_all(&[2; 16], &items).iter().any(|ok| *ok));
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
