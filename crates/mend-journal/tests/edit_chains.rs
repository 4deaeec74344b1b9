//! A long chain of edits to entries this device holds already: what a partner's modified
//! program (or a partner who edits much and syncs seldom) sends. Each edit overwrites a value
//! held before the batch, so the rules look at the journal as the edit's author saw it; that
//! must cost each change what it does, not what the changes before it in the batch do.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Duration as Minutes;
use mend_journal::{ChangeHash, EntryEdit, Journal, Kind, NewEntry, SavedShared, Sig, Signer};

mod common;

const JID: [u8; 16] = [11; 16];

/// Alex's journal holding `n` entries of Sam's, and a chain of `n` signed changes of Sam's
/// laptop, each editing one of those entries and depending on the one before.
struct Chain {
    n: usize,
    /// Alex's journal before the chain arrives, saved (document, signatures).
    alex: (Vec<u8>, HashMap<ChangeHash, Sig>),
    alex_key: Signer,
    bytes: Vec<u8>,
    sigs: HashMap<ChangeHash, Sig>,
}

fn id(i: usize) -> String {
    format!("{i:032}")
}

fn edited(i: usize) -> String {
    format!("Sam's words {i}, edited")
}

fn sign_all(bytes: &[u8], key: &Signer) -> HashMap<ChangeHash, Sig> {
    mend_journal::split_changes(bytes)
        .unwrap()
        .iter()
        .map(|c| (c.hash(), key.sign(&JID, &c.hash())))
        .collect()
}

fn edit_chain(n: usize) -> Chain {
    let common::Pair {
        mut alex,
        mut sam,
        alex_key,
        sam_key,
        s,
        at,
    } = common::paired(JID, |_, _| {});
    // Sam's entries, imported as one change and synced to Alex.
    let heads = sam.heads();
    let entries: Vec<NewEntry> = (0..n)
        .map(|i| NewEntry {
            id: id(i),
            author_id: s.id.clone(),
            created_at: at,
            written_at: at,
            text: format!("Sam's words {i}"),
            kind: Kind::Entry,
            ..Default::default()
        })
        .collect();
    assert_eq!(sam.add_entries(&entries, at).unwrap(), n);
    let written = sam.changes_since(&heads);
    let admission = alex
        .apply_signed(&written, &sign_all(&written, &sam_key))
        .unwrap();
    assert!(admission.refused.is_empty(), "{:?}", admission.refused);
    // Then each entry edited once, one change each: every change depends on the one before.
    let heads = sam.heads();
    for i in 0..n {
        let edit = EntryEdit {
            text: Some(edited(i)),
            ..Default::default()
        };
        let now = at + Minutes::minutes(1 + i as i64);
        sam.edit_entry(&id(i), &s.id, &edit, now).unwrap();
    }
    let bytes = sam.changes_since(&heads);
    let sigs = sign_all(&bytes, &sam_key);
    assert_eq!(sigs.len(), n);
    let saved = SavedShared::decode(&alex.save_signed()).unwrap();
    Chain {
        n,
        alex: (saved.doc, saved.signatures),
        alex_key,
        bytes,
        sigs,
    }
}

/// Alex's laptop checks and applies the chain in one batch: how long that took. Every edit is
/// accepted.
fn check(chain: &Chain) -> Duration {
    let (doc, sigs) = &chain.alex;
    let mut alex = Journal::load(doc, sigs.clone(), vec![], &chain.alex_key, JID, false).unwrap();
    let started = Instant::now();
    let admission = alex.apply_signed(&chain.bytes, &chain.sigs).unwrap();
    let took = started.elapsed();
    assert!(admission.refused.is_empty(), "{:?}", admission.refused);
    assert_eq!(admission.applied, chain.n);
    for i in [0, chain.n / 2, chain.n - 1] {
        assert_eq!(alex.entry(&id(i)).unwrap().text, edited(i));
    }
    took
}

fn best_of_three(chain: &Chain) -> Duration {
    (0..3).map(|_| check(chain)).min().unwrap()
}

#[test]
fn a_long_chain_of_edits_to_held_entries_is_checked_in_linear_time() {
    let (short, long) = (edit_chain(200), edit_chain(2000));
    let (short, long) = (best_of_three(&short), best_of_three(&long));
    println!("edit chain: 200 changes {short:?}, 2,000 changes {long:?}");
    // Ten times the chain, less than twenty times the time (the best of three of each, against
    // noise): an edit's view of the journal is not found by walking back through the batch.
    // (Before, it was, for each edit: in release 200 changes took 19 ms, 2,000 0.87 s, 46
    // times as long, and 8,000 15 s; now 14 ms, 0.14 s and 0.65 s.)
    assert!(
        long < short * 20,
        "2,000 changes took {long:?}, 200 took {short:?}"
    );
}

/// The same at 8,000 changes, timed once:
/// `cargo test --release -p mend-journal --test edit_chains -- --include-ignored --nocapture`.
#[test]
#[ignore = "a measurement; run in release"]
fn a_chain_of_8000_edits_is_timed() {
    let chain = edit_chain(8000);
    let took = check(&chain);
    println!("edit chain: 8,000 changes {took:?}");
}
