//! Where things stand, read from a real store.

use chrono::Utc;
use mend_app::actions::write;
use mend_app::status::status_of;
use mend_journal::{Kind, NewEntry};

mod common;

#[test]
fn status_counts_entries_by_author_and_lists_open_requests() {
    let (_dir, mut store, alex) = common::alex_store();
    let entry = |text: &str, kind: Kind| NewEntry {
        text: text.into(),
        kind,
        created_at: Utc::now(),
        ..Default::default()
    };
    write(
        &mut store,
        &alex.id,
        entry("one", Kind::Entry),
        false,
        Utc::now(),
    )
    .unwrap();
    write(
        &mut store,
        &alex.id,
        entry("draft", Kind::Entry),
        true,
        Utc::now(),
    )
    .unwrap();
    let ask = write(
        &mut store,
        &alex.id,
        entry("tell me", Kind::ReassuranceAsk),
        false,
        Utc::now(),
    )
    .unwrap();
    // This device is the journal's only one; it is never listed as a device to sync with.
    let my_key = store.journal(mend_store::Doc::Shared).devices().unwrap()[0]
        .key
        .clone();
    let entries = store.entries().unwrap();
    let st = status_of(&mut store, &alex.id, &my_key, &entries).unwrap();
    assert_eq!(st.people, vec!["Alex".to_owned()]);
    assert_eq!((st.shared_entries, st.private_entries), (2, 1));
    assert_eq!(st.by_author.get("Alex"), Some(&2));
    assert_eq!(
        st.open_asks
            .iter()
            .map(|e| e.id.clone())
            .collect::<Vec<_>>(),
        vec![ask]
    );
    // One's own entries never wait for one's own receipt; nothing was refused or given back.
    assert!(st.unacknowledged.is_empty());
    assert!(st.refusals.is_empty() && st.rollbacks.is_empty());
    assert!(st.standings.is_empty());
}

#[test]
fn history_names_the_device_of_each_version_and_how_that_is_known() {
    use mend_app::status::{history, Proof};
    let (_dir, mut store, alex) = common::alex_store();
    let first = NewEntry {
        text: "first words".into(),
        created_at: Utc::now(),
        ..Default::default()
    };
    let id = write(&mut store, &alex.id, first.clone(), false, Utc::now()).unwrap();
    let current = store.journal(mend_store::Doc::Shared).entry(&id).unwrap();
    let change = mend_app::actions::text_change(&current, "second words");
    mend_app::actions::edit(
        &mut store,
        mend_store::Doc::Shared,
        &id,
        &alex.id,
        &change,
        Utc::now(),
    )
    .unwrap();
    let versions = history(&mut store, mend_store::Doc::Shared, &id).unwrap();
    let texts: Vec<&str> = versions.iter().map(|v| v.version.text.as_str()).collect();
    assert_eq!(texts, ["first words", "second words"]);
    assert!(versions
        .iter()
        .all(|v| v.by == "Alex on laptop" && v.proof == Proof::SignatureChecked));
    let private = write(&mut store, &alex.id, first, true, Utc::now()).unwrap();
    let versions = history(&mut store, mend_store::Doc::Private, &private).unwrap();
    assert_eq!(versions[0].proof, Proof::Private);
}
