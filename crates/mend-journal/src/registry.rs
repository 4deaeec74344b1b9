//! Who is in the journal: its two people and their devices, adding and removing a device.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, Value};
use chrono::{DateTime, Utc};

use crate::model::{from_ms, ts};
use crate::{Device, Journal, JournalError, Person};

impl Journal {
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
    pub(crate) fn put_person(
        &mut self,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
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
                        uncoupled: self.get_str(&obj, "removed_why")?.as_deref()
                            == Some(crate::UNCOUPLED),
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
    pub(crate) fn ensure_not_removed(&self) -> Result<(), JournalError> {
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

    /// End the partnership: every device of the other person is removed, in one change, each
    /// marked as removed by uncoupling. This laptop's person keeps the journal as it is and
    /// goes on writing; the other person's devices get nothing more from this person's, and
    /// nothing they make afterwards is accepted here. Returns the devices removed.
    pub fn uncouple(&mut self, now: DateTime<Utc>) -> Result<Vec<crate::Device>, JournalError> {
        self.ensure_not_removed()?;
        let me = self.my_person()?;
        let targets: Vec<crate::Device> = self
            .devices()?
            .into_iter()
            .filter(|d| d.person_id != me && d.removed.is_none())
            .collect();
        if targets.is_empty() {
            return Err(JournalError::Rule(
                "no device of another person is paired with this journal (or the partnership \
                 has already ended)"
                    .into(),
            ));
        }
        let devices_map = self.root_map("devices")?;
        let my_key = crate::rules::hex_lower(&self.signer.public_key());
        for d in &targets {
            let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&devices_map, &d.key)?
            else {
                return Err(JournalError::NotFound(d.key.clone()));
            };
            self.doc.put(&obj, "removed_at", ts(now))?;
            self.doc.put(&obj, "removed_by", me.as_str())?;
            self.doc.put(&obj, "removed_by_device", my_key.as_str())?;
            self.doc.put(&obj, "removed_why", crate::UNCOUPLED)?;
        }
        self.commit("uncouple", now);
        Ok(targets)
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

    /// The person this device belongs to, from the journal's registry.
    pub fn my_person(&self) -> Result<String, JournalError> {
        let key = crate::rules::hex_lower(&self.signer.public_key());
        self.devices()?
            .into_iter()
            .find(|d| d.key == key)
            .map(|d| d.person_id)
            .ok_or(JournalError::NotRegistered)
    }
}
