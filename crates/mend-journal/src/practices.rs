//! The practices of rebuilding trust as queries over entries: promise records, receipts,
//! open requests for reassurance, reply threads.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde::Serialize;

use crate::{Entry, Kind};

/// Kept, missed and confirmed, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub kept: usize,
    pub missed: usize,
    pub confirmed: usize,
}

impl Tally {
    fn add(&mut self, kind: Kind) {
        match kind {
            Kind::PromiseKept => self.kept += 1,
            Kind::PromiseMissed => self.missed += 1,
            Kind::PromiseConfirmed => self.confirmed += 1,
            _ => {}
        }
    }
}

/// A promise and everything recorded about it.
#[derive(Debug, Clone, Serialize)]
pub struct PromiseRecord {
    pub promise: Entry,
    /// Kept / missed / confirmed events, oldest first.
    pub events: Vec<Entry>,
    pub total: Tally,
    /// Per ISO week (`2026-W47`), oldest first.
    pub weeks: BTreeMap<String, Tally>,
}

/// The ISO week of a moment, as `YYYY-Www`.
pub fn iso_week(t: chrono::DateTime<chrono::Utc>) -> String {
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The period of promise `promise` that an event dated `at` belongs to: its day (UTC) for a
/// daily promise, its ISO week for a weekly one, and the whole promise for one made once. At
/// most one kept or missed counts per period.
pub fn promise_period(promise: &Entry, at: chrono::DateTime<chrono::Utc>) -> String {
    match promise.extra.every.as_deref() {
        Some("day") => at.format("%Y-%m-%d").to_string(),
        Some("week") => iso_week(at),
        _ => "once".to_owned(),
    }
}

/// How far after its writing an event may be dated (clocks differ a little).
const EVENT_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

/// Why an event or an answer does not count, or may not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordRefusal {
    #[error("that promise was retracted")]
    Retracted,
    #[error("it is dated before the promise was made")]
    BeforePromise,
    #[error("it is dated after it was written")]
    Ahead,
    /// Kept or missed already recorded for this period (`period`: a day, a week, or "once").
    #[error("already recorded for {period}")]
    AlreadyRecorded { period: String },
    /// A confirmation with no kept event left to confirm.
    #[error("every time it was kept is confirmed already")]
    NothingToConfirm,
    /// A second receipt, or a second answer, by the same person to the same entry.
    #[error("already answered")]
    AlreadyAnswered,
}

/// Whether an entry of `kind` dated `at`, written `written` by person `by` in answer to
/// `target`, counts (and so may be written) given the answers to `target` already held. The
/// rule of every record: promise events only on a live promise, not before it was made nor
/// dated ahead of their writing, one kept or missed per period, no more confirmations than
/// times kept; one receipt and one reassurance per person per entry.
pub fn record_counts(
    kind: Kind,
    at: chrono::DateTime<chrono::Utc>,
    written: chrono::DateTime<chrono::Utc>,
    by: &str,
    target: &Entry,
    held: &[&Entry],
) -> Result<(), RecordRefusal> {
    let is_event = matches!(
        kind,
        Kind::PromiseKept | Kind::PromiseMissed | Kind::PromiseConfirmed
    );
    if is_event {
        if target.extra.retracted_at.is_some() {
            return Err(RecordRefusal::Retracted);
        }
        if at < target.created_at {
            return Err(RecordRefusal::BeforePromise);
        }
        if at > written + EVENT_AHEAD {
            return Err(RecordRefusal::Ahead);
        }
    }
    let mine = |k: &'static [Kind]| {
        held.iter()
            .filter(move |e| e.author_id == by && k.contains(&e.kind))
    };
    match kind {
        Kind::PromiseKept | Kind::PromiseMissed => {
            let period = promise_period(target, at);
            if mine(&[Kind::PromiseKept, Kind::PromiseMissed])
                .any(|e| promise_period(target, e.created_at) == period)
            {
                return Err(RecordRefusal::AlreadyRecorded { period });
            }
        }
        Kind::PromiseConfirmed => {
            let kept = held
                .iter()
                .filter(|e| e.kind == Kind::PromiseKept && e.author_id == target.author_id)
                .count();
            if mine(&[Kind::PromiseConfirmed]).count() >= kept {
                return Err(RecordRefusal::NothingToConfirm);
            }
        }
        Kind::Receipt | Kind::ReassuranceGive => {
            let same = if kind == Kind::Receipt {
                &[Kind::Receipt]
            } else {
                &[Kind::ReassuranceGive]
            };
            if mine(same).next().is_some() {
                return Err(RecordRefusal::AlreadyAnswered);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every promise not retracted with its record, newest promise first. Only what
/// [`record_counts`] allows is counted (and listed), taking events in the order they are
/// dated: a second kept for the same day, a confirmation with nothing left to confirm, an
/// event before the promise or dated ahead of its writing, from whatever path it came, is left
/// out.
pub fn promise_records<'a, I>(entries: I) -> Vec<PromiseRecord>
where
    I: IntoIterator<Item = &'a Entry>,
    I::IntoIter: Clone,
{
    let entries = entries.into_iter();
    let mut records: Vec<PromiseRecord> = entries
        .clone()
        .filter(|e| e.kind == Kind::Promise && e.extra.retracted_at.is_none())
        .map(|p| PromiseRecord {
            promise: p.clone(),
            events: Vec::new(),
            total: Tally::default(),
            weeks: BTreeMap::new(),
        })
        .collect();
    let mut events: Vec<&Entry> = entries
        .filter(|e| {
            matches!(
                e.kind,
                Kind::PromiseKept | Kind::PromiseMissed | Kind::PromiseConfirmed
            )
        })
        .filter(|e| e.extra.retracted_at.is_none())
        .collect();
    // Kept and missed first within a moment, so that a confirmation dated with its kept counts.
    events.sort_by_key(|e| (e.created_at, e.kind == Kind::PromiseConfirmed, e.written_at));
    for ev in events {
        let Some(r) = records
            .iter_mut()
            .find(|r| Some(&r.promise.id) == ev.extra.refers_to.as_ref())
        else {
            continue;
        };
        let held: Vec<&Entry> = r.events.iter().collect();
        if record_counts(
            ev.kind,
            ev.created_at,
            ev.written_at,
            &ev.author_id,
            &r.promise,
            &held,
        )
        .is_err()
        {
            continue;
        }
        r.total.add(ev.kind);
        r.weeks
            .entry(iso_week(ev.created_at))
            .or_default()
            .add(ev.kind);
        r.events.push(ev.clone());
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.promise.created_at));
    records
}

/// Entries by others that `me` has not acknowledged with a receipt yet, oldest first.
pub fn unacknowledged<'a>(entries: &'a [Entry], me: &str) -> Vec<&'a Entry> {
    // A receipt, reassurance given or a confirmation: each says it was heard (a reply does
    // not: the receipt is the practice of saying so).
    let heard: Vec<&str> = entries
        .iter()
        .filter(|e| e.author_id == me && e.extra.retracted_at.is_none())
        .filter(|e| {
            matches!(
                e.kind,
                Kind::Receipt | Kind::ReassuranceGive | Kind::PromiseConfirmed
            )
        })
        .filter_map(|e| e.extra.refers_to.as_deref())
        .collect();
    let mut out: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.author_id != me && !e.private && e.extra.retracted_at.is_none())
        .filter(|e| {
            !matches!(
                e.kind,
                Kind::Receipt
                    | Kind::PromiseKept
                    | Kind::PromiseMissed
                    | Kind::PromiseConfirmed
                    | Kind::ReassuranceGive
                    | Kind::Checkin
                    | crate::Kind::TogetherReveal
                    | crate::Kind::TogetherKey
                    | crate::Kind::Relay
            )
        })
        .filter(|e| !heard.contains(&e.id.as_str()))
        .collect();
    out.sort_by_key(|e| e.created_at);
    out
}

/// Requests for reassurance that nobody has answered yet, oldest first.
pub fn open_asks(entries: &[Entry]) -> Vec<&Entry> {
    let answered: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == Kind::ReassuranceGive)
        .filter_map(|e| e.extra.refers_to.as_deref())
        .collect();
    let mut out: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == Kind::ReassuranceAsk && !answered.contains(&e.id.as_str()))
        .collect();
    out.sort_by_key(|e| e.created_at);
    out
}

/// The entries that refer to `id` (replies, receipts, answers, promise events), oldest first.
pub fn responses_to<'a>(entries: impl IntoIterator<Item = &'a Entry>, id: &str) -> Vec<&'a Entry> {
    let mut out: Vec<&Entry> = entries
        .into_iter()
        .filter(|e| e.extra.refers_to.as_deref() == Some(id))
        .collect();
    out.sort_by_key(|e| (e.created_at, e.written_at));
    out
}

/// True for entries that refer to another and are shown under it in a thread. A second
/// reveal-together answer refers to the first, but it is an answer in its own right: it is
/// shown once, with its prompt, and not again under the first.
pub fn shown_under_its_target(e: &Entry) -> bool {
    e.extra.refers_to.is_some() && e.kind != Kind::TogetherAnswer
}

/// True for entries shown under the entry they refer to rather than on their own.
pub fn is_threaded(e: &Entry) -> bool {
    e.extra.refers_to.is_some()
        && matches!(
            e.kind,
            Kind::Reply
                | Kind::Receipt
                | Kind::PromiseKept
                | Kind::PromiseMissed
                | Kind::PromiseConfirmed
                | Kind::ReassuranceGive
        )
}

/// The sections of an acknowledgment, in the order the template asks them.
pub const ACKNOWLEDGMENT_SECTIONS: &[&str] = &[
    "What happened",
    "Its impact on you",
    "No excuses: what I own",
    "What I will do differently",
];

/// The guided template `mend write --kind acknowledgment` opens in the editor.
pub fn acknowledgment_template() -> String {
    ACKNOWLEDGMENT_SECTIONS
        .iter()
        .map(|s| format!("## {s}\n\n\n"))
        .collect()
}

/// The template's sections left empty (or removed) in `text`.
pub fn empty_sections(text: &str) -> Vec<&'static str> {
    ACKNOWLEDGMENT_SECTIONS
        .iter()
        .copied()
        .filter(|section| {
            let heading = format!("## {section}");
            let Some(at) = text.find(&heading) else {
                return true;
            };
            let body = &text[at + heading.len()..];
            let end = body.find("\n## ").unwrap_or(body.len());
            body[..end].trim().is_empty()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sections_are_found() {
        let t = acknowledgment_template();
        assert_eq!(empty_sections(&t).len(), 4);
        let filled = t.replacen(
            "## What happened\n",
            "## What happened\nI hid the messages.",
            1,
        );
        assert_eq!(empty_sections(&filled), &ACKNOWLEDGMENT_SECTIONS[1..]);
        assert_eq!(empty_sections("no headings at all").len(), 4);
    }
}

/// One reveal-together round: the first answer to a prompt, and the partner's answer to the
/// same round (if any).
#[derive(Debug, Clone)]
pub struct Round<'a> {
    pub first: &'a Entry,
    pub second: Option<&'a Entry>,
}

/// Every reveal-together round, oldest first.
pub fn together_rounds(entries: &[Entry]) -> Vec<Round<'_>> {
    let answers: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == crate::Kind::TogetherAnswer)
        .collect();
    let mut rounds: Vec<Round> = answers
        .iter()
        .filter(|e| e.extra.refers_to.is_none())
        .map(|first| Round {
            first,
            second: answers
                .iter()
                .copied()
                .filter(|a| a.extra.refers_to.as_deref() == Some(first.id.as_str()))
                .min_by_key(|a| (a.written_at, a.id.clone())),
        })
        .collect();
    rounds.sort_by_key(|r| r.first.written_at);
    rounds
}

/// One week of the trends.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WeekTrend {
    /// ISO week, `2026-W47`.
    pub week: String,
    /// Average check-in mood per person (name), for those who checked in.
    pub mood: BTreeMap<String, f64>,
    pub promises: Tally,
    pub reassurance_asked: usize,
    pub reassurance_answered: usize,
}

/// Weekly trends over a window, oldest week first.
#[derive(Debug, Clone, Serialize)]
pub struct Trends {
    pub people: Vec<String>,
    pub weeks: Vec<WeekTrend>,
    /// Median time from a request for reassurance to its answer, in minutes, over the window.
    pub median_minutes_to_reassure: Option<f64>,
}

/// The trends of the `weeks` weeks up to and including the one containing `now`.
pub fn trends(entries: &[Entry], now: chrono::DateTime<chrono::Utc>, weeks: usize) -> Trends {
    let mut labels: Vec<String> = (0..weeks)
        .map(|i| iso_week(now - chrono::Duration::weeks(i as i64)))
        .collect();
    labels.reverse();
    labels.dedup();
    let mut out: Vec<WeekTrend> = labels
        .iter()
        .map(|w| WeekTrend {
            week: w.clone(),
            ..Default::default()
        })
        .collect();
    let slot = |t| {
        let w = iso_week(t);
        labels.iter().position(|l| *l == w)
    };
    let mut moods: BTreeMap<(usize, String), (f64, usize)> = BTreeMap::new();
    let mut people: Vec<String> = Vec::new();
    // Promise events as the records count them; one answer per request (the first).
    let counted: std::collections::HashSet<String> = promise_records(entries.iter())
        .into_iter()
        .flat_map(|r| r.events.into_iter().map(|e| e.id))
        .collect();
    let mut first_answers: BTreeMap<&str, &Entry> = BTreeMap::new();
    for give in entries
        .iter()
        .filter(|e| e.kind == Kind::ReassuranceGive && e.extra.retracted_at.is_none())
    {
        if let Some(ask) = give.extra.refers_to.as_deref() {
            let first = first_answers.entry(ask).or_insert(give);
            if give.created_at < first.created_at {
                *first = give;
            }
        }
    }
    let is_first_answer = |e: &Entry| {
        e.extra
            .refers_to
            .as_deref()
            .and_then(|a| first_answers.get(a))
            .is_some_and(|f| f.id == e.id)
    };
    for e in entries.iter().filter(|e| e.extra.retracted_at.is_none()) {
        let Some(i) = slot(e.created_at) else {
            continue;
        };
        match e.kind {
            Kind::Checkin => {
                if let Some(m) = e.mood {
                    let acc = moods.entry((i, e.author.clone())).or_default();
                    acc.0 += f64::from(m);
                    acc.1 += 1;
                    if !people.contains(&e.author) {
                        people.push(e.author.clone());
                    }
                }
            }
            Kind::PromiseKept | Kind::PromiseMissed | Kind::PromiseConfirmed
                if counted.contains(&e.id) =>
            {
                out[i].promises.add(e.kind)
            }
            Kind::ReassuranceAsk => out[i].reassurance_asked += 1,
            Kind::ReassuranceGive if is_first_answer(e) => out[i].reassurance_answered += 1,
            _ => {}
        }
    }
    for ((i, who), (sum, n)) in moods {
        out[i].mood.insert(who, sum / n as f64);
    }
    people.sort();
    let mut waits: Vec<f64> = first_answers
        .values()
        .filter_map(|give| {
            let ask = entries
                .iter()
                .find(|a| Some(&a.id) == give.extra.refers_to.as_ref())?;
            slot(ask.created_at)?;
            Some((give.created_at - ask.created_at).num_seconds().max(0) as f64 / 60.0)
        })
        .collect();
    waits.sort_by(|a, b| a.total_cmp(b));
    let median = match waits.len() {
        0 => None,
        n if n % 2 == 1 => Some(waits[n / 2]),
        n => Some((waits[n / 2 - 1] + waits[n / 2]) / 2.0),
    };
    Trends {
        people,
        weeks: out,
        median_minutes_to_reassure: median,
    }
}
