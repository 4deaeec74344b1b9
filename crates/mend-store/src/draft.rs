//! Words from the editor that could not be saved (longer than an entry may be, refused by the
//! journal's rules, a failure on the way to disk), kept sealed in the home until `mend write
//! --recover` brings them back, so that what a person typed is not lost with the error. One
//! draft at a time: a newer one replaces it.

use mend_crypto::{DeviceSecrets, JournalId, RecordKind};
use zeroize::Zeroizing;

use crate::atomic::write_atomic;
use crate::store::{open_one, seal_one, Keys};
use crate::{Home, StoreError};

pub(crate) const DRAFT: &str = "draft";

impl Home {
    fn draft_path(&self) -> std::path::PathBuf {
        self.root().join(DRAFT)
    }

    /// Keep `text`, sealed under this device's own key, replacing any draft kept before.
    pub fn keep_draft(
        &self,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
        text: &str,
    ) -> Result<(), StoreError> {
        let path = self.draft_path();
        let keys = Keys::of(secrets, journal_id);
        let sealed = seal_one(&path, &keys, journal_id, RecordKind::Draft, text.as_bytes())?;
        write_atomic(&path, &sealed)
    }

    /// The draft kept, if any.
    pub fn kept_draft(
        &self,
        secrets: &DeviceSecrets,
        journal_id: JournalId,
    ) -> Result<Option<Zeroizing<String>>, StoreError> {
        let path = self.draft_path();
        let keys = Keys::of(secrets, journal_id);
        let Some(plain) = open_one(&path, &keys, journal_id, RecordKind::Draft)? else {
            return Ok(None);
        };
        let plain = Zeroizing::new(plain);
        let text = std::str::from_utf8(&plain).map_err(|_| StoreError::Corrupt {
            path: path.clone(),
            why: "the draft is not text".into(),
        })?;
        Ok(Some(Zeroizing::new(text.to_owned())))
    }

    /// Remove the kept draft (once it has been saved as an entry).
    pub fn forget_draft(&self) -> Result<(), StoreError> {
        let path = self.draft_path();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(&path)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_secrets(identity: u8) -> DeviceSecrets {
        DeviceSecrets {
            journal_key: mend_crypto::JournalKey::from_bytes([9; 32]),
            identity_seed: [identity; 32],
            person_id: "a".repeat(32),
            person_name: "Alex".into(),
            device_name: "laptop".into(),
        }
    }

    #[test]
    fn a_draft_is_kept_sealed_brought_back_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let key = test_secrets(1);
        let jid = JournalId([4; 16]);
        assert!(home.kept_draft(&key, jid).unwrap().is_none());
        let words = "MARKER words that must not be lost ".repeat(40_000); // over 1 MiB
        home.keep_draft(&key, jid, &words).unwrap();
        let on_disk = std::fs::read(dir.path().join(DRAFT)).unwrap();
        assert!(
            !on_disk.windows(6).any(|w| w == b"MARKER"),
            "sealed on disk"
        );
        assert_eq!(
            home.kept_draft(&key, jid)
                .unwrap()
                .as_deref()
                .map(String::as_str),
            Some(words.as_str())
        );
        // Another device (another identity, the same journal key) cannot open it.
        let other = test_secrets(2);
        assert!(home.kept_draft(&other, jid).is_err());
        home.forget_draft().unwrap();
        home.forget_draft().unwrap();
        assert!(home.kept_draft(&key, jid).unwrap().is_none());
    }
}
