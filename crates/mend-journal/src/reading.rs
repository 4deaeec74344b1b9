//! Reading entries out of the document: one, all, by id, what changed since some heads, and an
//! entry's history of versions.

use std::collections::BTreeSet;

use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc};
use chrono::{TimeZone, Utc};

use crate::model::{from_ms, hex_lower};
use crate::{Entry, Journal, JournalError, Person, MOOD_RANGE};

impl Journal {
    /// Every version of an entry's text, from the document's own history: when, and by which
    /// device (its actor id), oldest first.
    pub fn history(&mut self, id: &str) -> Result<Vec<crate::Version>, JournalError> {
        let obj = self.entry_obj(id)?;
        let keys: Vec<([u8; 32], String)> = self
            .devices()?
            .into_iter()
            .filter_map(|d| {
                let bytes: [u8; 32] = (0..32)
                    .map(|i| u8::from_str_radix(d.key.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?
                    .try_into()
                    .ok()?;
                Some((bytes, d.key))
            })
            .collect();
        let changes: Vec<_> = self
            .doc
            .get_changes(&[])
            .into_iter()
            .map(|c| {
                (
                    c.hash(),
                    c.deps().to_vec(),
                    c.actor_id().to_bytes().to_vec(),
                    c.timestamp(),
                    c.message().map(str::to_owned),
                )
            })
            .collect();
        let text_at = |doc: &AutoCommit, heads: &[ChangeHash]| -> Option<String> {
            doc.get_at(&obj, "text", heads)
                .ok()
                .flatten()
                .and_then(|(v, _)| v.as_str().map(str::to_owned))
        };
        let mut out = Vec::new();
        for (hash, deps, actor, time, message) in changes {
            let after = text_at(&self.doc, &[hash]);
            let before = if deps.is_empty() {
                None
            } else {
                text_at(&self.doc, &deps)
            };
            if let Some(text) = after {
                if before.as_deref() != Some(text.as_str()) {
                    let signed_by = self.sigs.get(&hash).and_then(|sig| {
                        keys.iter()
                            .find(|(k, _)| k[..16] == actor[..])
                            .filter(|(k, _)| crate::verify(k, &self.journal_id, &hash, sig))
                            .map(|(_, hex)| hex.clone())
                    });
                    out.push(crate::Version {
                        text,
                        actor: hex_lower(&actor),
                        at: Utc.timestamp_opt(time, 0).single().unwrap_or_default(),
                        action: message.unwrap_or_default(),
                        signed_by,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The entries written or changed since the document stood at `heads` (such as the heads a
    /// peer was known to share at the end of the last sync with it). `None` when `heads` names a
    /// change this document does not hold, so the question cannot be answered.
    pub fn entries_changed_since(&mut self, heads: &[ChangeHash]) -> Option<BTreeSet<String>> {
        if heads
            .iter()
            .any(|h| self.doc.get_change_by_hash(h).is_none())
        {
            return None;
        }
        let now = self.doc.get_heads();
        let mut ids = BTreeSet::new();
        if now.as_slice() == heads {
            return Some(ids);
        }
        let entries = self.root_map("entries").ok()?;
        for patch in self.doc.diff(heads, &now) {
            if patch.obj == entries {
                match &patch.action {
                    automerge::PatchAction::PutMap { key, .. }
                    | automerge::PatchAction::DeleteMap { key } => {
                        ids.insert(key.clone());
                    }
                    _ => {}
                }
            } else if let Some((_, automerge::Prop::Map(id))) =
                patch.path.iter().find(|(obj, _)| *obj == entries)
            {
                ids.insert(id.clone());
            }
        }
        Some(ids)
    }

    /// The ids of the entries that the changes since `heads` touched, read from those changes
    /// alone (not the whole document, so one user action costs next to nothing). `None` when
    /// they touched anything besides entries (people, devices, the root), more than `limit`
    /// entries, or `heads` are unknown: a reader must then read every entry afresh.
    pub fn entries_touched_since(
        &mut self,
        heads: &[ChangeHash],
        limit: usize,
    ) -> Option<BTreeSet<String>> {
        use automerge::legacy::{Key, OpType};
        if heads
            .iter()
            .any(|h| self.doc.get_change_by_hash(h).is_none())
        {
            return None;
        }
        let entries = self.root_map("entries").ok()?;
        let entries_text = entries.to_string();
        // Entry objects made by these changes: object id → entry id.
        let mut made = std::collections::HashMap::new();
        let mut ids = BTreeSet::new();
        for change in self.doc.get_changes(heads) {
            let change = change.decode();
            for (i, op) in change.operations.iter().enumerate() {
                let Key::Map(key) = &op.key else {
                    return None;
                };
                let obj = op.obj.to_string();
                let id = if obj == entries_text {
                    if let OpType::Make(_) = op.action {
                        let op_id =
                            format!("{}@{}", change.start_op.get() + i as u64, change.actor_id);
                        made.insert(op_id, key.to_string());
                    }
                    key.to_string()
                } else if let Some(id) = made.get(&obj) {
                    id.clone()
                } else {
                    self.entry_of(&obj, &entries)?
                };
                ids.insert(id);
                if ids.len() > limit {
                    return None;
                }
            }
        }
        Some(ids)
    }

    /// What the changes since `heads` did to entries, for a sync's summary: entries new here,
    /// entries edited (not new), entries retracted (not new); relays left out, except in a new
    /// device's first sync, which counts every entry. `None` when `heads` names a change this
    /// document does not hold.
    pub fn arrivals_since(&mut self, heads: &[ChangeHash]) -> Option<crate::Arrivals> {
        use automerge::legacy::{Key, OpType};
        if heads
            .iter()
            .any(|h| self.doc.get_change_by_hash(h).is_none())
        {
            return None;
        }
        let mut out = crate::Arrivals::default();
        let Ok(entries) = self.root_map("entries") else {
            return Some(out);
        };
        if heads.is_empty() && !self.private {
            // Everything arrived (a new device's first sync): every entry is new, and reading
            // each change again would only say so slowly. Shared entries are never deleted.
            out.new = self.doc.length(&entries);
            return Some(out);
        }
        let entries_text = entries.to_string();
        let (mut new, mut edited, mut retracted) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut made = std::collections::HashSet::new();
        for change in self.doc.get_changes(heads) {
            let change = change.decode();
            for (i, op) in change.operations.iter().enumerate() {
                let obj = op.obj.to_string();
                if obj == entries_text {
                    if let (OpType::Make(_), Key::Map(key)) = (&op.action, &op.key) {
                        made.insert(format!(
                            "{}@{}",
                            change.start_op.get() + i as u64,
                            change.actor_id
                        ));
                        new.insert(key.to_string());
                    }
                } else if !made.contains(&obj) {
                    if let Some(id) = self.entry_of(&obj, &entries) {
                        match &op.key {
                            Key::Map(k) if k == "retracted_at" => retracted.insert(id),
                            _ => edited.insert(id),
                        };
                    }
                }
            }
        }
        // Relays the journal remembers are not entries to read (`crate::relays`).
        let relay = |id: &String| {
            matches!(self.doc.get(&entries, id.as_str()), Ok(Some((_, obj)))
                if self.get_str(&obj, "kind").ok().flatten().as_deref()
                    == Some(crate::Kind::Relay.as_str()))
        };
        for ids in [&mut new, &mut edited, &mut retracted] {
            ids.retain(|id| !relay(id));
        }
        out.new = new.len();
        out.retracted = retracted.difference(&new).count();
        out.new_ids = new.iter().cloned().collect();
        out.edited = edited
            .iter()
            .filter(|id| !new.contains(*id) && !retracted.contains(*id))
            .count();
        Some(out)
    }

    /// The id of the entry whose object is `obj` (as text), if it is an entry's.
    pub(crate) fn entry_of(&self, obj: &str, entries: &ObjId) -> Option<String> {
        let obj = self.doc.import_obj(obj).ok()?;
        let parent = self.doc.parents(&obj).ok()?.next()?;
        match parent.prop {
            automerge::Prop::Map(id) if parent.obj == *entries => Some(id),
            _ => None,
        }
    }

    /// The entries with these ids that exist, and the ids that do not.
    pub fn entries_with_ids(
        &self,
        ids: &BTreeSet<String>,
    ) -> Result<(Vec<Entry>, Vec<String>), JournalError> {
        let names = self.people()?;
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for id in ids {
            match self.entry_obj(id) {
                Ok(obj) => found.push(self.read_entry(id, &obj, &names)?),
                Err(JournalError::NotFound(_)) => missing.push(id.clone()),
                Err(e) => return Err(e),
            }
        }
        Ok((found, missing))
    }

    /// All entry ids.
    pub fn entry_ids(&self) -> Result<Vec<String>, JournalError> {
        let Ok(entries) = self.root_map("entries") else {
            return Ok(Vec::new());
        };
        Ok(self.doc.keys(&entries).collect())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.root_map("entries")
            .map(|e| self.doc.length(&e))
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Read one entry.
    pub fn entry(&self, id: &str) -> Result<Entry, JournalError> {
        let obj = self.entry_obj(id)?;
        let names = self.people()?;
        self.read_entry(id, &obj, &names)
    }

    /// Read every entry (in no particular order).
    pub fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        let Ok(entries) = self.root_map("entries") else {
            return Ok(Vec::new());
        };
        let names = self.people()?;
        let mut out = Vec::with_capacity(self.doc.length(&entries));
        for item in self.doc.map_range(&entries, ..) {
            if let automerge::ValueRef::Object(ObjType::Map) = item.value {
                out.push(self.read_entry(&item.key, &item.id(), &names)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn read_entry(
        &self,
        id: &str,
        obj: &ObjId,
        people: &[Person],
    ) -> Result<Entry, JournalError> {
        use automerge::{ScalarValueRef as S, ValueRef};
        // One pass over the entry's fields: far cheaper than a lookup per field.
        let mut author_id = String::new();
        let (mut created, mut written, mut edited, mut mood) = (None, None, None, None);
        let (mut text, mut tags, mut kind) = (String::new(), String::new(), None);
        let mut extra = crate::Extra::default();
        let mut feelings = String::new();
        let mut text_conflict = false;
        for f in self.doc.map_range(obj, ..) {
            let ValueRef::Scalar(v) = f.value else {
                continue;
            };
            match (f.key.as_ref(), v) {
                ("author", S::Str(s)) => author_id = s.into_owned(),
                ("created_at", v) => created = Some(v.as_i64()),
                ("written_at", v) => written = Some(v.as_i64()),
                ("edited_at", v) => edited = Some(v.as_i64()),
                ("mood", v) => mood = Some(v.as_i64()),
                ("text", S::Str(s)) => {
                    text = s.into_owned();
                    text_conflict = f.conflict;
                }
                ("tags", S::Str(s)) => tags = s.into_owned(),
                ("kind", S::Str(s)) => kind = Some(s.into_owned()),
                ("ref", S::Str(s)) => extra.refers_to = Some(s.into_owned()),
                ("every", S::Str(s)) => extra.every = Some(s.into_owned()),
                ("prompt", S::Str(s)) => extra.prompt = Some(s.into_owned()),
                ("sealed", S::Str(s)) => extra.sealed = Some(s.into_owned()),
                ("feelings", S::Str(s)) => feelings = s.into_owned(),
                ("until", v) => extra.until = Some(from_ms(v.as_i64())),
                ("shared_at", v) => extra.shared_at = Some(from_ms(v.as_i64())),
                ("retracted_at", v) => extra.retracted_at = Some(from_ms(v.as_i64())),
                ("retracted_by", S::Str(s)) => extra.retracted_by = Some(s.into_owned()),
                _ => {}
            }
        }
        let conflicting_texts = if text_conflict {
            let winner = self.doc.get(obj, "text")?.map(|(_, id)| id);
            self.doc
                .get_all(obj, "text")?
                .into_iter()
                .filter(|(_, id)| Some(id) != winner.as_ref())
                .filter_map(|(v, _)| v.as_str().map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        let name_of = |id: &str| {
            people
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| "unknown".to_owned(), |p| p.name.clone())
        };
        let author = name_of(&author_id);
        extra.retracted_by = extra.retracted_by.as_deref().map(name_of);
        extra.feelings = feelings.split_whitespace().map(str::to_owned).collect();
        let created_at = from_ms(created.unwrap_or(0));
        Ok(Entry {
            id: id.to_owned(),
            author,
            author_id,
            created_at,
            written_at: written.map_or(created_at, from_ms),
            edited_at: edited.map(from_ms),
            text,
            tags: tags.split_whitespace().map(str::to_owned).collect(),
            mood: mood
                .and_then(|m| u8::try_from(m).ok())
                .filter(|m| MOOD_RANGE.contains(m)),
            kind: kind
                .and_then(|k| crate::Kind::parse(&k))
                .unwrap_or_default(),
            private: self.private,
            conflicting_texts,
            extra,
        })
    }
}
