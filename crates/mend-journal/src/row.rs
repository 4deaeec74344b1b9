//! An entry in a compact form for encodings that are not self-describing (postcard): every
//! field in a fixed order, moments as numbers. The read index stores entries this way, and the
//! home's local socket carries them so.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Entry, Extra};

/// A moment as seconds and nanoseconds since 1970 (exact for every `DateTime<Utc>`).
type Moment = (i64, u32);

fn moment(t: &DateTime<Utc>) -> Moment {
    (t.timestamp(), t.timestamp_subsec_nanos())
}

fn from_moment((secs, nanos): Moment) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, nanos)
}

/// An entry as the index holds it: every field in a fixed order (the encoding is not
/// self-describing) and moments as numbers. The conversions name every field of `Entry` and
/// `Extra`, so a field added there and not here fails to compile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryRow {
    pub id: String,
    author: String,
    author_id: String,
    created_at: Moment,
    written_at: Moment,
    edited_at: Option<Moment>,
    text: String,
    tags: Vec<String>,
    mood: Option<u8>,
    kind: String,
    private: bool,
    conflicting_texts: Vec<String>,
    refers_to: Option<String>,
    every: Option<String>,
    until: Option<Moment>,
    feelings: Vec<String>,
    shared_at: Option<Moment>,
    retracted_at: Option<Moment>,
    retracted_by: Option<String>,
    prompt: Option<String>,
    sealed: Option<String>,
}

/// An [`EntryRow`] borrowed from an entry: encodes to the same bytes without copying the
/// entry's strings (postcard writes a `&str` as it writes a `String`).
#[derive(Serialize)]
struct RowRef<'a> {
    id: &'a str,
    author: &'a str,
    author_id: &'a str,
    created_at: Moment,
    written_at: Moment,
    edited_at: Option<Moment>,
    text: &'a str,
    tags: &'a [String],
    mood: Option<u8>,
    kind: &'static str,
    private: bool,
    conflicting_texts: &'a [String],
    refers_to: Option<&'a str>,
    every: Option<&'a str>,
    until: Option<Moment>,
    feelings: &'a [String],
    shared_at: Option<Moment>,
    retracted_at: Option<Moment>,
    retracted_by: Option<&'a str>,
    prompt: Option<&'a str>,
    sealed: Option<&'a str>,
}

impl<'a> From<&'a Entry> for RowRef<'a> {
    fn from(e: &'a Entry) -> Self {
        let Entry {
            id,
            author,
            author_id,
            created_at,
            written_at,
            edited_at,
            text,
            tags,
            mood,
            kind,
            private,
            conflicting_texts,
            extra:
                Extra {
                    refers_to,
                    every,
                    until,
                    feelings,
                    shared_at,
                    retracted_at,
                    retracted_by,
                    prompt,
                    sealed,
                },
        } = e;
        let opt = |t: &Option<DateTime<Utc>>| t.as_ref().map(moment);
        RowRef {
            id,
            author,
            author_id,
            created_at: moment(created_at),
            written_at: moment(written_at),
            edited_at: opt(edited_at),
            text,
            tags,
            mood: *mood,
            kind: kind.as_str(),
            private: *private,
            conflicting_texts,
            refers_to: refers_to.as_deref(),
            every: every.as_deref(),
            until: opt(until),
            feelings,
            shared_at: opt(shared_at),
            retracted_at: opt(retracted_at),
            retracted_by: retracted_by.as_deref(),
            prompt: prompt.as_deref(),
            sealed: sealed.as_deref(),
        }
    }
}

impl From<&Entry> for EntryRow {
    fn from(e: &Entry) -> Self {
        let RowRef {
            id,
            author,
            author_id,
            created_at,
            written_at,
            edited_at,
            text,
            tags,
            mood,
            kind,
            private,
            conflicting_texts,
            refers_to,
            every,
            until,
            feelings,
            shared_at,
            retracted_at,
            retracted_by,
            prompt,
            sealed,
        } = RowRef::from(e);
        let owned = |s: Option<&str>| s.map(str::to_owned);
        EntryRow {
            id: id.to_owned(),
            author: author.to_owned(),
            author_id: author_id.to_owned(),
            created_at,
            written_at,
            edited_at,
            text: text.to_owned(),
            tags: tags.to_vec(),
            mood,
            kind: kind.to_owned(),
            private,
            conflicting_texts: conflicting_texts.to_vec(),
            refers_to: owned(refers_to),
            every: owned(every),
            until,
            feelings: feelings.to_vec(),
            shared_at,
            retracted_at,
            retracted_by: owned(retracted_by),
            prompt: owned(prompt),
            sealed: owned(sealed),
        }
    }
}

impl EntryRow {
    /// `None` if a moment is out of range (the index is then not used).
    pub fn into_entry(self) -> Option<Entry> {
        let opt = |m: Option<Moment>| m.map_or(Some(None), |m| from_moment(m).map(Some));
        Some(Entry {
            id: self.id,
            author: self.author,
            author_id: self.author_id,
            created_at: from_moment(self.created_at)?,
            written_at: from_moment(self.written_at)?,
            edited_at: opt(self.edited_at)?,
            text: self.text,
            tags: self.tags,
            mood: self.mood,
            kind: crate::Kind::parse(&self.kind)?,
            private: self.private,
            conflicting_texts: self.conflicting_texts,
            extra: Extra {
                refers_to: self.refers_to,
                every: self.every,
                until: opt(self.until)?,
                feelings: self.feelings,
                shared_at: opt(self.shared_at)?,
                retracted_at: opt(self.retracted_at)?,
                retracted_by: self.retracted_by,
                prompt: self.prompt,
                sealed: self.sealed,
            },
        })
    }
}

/// `#[serde(with = "mend_journal::as_rows")]` on a `Vec<Entry>` field: encoded as rows.
pub mod as_rows {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{EntryRow, RowRef};
    use crate::Entry;

    pub fn serialize<S: Serializer>(entries: &[Entry], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(entries.iter().map(RowRef::from))
    }

    /// For a `Vec<&Entry>` field (serializing only).
    pub fn serialize_refs<S: Serializer>(entries: &[&Entry], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(entries.iter().map(|e| RowRef::from(*e)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Entry>, D::Error> {
        Vec::<EntryRow>::deserialize(d)?
            .into_iter()
            .map(|r| {
                r.into_entry()
                    .ok_or_else(|| serde::de::Error::custom("an entry with a moment out of range"))
            })
            .collect()
    }

    /// For an `Entry` field.
    pub mod one {
        use super::*;

        pub fn serialize<S: Serializer>(e: &Entry, s: S) -> Result<S::Ok, S::Error> {
            RowRef::from(e).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Entry, D::Error> {
            EntryRow::deserialize(d)?
                .into_entry()
                .ok_or_else(|| serde::de::Error::custom("an entry with a moment out of range"))
        }
    }
}
