//! One sync session with one peer, on top of Automerge's sync protocol.
//!
//! The initiating side drives: it sends a message (possibly empty), the answering side applies it
//! and replies (possibly empty). When the initiator has nothing to send and the last reply was
//! empty, both hold the same document. Sessions are bounded in rounds.

use mend_journal::{Admission, Journal, Refused, SyncState};

use crate::SyncError;

/// A session that has not converged after this many round trips is abandoned.
pub const MAX_ROUNDS: u32 = 64;

/// What the initiator does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this sync message (empty: "anything more?") and the signatures of the changes it
    /// carries (96-byte pairs).
    Send {
        message: Vec<u8>,
        signatures: Vec<u8>,
    },
    /// Converged, or stopped because the peer's changes broke the rules ([`SyncSession::refused`]).
    Done,
}

/// The answering side's reply to one message.
#[derive(Debug)]
pub struct Reply {
    pub message: Vec<u8>,
    pub signatures: Vec<u8>,
    /// What became of the changes the request carried.
    pub admission: Admission,
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
    /// Changes the peer sent that broke the rules and were refused.
    refused: Vec<Refused>,
    /// Changes this device had made and no longer held, given back by the peer.
    own_returned: usize,
    /// New changes from the peer that were applied.
    pub changes_applied: usize,
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
            refused: Vec::new(),
            own_returned: 0,
            changes_applied: 0,
        }
    }

    /// The peer's changes refused in this session. A session that refused any ends at once:
    /// the peer would only send them again.
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// How many changes this device had made, and no longer held, the peer gave back in this
    /// session (its journal was put back to an older copy).
    pub fn own_returned(&self) -> usize {
        self.own_returned
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
        if !self.refused.is_empty() {
            return Ok(Step::Done);
        }
        let msg = journal.sync_generate(&mut self.state);
        if msg.is_none() && self.started && self.last_reply_empty && self.last_sent_empty {
            return Ok(Step::Done);
        }
        if self.rounds >= MAX_ROUNDS {
            return Err(SyncError::TooManyRounds(MAX_ROUNDS));
        }
        self.rounds += 1;
        self.started = true;
        let (message, signatures) = msg.unwrap_or_default();
        self.last_sent_empty = message.is_empty();
        self.bytes_sent += (message.len() + signatures.len()) as u64;
        Ok(Step::Send {
            message,
            signatures,
        })
    }

    /// The initiator got a reply and the signatures of the changes it carries.
    pub fn on_reply(
        &mut self,
        journal: &mut Journal,
        reply: &[u8],
        signatures: &[u8],
    ) -> Result<(), SyncError> {
        self.last_reply_empty = reply.is_empty();
        self.bytes_received += (reply.len() + signatures.len()) as u64;
        if !reply.is_empty() {
            let admission = journal.sync_receive(&mut self.state, reply, signatures)?;
            self.changes_applied += admission.applied;
            self.refused.extend(admission.refused);
            self.own_returned += admission.own_returned;
        }
        Ok(())
    }

    /// The answering side: apply a request's message and produce the reply.
    pub fn answer(
        &mut self,
        journal: &mut Journal,
        message: &[u8],
        signatures: &[u8],
    ) -> Result<Reply, SyncError> {
        respond(journal, &mut self.state, message, signatures)
    }
}

/// True when an answered request ends a session: the initiator asked "anything more?" with an
/// empty message and the answer was empty too.
pub fn ends_session(request: &[u8], reply: &[u8]) -> bool {
    request.is_empty() && reply.is_empty()
}

/// Answer one sync message with the given per-peer state. If the message carried changes that
/// broke the rules, the reply is empty: the caller ends the session and says so.
pub fn respond(
    journal: &mut Journal,
    state: &mut SyncState,
    message: &[u8],
    signatures: &[u8],
) -> Result<Reply, SyncError> {
    let admission = if message.is_empty() {
        Admission::default()
    } else {
        journal.sync_receive(state, message, signatures)?
    };
    if !admission.refused.is_empty() {
        return Ok(Reply {
            message: Vec::new(),
            signatures: Vec::new(),
            admission,
        });
    }
    let (message, signatures) = journal.sync_generate(state).unwrap_or_default();
    Ok(Reply {
        message,
        signatures,
        admission,
    })
}
