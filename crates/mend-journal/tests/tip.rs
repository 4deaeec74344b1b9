//! An entry added through a `Tip`, without the document, is the very change the document would
//! have made, and every other device accepts it as such.

mod common;

use chrono::{Duration, TimeZone, Utc};
use mend_journal::{split_changes, Journal, JournalError, Kind, NewEntry, Signer};

const JID: [u8; 16] = [9; 16];

fn entry(id: &str, author: &str, text: &str) -> NewEntry {
    NewEntry {
        id: id.into(),
        author_id: author.into(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 2, 21, 30, 0).unwrap(),
        written_at: Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 1).unwrap()
            + Duration::nanoseconds(123_456_789),
        edited_at: None,
        text: text.into(),
        tags: vec!["trust".into(), "walk".into()],
        mood: Some(4),
        kind: Kind::Entry,
        extra: Default::default(),
    }
}

/// The hashes of the changes in a log record body (shared: with signatures).
fn hashes(record: &[u8], shared: bool) -> Vec<mend_journal::ChangeHash> {
    let changes = if shared {
        let len = u32::from_le_bytes(record[..4].try_into().unwrap()) as usize;
        split_changes(&record[4..4 + len]).unwrap()
    } else {
        split_changes(record).unwrap()
    };
    changes.iter().map(|c| c.hash()).collect()
}

#[test]
fn a_tip_makes_the_change_the_document_makes_and_the_partner_accepts_it() {
    let mut p = common::paired(JID, |alex, a| {
        for i in 0..3 {
            let mut e = entry(&format!("e{i}"), &a.id, "earlier");
            e.written_at = e.created_at;
            alex.add_entry(&e, Utc::now()).unwrap();
        }
    });
    let alex_id = "a".repeat(32);
    let now = Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 2).unwrap();
    let mut tip = p.alex.tip().unwrap().expect("a journal has an entries map");
    let mut via_document = p.alex.clone();
    let mut records = Vec::new();
    // Two in a row: the second from the tip the first left.
    for (i, text) in ["first without the document", "second"].iter().enumerate() {
        let e = entry(&format!("tip{i}"), &alex_id, text);
        let written = tip
            .add_entry(&p.alex_key, JID, false, &e, now)
            .unwrap()
            .expect("no reference: added without the document");
        let heads = via_document.heads();
        via_document.add_entry(&e, now).unwrap();
        let expected = via_document.signed_changes_since(&heads).unwrap();
        assert_eq!(hashes(&written.record, true), hashes(&expected, true));
        assert_eq!(written.entry, via_document.entry(&e.id).unwrap());
        assert_eq!(Some(written.tip.clone()), via_document.tip().unwrap());
        tip = written.tip;
        records.push(written.record);
    }
    // Alex's own journal reads its log back, and Sam's laptop takes the changes as Alex's.
    for record in &records {
        let admission = p.alex.apply_signed_record(record).unwrap();
        assert!(admission.refused.is_empty());
        let admission = p.sam.apply_signed_record(record).unwrap();
        assert!(admission.refused.is_empty(), "{:?}", admission.refused);
    }
    assert_eq!(p.sam.entry("tip1").unwrap().author, "Alex");
    assert_eq!(p.alex.heads(), via_document.heads());
    // Sam's laptop adds to a map Alex's laptop made: its change names Alex's actor too.
    let sam_tip = p.sam.tip().unwrap().unwrap();
    let e = entry("from-sam", &p.s.id, "mine, through the tip");
    let written = sam_tip
        .add_entry(&p.sam_key, JID, false, &e, now)
        .unwrap()
        .unwrap();
    let mut sam_via_document = p.sam.clone();
    let heads = sam_via_document.heads();
    sam_via_document.add_entry(&e, now).unwrap();
    let expected = sam_via_document.signed_changes_since(&heads).unwrap();
    assert_eq!(hashes(&written.record, true), hashes(&expected, true));
    let admission = p.alex.apply_signed_record(&written.record).unwrap();
    assert!(admission.refused.is_empty(), "{:?}", admission.refused);
    assert_eq!(p.alex.entry("from-sam").unwrap().author, "Sam");
}

#[test]
fn the_private_journal_is_added_to_the_same_way() {
    let key = Signer::from_seed(&[5; 32]);
    let me = mend_journal::Person {
        id: "c".repeat(32),
        name: "Alex".into(),
    };
    let mut private = Journal::create(JID, &me, None, &key, true, Utc::now()).unwrap();
    let tip = private.tip().unwrap().unwrap();
    let e = entry("p1", &me.id, "only mine");
    let now = Utc::now();
    let written = tip.add_entry(&key, JID, true, &e, now).unwrap().unwrap();
    let heads = private.heads();
    private.add_entry(&e, now).unwrap();
    let expected = private.changes_since(&heads);
    assert_eq!(hashes(&written.record, false), hashes(&expected, false));
    assert_eq!(written.entry, private.entry("p1").unwrap());
}

#[test]
fn the_rules_hold_without_the_document() {
    let p = common::paired(JID, |_, _| {});
    let tip = p.alex.clone().tip().unwrap().unwrap();
    let now = Utc::now();
    // In Sam's name, from Alex's laptop: refused as the document's rules refuse it.
    let forged = entry("x1", &"b".repeat(32), "in Sam's name");
    let err = tip
        .add_entry(&p.alex_key, JID, false, &forged, now)
        .err()
        .expect("refused");
    assert!(matches!(err, JournalError::Rule(_)), "{err}");
    assert!(p.alex.clone().add_entry(&forged, now).is_err());
    // Empty text: refused.
    let empty = entry("x2", &"a".repeat(32), "  ");
    assert!(tip.add_entry(&p.alex_key, JID, false, &empty, now).is_err());
    // A reply needs the document: not added this way.
    let mut reply = entry("x3", &"a".repeat(32), "a reply");
    reply.kind = Kind::Reply;
    reply.extra.refers_to = Some("e0".into());
    assert!(tip
        .add_entry(&p.alex_key, JID, false, &reply, now)
        .unwrap()
        .is_none());
}
