use thiserror::Error;

/// Everything that can go wrong in Mend's cryptography.
#[derive(Debug, Error)]
pub enum CryptoError {
    /// The key file did not open with this passphrase (or it was altered).
    #[error("wrong passphrase, or the key file was altered")]
    WrongPassphrase,
    /// A sealed record failed authentication: wrong key, wrong journal, wrong kind, or altered.
    #[error("a sealed record failed authentication (altered, or from another journal or file)")]
    BadRecord,
    /// KDF parameters above the caps this build accepts.
    #[error(
        "the key file asks for Argon2id with {memory_kib} KiB, {time_cost} passes, \
         {parallelism} lanes, above the allowed maximum"
    )]
    KdfTooExpensive {
        memory_kib: u32,
        time_cost: u32,
        parallelism: u32,
    },
    /// KDF parameters that Argon2 itself rejects.
    #[error("invalid Argon2id parameters: {0}")]
    KdfInvalid(String),
    /// Bytes that are not in the expected format.
    #[error("malformed {what}: {why}")]
    Malformed {
        what: &'static str,
        why: &'static str,
    },
    /// A format version this build does not know.
    #[error("unsupported {what} version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        what: &'static str,
        found: u8,
        supported: u8,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}
