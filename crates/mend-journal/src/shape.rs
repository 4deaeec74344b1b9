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

    /// Count `change` as held.
    pub(crate) fn add(&mut self, change: &Change) {
        self.note(change.actor_id(), change.seq(), change.max_op());
    }
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
}
