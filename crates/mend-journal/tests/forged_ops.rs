//! Forgeries that the stock program cannot even express: operations edited by hand after
//! Automerge made them (a `pred` pointing at another field, two objects made under one key).
//! Each is shown to take effect in a plain Automerge document, then refused by the rules.

use std::collections::HashMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Change, ObjType, ReadDoc};
use chrono::{TimeZone, Utc};
use mend_journal::{Journal, Kind, NewEntry, Person, Signer};

mod common;

const JID: [u8; 16] = [9; 16];

/// Alex's journal with Sam paired, and Sam's copy of it with one entry of Sam's (tagged).
fn setup() -> (Journal, Journal, Signer, Person) {
    let common::Pair {
        mut alex,
        mut sam,
        sam_key: kb,
        s,
        at,
        ..
    } = common::paired(JID, |_, _| {});
    let heads = sam.heads();
    let e = NewEntry {
        id: "e".repeat(32),
        author_id: s.id.clone(),
        created_at: at,
        written_at: at,
        text: "Sam's words".into(),
        tags: vec!["one".into()],
        kind: Kind::Entry,
        ..Default::default()
    };
    sam.add_entry(&e, at).unwrap();
    let honest = sam.changes_since(&heads);
    let c = mend_journal::split_changes(&honest).unwrap().remove(0);
    let sigs = HashMap::from([(c.hash(), kb.sign(&JID, &c.hash()))]);
    assert!(alex
        .apply_signed(&honest, &sigs)
        .unwrap()
        .refused
        .is_empty());
    (alex, sam, kb, s)
}

/// Sign a hand-made change as Sam and offer it to Alex's journal; returns the refusals' reasons.
fn offer(alex: &mut Journal, change: &Change, sam: &Signer) -> Vec<String> {
    let sigs = HashMap::from([(change.hash(), sam.sign(&JID, &change.hash()))]);
    alex.apply_signed(change.raw_bytes(), &sigs)
        .unwrap()
        .refused
        .into_iter()
        .map(|r| r.why)
        .collect()
}

fn author_of(doc: &automerge::AutoCommit, id: &str) -> Option<String> {
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap()?;
    let (_, e) = doc.get(&entries, id).unwrap()?;
    doc.get(&e, "author")
        .unwrap()
        .and_then(|(v, _)| v.as_str().map(str::to_owned))
}

#[test]
fn a_write_whose_pred_points_at_another_field_is_refused() {
    let (mut alex, mut sam, key, _) = setup();
    let id = "e".repeat(32);
    // Sam changes the tags of Sam's own entry (allowed), but the operation's pred is edited to
    // name the `author` value instead of the old tags.
    let doc = sam.doc_mut();
    doc.set_actor(ActorId::from(key.actor().to_vec()));
    let author_op = {
        let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
        let (_, e) = doc.get(&entries, id.as_str()).unwrap().unwrap();
        let (_, op) = doc.get(&e, "author").unwrap().unwrap();
        let printed = op.to_string();
        let (counter, actor) = printed.split_once('@').unwrap();
        let actor: Vec<u8> = (0..actor.len() / 2)
            .map(|i| u8::from_str_radix(&actor[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        automerge::legacy::OpId(counter.parse().unwrap(), ActorId::from(actor))
    };
    let heads = doc.get_heads();
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
    let (_, e) = doc.get(&entries, id.as_str()).unwrap().unwrap();
    doc.put(&e, "tags", "two").unwrap();
    doc.commit_with(CommitOptions::default().with_message("edit"));
    let honest = doc.get_changes(&heads).remove(0);
    let mut expanded = honest.decode();
    expanded.hash = None;
    let op = expanded
        .operations
        .iter_mut()
        .find(|o| !matches!(o.action, automerge::legacy::OpType::Delete))
        .unwrap();
    op.pred = automerge::legacy::SortedVec::from(vec![author_op]);
    let forged = Change::from(expanded);
    // Without the check: Automerge removes the author.
    let mut plain = alex.doc_mut().fork();
    plain.apply_changes([forged.clone()]).unwrap();
    assert_eq!(
        author_of(&plain, &id),
        None,
        "the forgery works on a plain document"
    );
    // With it: refused, and the author stays.
    let why = offer(&mut alex, &forged, &key);
    assert!(
        why.iter().any(|w| w.contains("not at the key it writes")),
        "{why:?}"
    );
    assert_eq!(alex.entry(&id).unwrap().author, "Sam");
}

#[test]
fn two_objects_made_under_one_entry_key_are_refused() {
    let (mut alex, mut sam, key, _) = setup();
    let doc = sam.doc_mut();
    doc.set_actor(ActorId::from(key.actor().to_vec()));
    let heads = doc.get_heads();
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
    // The first object says Sam wrote it (what a per-key check would read); the second, the
    // one Automerge shows, says Alex did.
    let first = doc.put_object(&entries, "dbl", ObjType::Map).unwrap();
    let second = doc.put_object(&entries, "dbl", ObjType::Map).unwrap();
    doc.put(&second, "author", "a".repeat(32)).unwrap();
    doc.put(&second, "created_at", 1i64).unwrap();
    doc.put(&second, "text", "I admit everything").unwrap();
    doc.put(&first, "author", "b".repeat(32)).unwrap();
    doc.commit_with(CommitOptions::default().with_message("write"));
    let honest = doc.get_changes(&heads).remove(0);
    let mut expanded = honest.decode();
    expanded.hash = None;
    for op in expanded.operations.iter_mut() {
        if matches!(op.action, automerge::legacy::OpType::Make(_)) {
            op.pred = automerge::legacy::SortedVec::new();
        }
    }
    let forged = Change::from(expanded);
    let mut plain = alex.doc_mut().fork();
    plain.apply_changes([forged.clone()]).unwrap();
    assert_eq!(
        author_of(&plain, "dbl").as_deref(),
        Some("a".repeat(32).as_str())
    );
    let why = offer(&mut alex, &forged, &key);
    assert!(
        why.iter().any(|w| w.contains("two objects under one key")),
        "{why:?}"
    );
    assert!(alex.entry("dbl").is_err());
}

/// An honest edit whose dependency arrives in the same batch (as when a log of several records
/// is read back): what it overwrites is in the journal already, seen through that dependency.
#[test]
fn an_edit_read_back_with_the_change_before_it_is_not_refused() {
    let (mut alex, mut sam, key, s) = setup();
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
    let heads = sam.heads();
    let other = NewEntry {
        id: "f".repeat(32),
        author_id: s.id.clone(),
        created_at: at,
        written_at: at,
        text: "Another entry".into(),
        kind: Kind::Entry,
        ..Default::default()
    };
    sam.add_entry(&other, at).unwrap();
    let edit = mend_journal::EntryEdit {
        text: Some("Sam's words, edited".into()),
        ..Default::default()
    };
    sam.edit_entry(&"e".repeat(32), &s.id, &edit, at).unwrap();
    let bytes = sam.changes_since(&heads);
    let changes = mend_journal::split_changes(&bytes).unwrap();
    assert_eq!(changes.len(), 2);
    let sigs: HashMap<_, _> = changes
        .iter()
        .map(|c| (c.hash(), key.sign(&JID, &c.hash())))
        .collect();
    let admission = alex.apply_signed(&bytes, &sigs).unwrap();
    assert!(admission.refused.is_empty(), "{:?}", admission.refused);
    assert_eq!(
        alex.entry(&"e".repeat(32)).unwrap().text,
        "Sam's words, edited"
    );
}

/// Sam's next honest change (a new tag on Sam's entry), expanded so that it can be edited.
fn next_change(sam: &mut Journal, key: &Signer) -> automerge::ExpandedChange {
    let id = "e".repeat(32);
    let doc = sam.doc_mut();
    doc.set_actor(ActorId::from(key.actor().to_vec()));
    let heads = doc.get_heads();
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
    let (_, e) = doc.get(&entries, id.as_str()).unwrap().unwrap();
    doc.put(&e, "tags", "two").unwrap();
    doc.commit_with(CommitOptions::default().with_message("edit"));
    let mut expanded = doc.get_changes(&heads).remove(0).decode();
    expanded.hash = None;
    expanded
}

/// What Automerge assumes of a change and does not check: that it continues its actor's
/// history and names only actors it knows. A change that breaks it crashes a plain document
/// (the panic a modified program could cause on its partner's laptop at every sync) or holds
/// two operations under one id; every such change is refused before Automerge sees it.
#[test]
fn changes_that_do_not_follow_their_actors_history_are_refused_not_a_crash() {
    let stranger = ActorId::from(vec![0xee; 16]);
    type Forge<'a> = Box<dyn Fn(&mut automerge::ExpandedChange) + 'a>;
    let forgeries: Vec<(&str, Forge)> = vec![
        (
            "refers to an actor",
            Box::new(|c| {
                let op = c.operations.iter_mut().next().unwrap();
                op.pred = automerge::legacy::SortedVec::from(vec![automerge::legacy::OpId(
                    1,
                    stranger.clone(),
                )]);
            }),
        ),
        ("last change held is 1", Box::new(|c| c.seq = 3)),
        (
            "reuses operation ids",
            Box::new(|c| c.start_op = std::num::NonZeroU64::new(1).unwrap()),
        ),
    ];
    for (why, forge) in forgeries {
        let (mut alex, mut sam, key, _) = setup();
        let mut expanded = next_change(&mut sam, &key);
        forge(&mut expanded);
        let forged = Change::from(expanded);
        if why == "refers to an actor" {
            let mut plain = alex.doc_mut().fork();
            let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = plain.apply_changes([forged.clone()]);
            }));
            assert!(crashed.is_err(), "the forgery crashes a plain document");
        }
        let before = alex.heads();
        let refused = offer(&mut alex, &forged, &key);
        assert!(
            refused.iter().any(|w| w.contains(why)),
            "{why}: {refused:?}"
        );
        assert_eq!(alex.heads(), before, "{why}: nothing was applied");
        assert_eq!(alex.entry(&"e".repeat(32)).unwrap().tags, vec!["one"]);
    }
}

/// A modified program writes an entry whose tags and cadence carry terminal escapes (a tag is
/// shown bare, `#tag`, in every list). The stock program never writes them; they are refused
/// where they arrive, like any field that is not what Mend writes.
#[test]
fn tags_and_words_with_terminal_escapes_are_refused_where_they_arrive() {
    for (field, value) in [
        ("tags", "ok \u{1b}]52;c;cHduZWQ=\u{7}"),
        ("feelings", "calm\r\u{1b}[2K"),
        ("every", "day\u{1b}[1A"),
        ("ref", "é"),
    ] {
        let (mut alex, mut sam, key, s) = setup();
        let doc = sam.doc_mut();
        doc.set_actor(ActorId::from(key.actor().to_vec()));
        let heads = doc.get_heads();
        let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
        let e = doc
            .put_object(&entries, "x".repeat(32), ObjType::Map)
            .unwrap();
        doc.put(&e, "author", s.id.as_str()).unwrap();
        doc.put(&e, "created_at", automerge::ScalarValue::Timestamp(1))
            .unwrap();
        doc.put(&e, "text", "words").unwrap();
        if field == "every" || field == "ref" {
            doc.put(&e, "kind", "promise").unwrap();
        }
        doc.put(&e, field, value).unwrap();
        doc.commit_with(CommitOptions::default().with_message("write"));
        let forged = doc.get_changes(&heads).remove(0);
        let mut plain = alex.doc_mut().fork();
        plain.apply_changes([forged.clone()]).unwrap();
        assert!(
            author_of(&plain, &"x".repeat(32)).is_some(),
            "{field}: works on a plain document"
        );
        let why = offer(&mut alex, &forged, &key);
        assert!(
            why.iter()
                .any(|w| w.contains(&format!("{field:?} is not what Mend writes"))),
            "{field}: {why:?}"
        );
        assert!(alex.entry(&"x".repeat(32)).is_err(), "{field}");
    }
}
