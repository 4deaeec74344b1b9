//! Wire messages, versioned and size-capped.
//!
//! On a stream, each message is a frame: `length (u32 BE) | version (1) | postcard body`.
//! The length counts the version byte and the body and is checked against
//! [`MAX_MESSAGE_BYTES`] before anything is read.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::SyncError;

/// Version 2 added the session id to sync requests; version 3 the signatures of the changes
/// a sync message carries, the refusal of changes that break the journal's rules, and the
/// trusted history in the pairing welcome.
pub const WIRE_VERSION: u8 = 3;
/// The largest message either side accepts (an initial sync of a large journal is one message).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The largest pairing message: pairing talks with a device not known yet, and its messages
/// (a SPAKE2 share, a MAC, names, the sealed welcome) are small.
pub const PAIR_MAX_MESSAGE_BYTES: usize = 4 * 1024;
pub const SYNC_PROTOCOL: &str = "/mend/sync/1";
pub const PAIR_PROTOCOL: &str = "/mend/pair/1";

/// What the initiating side sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// One round of the Automerge sync protocol for the shared journal.
    Sync {
        journal_id: [u8; 16],
        /// Chosen at random by the initiating side for each session. A request with a session
        /// the answering side has not seen starts afresh from its saved state, so an earlier
        /// session cut off mid-way (link lost, process killed) can never confuse the next one.
        session: u64,
        /// An Automerge sync message; empty when this side has nothing to say.
        #[serde(with = "serde_bytes")]
        message: Vec<u8>,
        /// The signature of every change the message carries: `(hash 32, signature 64)` pairs.
        #[serde(with = "serde_bytes")]
        signatures: Vec<u8>,
    },
    /// Pairing, step 1: the joiner's SPAKE2 message.
    PairHello {
        #[serde(with = "serde_bytes")]
        spake: Vec<u8>,
    },
    /// Pairing, step 2: the joiner's key confirmation and its sealed join request.
    /// Both empty: the joiner found the code wrong and gives up.
    PairConfirm {
        #[serde(with = "serde_bytes")]
        mac: Vec<u8>,
        #[serde(with = "serde_bytes")]
        sealed_join: Vec<u8>,
    },
}

/// What the answering side replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Sync {
        #[serde(with = "serde_bytes")]
        message: Vec<u8>,
        /// The signature of every change the message carries: `(hash 32, signature 64)` pairs.
        #[serde(with = "serde_bytes")]
        signatures: Vec<u8>,
        /// Entries the answering side gained from this round.
        gained: u32,
    },
    PairHello {
        #[serde(with = "serde_bytes")]
        spake: Vec<u8>,
        #[serde(with = "serde_bytes")]
        mac: Vec<u8>,
    },
    PairWelcome {
        #[serde(with = "serde_bytes")]
        sealed: Vec<u8>,
    },
    Refused {
        reason: Refusal,
    },
}

/// Why a request was refused. Deliberately vague towards unknown peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// Not a paired device (or no such journal): nothing more is said.
    NotPaired,
    /// No invite is waiting, or it was used.
    NoInvite,
    /// The pairing code did not match; the invite is used up.
    WrongCode,
    /// The journal already belongs to two people.
    ThirdPerson,
    /// The request was malformed or out of order.
    Malformed,
    /// The request carried changes that break the journal's rules (`count` of them); those
    /// were refused, the rest kept, and the session ends.
    BrokeRules { count: u32 },
    /// The inviting device's person did not confirm that both screens show the same verifier:
    /// nothing was sent, and the invite is used up.
    NotConfirmed,
    /// The device sent more than this one takes from it in one session or one day (see
    /// `mend_app::budget`): nothing of this message was applied, and the session ends.
    TooMuch,
}

/// Encode a message body: version byte, then postcard.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION];
    out.extend(postcard::to_stdvec(msg).expect("wire messages always serialise"));
    out
}

/// Decode a message body; the version must match and every byte must be used.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SyncError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(SyncError::TooLarge(bytes.len()));
    }
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| SyncError::Malformed("empty message".into()))?;
    if version != WIRE_VERSION {
        return Err(SyncError::Version(version));
    }
    let (msg, rest) =
        postcard::take_from_bytes(body).map_err(|e| SyncError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SyncError::Malformed("trailing bytes".into()));
    }
    Ok(msg)
}

/// Check a frame's length prefix before reading the frame.
pub fn frame_len(prefix: [u8; 4]) -> Result<usize, SyncError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len == 0 {
        return Err(SyncError::Malformed("empty frame".into()));
    }
    if len > MAX_MESSAGE_BYTES {
        return Err(SyncError::TooLarge(len));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte fields are read and written as bytes (one copy, not one call per byte), which
    /// in postcard is the same encoding as a sequence of `u8`: messages of earlier builds read
    /// the same.
    #[test]
    fn byte_fields_encode_as_a_sequence_of_bytes_did() {
        #[derive(Serialize)]
        enum Old {
            Sync {
                journal_id: [u8; 16],
                session: u64,
                message: Vec<u8>,
                signatures: Vec<u8>,
            },
        }
        let old = postcard::to_stdvec(&Old::Sync {
            journal_id: [3; 16],
            session: 9,
            message: (0..=255).collect(),
            signatures: vec![7; 96],
        })
        .unwrap();
        let new = postcard::to_stdvec(&Request::Sync {
            journal_id: [3; 16],
            session: 9,
            message: (0..=255).collect(),
            signatures: vec![7; 96],
        })
        .unwrap();
        assert_eq!(old, new);
        let back: Request = postcard::from_bytes(&old).unwrap();
        assert!(matches!(back, Request::Sync { session: 9, .. }));
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let r = Request::Sync {
            journal_id: [3; 16],
            session: u64::MAX,
            message: vec![1, 2, 3],
            signatures: vec![4; 96],
        };
        let bytes = encode(&r);
        assert_eq!(decode::<Request>(&bytes).unwrap(), r);
        assert!(decode::<Request>(&[]).is_err());
        assert!(matches!(
            decode::<Request>(&[9, 0]),
            Err(SyncError::Version(9))
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode::<Request>(&trailing).is_err());
        for cut in 1..bytes.len() {
            assert!(decode::<Request>(&bytes[..cut]).is_err());
        }
        // A length that claims more than the cap is refused before reading.
        assert!(frame_len(u32::MAX.to_be_bytes()).is_err());
        assert!(frame_len(0u32.to_be_bytes()).is_err());
        assert_eq!(frame_len(10u32.to_be_bytes()).unwrap(), 10);
        // A huge inner length in a tiny message is refused without allocating it.
        let lying = [WIRE_VERSION, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(decode::<Request>(&lying).is_err());
    }
}
