//! The device key file: the journal key and this device's identity, sealed under a key derived
//! from the passphrase. See `docs/format.md` for the byte layout.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{random_bytes, CryptoError, JournalId, JournalKey, KdfParams, Passphrase};

pub const KEYFILE_MAGIC: &[u8; 8] = b"MENDKEY\0";
pub const KEYFILE_VERSION: u8 = 1;
const KDF_ARGON2ID_V13: u8 = 1;
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + 4 + 4 + 16 + 16;
const NONCE_LEN: usize = 24;
/// A key file is never larger than this; anything bigger is refused unread.
pub const KEYFILE_MAX_LEN: usize = 4096;
const NAME_MAX: usize = 256;

/// What a device keeps secret: the journal key, its ed25519 identity seed, and who it belongs to.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DeviceSecrets {
    pub journal_key: JournalKey,
    /// Seed of the device's ed25519 identity (its libp2p keypair).
    pub identity_seed: [u8; 32],
    /// The person this device belongs to (32 hex characters).
    pub person_id: String,
    pub person_name: String,
    pub device_name: String,
}

impl std::fmt::Debug for DeviceSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecrets([REDACTED])")
    }
}

/// The public ed25519 key (hex) of an identity seed.
pub fn public_key_hex(identity_seed: &[u8; 32]) -> String {
    let signing = ed25519_dalek::SigningKey::from_bytes(identity_seed);
    hex::encode(signing.verifying_key().as_bytes())
}

impl DeviceSecrets {
    /// The device's public ed25519 key, hex encoded: safe to show.
    pub fn public_key_hex(&self) -> String {
        public_key_hex(&self.identity_seed)
    }

    /// The key that seals what never leaves this device (its private journal, the read index,
    /// the per-peer sync states and the other caches) in `journal_id`: derived from the
    /// identity seed, which is wrapped by this device's passphrase and never sent anywhere, so
    /// the journal key the partner's devices hold does not open them. HKDF-SHA256, salt
    /// `mend/device-key/v1`, info the journal id. Different on every device, so a record
    /// sealed under it is bound to the device that sealed it.
    pub fn device_key(&self, journal_id: &crate::JournalId) -> JournalKey {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"mend/device-key/v1"), &self.identity_seed);
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(&journal_id.0, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        JournalKey::from_bytes(*okm)
    }

    /// This device's Automerge actor id: the first 16 bytes of its public key, so that every
    /// change it makes is attributable to it and stable across runs.
    pub fn actor_id(&self) -> [u8; 16] {
        let signing = ed25519_dalek::SigningKey::from_bytes(&self.identity_seed);
        let mut out = [0u8; 16];
        out.copy_from_slice(&signing.verifying_key().as_bytes()[..16]);
        out
    }

    /// The secrets as bytes, to hand to another process of the same user over a pipe (a
    /// running `mend serve` to a command it starts); never written to disk.
    pub fn to_handover(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.encode()
    }

    /// Secrets handed over by [`DeviceSecrets::to_handover`].
    pub fn from_handover(bytes: &[u8]) -> Result<Self, CryptoError> {
        Self::decode(bytes)
    }

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let strings = [&self.person_id, &self.person_name, &self.device_name];
        // Exactly the size needed: a buffer that grew would leave a copy of the keys behind
        // in memory it gave back, which zeroizing the final buffer cannot reach.
        let size = 64 + strings.iter().map(|s| 2 + s.len()).sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        out.extend_from_slice(self.journal_key.expose());
        out.extend_from_slice(&self.identity_seed);
        for s in strings {
            if s.len() > NAME_MAX {
                return Err(CryptoError::Malformed {
                    what: "key file",
                    why: "a name is longer than 256 bytes",
                });
            }
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CryptoError> {
        const BAD: CryptoError = CryptoError::Malformed {
            what: "key file",
            why: "secret payload is malformed",
        };
        if bytes.len() < 64 {
            return Err(BAD);
        }
        let mut jk = Zeroizing::new([0u8; 32]);
        jk.copy_from_slice(&bytes[..32]);
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes[32..64]);
        let mut rest = &bytes[64..];
        let mut strings = Vec::with_capacity(3);
        for _ in 0..3 {
            if rest.len() < 2 {
                return Err(BAD);
            }
            let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
            if len > NAME_MAX || rest.len() < 2 + len {
                return Err(BAD);
            }
            let s = std::str::from_utf8(&rest[2..2 + len]).map_err(|_| BAD)?;
            strings.push(s.to_owned());
            rest = &rest[2 + len..];
        }
        let secrets = DeviceSecrets {
            journal_key: JournalKey::from_bytes(*jk),
            identity_seed: *seed,
            person_id: strings.remove(0),
            person_name: strings.remove(0),
            device_name: strings.remove(0),
        };
        Ok(secrets)
    }
}

/// A parsed (still sealed) key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub params: KdfParams,
    pub salt: [u8; 16],
    pub journal_id: JournalId,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl KeyFile {
    /// Seal `secrets` under `passphrase` with fresh salt and nonce.
    pub fn seal(
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        passphrase: &Passphrase,
        params: KdfParams,
    ) -> Result<Self, CryptoError> {
        let mut file = KeyFile {
            params,
            salt: random_bytes()?,
            journal_id,
            nonce: random_bytes()?,
            ciphertext: Vec::new(),
        };
        let key = params.derive(passphrase, &file.salt)?;
        let plain = secrets.encode()?;
        let header = file.header();
        file.ciphertext = XChaCha20Poly1305::new(key.as_ref().into())
            .encrypt(
                XNonce::from_slice(&file.nonce),
                Payload {
                    msg: &plain,
                    aad: &header,
                },
            )
            .map_err(|_| CryptoError::BadRecord)?;
        Ok(file)
    }

    /// Open with `passphrase`. Fails with [`CryptoError::WrongPassphrase`] on any mismatch.
    pub fn open(&self, passphrase: &Passphrase) -> Result<DeviceSecrets, CryptoError> {
        let key = self.params.derive(passphrase, &self.salt)?;
        let header = self.header();
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new(key.as_ref().into())
                .decrypt(
                    XNonce::from_slice(&self.nonce),
                    Payload {
                        msg: &self.ciphertext,
                        aad: &header,
                    },
                )
                .map_err(|_| CryptoError::WrongPassphrase)?,
        );
        DeviceSecrets::decode(&plain)
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(KEYFILE_MAGIC);
        h[8] = KEYFILE_VERSION;
        h[9] = KDF_ARGON2ID_V13;
        h[10..14].copy_from_slice(&self.params.memory_kib.to_le_bytes());
        h[14..18].copy_from_slice(&self.params.time_cost.to_le_bytes());
        h[18..22].copy_from_slice(&self.params.parallelism.to_le_bytes());
        h[22..38].copy_from_slice(&self.salt);
        h[38..54].copy_from_slice(&self.journal_id.0);
        h
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + self.ciphertext.len());
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parse a key file. KDF parameters are checked against the caps here, before any work.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let malformed = |why| CryptoError::Malformed {
            what: "key file",
            why,
        };
        if bytes.len() > KEYFILE_MAX_LEN {
            return Err(malformed("larger than any key file"));
        }
        if bytes.len() < 8 || &bytes[..8] != KEYFILE_MAGIC {
            return Err(malformed("not a Mend key file"));
        }
        if bytes.len() < HEADER_LEN + NONCE_LEN + 16 {
            return Err(malformed("truncated"));
        }
        if bytes[8] != KEYFILE_VERSION {
            return Err(CryptoError::UnsupportedVersion {
                what: "key file",
                found: bytes[8],
                supported: KEYFILE_VERSION,
            });
        }
        if bytes[9] != KDF_ARGON2ID_V13 {
            return Err(malformed("unknown key derivation function"));
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let params = KdfParams {
            memory_kib: u32_at(10),
            time_cost: u32_at(14),
            parallelism: u32_at(18),
        };
        params.check()?;
        let take =
            |r: std::ops::Range<usize>| -> [u8; 16] { bytes[r].try_into().expect("16 bytes") };
        Ok(KeyFile {
            params,
            salt: take(22..38),
            journal_id: JournalId(take(38..54)),
            nonce: bytes[54..78].try_into().expect("24 bytes"),
            ciphertext: bytes[78..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handover_buffer_is_allocated_once_at_its_exact_size() {
        let secrets = DeviceSecrets {
            journal_key: JournalKey::from_bytes([7; 32]),
            identity_seed: [9; 32],
            person_id: "p".repeat(32),
            person_name: "A name much longer than a short one, to pass 128 bytes".into(),
            device_name: "a device name that is long as well, well past the old guess".into(),
        };
        let bytes = secrets.to_handover().unwrap();
        assert!(bytes.len() > 128);
        assert_eq!(bytes.capacity(), bytes.len());
        let back = DeviceSecrets::from_handover(&bytes).unwrap();
        assert_eq!(back.person_name, secrets.person_name);
        assert_eq!(back.identity_seed, [9; 32]);
    }

    type Result<T = ()> = std::result::Result<T, CryptoError>;

    fn secrets() -> Result<DeviceSecrets> {
        Ok(DeviceSecrets {
            journal_key: JournalKey::generate()?,
            identity_seed: random_bytes()?,
            person_id: "ab".repeat(16),
            person_name: "Alex".into(),
            device_name: "laptop".into(),
        })
    }

    #[test]
    fn seal_parse_open_round_trip() -> Result {
        let s = secrets()?;
        let jid = JournalId::generate()?;
        let pass = Passphrase::from("correct horse");
        let file = KeyFile::seal(&s, jid, &pass, KdfParams::INSECURE_TEST)?;
        let parsed = KeyFile::parse(&file.to_bytes())?;
        assert_eq!(parsed, file);
        let opened = parsed.open(&pass)?;
        assert_eq!(opened.journal_key.expose(), s.journal_key.expose());
        assert_eq!(opened.person_name, "Alex");
        assert_eq!(opened.device_name, "laptop");
        assert_eq!(opened.public_key_hex(), s.public_key_hex());
        Ok(())
    }

    #[test]
    fn wrong_passphrase_and_tampered_header_fail() -> Result {
        let s = secrets()?;
        let jid = JournalId::generate()?;
        let pass = Passphrase::from("correct horse");
        let bytes = KeyFile::seal(&s, jid, &pass, KdfParams::INSECURE_TEST)?.to_bytes();
        let wrong = KeyFile::parse(&bytes)?.open(&Passphrase::from("nope"));
        assert!(matches!(wrong, Err(CryptoError::WrongPassphrase)));
        // Another journal id in the header must not open.
        let mut other = bytes.clone();
        other[40] ^= 1;
        assert!(KeyFile::parse(&other)?.open(&pass).is_err());
        Ok(())
    }

    #[test]
    fn excessive_kdf_cost_is_refused_before_work() -> Result {
        let s = secrets()?;
        let pass = Passphrase::from("p");
        let mut bytes =
            KeyFile::seal(&s, JournalId::generate()?, &pass, KdfParams::INSECURE_TEST)?.to_bytes();
        bytes[10..14].copy_from_slice(&(u32::MAX).to_le_bytes());
        assert!(matches!(
            KeyFile::parse(&bytes),
            Err(CryptoError::KdfTooExpensive { .. })
        ));
        Ok(())
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        assert!(KeyFile::parse(b"MENDKEY\0\x01").is_err());
        assert!(KeyFile::parse(b"hello world, not a key file at all....").is_err());
        assert!(KeyFile::parse(&vec![0u8; 5000]).is_err());
    }
}
