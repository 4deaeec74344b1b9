//! Passphrase key derivation with Argon2id.
//!
//! Parameters travel in the key file header, so on read they are attacker input: anything above
//! the caps below is refused before any work is done, so a hostile file cannot hang the machine
//! or exhaust its memory.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::{CryptoError, Passphrase};

/// At most 1 GiB of memory.
pub const KDF_MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// At most 32 passes.
pub const KDF_MAX_TIME_COST: u32 = 32;
/// At most 8 lanes.
pub const KDF_MAX_PARALLELISM: u32 = 8;
/// At most 4 GiB·passes of total work (about 5-10 s on a laptop).
const KDF_MAX_WORK_KIB: u64 = 4 * 1024 * 1024;

/// The memory every calibrated (non-test) profile uses at least: 64 MiB.
pub const KDF_DEFAULT_MEMORY_KIB: u32 = 64 * 1024;

/// Argon2id parameters, as stored in a key file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub time_cost: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// A deliberately cheap profile for tests and demos only. Never for a real journal.
    pub const INSECURE_TEST: KdfParams = KdfParams {
        memory_kib: 256,
        time_cost: 1,
        parallelism: 1,
    };

    /// Refuse parameters above the caps (or ones Argon2 cannot use).
    pub fn check(&self) -> Result<(), CryptoError> {
        let work = u64::from(self.memory_kib) * u64::from(self.time_cost);
        if self.memory_kib > KDF_MAX_MEMORY_KIB
            || self.time_cost > KDF_MAX_TIME_COST
            || self.parallelism > KDF_MAX_PARALLELISM
            || work > KDF_MAX_WORK_KIB
        {
            return Err(CryptoError::KdfTooExpensive {
                memory_kib: self.memory_kib,
                time_cost: self.time_cost,
                parallelism: self.parallelism,
            });
        }
        self.argon2().map(|_| ())
    }

    /// True for parameters weaker than any calibrated profile (such as the test profile).
    pub fn is_weak(&self) -> bool {
        self.memory_kib < KDF_DEFAULT_MEMORY_KIB
    }

    fn argon2(&self) -> Result<Argon2<'static>, CryptoError> {
        let params = Params::new(self.memory_kib, self.time_cost, self.parallelism, Some(32))
            .map_err(|e| CryptoError::KdfInvalid(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Derive a 32-byte wrapping key from a passphrase and salt.
    pub fn derive(
        &self,
        passphrase: &Passphrase,
        salt: &[u8; 16],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        self.check()?;
        let mut out = Zeroizing::new([0u8; 32]);
        self.argon2()?
            .hash_password_into(passphrase.expose_secret().as_bytes(), salt, out.as_mut())
            .map_err(|e| CryptoError::KdfInvalid(e.to_string()))?;
        Ok(out)
    }

    /// Choose parameters for this machine: 64 MiB, one lane, and as many passes as it takes
    /// for one derivation to last about `target` (at least one pass, at most the cap).
    /// The estimate is refined by measuring again at the chosen cost, since the first pass
    /// also pays for allocating the memory.
    pub fn calibrate(target: Duration) -> Result<KdfParams, CryptoError> {
        let mut params = KdfParams {
            memory_kib: KDF_DEFAULT_MEMORY_KIB,
            time_cost: 1,
            parallelism: 1,
        };
        let salt = [0u8; 16];
        let pass = Passphrase::from("calibration");
        for _ in 0..3 {
            let started = Instant::now();
            params.derive(&pass, &salt)?;
            let took = started.elapsed().max(Duration::from_millis(1));
            let ratio = target.as_secs_f64() / took.as_secs_f64();
            if (0.85..=1.15).contains(&ratio) {
                break;
            }
            let next = (f64::from(params.time_cost) * ratio).round() as u32;
            let next = next.clamp(1, KDF_MAX_TIME_COST);
            if next == params.time_cost {
                break;
            }
            params.time_cost = next;
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_enforced() {
        let too_much_memory = KdfParams {
            memory_kib: KDF_MAX_MEMORY_KIB + 1,
            time_cost: 1,
            parallelism: 1,
        };
        assert!(matches!(
            too_much_memory.check(),
            Err(CryptoError::KdfTooExpensive { .. })
        ));
        let too_much_work = KdfParams {
            memory_kib: KDF_MAX_MEMORY_KIB,
            time_cost: 8,
            parallelism: 1,
        };
        assert!(too_much_work.check().is_err());
        assert!(KdfParams::INSECURE_TEST.check().is_ok());
        assert!(KdfParams::INSECURE_TEST.is_weak());
    }

    #[test]
    fn derivation_depends_on_passphrase_and_salt() {
        let p = KdfParams::INSECURE_TEST;
        let a = p.derive(&Passphrase::from("one"), &[1; 16]).unwrap();
        let b = p.derive(&Passphrase::from("two"), &[1; 16]).unwrap();
        let c = p.derive(&Passphrase::from("one"), &[2; 16]).unwrap();
        let a2 = p.derive(&Passphrase::from("one"), &[1; 16]).unwrap();
        assert_eq!(*a, *a2);
        assert_ne!(*a, *b);
        assert_ne!(*a, *c);
    }
}
