//! Sealed records: XChaCha20-Poly1305 with a random 24-byte nonce.
//!
//! Layout of a sealed record: `nonce (24) || ciphertext || tag (16)`.
//! Associated data: `"mend/record" || format version (1) || record kind (1) || journal id (16)`,
//! so a record cannot be moved to another journal, or to another kind of file, without failing
//! authentication.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{random_bytes, CryptoError, JournalId, JournalKey};

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Bytes a sealed record adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Version of the sealed-record format, bound into the associated data.
pub const RECORD_VERSION: u8 = 1;

/// What a record is, bound into its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A full Automerge save of the shared journal.
    SharedSnapshot = 1,
    /// Incremental Automerge changes of the shared journal.
    SharedLog = 2,
    /// A full Automerge save of the device-local private journal.
    PrivateSnapshot = 3,
    /// Incremental Automerge changes of the private journal.
    PrivateLog = 4,
    /// The saved Automerge sync state for one paired device.
    SyncState = 5,
    /// The read index: both documents' entries as last read out of them.
    ReadIndex = 6,
    /// The shared journal's document with the signatures of its changes (replaces kind 1).
    SignedSharedSnapshot = 7,
    /// The shared journal's changes with their signatures (replaces kind 2).
    SignedSharedLog = 8,
    /// What this device refused from its peers, for `mend status`.
    Refusals = 9,
    /// Its own changes this device got back from its peers after its journal was put back to
    /// an older copy, for `mend status`.
    Rollbacks = 10,
    /// What adding an entry or `mend status` needs to know of the journal, cached beside it
    /// for as long as its files are unchanged.
    Tips = 11,
    /// Words from the editor that could not be saved, kept until `mend write --recover`.
    Draft = 12,
    /// The shared journal's key epochs: the keys this device drew after removals and an
    /// uncoupling, which never leave it.
    Epochs = 13,
}

impl RecordKind {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::SharedSnapshot,
            2 => Self::SharedLog,
            3 => Self::PrivateSnapshot,
            4 => Self::PrivateLog,
            5 => Self::SyncState,
            6 => Self::ReadIndex,
            7 => Self::SignedSharedSnapshot,
            8 => Self::SignedSharedLog,
            9 => Self::Refusals,
            10 => Self::Rollbacks,
            11 => Self::Tips,
            12 => Self::Draft,
            13 => Self::Epochs,
            _ => return None,
        })
    }
}

fn associated_data(kind: RecordKind, journal: &JournalId) -> [u8; 29] {
    let mut ad = [0u8; 29];
    ad[..11].copy_from_slice(b"mend/record");
    ad[11] = RECORD_VERSION;
    ad[12] = kind as u8;
    ad[13..].copy_from_slice(&journal.0);
    ad
}

/// Seal `plaintext` as a record of `kind` in `journal`.
pub fn seal_record(
    key: &JournalKey,
    journal: &JournalId,
    kind: RecordKind,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    seal_with_ad(key, &associated_data(kind, journal), plaintext)
}

/// Where a log record stands in its log: its position (0 for the first record after the
/// snapshot) and the tag of the record before it (for the first, the tag of the snapshot's
/// record). Bound into the record's associated data, so that a record dropped from the middle
/// of a log, moved, or put after another snapshot fails to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    pub position: u64,
    pub previous: [u8; TAG_LEN],
}

impl Chain {
    /// The tag of a sealed record: its last 16 bytes (`None` if it is too short to be one).
    pub fn tag_of(sealed: &[u8]) -> Option<[u8; TAG_LEN]> {
        (sealed.len() >= SEAL_OVERHEAD).then(|| {
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(&sealed[sealed.len() - TAG_LEN..]);
            tag
        })
    }

    /// The link after the record `sealed`, which stands here.
    pub fn after(&self, sealed: &[u8]) -> Option<Chain> {
        Some(Chain {
            position: self.position + 1,
            previous: Self::tag_of(sealed)?,
        })
    }
}

/// Version 2 of the associated data: that of version 1, then the record's [`Chain`].
fn chained_data(kind: RecordKind, journal: &JournalId, chain: &Chain) -> [u8; 53] {
    let mut ad = [0u8; 53];
    ad[..29].copy_from_slice(&associated_data(kind, journal));
    ad[11] = CHAINED_RECORD_VERSION;
    ad[29..37].copy_from_slice(&chain.position.to_le_bytes());
    ad[37..].copy_from_slice(&chain.previous);
    ad
}

/// Version of the associated data of chained (log) records.
pub const CHAINED_RECORD_VERSION: u8 = 2;

fn seal_with_ad(key: &JournalKey, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .map_err(|_| CryptoError::BadRecord)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open_with_ad(key: &JournalKey, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(CryptoError::Malformed {
            what: "sealed record",
            why: "shorter than nonce and tag",
        });
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.expose().into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: ad })
        .map_err(|_| CryptoError::BadRecord)
}

/// Seal `plaintext` as the log record of `kind` in `journal` that stands at `chain`.
pub fn seal_chained(
    key: &JournalKey,
    journal: &JournalId,
    kind: RecordKind,
    chain: &Chain,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    seal_with_ad(key, &chained_data(kind, journal, chain), plaintext)
}

/// Open a record sealed by [`seal_chained`]; fails unless key, journal, kind, position and the
/// record before it all match.
pub fn open_chained(
    key: &JournalKey,
    journal: &JournalId,
    kind: RecordKind,
    chain: &Chain,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    open_with_ad(key, &chained_data(kind, journal, chain), sealed)
}

/// Open a record sealed by [`seal_record`]; fails unless key, journal and kind all match.
pub fn open_record(
    key: &JournalKey,
    journal: &JournalId,
    kind: RecordKind,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    open_with_ad(key, &associated_data(kind, journal), sealed)
}

/// Seal `plaintext` under a one-off 256-bit key (such as a pairing session key), binding `ad`.
pub fn seal_with_key(key: &[u8; 32], ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    let ct = XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .map_err(|_| CryptoError::BadRecord)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Open what [`seal_with_key`] sealed.
pub fn open_with_key(key: &[u8; 32], ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(CryptoError::BadRecord);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: ad })
        .map_err(|_| CryptoError::BadRecord)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result<T = ()> = std::result::Result<T, CryptoError>;

    fn setup() -> Result<(JournalKey, JournalId)> {
        Ok((JournalKey::generate()?, JournalId::generate()?))
    }

    #[test]
    fn round_trip() -> Result {
        let (k, j) = setup()?;
        let sealed = seal_record(&k, &j, RecordKind::SharedLog, b"hello")?;
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(
            open_record(&k, &j, RecordKind::SharedLog, &sealed)?,
            b"hello"
        );
        Ok(())
    }

    #[test]
    fn kind_journal_key_and_bits_are_bound() -> Result {
        let (k, j) = setup()?;
        let sealed = seal_record(&k, &j, RecordKind::SharedLog, b"hello")?;
        let other_j = JournalId::generate()?;
        let other_k = JournalKey::generate()?;
        assert!(open_record(&k, &j, RecordKind::PrivateLog, &sealed).is_err());
        assert!(open_record(&k, &other_j, RecordKind::SharedLog, &sealed).is_err());
        assert!(open_record(&other_k, &j, RecordKind::SharedLog, &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(open_record(&k, &j, RecordKind::SharedLog, &bad).is_err());
        }
        assert!(open_record(&k, &j, RecordKind::SharedLog, &sealed[..10]).is_err());
        Ok(())
    }

    #[test]
    fn one_off_keys_bind_their_associated_data() -> Result {
        let k = [9u8; 32];
        let sealed = seal_with_key(&k, b"ad", b"secret")?;
        assert_eq!(open_with_key(&k, b"ad", &sealed)?, b"secret");
        assert!(open_with_key(&k, b"other", &sealed).is_err());
        assert!(open_with_key(&[8u8; 32], b"ad", &sealed).is_err());
        Ok(())
    }

    #[test]
    fn nonces_are_fresh() -> Result {
        let (k, j) = setup()?;
        let a = seal_record(&k, &j, RecordKind::SharedLog, b"same")?;
        let b = seal_record(&k, &j, RecordKind::SharedLog, b"same")?;
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        Ok(())
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[test]
    fn a_chained_record_opens_only_at_its_place_after_its_predecessor() {
        let key = JournalKey::from_bytes([5; 32]);
        let jid = JournalId([6; 16]);
        let kind = RecordKind::SignedSharedLog;
        let first = Chain {
            position: 0,
            previous: [0; TAG_LEN],
        };
        let a = seal_chained(&key, &jid, kind, &first, b"a").unwrap();
        let second = first.after(&a).unwrap();
        let b = seal_chained(&key, &jid, kind, &second, b"b").unwrap();
        let third = second.after(&b).unwrap();
        let c = seal_chained(&key, &jid, kind, &third, b"c").unwrap();
        assert_eq!(open_chained(&key, &jid, kind, &third, &c).unwrap(), b"c");
        // b dropped: c would be read where b stood, after a.
        assert!(open_chained(&key, &jid, kind, &second, &c).is_err());
        // c read at b's place, or b after c.
        assert!(open_chained(&key, &jid, kind, &second, &c).is_err());
        assert!(open_chained(&key, &jid, kind, &third.after(&c).unwrap(), &b).is_err());
        // Not readable as an unchained record, nor an unchained one as chained.
        assert!(open_record(&key, &jid, kind, &a).is_err());
        let plain = seal_record(&key, &jid, kind, b"old").unwrap();
        assert!(open_chained(&key, &jid, kind, &first, &plain).is_err());
        assert_eq!(Chain::tag_of(&a).unwrap(), a[a.len() - TAG_LEN..]);
    }
}
