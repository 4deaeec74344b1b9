//! Secret and identifier types. Secrets zeroize on drop and never print.

use std::fmt;

use crate::CryptoError;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use secrecy::{ExposeSecret, SecretString};

/// A passphrase typed by the user. Zeroized on drop; `Debug` prints `[REDACTED]`.
pub type Passphrase = SecretString;

/// Fill a fresh array with bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// A random 128-bit identifier as 32 lowercase hex characters.
pub fn random_id_hex() -> Result<String, CryptoError> {
    Ok(hex::encode(random_bytes::<16>()?))
}

/// The 256-bit key that seals every record of one journal.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct JournalKey([u8; 32]);

impl JournalKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(random_bytes()?))
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for JournalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JournalKey([REDACTED])")
    }
}

/// The public, random identifier of a journal (16 bytes). Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct JournalId(pub [u8; 16]);

impl JournalId {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(random_bytes()?))
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JournalId({})", self.to_hex())
    }
}

impl fmt::Display for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceSecrets;
    use std::mem::MaybeUninit;

    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

    /// What can be checked from inside the program: the key types zeroize on drop, a dropped
    /// key leaves only zeros where it lived, and neither prints its bytes.
    #[test]
    fn key_material_is_zeroized_on_drop_and_never_printed() {
        zeroized_on_drop::<JournalKey>();
        zeroized_on_drop::<DeviceSecrets>();

        let mut slot = MaybeUninit::new(JournalKey::from_bytes([0xab; 32]));
        // SAFETY: the slot holds an initialised key; it is dropped once and never used again
        // as a key, only read back as the bytes drop left behind.
        let left = unsafe {
            slot.assume_init_drop();
            std::slice::from_raw_parts(
                slot.as_ptr().cast::<u8>(),
                std::mem::size_of::<JournalKey>(),
            )
            .to_vec()
        };
        assert!(left.iter().all(|&b| b == 0), "{left:?}");

        let mut secrets = DeviceSecrets {
            journal_key: JournalKey::from_bytes([0xcd; 32]),
            identity_seed: [0xef; 32],
            person_id: "ab".repeat(16),
            person_name: "Alex".into(),
            device_name: "laptop".into(),
        };
        let printed = format!("{secrets:?} {:?}", secrets.journal_key);
        assert!(!printed.contains("cd") && !printed.contains("205") && !printed.contains("Alex"));
        secrets.zeroize();
        assert_eq!(secrets.journal_key.expose(), &[0; 32]);
        assert_eq!(secrets.identity_seed, [0; 32]);
        assert!(secrets.person_name.is_empty() && secrets.person_id.is_empty());
    }
}
