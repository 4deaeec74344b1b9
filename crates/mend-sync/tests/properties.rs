//! Property tests: random interleavings of writes, edits, private entries, restarts and syncs
//! across three devices always converge to the same journal, and no acknowledged entry is lost.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use mend_journal::{EntryEdit, Journal, NewEntry, Person, SyncState, KIND_ENTRY};
use mend_sync::{respond, Step, SyncSession};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Write { device: usize, private: bool },
    Edit { device: usize, pick: usize },
    Restart { device: usize },
    Sync { from: usize, to: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, any::<bool>()).prop_map(|(device, private)| Op::Write { device, private: private && device % 2 == 0 }),
        2 => (0..3usize, 0..64usize).prop_map(|(device, pick)| Op::Edit { device, pick }),
        1 => (0..3usize).prop_map(|device| Op::Restart { device }),
        3 => (0..3usize, 0..3usize).prop_filter("two devices", |(a, b)| a != b).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

struct Device {
    shared: Journal,
    private: Journal,
    /// Saved sync states, by peer, for both roles.
    states: BTreeMap<(usize, bool), Vec<u8>>,
    actor: [u8; 16],
    person: Person,
}

fn person(i: usize) -> Person {
    // Devices 0 and 1 belong to Alex, device 2 to Sam.
    if i < 2 {
        Person {
            id: "a".repeat(32),
            name: "Alex".into(),
        }
    } else {
        Person {
            id: "s".repeat(32),
            name: "Sam".into(),
        }
    }
}

fn at(n: usize) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(n as i64)
}

fn sync(devices: &mut [Device], from: usize, to: usize) {
    let saved = devices[from].states.get(&(to, true)).cloned();
    let mut session = SyncSession::new(saved.as_deref());
    let mut answer_state = devices[to]
        .states
        .get(&(from, false))
        .and_then(|b| SyncState::decode(b).ok())
        .unwrap_or_default();
    let (a, b) = if from < to {
        let (l, r) = devices.split_at_mut(to);
        (&mut l[from], &mut r[0])
    } else {
        let (l, r) = devices.split_at_mut(from);
        (&mut r[0], &mut l[to])
    };
    loop {
        match session.step(&mut a.shared).unwrap() {
            Step::Done => break,
            Step::Send(m) => {
                let reply = respond(&mut b.shared, &mut answer_state, &m).unwrap();
                session.on_reply(&mut a.shared, &reply).unwrap();
            }
        }
    }
    a.states.insert((to, true), session.saved_state());
    b.states.insert((from, false), answer_state.encode());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_converges_and_loses_nothing(ops in proptest::collection::vec(op(), 1..40)) {
        let founder = person(0);
        let first = Journal::create("jid", &founder, &[1; 16], false, at(0)).unwrap();
        let seed = first.clone_bytes();
        let mut devices: Vec<Device> = (0..3)
            .map(|i| {
                let actor = [i as u8 + 1; 16];
                let mut shared = if i == 0 {
                    Journal::load(&seed, &actor, false).unwrap()
                } else {
                    Journal::empty(&actor, false)
                };
                if i > 0 {
                    shared.apply_changes(&seed).unwrap();
                }
                let p = person(i);
                shared.add_person(&p, at(0)).unwrap();
                Device {
                    private: Journal::create("jid", &p, &actor, true, at(0)).unwrap(),
                    shared,
                    states: BTreeMap::new(),
                    actor,
                    person: p,
                }
            })
            .collect();
        // What each acknowledged write said, and where it lives.
        let mut written: Vec<(String, usize, bool)> = Vec::new();
        for (n, op) in ops.iter().enumerate() {
            match op.clone() {
                Op::Write { device, private } => {
                    let d = &mut devices[device];
                    let e = NewEntry {
                        id: format!("e{n:03}d{device}"),
                        author_id: d.person.id.clone(),
                        created_at: at(n),
                        written_at: at(n),
                        text: format!("entry {n} on device {device}"),
                        kind: KIND_ENTRY.into(),
                        ..Default::default()
                    };
                    let j = if private { &mut d.private } else { &mut d.shared };
                    j.add_entry(&e, at(n)).unwrap();
                    written.push((e.id, device, private));
                }
                Op::Edit { device, pick } => {
                    let d = &mut devices[device];
                    let ids = d.shared.entry_ids().unwrap();
                    if ids.is_empty() { continue; }
                    let id = &ids[pick % ids.len()];
                    let edit = EntryEdit { text: Some(format!("edited at {n}")), ..Default::default() };
                    // Only the author may edit: others are refused and change nothing.
                    let heads = d.shared.heads();
                    if d.shared.edit_entry(id, &d.person.id, &edit, at(n)).is_err() {
                        d.shared.rollback();
                        prop_assert_eq!(d.shared.heads(), heads);
                    }
                }
                Op::Restart { device } => {
                    let d = &mut devices[device];
                    let shared = d.shared.save();
                    let private = d.private.save();
                    d.shared = Journal::load(&shared, &d.actor, false).unwrap();
                    d.private = Journal::load(&private, &d.actor, true).unwrap();
                }
                Op::Sync { from, to } => sync(&mut devices, from, to),
            }
        }
        // Bring everyone together: a ring of syncs, twice.
        for _ in 0..2 {
            sync(&mut devices, 0, 1);
            sync(&mut devices, 1, 2);
            sync(&mut devices, 2, 0);
        }
        let reference = {
            let mut e = devices[0].shared.entries().unwrap();
            e.sort_by(|a, b| a.id.cmp(&b.id));
            e
        };
        for d in &devices {
            let mut e = d.shared.entries().unwrap();
            e.sort_by(|a, b| a.id.cmp(&b.id));
            prop_assert_eq!(&e, &reference);
        }
        for (id, device, private) in &written {
            if *private {
                prop_assert!(devices[*device].private.entry(id).is_ok());
                for (i, d) in devices.iter().enumerate() {
                    prop_assert!(d.shared.entry(id).is_err(), "private {} reached device {}", id, i);
                }
            } else {
                prop_assert!(reference.iter().any(|e| &e.id == id), "{} was lost", id);
            }
        }
    }
}
