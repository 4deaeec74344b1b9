//! The journal document and the one-change-per-action rule.
//!
//! Root of the document (see `docs/architecture.md`):
//! ```text
//! schema: int            journal_id: str          created_at: timestamp
//! people:  { person_id: { name: str, added_at: timestamp } }
//! devices: { device_key: { person: person_id, name: str, added_at: timestamp, added_by: person_id } }
//! entries: { entry_id:  { author, created_at, written_at?, edited_at?, text: str,
//!                         tags?: str (space-separated), mood?: int, kind?: str } }
//! ```
//! Entries of the practices may also hold `ref` (the entry they answer or update), `every` and
//! `until` (promises), `feelings` (check-ins), `prompt`, `sealed` (a reveal-together answer, hex),
//! `shared_at`, `retracted_at` and `retracted_by` (a person id). See `docs/format.md`.
//! Optional fields are absent at their default: `written_at` = `created_at`, no tags, no mood,
//! kind `"entry"`.
//! ```text
//! ```
//! Only the device that creates a journal creates these root objects. A device that joins starts
//! from [`Journal::empty`] and receives them: two independently created `entries` maps would
//! conflict, and one side's entries would vanish behind the other's.

use std::collections::{BTreeSet, HashMap};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, TimeZone, Utc};

use crate::signed::{Sig, Signer};
use crate::{Device, Entry, EntryEdit, JournalError, NewEntry, Person, MOOD_RANGE};

/// What a sync session remembers about one peer; saved between sessions so that a reconnect
/// only exchanges what is new.
pub use automerge::sync::State as SyncState;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;
pub use crate::rules::TEXT_MAX_BYTES;

/// One journal document: the shared journal, or a device's private one.
///
/// The shared journal signs every change this device makes and keeps the signatures of every
/// change it holds beside the document (`crate::signed`); what arrives is checked by the rules
/// before it is applied (`crate::inbound`). The private journal is never synced and is neither
/// signed nor checked.
pub struct Journal {
    pub(crate) doc: AutoCommit,
    pub(crate) private: bool,
    pub(crate) journal_id: [u8; 16],
    pub(crate) signer: Signer,
    /// The signature of every signed change held, by hash.
    pub(crate) sigs: HashMap<ChangeHash, Sig>,
    /// Changes held before signatures existed are trusted up to these heads (see
    /// `docs/threat-model.md`, "Upgrading a journal made before signed changes").
    pub(crate) legacy_heads: Vec<ChangeHash>,
    /// Changes that arrived before their dependencies, held outside the document until those
    /// come and they can be checked (`crate::inbound`), with their signatures.
    pub(crate) waiting: HashMap<ChangeHash, (automerge::Change, Option<Sig>)>,
}

fn ts(t: DateTime<Utc>) -> ScalarValue {
    ScalarValue::Timestamp(t.timestamp_millis())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn options(action: &str, now: DateTime<Utc>) -> CommitOptions {
    // Automerge records change times in seconds since the epoch.
    CommitOptions::default()
        .with_message(action)
        .with_time(now.timestamp())
}

impl Journal {
    fn blank(journal_id: [u8; 16], signer: &Signer, private: bool) -> Self {
        Self {
            doc: AutoCommit::new().with_actor(ActorId::from(signer.actor())),
            private,
            journal_id,
            signer: signer.clone(),
            sigs: HashMap::new(),
            legacy_heads: Vec::new(),
            waiting: HashMap::new(),
        }
    }

    /// Create a new journal with its root objects, founded by `founder`. One change. The shared
    /// journal's founding change also registers the founding device (`device_name`), signed by
    /// it: every later change is checked against that registry.
    pub fn create(
        journal_id: [u8; 16],
        founder: &Person,
        device_name: Option<&str>,
        signer: &Signer,
        private: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, JournalError> {
        let mut journal = Self::blank(journal_id, signer, private);
        let doc = &mut journal.doc;
        doc.put(automerge::ROOT, "schema", SCHEMA_VERSION)?;
        doc.put(
            automerge::ROOT,
            "journal_id",
            crate::rules::hex_lower(&journal_id),
        )?;
        doc.put(automerge::ROOT, "created_at", ts(now))?;
        let people = doc.put_object(automerge::ROOT, "people", ObjType::Map)?;
        doc.put_object(automerge::ROOT, "entries", ObjType::Map)?;
        doc.put_object(automerge::ROOT, "devices", ObjType::Map)?;
        let p = doc.put_object(&people, founder.id.as_str(), ObjType::Map)?;
        doc.put(&p, "name", founder.name.as_str())?;
        doc.put(&p, "added_at", ts(now))?;
        if let (Some(name), false) = (device_name, private) {
            let devices = match doc.get(automerge::ROOT, "devices")? {
                Some((_, id)) => id,
                None => return Err(JournalError::MissingRoot("devices")),
            };
            let key = crate::rules::hex_lower(&signer.public_key());
            let d = doc.put_object(&devices, key.as_str(), ObjType::Map)?;
            doc.put(&d, "person", founder.id.as_str())?;
            doc.put(&d, "name", name)?;
            doc.put(&d, "added_at", ts(now))?;
            doc.put(&d, "added_by", founder.id.as_str())?;
        }
        journal.commit("create journal", now);
        Ok(journal)
    }

    /// An empty document, for a device that will receive the journal from its partner.
    /// `legacy_heads`: the history its inviter held before signed changes, which this device
    /// takes on the inviter's word (empty for a journal made since).
    pub fn empty(
        journal_id: [u8; 16],
        signer: &Signer,
        private: bool,
        legacy_heads: Vec<ChangeHash>,
    ) -> Self {
        let mut journal = Self::blank(journal_id, signer, private);
        journal.legacy_heads = legacy_heads;
        journal
    }

    /// Load a saved document: a snapshot's document, the signatures of its changes and the
    /// heads up to which unsigned history is trusted.
    pub fn load(
        doc: &[u8],
        signatures: HashMap<ChangeHash, Sig>,
        legacy_heads: Vec<ChangeHash>,
        signer: &Signer,
        journal_id: [u8; 16],
        private: bool,
    ) -> Result<Self, JournalError> {
        let mut journal = Self::blank(journal_id, signer, private);
        journal.doc = AutoCommit::load(doc)?.with_actor(ActorId::from(signer.actor()));
        journal.sigs = signatures;
        journal.legacy_heads = legacy_heads;
        journal.check_schema()?;
        Ok(journal)
    }

    /// Apply changes this device wrote itself before signed changes existed (a version 1 log
    /// record, or the private journal's log, which only this device ever writes). Nothing is
    /// checked: see [`Journal::apply_signed`] for everything else.
    pub fn apply_own_unsigned(&mut self, bytes: &[u8]) -> Result<(), JournalError> {
        self.doc.load_incremental(bytes)?;
        self.check_schema()
    }

    /// Trust everything held now as history from before signed changes (an upgrade).
    pub fn trust_held_history(&mut self) {
        self.legacy_heads = self.doc.get_heads();
    }

    /// The heads up to which unsigned history is trusted.
    pub fn legacy_heads(&self) -> &[ChangeHash] {
        &self.legacy_heads
    }

    /// Commit the open change as `action` and, in the shared journal, sign it.
    pub(crate) fn commit(&mut self, action: &str, now: DateTime<Utc>) {
        if let Some(hash) = self.doc.commit_with(options(action, now)) {
            if !self.private {
                let sig = self.signer.sign(&self.journal_id, &hash);
                self.sigs.insert(hash, sig);
            }
        }
    }

    pub(crate) fn check_schema(&self) -> Result<(), JournalError> {
        if let Some((v, _)) = self.doc.get(automerge::ROOT, "schema")? {
            let found = v.as_i64().unwrap_or(i64::MAX);
            if found > SCHEMA_VERSION {
                return Err(JournalError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        Ok(())
    }

    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document as bytes, without touching this instance's save state.
    pub fn clone_bytes(&self) -> Vec<u8> {
        self.doc.clone().save()
    }

    /// The changes made since `heads`, in Automerge's incremental format.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Drop changes made since the last commit (after a failed action).
    pub fn rollback(&mut self) {
        self.doc.rollback();
    }

    /// How many operations the document holds (what its load time grows with).
    pub fn op_count(&self) -> usize {
        self.doc.stats().num_ops as usize
    }

    /// The underlying document, for the sync core.
    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    pub fn journal_id(&self) -> Result<Option<String>, JournalError> {
        Ok(self
            .doc
            .get(automerge::ROOT, "journal_id")?
            .and_then(|(v, _)| v.as_str().map(str::to_owned)))
    }

    fn root_map(&self, name: &'static str) -> Result<ObjId, JournalError> {
        match self.doc.get(automerge::ROOT, name)? {
            Some((Value::Object(ObjType::Map), id)) => Ok(id),
            _ => Err(JournalError::MissingRoot(name)),
        }
    }

    /// The people of this journal.
    pub fn people(&self) -> Result<Vec<Person>, JournalError> {
        let Ok(people) = self.root_map("people") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for id in self.doc.keys(&people) {
            let name = match self.doc.get(&people, id.as_str())? {
                Some((Value::Object(_), obj)) => self.get_str(&obj, "name")?.unwrap_or_default(),
                _ => String::new(),
            };
            out.push(Person { id, name });
        }
        Ok(out)
    }

    /// Add a person (no-op if the id is already present). One change.
    pub fn add_person(&mut self, person: &Person, now: DateTime<Utc>) -> Result<(), JournalError> {
        if self.put_person(person, now)? {
            self.commit("add person", now);
        }
        Ok(())
    }

    /// Add a person to the open change unless present; true if added.
    fn put_person(&mut self, person: &Person, now: DateTime<Utc>) -> Result<bool, JournalError> {
        let people = self.root_map("people")?;
        if self.doc.get(&people, person.id.as_str())?.is_some() {
            return Ok(false);
        }
        let p = self
            .doc
            .put_object(&people, person.id.as_str(), ObjType::Map)?;
        self.doc.put(&p, "name", person.name.as_str())?;
        self.doc.put(&p, "added_at", ts(now))?;
        Ok(true)
    }

    /// The devices paired with this journal.
    pub fn devices(&self) -> Result<Vec<Device>, JournalError> {
        let Ok(devices) = self.root_map("devices") else {
            return Ok(Vec::new());
        };
        let people = self.people()?;
        let name_of = |id: &str| {
            people
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| "unknown".to_owned(), |p| p.name.clone())
        };
        let mut out = Vec::new();
        for key in self.doc.keys(&devices) {
            let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&devices, key.as_str())?
            else {
                continue;
            };
            let person_id = self.get_str(&obj, "person")?.unwrap_or_default();
            let added_by = self.get_str(&obj, "added_by")?.unwrap_or_default();
            let added_at = self
                .doc
                .get(&obj, "added_at")?
                .and_then(|(v, _)| v.as_i64())
                .map_or_else(|| from_ms(0), from_ms);
            let removed = match self.doc.get(&obj, "removed_at")? {
                Some((v, _)) => {
                    let by_person_id = self.get_str(&obj, "removed_by")?.unwrap_or_default();
                    Some(crate::Removal {
                        at: v.as_i64().map_or_else(|| from_ms(0), from_ms),
                        by: name_of(&by_person_id),
                        by_person_id,
                        by_device: self.get_str(&obj, "removed_by_device")?.unwrap_or_default(),
                    })
                }
                None => None,
            };
            out.push(Device {
                person: name_of(&person_id),
                person_id,
                name: self.get_str(&obj, "name")?.unwrap_or_default(),
                added_at,
                added_by: name_of(&added_by),
                key,
                removed,
            });
        }
        Ok(out)
    }

    /// This device's record in the shared journal, if it has been removed: then it writes
    /// nothing more there (every other device would refuse it).
    pub fn removal_of_this_device(&self) -> Result<Option<crate::Removal>, JournalError> {
        if self.private {
            return Ok(None);
        }
        let key = crate::rules::hex_lower(&self.signer.public_key());
        Ok(self
            .devices()?
            .into_iter()
            .find(|d| d.key == key)
            .and_then(|d| d.removed))
    }

    /// Refuse to write to a shared journal from which this device has been removed.
    fn ensure_not_removed(&self) -> Result<(), JournalError> {
        match self.removal_of_this_device()? {
            Some(r) => Err(JournalError::Removed {
                by: r.by,
                at: r.at.format("%Y-%m-%d").to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Remove the device with key `key` (hex) from the journal: a signed change to its record
    /// saying when and by whom. Afterwards every device refuses what it makes. One's own
    /// devices may be removed by any of one's devices (this one too); the partner's only while
    /// the partner has no other ([`crate::may_remove`]). One change.
    pub fn remove_device(&mut self, key: &str, now: DateTime<Utc>) -> Result<(), JournalError> {
        self.ensure_not_removed()?;
        let me = self.my_person()?;
        let devices = self.devices()?;
        let target = devices
            .iter()
            .find(|d| d.key == key)
            .ok_or_else(|| JournalError::NotFound(key.to_owned()))?;
        if target.removed.is_some() {
            return Err(JournalError::Rule(format!(
                "{}'s {} was already removed",
                target.person, target.name
            )));
        }
        let others = devices
            .iter()
            .any(|d| d.person_id == target.person_id && d.key != target.key && d.removed.is_none());
        crate::may_remove(&target.person_id, &target.person, &me, others)
            .map_err(JournalError::Rule)?;
        let devices_map = self.root_map("devices")?;
        let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&devices_map, key)? else {
            return Err(JournalError::NotFound(key.to_owned()));
        };
        let my_key = crate::rules::hex_lower(&self.signer.public_key());
        self.doc.put(&obj, "removed_at", ts(now))?;
        self.doc.put(&obj, "removed_by", me.as_str())?;
        self.doc.put(&obj, "removed_by_device", my_key.as_str())?;
        self.commit("remove device", now);
        Ok(())
    }

    /// Record a paired device (and its person, if new). One change. A journal holds two people:
    /// a third is refused.
    pub fn add_device(
        &mut self,
        device_key: &str,
        person: &Person,
        device_name: &str,
        added_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        let people = self.people()?;
        if !people.iter().any(|p| p.id == person.id) && people.len() >= 2 {
            return Err(JournalError::Invalid(
                "this journal already belongs to two people".into(),
            ));
        }
        self.ensure_not_removed()?;
        let devices = self.root_map("devices")?;
        self.put_person(person, now)?;
        let d = self.doc.put_object(&devices, device_key, ObjType::Map)?;
        self.doc.put(&d, "person", person.id.as_str())?;
        self.doc.put(&d, "name", device_name)?;
        self.doc.put(&d, "added_at", ts(now))?;
        self.doc.put(&d, "added_by", added_by)?;
        self.commit("add device", now);
        Ok(())
    }

    fn check_new(e: &NewEntry) -> Result<(), JournalError> {
        let retracted = e.extra.retracted_at.is_some();
        if e.text.trim().is_empty() && !crate::text_optional(&e.kind) && !retracted {
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
    fn fields_of(e: &NewEntry) -> std::collections::BTreeMap<String, ScalarValue> {
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
        if e.kind != crate::KIND_ENTRY {
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

    fn put_entry(
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
    fn checked_fields(
        &self,
        e: &NewEntry,
    ) -> Result<std::collections::BTreeMap<String, ScalarValue>, JournalError> {
        Self::check_new(e)?;
        let fields = Self::fields_of(e);
        if !self.private {
            let me = self.my_person()?;
            crate::Checker::new(&self.doc, self.journal_id)
                .check_local_entry(&e.id, &fields, &me)
                .map_err(JournalError::Rule)?;
        }
        Ok(fields)
    }

    /// The person this device belongs to, from the journal's registry.
    pub fn my_person(&self) -> Result<String, JournalError> {
        let key = crate::rules::hex_lower(&self.signer.public_key());
        self.devices()?
            .into_iter()
            .find(|d| d.key == key)
            .map(|d| d.person_id)
            .ok_or(JournalError::NotRegistered)
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
                e.kind.as_str(),
                crate::KIND_TOGETHER | crate::KIND_REVEAL | crate::KIND_TOGETHER_KEY
            ) {
                refused.push((
                    i,
                    "a reveal-together answer or key is written by `mend together`, never \
                     imported"
                        .to_owned(),
                ));
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

    fn entry_obj(&self, id: &str) -> Result<ObjId, JournalError> {
        let entries = self.root_map("entries")?;
        match self.doc.get(&entries, id)? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
            _ => Err(JournalError::NotFound(id.to_owned())),
        }
    }

    fn check_author(&self, obj: &ObjId, me: &str) -> Result<(), JournalError> {
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

    fn get_str(&self, obj: &ObjId, key: &str) -> Result<Option<String>, JournalError> {
        Ok(self
            .doc
            .get(obj, key)?
            .and_then(|(v, _)| v.as_str().map(str::to_owned)))
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

    /// The id of the entry whose object is `obj` (as text), if it is an entry's.
    fn entry_of(&self, obj: &str, entries: &ObjId) -> Option<String> {
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

    fn read_entry(&self, id: &str, obj: &ObjId, people: &[Person]) -> Result<Entry, JournalError> {
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
            kind: kind.unwrap_or_else(|| crate::KIND_ENTRY.to_owned()),
            private: self.private,
            conflicting_texts,
            extra,
        })
    }
}
