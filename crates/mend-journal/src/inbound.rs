//! Everything that reaches the shared journal from outside this process goes through here:
//! changes from a peer's sync message, the first sync of a new device, and the journal's own
//! log records on load. Each change is read, its signature verified and its operations checked
//! by the rules (`crate::rules`) before anything is applied; a refused change, and every change
//! that depends on it, never reaches the document. The rest still arrives.
//!
//! Also here: the containers that keep signatures beside the changes on disk (a snapshot body
//! and a log record body, `docs/format.md`).

use std::collections::{HashMap, HashSet};

use automerge::sync::SyncDoc;
use automerge::{AutoCommit, Change, ChangeHash, ReadDoc};

use crate::rules::{causal_order, Checker, Refused};
use crate::shape::Actors;
use crate::signed::{decode_pairs, encode_pairs, verify, verify_all, Sig};
use crate::{FastSet, Journal, JournalError, SyncState};

/// What became of the changes that arrived.
#[derive(Debug, Default, Clone)]
pub struct Admission {
    /// New changes applied.
    pub applied: usize,
    /// Changes refused, with the reason; nothing of them reached the document.
    pub refused: Vec<Refused>,
    /// Changes that wait, outside the document, for dependencies that have not arrived yet.
    pub waiting: usize,
    /// Changes this very device made that came back from the peer: this device no longer held
    /// them, so its journal files were put back to an older copy (or lost their last records).
    pub own_returned: usize,
}

impl Admission {
    fn add(&mut self, other: Admission) {
        self.applied += other.applied;
        self.refused.extend(other.refused);
        self.waiting = other.waiting;
        self.own_returned += other.own_returned;
    }
}

/// What checking a batch found, by position in the batch.
#[derive(Default)]
struct Verdict {
    accepted: FastSet<usize>,
    refused: Vec<Refused>,
    waiting: FastSet<usize>,
}

/// The first bytes of every Automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The most changes one batch (a sync message, a log record) may hold.
pub const MAX_CHANGES_PER_BATCH: usize = 1_000_000;
/// The most changes kept waiting for their dependencies; past that they are dropped (and sent
/// again by the peer in a later session).
const MAX_WAITING: usize = 100_000;

/// Split Automerge's incremental bytes (a log record, a sync message's changes) into changes.
/// A whole saved document among them is loaded and its changes taken out.
///
/// Compressed chunks are inflated within a budget that grows with `bytes`
/// ([`crate::inflate`]): a decompression bomb is refused before Automerge inflates anything.
pub fn split_changes(bytes: &[u8]) -> Result<Vec<Change>, JournalError> {
    split(bytes, false).map(|(changes, _)| changes)
}

/// [`split_changes`], and when `bytes` are one whole saved document, that document loaded (if
/// `keep_document`): a new device's first sync adopts it rather than loading it again.
fn split(
    bytes: &[u8],
    keep_document: bool,
) -> Result<(Vec<Change>, Option<AutoCommit>), JournalError> {
    let bad = |why: &str| JournalError::MalformedSync(why.to_owned());
    let mut budget = crate::inflate::budget_for(bytes.len());
    let too_big = || {
        bad("a compressed chunk that inflates to more than its size allows (or does not inflate)")
    };
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 10 || rest[..4] != CHUNK_MAGIC {
            return Err(bad("not an Automerge chunk"));
        }
        let kind = rest[8];
        let mut len_bytes = &rest[9..];
        let len =
            leb128::read::unsigned(&mut len_bytes).map_err(|_| bad("unreadable chunk length"))?;
        let header = rest.len() - len_bytes.len();
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(header))
            .filter(|&t| t <= rest.len())
            .ok_or_else(|| bad("a chunk longer than the message"))?;
        let chunk = &rest[..total];
        let unreadable =
            |e: automerge::LoadChangeError| bad(&format!("a change that cannot be read: {e}"));
        match kind {
            0 => {
                if !crate::inflate::document_fits(chunk, header, &mut budget) {
                    return Err(too_big());
                }
                if keep_document && total == bytes.len() {
                    let mut doc = AutoCommit::load(chunk)?;
                    let changes = doc.get_changes(&[]);
                    if changes.len() > MAX_CHANGES_PER_BATCH {
                        return Err(bad("more changes than one batch may hold"));
                    }
                    return Ok((changes, Some(doc)));
                }
                let doc = automerge::Automerge::load(chunk)?;
                out.extend(doc.get_changes(&[]));
            }
            1 => out.push(Change::from_bytes(chunk.to_vec()).map_err(unreadable)?),
            2 => {
                let plain = crate::inflate::compressed_change(chunk, header, &mut budget)
                    .ok_or_else(too_big)?;
                out.push(Change::from_bytes(plain).map_err(unreadable)?);
            }
            _ => return Err(bad("an Automerge chunk of an unknown kind")),
        }
        if out.len() > MAX_CHANGES_PER_BATCH {
            return Err(bad("more changes than one batch may hold"));
        }
        rest = &rest[total..];
    }
    Ok((out, None))
}

fn take_u32(input: &mut &[u8]) -> Result<usize, JournalError> {
    let (head, rest) = input
        .split_first_chunk::<4>()
        .ok_or_else(|| JournalError::MalformedSync("a record cut short".into()))?;
    *input = rest;
    Ok(u32::from_le_bytes(*head) as usize)
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], JournalError> {
    if input.len() < n {
        return Err(JournalError::MalformedSync("a record cut short".into()));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A shared journal's snapshot body: the document, the signatures of its changes, and the heads
/// up to which unsigned history is trusted.
pub struct SavedShared {
    pub doc: Vec<u8>,
    pub signatures: HashMap<ChangeHash, Sig>,
    pub legacy_heads: Vec<ChangeHash>,
}

impl SavedShared {
    /// `u32 LE length | document | u32 LE length | (hash, signature) × n | u32 LE count | hash × m`
    pub fn decode(bytes: &[u8]) -> Result<Self, JournalError> {
        let mut input = bytes;
        let n = take_u32(&mut input)?;
        let doc = take(&mut input, n)?.to_vec();
        let n = take_u32(&mut input)?;
        let signatures = decode_pairs(take(&mut input, n)?)?;
        let m = take_u32(&mut input)?;
        let heads = take(
            &mut input,
            m.checked_mul(32)
                .ok_or_else(|| JournalError::MalformedSync("too many heads".into()))?,
        )?;
        if !input.is_empty() {
            return Err(JournalError::MalformedSync(
                "trailing bytes after a snapshot".into(),
            ));
        }
        let legacy_heads = heads
            .chunks_exact(32)
            .map(|h| ChangeHash(h.try_into().expect("32 bytes")))
            .collect();
        Ok(Self {
            doc,
            signatures,
            legacy_heads,
        })
    }
}

/// A log record body: its changes, and the signatures that are not the zero marker.
fn read_record(body: &[u8]) -> Result<(Vec<Change>, HashMap<ChangeHash, Sig>), JournalError> {
    let mut input = body;
    let n = take_u32(&mut input)?;
    let changes = split_changes(take(&mut input, n)?)?;
    if input.len() != changes.len() * 64 {
        return Err(JournalError::MalformedSync(
            "a log record whose signatures do not match its changes".into(),
        ));
    }
    let sigs = changes
        .iter()
        .zip(input.chunks_exact(64))
        .filter(|(_, sig)| sig.iter().any(|b| *b != 0))
        .map(|(c, sig)| (c.hash(), sig.try_into().expect("64 bytes")))
        .collect();
    Ok((changes, sigs))
}

impl Journal {
    /// The whole shared journal with its signatures, as a snapshot body ([`SavedShared`]).
    pub fn save_signed(&mut self) -> Vec<u8> {
        let doc = match self.saved_copy.take() {
            Some((heads, bytes)) if heads == self.doc.get_heads() => bytes,
            _ => self.doc.save(),
        };
        let mut out = Vec::with_capacity(doc.len() + self.sigs.len() * 96 + 64);
        put_bytes(&mut out, &doc);
        put_bytes(&mut out, &encode_pairs(self.sigs.iter()));
        out.extend_from_slice(&(self.legacy_heads.len() as u32).to_le_bytes());
        for h in &self.legacy_heads {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// Whether the whole document is at hand as saved bytes (a new device's first sync brought
    /// it whole): writing it as a snapshot then costs no more than a log record of it would.
    pub fn has_saved_copy(&mut self) -> bool {
        let heads = self.doc.get_heads();
        self.saved_copy.as_ref().is_some_and(|(h, _)| *h == heads)
    }

    /// The changes since `heads` with their signatures, as a log record body:
    /// `u32 LE length | changes | signature (64) per change`, the signatures in the order the
    /// changes appear in the bytes; 64 zero bytes for a change held without one (history from
    /// before signed changes, taken at join). 68 bytes per change beside what Automerge stores.
    pub fn signed_changes_since(&mut self, heads: &[ChangeHash]) -> Result<Vec<u8>, JournalError> {
        let changes = self.doc.save_after(heads);
        let listed = split_changes(&changes)?;
        let mut out = Vec::with_capacity(changes.len() + listed.len() * 64 + 4);
        put_bytes(&mut out, &changes);
        for c in &listed {
            out.extend_from_slice(self.sigs.get(&c.hash()).unwrap_or(&[0u8; 64]));
        }
        Ok(out)
    }

    /// Apply a log record body written by [`Journal::signed_changes_since`] (this device's own
    /// log, read again on load or by another process): every change is checked like any other.
    pub fn apply_signed_record(&mut self, body: &[u8]) -> Result<Admission, JournalError> {
        self.apply_signed_records([body])
    }

    /// Apply many log record bodies as one batch: one pass of the rules over all their changes
    /// (what loading a log costs grows with its changes, not with a set-up per record). A
    /// malformed body is an error and nothing of the batch is applied.
    pub fn apply_signed_records<'a>(
        &mut self,
        bodies: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Admission, JournalError> {
        let mut changes = Vec::new();
        let mut sigs: HashMap<ChangeHash, Sig> = HashMap::new();
        for body in bodies {
            let (c, s) = read_record(body)?;
            changes.extend(c);
            sigs.extend(s);
        }
        let (accepted, admission) = self.admit(changes, &sigs)?;
        self.doc.apply_changes(accepted)?;
        self.check_schema()?;
        Ok(admission)
    }

    /// Check and apply changes (Automerge's incremental bytes) with their signatures.
    pub fn apply_signed(
        &mut self,
        changes: &[u8],
        sigs: &HashMap<ChangeHash, Sig>,
    ) -> Result<Admission, JournalError> {
        let changes = split_changes(changes)?;
        let (accepted, admission) = self.admit(changes, sigs)?;
        self.doc.apply_changes(accepted)?;
        self.check_schema()?;
        Ok(admission)
    }

    /// Whether every change of a log record body (`signed`: written by
    /// [`Journal::signed_changes_since`]; else this device's own unsigned changes) is held
    /// already: a log left beside a snapshot that folded it in holds nothing new.
    pub fn holds_record(&self, body: &[u8], signed: bool) -> bool {
        let changes = if signed {
            read_record(body).map(|(c, _)| c)
        } else {
            split_changes(body)
        };
        changes.is_ok_and(|cs| cs.iter().all(|c| self.holds(&c.hash())))
    }

    /// The actors of the document as it is now (`crate::shape`), from the cached ones.
    pub(crate) fn held_actors(&mut self) -> Actors {
        let heads = self.doc.get_heads();
        match self.actors.take() {
            Some((at, actors)) if at == heads => {
                self.actors = Some((at, actors.clone()));
                actors
            }
            cached => {
                let actors = Actors::of(&mut self.doc, cached);
                self.actors = Some((heads, actors.clone()));
                actors
            }
        }
    }

    pub(crate) fn holds(&self, hash: &ChangeHash) -> bool {
        !ReadDoc::get_missing_deps(&self.doc, &[*hash]).contains(hash)
    }

    /// Sort the changes not yet held, apply the unsigned history this device trusts, and check
    /// the rest. Returns the changes to apply (in causal order, not yet applied) and what
    /// became of them all; records the accepted changes' signatures.
    ///
    /// A change whose dependencies have not arrived yet is neither applied nor refused: it waits
    /// here, outside the document, until they come (Automerge's sync sends such changes when a
    /// Bloom filter wrongly says the peer holds their dependencies, and asks for the rest in
    /// the next round). The changes that were waiting are checked again with every batch.
    fn admit(
        &mut self,
        changes: Vec<Change>,
        sigs: &HashMap<ChangeHash, Sig>,
    ) -> Result<(Vec<Change>, Admission), JournalError> {
        let mut sigs = std::borrow::Cow::Borrowed(sigs);
        let mut fresh: Vec<Change> = Vec::with_capacity(changes.len() + self.waiting.len());
        for (hash, (change, sig)) in self.waiting.drain() {
            if let Some(sig) = sig {
                sigs.to_mut().entry(hash).or_insert(sig);
            }
            fresh.push(change);
        }
        fresh.extend(changes);
        let fresh: Vec<Change> = fresh
            .into_iter()
            .filter(|c| !self.holds(&c.hash()))
            .collect();
        let ordered = causal_order(fresh);
        let trusted = self.trusted_history(&ordered);
        let (old, rest): (Vec<Change>, Vec<Change>) = ordered
            .into_iter()
            .partition(|c| trusted.contains(&c.hash()));
        let mut admission = Admission::default();
        let mut actors = self.held_actors();
        if !old.is_empty() {
            // Trusted history is not checked against the rules, but Automerge's own
            // assumptions hold of it too (`crate::shape`).
            let mut bad: HashSet<ChangeHash> = HashSet::new();
            let mut sound = Vec::with_capacity(old.len());
            for change in old {
                let hash = change.hash();
                let why = if change.deps().iter().any(|d| bad.contains(d)) {
                    Err("it depends on a change that was refused".to_owned())
                } else {
                    actors
                        .check(&change)
                        .and_then(|()| crate::shape::actors_in_bounds(&change))
                };
                match why {
                    Ok(()) => {
                        actors.add(&change);
                        sound.push(change);
                    }
                    Err(why) => {
                        bad.insert(hash);
                        admission.refused.push(Refused {
                            hash,
                            device: None,
                            why,
                        });
                    }
                }
            }
            admission.applied = sound.len();
            self.doc.apply_changes(sound)?;
            self.actors = Some((self.doc.get_heads(), actors.clone()));
        }
        let verdict = self.check_batch(&rest, &sigs, &actors);
        let Verdict {
            accepted: accepted_at,
            refused,
            waiting: waiting_at,
            ..
        } = verdict;
        admission.refused.extend(refused);
        let mut accepted = Vec::with_capacity(accepted_at.len());
        let mut waiting: HashMap<ChangeHash, (Change, Option<Sig>)> = HashMap::new();
        for (i, change) in rest.into_iter().enumerate() {
            let hash = change.hash();
            if accepted_at.contains(&i) {
                accepted.push(change);
            } else if waiting_at.contains(&i) && self.waiting.len() + waiting.len() < MAX_WAITING {
                waiting.insert(hash, (change, sigs.get(&hash).copied()));
            }
        }
        admission.waiting = waiting.len();
        self.waiting = waiting;
        for change in &accepted {
            let hash = change.hash();
            if let Some(sig) = sigs.get(&hash) {
                self.sigs.insert(hash, *sig);
            }
        }
        admission.applied += accepted.len();
        Ok((accepted, admission))
    }

    /// Check `rest` (in causal order) against the rules: which are accepted, refused, or wait
    /// for dependencies that have not arrived (by position).
    fn check_batch(
        &self,
        rest: &[Change],
        sigs: &HashMap<ChangeHash, Sig>,
        actors: &Actors,
    ) -> Verdict {
        let (verdict, removed) = self.check_pass(rest, sigs, actors, HashMap::new());
        if removed.is_empty() {
            return verdict;
        }
        // The batch removes devices. A removed device's change that the removal did not come
        // after (made concurrently, or later) is refused whatever its place in the batch: a
        // second pass that knows the removals from the start.
        let index: HashMap<ChangeHash, usize> = rest
            .iter()
            .enumerate()
            .map(|(i, c)| (c.hash(), i))
            .collect();
        let mut before: HashMap<[u8; 16], HashSet<ChangeHash>> = HashMap::new();
        for (actor, removal) in &removed {
            let seen = before.entry(*actor).or_default();
            let mut stack = vec![*removal];
            while let Some(h) = stack.pop() {
                if let Some(&i) = index.get(&h) {
                    if seen.insert(h) {
                        stack.extend(rest[i].deps().iter().copied());
                    }
                }
            }
        }
        let late = verdict.accepted.iter().any(|&i| {
            let c = &rest[i];
            <[u8; 16]>::try_from(c.actor_id().to_bytes())
                .ok()
                .and_then(|a| before.get(&a))
                .is_some_and(|seen| !seen.contains(&c.hash()))
        });
        if !late {
            return verdict;
        }
        self.check_pass(rest, sigs, actors, before).0
    }

    /// One pass of the rules over a batch; also which devices its accepted changes removed.
    ///
    /// The signatures are verified on other threads while the rules are checked on this one;
    /// the pass stands if every signature it relied on then verifies. If one does not (a
    /// forgery, never an honest batch) the batch is checked again, in order, with every
    /// signature's verdict known, so a change with a bad signature and all that depend on it
    /// are refused exactly as a one-by-one check would.
    fn check_pass(
        &self,
        rest: &[Change],
        sigs: &HashMap<ChangeHash, Sig>,
        actors: &Actors,
        removed_after: HashMap<[u8; 16], HashSet<ChangeHash>>,
    ) -> (Verdict, Vec<([u8; 16], ChangeHash)>) {
        let jid = self.journal_id;
        let mut checker = Checker::new(&self.doc, jid).with_actors(actors.clone());
        checker.refuse_after_removal(removed_after.clone());
        let items = checker.signatures_ahead(rest, sigs);
        let (pass, deferred, verdicts) = std::thread::scope(|scope| {
            let verifying = scope.spawn(|| verify_all(&jid, &items));
            checker.defer_signatures();
            let pass = self.rules_pass(&mut checker, rest, sigs);
            let verdicts = verifying.join().expect("signature checks do not panic");
            (pass, checker.take_deferred(), verdicts)
        });
        let good: HashMap<ChangeHash, [u8; 32]> = items
            .iter()
            .zip(&verdicts)
            .filter(|(_, ok)| **ok)
            .map(|((key, hash, _), _)| (*hash, *key))
            .collect();
        if deferred
            .iter()
            .all(|(key, hash, sig)| good.get(hash) == Some(key) || verify(key, &jid, hash, sig))
        {
            return pass;
        }
        let mut checker = Checker::new(&self.doc, jid).with_actors(actors.clone());
        checker.refuse_after_removal(removed_after);
        checker.take_verdicts(&items, &verdicts);
        self.rules_pass(&mut checker, rest, sigs)
    }

    /// The rules over a batch in order, with `checker`.
    fn rules_pass(
        &self,
        checker: &mut Checker<'_>,
        rest: &[Change],
        sigs: &HashMap<ChangeHash, Sig>,
    ) -> (Verdict, Vec<([u8; 16], ChangeHash)>) {
        let mut verdict = Verdict::default();
        let mut known: FastSet<ChangeHash> = FastSet::default();
        let mut refused: FastSet<ChangeHash> = FastSet::default();
        for (i, change) in rest.iter().enumerate() {
            let hash = change.hash();
            let arrived = |d: &ChangeHash| {
                known.contains(d)
                    || refused.contains(d)
                    || !ReadDoc::get_missing_deps(&self.doc, &[*d]).contains(d)
            };
            if !change.deps().iter().all(arrived) {
                verdict.waiting.insert(i);
                continue;
            }
            match checker.check(change, sigs.get(&hash)) {
                Ok(()) => {
                    known.insert(hash);
                    verdict.accepted.insert(i);
                }
                Err(r) => {
                    refused.insert(hash);
                    verdict.refused.push(r);
                }
            }
        }
        let removed = checker.removed_in_batch().to_vec();
        (verdict, removed)
    }

    /// The changes held back for their dependencies, and the dependencies they wait for (which
    /// Automerge is to ask the peer for).
    fn waiting_for(&self) -> (HashSet<ChangeHash>, Vec<ChangeHash>) {
        let held_back: HashSet<ChangeHash> = self.waiting.keys().copied().collect();
        let mut missing: Vec<ChangeHash> = self
            .waiting
            .values()
            .flat_map(|(c, _)| c.deps().iter().copied())
            .filter(|d| {
                !held_back.contains(d) && ReadDoc::get_missing_deps(&self.doc, &[*d]).contains(d)
            })
            .collect();
        missing.sort();
        missing.dedup();
        (held_back, missing)
    }

    /// The changes of `batch` that are history from before signed changes this device trusts:
    /// the legacy heads it was given when it joined, and their ancestors in the batch.
    fn trusted_history(&self, batch: &[Change]) -> HashSet<ChangeHash> {
        let mut trusted = HashSet::new();
        if self.legacy_heads.is_empty() {
            return trusted;
        }
        let by_hash: HashMap<ChangeHash, &Change> = batch.iter().map(|c| (c.hash(), c)).collect();
        let mut stack: Vec<ChangeHash> = self.legacy_heads.clone();
        while let Some(h) = stack.pop() {
            if let Some(c) = by_hash.get(&h) {
                if trusted.insert(h) {
                    stack.extend(c.deps().iter().copied());
                }
            }
        }
        trusted
    }

    /// The next sync message for the peer whose state this is, if there is anything to say,
    /// and the signatures of the changes it carries (96-byte pairs).
    pub fn sync_generate(&mut self, state: &mut SyncState) -> Option<(Vec<u8>, Vec<u8>)> {
        let before = state.sent_hashes.clone();
        let msg = self.doc.sync().generate_sync_message(state)?;
        // A whole saved document carries every change: send every signature. Otherwise the
        // message carries exactly the changes Automerge has just added to `sent_hashes`.
        let whole = msg
            .changes
            .iter()
            .any(|chunk| chunk.len() > 8 && chunk[..4] == CHUNK_MAGIC && chunk[8] == 0);
        let sigs = if whole {
            encode_pairs(self.sigs.iter())
        } else {
            encode_pairs(
                state
                    .sent_hashes
                    .iter()
                    .filter(|h| !before.contains(h))
                    .filter_map(|h| self.sigs.get_key_value(h)),
            )
        };
        Some((msg.encode(), sigs))
    }

    /// Receive a peer's sync message and the signatures of the changes it carries. Malformed
    /// bytes are refused and change nothing; changes that break the rules are refused and left
    /// out, the rest applied.
    pub fn sync_receive(
        &mut self,
        state: &mut SyncState,
        bytes: &[u8],
        signatures: &[u8],
    ) -> Result<Admission, JournalError> {
        let mut msg = automerge::sync::Message::decode(bytes)
            .map_err(|e| JournalError::MalformedSync(e.to_string()))?;
        for have in &msg.have {
            check_bloom(&have.bloom.to_bytes())?;
        }
        let sigs = decode_pairs(signatures)?;
        let mut admission = Admission::default();
        if !msg.changes.is_empty() || !self.waiting.is_empty() {
            let joined: Vec<u8> = msg.changes.iter().flatten().copied().collect();
            let first = self.doc.get_heads().is_empty() && self.waiting.is_empty();
            let (changes, document) = split(&joined, first)?;
            let offered = changes.len();
            let had_waiting = !self.waiting.is_empty();
            let (accepted, mut checked) = self.admit(changes, &sigs)?;
            let mine = automerge::ActorId::from(self.signer.actor().to_vec());
            checked.own_returned = accepted.iter().filter(|c| *c.actor_id() == mine).count();
            let all_in = checked.refused.is_empty() && checked.waiting == 0 && !had_waiting;
            let first = first && all_in && accepted.len() == offered;
            if let (true, Some(document)) = (first, document) {
                // A first sync into an empty journal: the message's saved document, already
                // loaded to read its changes (all of which passed), becomes the journal, far
                // faster than applying its changes one by one. Automerge's sync state is
                // advanced as below.
                let again = accepted.last().map(|c| c.raw_bytes().to_vec());
                self.doc = document.with_actor(automerge::ActorId::from(self.signer.actor()));
                let after = self.doc.get_heads();
                state.shared_heads = advance_heads(&[], &after, &state.shared_heads);
                self.saved_copy = Some((after, joined));
                msg.changes =
                    automerge::sync::ChunkList::from(again.into_iter().collect::<Vec<_>>());
            } else if first {
                // A first sync whose changes came one by one: Automerge loads them itself.
            } else {
                // Only what passed goes to Automerge: refused changes never, waiting ones once
                // their dependencies have arrived and they have been checked. They are applied
                // here, already read, rather than read again from the message; Automerge's
                // sync state is advanced as its own receiving would (`advance_heads`), and it
                // is handed one change it already holds so that it treats the message as one
                // that brought changes.
                let again = accepted.last().map(|c| c.raw_bytes().to_vec());
                let before = self.doc.get_heads();
                self.doc.apply_changes(accepted)?;
                if let Some(again) = again {
                    let after = self.doc.get_heads();
                    state.shared_heads = advance_heads(&before, &after, &state.shared_heads);
                    msg.changes = automerge::sync::ChunkList::from(vec![again]);
                } else {
                    msg.changes = automerge::sync::ChunkList::from(Vec::<Vec<u8>>::new());
                }
            }
            if checked.waiting > 0 {
                // Automerge asks for what the peer's heads need that this device lacks: point
                // it at the dependencies the held-back changes wait for, not at the changes
                // themselves, which the peer has already sent.
                let (held_back, missing) = self.waiting_for();
                msg.heads.retain(|h| !held_back.contains(h));
                for m in missing {
                    if !msg.heads.contains(&m) {
                        msg.heads.push(m);
                    }
                }
                msg.heads.sort();
            }
            admission.add(checked);
        }
        if !msg.heads.is_empty() {
            // A peer that holds something is answered with the changes it lacks, one chunk
            // each (Automerge's first message format), not with the whole saved document
            // Automerge sends once a third of it is missing: every change is read here to be
            // checked anyway, and reading a whole document's changes costs twice as much. A
            // peer with nothing (a new device) still gets the whole document, which it loads
            // at once. The flags only announce the newer format and a read-only mode Mend
            // does not use.
            msg.flags = None;
            state.their_capabilities = None;
        }
        self.doc.sync().receive_sync_message(state, msg)?;
        self.check_schema()?;
        Ok(admission)
    }
}

/// The heads both peers hold after this device went from heads `before` to `after` by applying
/// what a peer sent: Automerge's own rule when it receives changes in a sync message.
fn advance_heads(
    before: &[ChangeHash],
    after: &[ChangeHash],
    shared: &[ChangeHash],
) -> Vec<ChangeHash> {
    let mut out: Vec<ChangeHash> = after
        .iter()
        .filter(|h| !before.contains(h))
        .chain(shared.iter().filter(|h| after.contains(h)))
        .copied()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Most probes a peer's Bloom filter may ask for per change (Automerge itself uses 7).
const BLOOM_PROBES_MAX: u64 = 64;
/// Most bits per entry a peer's Bloom filter may use (Automerge itself uses 10).
const BLOOM_BITS_PER_ENTRY_MAX: u64 = 64;

/// Refuse a peer's Bloom filter that Automerge would divide by zero on (entries but no bits) or
/// that asks for an unbounded number of probes per change (memory and time from one message).
fn check_bloom(bytes: &[u8]) -> Result<(), JournalError> {
    if bytes.is_empty() {
        return Ok(()); // the empty filter: the peer has nothing
    }
    let bad = |why: &str| JournalError::MalformedSync(why.into());
    let mut input = bytes;
    let mut next =
        || leb128::read::unsigned(&mut input).map_err(|_| bad("unreadable Bloom filter"));
    let (entries, bits_per_entry, probes) = (next()?, next()?, next()?);
    if entries > 0 && (bits_per_entry == 0 || input.is_empty()) {
        return Err(bad("a Bloom filter with entries but no bits"));
    }
    if bits_per_entry > BLOOM_BITS_PER_ENTRY_MAX || probes == 0 || probes > BLOOM_PROBES_MAX {
        return Err(bad("a Bloom filter outside the supported sizes"));
    }
    Ok(())
}
