//! The journal's rules, checked on every change before it reaches the document.
//!
//! A change that arrives (from a peer, in the first sync of a new device, from the journal's
//! own log on load) is read operation by operation and turned into what it does: found the
//! journal, add a person or a device, write an entry, change an entry. Each of those is then
//! checked against who signed the change:
//!
//! - the signer is a device of the journal's registry, whose key starts with the change's actor
//!   id, and the signature verifies (`crate::signed`);
//! - the root (`schema`, `journal_id`, `people`, `devices`, `entries`) is written once, by the
//!   change that founds the journal, and never again;
//! - a device is added by a device of the same person, or, while the journal has one person, a
//!   first device of the partner is added with the partner (never a third person); records of
//!   people and devices are never changed afterwards;
//! - an entry is created with the signer's person as its author, with known fields of bounded
//!   size, of a kind a person may write, and with the practices' rules on what it refers to;
//! - only its author's devices change or retract an entry, and only its own fields; nothing is
//!   ever deleted from the shared journal's maps;
//! - a relay (`crate::relays`) is a relay's address and nothing else, is never referred to nor
//!   edited, only retracted, and each person writes at most
//!   [`crate::RELAY_ENTRIES_PER_PERSON`] relay entries in all (retracted ones count), counted
//!   over the whole journal as this device holds it with the batch being checked; no walk of a
//!   change's history, so a batch costs what its changes do, however they are chained.
//!
//! Local commands meet the same rules: [`Checker::check_new_entry`] is what `add_entry` and an
//! import call before they write.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value,
};

use crate::signed::{actor_of, is_usable_key, verify, Sig};
use crate::{FastMap, FastSet};
use crate::{Kind, MOOD_RANGE};

/// The longest text of an entry.
pub const TEXT_MAX_BYTES: usize = 1024 * 1024;
/// The longest sealed reveal-together answer (hex of the sealed text).
pub const SEALED_MAX_BYTES: usize = 2 * (TEXT_MAX_BYTES + 64);
/// Tags and feelings, each a space-separated string.
pub const LIST_MAX_BYTES: usize = 16 * 1024;
/// Every other string: ids, kinds, names, prompts, references.
pub const SHORT_MAX_BYTES: usize = 256;
/// The sealed bytes of an answer are at least a nonce and a tag.
const SEALED_MIN_BYTES: usize = 24 + 16;

/// A change that broke the rules, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub hash: ChangeHash,
    /// The device whose actor id the change was made under (its key, hex), if it is one of the
    /// journal's devices.
    pub device: Option<String>,
    pub why: String,
}

#[derive(Debug, Clone)]
struct Dev {
    key: [u8; 32],
    person: String,
    /// The device's own name.
    name: String,
    /// Removed from the journal: nothing it makes afterwards is accepted.
    removed: bool,
    /// Removed by an uncoupling (the partnership ended).
    uncoupled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootMap {
    People,
    Devices,
    Entries,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Obj {
    Root(RootMap),
    Person(String),
    Device(String),
    Entry(String),
    Other,
}

/// What the rules need to know of an entry.
#[derive(Debug, Clone, Default)]
struct Facts {
    author: String,
    kind: Kind,
    refers_to: Option<String>,
    prompt: Option<String>,
    retracted: bool,
}

type Fields = BTreeMap<String, ScalarValue>;

/// An object's id: the counter and actor of the operation that made it.
type ObjKey = (u64, ActorId);

/// `"counter@actorhex"` (how Automerge prints an object id) as an [`ObjKey`].
fn key_of(printed: &str) -> Option<ObjKey> {
    let (counter, actor) = printed.split_once('@')?;
    let bytes = (0..actor.len() / 2)
        .map(|i| u8::from_str_radix(actor.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some((counter.parse().ok()?, ActorId::from(bytes)))
}

/// What one change does, read from its operations.
#[derive(Default)]
struct Plan {
    root: Fields,
    root_maps: Vec<(ObjKey, RootMap)>,
    people: BTreeMap<String, Fields>,
    devices: BTreeMap<String, Fields>,
    entries: BTreeMap<String, Fields>,
    edits: BTreeMap<String, (Fields, Vec<String>)>,
    /// Fields written to devices that already exist (by key, hex): a removal.
    removals: BTreeMap<String, Fields>,
    /// Objects this change creates: op id → what it is.
    made: FastMap<ObjKey, Obj>,
    /// The operations of this change by the (object, key) they write (`None`: the root).
    slots: FastMap<(Option<ObjKey>, String), Vec<ObjKey>>,
}

/// The most held changes kept as what one change of a batch saw of the journal
/// ([`View::Kept`]); what saw more is found again when needed ([`View::Walk`]). An honest
/// change sees one or two: the heads its device had synced to.
const VIEW_KEPT: usize = 16;

/// What a change accepted in a batch shows the changes that depend on it of the journal as
/// this device holds it: its nearest ancestors held before the batch (itself, if held).
#[derive(Clone)]
enum View {
    /// Those changes, sorted, at most [`VIEW_KEPT`]; shared by the changes that saw the same
    /// (a chain of changes holds one).
    Kept(Arc<[ChangeHash]>),
    /// More: what the dependencies of change `k` (accepted in this batch) show, found by
    /// [`Checker::walk`] when needed. Shared like [`View::Kept`].
    Walk(ChangeHash),
}

/// What one dependency shows ([`Checker::through`]).
enum Through<'v> {
    Held(ChangeHash),
    Kept(&'v Arc<[ChangeHash]>),
    Walk(ChangeHash),
    Nothing,
}

/// The views found by a walk ([`View::Walk`]), by the change they are of, while they hold at
/// most [`VIEW_KEPT`] hashes for each change accepted; past that, only the last one.
#[derive(Default)]
struct Walked {
    map: FastMap<ChangeHash, Arc<[ChangeHash]>>,
    hashes: usize,
}

impl Walked {
    fn keep(&mut self, k: ChangeHash, heads: Arc<[ChangeHash]>, accepted: usize) {
        if self.hashes + heads.len() > VIEW_KEPT * (accepted + 1) {
            self.map.clear();
            self.hashes = 0;
        }
        self.hashes += heads.len();
        self.map.insert(k, heads);
    }
}

/// The journal as the rules see it: its registry and what the changes checked so far added.
pub struct Checker<'a> {
    doc: &'a AutoCommit,
    journal_id: [u8; 16],
    devices: HashMap<[u8; 16], Dev>,
    /// Person id → name.
    people: BTreeMap<String, String>,
    roots: HashMap<String, RootMap>,
    entries_obj: Option<ObjId>,
    /// What the objects made by accepted changes of this batch, and the root maps, are.
    objects: FastMap<ObjKey, Obj>,
    new_entries: FastMap<String, Facts>,
    accepted: FastSet<ChangeHash>,
    refused: FastSet<ChangeHash>,
    /// The dependencies of the changes accepted so far in this batch.
    batch_deps: FastMap<ChangeHash, Vec<ChangeHash>>,
    /// What each change accepted so far in this batch shows of the held journal to the changes
    /// that depend on it ([`Checker::through`]).
    seen_through: FastMap<ChangeHash, View>,
    /// The views walked for ([`View::Walk`]).
    walked: RefCell<Walked>,
    /// The view of the change being checked, once found ([`Checker::view_of`]).
    viewing: RefCell<Option<(ChangeHash, Arc<[ChangeHash]>)>>,
    /// The empty view, shared.
    nothing: Arc<[ChangeHash]>,
    /// The operations of the changes accepted so far in this batch, by (object, key).
    slots: FastMap<(Option<ObjKey>, String), Vec<ObjKey>>,
    /// How many entry ids were looked up, and the journal's ids once that is many.
    lookups: std::cell::Cell<usize>,
    existing: std::cell::OnceCell<HashSet<String>>,
    /// Changes whose signature was found good ahead ([`Checker::take_verdicts`]), with the key
    /// it checked.
    verified: FastMap<ChangeHash, [u8; 32]>,
    /// Whether signatures are left to be checked after the pass ([`Checker::defer_signatures`]),
    /// and those left: (key, change, signature).
    defer: bool,
    deferred: Vec<([u8; 32], ChangeHash, Sig)>,
    /// Devices removed by accepted changes of this batch: (actor, the removal's hash).
    removed_here: Vec<([u8; 16], ChangeHash)>,
    /// Devices removed in this batch, and the only changes of theirs the batch may still hold:
    /// those the removal came after (set by [`Checker::refuse_after_removal`] for a second pass).
    removed_after: HashMap<[u8; 16], HashSet<ChangeHash>>,
    /// The actors whose changes are held, and those accepted so far in this batch.
    actors: crate::shape::Actors,
    /// How many relay entries each person (id) had written in the journal before this batch,
    /// retracted ones included: read in one pass over the entries when a relay is first
    /// counted.
    held_relays: std::cell::OnceCell<FastMap<String, usize>>,
    /// How many relay entries each person wrote in the changes accepted so far in this batch.
    batch_relays: FastMap<String, usize>,
}

fn text(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Str(s) => Some(s.as_str()),
        _ => None,
    }
}

fn read_str(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok().flatten() {
        Some((Value::Scalar(s), _)) => text(&s).map(str::to_owned),
        _ => None,
    }
}

fn hex_key(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(hex, 16).ok()?;
    }
    Some(out)
}

/// Who may remove a device of person `owner`: any device of `owner`'s own; the partner only
/// while `owner` has no other device left (a lost only laptop), so that `owner` can join again.
pub fn may_remove(
    owner: &str,
    owner_name: &str,
    remover: &str,
    owner_has_others: bool,
) -> Result<(), String> {
    if owner == remover || !owner_has_others {
        return Ok(());
    }
    Err(format!(
        "it removes one of {owner_name}'s devices while {owner_name} has another; only \
         {owner_name}'s own devices may"
    ))
}

/// A person's or a device's name as people will see it: 1 to 64 characters, no surrounding
/// spaces, no control characters (which a terminal would act on).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.trim() == name
        && name.chars().count() <= 64
        && !name.chars().any(char::is_control)
}

/// An entry id: 1 to 64 ASCII letters, digits, `-` or `_`.
pub fn valid_entry_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether an entry written with `fields` is a relay entry (of kind `relay`, retracted or not):
/// what [`crate::RELAY_ENTRIES_PER_PERSON`] counts.
fn is_relay(fields: &Fields) -> bool {
    fields.get("kind").and_then(text) == Some(Kind::Relay.as_str())
}

/// `n` as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 33rd.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl<'a> Checker<'a> {
    /// The rules as they stand in `doc`, for journal `journal_id`.
    pub fn new(doc: &'a AutoCommit, journal_id: [u8; 16]) -> Self {
        let mut c = Self {
            doc,
            journal_id,
            devices: HashMap::new(),
            people: BTreeMap::new(),
            roots: HashMap::new(),
            entries_obj: None,
            objects: FastMap::default(),
            new_entries: FastMap::default(),
            accepted: FastSet::default(),
            refused: FastSet::default(),
            slots: FastMap::default(),
            batch_deps: FastMap::default(),
            seen_through: FastMap::default(),
            walked: RefCell::default(),
            viewing: RefCell::default(),
            nothing: Arc::from(Vec::new()),
            lookups: std::cell::Cell::new(0),
            existing: std::cell::OnceCell::new(),
            verified: FastMap::default(),
            defer: false,
            deferred: Vec::new(),
            removed_here: Vec::new(),
            removed_after: HashMap::new(),
            actors: crate::shape::Actors::default(),
            held_relays: std::cell::OnceCell::new(),
            batch_relays: FastMap::default(),
        };
        for (name, kind) in [
            ("people", RootMap::People),
            ("devices", RootMap::Devices),
            ("entries", RootMap::Entries),
        ] {
            // Every value ever put at the key, so that a second map would be noticed too.
            for (value, id) in doc.get_all(automerge::ROOT, name).unwrap_or_default() {
                if let Value::Object(ObjType::Map) = value {
                    let printed = id.to_string();
                    if let Some(k) = key_of(&printed) {
                        c.objects.insert(k, Obj::Root(kind));
                    }
                    c.roots.insert(printed, kind);
                }
            }
            if let Some((Value::Object(ObjType::Map), id)) =
                doc.get(automerge::ROOT, name).ok().flatten()
            {
                match kind {
                    RootMap::People => {
                        for pid in doc.keys(&id) {
                            let name = match doc.get(&id, pid.as_str()).ok().flatten() {
                                Some((Value::Object(_), p)) => {
                                    read_str(doc, &p, "name").unwrap_or_default()
                                }
                                _ => String::new(),
                            };
                            c.people.insert(pid, name);
                        }
                    }
                    RootMap::Devices => {
                        for key in doc.keys(&id) {
                            let Some((Value::Object(_), d)) =
                                doc.get(&id, key.as_str()).ok().flatten()
                            else {
                                continue;
                            };
                            if let Some(k) = hex_key(&key) {
                                let person = read_str(doc, &d, "person").unwrap_or_default();
                                let removed = doc.get(&d, "removed_at").ok().flatten().is_some();
                                let uncoupled = read_str(doc, &d, "removed_why").as_deref()
                                    == Some(crate::UNCOUPLED);
                                let name = read_str(doc, &d, "name").unwrap_or_default();
                                c.devices.insert(
                                    actor_of(&k),
                                    Dev {
                                        key: k,
                                        person,
                                        name,
                                        removed,
                                        uncoupled,
                                    },
                                );
                            }
                        }
                    }
                    RootMap::Entries => c.entries_obj = Some(id),
                }
            }
        }
        c
    }

    fn name_of(&self, person: &str) -> String {
        match self.people.get(person) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => "someone else".to_owned(),
        }
    }

    /// The signatures of the changes of a batch made under devices registered before it, to
    /// verify ahead (`verify_all`, spread over the machine's cores): (key, change, signature).
    pub fn signatures_ahead(
        &self,
        changes: &[Change],
        sigs: &HashMap<ChangeHash, Sig>,
    ) -> Vec<([u8; 32], ChangeHash, Sig)> {
        changes
            .iter()
            .filter_map(|c| {
                let hash = c.hash();
                let actor = <[u8; 16]>::try_from(c.actor_id().to_bytes()).ok()?;
                Some((self.devices.get(&actor)?.key, hash, *sigs.get(&hash)?))
            })
            .collect()
    }

    /// Take the verdicts on [`Checker::signatures_ahead`]: [`Checker::check`] then takes a
    /// good verdict instead of verifying again, if it resolves the change to the same key.
    /// Signatures under devices the batch itself registers, and any that failed, are verified
    /// in `check`.
    pub fn take_verdicts(&mut self, items: &[([u8; 32], ChangeHash, Sig)], verdicts: &[bool]) {
        for ((key, hash, _), ok) in items.iter().zip(verdicts) {
            if *ok {
                self.verified.insert(*hash, *key);
            }
        }
    }

    /// Check every rule but leave signatures that were not found good ahead to be checked
    /// after the pass ([`Checker::take_deferred`]), while they are being verified elsewhere.
    /// A pass made so stands only if every one of them then verifies under the key given.
    pub fn defer_signatures(&mut self) {
        self.defer = true;
    }

    /// The signatures left by a deferring pass: (key, change, signature).
    pub fn take_deferred(&mut self) -> Vec<([u8; 32], ChangeHash, Sig)> {
        std::mem::take(&mut self.deferred)
    }

    /// The devices removed by changes this checker accepted: (actor, the removal's hash).
    pub fn removed_in_batch(&self) -> &[([u8; 16], ChangeHash)] {
        &self.removed_here
    }

    /// For a second pass over a batch that removes devices: of each removed device (actor),
    /// only the changes in `before` (those the removal came after) may be accepted. Whatever
    /// order a batch puts concurrent changes in, a removed device's change made without
    /// having been seen before its removal is refused.
    pub fn refuse_after_removal(&mut self, removed: HashMap<[u8; 16], HashSet<ChangeHash>>) {
        self.removed_after = removed;
    }

    /// The actors whose changes the document holds ([`crate::shape`]): a change is checked
    /// against them before any rule, as Automerge needs.
    pub(crate) fn with_actors(mut self, actors: crate::shape::Actors) -> Self {
        self.actors = actors;
        self
    }

    /// Whether `hash` is one this checker has refused (or a change that depends on one).
    pub fn is_refused(&self, hash: &ChangeHash) -> bool {
        self.refused.contains(hash)
    }

    /// Check one change, signed by `sig`. The changes of a batch must come in causal order.
    /// On success what it adds (devices, entries) is known to the changes checked after it.
    pub fn check(&mut self, change: &Change, sig: Option<&Sig>) -> Result<(), Refused> {
        let hash = change.hash();
        // The device as it was before this change (a change may register it); printed only
        // for a refusal.
        let before = <[u8; 16]>::try_from(change.actor_id().to_bytes())
            .ok()
            .and_then(|a| self.devices.get(&a))
            .map(|d| d.key);
        let result = self.check_inner(change, sig);
        match result {
            Ok(plan) => {
                for key in plan.removals.keys().filter_map(|k| hex_key(k)) {
                    self.removed_here.push((actor_of(&key), hash));
                }
                // Every entry of an accepted change is its signer's (`check_new_entry`).
                for fields in plan.entries.values().filter(|f| is_relay(f)) {
                    let author = fields.get("author").and_then(text).unwrap_or_default();
                    *self.batch_relays.entry(author.to_owned()).or_default() += 1;
                }
                self.adopt(plan);
                self.actors.add(change);
                self.remember(change);
                Ok(())
            }
            Err(why) => {
                self.refused.insert(hash);
                Err(Refused {
                    hash,
                    device: before.map(|k| hex_lower(&k)),
                    why,
                })
            }
        }
    }

    /// Count `change` as accepted in this batch, and what the changes that depend on it will
    /// see through it.
    fn remember(&mut self, change: &Change) {
        let hash = change.hash();
        let through = if self.holds(&hash) {
            View::Kept(Arc::from(vec![hash]))
        } else {
            self.view_from(hash, change.deps())
        };
        self.seen_through.insert(hash, through);
        self.batch_deps.insert(hash, change.deps().to_vec());
        self.accepted.insert(hash);
    }

    fn check_inner(&mut self, change: &Change, sig: Option<&Sig>) -> Result<Plan, String> {
        for dep in change.deps() {
            if self.refused.contains(dep) {
                return Err("it depends on a change that was refused".into());
            }
            if !self.accepted.contains(dep)
                && ReadDoc::get_missing_deps(self.doc, &[*dep]).contains(dep)
            {
                return Err("it depends on a change this device does not hold".into());
            }
        }
        self.actors.check(change)?;
        crate::shape::actors_in_bounds(change)?;
        let plan = self.read_plan(change)?;
        let genesis = !plan.root_maps.is_empty() || !plan.root.is_empty();
        let actor = <[u8; 16]>::try_from(change.actor_id().to_bytes())
            .map_err(|_| "its actor id is not a Mend device's".to_owned())?;
        let (key, person) = if genesis {
            self.genesis_signer(change, &plan)?
        } else {
            let dev = self.devices.get(&actor).ok_or_else(|| {
                "it was made under an actor id that belongs to no device of this journal".to_owned()
            })?;
            if dev.removed {
                return Err(format!(
                    "it was made by {}'s {} ({}) after that device was removed from the journal",
                    self.name_of(&dev.person),
                    dev.name,
                    short(&hex_lower(&dev.key))
                ));
            }
            (dev.key, dev.person.clone())
        };
        if actor_of(&key) != actor {
            return Err("its actor id is not the signing device's".into());
        }
        if let Some(before) = self.removed_after.get(&actor) {
            if !before.contains(&change.hash()) {
                let name = self.devices.get(&actor).map(|d| d.name.clone());
                return Err(format!(
                    "it was made by {}'s {} ({}) after that device was removed from the journal \
                     (the removal did not come after it)",
                    self.name_of(&person),
                    name.unwrap_or_default(),
                    short(&hex_lower(&key))
                ));
            }
        }
        let sig = sig.ok_or_else(|| "it is not signed".to_owned())?;
        let hash = change.hash();
        if self.verified.get(&hash) != Some(&key) {
            if self.defer {
                self.deferred.push((key, hash, *sig));
            } else if !verify(&key, &self.journal_id, &hash, sig) {
                return Err("its signature does not verify".into());
            }
        }
        if !genesis {
            self.check_registry(&plan, &person, &key)?;
        }
        for (id, fields) in &plan.entries {
            self.check_new_entry(id, fields, &person, &plan.entries, false)?;
        }
        for (id, (puts, deletes)) in &plan.edits {
            self.check_edit(id, puts, deletes, &person)?;
        }
        let relays = plan.entries.values().filter(|f| is_relay(f)).count();
        self.check_relay_entries(&person, relays)?;
        Ok(plan)
    }

    /// Who founds the journal: the one device the founding change registers, for the one
    /// person it names. Only a journal with no root yet may be founded.
    fn genesis_signer(&self, change: &Change, plan: &Plan) -> Result<([u8; 32], String), String> {
        if !self.roots.is_empty() || !change.deps().is_empty() {
            return Err(
                "it changes the journal's root (schema, people, devices or entries)".into(),
            );
        }
        let expected = hex_lower(&self.journal_id);
        match plan.root.get("journal_id").and_then(text) {
            Some(id) if id == expected => {}
            _ => return Err("it founds another journal".into()),
        }
        match plan.root.get("schema") {
            Some(ScalarValue::Int(v)) if *v >= 1 && *v <= crate::SCHEMA_VERSION => {}
            Some(ScalarValue::Uint(v)) if *v >= 1 && *v <= crate::SCHEMA_VERSION as u64 => {}
            _ => return Err("it founds the journal with a schema this build does not know".into()),
        }
        let kinds: Vec<RootMap> = plan.root_maps.iter().map(|(_, k)| *k).collect();
        if kinds.len() != 3
            || ![RootMap::People, RootMap::Devices, RootMap::Entries]
                .iter()
                .all(|k| kinds.contains(k))
        {
            return Err("it founds the journal without its people, devices and entries".into());
        }
        if plan.people.len() != 1 || plan.devices.len() != 1 || !plan.entries.is_empty() {
            return Err("it founds the journal with other than one person and one device".into());
        }
        let (person, pfields) = plan.people.iter().next().expect("one person");
        check_person_fields(pfields)?;
        let (key_hex, dfields) = plan.devices.iter().next().expect("one device");
        let key = hex_key(key_hex).ok_or("a device key is not 64 hex digits")?;
        check_device_fields(dfields, person, person)?;
        Ok((key, person.clone()))
    }

    fn check_registry(&self, plan: &Plan, signer: &str, key: &[u8; 32]) -> Result<(), String> {
        for (target, fields) in &plan.removals {
            self.check_removal(target, fields, signer, key)?;
        }
        self.check_uncoupling(plan)?;
        let mut new_person = None;
        if !plan.people.is_empty() {
            if plan.people.len() > 1 || self.people.len() >= 2 {
                return Err("it adds a third person to a journal of two".into());
            }
            if self.people.is_empty() {
                return Err("it adds a person to a journal with no founder".into());
            }
            let (id, fields) = plan.people.iter().next().expect("one person");
            if self.people.contains_key(id) || id == signer {
                return Err("it adds a person who is already in the journal".into());
            }
            check_person_fields(fields)?;
            if !plan
                .devices
                .values()
                .any(|d| d.get("person").and_then(text) == Some(id.as_str()))
            {
                return Err("it adds a person without a device".into());
            }
            new_person = Some(id.clone());
        }
        for (key_hex, fields) in &plan.devices {
            let key = hex_key(key_hex).ok_or("a device key is not 64 hex digits")?;
            if !is_usable_key(&key) {
                return Err(format!(
                    "it registers {} as a device, which is not a usable Ed25519 key",
                    short(key_hex)
                ));
            }
            if self.devices.contains_key(&actor_of(&key)) {
                return Err(format!("it replaces the device {}", short(key_hex)));
            }
            let owner = fields.get("person").and_then(text).unwrap_or_default();
            if owner != signer && Some(owner) != new_person.as_deref() && !self.lost_all(owner) {
                return Err(format!(
                    "it adds a device under {}'s name; only {}'s own devices may",
                    self.name_of(owner),
                    self.name_of(owner)
                ));
            }
            check_device_fields(fields, owner, signer)?;
        }
        Ok(())
    }

    /// Whether every device of `person` was removed, none by an uncoupling: a person who lost
    /// their only laptop, whose next device the partner's pairing may then add (as it may
    /// remove the last one, [`may_remove`]).
    fn lost_all(&self, person: &str) -> bool {
        let mut theirs = self
            .devices
            .values()
            .filter(|d| d.person == person)
            .peekable();
        theirs.peek().is_some() && theirs.all(|d| d.removed && !d.uncoupled)
    }

    /// An uncoupling ends the partnership whole: it removes every device of the other person
    /// that is not removed yet, in one change, and nothing else of theirs. (Otherwise "uncoupled"
    /// would let a partner remove one device of a person who has others, which only that
    /// person may.)
    fn check_uncoupling(&self, plan: &Plan) -> Result<(), String> {
        let uncoupled: BTreeSet<[u8; 32]> = plan
            .removals
            .iter()
            .filter(|(_, f)| {
                f.get("removed_why").is_some_and(
                    |v| matches!(v, ScalarValue::Str(s) if s.as_str() == crate::UNCOUPLED),
                )
            })
            .filter_map(|(k, _)| hex_key(k))
            .collect();
        let Some(first) = uncoupled.iter().next() else {
            return Ok(());
        };
        let person = self.devices.get(&actor_of(first)).map(|d| d.person.clone());
        let all: BTreeSet<[u8; 32]> = self
            .devices
            .values()
            .filter(|d| Some(&d.person) == person.as_ref() && !d.removed)
            .map(|d| d.key)
            .collect();
        if plan.removals.len() != uncoupled.len() || uncoupled != all {
            return Err(
                "it ends the partnership without removing every device of the other person, \
                 or with other removals"
                    .into(),
            );
        }
        Ok(())
    }

    /// A removal of device `target` (key, hex) by a device of person `signer` with key `key`:
    /// exactly the three fields Mend writes, naming the remover, under [`may_remove`].
    fn check_removal(
        &self,
        target: &str,
        fields: &Fields,
        signer: &str,
        key: &[u8; 32],
    ) -> Result<(), String> {
        let dev = hex_key(target)
            .and_then(|k| self.devices.get(&actor_of(&k)).filter(|d| d.key == k))
            .ok_or_else(|| format!("it changes the record of a device ({})", short(target)))?;
        let by_device = hex_lower(key);
        let mut uncoupling = false;
        for (name, value) in fields {
            let ok = match (name.as_str(), value) {
                ("removed_at", ScalarValue::Timestamp(_) | ScalarValue::Int(_)) => true,
                ("removed_by", ScalarValue::Str(s)) => s.as_str() == signer,
                ("removed_by_device", ScalarValue::Str(s)) => s.as_str() == by_device,
                ("removed_why", ScalarValue::Str(s)) if s.as_str() == crate::UNCOUPLED => {
                    uncoupling = true;
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "it changes a device's {name:?}; only a removal by the remover may"
                ));
            }
        }
        if fields.len() != 3 + usize::from(uncoupling) {
            return Err("it removes a device without saying when and by whom".into());
        }
        if uncoupling {
            // Either partner may end the partnership: it removes the other person's devices,
            // never one's own.
            return if dev.person == signer {
                Err("it ends the partnership by removing its own person's device".into())
            } else {
                Ok(())
            };
        }
        let others = self
            .devices
            .values()
            .any(|d| d.person == dev.person && d.key != dev.key && !d.removed);
        may_remove(&dev.person, &self.name_of(&dev.person), signer, others)
    }

    /// Whether an entry with this id exists. A large batch (an import, a first sync) asks this
    /// for thousands of new ids: past the first few, the journal's ids are read once into a set
    /// instead of being looked up in the document one by one.
    fn entry_exists(&self, id: &str) -> bool {
        if self.new_entries.contains_key(id) {
            return true;
        }
        let Some(entries) = &self.entries_obj else {
            return false;
        };
        let asked = self.lookups.get() + 1;
        self.lookups.set(asked);
        if asked <= 32 {
            return self.doc.get(entries, id).ok().flatten().is_some();
        }
        self.existing
            .get_or_init(|| self.doc.keys(entries).collect())
            .contains(id)
    }

    fn entry_facts(&self, id: &str) -> Option<Facts> {
        if let Some(f) = self.new_entries.get(id) {
            return Some(f.clone());
        }
        let entries = self.entries_obj.as_ref()?;
        let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(entries, id).ok().flatten()
        else {
            return None;
        };
        let mut f = Facts::default();
        for item in self.doc.map_range(&obj, ..) {
            let automerge::ValueRef::Scalar(v) = item.value else {
                continue;
            };
            let s = || match &v {
                automerge::ScalarValueRef::Str(s) => Some(s.to_string()),
                _ => None,
            };
            match item.key.as_ref() {
                "author" => f.author = s().unwrap_or_default(),
                "kind" => f.kind = s().and_then(|k| Kind::parse(&k)).unwrap_or_default(),
                "ref" => f.refers_to = s(),
                "prompt" => f.prompt = s(),
                "retracted_at" => f.retracted = true,
                _ => {}
            }
        }
        Some(f)
    }

    /// Whether some answer by someone other than `not_by` answers the reveal-together answer
    /// `first`, in this batch or in the journal.
    fn has_second_answer(&self, first: &str, not_by: &str) -> bool {
        let second = |f: &Facts| {
            f.kind == Kind::TogetherAnswer
                && f.refers_to.as_deref() == Some(first)
                && f.author != not_by
        };
        if self.new_entries.values().any(second) {
            return true;
        }
        let Some(entries) = &self.entries_obj else {
            return false;
        };
        self.doc.keys(entries).any(|id| {
            let Some((Value::Object(ObjType::Map), obj)) =
                self.doc.get(entries, id.as_str()).ok().flatten()
            else {
                return false;
            };
            read_str(self.doc, &obj, "ref").as_deref() == Some(first)
                && read_str(self.doc, &obj, "kind").as_deref()
                    == Some(Kind::TogetherAnswer.as_str())
                && read_str(self.doc, &obj, "author").as_deref() != Some(not_by)
        })
    }

    /// The rules for a new entry written by `signer` (a person id). `batch` holds the other
    /// entries the same change creates, which it may refer to.
    fn check_new_entry(
        &self,
        id: &str,
        fields: &Fields,
        signer: &str,
        batch: &BTreeMap<String, Fields>,
        local: bool,
    ) -> Result<(), String> {
        if !valid_entry_id(id) {
            return Err("it writes an entry whose id is not 1-64 letters, digits, - or _".into());
        }
        if self.entry_exists(id) {
            return Err(format!("it replaces the entry {}", short(id)));
        }
        if batch.len() > crate::IMPORT_MAX_ENTRIES {
            return Err("it writes more entries at once than an import may hold".into());
        }
        for (key, value) in fields {
            check_entry_field(key, value, signer, true)?;
        }
        match fields.get("author").and_then(text) {
            Some(a) if a == signer => {}
            Some(a) => return Err(format!("it writes an entry in {}'s name", self.name_of(a))),
            None => return Err("it writes an entry with no author".into()),
        }
        if !fields.contains_key("created_at") {
            return Err("it writes an entry with no date".into());
        }
        let kind_name = fields
            .get("kind")
            .and_then(text)
            .unwrap_or(Kind::Entry.as_str());
        let Some(kind) = Kind::parse(kind_name) else {
            return Err(format!("it writes an entry of unknown kind {kind_name:?}"));
        };
        let target_id = fields.get("ref").and_then(text);
        let target = target_id.map(|t| {
            self.entry_facts(t).or_else(|| {
                batch.get(t).map(|f| Facts {
                    author: f.get("author").and_then(text).unwrap_or_default().into(),
                    kind: f
                        .get("kind")
                        .and_then(text)
                        .and_then(Kind::parse)
                        .unwrap_or_default(),
                    refers_to: f.get("ref").and_then(text).map(str::to_owned),
                    prompt: f.get("prompt").and_then(text).map(str::to_owned),
                    retracted: f.contains_key("retracted_at"),
                })
            })
        });
        let target = match (target_id, target) {
            (Some(t), Some(None)) => {
                return Err(format!("it refers to {}, which does not exist", short(t)))
            }
            (_, Some(Some(f))) => Some(f),
            _ => None,
        };
        if target.as_ref().is_some_and(|t| t.kind == Kind::Relay) {
            return Err("it refers to a relay; nothing answers a relay".into());
        }
        let need = |what: &str| format!("a {kind} must refer to {what}");
        let partners = |t: &Facts| t.author != signer;
        match kind {
            Kind::PromiseKept | Kind::PromiseMissed => match &target {
                Some(t) if t.kind == Kind::Promise && t.author == signer => {}
                Some(t) if t.kind == Kind::Promise => {
                    return Err(format!(
                        "it records {}'s promise as {}; only the one who promised may",
                        self.name_of(&t.author),
                        if kind == Kind::PromiseKept {
                            "kept"
                        } else {
                            "missed"
                        }
                    ))
                }
                _ => return Err(need("a promise")),
            },
            Kind::PromiseConfirmed => match &target {
                Some(t) if t.kind == Kind::Promise && partners(t) => {}
                Some(t) if t.kind == Kind::Promise => {
                    return Err("it confirms its own author's promise; only the partner may".into())
                }
                _ => return Err(need("a promise")),
            },
            Kind::ReassuranceGive => match &target {
                Some(t) if t.kind == Kind::ReassuranceAsk && partners(t) => {}
                Some(t) if t.kind == Kind::ReassuranceAsk => {
                    return Err(
                        "it answers one's own request for reassurance; only the partner may".into(),
                    )
                }
                _ => return Err(need("a request for reassurance")),
            },
            Kind::Receipt => match &target {
                Some(t) if partners(t) => {}
                Some(_) => {
                    return Err(
                        "it acknowledges one's own entry; a receipt is for the partner's".into(),
                    )
                }
                None => return Err(need("an entry")),
            },
            Kind::Reply if target.is_none() => return Err(need("an entry")),
            Kind::TogetherAnswer => {
                let sealed = fields.get("sealed").and_then(text).unwrap_or_default();
                let well_formed = sealed.len().is_multiple_of(2)
                    && sealed.len() >= 2 * SEALED_MIN_BYTES
                    && sealed.bytes().all(|b| b.is_ascii_hexdigit());
                if !well_formed {
                    return Err("it writes a reveal-together answer that is not sealed".into());
                }
                let prompt = fields.get("prompt").and_then(text);
                if prompt.is_none() {
                    return Err("it writes a reveal-together answer with no prompt".into());
                }
                if let Some(t) = &target {
                    if t.kind != Kind::TogetherAnswer || t.refers_to.is_some() {
                        return Err(need("a first reveal-together answer"));
                    }
                    if !partners(t) {
                        return Err("it answers one's own reveal-together answer; the second answer is the partner's".into());
                    }
                    if t.prompt.as_deref() != prompt {
                        return Err("it answers a reveal-together round of another prompt".into());
                    }
                }
            }
            Kind::TogetherReveal => {
                let key = fields.get("text").and_then(text).unwrap_or_default();
                if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("it publishes something that is not an answer key".into());
                }
                let Some(t) = &target else {
                    return Err(need("a reveal-together answer"));
                };
                if t.kind != Kind::TogetherAnswer || t.author != signer {
                    return Err("it publishes a key for an answer that is not the signer's".into());
                }
                let complete = t.refers_to.is_some()
                    || self.has_second_answer(target_id.unwrap_or_default(), signer)
                    || batch.values().any(|f| {
                        f.get("kind").and_then(text) == Some(Kind::TogetherAnswer.as_str())
                            && f.get("ref").and_then(text) == target_id
                            && f.get("author").and_then(text) != Some(signer)
                    });
                if !complete {
                    return Err("it publishes an answer key before both have answered".into());
                }
            }
            Kind::TogetherKey => {
                return Err("it shares a private answer key".into());
            }
            Kind::Relay => {
                if let Some(key) = fields.keys().find(|k| {
                    !matches!(
                        k.as_str(),
                        "author"
                            | "created_at"
                            | "written_at"
                            | "text"
                            | "kind"
                            | "retracted_at"
                            | "retracted_by"
                    )
                }) {
                    return Err(format!(
                        "it writes a relay with a {key:?}; a relay is its address alone"
                    ));
                }
                let addr = fields.get("text").and_then(text).unwrap_or_default();
                let well_formed = if fields.contains_key("retracted_at") {
                    addr.is_empty()
                } else {
                    crate::valid_relay_addr(addr)
                };
                if !well_formed {
                    return Err(
                        "it remembers a relay whose address is not a multiaddr with a /p2p/ id"
                            .into(),
                    );
                }
            }
            _ => {}
        }
        // Only where the entry is written: a reply and a retraction made apart both stand once
        // they meet, and every device must judge a change by what it could see, not by what
        // arrived later (the rules hold only for facts that never change once written).
        if let (true, Some(t), Kind::Reply | Kind::Receipt) = (local, &target, kind) {
            if t.retracted {
                return Err("it answers a retracted entry".into());
            }
        }
        Ok(())
    }

    fn check_edit(
        &self,
        id: &str,
        puts: &Fields,
        deletes: &[String],
        signer: &str,
    ) -> Result<(), String> {
        let facts = self
            .entry_facts(id)
            .ok_or_else(|| format!("it changes {}, which is not an entry", short(id)))?;
        if facts.author != signer {
            return Err(format!(
                "it changes {}'s entry {}; only its author may",
                self.name_of(&facts.author),
                short(id)
            ));
        }
        // A relay is added and removed, never changed: the only edit is its retraction.
        if facts.kind == Kind::Relay {
            let retraction = puts.contains_key("retracted_at")
                && puts.iter().all(|(key, value)| match key.as_str() {
                    "text" => text(value) == Some(""),
                    "retracted_at" | "retracted_by" => true,
                    _ => false,
                });
            if !retraction {
                return Err(format!(
                    "it changes the relay {}; a relay is only added or removed",
                    short(id)
                ));
            }
        }
        for (key, value) in puts {
            if !matches!(
                key.as_str(),
                "text"
                    | "tags"
                    | "mood"
                    | "created_at"
                    | "edited_at"
                    | "retracted_at"
                    | "retracted_by"
            ) {
                return Err(format!(
                    "it changes an entry's {key:?}, which stays as written"
                ));
            }
            check_entry_field(key, value, signer, false)?;
        }
        for key in deletes {
            if !matches!(key.as_str(), "tags" | "mood" | "sealed") {
                return Err(format!("it removes an entry's {key:?}"));
            }
        }
        Ok(())
    }

    fn classify(&self, plan: &Plan, obj: &automerge::legacy::OpId) -> Obj {
        let k = (obj.0, obj.1.clone());
        if let Some(o) = plan.made.get(&k).or_else(|| self.objects.get(&k)) {
            return o.clone();
        }
        let printed = format!("{}@{}", obj.0, obj.1);
        if let Some(kind) = self.roots.get(&printed) {
            return Obj::Root(*kind);
        }
        let Ok(id) = self.doc.import_obj(&printed) else {
            return Obj::Other;
        };
        let Some(parent) = self.doc.parents(&id).ok().and_then(|mut p| p.next()) else {
            return Obj::Other;
        };
        let automerge::Prop::Map(key) = parent.prop else {
            return Obj::Other;
        };
        match self.roots.get(&parent.obj.to_string()) {
            Some(RootMap::People) => Obj::Person(key),
            Some(RootMap::Devices) => Obj::Device(key),
            Some(RootMap::Entries) => Obj::Entry(key),
            None => Obj::Other,
        }
    }

    /// Read what a change does from its operations.
    fn read_plan(&self, change: &Change) -> Result<Plan, String> {
        let expanded = change.decode();
        let actor = change.actor_id().clone();
        let start = change.start_op().get();
        let mut plan = Plan::default();
        for (i, op) in expanded.operations.iter().enumerate() {
            let op_id: ObjKey = (start + i as u64, actor.clone());
            let Key::Map(key) = &op.key else {
                return Err("it edits a list or text, which the journal does not hold".into());
            };
            let key = key.as_str().to_owned();
            if op.insert {
                return Err("it inserts into a list, which the journal does not hold".into());
            }
            // What an operation overwrites or deletes (its `pred`) must be a value at the very key
            // it writes: Automerge would otherwise let a write to one field remove another.
            let slot: (Option<ObjKey>, String) = match &op.obj {
                ObjectId::Root => (None, key.clone()),
                ObjectId::Id(id) => (Some((id.0, id.1.clone())), key.clone()),
            };
            for p in op.pred.iter() {
                let p: ObjKey = (p.0, p.1.clone());
                let here = |ops: Option<&Vec<ObjKey>>| ops.is_some_and(|ops| ops.contains(&p));
                if !here(plan.slots.get(&slot))
                    && !here(self.slots.get(&slot))
                    && !self.held_at(&slot, &p, change)
                {
                    return Err(format!(
                        "it overwrites something that is not at the key it writes ({key:?})"
                    ));
                }
            }
            plan.slots.entry(slot).or_default().push(op_id.clone());
            let obj = match &op.obj {
                ObjectId::Root => {
                    if !self.roots.is_empty() {
                        return Err(
                            "it changes the journal's root (schema, people, devices or entries)"
                                .into(),
                        );
                    }
                    match (&op.action, key.as_str()) {
                        (OpType::Make(ObjType::Map), "people" | "devices" | "entries") => {
                            let kind = match key.as_str() {
                                "people" => RootMap::People,
                                "devices" => RootMap::Devices,
                                _ => RootMap::Entries,
                            };
                            plan.made.insert(op_id.clone(), Obj::Root(kind));
                            plan.root_maps.push((op_id, kind));
                        }
                        (OpType::Put(v), "schema" | "journal_id" | "created_at") => {
                            plan.root.insert(key, v.clone());
                        }
                        _ => return Err(format!("it writes {key:?} at the journal's root")),
                    }
                    continue;
                }
                ObjectId::Id(id) => self.classify(&plan, id),
            };
            match (obj, &op.action) {
                (Obj::Root(kind), OpType::Make(_))
                    if match kind {
                        RootMap::People => plan.people.contains_key(&key),
                        RootMap::Devices => plan.devices.contains_key(&key),
                        RootMap::Entries => plan.entries.contains_key(&key),
                    } =>
                {
                    return Err(format!(
                        "it makes two objects under one key ({})",
                        short(&key)
                    ))
                }
                (Obj::Root(RootMap::People), OpType::Make(ObjType::Map)) if op.pred.is_empty() => {
                    plan.made.insert(op_id, Obj::Person(key.clone()));
                    plan.people.insert(key, Fields::new());
                }
                (Obj::Root(RootMap::Devices), OpType::Make(ObjType::Map)) if op.pred.is_empty() => {
                    plan.made.insert(op_id, Obj::Device(key.clone()));
                    plan.devices.insert(key, Fields::new());
                }
                (Obj::Root(RootMap::Entries), OpType::Make(ObjType::Map)) if op.pred.is_empty() => {
                    plan.made.insert(op_id, Obj::Entry(key.clone()));
                    plan.entries.insert(key, Fields::new());
                }
                (Obj::Root(RootMap::Entries), OpType::Delete) => {
                    return Err(format!("it deletes the entry {}", short(&key)))
                }
                (Obj::Root(RootMap::Entries), _) => {
                    return Err(format!("it replaces the entry {}", short(&key)))
                }
                (Obj::Root(_), _) => {
                    return Err("it changes the journal's people or devices".into())
                }
                (Obj::Person(id), OpType::Put(v)) if plan.people.contains_key(&id) => {
                    plan.people
                        .get_mut(&id)
                        .expect("made")
                        .insert(key, v.clone());
                }
                (Obj::Person(_), _) => return Err("it changes a person's record".into()),
                (Obj::Device(id), OpType::Put(v)) if plan.devices.contains_key(&id) => {
                    plan.devices
                        .get_mut(&id)
                        .expect("made")
                        .insert(key, v.clone());
                }
                (Obj::Device(id), OpType::Put(v)) => {
                    plan.removals.entry(id).or_default().insert(key, v.clone());
                }
                (Obj::Device(_), _) => return Err("it changes a device's record".into()),
                (Obj::Entry(id), OpType::Put(v)) if plan.entries.contains_key(&id) => {
                    plan.entries
                        .get_mut(&id)
                        .expect("made")
                        .insert(key, v.clone());
                }
                (Obj::Entry(id), OpType::Put(v)) => {
                    plan.edits.entry(id).or_default().0.insert(key, v.clone());
                }
                (Obj::Entry(id), OpType::Delete) if !plan.entries.contains_key(&id) => {
                    plan.edits.entry(id).or_default().1.push(key);
                }
                (Obj::Entry(_), _) => {
                    return Err("it puts something other than a plain value in an entry".into())
                }
                (Obj::Other, _) => {
                    return Err("it writes to an object that is not part of the journal".into())
                }
            }
        }
        Ok(plan)
    }

    /// Make what an accepted change added known to the changes checked after it.
    fn adopt(&mut self, plan: Plan) {
        for ((counter, actor), kind) in &plan.root_maps {
            self.roots.insert(format!("{counter}@{actor}"), *kind);
        }
        for (id, fields) in &plan.people {
            let name = fields.get("name").and_then(text).unwrap_or_default();
            self.people.insert(id.clone(), name.to_owned());
        }
        for (key_hex, fields) in &plan.devices {
            if let Some(key) = hex_key(key_hex) {
                let person = fields.get("person").and_then(text).unwrap_or_default();
                self.devices.insert(
                    actor_of(&key),
                    Dev {
                        key,
                        person: person.to_owned(),
                        name: fields
                            .get("name")
                            .and_then(text)
                            .unwrap_or_default()
                            .to_owned(),
                        removed: false,
                        uncoupled: false,
                    },
                );
            }
        }
        for (key, fields) in plan
            .removals
            .iter()
            .filter_map(|(k, f)| Some((hex_key(k)?, f)))
        {
            if let Some(d) = self.devices.get_mut(&actor_of(&key)) {
                d.removed = true;
                d.uncoupled = fields.get("removed_why").is_some();
            }
        }
        for (id, fields) in &plan.entries {
            let get = |k: &str| fields.get(k).and_then(text).map(str::to_owned);
            self.new_entries.insert(
                id.clone(),
                Facts {
                    author: get("author").unwrap_or_default(),
                    kind: get("kind")
                        .and_then(|k| Kind::parse(&k))
                        .unwrap_or_default(),
                    refers_to: get("ref"),
                    prompt: get("prompt"),
                    retracted: fields.contains_key("retracted_at"),
                },
            );
        }
        for (id, (puts, _)) in &plan.edits {
            if puts.contains_key("retracted_at") {
                if let Some(mut f) = self.entry_facts(id) {
                    f.retracted = true;
                    self.new_entries.insert(id.clone(), f);
                }
            }
        }
        self.objects.extend(plan.made);
        for (slot, ops) in plan.slots {
            self.slots.entry(slot).or_default().extend(ops);
        }
    }

    /// What a change that depends on `d` sees of the journal as this device holds it, through
    /// `d`: `d` itself if held, what `d` saw if it was accepted in this batch (and is not held),
    /// nothing otherwise (a change with such a dependency is refused before it is read).
    fn through(&self, d: &ChangeHash) -> Through<'_> {
        match self.seen_through.get(d) {
            Some(View::Kept(heads)) => Through::Kept(heads),
            Some(View::Walk(k)) => Through::Walk(*k),
            None if self.holds(d) => Through::Held(*d),
            None => Through::Nothing,
        }
    }

    fn holds(&self, d: &ChangeHash) -> bool {
        !ReadDoc::get_missing_deps(self.doc, &[*d]).contains(d)
    }

    /// What change `hash`, with dependencies `deps`, saw of the journal as this device holds
    /// it: the union of what each dependency shows ([`Checker::through`]), its nearest
    /// ancestors held before the batch. Found from the dependencies' own views, never by walking
    /// back through the batch: a chain of changes costs each of them what its own dependencies
    /// do. Kept as a set while that is at most [`VIEW_KEPT`] changes, shared with a dependency
    /// that saw the same; a larger one is found when needed ([`Checker::walk`]).
    fn view_from(&self, hash: ChangeHash, deps: &[ChangeHash]) -> View {
        let mut held: Vec<ChangeHash> = Vec::new();
        let mut kept: Vec<&Arc<[ChangeHash]>> = Vec::new();
        let mut walks: Vec<ChangeHash> = Vec::new();
        for d in deps {
            match self.through(d) {
                Through::Held(h) => held.push(h),
                Through::Kept(heads) => kept.push(heads),
                Through::Walk(k) => walks.push(k),
                Through::Nothing => {}
            }
        }
        kept.sort_unstable_by_key(|k| Arc::as_ptr(k).cast::<u8>());
        kept.dedup_by(|a, b| Arc::ptr_eq(a, b));
        walks.sort_unstable();
        walks.dedup();
        match (held.is_empty(), kept.as_slice(), walks.as_slice()) {
            // All through one dependency's view (a chain): the same view.
            (true, [], []) => return View::Kept(self.nothing.clone()),
            (true, [one], []) => return View::Kept(Arc::clone(one)),
            (true, [], [k]) => return View::Walk(*k),
            (_, _, [_, ..]) => return View::Walk(hash),
            _ => {}
        }
        let largest = kept.iter().max_by_key(|k| k.len()).copied();
        let mut all = held;
        for heads in &kept {
            all.extend_from_slice(heads);
        }
        all.sort_unstable();
        all.dedup();
        match largest {
            // Every other dependency saw part of what this one did.
            Some(l) if l.len() == all.len() => View::Kept(Arc::clone(l)),
            _ if all.len() <= VIEW_KEPT => View::Kept(Arc::from(all)),
            _ => View::Walk(hash),
        }
    }

    /// The nearest ancestors held before the batch of a change with dependencies `deps`,
    /// found by a walk back through the batch that stops at every view kept (and at a view
    /// walked for before, [`Checker::walked`]): for views larger than [`VIEW_KEPT`].
    fn walk(&self, deps: &[ChangeHash]) -> Arc<[ChangeHash]> {
        let walked = self.walked.borrow();
        let mut heads: Vec<ChangeHash> = Vec::new();
        let mut seen: FastSet<ChangeHash> = FastSet::default();
        let mut expanded: FastSet<ChangeHash> = FastSet::default();
        let mut taken: FastSet<*const u8> = FastSet::default();
        let mut stack: Vec<ChangeHash> = deps.to_vec();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            match self.through(&d) {
                Through::Held(h) => heads.push(h),
                Through::Kept(kept) => {
                    if taken.insert(Arc::as_ptr(kept).cast::<u8>()) {
                        heads.extend_from_slice(kept);
                    }
                }
                Through::Walk(k) => {
                    if !expanded.insert(k) {
                        continue;
                    }
                    match walked.map.get(&k) {
                        Some(known) => heads.extend_from_slice(known),
                        None => stack.extend(self.batch_deps.get(&k).into_iter().flatten()),
                    }
                }
                Through::Nothing => {}
            }
        }
        heads.sort_unstable();
        heads.dedup();
        Arc::from(heads)
    }

    /// The journal as `change` saw it, the part this device holds: the change's nearest
    /// ancestors held before this batch (its dependencies that are held, and for those that came
    /// in this batch, theirs), as heads. Found once per change.
    fn view_of(&self, change: &Change) -> Arc<[ChangeHash]> {
        let hash = change.hash();
        if let Some((h, heads)) = &*self.viewing.borrow() {
            if *h == hash {
                return Arc::clone(heads);
            }
        }
        let heads = match self.view_from(hash, change.deps()) {
            View::Kept(heads) => heads,
            View::Walk(k) => {
                let known = self.walked.borrow().map.get(&k).cloned();
                known.unwrap_or_else(|| {
                    let heads = self.walk(change.deps());
                    self.walked
                        .borrow_mut()
                        .keep(k, Arc::clone(&heads), self.accepted.len());
                    heads
                })
            }
        };
        *self.viewing.borrow_mut() = Some((hash, Arc::clone(&heads)));
        heads
    }

    /// Whether op `p` is a value at `slot` in the journal as `change` saw it (at its
    /// dependencies that this device holds).
    fn held_at(&self, slot: &(Option<ObjKey>, String), p: &ObjKey, change: &Change) -> bool {
        let obj = match &slot.0 {
            None => automerge::ROOT,
            Some((counter, actor)) => match self.doc.import_obj(&format!("{counter}@{actor}")) {
                Ok(id) => id,
                Err(_) => return false,
            },
        };
        // An op in `pred` from the part of the author's view that this device holds is
        // visible there.
        let heads = self.view_of(change);
        self.doc
            .get_all_at(&obj, slot.1.as_str(), &heads)
            .unwrap_or_default()
            .iter()
            .any(|(_, id)| key_of(&id.to_string()).as_ref() == Some(p))
    }

    /// How many relay entries `person` has written, retracted ones included: in the journal
    /// before this batch (counted once, in one pass over its entries, the first time a relay
    /// is counted) and in the changes of this batch accepted so far.
    fn relay_entries_of(&self, person: &str) -> usize {
        let held = self.held_relays.get_or_init(|| {
            let mut counts: FastMap<String, usize> = FastMap::default();
            let Some(entries) = &self.entries_obj else {
                return counts;
            };
            for item in self.doc.map_range(entries, ..) {
                let automerge::ValueRef::Object(ObjType::Map) = item.value else {
                    continue;
                };
                let obj = item.id();
                if read_str(self.doc, &obj, "kind").as_deref() == Some(Kind::Relay.as_str()) {
                    let author = read_str(self.doc, &obj, "author").unwrap_or_default();
                    *counts.entry(author).or_default() += 1;
                }
            }
            counts
        });
        held.get(person).copied().unwrap_or_default()
            + self.batch_relays.get(person).copied().unwrap_or_default()
    }

    /// Person `person` may write `adding` more relay entries (a change, a local write, an
    /// import) if that leaves them at most [`crate::RELAY_ENTRIES_PER_PERSON`] in all. The same
    /// whatever branch of the journal they are written on: a person's devices writing apart
    /// share one count. Where the change saw the journal does not matter, so nothing of its
    /// history is walked; one that adds no relay entry is never refused for it.
    fn check_relay_entries(&self, person: &str, adding: usize) -> Result<(), String> {
        if adding == 0 {
            return Ok(());
        }
        let written = self.relay_entries_of(person);
        if written + adding > crate::RELAY_ENTRIES_PER_PERSON {
            // The first of them past the limit.
            let nth = written.max(crate::RELAY_ENTRIES_PER_PERSON) + 1;
            return Err(self.past_relay_limit(person, nth));
        }
        Ok(())
    }

    /// Why the `nth` relay entry by `person` is refused.
    fn past_relay_limit(&self, person: &str, nth: usize) -> String {
        format!(
            "it adds a {} relay by {}; a person writes at most {}",
            ordinal(nth),
            self.name_of(person),
            crate::RELAY_ENTRIES_PER_PERSON
        )
    }

    /// The rules for an entry this device is about to write (`add_entry`, an import): the same
    /// checks as for an entry that arrives.
    pub fn check_local_entry(&self, id: &str, fields: &Fields, signer: &str) -> Result<(), String> {
        self.check_new_entry(id, fields, signer, &BTreeMap::new(), true)?;
        self.check_relay_entries(signer, usize::from(is_relay(fields)))
    }

    /// The same for many entries written at once (an import), which may refer to each other:
    /// each refused one with its position in `items` (its `usize`) and why.
    pub fn check_local_batch(
        &self,
        items: &[(usize, String, Fields)],
        signer: &str,
    ) -> Vec<(usize, String)> {
        let batch: BTreeMap<String, Fields> = items
            .iter()
            .map(|(_, id, f)| (id.clone(), f.clone()))
            .collect();
        let mut refused: Vec<(usize, String)> = items
            .iter()
            .filter_map(|(i, id, f)| {
                self.check_new_entry(id, f, signer, &batch, true)
                    .err()
                    .map(|why| (*i, why))
            })
            .collect();
        // The relay entries past the signer's last one allowed, in the order given.
        let relays = items.iter().filter(|(_, _, f)| is_relay(f));
        if relays.clone().next().is_some() {
            let already: FastSet<usize> = refused.iter().map(|(i, _)| *i).collect();
            let written = self.relay_entries_of(signer);
            for (nth, (i, _, _)) in (written + 1..).zip(relays) {
                if nth > crate::RELAY_ENTRIES_PER_PERSON && !already.contains(i) {
                    refused.push((*i, self.past_relay_limit(signer, nth)));
                }
            }
            refused.sort_by_key(|(i, _)| *i);
        }
        refused
    }
}

fn check_person_fields(fields: &Fields) -> Result<(), String> {
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("name", ScalarValue::Str(s)) if valid_name(s) => {}
            ("added_at", ScalarValue::Timestamp(_) | ScalarValue::Int(_)) => {}
            _ => return Err(format!("a person's {key:?} is not what Mend writes")),
        }
    }
    if !fields.contains_key("name") {
        return Err("it adds a person with no name".into());
    }
    Ok(())
}

fn check_device_fields(fields: &Fields, owner: &str, added_by: &str) -> Result<(), String> {
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("person", ScalarValue::Str(s)) if s.as_str() == owner => {}
            ("added_by", ScalarValue::Str(s)) if s.as_str() == added_by => {}
            ("name", ScalarValue::Str(s)) if valid_name(s) => {}
            ("added_at", ScalarValue::Timestamp(_) | ScalarValue::Int(_)) => {}
            _ => return Err(format!("a device's {key:?} is not what Mend writes")),
        }
    }
    if !fields.contains_key("person") {
        return Err("it adds a device that belongs to nobody".into());
    }
    Ok(())
}

/// One field of an entry: known, of the right type, within its bounds.
fn check_entry_field(
    key: &str,
    value: &ScalarValue,
    signer: &str,
    new: bool,
) -> Result<(), String> {
    let bad = || format!("an entry's {key:?} is not what Mend writes");
    let time = matches!(value, ScalarValue::Timestamp(_) | ScalarValue::Int(_));
    let s = text(value);
    let fits = |max: usize| s.is_some_and(|s| s.len() <= max);
    let ok = match key {
        "created_at" | "written_at" | "edited_at" | "until" | "shared_at" | "retracted_at" => time,
        "text" => {
            if s.is_some_and(|s| s.len() > TEXT_MAX_BYTES) {
                return Err("it writes a text longer than 1 MiB".into());
            }
            s.is_some()
        }
        // Words as `normalize_tag` makes them: nothing a terminal would act on.
        "tags" | "feelings" => {
            fits(LIST_MAX_BYTES)
                && s.is_some_and(|s| {
                    s.split_whitespace()
                        .all(|w| crate::normalize_tag(w).as_deref() == Some(w))
                })
        }
        "mood" => match value {
            ScalarValue::Int(m) => u8::try_from(*m).is_ok_and(|m| MOOD_RANGE.contains(&m)),
            ScalarValue::Uint(m) => u8::try_from(*m).is_ok_and(|m| MOOD_RANGE.contains(&m)),
            _ => false,
        },
        "kind" if new => fits(SHORT_MAX_BYTES),
        "author" if new => fits(SHORT_MAX_BYTES),
        "ref" if new => s.is_some_and(valid_entry_id),
        // A cadence or a prompt id: one ASCII word.
        "every" | "prompt" if new => {
            fits(SHORT_MAX_BYTES)
                && s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
        }
        "sealed" if new => fits(SEALED_MAX_BYTES),
        "retracted_by" => {
            if s.is_some_and(|s| s != signer) {
                return Err("it records a retraction in someone else's name".into());
            }
            s.is_some()
        }
        _ => return Err(format!("it writes an unknown entry field {key:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

fn short(id: &str) -> &str {
    let end = id.char_indices().nth(8).map_or(id.len(), |(i, _)| i);
    &id[..end]
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sort changes so that each comes after those of its dependencies that are in the batch
/// (the order they came in, where the dependencies allow it). Duplicates are dropped.
pub fn causal_order(changes: Vec<Change>) -> Vec<Change> {
    let mut seen = HashSet::new();
    let changes: Vec<Change> = changes
        .into_iter()
        .filter(|c| seen.insert(c.hash()))
        .collect();
    let index: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash(), i))
        .collect();
    let mut waiting = vec![0usize; changes.len()];
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for d in c.deps() {
            if let Some(&j) = index.get(d) {
                waiting[i] += 1;
                dependants[j].push(i);
            }
        }
    }
    let mut ready: std::collections::VecDeque<usize> =
        (0..changes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &k in &dependants[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push_back(k);
            }
        }
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    // A cycle cannot happen with real hashes; whatever is left out of the order is dropped.
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_are_english() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 33, 101, 111, 112]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "33rd",
                "101st", "111th", "112th"
            ]
        );
    }

    /// The view as it was found before views were kept per change: walking back from the
    /// change's dependencies through every change of the batch it came after, to the held
    /// ones. Quadratic over a chain; the reference the kept views must equal.
    fn view_by_walking(c: &Checker<'_>, change: &Change) -> Vec<ChangeHash> {
        let held = |d: &ChangeHash| !ReadDoc::get_missing_deps(c.doc, &[*d]).contains(d);
        let mut heads: Vec<ChangeHash> = Vec::new();
        let mut seen: HashSet<ChangeHash> = HashSet::new();
        let mut stack: Vec<ChangeHash> = change.deps().to_vec();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            if held(&d) {
                heads.push(d);
            } else if let Some(deps) = c.batch_deps.get(&d) {
                stack.extend(deps.iter().copied());
            }
        }
        heads.sort_unstable();
        heads
    }

    /// A small random number generator (xorshift), seeded.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Random histories of many actors that fork (also from old points), merge and edit: one
    /// part held, the rest checked as a batch in causal order. For every change of the batch,
    /// the view found from its dependencies' views is the one found by walking, also where a
    /// view holds more than [`VIEW_KEPT`] changes and is walked for.
    #[test]
    fn views_found_from_dependencies_are_the_views_found_by_walking() {
        use automerge::transaction::Transactable;
        let mut walked_views = 0;
        let mut large = 0;
        for seed in 1..=24u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut actors = 0u8;
            let mut fresh_actor = || {
                actors += 1;
                ActorId::from(vec![actors; 16])
            };
            let mut docs = vec![AutoCommit::new().with_actor(fresh_actor())];
            let mut step = |docs: &mut Vec<AutoCommit>, rng: &mut Rng, n: usize| {
                let i = rng.below(docs.len());
                match rng.below(10) {
                    0..=4 => {
                        let key = format!("k{}", rng.below(8));
                        docs[i]
                            .put(automerge::ROOT, key.as_str(), n as i64)
                            .unwrap();
                        docs[i].commit();
                    }
                    5 | 6 => {
                        let j = rng.below(docs.len());
                        if i != j {
                            let mut other = docs[j].fork();
                            docs[i].merge(&mut other).unwrap();
                        }
                    }
                    7 if docs.len() < 60 => {
                        let forked = docs[i].fork().with_actor(fresh_actor());
                        docs.push(forked);
                    }
                    8 if docs.len() < 60 => {
                        // From an old point of its history.
                        let all = docs[i].get_changes(&[]);
                        if !all.is_empty() {
                            let at = all[rng.below(all.len())].hash();
                            let forked = docs[i].fork_at(&[at]).unwrap().with_actor(fresh_actor());
                            docs.push(forked);
                        }
                    }
                    _ => {
                        // Many branches met at once.
                        let mut merged = docs[i].fork().with_actor(fresh_actor());
                        for d in docs.iter_mut() {
                            if rng.below(2) == 0 {
                                merged.merge(&mut d.fork()).unwrap();
                            }
                        }
                        merged.put(automerge::ROOT, "m", n as i64).unwrap();
                        merged.commit();
                        docs.push(merged);
                    }
                }
            };
            let all_changes = |docs: &mut Vec<AutoCommit>| {
                let mut by_hash: BTreeMap<ChangeHash, Change> = BTreeMap::new();
                for d in docs.iter_mut() {
                    for c in d.get_changes(&[]) {
                        by_hash.insert(c.hash(), c);
                    }
                }
                by_hash
            };
            for n in 0..60 {
                step(&mut docs, &mut rng, n);
            }
            let held_changes = all_changes(&mut docs);
            let mut held = AutoCommit::new();
            held.apply_changes(held_changes.values().cloned()).unwrap();
            for n in 60..260 {
                step(&mut docs, &mut rng, n);
            }
            let batch: Vec<Change> = all_changes(&mut docs)
                .into_values()
                .filter(|c| !held_changes.contains_key(&c.hash()))
                .collect();
            let mut checker = Checker::new(&held, [0; 16]);
            // Held changes may be checked again (the rules read them as held).
            for c in held_changes.values().take(3) {
                checker.remember(c);
            }
            for change in causal_order(batch) {
                let found = checker.view_of(&change);
                assert_eq!(
                    found.to_vec(),
                    view_by_walking(&checker, &change),
                    "seed {seed}"
                );
                if found.len() > VIEW_KEPT {
                    large += 1;
                }
                checker.remember(&change);
                if matches!(
                    checker.seen_through.get(&change.hash()),
                    Some(View::Walk(_))
                ) {
                    walked_views += 1;
                }
            }
        }
        // The histories reach views too large to keep, and chains after them.
        assert!(large > 100 && walked_views > 100, "{large} {walked_views}");
    }
}
