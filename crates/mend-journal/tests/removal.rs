//! Removing a device: who may, and that whatever the removed device makes afterwards (or
//! made without the others having seen it before the removal) is refused by every device,
//! whatever order it arrives in.

use chrono::{TimeZone, Utc};
use mend_journal::{
    split_changes, Admission, ChangeHash, Journal, JournalError, Kind, NewEntry, Person,
    SavedShared, Signer, SyncState,
};

mod common;

const JID: [u8; 16] = [7; 16];

fn hex(key: &Signer) -> String {
    key.public_key()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Alex's laptop, Sam's laptop and Sam's phone (added by Sam's laptop), all holding the same
/// journal.
struct Three {
    alex: Journal,
    sam: Journal,
    phone: Journal,
    phone_key: Signer,
    a: Person,
    s: Person,
}

fn three() -> Three {
    let common::Pair {
        mut alex,
        mut sam,
        sam_key,
        s,
        at,
        ..
    } = common::paired(JID, |_, _| {});
    let phone_key = Signer::from_seed(&[3; 32]);
    sam.add_device(&hex(&phone_key), &s, "sam-phone", &s.id, at)
        .unwrap();
    let saved = SavedShared::decode(&sam.save_signed()).unwrap();
    let phone =
        Journal::load(&saved.doc, saved.signatures, vec![], &phone_key, JID, false).unwrap();
    let _ = sam_key;
    assert!(sync(&mut sam, &mut alex).1.refused.is_empty());
    let a = Person {
        id: "a".repeat(32),
        name: "Alex".into(),
    };
    Three {
        alex,
        sam,
        phone,
        phone_key,
        a,
        s,
    }
}

/// Sync two journals over Mend's sync messages until neither has more to say, or (as a real
/// session does) until one refuses something; what each admitted.
fn sync(x: &mut Journal, y: &mut Journal) -> (Admission, Admission) {
    let (mut sx, mut sy) = (SyncState::new(), SyncState::new());
    let (mut at_x, mut at_y) = (Admission::default(), Admission::default());
    for _ in 0..20 {
        let mut quiet = true;
        if let Some((m, sigs)) = x.sync_generate(&mut sx) {
            quiet = false;
            let got = y.sync_receive(&mut sy, &m, &sigs).unwrap();
            at_y.applied += got.applied;
            at_y.refused.extend(got.refused);
        }
        if let Some((m, sigs)) = y.sync_generate(&mut sy) {
            quiet = false;
            let got = x.sync_receive(&mut sx, &m, &sigs).unwrap();
            at_x.applied += got.applied;
            at_x.refused.extend(got.refused);
        }
        if quiet || !at_x.refused.is_empty() || !at_y.refused.is_empty() {
            return (at_x, at_y);
        }
    }
    panic!("the sync did not finish");
}

fn entry(id: &str, author: &Person, text: &str) -> NewEntry {
    let at = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    NewEntry {
        id: id.into(),
        author_id: author.id.clone(),
        created_at: at,
        written_at: at,
        text: text.into(),
        kind: Kind::Entry,
        ..Default::default()
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

/// The last change `j` made, with its signature, as a log record body.
fn last_record(j: &mut Journal, before: &[ChangeHash]) -> Vec<u8> {
    j.signed_changes_since(before).unwrap()
}

#[test]
fn what_a_removed_device_writes_after_its_removal_is_refused_everywhere() {
    let mut t = three();
    let phone_hex = hex(&t.phone_key);
    // The phone is stolen. While it is offline, Sam's laptop removes it; the thief writes.
    t.sam.remove_device(&phone_hex, now()).unwrap();
    t.phone
        .add_entry(&entry(&"f".repeat(32), &t.s, "written by the thief"), now())
        .unwrap();
    // Without the rule the thief's entry would reach Alex's journal: Automerge takes it.
    let mut plain = t.alex.doc_mut().clone();
    let thief = t.phone.changes_since(&[]);
    plain.load_incremental(&thief).unwrap();
    let entries = match automerge::ReadDoc::get(&plain, automerge::ROOT, "entries").unwrap() {
        Some((_, id)) => id,
        None => panic!("no entries"),
    };
    assert!(automerge::ReadDoc::get(&plain, &entries, "f".repeat(32))
        .unwrap()
        .is_some());

    let (_, at_alex) = sync(&mut t.sam, &mut t.alex);
    assert!(at_alex.refused.is_empty(), "{:?}", at_alex.refused);
    let phone_seen = t
        .alex
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.key == phone_hex)
        .unwrap();
    let removal = phone_seen
        .removed
        .expect("shown as removed on Alex's laptop");
    assert_eq!(removal.by, "Sam");
    assert_eq!(removal.at, now());
    assert_eq!(removal.by_device, hex(&common_sam_key()));

    // The phone reaches Alex's laptop, then Sam's: refused on both.
    let (_, at_alex) = sync(&mut t.phone, &mut t.alex);
    assert_eq!(at_alex.refused.len(), 1, "{:?}", at_alex.refused);
    assert!(at_alex.refused[0]
        .why
        .contains("after that device was removed"));
    assert!(t.alex.entry(&"f".repeat(32)).is_err());
    let (_, at_sam) = sync(&mut t.phone, &mut t.sam);
    assert_eq!(at_sam.refused.len(), 1);
    assert!(t.sam.entry(&"f".repeat(32)).is_err());
    // And the phone, now knowing of its removal, writes nothing more to the shared journal.
    match t
        .phone
        .add_entry(&entry(&"9".repeat(32), &t.s, "again"), now())
    {
        Err(JournalError::Removed { by, .. }) => assert_eq!(by, "Sam"),
        other => panic!("{other:?}"),
    }
}

fn common_sam_key() -> Signer {
    Signer::from_seed(&[2; 32])
}

#[test]
fn a_removal_and_a_concurrent_change_of_the_removed_device_in_one_batch_refused_in_any_order() {
    for removal_first in [true, false] {
        let mut t = three();
        let phone_hex = hex(&t.phone_key);
        // Written by the phone and seen by Sam's laptop before the removal: it stays.
        let h = t.phone.heads();
        t.phone
            .add_entry(&entry(&"1".repeat(32), &t.s, "from before"), now())
            .unwrap();
        let seen = last_record(&mut t.phone, &h);
        assert!(t.sam.apply_signed_record(&seen).unwrap().refused.is_empty());
        // Then, apart: Sam's laptop removes the phone; the phone writes again.
        let h = t.sam.heads();
        t.sam.remove_device(&phone_hex, now()).unwrap();
        let removal = last_record(&mut t.sam, &h);
        let h = t.phone.heads();
        t.phone
            .add_entry(&entry(&"2".repeat(32), &t.s, "from after"), now())
            .unwrap();
        let late = last_record(&mut t.phone, &h);
        // Alex's laptop gets all three in one batch, in either order.
        let records: Vec<&[u8]> = if removal_first {
            vec![&seen, &removal, &late]
        } else {
            vec![&seen, &late, &removal]
        };
        let got = t.alex.apply_signed_records(records).unwrap();
        assert_eq!(got.refused.len(), 1, "{removal_first}: {:?}", got.refused);
        assert!(t.alex.entry(&"1".repeat(32)).is_ok());
        assert!(t.alex.entry(&"2".repeat(32)).is_err(), "{removal_first}");
        let phone = t.alex.devices().unwrap();
        assert!(phone
            .iter()
            .any(|d| d.key == phone_hex && d.removed.is_some()));
    }
}

#[test]
fn the_partner_removes_a_device_only_when_it_is_the_persons_last() {
    let mut t = three();
    let sam_laptop = hex(&common_sam_key());
    let phone_hex = hex(&t.phone_key);
    // Sam still has the phone: Alex may not remove Sam's laptop.
    match t.alex.remove_device(&sam_laptop, now()) {
        Err(JournalError::Rule(why)) => assert!(why.contains("Sam's own devices"), "{why}"),
        other => panic!("{other:?}"),
    }
    // A modified program on Alex's laptop does it anyway: Sam's devices refuse it.
    let alex_key = Signer::from_seed(&[1; 32]);
    let forged = forge_removal(&mut t.alex, &alex_key, &sam_laptop, &t.a.id);
    let got = t.sam.apply_signed_record(&forged).unwrap();
    assert_eq!(got.refused.len(), 1);
    assert!(
        got.refused[0].why.contains("Sam's own devices may"),
        "{:?}",
        got.refused
    );

    // Sam's phone removes itself; now Sam's laptop is Sam's last device, lost: Alex removes it.
    let mut t = three();
    t.phone.remove_device(&phone_hex, now()).unwrap();
    assert!(sync(&mut t.phone, &mut t.alex).1.refused.is_empty());
    t.alex.remove_device(&sam_laptop, now()).unwrap();
    let (at_sam, _) = sync(&mut t.sam, &mut t.alex);
    assert!(at_sam.refused.is_empty(), "{:?}", at_sam.refused);
    let laptop = t
        .sam
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.key == sam_laptop)
        .unwrap();
    assert_eq!(laptop.removed.unwrap().by, "Alex");
    assert!(matches!(
        t.sam.add_entry(&entry(&"3".repeat(32), &t.s, "x"), now()),
        Err(JournalError::Removed { .. })
    ));
}

#[test]
fn uncoupling_removes_all_of_the_other_persons_devices_and_nothing_less() {
    let mut t = three();
    let sam_laptop = hex(&common_sam_key());
    let phone_hex = hex(&t.phone_key);
    // Alex ends the partnership: Sam's laptop and phone are removed in one change, which
    // Sam's laptop takes (it is Alex's word), and nothing either makes afterwards is accepted.
    let mut u = three();
    let before = u.alex.heads();
    let removed = u.alex.uncouple(now()).unwrap();
    assert_eq!(removed.len(), 2);
    let record = last_record(&mut u.alex, &before);
    let got = u.sam.apply_signed_record(&record).unwrap();
    assert!(got.refused.is_empty(), "{:?}", got.refused);
    assert!(u
        .sam
        .devices()
        .unwrap()
        .iter()
        .filter(|d| d.person == "Sam")
        .all(|d| d
            .removed
            .as_ref()
            .is_some_and(|r| r.uncoupled && r.by == "Alex")));
    let before = u.phone.heads();
    u.phone
        .add_entry(&entry(&"4".repeat(32), &u.s, "after"), now())
        .unwrap();
    let late = last_record(&mut u.phone, &before);
    let got = u.alex.apply_signed_record(&late).unwrap();
    assert_eq!(got.refused.len(), 1, "{:?}", got.refused);
    assert!(matches!(u.alex.uncouple(now()), Err(JournalError::Rule(_))));

    // A modified program on Alex's laptop calls the removal of Sam's laptop alone an
    // uncoupling, to remove one of Sam's devices while Sam has another: refused. Without the
    // whole-partnership check it would pass as an uncoupling.
    let alex_key = Signer::from_seed(&[1; 32]);
    let forged = forge_removals(
        &mut t.alex,
        &alex_key,
        &[&sam_laptop],
        &t.a.id,
        Some("uncoupled"),
    );
    let got = t.sam.apply_signed_record(&forged).unwrap();
    assert_eq!(got.refused.len(), 1);
    assert!(
        got.refused[0].why.contains("without removing every device"),
        "{:?}",
        got.refused
    );
    // Nor may one "uncouple" from oneself.
    let mut t = three();
    let forged = forge_removals(
        &mut t.sam,
        &common_sam_key(),
        &[&phone_hex],
        &t.s.id,
        Some("uncoupled"),
    );
    let got = t.alex.apply_signed_record(&forged).unwrap();
    assert_eq!(got.refused.len(), 1, "{:?}", got.refused);
    assert!(t
        .alex
        .devices()
        .unwrap()
        .iter()
        .all(|d| d.removed.is_none()));
}

/// Write removals of devices `keys` straight into the document, in one change (as a modified
/// program could), naming `by` as the remover and `why` (if any) as the reason, signed by
/// `signer`; returns it as a log record body.
fn forge_removals(
    j: &mut Journal,
    signer: &Signer,
    keys: &[&str],
    by: &str,
    why: Option<&str>,
) -> Vec<u8> {
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;
    let doc = j.doc_mut();
    let devices = match doc.get(automerge::ROOT, "devices").unwrap() {
        Some((_, id)) => id,
        None => panic!("no devices"),
    };
    for key in keys {
        let dev = match doc.get(&devices, *key).unwrap() {
            Some((_, id)) => id,
            None => panic!("no device {key}"),
        };
        doc.put(&dev, "removed_at", automerge::ScalarValue::Timestamp(1))
            .unwrap();
        doc.put(&dev, "removed_by", by).unwrap();
        doc.put(&dev, "removed_by_device", hex(signer)).unwrap();
        if let Some(why) = why {
            doc.put(&dev, "removed_why", why).unwrap();
        }
    }
    let hash = doc.commit().unwrap();
    let bytes = doc.get_change_by_hash(&hash).unwrap().raw_bytes().to_vec();
    let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&bytes);
    out.extend_from_slice(&signer.sign(&JID, &hash));
    out
}

/// Write a removal of device `key` straight into the document (as a modified program could),
/// naming `by` as the remover, signed by `signer`; returns it as a log record body.
fn forge_removal(j: &mut Journal, signer: &Signer, key: &str, by: &str) -> Vec<u8> {
    forge_removals(j, signer, &[key], by, None)
}

#[test]
fn a_removal_that_names_someone_else_as_remover_is_refused() {
    let mut t = three();
    let phone_hex = hex(&t.phone_key);
    // Sam's laptop removes the phone but writes that Alex did.
    let forged = forge_removal(&mut t.sam, &common_sam_key(), &phone_hex, &t.a.id);
    assert_eq!(
        split_changes(&forged[4..forged.len() - 64]).unwrap().len(),
        1
    );
    let got = t.alex.apply_signed_record(&forged).unwrap();
    assert_eq!(got.refused.len(), 1);
    assert!(got.refused[0].why.contains("only a removal by the remover"));
    assert!(t
        .alex
        .devices()
        .unwrap()
        .iter()
        .all(|d| d.removed.is_none()));
}

#[test]
fn a_device_name_a_terminal_would_act_on_is_refused() {
    let mut t = three();
    let h = t.sam.heads();
    let tablet = hex(&Signer::from_seed(&[5; 32]));
    // The model writes what it is given; a modified program would send exactly this.
    t.sam
        .add_device(&tablet, &t.s, "tab\u{1b}]52;c;aGk=\u{7}let", &t.s.id, now())
        .unwrap();
    let got = t
        .alex
        .apply_signed_record(&last_record(&mut t.sam, &h))
        .unwrap();
    assert_eq!(got.refused.len(), 1);
    assert!(
        got.refused[0].why.contains("a device's \"name\""),
        "{:?}",
        got.refused
    );
    assert!(t.alex.devices().unwrap().iter().all(|d| d.key != tablet));
    assert!(mend_journal::valid_name("sam-laptop"));
    assert!(!mend_journal::valid_name(" sam"));
    assert!(!mend_journal::valid_name(&"x".repeat(65)));
    assert!(mend_journal::valid_name(&"é".repeat(64)));
}

#[test]
fn the_partner_adds_a_persons_next_device_only_once_they_lost_them_all() {
    let new_key = hex(&Signer::from_seed(&[9; 32]));
    // Sam still has devices: Alex's pairing may not add one under Sam's name.
    let mut t = three();
    let before = t.alex.heads();
    t.alex
        .add_device(&new_key, &t.s, "sam-new", &t.a.id, now())
        .unwrap();
    let record = last_record(&mut t.alex, &before);
    let got = t.sam.apply_signed_record(&record).unwrap();
    assert_eq!(got.refused.len(), 1, "{:?}", got.refused);
    assert!(got.refused[0].why.contains("only Sam's own devices may"));

    // Sam lost both: the phone removed itself, then Alex removed the laptop. Now Alex's
    // pairing adds Sam's next device, and a copy that holds the removals takes it.
    let mut t = three();
    let sam_laptop = hex(&common_sam_key());
    let phone_hex = hex(&t.phone_key);
    t.phone.remove_device(&phone_hex, now()).unwrap();
    assert!(sync(&mut t.phone, &mut t.alex).1.refused.is_empty());
    t.alex.remove_device(&sam_laptop, now()).unwrap();
    assert!(sync(&mut t.alex, &mut t.phone).1.refused.is_empty());
    let before = t.alex.heads();
    t.alex
        .add_device(&new_key, &t.s, "sam-new", &t.a.id, now())
        .unwrap();
    let record = last_record(&mut t.alex, &before);
    let got = t.phone.apply_signed_record(&record).unwrap();
    assert!(got.refused.is_empty(), "{:?}", got.refused);

    // After an uncoupling, the partner's pairing adds nothing under the other's name.
    let mut t = three();
    t.alex.uncouple(now()).unwrap();
    assert!(sync(&mut t.alex, &mut t.sam).1.refused.is_empty());
    let before = t.alex.heads();
    t.alex
        .add_device(&new_key, &t.s, "sam-new", &t.a.id, now())
        .unwrap();
    let record = last_record(&mut t.alex, &before);
    let got = t.sam.apply_signed_record(&record).unwrap();
    assert_eq!(got.refused.len(), 1, "{:?}", got.refused);
}
