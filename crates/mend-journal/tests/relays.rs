//! Relays the journal remembers: entries of kind `relay`, held by every device to the same
//! rules (a multiaddr with a `/p2p/` id and nothing else, at most 32 relay entries written by
//! each person in all, only ever retracted, and only by their author), whether written here,
//! imported, or arriving by sync.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Change, ObjType, ReadDoc, ScalarValue};
use chrono::{DateTime, TimeZone, Utc};
use mend_journal::{
    Extra, Journal, JournalError, Kind, NewEntry, Person, SavedShared, Signer, RELAYS_MAX,
    RELAY_ADDRS_MAX, RELAY_ENTRIES_PER_PERSON,
};

mod common;

const JID: [u8; 16] = [5; 16];

/// An entry's fields as a forgery writes them.
type Fields = Vec<(&'static str, ScalarValue)>;

fn addr(n: usize) -> String {
    format!("/ip4/203.0.113.{n}/tcp/4001/p2p/12D3KooWRelay{n}")
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 1, 0, minute, 0).unwrap()
}

fn relay(id: &str, author: &str, addr: &str, minute: u32) -> NewEntry {
    NewEntry {
        id: id.into(),
        author_id: author.into(),
        created_at: at(minute),
        written_at: at(minute),
        text: addr.into(),
        kind: Kind::Relay,
        ..Default::default()
    }
}

fn alex_person() -> Person {
    Person {
        id: "a".repeat(32),
        name: "Alex".into(),
    }
}

use common::sync_both_ways as sync;

/// Sign a hand-made change with `key` and offer it to `to`; the reasons it was refused for.
fn offer(to: &mut Journal, change: &Change, key: &Signer) -> Vec<String> {
    let sigs = HashMap::from([(change.hash(), key.sign(&JID, &change.hash()))]);
    to.apply_signed(change.raw_bytes(), &sigs)
        .unwrap()
        .refused
        .into_iter()
        .map(|r| r.why)
        .collect()
}

/// A copy of `j` on the same device, for a modified program to write in: what it makes never
/// reaches `j` but by a sync.
fn copy_of(j: &mut Journal, key: &Signer) -> Journal {
    let saved = SavedShared::decode(&j.save_signed()).unwrap();
    Journal::load(&saved.doc, saved.signatures, vec![], key, JID, false).unwrap()
}

/// What a modified program on `from`'s device could make: the operations `write` does on the
/// document, with no rule checked before, as one change (`message`).
fn forge(
    from: &mut Journal,
    key: &Signer,
    message: &str,
    write: impl FnOnce(&mut automerge::AutoCommit, &automerge::ObjId),
) -> Change {
    let doc = from.doc_mut();
    doc.set_actor(ActorId::from(key.actor().to_vec()));
    let heads = doc.get_heads();
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
    write(doc, &entries);
    doc.commit_with(CommitOptions::default().with_message(message));
    doc.get_changes(&heads).remove(0)
}

/// A new entry with exactly these fields, written by `from` as `forge` does.
fn forge_entry(
    from: &mut Journal,
    key: &Signer,
    id: &str,
    fields: &[(&str, ScalarValue)],
) -> Change {
    forge(from, key, "write", |doc, entries| {
        let e = doc.put_object(entries, id, ObjType::Map).unwrap();
        for (k, v) in fields {
            doc.put(&e, *k, v.clone()).unwrap();
        }
    })
}

#[test]
fn a_relay_one_partner_adds_is_known_to_the_other_after_a_sync() {
    let common::Pair {
        mut alex, mut sam, ..
    } = common::paired(JID, |_, _| {});
    let a = alex_person();
    alex.add_entry(&relay(&"1".repeat(32), &a.id, &addr(1), 1), at(1))
        .unwrap();
    assert_eq!(alex.relay_addrs(), vec![addr(1)]);
    assert!(sam.relay_addrs().is_empty());
    assert!(sync(&mut alex, &mut sam).is_empty());
    assert_eq!(sam.relay_addrs(), vec![addr(1)]);
    let known = sam.relays().unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].author, "Alex");
    assert_eq!(known[0].kind, Kind::Relay);
}

#[test]
fn a_forged_relay_is_refused_where_it_arrives_and_a_valid_one_accepted() {
    let base = |text: &str| -> Fields {
        vec![
            ("author", "b".repeat(32).as_str().into()),
            ("created_at", ScalarValue::Timestamp(1)),
            ("kind", "relay".into()),
            ("text", text.into()),
        ]
    };
    let with = |text: &str, key: &'static str, value: ScalarValue| {
        let mut f = base(text);
        f.push((key, value));
        f
    };
    let good = addr(7);
    let forgeries: Vec<(&str, Fields, &str)> = vec![
        (
            "no /p2p/ id",
            base("/ip4/203.0.113.7/tcp/4001"),
            "not a multiaddr",
        ),
        (
            "an empty id",
            base("/ip4/203.0.113.7/tcp/4001/p2p/"),
            "not a multiaddr",
        ),
        (
            "a space",
            base("/ip4/203.0.113.7/tcp/4001/p2p/12D3 KooW"),
            "not a multiaddr",
        ),
        (
            "a terminal escape",
            base("/ip4/203.0.113.7/tcp/4001/p2p/12D3\u{1b}[2K"),
            "not a multiaddr",
        ),
        (
            "not starting with /",
            base("ip4/203.0.113.7/tcp/4001/p2p/12D3KooW"),
            "not a multiaddr",
        ),
        (
            "too long",
            base(&format!("{good}{}", "x".repeat(300))),
            "not a multiaddr",
        ),
        ("no text", base("")[..3].to_vec(), "not a multiaddr"),
        ("tags", with(&good, "tags", "relay".into()), "\"tags\""),
        (
            "a mood",
            with(&good, "mood", ScalarValue::Int(3)),
            "\"mood\"",
        ),
        (
            "a prompt",
            with(&good, "prompt", "communicate-1".into()),
            "\"prompt\"",
        ),
        (
            "an edit time",
            with(&good, "edited_at", ScalarValue::Timestamp(2)),
            "\"edited_at\"",
        ),
    ];
    for (what, fields, why) in forgeries {
        let common::Pair {
            mut alex,
            mut sam,
            sam_key,
            ..
        } = common::paired(JID, |_, _| {});
        let forged = forge_entry(&mut sam, &sam_key, &"f".repeat(32), &fields);
        // Without the rules the document takes it.
        let mut plain = alex.doc_mut().fork();
        plain.apply_changes([forged.clone()]).unwrap();
        let refused = offer(&mut alex, &forged, &sam_key);
        assert!(
            refused.iter().any(|w| w.contains(why)),
            "{what}: {refused:?}"
        );
        assert!(alex.entry(&"f".repeat(32)).is_err(), "{what}");
        assert!(alex.relay_addrs().is_empty(), "{what}");
    }
    // One that refers to an entry.
    let common::Pair {
        mut alex,
        mut sam,
        sam_key,
        ..
    } = common::paired(JID, |j, a| {
        let mut e = relay(&"e".repeat(32), &a.id, "Alex's words", 1);
        e.kind = Kind::Entry;
        j.add_entry(&e, at(1)).unwrap();
    });
    let forged = forge_entry(
        &mut copy_of(&mut sam, &sam_key),
        &sam_key,
        &"f".repeat(32),
        &with(&good, "ref", "e".repeat(32).as_str().into()),
    );
    let refused = offer(&mut alex, &forged, &sam_key);
    assert!(refused.iter().any(|w| w.contains("\"ref\"")), "{refused:?}");
    // The same way, a relay as Mend writes it is accepted.
    let accepted = forge_entry(
        &mut copy_of(&mut sam, &sam_key),
        &sam_key,
        &"9".repeat(32),
        &base(&good),
    );
    assert_eq!(offer(&mut alex, &accepted, &sam_key), Vec::<String>::new());
    assert_eq!(alex.relay_addrs(), vec![good]);
    assert_eq!(alex.relays().unwrap()[0].author, "Sam");
}

/// Why a 33rd relay entry by `name` is refused.
fn past_limit(name: &str) -> String {
    format!("it adds a 33rd relay by {name}; a person writes at most 32")
}

/// Add relay `n` (id `{n:032}`) as `who`, and retract it at once if `retract`.
fn add_relay(j: &mut Journal, who: &str, n: usize, retract: bool) {
    let id = format!("{n:032}");
    j.add_entry(&relay(&id, who, &addr(n), n as u32 % 60), at(n as u32 % 60))
        .unwrap();
    if retract {
        j.retract_entry(&id, who, at(59)).unwrap();
    }
}

#[test]
fn a_person_writes_at_most_32_relay_entries_whatever_branch_they_are_on() {
    assert_eq!(RELAY_ENTRIES_PER_PERSON, 32);
    let common::Pair {
        mut alex,
        mut sam,
        s,
        ..
    } = common::paired(JID, |_, _| {});
    let a = alex_person();
    // Alex's second laptop, which writes apart from the first.
    let desk_key = Signer::from_seed(&[3; 32]);
    let desk_hex: String = desk_key
        .public_key()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    alex.add_device(&desk_hex, &a, "desk", &a.id, at(0))
        .unwrap();
    let saved = SavedShared::decode(&alex.save_signed()).unwrap();
    let mut desk =
        Journal::load(&saved.doc, saved.signatures, vec![], &desk_key, JID, false).unwrap();
    let apart = alex.heads();
    assert_eq!(desk.heads(), apart);

    // The first laptop adds 20 relays and removes 18 of them: 2 remembered, 20 written.
    for n in 1..=20 {
        add_relay(&mut alex, &a.id, n, n > 2);
    }
    assert_eq!(alex.relay_addrs().len(), 2);
    // Apart, the second adds 13: within the limit as it sees the journal (13 written).
    for n in 101..=113 {
        add_relay(&mut desk, &a.id, n, false);
    }
    assert_eq!(desk.relay_addrs().len(), 13);
    // On the first laptop, the second's branch counts with its own: twelve fit, the thirteenth
    // is Alex's 33rd relay entry and is refused, however few are remembered.
    let record = desk.signed_changes_since(&apart).unwrap();
    let admission = alex.apply_signed_record(&record).unwrap();
    let why: Vec<&str> = admission.refused.iter().map(|r| r.why.as_str()).collect();
    assert_eq!(why, vec![past_limit("Alex")], "{why:?}");
    assert_eq!(alex.relay_addrs().len(), 2 + 12);
    assert!(!alex.relay_addrs().contains(&addr(113)));
    // Neither laptop writes another, nor imports one, even one made retracted.
    let next = relay(&"c".repeat(32), &a.id, &addr(200), 30);
    match alex.add_entry(&next, at(30)) {
        Err(JournalError::Rule(why)) => assert_eq!(why, past_limit("Alex")),
        other => panic!("a 33rd relay entry was written: {other:?}"),
    }
    let mut gone = relay(&"d".repeat(32), &a.id, "", 30);
    gone.extra = Extra {
        retracted_at: Some(at(30)),
        retracted_by: Some(a.id.clone()),
        ..Default::default()
    };
    match alex.add_entries(std::slice::from_ref(&gone), at(30)) {
        Err(JournalError::ImportRefused(refused)) => {
            assert_eq!(refused, vec![(0, past_limit("Alex"))]);
        }
        other => panic!("a 33rd relay entry was imported: {other:?}"),
    }
    // Retracting one does not make room: it was written all the same.
    alex.retract_entry(&format!("{:032}", 1), &a.id, at(31))
        .unwrap();
    assert!(matches!(
        alex.add_entry(&next, at(31)),
        Err(JournalError::Rule(why)) if why == past_limit("Alex")
    ));

    // Sam's count is Sam's own: Sam's laptop takes Alex's 32 and writes a relay of its own.
    assert!(sync(&mut alex, &mut sam).is_empty());
    assert_eq!(sam.relay_addrs(), alex.relay_addrs());
    sam.add_entry(&relay(&"e".repeat(32), &s.id, &addr(300), 40), at(40))
        .unwrap();
    assert!(sync(&mut alex, &mut sam).is_empty());
    assert!(alex.relay_addrs().contains(&addr(300)));
    // A device that takes the whole journal at once judges it as those did: nothing refused.
    let saved = SavedShared::decode(&alex.save_signed()).unwrap();
    let mut copy = Journal::empty(JID, &Signer::from_seed(&[4; 32]), false, Vec::new());
    let admission = copy.apply_signed(&saved.doc, &saved.signatures).unwrap();
    assert!(admission.refused.is_empty(), "{:?}", admission.refused);
    assert_eq!(copy.relay_addrs(), alex.relay_addrs());
}

#[test]
fn how_many_are_remembered_at_once_is_not_a_rule_and_the_network_is_given_at_most_24() {
    let common::Pair {
        mut alex,
        mut sam,
        s,
        ..
    } = common::paired(JID, |_, _| {});
    let a = alex_person();
    // The journal takes a seventeenth remembered relay (`mend relay add` is what refuses it).
    for n in 1..=RELAYS_MAX + 1 {
        add_relay(&mut alex, &a.id, n, false);
    }
    assert_eq!(alex.relay_addrs().len(), RELAYS_MAX + 1);
    // Sam adds 12 more later, one of them an address Alex added already.
    for n in 30..42 {
        let text = if n == 30 { addr(5) } else { addr(n) };
        let id = format!("{n:032}");
        sam.add_entry(&relay(&id, &s.id, &text, n as u32), at(n as u32))
            .unwrap();
    }
    assert!(sync(&mut alex, &mut sam).is_empty());
    // 29 remembered, 28 addresses: each once, the oldest 24.
    assert_eq!(alex.relays().unwrap().len(), RELAYS_MAX + 1 + 12);
    let want: Vec<String> = (1..=RELAYS_MAX + 1)
        .map(addr)
        .chain((31..).map(addr))
        .take(RELAY_ADDRS_MAX)
        .collect();
    assert_eq!(alex.relay_addrs(), want);
    assert_eq!(sam.relay_addrs(), want);
    let entries = alex.relays().unwrap();
    assert_eq!(mend_journal::relay_addrs(&entries), want);
}

/// A chain of `n` changes of Sam's laptop, each adding relay entry `i` and retracting entry
/// `i - 1` (so that one at most is ever remembered), each signed: what a hostile partner's
/// modified program sends. Checked and applied by Alex's laptop in one batch: what became of
/// them, and how long that took.
fn relay_chain(n: usize) -> (mend_journal::Admission, Duration) {
    let common::Pair {
        mut alex,
        mut sam,
        sam_key,
        s,
        ..
    } = common::paired(JID, |_, _| {});
    let id = |i: usize| format!("{i:032}");
    let mut changes: Vec<Change> = Vec::with_capacity(n);
    for i in 0..n {
        let text = format!("/dns4/relay{i}.example.org/tcp/4001/p2p/12D3KooWRelay{i}");
        changes.push(forge(&mut sam, &sam_key, "relay", |doc, entries| {
            let e = doc.put_object(entries, id(i), ObjType::Map).unwrap();
            doc.put(&e, "author", s.id.as_str()).unwrap();
            doc.put(&e, "created_at", ScalarValue::Timestamp(1))
                .unwrap();
            doc.put(&e, "kind", "relay").unwrap();
            doc.put(&e, "text", text.as_str()).unwrap();
            if i > 0 {
                let (_, before) = doc.get(entries, id(i - 1)).unwrap().unwrap();
                doc.put(&before, "text", "").unwrap();
                doc.put(&before, "retracted_at", ScalarValue::Timestamp(2))
                    .unwrap();
                doc.put(&before, "retracted_by", s.id.as_str()).unwrap();
            }
        }));
    }
    let bytes: Vec<u8> = changes
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let sigs: HashMap<_, _> = changes
        .iter()
        .map(|c| (c.hash(), sam_key.sign(&JID, &c.hash())))
        .collect();
    let started = Instant::now();
    let admission = alex.apply_signed(&bytes, &sigs).unwrap();
    let took = started.elapsed();
    // The last relay entry accepted is the one remembered.
    assert_eq!(
        alex.relay_addrs(),
        vec![format!(
            "/dns4/relay31.example.org/tcp/4001/p2p/12D3KooWRelay31"
        )]
    );
    (admission, took)
}

#[test]
fn a_long_chain_of_relay_changes_is_checked_in_linear_time_and_refused_past_32() {
    for n in [200, 2000] {
        let (admission, _) = relay_chain(n);
        assert_eq!(admission.applied, RELAY_ENTRIES_PER_PERSON, "{n}");
        assert_eq!(admission.refused.len(), n - RELAY_ENTRIES_PER_PERSON, "{n}");
        assert_eq!(admission.refused[0].why, past_limit("Sam"));
        assert!(admission.refused[1..]
            .iter()
            .all(|r| r.why == "it depends on a change that was refused"));
    }
    // Ten times the chain, less than ten times the time (the best of three of each, against
    // noise): checking each change does not walk the ones before it. (Before, each relay
    // change was judged by the relays of its own history, walked back through the batch:
    // quadratic, some 60 times the time.)
    let best = |n: usize| (0..3).map(|_| relay_chain(n).1).min().unwrap();
    let (short, long) = (best(200), best(2000));
    assert!(
        long < short * 10,
        "2,000 changes took {long:?}, 200 took {short:?}"
    );
}

#[test]
fn a_relay_is_only_retracted_and_only_by_its_author() {
    let common::Pair {
        mut alex,
        mut sam,
        alex_key,
        sam_key,
        s,
        ..
    } = common::paired(JID, |_, _| {});
    let a = alex_person();
    let id = "1".repeat(32);
    alex.add_entry(&relay(&id, &a.id, &addr(1), 1), at(1))
        .unwrap();
    assert!(sync(&mut alex, &mut sam).is_empty());

    // Sam's laptop, modified, retracts Alex's relay: refused.
    let forged = forge(
        &mut copy_of(&mut sam, &sam_key),
        &sam_key,
        "retract",
        |doc, entries| {
            let (_, e) = doc.get(entries, id.as_str()).unwrap().unwrap();
            doc.put(&e, "text", "").unwrap();
            doc.put(&e, "retracted_at", ScalarValue::Timestamp(2))
                .unwrap();
            doc.put(&e, "retracted_by", s.id.as_str()).unwrap();
        },
    );
    let refused = offer(&mut alex, &forged, &sam_key);
    assert!(
        refused.iter().any(|w| w.contains("only its author may")),
        "{refused:?}"
    );
    assert_eq!(alex.relay_addrs(), vec![addr(1)]);
    // Through the program, Sam cannot either.
    assert!(matches!(
        sam.retract_entry(&id, &s.id, at(2)),
        Err(JournalError::NotAuthor { .. })
    ));

    // Alex cannot change the address: refused here, and where it arrives if a modified program
    // makes the change anyway.
    let edit = mend_journal::EntryEdit {
        text: Some(addr(2)),
        ..Default::default()
    };
    assert!(matches!(
        alex.edit_entry(&id, &a.id, &edit, at(3)),
        Err(JournalError::Rule(_))
    ));
    let forged = forge(
        &mut copy_of(&mut alex, &alex_key),
        &alex_key,
        "edit",
        |doc, entries| {
            let (_, e) = doc.get(entries, id.as_str()).unwrap().unwrap();
            doc.put(&e, "text", addr(2).as_str()).unwrap();
        },
    );
    let refused = offer(&mut sam, &forged, &alex_key);
    assert!(
        refused.iter().any(|w| w.contains("only added or removed")),
        "{refused:?}"
    );
    assert_eq!(sam.relay_addrs(), vec![addr(1)]);

    // Alex retracts it; after a sync, neither laptop remembers it.
    alex.retract_entry(&id, &a.id, at(4)).unwrap();
    assert!(alex.relay_addrs().is_empty());
    assert!(sync(&mut alex, &mut sam).is_empty());
    assert!(sam.relay_addrs().is_empty());
    assert!(sam.relays().unwrap().is_empty());
    // Nothing refers to a relay.
    let mut reply = relay(&"2".repeat(32), &s.id, "Thanks", 5);
    reply.kind = Kind::Reply;
    reply.extra.refers_to = Some(id.clone());
    assert!(matches!(
        sam.add_entry(&reply, at(5)),
        Err(JournalError::Rule(why)) if why.contains("refers to a relay")
    ));
}

#[test]
fn an_import_and_the_private_journal_meet_the_same_relay_rules() {
    let common::Pair { mut alex, .. } = common::paired(JID, |_, _| {});
    let a = alex_person();
    // 33 relay entries, the first ten made retracted (as a JSON export keeps removed ones).
    let many: Vec<NewEntry> = (0..=RELAY_ENTRIES_PER_PERSON)
        .map(|n| {
            let mut e = relay(&format!("{n:032}"), &a.id, &addr(n), n as u32);
            if n < 10 {
                e.text = String::new();
                e.extra.retracted_at = Some(at(n as u32));
                e.extra.retracted_by = Some(a.id.clone());
            }
            e
        })
        .collect();
    match alex.add_entries(&many, at(50)) {
        Err(JournalError::ImportRefused(refused)) => {
            assert_eq!(refused, vec![(32, past_limit("Alex"))]);
        }
        other => panic!("33 relay entries were imported: {other:?}"),
    }
    let bad = [
        relay(&"1".repeat(32), &a.id, &addr(1), 1),
        relay(&"2".repeat(32), &a.id, "203.0.113.5:4001", 2),
    ];
    match alex.add_entries(&bad, at(50)) {
        Err(JournalError::ImportRefused(refused)) => {
            assert_eq!(refused.len(), 1);
            assert_eq!(refused[0].0, 1);
            assert!(refused[0].1.contains("not a multiaddr"), "{refused:?}");
        }
        other => panic!("a bad address was imported: {other:?}"),
    }
    assert!(alex.relay_addrs().is_empty(), "nothing of either import");
    assert_eq!(
        alex.add_entries(&many[..RELAY_ENTRIES_PER_PERSON], at(50))
            .unwrap(),
        32
    );
    assert_eq!(alex.relay_addrs().len(), RELAY_ENTRIES_PER_PERSON - 10);
    assert!(matches!(
        alex.add_entry(&many[RELAY_ENTRIES_PER_PERSON], at(51)),
        Err(JournalError::Rule(why)) if why == past_limit("Alex")
    ));

    let mut private =
        Journal::create(JID, &a, None, &Signer::from_seed(&[1; 32]), true, at(0)).unwrap();
    assert!(matches!(
        private.add_entry(&relay(&"3".repeat(32), &a.id, &addr(3), 3), at(3)),
        Err(JournalError::Rule(_))
    ));
    assert!(matches!(
        private.add_entries(&[relay(&"3".repeat(32), &a.id, &addr(3), 3)], at(3)),
        Err(JournalError::ImportRefused(_))
    ));
}
