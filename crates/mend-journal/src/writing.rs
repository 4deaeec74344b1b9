//! Writing entries: add (one, or many as an import), edit, retract, delete; each one change,
//! checked by the rules before it is made.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, Utc};

use crate::model::ts;
use crate::{EntryEdit, Journal, JournalError, NewEntry, MOOD_RANGE, TEXT_MAX_BYTES};

/// Why a relay is not written to the private journal.
const PRIVATE_RELAY: &str = "a relay is remembered in the shared journal, never in a private one";

impl Journal {
    pub(crate) fn check_new(e: &NewEntry) -> Result<(), JournalError> {
        let retracted = e.extra.retracted_at.is_some();
        if e.text.trim().is_empty() && !e.kind.text_optional() && !retracted {
            return Err(JournalError::Invalid("the text is empty".into()));
        }
        if e.text.len() > TEXT_MAX_BYTES {
            return Err(JournalError::Invalid(
                "the text is longer than 1 MiB".into(),
            ));
        }
        if let Some(m) = e.mood {
            if !MOOD_RANGE.contains(&m) {
                return Err(JournalError::Invalid(format!("mood {m} is not 1-5")));
            }
        }
        Ok(())
    }

    /// An entry's fields as they are written to the document. Fields at their default are
    /// left out: every operation costs load time, and a journal holds tens of thousands of
    /// entries. Readers fill the defaults back in.
    pub(crate) fn fields_of(e: &NewEntry) -> std::collections::BTreeMap<String, ScalarValue> {
        let mut f = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: ScalarValue| {
            f.insert(k.to_owned(), v);
        };
        put("author", e.author_id.as_str().into());
        put("created_at", ts(e.created_at));
        if e.written_at != e.created_at {
            put("written_at", ts(e.written_at));
        }
        if let Some(t) = e.edited_at {
            put("edited_at", ts(t));
        }
        put("text", e.text.as_str().into());
        if !e.tags.is_empty() {
            put("tags", e.tags.join(" ").into());
        }
        if let Some(m) = e.mood {
            put("mood", ScalarValue::Int(i64::from(m)));
        }
        if e.kind != crate::Kind::Entry {
            put("kind", e.kind.as_str().into());
        }
        let x = &e.extra;
        for (key, value) in [
            ("ref", &x.refers_to),
            ("every", &x.every),
            ("prompt", &x.prompt),
            ("retracted_by", &x.retracted_by),
            ("sealed", &x.sealed),
        ] {
            if let Some(v) = value {
                put(key, v.as_str().into());
            }
        }
        for (key, value) in [
            ("until", x.until),
            ("shared_at", x.shared_at),
            ("retracted_at", x.retracted_at),
        ] {
            if let Some(t) = value {
                put(key, ts(t));
            }
        }
        if !x.feelings.is_empty() {
            put("feelings", x.feelings.join(" ").into());
        }
        f
    }

    pub(crate) fn put_entry(
        &mut self,
        entries: &ObjId,
        id: &str,
        fields: &std::collections::BTreeMap<String, ScalarValue>,
    ) -> Result<(), JournalError> {
        let obj = self.doc.put_object(entries, id, ObjType::Map)?;
        for (key, value) in fields {
            self.doc.put(&obj, key.as_str(), value.clone())?;
        }
        Ok(())
    }

    /// The rules an entry about to be written must meet: in the shared journal, the same ones
    /// that every change arriving from a peer meets (`crate::rules`), with this device's person
    /// as the signer. Returns the fields to write.
    pub(crate) fn checked_fields(
        &self,
        e: &NewEntry,
    ) -> Result<std::collections::BTreeMap<String, ScalarValue>, JournalError> {
        Self::check_new(e)?;
        if self.private && e.kind == crate::Kind::Relay {
            return Err(JournalError::Rule(PRIVATE_RELAY.into()));
        }
        let fields = Self::fields_of(e);
        if !self.private {
            let me = self.my_person()?;
            crate::Checker::new(&self.doc, self.journal_id)
                .check_local_entry(&e.id, &fields, &me)
                .map_err(JournalError::Rule)?;
        }
        Ok(fields)
    }

    /// Add one entry as one change.
    pub fn add_entry(&mut self, e: &NewEntry, now: DateTime<Utc>) -> Result<(), JournalError> {
        self.ensure_not_removed()?;
        let fields = self.checked_fields(e)?;
        let entries = self.root_map("entries")?;
        self.put_entry(&entries, &e.id, &fields)?;
        self.commit("write", now);
        Ok(())
    }

    /// Add many entries as one change (an import). Entries whose id already exists are skipped.
    /// Returns how many were added.
    pub fn add_entries(
        &mut self,
        list: &[NewEntry],
        now: DateTime<Utc>,
    ) -> Result<usize, JournalError> {
        self.ensure_not_removed()?;
        list.iter().try_for_each(Self::check_new)?;
        let entries = self.root_map("entries")?;
        let mut fresh = Vec::new();
        let mut refused = Vec::new();
        for (i, e) in list.iter().enumerate() {
            if !crate::valid_entry_id(&e.id) {
                refused.push((i, "its id is not 1-64 letters, digits, - or _".to_owned()));
            } else if matches!(
                e.kind,
                crate::Kind::TogetherAnswer
                    | crate::Kind::TogetherReveal
                    | crate::Kind::TogetherKey
            ) {
                refused.push((
                    i,
                    "a reveal-together answer or key is written by `mend together`, never \
                     imported"
                        .to_owned(),
                ));
            } else if self.private && e.kind == crate::Kind::Relay {
                refused.push((i, PRIVATE_RELAY.to_owned()));
            } else if self.doc.get(&entries, e.id.as_str())?.is_none() {
                fresh.push((i, e.id.clone(), Self::fields_of(e)));
            }
        }
        if !self.private {
            let me = self.my_person()?;
            refused.extend(
                crate::Checker::new(&self.doc, self.journal_id).check_local_batch(&fresh, &me),
            );
        }
        if !refused.is_empty() {
            refused.sort();
            return Err(JournalError::ImportRefused(refused));
        }
        let mut added = 0;
        for (_, id, fields) in &fresh {
            self.put_entry(&entries, id, fields)?;
            added += 1;
        }
        if added > 0 {
            self.commit("import", now);
        }
        Ok(added)
    }

    pub(crate) fn entry_obj(&self, id: &str) -> Result<ObjId, JournalError> {
        let entries = self.root_map("entries")?;
        match self.doc.get(&entries, id)? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
            _ => Err(JournalError::NotFound(id.to_owned())),
        }
    }

    pub(crate) fn check_author(&self, obj: &ObjId, me: &str) -> Result<(), JournalError> {
        // In the shared journal `me` must be this device's own person: a change in anyone
        // else's name would be refused by every other device, and all that follows it too.
        if !self.private && self.my_person()? != me {
            return Err(JournalError::Rule(
                "this device writes only as its own person".into(),
            ));
        }
        let author = self.get_str(obj, "author")?.unwrap_or_default();
        if author != me {
            let name = self
                .people()?
                .into_iter()
                .find(|p| p.id == author)
                .map_or(author, |p| p.name);
            return Err(JournalError::NotAuthor { author: name });
        }
        Ok(())
    }

    /// Edit an entry written by `me`. One change. Setting the text replaces every conflicting
    /// version: the editor saw them all.
    pub fn edit_entry(
        &mut self,
        id: &str,
        me: &str,
        edit: &EntryEdit,
        now: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        self.ensure_not_removed()?;
        let obj = self.entry_obj(id)?;
        self.check_author(&obj, me)?;
        // Only where the edit is made: an edit and a retraction made apart both stand when
        // they meet (the timeline then shows the entry retracted).
        if self.doc.get(&obj, "retracted_at")?.is_some() {
            return Err(JournalError::Retracted);
        }
        // The rules let a relay be retracted and nothing else (`crate::rules`).
        if self.get_str(&obj, "kind")?.as_deref() == Some(crate::Kind::Relay.as_str()) {
            return Err(JournalError::Rule(
                "a relay's address is not edited; remove the relay and add the new address".into(),
            ));
        }
        if let Some(text) = &edit.text {
            if text.trim().is_empty() {
                return Err(JournalError::Invalid("the text is empty".into()));
            }
            if text.len() > TEXT_MAX_BYTES {
                return Err(JournalError::Invalid(
                    "the text is longer than 1 MiB".into(),
                ));
            }
        }
        if let Some(Some(m)) = edit.mood {
            if !MOOD_RANGE.contains(&m) {
                return Err(JournalError::Invalid(format!("mood {m} is not 1-5")));
            }
        }
        if let Some(text) = &edit.text {
            self.doc.put(&obj, "text", text.as_str())?;
        }
        if let Some(tags) = &edit.tags {
            self.doc.put(&obj, "tags", tags.join(" "))?;
        }
        match edit.mood {
            Some(Some(m)) => self.doc.put(&obj, "mood", i64::from(m))?,
            Some(None) => self.doc.delete(&obj, "mood")?,
            None => {}
        }
        if let Some(t) = edit.created_at {
            self.doc.put(&obj, "created_at", ts(t))?;
        }
        self.doc.put(&obj, "edited_at", ts(now))?;
        self.commit("edit", now);
        Ok(())
    }

    /// Retract a shared entry written by `me`: its words leave the timeline, which shows who
    /// retracted it and when. One change. The words remain in the document's history, on every
    /// device that has synced it.
    pub fn retract_entry(
        &mut self,
        id: &str,
        me: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        self.ensure_not_removed()?;
        let obj = self.entry_obj(id)?;
        self.check_author(&obj, me)?;
        self.doc.put(&obj, "text", "")?;
        self.doc.delete(&obj, "tags")?;
        // A retracted reveal-together answer must not open later either.
        self.doc.delete(&obj, "sealed")?;
        self.doc.put(&obj, "retracted_at", ts(now))?;
        self.doc.put(&obj, "retracted_by", me)?;
        self.commit("retract", now);
        Ok(())
    }

    /// Delete an entry written by `me`. One change. Its words stay in the document's history.
    pub fn delete_entry(
        &mut self,
        id: &str,
        me: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        if !self.private {
            return Err(JournalError::Rule(
                "a shared entry is retracted, never deleted".into(),
            ));
        }
        let obj = self.entry_obj(id)?;
        self.check_author(&obj, me)?;
        let entries = self.root_map("entries")?;
        self.doc.delete(&entries, id)?;
        self.commit("delete", now);
        Ok(())
    }
}
