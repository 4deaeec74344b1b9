//! The reading commands' answers, computed from the entries the device may read, the same
//! whoever computes them: the command itself from the read index, or a running `mend serve`
//! from the copy it keeps in memory (the command then only renders what it is sent).

use mend_journal::{
    as_rows, is_threaded, promise_records, responses_to, shown_under_its_target, Entry, Filter,
    Kind,
};
use serde::{Deserialize, Serialize};

/// A question a reading command asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Query {
    /// The timeline: entries in their own right, newest first, each with its thread (replies,
    /// receipts, promise events). With a kind in the filter, entries of that kind whether
    /// threaded or not.
    Timeline(Filter),
    /// The matching entries, newest first, each on its own (`list --json`, `search`).
    Entries(Filter),
}

/// A promise's record so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub kept: usize,
    pub missed: usize,
    pub confirmed: usize,
}

/// An entry of the timeline with what answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threaded {
    #[serde(with = "as_rows::one")]
    pub entry: Entry,
    /// For a promise, its record.
    pub totals: Option<Totals>,
    /// What refers to it, oldest first.
    #[serde(with = "as_rows")]
    pub responses: Vec<Entry>,
}

/// What a [`Query`] finds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Answer {
    Timeline(Vec<Threaded>),
    Entries(#[serde(with = "as_rows")] Vec<Entry>),
}

/// [`Threaded`], borrowed from the entries it was found in; encodes as a [`Threaded`].
#[derive(Debug, Serialize)]
pub struct ThreadedRef<'a> {
    #[serde(serialize_with = "as_rows::one::serialize")]
    pub entry: &'a Entry,
    pub totals: Option<Totals>,
    #[serde(serialize_with = "as_rows::serialize_refs")]
    pub responses: Vec<&'a Entry>,
}

/// [`Answer`], borrowed from the entries it was found in; encodes as an [`Answer`].
#[derive(Debug, Serialize)]
pub enum AnswerRef<'a> {
    Timeline(Vec<ThreadedRef<'a>>),
    Entries(#[serde(serialize_with = "as_rows::serialize_refs")] Vec<&'a Entry>),
}

impl AnswerRef<'_> {
    pub fn to_owned(&self) -> Answer {
        let owned = |v: &[&Entry]| v.iter().map(|e| (*e).clone()).collect();
        match self {
            AnswerRef::Entries(v) => Answer::Entries(owned(v)),
            AnswerRef::Timeline(v) => Answer::Timeline(
                v.iter()
                    .map(|t| Threaded {
                        entry: t.entry.clone(),
                        totals: t.totals,
                        responses: owned(&t.responses),
                    })
                    .collect(),
            ),
        }
    }
}

impl Answer {
    /// The same answer, by reference.
    pub fn as_refs(&self) -> AnswerRef<'_> {
        match self {
            Answer::Entries(v) => AnswerRef::Entries(v.iter().collect()),
            Answer::Timeline(v) => AnswerRef::Timeline(
                v.iter()
                    .map(|t| ThreadedRef {
                        entry: &t.entry,
                        totals: t.totals,
                        responses: t.responses.iter().collect(),
                    })
                    .collect(),
            ),
        }
    }
}

/// Answer `query` over `all`, the entries this device may read (see
/// [`crate::device::all_entries`]).
pub fn answer(all: &[Entry], query: &Query) -> Answer {
    let all: Vec<&Entry> = all.iter().collect();
    answer_refs(&all, query).to_owned()
}

/// [`answer`], borrowing from the entries of `all`.
pub fn answer_refs<'a>(all: &[&'a Entry], query: &Query) -> AnswerRef<'a> {
    match query {
        Query::Entries(filter) => AnswerRef::Entries(filter.select(all.iter().copied())),
        Query::Timeline(filter) => {
            let top = filter.select(
                all.iter()
                    .copied()
                    .filter(|e| filter.kind.is_some() || !is_threaded(e)),
            );
            let promises = if top.iter().any(|e| e.kind == Kind::Promise) {
                promise_records(all.iter().copied())
            } else {
                Vec::new()
            };
            // What refers to what, gathered once when many threads are wanted.
            let mut threads: std::collections::HashMap<&str, Vec<&Entry>> = Default::default();
            let many = top.len() > 64;
            if many {
                for e in all.iter().copied().filter(|e| shown_under_its_target(e)) {
                    if let Some(r) = e.extra.refers_to.as_deref() {
                        threads.entry(r).or_default().push(e);
                    }
                }
                for v in threads.values_mut() {
                    v.sort_by_key(|e| (e.created_at, e.written_at));
                }
            }
            let thread = |id: &str| -> Vec<&'a Entry> {
                if many {
                    threads.get(id).cloned().unwrap_or_default()
                } else {
                    responses_to(all.iter().copied(), id)
                        .into_iter()
                        .filter(|e| shown_under_its_target(e))
                        .collect()
                }
            };
            AnswerRef::Timeline(
                top.into_iter()
                    .map(|e| ThreadedRef {
                        entry: e,
                        totals: promises
                            .iter()
                            .find(|r| r.promise.id == e.id)
                            .map(|r| Totals {
                                kept: r.total.kept,
                                missed: r.total.missed,
                                confirmed: r.total.confirmed,
                            }),
                        responses: thread(&e.id),
                    })
                    .collect(),
            )
        }
    }
}
