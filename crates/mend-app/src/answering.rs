//! The practices as actions: a shared entry written as this person, possibly answering another
//! (a reply, a receipt, a promise kept, missed or confirmed, reassurance given), with who may
//! answer what checked before anything is written. The journal's rules check the same again on
//! every device the change reaches (`mend_journal::rules`); this says it first, in words.

use chrono::{DateTime, Utc};
use mend_crypto::random_id_hex;
use mend_journal::{Entry, Kind, NewEntry};
use mend_store::{Doc, Store};

use crate::AppError;

/// Why an answer was not written.
#[derive(Debug, thiserror::Error)]
pub enum PracticeError {
    #[error("that entry was retracted")]
    Retracted,
    /// A receipt for one's own entry.
    #[error("that is your own entry")]
    OwnEntry,
    /// The entry answered is not of the kind the answer needs (`what`: "a promise").
    #[error("{id} is not {what}")]
    NotA { id: String, what: &'static str },
    #[error("you cannot confirm your own promise")]
    ConfirmOwnPromise,
    /// Kept or missed recorded by someone other than the one who promised.
    #[error("this is {author}'s promise")]
    NotYourPromise { author: String },
    /// Reassurance given for one's own request.
    #[error("this is your own request")]
    OwnRequest,
    /// What the record rules refuse ([`mend_journal::record_counts`]).
    #[error("{0}")]
    Record(mend_journal::RecordRefusal),
    #[error(transparent)]
    App(Box<AppError>),
}

impl<E: Into<AppError>> From<E> for PracticeError {
    fn from(e: E) -> Self {
        PracticeError::App(Box::new(e.into()))
    }
}

/// The kind an answer of `kind` needs to answer, and its name, if any.
fn answers_kind(kind: Kind) -> Option<(Kind, &'static str)> {
    match kind {
        Kind::PromiseKept | Kind::PromiseMissed | Kind::PromiseConfirmed => {
            Some((Kind::Promise, "a promise"))
        }
        Kind::ReassuranceGive => Some((Kind::ReassuranceAsk, "a request for reassurance")),
        _ => None,
    }
}

/// Whether person `me` may answer `target` with an entry of `kind`.
pub fn may_answer(kind: Kind, target: &Entry, me: &str) -> Result<(), PracticeError> {
    if let Some((needed, what)) = answers_kind(kind) {
        if target.kind != needed {
            return Err(PracticeError::NotA {
                id: target.short_id().to_owned(),
                what,
            });
        }
    }
    let mine = target.author_id == me;
    match kind {
        Kind::Reply if target.extra.retracted_at.is_some() => Err(PracticeError::Retracted),
        Kind::Receipt if mine => Err(PracticeError::OwnEntry),
        Kind::PromiseConfirmed if mine => Err(PracticeError::ConfirmOwnPromise),
        Kind::PromiseKept | Kind::PromiseMissed if !mine => Err(PracticeError::NotYourPromise {
            author: target.author.clone(),
        }),
        Kind::ReassuranceGive if mine => Err(PracticeError::OwnRequest),
        _ => Ok(()),
    }
}

/// Write `entry` to the shared journal as person `me`, answering the shared entry `target` (a
/// whole id) if given, once [`may_answer`] allows it: a fresh id, `me` as author, written now,
/// dated now unless it says otherwise. One change. Returns the new entry's id.
pub fn add_shared(
    store: &mut Store,
    me: &str,
    target: Option<&str>,
    mut entry: NewEntry,
    now: DateTime<Utc>,
) -> Result<String, PracticeError> {
    if entry.created_at == DateTime::<Utc>::default() {
        entry.created_at = now;
    }
    if let Some(id) = target {
        let t = store.journal(Doc::Shared).entry(id)?;
        may_answer(entry.kind, &t, me)?;
        // A record that would not count is not written: one kept or missed per period, no
        // second confirmation of one kept, no second receipt or answer.
        let shared = store.entries_current()?.0.shared;
        let held: Vec<&Entry> = mend_journal::responses_to(&shared, &t.id)
            .into_iter()
            .filter(|e| e.extra.retracted_at.is_none())
            .collect();
        mend_journal::record_counts(entry.kind, entry.created_at, now, me, &t, &held)
            .map_err(PracticeError::Record)?;
        entry.extra.refers_to = Some(t.id);
    }
    entry.id = random_id_hex()?;
    entry.author_id = me.to_owned();
    entry.written_at = now;
    store.commit(Doc::Shared, |j| j.add_entry(&entry, now))?;
    Ok(entry.id)
}
