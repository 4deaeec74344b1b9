//! Founding a journal on a home.

use chrono::Utc;
use mend_app::{AppError, Device};
use mend_crypto::{KdfParams, Passphrase};
use mend_store::{Doc, Home, LockMode, StoreError};

#[test]
fn a_journal_is_founded_once_and_names_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("home"));
    let pass = Passphrase::from("pass");
    let p = KdfParams::INSECURE_TEST;

    // A name with a control character creates nothing.
    let bad = Device::create(home.clone(), "Al\u{7}ex", "laptop", &pass, p, Utc::now());
    assert!(matches!(bad, Err(AppError::BadName)));
    assert!(!home.is_initialised());

    let alex = Device::create(home.clone(), " Alex ", "laptop", &pass, p, Utc::now()).unwrap();
    assert_eq!(alex.secrets.person_name, "Alex");
    let store = alex.open(LockMode::Read, || {}).unwrap();
    let people = store.journal(Doc::Shared).people().unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].name, "Alex");
    assert_eq!(
        store.journal(Doc::Shared).devices().unwrap()[0].name,
        "laptop"
    );
    drop(store);
    let key_file = std::fs::read(home.key_path()).unwrap();

    // A second founding on the same home is refused and changes nothing.
    let again = Device::create(home.clone(), "Sam", "phone", &pass, p, Utc::now());
    assert!(matches!(
        again,
        Err(AppError::Store(StoreError::AlreadyInitialised { .. }))
    ));
    assert_eq!(std::fs::read(home.key_path()).unwrap(), key_file);
    assert_eq!(
        Device::unlock(home, &pass).unwrap().secrets.person_name,
        "Alex"
    );
}
