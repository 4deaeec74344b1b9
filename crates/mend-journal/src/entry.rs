//! What an entry is.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an entry is. Stored in the document and in exports as its name (`as_str`); an entry
/// without a kind is a plain [`Kind::Entry`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum Kind {
    /// The plain kind of entry.
    #[default]
    #[serde(rename = "entry")]
    Entry,
    /// Acknowledging a mistake fully, written from a guided template.
    #[serde(rename = "acknowledgment")]
    Acknowledgment,
    /// A reply to another entry (its own entry, by its own author).
    #[serde(rename = "reply")]
    Reply,
    /// "I hear you": a receipt for another entry.
    #[serde(rename = "receipt")]
    Receipt,
    /// A promise, possibly recurring.
    #[serde(rename = "promise")]
    Promise,
    /// The one who promised kept it (this time).
    #[serde(rename = "promise-kept")]
    PromiseKept,
    /// The one who promised missed it (this time), recorded honestly.
    #[serde(rename = "promise-missed")]
    PromiseMissed,
    /// The partner saw the promise kept.
    #[serde(rename = "promise-confirmed")]
    PromiseConfirmed,
    /// Asking for reassurance.
    #[serde(rename = "reassurance-ask")]
    ReassuranceAsk,
    /// Giving the reassurance asked for.
    #[serde(rename = "reassurance-give")]
    ReassuranceGive,
    /// A check-in: mood, feelings, a note.
    #[serde(rename = "checkin")]
    Checkin,
    /// A reveal-together answer, sealed under its own key until both partners have answered.
    #[serde(rename = "together-answer")]
    TogetherAnswer,
    /// The key of one's own reveal-together answer (private journal only, never synced).
    #[serde(rename = "together-key")]
    TogetherKey,
    /// A published answer key: both have answered, so both may read both.
    #[serde(rename = "together-reveal")]
    TogetherReveal,
    /// A relay the partners' laptops reach each other through: its text is the relay's
    /// multiaddr. Configuration, not writing: no list, search or count shows it.
    #[serde(rename = "relay")]
    Relay,
}

impl Kind {
    /// Every kind this build writes.
    pub const ALL: [Kind; 15] = [
        Kind::Entry,
        Kind::Acknowledgment,
        Kind::Reply,
        Kind::Receipt,
        Kind::Promise,
        Kind::PromiseKept,
        Kind::PromiseMissed,
        Kind::PromiseConfirmed,
        Kind::ReassuranceAsk,
        Kind::ReassuranceGive,
        Kind::Checkin,
        Kind::TogetherAnswer,
        Kind::TogetherKey,
        Kind::TogetherReveal,
        Kind::Relay,
    ];

    /// Its name in the document and in exports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Entry => "entry",
            Kind::Acknowledgment => "acknowledgment",
            Kind::Reply => "reply",
            Kind::Receipt => "receipt",
            Kind::Promise => "promise",
            Kind::PromiseKept => "promise-kept",
            Kind::PromiseMissed => "promise-missed",
            Kind::PromiseConfirmed => "promise-confirmed",
            Kind::ReassuranceAsk => "reassurance-ask",
            Kind::ReassuranceGive => "reassurance-give",
            Kind::Checkin => "checkin",
            Kind::TogetherAnswer => "together-answer",
            Kind::TogetherKey => "together-key",
            Kind::TogetherReveal => "together-reveal",
            Kind::Relay => "relay",
        }
    }

    /// The kind with this name, if this build knows it.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Kinds whose text may be empty (the act itself says it).
    pub fn text_optional(self) -> bool {
        matches!(
            self,
            Kind::Receipt
                | Kind::PromiseKept
                | Kind::PromiseMissed
                | Kind::PromiseConfirmed
                | Kind::Checkin
                | Kind::ReassuranceAsk
                | Kind::TogetherAnswer
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
/// Moods run from 1 (very low) to 5 (very good).
pub const MOOD_RANGE: RangeInclusive<u8> = 1..=5;

/// A person who writes in the journal (one of the two partners).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

/// An entry as read from the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// The author's name.
    pub author: String,
    pub author_id: String,
    /// The moment the entry is about (may be backdated).
    pub created_at: DateTime<Utc>,
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// When it was last edited, if ever.
    #[serde(default)]
    pub edited_at: Option<DateTime<Utc>>,
    pub text: String,
    pub tags: Vec<String>,
    pub mood: Option<u8>,
    pub kind: Kind,
    pub private: bool,
    /// Other versions of the text, kept because two devices edited the entry at once.
    /// Empty when there is no conflict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_texts: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What entries of some kinds carry besides text (absent for a plain entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    /// The entry this one answers, acknowledges or updates (replies, receipts, promise events,
    /// reassurance given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refers_to: Option<String>,
    /// How often a promise recurs: "day" or "week".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Until when a promise runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Feelings named in a check-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feelings: Vec<String>,
    /// When a private entry was shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_at: Option<DateTime<Utc>>,
    /// When and by whom (name) a shared entry was retracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retracted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retracted_by: Option<String>,
    /// The prompt this entry answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A reveal-together answer still sealed under its own key (hex), when this device cannot
    /// open it yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl Entry {
    /// The id's first 8 characters (cut on a character boundary, whatever the id holds).
    pub fn short_id(&self) -> &str {
        let end = self
            .id
            .char_indices()
            .nth(8)
            .map_or(self.id.len(), |(i, _)| i);
        &self.id[..end]
    }
    pub fn has_conflict(&self) -> bool {
        !self.conflicting_texts.is_empty()
    }
}

/// A new entry, ready to be added.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewEntry {
    pub id: String,
    pub author_id: String,
    pub created_at: DateTime<Utc>,
    pub written_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub text: String,
    pub tags: Vec<String>,
    pub mood: Option<u8>,
    pub kind: Kind,
    pub extra: Extra,
}

/// A change to an existing entry; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryEdit {
    pub text: Option<String>,
    pub tags: Option<Vec<String>>,
    pub mood: Option<Option<u8>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A device paired with the journal, keyed by its public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The device's ed25519 public key, hex.
    pub key: String,
    pub person_id: String,
    /// The name of the person it belongs to.
    pub person: String,
    /// The device's own name.
    pub name: String,
    pub added_at: DateTime<Utc>,
    /// The name of the person who added it.
    pub added_by: String,
    /// Set once the device has been removed from the journal.
    #[serde(default)]
    pub removed: Option<Removal>,
}

/// When and by whom a device was removed from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub at: DateTime<Utc>,
    /// The name of the person who removed it.
    pub by: String,
    pub by_person_id: String,
    /// The key (hex) of the device that removed it.
    pub by_device: String,
    /// Removed because the person who removed it ended the partnership (`mend uncouple`).
    #[serde(default)]
    pub uncoupled: bool,
}

/// One version of an entry's text, from the document's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub text: String,
    /// The Automerge actor (hex) of the device that wrote it: the first 16 bytes of its key.
    pub actor: String,
    pub at: DateTime<Utc>,
    /// What the change was ("write", "edit", "retract", "import", ...).
    pub action: String,
    /// The key (hex) of the device whose signature of the change was checked now; `None` for
    /// history from before signed changes, which carries no signature.
    #[serde(default)]
    pub signed_by: Option<String>,
}

/// What a sync brought to entries: how many are new, edited, retracted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrivals {
    pub new: usize,
    pub edited: usize,
    pub retracted: usize,
    /// The new entries' ids (not for a first sync, which brings the whole journal).
    #[serde(skip)]
    pub new_ids: Vec<String>,
}

impl Arrivals {
    /// "2 new entries, 1 edited, 1 retracted" (the parts that are not zero; "no entries" if
    /// none is).
    pub fn words(&self) -> String {
        let mut parts = Vec::new();
        if self.new > 0 {
            parts.push(format!(
                "{} new {}",
                self.new,
                if self.new == 1 { "entry" } else { "entries" }
            ));
        }
        if self.edited > 0 {
            parts.push(format!("{} edited", self.edited));
        }
        if self.retracted > 0 {
            parts.push(format!("{} retracted", self.retracted));
        }
        if parts.is_empty() {
            "no entries".to_owned()
        } else {
            parts.join(", ")
        }
    }
}
