//! Key epochs of the shared journal on this device.
//!
//! The shared journal's files are sealed under the journal key that pairing gave every device.
//! When a device is removed or the partnership ends (`mend uncouple`), this device starts a new
//! epoch: it draws a fresh random key, keeps it in the `epochs` file (sealed under its own
//! device key, so it never leaves the device), and rewrites the shared journal under it at
//! once. What it writes afterwards is sealed under a key that no other device, and in
//! particular the removed one or the former partner, ever had. Each remaining device draws its
//! own. The keys of earlier epochs stay in the file (and the first is in the key file), so
//! files sealed under them still open here. See docs/format.md, *Key epochs*.

use std::path::Path;

use mend_crypto::{JournalId, JournalKey, RecordKind};
use zeroize::Zeroizing;

use crate::atomic::write_atomic;
use crate::store::{open_one, seal_one, Keys};
use crate::StoreError;

pub(crate) const EPOCHS: &str = "epochs";
/// The version of the epochs file's plaintext.
const EPOCHS_VERSION: u8 = 1;
/// At most this many epochs (one per removal or uncoupling).
const EPOCHS_MAX: usize = 4096;

/// The keys of the epochs after the first, oldest first, and how many removed devices the
/// registry held when the last one began.
#[derive(Default)]
pub(crate) struct Epochs {
    pub(crate) keys: Vec<JournalKey>,
    pub(crate) removals: u32,
}

/// `u8 version | u32 LE removals | u32 LE count | key (32) × count`
fn encode(e: &Epochs) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(9 + 32 * e.keys.len()));
    out.push(EPOCHS_VERSION);
    out.extend_from_slice(&e.removals.to_le_bytes());
    out.extend_from_slice(&(e.keys.len() as u32).to_le_bytes());
    for k in &e.keys {
        out.extend_from_slice(k.expose());
    }
    out
}

fn decode(plain: &[u8]) -> Option<Epochs> {
    let (&version, rest) = plain.split_first()?;
    if version != EPOCHS_VERSION || rest.len() < 8 {
        return None;
    }
    let removals = u32::from_le_bytes(rest[..4].try_into().ok()?);
    let count = u32::from_le_bytes(rest[4..8].try_into().ok()?) as usize;
    let keys = &rest[8..];
    if count > EPOCHS_MAX || keys.len() != count * 32 {
        return None;
    }
    Some(Epochs {
        keys: keys
            .chunks_exact(32)
            .map(|k| JournalKey::from_bytes(k.try_into().expect("32 bytes")))
            .collect(),
        removals,
    })
}

/// The epochs kept under `root` (none yet: the first epoch only).
pub(crate) fn read(root: &Path, keys: &Keys, journal_id: JournalId) -> Result<Epochs, StoreError> {
    let path = root.join(EPOCHS);
    let Some(plain) = open_one(&path, keys, journal_id, RecordKind::Epochs)? else {
        return Ok(Epochs::default());
    };
    let plain = Zeroizing::new(plain);
    decode(&plain).ok_or_else(|| StoreError::Corrupt {
        path,
        why: "the shared journal's key epochs cannot be read (another version, or damaged)".into(),
    })
}

/// Keep `epochs` under `root`, replacing what was kept (atomically, durably).
pub(crate) fn write(
    root: &Path,
    keys: &Keys,
    journal_id: JournalId,
    epochs: &Epochs,
) -> Result<(), StoreError> {
    let path = root.join(EPOCHS);
    let sealed = seal_one(&path, keys, journal_id, RecordKind::Epochs, &encode(epochs))?;
    write_atomic(&path, &sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_read_back_and_bad_bytes_are_refused() {
        let e = Epochs {
            keys: vec![
                JournalKey::from_bytes([1; 32]),
                JournalKey::from_bytes([2; 32]),
            ],
            removals: 3,
        };
        let d = decode(&encode(&e)).unwrap();
        assert_eq!(d.removals, 3);
        assert_eq!(d.keys[1].expose(), &[2; 32]);
        let bytes = encode(&e);
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
        let mut other = bytes.to_vec();
        other[0] = 2;
        assert!(decode(&other).is_none());
    }
}
