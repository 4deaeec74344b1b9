//! What Automerge itself assumes of a change before it is applied, checked before it is.
//!
//! Automerge 0.12 trusts the changes it applies to continue their actor's history: an actor's
//! `seq` counts its changes, its operation counters only grow, and every other actor a change
//! names has changes in the document already. A change that breaks this — which only a
//! modified program makes — makes `apply_changes` panic (an actor it cannot look up) or hold
//! two operations under one id. So every change, from a peer, a log or trusted history, is
//! checked here first and refused if it does not follow from what is held.

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change, ChangeHash};

/// Of every actor with changes held: its last `seq` and the highest operation counter it used.
#[derive(Clone, Debug, Default)]
pub(crate) struct Actors {
    held: HashMap<ActorId, (u64, u64)>,
}

impl Actors {
    /// The actors of `doc`, brought up to date from `cached` (the actors as of some earlier
    /// heads) by reading only the changes since then.
    pub(crate) fn of(doc: &mut AutoCommit, cached: Option<(Vec<ChangeHash>, Actors)>) -> Self {
        let (since, mut actors) = cached.unwrap_or_default();
        for meta in doc.get_changes_meta(&since) {
            actors.note(&meta.actor, meta.seq, meta.max_op);
        }
        actors
    }

    fn note(&mut self, actor: &ActorId, seq: u64, max_op: u64) {
        match self.held.get_mut(actor) {
            Some((s, m)) => {
                *s = (*s).max(seq);
                *m = (*m).max(max_op);
            }
            None => {
                self.held.insert(actor.clone(), (seq, max_op));
            }
        }
    }

    /// Whether `change` may follow what is held (and what [`Actors::add`] was told since).
    pub(crate) fn check(&self, change: &Change) -> Result<(), String> {
        // Mend writes no extra bytes. Automerge 0.12 reads them as an "author" footer and
        // asserts that a change naming an author is its actor's first: any other panics.
        if !change.extra_bytes().is_empty() {
            return Err("it carries extra bytes, which Mend never writes".into());
        }
        let seq = change.seq();
        match self.held.get(change.actor_id()) {
            None if seq != 1 => {
                return Err(format!(
                    "it is change {seq} of an actor none of whose changes are held"
                ))
            }
            Some((last, _)) if seq != last + 1 => {
                return Err(format!(
                    "it is change {seq} of an actor whose last change held is {last}"
                ))
            }
            Some((_, max_op)) if change.start_op().get() <= *max_op => {
                return Err("it reuses operation ids its actor already used".into())
            }
            _ => {}
        }
        if change
            .other_actor_ids()
            .iter()
            .any(|a| !self.held.contains_key(a))
        {
            return Err("it refers to an actor none of whose changes are held".into());
        }
        Ok(())
    }

    /// The last `seq` of `actor` held (0: none).
    pub(crate) fn seq_of(&self, actor: &ActorId) -> u64 {
        self.held.get(actor).map_or(0, |(seq, _)| *seq)
    }

    /// The highest operation counter held, of any actor.
    pub(crate) fn max_op(&self) -> u64 {
        self.held.values().map(|(_, m)| *m).max().unwrap_or(0)
    }

    /// Count `change` as held.
    pub(crate) fn add(&mut self, change: &Change) {
        self.note(change.actor_id(), change.seq(), change.max_op());
    }
}

/// Whether every operation of `change` names an actor the change lists. Automerge parses a
/// change without checking this and panics when it reads one that does not (`Change::decode`,
/// which the rules use), so the operation columns' actor indices are read here first: the
/// columns of type actor (object, key and predecessor actors), each run-length encoded
/// unsigned LEB128 (`docs/format.md` points at Automerge's storage format).
pub(crate) fn actors_in_bounds(change: &Change) -> Result<(), String> {
    let listed = 1 + change.other_actor_ids().len() as u64;
    let malformed = || "its operations cannot be read".to_owned();
    let columns = op_columns(change.raw_bytes()).ok_or_else(malformed)?;
    for column in columns {
        let mut input = column;
        while !input.is_empty() {
            let count = leb128::read::signed(&mut input).map_err(|_| malformed())?;
            let values = match count {
                n if n > 0 => 1,
                n if n < 0 => n.unsigned_abs(),
                _ => {
                    leb128::read::unsigned(&mut input).map_err(|_| malformed())?;
                    0
                }
            };
            for _ in 0..values {
                let actor = leb128::read::unsigned(&mut input).map_err(|_| malformed())?;
                if actor >= listed {
                    return Err("an operation of it names an actor the change does not list".into());
                }
            }
        }
    }
    Ok(())
}

/// The data of the actor columns of a change chunk (`raw_bytes`: uncompressed, header
/// included), or `None` if the chunk does not read as one.
fn op_columns(mut chunk: &[u8]) -> Option<Vec<&[u8]>> {
    fn uleb(input: &mut &[u8]) -> Option<u64> {
        leb128::read::unsigned(input).ok()
    }
    fn skip<'a>(input: &mut &'a [u8], n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let (head, rest) = (input.get(..n)?, input.get(n..)?);
        *input = rest;
        Some(head)
    }
    const ACTOR_TYPE: u64 = 1;
    // Magic bytes, checksum, chunk type (1: change), length.
    skip(&mut chunk, 8)?;
    if skip(&mut chunk, 1)? != [1] {
        return None;
    }
    let len = uleb(&mut chunk)?;
    let mut body = skip(&mut chunk, len)?;
    let deps = uleb(&mut body)?;
    skip(&mut body, deps.checked_mul(32)?)?;
    let actor = uleb(&mut body)?;
    skip(&mut body, actor)?;
    uleb(&mut body)?; // seq
    uleb(&mut body)?; // start op
    leb128::read::signed(&mut body).ok()?; // time
    let message = uleb(&mut body)?;
    skip(&mut body, message)?;
    let others = uleb(&mut body)?;
    for _ in 0..others {
        let n = uleb(&mut body)?;
        skip(&mut body, n)?;
    }
    let count = uleb(&mut body)?;
    let mut specs = Vec::new();
    for _ in 0..count.min(1024) {
        specs.push((uleb(&mut body)?, uleb(&mut body)?));
    }
    if count > 1024 {
        return None;
    }
    let mut columns = Vec::new();
    for (spec, len) in specs {
        let data = skip(&mut body, len)?;
        if spec & 0b111 == ACTOR_TYPE {
            columns.push(data);
        }
    }
    Some(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, ROOT};

    fn changes(doc: &mut AutoCommit) -> Vec<Change> {
        doc.get_changes(&[])
    }

    #[test]
    fn an_honest_history_follows_and_gaps_reuse_and_strangers_do_not() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "x", 1).unwrap();
        a.commit();
        a.put(ROOT, "x", 2).unwrap();
        a.commit();
        a.put(ROOT, "x", 3).unwrap();
        a.commit();
        let all = changes(&mut a);
        let mut held = Actors::default();
        // The second change of an actor never seen, then the first followed by the third.
        assert!(held.check(&all[1]).is_err());
        held.check(&all[0]).unwrap();
        held.add(&all[0]);
        assert!(held
            .check(&all[2])
            .unwrap_err()
            .contains("last change held is 1"));
        held.check(&all[1]).unwrap();
        held.add(&all[1]);
        held.check(&all[2]).unwrap();
        // A change that names an actor whose changes are not held.
        let mut b = a.fork();
        b.put(ROOT, "x", 4).unwrap();
        b.commit();
        let from_b = b.get_last_local_change().unwrap();
        let only_b = Actors::default();
        assert!(only_b
            .check(&from_b)
            .unwrap_err()
            .contains("refers to an actor"));
        // Caught up from a document: the same as adding one by one.
        let mut fresh = AutoCommit::new();
        fresh.apply_changes(all[..2].to_vec()).unwrap();
        let heads = fresh.get_heads();
        let cached = Actors::of(&mut fresh, None);
        fresh.apply_changes(vec![all[2].clone()]).unwrap();
        let caught_up = Actors::of(&mut fresh, Some((heads, cached)));
        assert!(caught_up.check(&all[2]).is_err());
        caught_up.check(&from_b).unwrap();
    }

    /// Found by the `signed_changes` fuzz target (the input is in
    /// `fuzz/corpus/signed_changes/crash-456451408cd216d133960fc68841e12608f29b7f`): a later
    /// change of a known actor with an Automerge "author" footer in its extra bytes.
    #[test]
    fn a_change_with_extra_bytes_is_refused_not_a_crash() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "x", 1).unwrap();
        a.commit();
        a.put(ROOT, "x", 2).unwrap();
        a.commit();
        let all = changes(&mut a);
        let mut second = all[1].decode();
        second.hash = None;
        second.extra_bytes = vec![1, 3, b'm', b'e', b'!']; // footer 1 (author), 3 bytes
        let forged = Change::from(second);
        assert!(forged.author().is_some());
        // Without the check: Automerge panics applying it after the first.
        let mut plain = AutoCommit::new();
        plain.apply_changes(vec![all[0].clone()]).unwrap();
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plain.apply_changes(vec![forged.clone()])
        }));
        assert!(crashed.is_err(), "Automerge panics applying it");
        // With it: refused, in every path that checks what arrives.
        let mut held = Actors::default();
        held.add(&all[0]);
        assert!(held.check(&forged).unwrap_err().contains("extra bytes"));
        held.check(&all[1]).unwrap();
    }

    #[test]
    fn an_operation_naming_an_actor_the_change_does_not_list_is_found() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "x", 1).unwrap();
        a.commit();
        let mut b = a.fork();
        b.put(ROOT, "x", 2).unwrap();
        b.commit();
        let honest = b.get_last_local_change().unwrap();
        actors_in_bounds(&honest).unwrap();
        assert!(op_columns(honest.raw_bytes()).is_some_and(|c| !c.is_empty()));
        // The pred actor column says 1 (the other actor): make it 5, a literal run of one,
        // and fix the chunk's checksum so that Automerge reads it.
        let mut expanded = honest.decode();
        expanded.hash = None;
        let rebuilt = Change::from(expanded);
        let raw = rebuilt.raw_bytes().to_vec();
        let mut forged = None;
        for i in 0..raw.len() - 1 {
            // A literal run of one (-1 = 0x7f) of actor 1 as the last column's run.
            if raw[i] == 0x7f && raw[i + 1] == 0x01 {
                let mut bytes = raw.clone();
                bytes[i + 1] = 0x05;
                if let Some(c) = rechecksum(bytes).and_then(|b| Change::from_bytes(b).ok()) {
                    if actors_in_bounds(&c).is_err() {
                        forged = Some(c);
                        break;
                    }
                }
            }
        }
        let forged = forged.expect("a forged actor index");
        let crashed = std::panic::catch_unwind(|| forged.decode());
        assert!(crashed.is_err(), "Automerge panics reading it");
    }

    /// The chunk with its checksum set to its contents' (the first four bytes of SHA-256 over
    /// the chunk type, length and body).
    fn rechecksum(mut bytes: Vec<u8>) -> Option<Vec<u8>> {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(&bytes[8..]);
        bytes[4..8].copy_from_slice(&hash[..4]);
        Some(bytes)
    }
}
