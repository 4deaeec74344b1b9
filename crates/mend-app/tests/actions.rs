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

#[test]
fn an_edit_to_the_same_words_changes_nothing_and_inline_tags_follow_the_text() {
    let (_dir, mut store, alex) = common::alex_store();
    let mut first = words("we walked @outside");
    first.tags = vec!["outside".into(), "kept".into()];
    let id = write(&mut store, &alex.id, first, false, Utc::now()).unwrap();
    let current = store.journal(Doc::Shared).entry(&id).unwrap();
    // The same words: no change, nothing written.
    let same = mend_app::actions::text_change(&current, "we walked @outside");
    assert_eq!(same, mend_journal::EntryEdit::default());
    let heads = store.journal_mut(Doc::Shared).heads();
    assert!(
        !mend_app::actions::edit(&mut store, Doc::Shared, &id, &alex.id, &same, Utc::now())
            .unwrap()
    );
    assert_eq!(store.journal_mut(Doc::Shared).heads(), heads);
    // New words: the inline tag follows the text, the explicit one stays.
    let change = mend_app::actions::text_change(&current, "we talked @home");
    assert_eq!(
        change.tags,
        Some(vec!["kept".to_owned(), "home".to_owned()])
    );
    assert!(
        mend_app::actions::edit(&mut store, Doc::Shared, &id, &alex.id, &change, Utc::now())
            .unwrap()
    );
    let after = store.journal(Doc::Shared).entry(&id).unwrap();
    assert_eq!(after.text, "we talked @home");
    assert!(after.edited_at.is_some());
}
