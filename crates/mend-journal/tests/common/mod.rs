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

/// Sync two journals both ways until neither has anything to say; what either refused.
pub fn sync_both_ways(a: &mut Journal, b: &mut Journal) -> Vec<mend_journal::Refused> {
    let (mut sa, mut sb) = (
        mend_journal::SyncState::new(),
        mend_journal::SyncState::new(),
    );
    let mut refused = Vec::new();
    for _ in 0..64 {
        let from_a = a.sync_generate(&mut sa);
        if let Some((msg, sigs)) = &from_a {
            refused.extend(b.sync_receive(&mut sb, msg, sigs).unwrap().refused);
        }
        let from_b = b.sync_generate(&mut sb);
        if let Some((msg, sigs)) = &from_b {
            refused.extend(a.sync_receive(&mut sa, msg, sigs).unwrap().refused);
        }
        if from_a.is_none() && from_b.is_none() {
            return refused;
        }
    }
    panic!("no convergence in 64 rounds");
}
