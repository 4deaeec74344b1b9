//! Seeds for the `signed_changes` fuzz target (`fuzz/corpus/signed_changes/`): real changes of
//! the journal the target builds, so that the fuzzer starts from bytes that get past Automerge's
//! chunk checksums. Run with `cargo test -p mend-journal --test fuzz_seeds -- --ignored` when
//! the target's journal changes.

use chrono::{TimeZone, Utc};
use mend_journal::{EntryEdit, Journal, Kind, NewEntry, SavedShared};

mod common;

const JID: [u8; 16] = [5; 16];

#[test]
#[ignore = "writes the fuzz seeds; run when the signed_changes target's journal changes"]
fn write_fuzz_seeds() {
    // Alex's journal with Sam paired and one entry of Alex's, as the fuzz target builds it.
    let common::Pair {
        alex: mut j,
        sam: mut sams,
        alex_key: alex,
        s,
        at,
        ..
    } = common::paired(JID, |j, a| {
        let e = NewEntry {
            id: "e".repeat(32),
            author_id: a.id.clone(),
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            written_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            text: "Alex's words".into(),
            kind: Kind::Entry,
            ..Default::default()
        };
        j.add_entry(&e, e.created_at).unwrap();
    });
    let saved = SavedShared::decode(&j.save_signed()).unwrap();
    let heads = sams.heads();
    let mine = NewEntry {
        id: "f".repeat(32),
        author_id: s.id.clone(),
        created_at: at,
        written_at: at,
        text: "Sam's words".into(),
        kind: Kind::Entry,
        ..Default::default()
    };
    sams.add_entry(&mine, at).unwrap();
    sams.edit_entry(
        &"f".repeat(32),
        &s.id,
        &EntryEdit {
            text: Some("Sam's words, edited".into()),
            ..Default::default()
        },
        at,
    )
    .unwrap();
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/signed_changes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("log-record"),
        sams.signed_changes_since(&heads).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("changes"), sams.changes_since(&heads)).unwrap();
    let mut state = mend_journal::SyncState::new();
    let mut alexs =
        Journal::load(&saved.doc, Default::default(), vec![], &alex, JID, false).unwrap();
    let (first, _) = alexs.sync_generate(&mut state).unwrap();
    std::fs::write(dir.join("sync-message"), first).unwrap();
}
