//! What several test files build first: Alex's journal with Sam's laptop paired, and Sam's
//! copy of it, each device with its own signing key.
// Each test file uses the parts it needs.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use mend_journal::{Journal, Person, SavedShared, Signer};

pub struct Pair {
    pub alex: Journal,
    pub sam: Journal,
    pub alex_key: Signer,
    pub sam_key: Signer,
    pub s: Person,
    pub at: DateTime<Utc>,
}

/// Alex founds journal `jid` and pairs Sam's laptop; `before_copy` runs on Alex's journal
/// before Sam's laptop takes its copy (to write what both should hold).
pub fn paired(jid: [u8; 16], before_copy: impl FnOnce(&mut Journal, &Person)) -> Pair {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (alex_key, sam_key) = (Signer::from_seed(&[1; 32]), Signer::from_seed(&[2; 32]));
    let a = Person {
        id: "a".repeat(32),
        name: "Alex".into(),
    };
    let s = Person {
        id: "b".repeat(32),
        name: "Sam".into(),
    };
    let mut alex = Journal::create(jid, &a, Some("laptop"), &alex_key, false, at).unwrap();
    let key: String = sam_key
        .public_key()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    alex.add_device(&key, &s, "sam-laptop", &a.id, at).unwrap();
    before_copy(&mut alex, &a);
    let saved = SavedShared::decode(&alex.save_signed()).unwrap();
    let sam = Journal::load(&saved.doc, saved.signatures, vec![], &sam_key, jid, false).unwrap();
    Pair {
        alex,
        sam,
        alex_key,
        sam_key,
        s,
        at,
    }
}
