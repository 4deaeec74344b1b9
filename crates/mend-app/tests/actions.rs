//! Writing, sharing and taking back entries on a real store.

use chrono::Utc;
use mend_app::actions::{own_entry, share, take_back, write, ActionError};
use mend_app::AppError;
use mend_journal::{JournalError, NewEntry};
use mend_store::Doc;

mod common;

fn words(text: &str) -> NewEntry {
    NewEntry {
        text: text.into(),
        created_at: Utc::now(),
        ..Default::default()
    }
}

#[test]
fn a_private_entry_is_shared_once_and_taken_back_by_its_author_only() {
    let (_dir, mut store, alex) = common::alex_store();
    let id = write(&mut store, &alex.id, words("a draft"), true, Utc::now()).unwrap();
    assert_eq!(
        store.journal(Doc::Private).entry(&id).unwrap().author_id,
        alex.id
    );
    assert!(store.journal(Doc::Shared).entry(&id).is_err());

    let was = share(&mut store, &alex.id, &id, Utc::now()).unwrap();
    assert_eq!(was.text, "a draft");
    let shared = store.journal(Doc::Shared).entry(&id).unwrap();
    assert!(shared.extra.shared_at.is_some());
    assert!(store.journal(Doc::Private).entry(&id).is_err());
    assert!(matches!(
        share(&mut store, &alex.id, &id, Utc::now()),
        Err(ActionError::AlreadyShared)
    ));

    // Only its author takes it back; a shared entry is retracted, not deleted.
    let someone = "b".repeat(32);
    assert!(matches!(
        own_entry(&store, Doc::Shared, &id, &someone),
        Err(AppError::Journal(JournalError::NotAuthor { .. }))
    ));
    own_entry(&store, Doc::Shared, &id, &alex.id).unwrap();
    take_back(&mut store, Doc::Shared, &id, &alex.id, Utc::now()).unwrap();
    let retracted = store.journal(Doc::Shared).entry(&id).unwrap();
    assert!(retracted.extra.retracted_at.is_some());
    assert!(retracted.text.is_empty());
}
