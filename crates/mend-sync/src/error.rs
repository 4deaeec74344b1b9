use thiserror::Error;

/// Failures of a sync session or of a message from a peer.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error("a message of {0} bytes is larger than the {max} allowed", max = crate::MAX_MESSAGE_BYTES)]
    TooLarge(usize),
    #[error("malformed message from the peer: {0}")]
    Malformed(String),
    #[error("the peer speaks wire version {0}; this build speaks {v}", v = crate::WIRE_VERSION)]
    Version(u8),
    #[error("the sync did not converge within {0} rounds")]
    TooManyRounds(u32),
    #[error(transparent)]
    Journal(#[from] mend_journal::JournalError),
}

/// Failures while pairing two devices.
#[derive(Debug, Error)]
pub enum PairError {
    #[error("the code does not match: this invite is used up")]
    WrongCode,
    #[error("this invite was already used")]
    InviteSpent,
    /// What was typed, and what is wrong with it.
    #[error("{0:?} is not a Mend invite code: {1}")]
    BadCode(String, String),
    #[error("unexpected pairing message: {0}")]
    OutOfOrder(&'static str),
    #[error("malformed pairing message")]
    Malformed,
    #[error("the system random number generator failed")]
    Random,
}
