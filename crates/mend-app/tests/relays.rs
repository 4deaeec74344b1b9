//! Remembering relays (`mend relay add|remove|list`) over a real store: what is refused writes
//! nothing, and relays stay out of what the reading commands list.

use chrono::Utc;
use mend_app::device::{all_entries, readable_entries, Journaled};
use mend_app::relays::{self, RELAYS_MAX};
use mend_app::AppError;
use mend_journal::{Kind, NewEntry};
use mend_store::Doc;

mod common;

fn addr(n: usize) -> String {
    format!("/ip4/198.51.100.{n}/tcp/4001/p2p/12D3KooWRelay{n}")
}

#[test]
fn relays_are_added_listed_and_removed_and_what_is_refused_writes_nothing() {
    let (_dir, mut store, alex) = common::alex_store();
    let now = Utc::now();
    let added = relays::add(&mut store, &alex.id, &format!("  {}\n", addr(1)), now).unwrap();
    assert_eq!(added.addr, addr(1), "surrounding whitespace is not kept");
    assert_eq!(added.added_by, "Alex");
    let heads = store.journal_mut(Doc::Shared).heads();
    let refusals = [
        ("/ip4/198.51.100.9/tcp/4001".to_owned(), "BadRelayAddr"),
        ("198.51.100.9:4001".to_owned(), "BadRelayAddr"),
        (format!("{} x", addr(9)), "BadRelayAddr"),
        (addr(1), "RelayKnown"),
    ];
    for (given, want) in refusals {
        let got = relays::add(&mut store, &alex.id, &given, now);
        let name = match &got {
            Err(AppError::BadRelayAddr { .. }) => "BadRelayAddr",
            Err(AppError::RelayKnown { by, .. }) if by == "Alex" => "RelayKnown",
            _ => "something else",
        };
        assert_eq!(name, want, "{given}: {got:?}");
        assert_eq!(store.journal_mut(Doc::Shared).heads(), heads, "{given}");
    }
    // Listed in the order they were added.
    for n in 2..=RELAYS_MAX {
        let later = now + chrono::Duration::seconds(n as i64);
        relays::add(&mut store, &alex.id, &addr(n), later).unwrap();
    }
    let heads = store.journal_mut(Doc::Shared).heads();
    assert!(matches!(
        relays::add(&mut store, &alex.id, &addr(99), now),
        Err(AppError::TooManyRelays { max: 16 })
    ));
    assert_eq!(store.journal_mut(Doc::Shared).heads(), heads);

    let entries = store.entries().unwrap();
    let listed = relays::relays(&entries.shared);
    let want: Vec<String> = (1..=RELAYS_MAX).map(addr).collect();
    assert_eq!(
        listed.iter().map(|r| r.addr.clone()).collect::<Vec<_>>(),
        want
    );
    assert_eq!(relays::relay_addrs(&entries.shared), want);
    assert_eq!(store.journal(Doc::Shared).relay_addrs(), want);

    // By address, then by the start of an id; unknown ones are refused.
    let removed = relays::remove(&mut store, &alex.id, &addr(3), now).unwrap();
    assert_eq!(removed.addr, addr(3));
    let by_id = &listed[4];
    let removed = relays::remove(&mut store, &alex.id, &by_id.id[..10], now).unwrap();
    assert_eq!(removed.addr, addr(5));
    let heads = store.journal_mut(Doc::Shared).heads();
    for unknown in [addr(3), addr(99), "zzzz".to_owned(), String::new()] {
        assert!(
            matches!(
                relays::remove(&mut store, &alex.id, &unknown, now),
                Err(AppError::UnknownRelay { .. })
            ),
            "{unknown:?}"
        );
    }
    assert_eq!(store.journal_mut(Doc::Shared).heads(), heads);
    let left = store.journal(Doc::Shared).relay_addrs();
    assert_eq!(left.len(), RELAYS_MAX - 2);
    assert!(!left.contains(&addr(3)) && !left.contains(&addr(5)));
    // Room again for one.
    relays::add(&mut store, &alex.id, &addr(3), now).unwrap();
}

#[test]
fn relays_are_kept_by_the_export_and_left_out_of_what_is_listed_and_counted() {
    let (_dir, mut store, alex) = common::alex_store();
    let now = Utc::now();
    let relay = relays::add(&mut store, &alex.id, &addr(1), now).unwrap();
    let words = NewEntry {
        text: "We talked".into(),
        kind: Kind::Entry,
        created_at: now,
        ..Default::default()
    };
    mend_app::actions::write(&mut store, &alex.id, words, false, now).unwrap();
    let docs = store.entries().unwrap();
    let jid = store.journal_id();
    let ids = |v: &[&mend_journal::Entry]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    let readable = readable_entries(docs.clone(), jid);
    assert_eq!(readable.len(), 1);
    assert_eq!(readable[0].text, "We talked");
    let kept = Journaled::new(docs.clone(), jid);
    assert_eq!(
        ids(&kept.readable()),
        ids(&readable.iter().collect::<Vec<_>>())
    );
    assert!(all_entries(&store)
        .unwrap()
        .iter()
        .any(|e| e.id == relay.id));
    let status = mend_app::status::status_of(&mut store, &alex.id, "", &docs).unwrap();
    assert_eq!(status.shared_entries, 1);
    assert_eq!(status.by_author.get("Alex"), Some(&1));
}

#[test]
fn an_import_that_would_make_more_than_16_relays_remembered_is_refused_whole() {
    let (_dir, mut store, alex) = common::alex_store();
    let now = Utc::now();
    for n in 1..=10 {
        relays::add(&mut store, &alex.id, &addr(n), now).unwrap();
    }
    let heads = store.journal_mut(Doc::Shared).heads();
    let import: Vec<NewEntry> = (11..=17)
        .map(|n| NewEntry {
            id: format!("relay{n}"),
            author_id: alex.id.clone(),
            created_at: now,
            written_at: now,
            text: addr(n),
            kind: Kind::Relay,
            ..Default::default()
        })
        .collect();
    match mend_app::actions::import(&mut store, &import, &[], now) {
        Err(mend_app::actions::ImportError::Refused(refused)) => {
            // 10 held + 6 = 16; the 7th (position 6) is past it.
            assert_eq!(refused.len(), 1, "{refused:?}");
            assert_eq!(refused[0].0, 6);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.journal_mut(Doc::Shared).heads(),
        heads,
        "nothing written"
    );
    // Six fit.
    mend_app::actions::import(&mut store, &import[..6], &[], now).unwrap();
    let entries = store.entries().unwrap();
    assert_eq!(relays::relays(&entries.shared).len(), 16);
}
