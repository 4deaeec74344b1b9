//! mend-crypto: the cryptography of Mend, and nothing else.
//!
//! It derives keys from passphrases (Argon2id, with parameters read from files treated as
//! attacker input and capped), seals and opens records (XChaCha20-Poly1305 with associated data
//! that binds format version, journal id and record kind), and reads and writes the device key
//! file format. It does no I/O: no files, no sockets, no tokio. Callers hand it bytes.

mod error;
mod kdf;
mod keyfile;
mod seal;
mod secrets;

pub use error::CryptoError;
pub use kdf::{KdfParams, KDF_MAX_MEMORY_KIB, KDF_MAX_PARALLELISM, KDF_MAX_TIME_COST};
pub use keyfile::{
    public_key_hex, DeviceSecrets, KeyFile, KEYFILE_MAGIC, KEYFILE_MAX_LEN, KEYFILE_VERSION,
};
pub use seal::{
    open_chained, open_record, open_with_key, seal_chained, seal_record, seal_with_key, Chain,
    RecordKind, CHAINED_RECORD_VERSION, NONCE_LEN, SEAL_OVERHEAD, TAG_LEN,
};
pub use secrets::{random_bytes, random_id_hex, ExposeSecret, JournalId, JournalKey, Passphrase};
