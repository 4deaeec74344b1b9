//! The journal model as the scenarios users live through.

use std::collections::HashMap;

mod common;

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use chrono::{TimeZone, Utc};
use mend_journal::{
    Entry, EntryEdit, Filter, Journal, JournalError, Kind, NewEntry, Person, SavedShared, Signer,
    SyncState,
};

/// The journal id every device of these scenarios shares.
const JID: [u8; 16] = [7; 16];

fn alex() -> Person {
    Person {
        id: "a".repeat(32),
        name: "Alex".into(),
    }
}

fn sam() -> Person {
    Person {
        id: "b".repeat(32),
        name: "Sam".into(),
    }
}

fn t(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap()
}

fn entry(id: &str, author: &Person, text: &str, h: u32) -> NewEntry {
    NewEntry {
        id: id.into(),
        author_id: author.id.clone(),
        created_at: t(h),
        written_at: t(h),
        edited_at: None,
        text: text.into(),
        tags: vec!["trust".into()],
        mood: Some(3),
        kind: Kind::Entry,
        extra: Default::default(),
    }
}

fn by_id(j: &Journal, id: &str) -> Entry {
    j.entry(id).unwrap()
}

/// Alex's laptop (1), Alex's phone (2), Sam's laptop (3).
fn device(n: u8) -> Signer {
    Signer::from_seed(&[n; 32])
}

fn key_hex(s: &Signer) -> String {
    s.public_key().iter().map(|b| format!("{b:02x}")).collect()
}

/// The shared journal as Alex's laptop founds it.
fn founded() -> Journal {
    Journal::create(JID, &alex(), Some("alex-laptop"), &device(1), false, t(1)).unwrap()
}

/// A private journal of Alex's laptop.
fn private() -> Journal {
    Journal::create(JID, &alex(), None, &device(1), true, t(1)).unwrap()
}

/// The founder registers another device: Alex's phone, or Sam's laptop with Sam.
fn register(founder: &mut Journal, n: u8, now: u32) {
    let (who, name) = match n {
        2 => (alex(), "alex-phone"),
        _ => (sam(), "sam-laptop"),
    };
    founder
        .add_device(&key_hex(&device(n)), &who, name, &alex().id, t(now))
        .unwrap();
}

/// A device that joins: it starts empty and receives everything the founder holds, signed.
fn joiner(founder: &mut Journal, n: u8) -> Journal {
    let mut j = Journal::empty(JID, &device(n), false, Vec::new());
    send_all(founder, &mut j);
    j
}

/// Everything `from` holds, with its signatures, checked and applied by `to`; nothing may be
/// refused.
fn send_all(from: &mut Journal, to: &mut Journal) {
    let saved = SavedShared::decode(&from.save_signed()).unwrap();
    let admission = to.apply_signed(&saved.doc, &saved.signatures).unwrap();
    assert!(admission.refused.is_empty(), "{:?}", admission.refused);
}

use common::sync_both_ways as sync;

/// Alex's laptop, which founded the journal and registered Sam's laptop, and Sam's laptop.
fn alex_and_sam() -> (Journal, Journal) {
    let mut a = founded();
    register(&mut a, 3, 1);
    let b = joiner(&mut a, 3);
    (a, b)
}

#[test]
fn write_read_and_one_change_per_action() {
    let mut j = founded();
    let before = j.doc_mut().get_changes(&[]).len();
    j.add_entry(&entry("e1", &alex(), "we talked", 2), t(2))
        .unwrap();
    let after = j.doc_mut().get_changes(&[]).len();
    assert_eq!(after, before + 1, "one user action is one change");
    let change = j.doc_mut().get_last_local_change().unwrap();
    assert_eq!(
        change.timestamp(),
        t(2).timestamp(),
        "the change has its time set"
    );
    let e = by_id(&j, "e1");
    assert_eq!(e.author, "Alex");
    assert_eq!(e.text, "we talked");
    assert_eq!(e.tags, vec!["trust"]);
    assert_eq!(e.mood, Some(3));
    assert!(!e.has_conflict());
    // The change is signed by the device that made it.
    let versions = j.history("e1").unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].signed_by, Some(key_hex(&device(1))));
}

#[test]
fn a_joining_device_starts_empty_and_receives_everything() {
    let mut a = founded();
    a.add_entry(&entry("e1", &alex(), "first", 2), t(2))
        .unwrap();
    // Sam's laptop is registered by Alex's (with Sam), then receives the journal.
    register(&mut a, 3, 2);
    let mut b = Journal::empty(JID, &device(3), false, Vec::new());
    assert!(matches!(b.my_person(), Err(JournalError::NotRegistered)));
    send_all(&mut a, &mut b);
    assert_eq!(b.my_person().unwrap(), sam().id);
    b.add_entry(&entry("e2", &sam(), "second", 3), t(3))
        .unwrap();
    a.add_entry(&entry("e3", &alex(), "third", 4), t(4))
        .unwrap();
    // Each side's new changes, as log records with their signatures.
    let a_heads = a.heads();
    let b_heads = b.heads();
    let from_b = b.signed_changes_since(&a_heads).unwrap();
    let from_a = a.signed_changes_since(&b_heads).unwrap();
    let into_a = a.apply_signed_record(&from_b).unwrap();
    let into_b = b.apply_signed_record(&from_a).unwrap();
    assert_eq!((into_a.applied, into_b.applied), (1, 1));
    assert!(into_a.refused.is_empty() && into_b.refused.is_empty());
    let mut ids_a = a.entry_ids().unwrap();
    let mut ids_b = b.entry_ids().unwrap();
    ids_a.sort();
    ids_b.sort();
    assert_eq!(ids_a, vec!["e1", "e2", "e3"]);
    assert_eq!(ids_a, ids_b);
    assert_eq!(by_id(&a, "e2").author, "Sam");
}

#[test]
fn a_new_device_takes_its_first_sync_whole_and_counts_every_entry_as_new() {
    let edit = |text: &str| EntryEdit {
        text: Some(text.into()),
        ..Default::default()
    };
    let mut a = founded();
    for (i, id) in ["e1", "e2", "e3"].iter().enumerate() {
        a.add_entry(&entry(id, &alex(), "words", 2 + i as u32), t(2 + i as u32))
            .unwrap();
    }
    a.edit_entry("e2", &alex().id, &edit("other words"), t(6))
        .unwrap();
    a.retract_entry("e3", &alex().id, t(7)).unwrap();
    register(&mut a, 3, 8);
    // Sam's new laptop, empty, syncs with Alex's: the first message carries the whole document.
    let mut b = Journal::empty(JID, &device(3), false, Vec::new());
    assert!(sync(&mut a, &mut b).is_empty());
    assert_eq!(b.heads(), a.heads());
    assert_eq!(by_id(&b, "e2").text, "other words");
    assert!(by_id(&b, "e3").extra.retracted_at.is_some());
    let arrived = b.arrivals_since(&[]).unwrap();
    assert_eq!(
        (arrived.new, arrived.edited, arrived.retracted),
        (3, 0, 0),
        "on a first sync every entry is new, edited or retracted before it came"
    );
    // What the new laptop writes afterwards is its own, signed by it, and Alex's takes it.
    b.add_entry(&entry("e4", &sam(), "mine", 9), t(9)).unwrap();
    assert_eq!(
        b.doc_mut()
            .get_last_local_change()
            .unwrap()
            .actor_id()
            .to_bytes(),
        device(3).actor()
    );
    assert!(sync(&mut a, &mut b).is_empty());
    assert_eq!(by_id(&a, "e4").author, "Sam");
    let before = a.heads();
    b.edit_entry("e4", &sam().id, &edit("mine, again"), t(10))
        .unwrap();
    assert!(sync(&mut a, &mut b).is_empty());
    let arrived = a.arrivals_since(&before).unwrap();
    assert_eq!((arrived.new, arrived.edited), (0, 1));
}

#[test]
fn a_first_sync_carrying_a_forgery_is_not_taken_whole() {
    let mut a = founded();
    a.add_entry(&entry("e1", &alex(), "words", 2), t(2))
        .unwrap();
    register(&mut a, 3, 3);
    // A modified inviting laptop slips an unsigned entry "by Sam" into the document it sends.
    let doc = a.doc_mut();
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
    let forged = doc
        .put_object(&entries, "f".repeat(32), automerge::ObjType::Map)
        .unwrap();
    doc.put(&forged, "author", "Sam").unwrap();
    doc.commit();
    let mut b = Journal::empty(JID, &device(3), false, Vec::new());
    // The sender would offer the refused change for ever: a few rounds, as a session bounds them.
    let (mut sa, mut sb) = (SyncState::new(), SyncState::new());
    let mut refused = Vec::new();
    for _ in 0..4 {
        if let Some((msg, sigs)) = a.sync_generate(&mut sa) {
            refused.extend(b.sync_receive(&mut sb, &msg, &sigs).unwrap().refused);
        }
        if let Some((msg, sigs)) = b.sync_generate(&mut sb) {
            a.sync_receive(&mut sa, &msg, &sigs).unwrap();
        }
    }
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|r| r.why.contains("sign")),
        "{refused:?}"
    );
    assert_ne!(b.heads(), a.heads());
    assert_eq!(b.entry_ids().unwrap(), vec!["e1"]);
    assert_eq!(b.my_person().unwrap(), sam().id);
}

#[test]
fn two_independent_roots_would_lose_entries_which_is_why_joiners_start_empty() {
    // Documents the rule in docs/architecture.md: if both sides created root maps,
    // one side's `entries` map hides the other's after a merge.
    let mut a = founded();
    let mut b = Journal::create(JID, &sam(), Some("sam-laptop"), &device(3), false, t(1)).unwrap();
    a.add_entry(&entry("ea", &alex(), "from a", 2), t(2))
        .unwrap();
    b.add_entry(&entry("eb", &sam(), "from b", 2), t(2))
        .unwrap();
    let all_b = SavedShared::decode(&b.save_signed()).unwrap();
    // Merged unchecked (as Automerge alone would), one entries map wins and the other vanishes.
    let mut unchecked = Journal::load(
        &a.clone_bytes(),
        HashMap::new(),
        Vec::new(),
        &device(1),
        JID,
        false,
    )
    .unwrap();
    unchecked.apply_own_unsigned(&all_b.doc).unwrap();
    assert_eq!(
        unchecked.len(),
        1,
        "one of the two entries maps wins and the other vanishes"
    );
    // The rules refuse a second founding, and the entry written on top of it.
    let heads = a.heads();
    let admission = a.apply_signed(&all_b.doc, &all_b.signatures).unwrap();
    assert_eq!((admission.applied, admission.refused.len()), (0, 2));
    assert_eq!(a.heads(), heads);
    assert_eq!(a.entry_ids().unwrap(), vec!["ea"]);
}

#[test]
fn concurrent_edits_keep_both_versions_until_edited_again() {
    let mut a = founded();
    a.add_entry(&entry("e1", &alex(), "original", 2), t(2))
        .unwrap();
    // Alex's phone, registered by his laptop.
    register(&mut a, 2, 2);
    let mut b = joiner(&mut a, 2);
    let edit = |text: &str| EntryEdit {
        text: Some(text.into()),
        ..Default::default()
    };
    // Alex edits the same entry on two of his devices while apart.
    a.edit_entry("e1", &alex().id, &edit("version A"), t(3))
        .unwrap();
    b.edit_entry("e1", &alex().id, &edit("version B"), t(3))
        .unwrap();
    // Each sends the other the whole document; what the receiver holds already is skipped.
    send_all(&mut b, &mut a);
    send_all(&mut a, &mut b);
    let ea = by_id(&a, "e1");
    let eb = by_id(&b, "e1");
    assert!(ea.has_conflict());
    assert_eq!(ea.text, eb.text, "both devices pick the same winner");
    let mut both = vec![ea.text.clone(), ea.conflicting_texts[0].clone()];
    both.sort();
    assert_eq!(both, vec!["version A", "version B"]);
    a.edit_entry("e1", &alex().id, &edit("merged by hand"), t(4))
        .unwrap();
    let e = by_id(&a, "e1");
    assert!(!e.has_conflict());
    assert_eq!(e.text, "merged by hand");
}

#[test]
fn only_the_author_edits_retracts_or_deletes() {
    let (mut a, mut b) = alex_and_sam();
    a.add_entry(&entry("e1", &alex(), "mine", 2), t(2)).unwrap();
    assert!(sync(&mut a, &mut b).is_empty());
    // Sam's laptop cannot change Alex's entry.
    let edit = EntryEdit {
        text: Some("not yours".into()),
        ..Default::default()
    };
    let heads = b.heads();
    let err = b.edit_entry("e1", &sam().id, &edit, t(3)).unwrap_err();
    assert!(matches!(err, JournalError::NotAuthor { ref author } if author == "Alex"));
    assert!(b.retract_entry("e1", &sam().id, t(3)).is_err());
    assert_eq!(b.heads(), heads);
    assert_eq!(by_id(&b, "e1").text, "mine");
    // Nor can it write an entry in Alex's name.
    let err = b
        .add_entry(&entry("e2", &alex(), "as Alex", 3), t(3))
        .unwrap_err();
    assert!(matches!(err, JournalError::Rule(_)), "{err}");
    assert_eq!(b.heads(), heads);

    // A device that changes the entry anyway, signing the change with its own key, is refused
    // by its partner's device, and so is everything it writes on top of that change.
    let entries = match b.doc_mut().get(automerge::ROOT, "entries").unwrap() {
        Some((_, id)) => id,
        None => panic!("no entries"),
    };
    let obj = b.doc_mut().get(&entries, "e1").unwrap().unwrap().1;
    b.doc_mut().put(&obj, "text", "not yours").unwrap();
    let hash = b.doc_mut().commit().unwrap();
    let sig = device(3).sign(&JID, &hash);
    b.add_entry(&entry("e3", &sam(), "on top", 4), t(4))
        .unwrap();
    let on_top = b.heads()[0];
    let mut all_b = SavedShared::decode(&b.save_signed()).unwrap();
    assert!(all_b.signatures.contains_key(&on_top));
    all_b.signatures.insert(hash, sig);
    let before = a.heads();
    let admission = a.apply_signed(&all_b.doc, &all_b.signatures).unwrap();
    assert_eq!(admission.applied, 0);
    let refused: Vec<_> = admission.refused.iter().map(|r| r.hash).collect();
    assert_eq!(refused, vec![hash, on_top]);
    assert!(admission.refused[0].why.contains("only its author"));
    assert_eq!(
        admission.refused[0].device.as_deref(),
        Some(key_hex(&device(3)).as_str())
    );
    assert_eq!(a.heads(), before);
    assert_eq!(by_id(&a, "e1").text, "mine");

    // Alex retracts his own shared entry (shared entries are retracted, not deleted), and
    // Sam's laptop takes the retraction.
    a.retract_entry("e1", &alex().id, t(5)).unwrap();
    let mut fresh = Journal::empty(JID, &device(3), false, Vec::new());
    send_all(&mut a, &mut fresh);
    let e = by_id(&fresh, "e1");
    assert_eq!(
        (e.text.as_str(), e.extra.retracted_by.as_deref()),
        ("", Some("Alex"))
    );

    // In a private journal, only the author deletes.
    let mut p = private();
    p.add_entry(&entry("p1", &alex(), "draft", 2), t(2))
        .unwrap();
    assert!(p.delete_entry("p1", &sam().id, t(3)).is_err());
    assert_eq!(by_id(&p, "p1").text, "draft");
    p.delete_entry("p1", &alex().id, t(3)).unwrap();
    assert!(matches!(p.entry("p1"), Err(JournalError::NotFound(_))));
}

#[test]
fn bad_entries_are_refused_and_change_nothing() {
    let mut j = founded();
    let heads = j.heads();
    let mut e = entry("e1", &alex(), "   ", 2);
    assert!(j.add_entry(&e, t(2)).is_err());
    e.text = "fine".into();
    e.mood = Some(9);
    assert!(j.add_entry(&e, t(2)).is_err());
    assert_eq!(j.heads(), heads);
    assert!(j.is_empty());
}

#[test]
fn import_is_one_change_and_skips_known_ids() {
    let mut j = founded();
    let list: Vec<NewEntry> = (0..500)
        .map(|i| entry(&format!("e{i}"), &alex(), "imported", 2))
        .collect();
    let before = j.doc_mut().get_changes(&[]).len();
    assert_eq!(j.add_entries(&list, t(3)).unwrap(), 500);
    assert_eq!(j.doc_mut().get_changes(&[]).len(), before + 1);
    assert_eq!(j.add_entries(&list, t(4)).unwrap(), 0);
    assert_eq!(j.len(), 500);
}

#[test]
fn filters_sort_newest_first() {
    // Each writes on their own laptop; the two journals then sync.
    let (mut j, mut sams) = alex_and_sam();
    for (i, h) in [5, 2, 9, 7].into_iter().enumerate() {
        let (who, on) = if i.is_multiple_of(2) {
            (alex(), &mut j)
        } else {
            (sam(), &mut sams)
        };
        on.add_entry(
            &entry(&format!("e{h}"), &who, &format!("text {h}"), h),
            t(h),
        )
        .unwrap();
    }
    assert!(sync(&mut j, &mut sams).is_empty());
    let all = Filter::default().apply(j.entries().unwrap());
    let ids: Vec<_> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["e9", "e7", "e5", "e2"]);
    let sams = Filter {
        author: Some("sam".into()),
        limit: Some(1),
        ..Default::default()
    }
    .apply(j.entries().unwrap());
    assert_eq!(sams.len(), 1);
    assert_eq!(sams[0].id, "e7");
    let since = Filter {
        since: Some(t(6)),
        words: vec!["TEXT".into()],
        ..Default::default()
    }
    .apply(j.entries().unwrap());
    assert_eq!(since.len(), 2);
}

#[test]
fn a_limit_keeps_exactly_the_newest_in_order() {
    let mut j = founded();
    // Hours repeat, so the ties are broken by the time written, then by id.
    for i in 0..40u32 {
        let mut e = entry(
            &format!("e{:02}", (i * 17) % 40),
            &alex(),
            "words",
            (i * 7) % 13,
        );
        e.written_at = t(i % 3);
        j.add_entry(&e, t(1)).unwrap();
    }
    let all = j.entries().unwrap();
    let sorted = Filter::default().select(&all);
    assert_eq!(sorted.len(), 40);
    for n in 0..=41 {
        let limited = Filter {
            limit: Some(n),
            ..Default::default()
        }
        .select(&all);
        assert_eq!(limited, sorted[..n.min(40)], "limit {n}");
    }
}

#[test]
fn defaults_are_left_out_and_read_back() {
    let mut j = founded();
    let mut plain = entry("e0", &alex(), "plain", 1);
    plain.tags.clear();
    plain.mood = None;
    let mut other = entry("e1", &alex(), "a check-in", 1);
    other.kind = Kind::Checkin;
    other.written_at = t(2);
    j.add_entries(&[plain, other], t(2)).unwrap();
    let e0 = j.entry("e0").unwrap();
    assert_eq!((e0.kind, e0.tags.len(), e0.mood), (Kind::Entry, 0, None));
    assert_eq!(e0.written_at, e0.created_at);
    let e1 = j.entry("e1").unwrap();
    assert_eq!((e1.kind.as_str(), e1.written_at), ("checkin", t(2)));
}

/// What `entries_touched_since` reports after each kind of action, from the changes alone.
#[test]
fn the_entries_an_action_touched_are_told_from_its_changes() {
    let mut j = founded();
    let set = |ids: &[&str]| Some(ids.iter().map(|s| s.to_string()).collect());
    let touched = |j: &mut Journal, act: &dyn Fn(&mut Journal)| {
        let heads = j.heads();
        act(j);
        j.entries_touched_since(&heads, 2)
    };
    let add = |id: &'static str| {
        move |j: &mut Journal| j.add_entry(&entry(id, &alex(), "words", 2), t(2)).unwrap()
    };
    assert_eq!(touched(&mut j, &add("zz")), set(&["zz"]));
    assert_eq!(touched(&mut j, &add("aa")), set(&["aa"]));
    let edit = |j: &mut Journal| {
        let change = EntryEdit {
            text: Some("other words".into()),
            ..Default::default()
        };
        j.edit_entry("zz", &alex().id, &change, t(3)).unwrap()
    };
    assert_eq!(touched(&mut j, &edit), set(&["zz"]));
    let retract = |j: &mut Journal| j.retract_entry("aa", &alex().id, t(4)).unwrap();
    assert_eq!(touched(&mut j, &retract), set(&["aa"]));
    // A deletion (in the private journal: shared entries are only retracted).
    let mut p = private();
    p.add_entry(&entry("aa", &alex(), "draft", 2), t(2))
        .unwrap();
    let delete = |j: &mut Journal| j.delete_entry("aa", &alex().id, t(4)).unwrap();
    assert_eq!(touched(&mut p, &delete), set(&["aa"]));
    // Anything besides entries, or more entries than the limit, means "read them all".
    assert_eq!(touched(&mut j, &|j| register(j, 3, 5)), None);
    let import = |j: &mut Journal| {
        for id in ["m1", "m2", "m3"] {
            j.add_entry(&entry(id, &alex(), "words", 6), t(6)).unwrap();
        }
    };
    assert_eq!(touched(&mut j, &import), None);
    // Changes that arrived from elsewhere count like local ones.
    let mut other = joiner(&mut j, 3);
    let heads = other.heads();
    j.edit_entry(
        "m2",
        &alex().id,
        &EntryEdit {
            mood: Some(Some(5)),
            ..Default::default()
        },
        t(7),
    )
    .unwrap();
    let admission = other
        .apply_signed_record(&j.signed_changes_since(&heads).unwrap())
        .unwrap();
    assert_eq!((admission.applied, admission.refused.len()), (1, 0));
    assert_eq!(other.entries_touched_since(&heads, 2), set(&["m2"]));
    // Heads the document does not know.
    assert_eq!(
        j.entries_touched_since(&[automerge::ChangeHash([7; 32])], 2),
        None
    );
}
