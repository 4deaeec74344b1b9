//! The reading commands' answers, over a real store.

use chrono::{Duration, Utc};
use mend_app::actions::write;
use mend_app::device::{readable_entries, Journaled};
use mend_app::queries::{answer, answer_refs, Answer, Query};
use mend_journal::{Entry, Extra, Filter, Kind, NewEntry};
use mend_store::Doc;

mod common;

/// The view kept beside the stored entries (no second copy) reads as the copied view does:
/// answers this device may open are opened, the others have no text, keys are left out.
#[test]
fn the_view_beside_the_entries_is_the_copied_view() {
    let (_dir, mut store, alex) = common::alex_store();
    let prompt = &mend_journal::all_prompts()[0].id;
    let now = Utc::now();
    write(
        &mut store,
        &alex.id,
        entry("before", Kind::Entry, now),
        false,
        now,
    )
    .unwrap();
    let (mine, _) = mend_app::together::answer(&mut store, &alex.id, prompt, "my answer").unwrap();
    // An answer sealed under a key this device never had.
    let stranger = NewEntry {
        id: "f".repeat(32),
        author_id: alex.id.clone(),
        kind: Kind::TogetherAnswer,
        extra: Extra {
            prompt: Some(mend_journal::all_prompts()[1].id.clone()),
            sealed: Some("00".repeat(40)),
            ..Default::default()
        },
        ..entry("", Kind::TogetherAnswer, now)
    };
    store
        .commit(Doc::Shared, |j| j.add_entry(&stranger, now))
        .unwrap();
    write(
        &mut store,
        &alex.id,
        entry("private", Kind::Entry, now),
        true,
        now,
    )
    .unwrap();
    let docs = store.entries().unwrap();
    let jid = store.journal_id();
    let copied = readable_entries(docs.clone(), jid);
    let kept = Journaled::new(docs, jid);
    let view: Vec<Entry> = kept.readable().into_iter().cloned().collect();
    assert_eq!(view, copied);
    let texts: Vec<(&str, &str)> = view
        .iter()
        .map(|e| (e.id.as_str(), e.text.as_str()))
        .collect();
    assert!(texts.contains(&(mine.as_str(), "my answer")), "{texts:?}");
    assert!(view
        .iter()
        .any(|e| e.id == stranger.id && e.text.is_empty()));
    assert!(view.iter().all(|e| e.kind != Kind::TogetherKey));
}

fn entry(text: &str, kind: Kind, at: chrono::DateTime<Utc>) -> NewEntry {
    NewEntry {
        text: text.into(),
        kind,
        created_at: at,
        ..Default::default()
    }
}

/// The timeline puts each entry's thread under it, and a promise's record; a filter by kind
/// lists threaded entries on their own; the answers borrowed and copied are the same.
#[test]
fn the_timeline_threads_replies_and_counts_promises() {
    let (_dir, mut store, alex) = common::alex_store();
    let t0 = Utc::now() - Duration::hours(3);
    let first = write(
        &mut store,
        &alex.id,
        entry("first", Kind::Entry, t0),
        false,
        t0,
    )
    .unwrap();
    let promise = write(
        &mut store,
        &alex.id,
        entry("call at noon", Kind::Promise, t0 + Duration::hours(1)),
        false,
        t0,
    )
    .unwrap();
    let kept = NewEntry {
        extra: Extra {
            refers_to: Some(promise.clone()),
            ..Default::default()
        },
        ..entry("", Kind::PromiseKept, t0 + Duration::hours(2))
    };
    // Written now, dated an hour ago (an event is never dated after it was written).
    write(&mut store, &alex.id, kept, false, Utc::now()).unwrap();
    let reply = NewEntry {
        extra: Extra {
            refers_to: Some(first.clone()),
            ..Default::default()
        },
        ..entry("a reply", Kind::Reply, t0 + Duration::hours(2))
    };
    write(&mut store, &alex.id, reply, false, t0).unwrap();
    let all = readable_entries(store.entries().unwrap(), store.journal_id());

    let Answer::Timeline(top) = answer(&all, &Query::Timeline(Filter::default())) else {
        panic!("a timeline was asked for");
    };
    let ids: Vec<&str> = top.iter().map(|t| t.entry.id.as_str()).collect();
    assert_eq!(ids, vec![promise.as_str(), first.as_str()]);
    assert_eq!(top[0].totals.map(|t| (t.kept, t.missed)), Some((1, 0)));
    assert_eq!(top[1].responses.len(), 1);
    assert_eq!(top[1].responses[0].text, "a reply");
    assert!(top[1].totals.is_none());

    let by_kind = Filter {
        kind: Some(Kind::PromiseKept),
        ..Default::default()
    };
    let Answer::Timeline(kept) = answer(&all, &Query::Timeline(by_kind)) else {
        panic!("a timeline was asked for");
    };
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].entry.kind, Kind::PromiseKept);

    let refs: Vec<&Entry> = all.iter().collect();
    let q = Query::Entries(Filter {
        words: vec!["CALL".into()],
        ..Default::default()
    });
    assert_eq!(answer_refs(&refs, &q).to_owned(), answer(&all, &q));
    let Answer::Entries(found) = answer(&all, &q) else {
        panic!("entries were asked for");
    };
    assert_eq!(found.len(), 1);
}

/// An answer survives the trip over the home's socket (postcard) field for field.
#[test]
fn an_answer_reads_back_as_it_was_sent() {
    let now = Utc::now();
    let e = Entry {
        id: "a".repeat(32),
        author: "Alex".into(),
        author_id: "b".repeat(32),
        created_at: now,
        written_at: now - Duration::seconds(5),
        edited_at: Some(now),
        text: "Ça va… \u{1b}[31m".into(),
        tags: vec!["us".into(), "trust".into()],
        mood: Some(3),
        kind: Kind::Checkin,
        private: true,
        conflicting_texts: vec!["other".into()],
        extra: Extra {
            refers_to: Some("c".repeat(32)),
            every: Some("day".into()),
            until: Some(now + Duration::days(3)),
            feelings: vec!["calm".into()],
            shared_at: Some(now),
            retracted_at: Some(now),
            retracted_by: Some("Sam".into()),
            prompt: Some("p".into()),
            sealed: Some("00ff".into()),
        },
    };
    let mut plain = e.clone();
    plain.edited_at = None;
    plain.mood = None;
    plain.tags.clear();
    plain.conflicting_texts.clear();
    plain.extra = Extra::default();
    let sent = Answer::Timeline(vec![mend_app::queries::Threaded {
        entry: e.clone(),
        totals: None,
        responses: vec![e.clone(), plain],
    }]);
    let bytes = postcard::to_allocvec(&sent).unwrap();
    let back: Answer = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, sent);
}
