//! What signed changes cost: the same sync with and without checking every change, with one
//! change per entry (as entries written one by one are), and what signing and the rules add to
//! one write, in time and in bytes on disk.

use std::time::{Duration, Instant};

use automerge::sync::{State, SyncDoc};
use automerge::AutoCommit;
use chrono::{TimeZone, Utc};
use mend_journal::{Checker, Journal, Kind, NewEntry, Person, Signer, SyncState};

/// Sync two Automerge documents with Automerge's own protocol and nothing else: no signatures,
/// no rules. The floor that checking is measured against.
pub fn unverified_sync(
    init: &mut AutoCommit,
    si: &mut State,
    ans: &mut AutoCommit,
    sa: &mut State,
) {
    for _ in 0..1000 {
        let sent = init.sync().generate_sync_message(si);
        let had = sent.is_some();
        if let Some(m) = sent {
            ans.sync().receive_sync_message(sa, m).unwrap();
        }
        match ans.sync().generate_sync_message(sa) {
            Some(r) => init.sync().receive_sync_message(si, r).unwrap(),
            None if !had => return,
            None => {}
        }
    }
    panic!("the unverified sync did not converge");
}

fn entry(n: usize, who: &Person) -> NewEntry {
    let at =
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(n as i64);
    NewEntry {
        id: format!("{}{n:031x}", &who.id[..1]),
        author_id: who.id.clone(),
        created_at: at,
        written_at: at,
        text: format!(
            "entry {n}: we talked about trust tonight and I listened without defending myself"
        ),
        kind: Kind::Entry,
        ..Default::default()
    }
}

/// Run a verified session (Mend's sync core) from `b` to `a`; returns the time.
fn verified(a: &mut Journal, sa: &mut SyncState, b: &mut Journal, sb: Option<&[u8]>) -> Duration {
    let started = Instant::now();
    let mut session = mend_sync::SyncSession::new(sb);
    while let mend_sync::Step::Send {
        message,
        signatures,
    } = session.step(b).unwrap()
    {
        let reply = mend_sync::respond(a, sa, &message, &signatures).unwrap();
        assert!(
            reply.admission.refused.is_empty(),
            "{:?}",
            reply.admission.refused
        );
        session
            .on_reply(b, &reply.message, &reply.signatures)
            .unwrap();
    }
    assert!(session.refused().is_empty());
    started.elapsed()
}

/// Two devices write `n` entries each while apart, one change per entry, then sync: with every
/// change checked (signature and rules) and without. Returns (checked, unchecked).
pub fn per_change(n: usize) -> (Duration, Duration) {
    let jid = [3; 16];
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let alex = Person {
        id: "a".repeat(32),
        name: "Alex".into(),
    };
    let sam = Person {
        id: "b".repeat(32),
        name: "Sam".into(),
    };
    let (ka, kb) = (Signer::from_seed(&[11; 32]), Signer::from_seed(&[12; 32]));
    let mut a = Journal::create(jid, &alex, Some("laptop"), &ka, false, t0).unwrap();
    let sam_key: String = kb.public_key().iter().map(|b| format!("{b:02x}")).collect();
    a.add_device(&sam_key, &sam, "sam-laptop", &alex.id, t0)
        .unwrap();
    let mut b = Journal::empty(jid, &kb, false, Vec::new());
    let mut sa = SyncState::new();
    // Paired: Sam's device holds the founding and its registration, and both keep the states.
    let mut session = mend_sync::SyncSession::new(None);
    while let mend_sync::Step::Send {
        message,
        signatures,
    } = session.step(&mut b).unwrap()
    {
        let reply = mend_sync::respond(&mut a, &mut sa, &message, &signatures).unwrap();
        session
            .on_reply(&mut b, &reply.message, &reply.signatures)
            .unwrap();
    }
    let sb = session.saved_state();
    for i in 0..n {
        a.add_entry(&entry(i, &alex), t0).unwrap();
        b.add_entry(&entry(i, &sam), t0).unwrap();
    }
    let (mut da, mut db) = (a.doc_mut().clone(), b.doc_mut().clone());
    let (mut ua, mut ub) = (
        State::decode(&sa.encode()).unwrap(),
        State::decode(&sb).unwrap(),
    );
    let checked = verified(&mut a, &mut sa, &mut b, Some(&sb));
    assert_eq!(a.len(), 2 * n);
    assert_eq!(b.len(), 2 * n);
    let started = Instant::now();
    unverified_sync(&mut db, &mut ub, &mut da, &mut ua);
    let unchecked = started.elapsed();
    assert_eq!(da.get_heads(), db.get_heads());
    (checked, unchecked)
}

/// What signing and the rules add to one write on `journal` (its person `me`): the check of
/// the new entry against the rules and the signature of the change, timed over `runs` runs
/// (median); and the bytes its log record carries for the signature (with the change's length).
pub fn write_costs(
    journal: &mut Journal,
    me: &str,
    key: &Signer,
    runs: usize,
) -> (Duration, usize) {
    let jid = *b"write-cost-jrnl!";
    let mut times = Vec::new();
    let fields = {
        let mut f = std::collections::BTreeMap::new();
        f.insert("author".to_owned(), automerge::ScalarValue::Str(me.into()));
        f.insert(
            "created_at".to_owned(),
            automerge::ScalarValue::Timestamp(1_700_000_000_000),
        );
        f.insert(
            "text".to_owned(),
            automerge::ScalarValue::Str("a kept promise ".repeat(13).into()),
        );
        f
    };
    let hash = journal.heads()[0];
    for _ in 0..runs {
        let started = Instant::now();
        let checker = Checker::new(journal.doc_mut(), jid);
        checker
            .check_local_entry("ffffffffffffffffffffffffffffffff", &fields, me)
            .unwrap();
        std::hint::black_box(key.sign(&jid, &hash));
        times.push(started.elapsed());
    }
    times.sort();
    let heads = journal.heads();
    let e = NewEntry {
        id: "f".repeat(32),
        author_id: me.to_owned(),
        text: "a kept promise ".repeat(13),
        kind: Kind::Entry,
        ..Default::default()
    };
    journal.add_entry(&e, Utc::now()).unwrap();
    let signed = journal.signed_changes_since(&heads).unwrap().len();
    let plain = journal.changes_since(&heads).len();
    (times[times.len() / 2], signed - plain)
}
