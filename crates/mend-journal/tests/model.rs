//! The journal model as the scenarios users live through.

use chrono::{TimeZone, Utc};
use mend_journal::{Entry, EntryEdit, Filter, Journal, JournalError, NewEntry, Person, KIND_ENTRY};

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
        kind: KIND_ENTRY.into(),
        extra: Default::default(),
    }
}

fn by_id(j: &Journal, id: &str) -> Entry {
    j.entry(id).unwrap()
}

#[test]
fn write_read_and_one_change_per_action() {
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
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
}

#[test]
fn a_joining_device_starts_empty_and_receives_everything() {
    let mut a = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
    a.add_entry(&entry("e1", &alex(), "first", 2), t(2))
        .unwrap();
    let mut b = Journal::empty(&[2; 16], false);
    b.apply_changes(&a.save()).unwrap();
    b.add_person(&sam(), t(3)).unwrap();
    b.add_entry(&entry("e2", &sam(), "second", 3), t(3))
        .unwrap();
    a.add_entry(&entry("e3", &alex(), "third", 4), t(4))
        .unwrap();
    let a_heads = a.heads();
    let b_heads = b.heads();
    let from_b = b.changes_since(&a_heads);
    let from_a = a.changes_since(&b_heads);
    a.apply_changes(&from_b).unwrap();
    b.apply_changes(&from_a).unwrap();
    let mut ids_a = a.entry_ids().unwrap();
    let mut ids_b = b.entry_ids().unwrap();
    ids_a.sort();
    ids_b.sort();
    assert_eq!(ids_a, vec!["e1", "e2", "e3"]);
    assert_eq!(ids_a, ids_b);
    assert_eq!(by_id(&a, "e2").author, "Sam");
}

#[test]
fn two_independent_roots_would_lose_entries_which_is_why_joiners_start_empty() {
    // Documents the rule in docs/architecture.md: if both sides created root maps,
    // one side's `entries` map hides the other's after a merge.
    let mut a = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
    let mut b = Journal::create("jid", &sam(), &[2; 16], false, t(1)).unwrap();
    a.add_entry(&entry("ea", &alex(), "from a", 2), t(2))
        .unwrap();
    b.add_entry(&entry("eb", &sam(), "from b", 2), t(2))
        .unwrap();
    let all_b = b.save();
    a.apply_changes(&all_b).unwrap();
    assert_eq!(
        a.len(),
        1,
        "one of the two entries maps wins and the other vanishes"
    );
}

#[test]
fn concurrent_edits_keep_both_versions_until_edited_again() {
    let mut a = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
    a.add_entry(&entry("e1", &alex(), "original", 2), t(2))
        .unwrap();
    let mut b = Journal::empty(&[2; 16], false);
    b.apply_changes(&a.save()).unwrap();
    let edit = |text: &str| EntryEdit {
        text: Some(text.into()),
        ..Default::default()
    };
    // Alex edits the same entry on two of his devices while apart.
    a.edit_entry("e1", &alex().id, &edit("version A"), t(3))
        .unwrap();
    b.edit_entry("e1", &alex().id, &edit("version B"), t(3))
        .unwrap();
    let a_all = a.save();
    let b_all = b.save();
    a.apply_changes(&b_all).unwrap();
    b.apply_changes(&a_all).unwrap();
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
fn only_the_author_edits_or_deletes() {
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
    j.add_person(&sam(), t(1)).unwrap();
    j.add_entry(&entry("e1", &alex(), "mine", 2), t(2)).unwrap();
    let err = j
        .edit_entry(
            "e1",
            &sam().id,
            &EntryEdit {
                text: Some("not yours".into()),
                ..Default::default()
            },
            t(3),
        )
        .unwrap_err();
    assert!(matches!(err, JournalError::NotAuthor { ref author } if author == "Alex"));
    assert!(j.delete_entry("e1", &sam().id, t(3)).is_err());
    assert_eq!(by_id(&j, "e1").text, "mine");
    j.delete_entry("e1", &alex().id, t(3)).unwrap();
    assert!(matches!(j.entry("e1"), Err(JournalError::NotFound(_))));
}

#[test]
fn bad_entries_are_refused_and_change_nothing() {
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
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
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
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
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
    j.add_person(&sam(), t(1)).unwrap();
    for (i, h) in [5, 2, 9, 7].into_iter().enumerate() {
        let who = if i % 2 == 0 { alex() } else { sam() };
        j.add_entry(
            &entry(&format!("e{h}"), &who, &format!("text {h}"), h),
            t(h),
        )
        .unwrap();
    }
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
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
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
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
    let mut plain = entry("e0", &alex(), "plain", 1);
    plain.tags.clear();
    plain.mood = None;
    let mut other = entry("e1", &alex(), "a check-in", 1);
    other.kind = "checkin".into();
    other.written_at = t(2);
    j.add_entries(&[plain, other], t(2)).unwrap();
    let e0 = j.entry("e0").unwrap();
    assert_eq!(
        (e0.kind.as_str(), e0.tags.len(), e0.mood),
        (KIND_ENTRY, 0, None)
    );
    assert_eq!(e0.written_at, e0.created_at);
    let e1 = j.entry("e1").unwrap();
    assert_eq!((e1.kind.as_str(), e1.written_at), ("checkin", t(2)));
}

/// What `entries_touched_since` reports after each kind of action, from the changes alone.
#[test]
fn the_entries_an_action_touched_are_told_from_its_changes() {
    let mut j = Journal::create("jid", &alex(), &[1; 16], false, t(1)).unwrap();
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
    let delete = |j: &mut Journal| j.delete_entry("aa", &alex().id, t(4)).unwrap();
    assert_eq!(touched(&mut j, &delete), set(&["aa"]));
    // Anything besides entries, or more entries than the limit, means "read them all".
    assert_eq!(
        touched(&mut j, &|j| j.add_person(&sam(), t(5)).unwrap()),
        None
    );
    let import = |j: &mut Journal| {
        for id in ["m1", "m2", "m3"] {
            j.add_entry(&entry(id, &sam(), "words", 6), t(6)).unwrap();
        }
    };
    assert_eq!(touched(&mut j, &import), None);
    // Changes that arrived from elsewhere count like local ones.
    let mut other = Journal::empty(&[2; 16], false);
    other.apply_changes(&j.save()).unwrap();
    let heads = other.heads();
    j.edit_entry(
        "m2",
        &sam().id,
        &EntryEdit {
            mood: Some(Some(5)),
            ..Default::default()
        },
        t(7),
    )
    .unwrap();
    other.apply_changes(&j.changes_since(&heads)).unwrap();
    assert_eq!(other.entries_touched_since(&heads, 2), set(&["m2"]));
    // Heads the document does not know.
    assert_eq!(
        j.entries_touched_since(&[automerge::ChangeHash([7; 32])], 2),
        None
    );
}
