//! Whatever bytes arrive where a peer's changes and signatures belong (a sync message's changes,
//! a log record), nothing panics and Alex's journal keeps what only Alex may change: Alex's
//! entry, two people, the root. The fuzzer holds Sam's key, as a partner's modified program
//! would, and signs every change it manages to build.
#![no_main]
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mend_journal::{encode_pairs, split_changes, Journal, Kind, NewEntry, Person, Signer};

const JID: [u8; 16] = [5; 16];

fn alex() -> Signer {
    Signer::from_seed(&[1; 32])
}

fn sam() -> Signer {
    Signer::from_seed(&[2; 32])
}

/// Alex's journal with Sam paired and one entry of Alex's, saved with its signatures.
fn saved() -> &'static Vec<u8> {
    static SAVED: OnceLock<Vec<u8>> = OnceLock::new();
    SAVED.get_or_init(|| {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let a = Person {
            id: "a".repeat(32),
            name: "Alex".into(),
        };
        let s = Person {
            id: "b".repeat(32),
            name: "Sam".into(),
        };
        let mut j = Journal::create(JID, &a, Some("laptop"), &alex(), false, at).unwrap();
        let key: String = sam()
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        j.add_device(&key, &s, "sam-laptop", &a.id, at).unwrap();
        let e = NewEntry {
            id: "e".repeat(32),
            author_id: a.id.clone(),
            created_at: at,
            written_at: at,
            text: "Alex's words".into(),
            kind: Kind::Entry,
            ..Default::default()
        };
        j.add_entry(&e, at).unwrap();
        j.save_signed()
    })
}

/// Alex's journal as loaded from [`saved`]: loaded once, and each input starts from a copy
/// (loading it three times per input made the target ten times slower).
fn load() -> Journal {
    static LOADED: OnceLock<Journal> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let s = mend_journal::SavedShared::decode(saved()).unwrap();
            Journal::load(&s.doc, s.signatures, s.legacy_heads, &alex(), JID, false).unwrap()
        })
        .clone()
}

/// Sam's key, derived once.
fn sam_key() -> &'static Signer {
    static SAM: OnceLock<Signer> = OnceLock::new();
    SAM.get_or_init(sam)
}

fn intact(j: &Journal) {
    assert_eq!(j.entry(&"e".repeat(32)).unwrap().text, "Alex's words");
    assert_eq!(j.entry(&"e".repeat(32)).unwrap().author, "Alex");
    assert!(j.people().unwrap().len() <= 2);
}

fuzz_target!(|data: &[u8]| {
    // As a log record body.
    let mut j = load();
    let _ = j.apply_signed_record(data);
    intact(&j);
    // As a peer's changes, each signed by Sam.
    let mut j = load();
    if let Ok(changes) = split_changes(data) {
        let sigs: Vec<_> = changes
            .iter()
            .map(|c| (c.hash(), sam_key().sign(&JID, &c.hash())))
            .collect();
        let pairs =
            mend_journal::decode_pairs(&encode_pairs(sigs.iter().map(|(h, s)| (h, s)))).unwrap();
        let _ = j.apply_signed(data, &pairs);
        intact(&j);
    }
    // As a sync message with Sam's signatures of whatever it carries.
    let mut j = load();
    let mut state = mend_journal::SyncState::new();
    let _ = j.sync_receive(&mut state, data, &[]);
    intact(&j);
});
