//! A batch's signatures are verified on other threads, many at once, while the rules are
//! checked; the verdict must still be exactly the one-by-one verdict. A bent signature in a
//! batch large enough to be spread over threads refuses that change and every change that
//! depends on it, and nothing else.

use chrono::Duration;
use mend_journal::{Journal, Kind, NewEntry, Person};

mod common;

const JID: [u8; 16] = [7; 16];

fn entry(i: usize, by: &Person, at: chrono::DateTime<chrono::Utc>) -> NewEntry {
    NewEntry {
        id: format!("{i:032x}"),
        author_id: by.id.clone(),
        created_at: at + Duration::minutes(i as i64),
        written_at: at + Duration::minutes(i as i64),
        text: format!("Sam's entry number {i}"),
        kind: Kind::Entry,
        ..Default::default()
    }
}

/// Sam's laptop writes `n` entries, one change each; returns the log record body carrying
/// them with their signatures, and where the signatures start in it.
fn sams_record(
    sam: &mut Journal,
    s: &Person,
    n: usize,
    at: chrono::DateTime<chrono::Utc>,
) -> (Vec<u8>, usize) {
    let heads = sam.heads();
    for i in 0..n {
        sam.add_entry(&entry(i, s, at), at).unwrap();
    }
    let body = sam.signed_changes_since(&heads).unwrap();
    let len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
    (body, 4 + len)
}

fn sams_entries(j: &Journal, s: &Person) -> usize {
    j.entries()
        .unwrap()
        .iter()
        .filter(|e| e.author_id == s.id)
        .count()
}

#[test]
fn a_good_batch_is_taken_whole() {
    let common::Pair {
        mut alex,
        mut sam,
        s,
        at,
        ..
    } = common::paired(JID, |_, _| {});
    let (body, _) = sams_record(&mut sam, &s, 300, at);
    let admitted = alex.apply_signed_record(&body).unwrap();
    assert!(admitted.refused.is_empty(), "{:?}", admitted.refused);
    assert_eq!(admitted.applied, 300);
    assert_eq!(sams_entries(&alex, &s), 300);
}

#[test]
fn a_bent_signature_in_a_large_batch_refuses_it_and_what_depends_on_it_only() {
    let common::Pair {
        mut alex,
        mut sam,
        s,
        at,
        ..
    } = common::paired(JID, |_, _| {});
    let (mut body, sigs_at) = sams_record(&mut sam, &s, 300, at);
    // The changes of one device follow each other: the 200th and all after it depend on it.
    let changes = mend_journal::split_changes(&body[4..sigs_at]).unwrap();
    let order: Vec<_> = changes.iter().map(|c| c.seq()).collect();
    let bent = order
        .iter()
        .position(|seq| *seq == order.iter().min().unwrap() + 199)
        .unwrap();
    body[sigs_at + 64 * bent + 9] ^= 0x40;

    let admitted = alex.apply_signed_record(&body).unwrap();

    assert_eq!(admitted.applied, 199);
    assert_eq!(admitted.refused.len(), 101);
    let whys: Vec<&str> = admitted.refused.iter().map(|r| r.why.as_str()).collect();
    assert_eq!(
        whys.iter()
            .filter(|w| w.contains("signature does not verify"))
            .count(),
        1,
        "{whys:?}"
    );
    assert_eq!(
        whys.iter()
            .filter(|w| w.contains("depends on a change that was refused"))
            .count(),
        100
    );
    assert_eq!(sams_entries(&alex, &s), 199);

    // The same record without the bent signature then brings the rest.
    let (good, _) = {
        let mut fresh = common::paired(JID, |_, _| {});
        sams_record(&mut fresh.sam, &fresh.s, 300, fresh.at)
    };
    let admitted = alex.apply_signed_record(&good).unwrap();
    assert!(admitted.refused.is_empty(), "{:?}", admitted.refused);
    assert_eq!(sams_entries(&alex, &s), 300);
}
