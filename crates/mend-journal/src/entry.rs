//! What an entry is.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The plain kind of entry; later practices add more kinds.
pub const KIND_ENTRY: &str = "entry";
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
    pub kind: String,
    pub private: bool,
    /// Other versions of the text, kept because two devices edited the entry at once.
    /// Empty when there is no conflict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_texts: Vec<String>,
}

impl Entry {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(8)]
    }
    pub fn has_conflict(&self) -> bool {
        !self.conflicting_texts.is_empty()
    }
}

/// A new entry, ready to be added.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub id: String,
    pub author_id: String,
    pub created_at: DateTime<Utc>,
    pub written_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub text: String,
    pub tags: Vec<String>,
    pub mood: Option<u8>,
    pub kind: String,
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
}
