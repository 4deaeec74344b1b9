//! mend-sync: how two Mend devices talk, as plain state machines.
//!
//! It holds the versioned wire messages and their size caps, the per-peer sync session built on
//! Automerge's sync protocol, and pairing: invite codes and a SPAKE2 exchange bound to both
//! devices' identities, with key confirmation, that hands the journal key to a new device.
//! It does no I/O: no sockets, no files, no tokio, no libp2p. The network shell moves the bytes
//! it produces; the store persists what it changes. Protocols are specified in
//! `docs/protocol.md`.

mod code;
mod error;
mod pairing;
mod session;
mod wire;

pub use code::InviteCode;
pub use error::{PairError, SyncError};
pub use pairing::{Inviter, JoinRequest, Joiner, Welcome};
pub use session::{ends_session, respond, Reply, Step, SyncSession, MAX_ROUNDS};
pub use wire::{
    decode, encode, frame_len, Refusal, Request, Response, MAX_MESSAGE_BYTES,
    PAIR_MAX_MESSAGE_BYTES, PAIR_PROTOCOL, SYNC_PROTOCOL, WIRE_VERSION,
};
