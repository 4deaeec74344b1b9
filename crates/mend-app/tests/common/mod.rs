//! A journal on disk, in a temporary home, for the tests that act on a real store.

use chrono::Utc;
use mend_crypto::{random_bytes, DeviceSecrets, JournalId, JournalKey, KdfParams, Passphrase};
use mend_journal::Person;
use mend_store::{Home, LockMode, Store};

/// Alex's freshly made journal, opened for writing; keep the directory alive while it is used.
pub fn alex_store() -> (tempfile::TempDir, Store, Person) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("home"));
    let secrets = DeviceSecrets {
        journal_key: JournalKey::generate().unwrap(),
        identity_seed: random_bytes().unwrap(),
        person_id: "a".repeat(32),
        person_name: "Alex".into(),
        device_name: "laptop".into(),
    };
    let jid = JournalId::generate().unwrap();
    home.init(
        &secrets,
        jid,
        &Passphrase::from("pass"),
        KdfParams::INSECURE_TEST,
        Utc::now(),
    )
    .unwrap();
    let store = Store::open(&home, &secrets, jid, home.lock(LockMode::Write).unwrap()).unwrap();
    let alex = Person {
        id: secrets.person_id.clone(),
        name: "Alex".into(),
    };
    (dir, store, alex)
}
