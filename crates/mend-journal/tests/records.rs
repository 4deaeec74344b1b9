//! Records that cannot inflate: whatever path the events came by (a local command, an import, a
//! partner's modified program through sync), the counts hold only what happened once.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mend_journal::{promise_records, trends, unacknowledged, Entry, Extra, Kind};

fn t(h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap() + Duration::hours(h)
}

fn entry(id: &str, by: &str, kind: Kind, at: DateTime<Utc>, refers: Option<&str>) -> Entry {
    Entry {
        id: id.into(),
        author: by.into(),
        author_id: by.into(),
        created_at: at,
        written_at: at,
        edited_at: None,
        text: String::new(),
        tags: Vec::new(),
        mood: None,
        kind,
        private: false,
        conflicting_texts: Vec::new(),
        extra: Extra {
            refers_to: refers.map(str::to_owned),
            ..Default::default()
        },
    }
}

#[test]
fn records_cannot_inflate_whatever_path_the_events_came_by() {
    let mut promise = entry("p", "alex", Kind::Promise, t(10), None);
    promise.extra.every = Some("day".into());
    let mut all = vec![promise];
    // Kept three times on one day, once the next day; a kept before the promise existed; one
    // dated a year ahead of its writing.
    for (id, h) in [("k1", 12), ("k2", 13), ("k3", 20), ("k4", 36), ("early", 2)] {
        all.push(entry(id, "alex", Kind::PromiseKept, t(h), Some("p")));
    }
    let mut ahead = entry("ahead", "alex", Kind::PromiseKept, t(24 * 365), Some("p"));
    ahead.written_at = t(40);
    all.push(ahead);
    // Sam confirms four times: two kept days can be confirmed, no more.
    for (id, h) in [("c1", 14), ("c2", 15), ("c3", 37), ("c4", 38)] {
        all.push(entry(id, "sam", Kind::PromiseConfirmed, t(h), Some("p")));
    }
    // A retracted promise with an event: neither is counted nor listed.
    let mut gone = entry("gone", "alex", Kind::Promise, t(1), None);
    gone.extra.retracted_at = Some(t(3));
    all.push(gone);
    all.push(entry("g1", "alex", Kind::PromiseKept, t(5), Some("gone")));

    let records = promise_records(&all);
    assert_eq!(records.len(), 1, "the retracted promise is not listed");
    let total = records[0].total;
    assert_eq!((total.kept, total.missed, total.confirmed), (2, 0, 2));
    let counted: Vec<&str> = records[0].events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(counted, ["k1", "c1", "k4", "c3"]);
    // Trends count the same events.
    let tr = trends(&all, t(40), 2);
    let kept: usize = tr.weeks.iter().map(|w| w.promises.kept).sum();
    let confirmed: usize = tr.weeks.iter().map(|w| w.promises.confirmed).sum();
    assert_eq!((kept, confirmed), (2, 2));
}

#[test]
fn one_answer_counts_per_request_and_answered_things_stop_waiting() {
    let mut all = vec![
        entry("ask", "sam", Kind::ReassuranceAsk, t(10), None),
        entry("g1", "alex", Kind::ReassuranceGive, t(11), Some("ask")),
        entry("g2", "alex", Kind::ReassuranceGive, t(30), Some("ask")),
        entry("sp", "sam", Kind::Promise, t(1), None),
        entry("sk", "sam", Kind::PromiseKept, t(2), Some("sp")),
        entry("ac", "alex", Kind::PromiseConfirmed, t(3), Some("sp")),
    ];
    all[4].extra.refers_to = Some("sp".into());
    let tr = trends(&all, t(40), 2);
    let answered: usize = tr.weeks.iter().map(|w| w.reassurance_answered).sum();
    assert_eq!(answered, 1, "two answers to one request count once");
    assert_eq!(
        tr.median_minutes_to_reassure,
        Some(60.0),
        "the first answer's wait"
    );
    // What Alex answered or confirmed no longer waits for a receipt.
    let waiting: Vec<&str> = unacknowledged(&all, "alex")
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert!(
        !waiting.contains(&"ask") && !waiting.contains(&"sp"),
        "{waiting:?}"
    );
}
