//! One sync session with one peer, on top of Automerge's sync protocol.
//!
//! The initiating side drives: it sends a message (possibly empty), the answering side applies it
//! and replies (possibly empty). When the initiator has nothing to send and the last reply was
//! empty, both hold the same document. Sessions are bounded in rounds.

use mend_journal::{Journal, SyncState};

use crate::SyncError;

/// A session that has not converged after this many round trips is abandoned.
pub const MAX_ROUNDS: u32 = 64;

/// What the initiator does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this sync message (empty: "anything more?").
    Send(Vec<u8>),
    /// Converged.
    Done,
}

/// The initiating side of a session, or the saved state of the answering side.
pub struct SyncSession {
    state: SyncState,
    rounds: u32,
    started: bool,
    last_reply_empty: bool,
    last_sent_empty: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl SyncSession {
    /// Start from the state saved after the last session with this peer (if any and readable).
    pub fn new(saved: Option<&[u8]>) -> Self {
        let state = saved
            .and_then(|b| SyncState::decode(b).ok())
            .unwrap_or_default();
        Self {
            state,
            rounds: 0,
            started: false,
            last_reply_empty: false,
            last_sent_empty: false,
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    /// What to save so that the next session costs only what is new.
    pub fn saved_state(&self) -> Vec<u8> {
        self.state.encode()
    }

    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The initiator's next step. A session always ends with an empty request answered by an
    /// empty reply ("anything more?" "no"), so the answering side knows it is over.
    pub fn step(&mut self, journal: &mut Journal) -> Result<Step, SyncError> {
        let msg = journal.sync_generate(&mut self.state);
        if msg.is_none() && self.started && self.last_reply_empty && self.last_sent_empty {
            return Ok(Step::Done);
        }
        if self.rounds >= MAX_ROUNDS {
            return Err(SyncError::TooManyRounds(MAX_ROUNDS));
        }
        self.rounds += 1;
        self.started = true;
        let msg = msg.unwrap_or_default();
        self.last_sent_empty = msg.is_empty();
        self.bytes_sent += msg.len() as u64;
        Ok(Step::Send(msg))
    }

    /// The initiator got a reply.
    pub fn on_reply(&mut self, journal: &mut Journal, reply: &[u8]) -> Result<(), SyncError> {
        self.last_reply_empty = reply.is_empty();
        self.bytes_received += reply.len() as u64;
        if !reply.is_empty() {
            journal.sync_receive(&mut self.state, reply)?;
        }
        Ok(())
    }

    /// The answering side: apply a request's message and produce the reply.
    pub fn answer(&mut self, journal: &mut Journal, message: &[u8]) -> Result<Vec<u8>, SyncError> {
        respond(journal, &mut self.state, message)
    }
}

/// True when an answered request ends a session: the initiator asked "anything more?" with an
/// empty message and the answer was empty too.
pub fn ends_session(request: &[u8], reply: &[u8]) -> bool {
    request.is_empty() && reply.is_empty()
}

/// Answer one sync message with the given per-peer state.
pub fn respond(
    journal: &mut Journal,
    state: &mut SyncState,
    message: &[u8],
) -> Result<Vec<u8>, SyncError> {
    if !message.is_empty() {
        journal.sync_receive(state, message)?;
    }
    Ok(journal.sync_generate(state).unwrap_or_default())
}
