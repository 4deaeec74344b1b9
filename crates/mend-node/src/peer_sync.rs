//! Sync sessions over the network: starting one with a paired device, and answering one.

use std::time::{Duration, Instant};

use mend_journal::{Device, Refused};
use mend_net::{NetHandle, PeerId, Protocol};
use mend_store::{Doc, RefusalNote, RollbackNote, Store};
use mend_sync::{ends_session, respond, Refusal, Request, Response, Step, SyncSession};
use serde::Serialize;

use crate::served::{core, initiate_key, ServedJournal, SharedJournal};
use crate::NodeError;

type Result<T, E = NodeError> = std::result::Result<T, E>;

/// End the session with what the peer's answer means.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(NodeError::Peer(format!($($t)*)))
    };
}

/// What one session did, for the summary line.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub device: String,
    pub person: String,
    pub peer_id: String,
    /// Entries new here, and entries edited or retracted, from this session.
    pub entries_received: usize,
    pub entries_edited: usize,
    pub entries_retracted: usize,
    pub entries_sent: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub rounds: u32,
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    /// Changes from the peer that broke the journal's rules and were refused.
    pub refused: usize,
    /// Why, one line per distinct reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_reasons: Vec<String>,
    /// Changes this laptop had made and no longer held, given back by the peer: its journal
    /// had been put back to an older copy.
    pub own_changes_returned: usize,
    /// How the connection went: "direct", "hole-punched", or "via relay ADDR".
    pub path: String,
    /// What arrived that asks for attention (a serve notifies).
    #[serde(skip)]
    pub notices: Vec<mend_app::notices::Notice>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// One line per distinct reason, at most five.
pub fn reasons(refused: &[Refused]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in refused {
        if !out.contains(&r.why) && out.len() < 5 {
            out.push(r.why.clone());
        }
    }
    out
}

/// What to tell the user about changes refused from a device.
pub fn refusal_line(count: usize, person: &str, device: &str, reasons: &[String]) -> String {
    format!(
        "{count} change{} from {person}'s {device} broke the journal's rules and {} refused: {}",
        if count == 1 { "" } else { "s" },
        if count == 1 { "was" } else { "were" },
        reasons.join("; ")
    )
}

/// What to tell the user when a peer gave back changes this laptop had made and lost.
pub fn rollback_line(count: usize, person: &str, device: &str) -> String {
    format!(
        "{person}'s {device} gave back {count} change{} this laptop had made and no longer held: \
         this laptop's journal had been put back to an older copy (a restored backup, or files \
         copied back). {} restored now.",
        if count == 1 { "" } else { "s" },
        if count == 1 { "It is" } else { "They are" },
    )
}

/// Keep a note, for `mend status`, that this laptop got its own lost changes back, and log
/// it. Never fails the sync.
pub fn note_rollback(store: &Store, count: usize, device: &Device) {
    tracing::warn!("{}", rollback_line(count, &device.person, &device.name));
    let note = RollbackNote {
        at: chrono::Utc::now().timestamp(),
        device: device.key.clone(),
        count: count as u32,
    };
    if let Err(e) = store.note_rollback(note) {
        tracing::warn!("the rollback could not be noted for `mend status`: {e}");
    }
}

/// Keep a note of refused changes for `mend status`, and log it. Never fails the sync.
pub fn note_refusal(store: &Store, device: &Device, refused: &[Refused]) {
    let reasons = reasons(refused);
    tracing::warn!(
        "{}",
        refusal_line(refused.len(), &device.person, &device.name, &reasons)
    );
    let note = RefusalNote {
        at: chrono::Utc::now().timestamp(),
        device: device.key.clone(),
        count: refused.len() as u32,
        reasons,
    };
    if let Err(e) = store.note_refusal(note) {
        tracing::warn!("the refusal could not be noted for `mend status`: {e}");
    }
}

impl Summary {
    /// The warning to show beside the summary if this laptop got its own lost changes back.
    pub fn rollback(&self) -> Option<String> {
        (self.own_changes_returned > 0)
            .then(|| rollback_line(self.own_changes_returned, &self.person, &self.device))
    }

    /// The warning to show beside the summary, if the peer's changes were refused.
    pub fn refusal(&self) -> Option<String> {
        (self.refused > 0).then(|| {
            refusal_line(
                self.refused,
                &self.person,
                &self.device,
                &self.refused_reasons,
            )
        })
    }

    pub fn line(&self) -> String {
        let arrivals = mend_app::model::Arrivals {
            new: self.entries_received,
            edited: self.entries_edited,
            retracted: self.entries_retracted,
            new_ids: Vec::new(),
        };
        format!(
            "Synced with {}'s {} ({}): received {}; {} sent, {} bytes in {} rounds, {}",
            self.person,
            self.device,
            self.path,
            arrivals.words(),
            self.entries_sent,
            self.bytes_sent + self.bytes_received,
            self.rounds,
            crate::human_duration(self.elapsed)
        )
    }
}

/// Run a session with a paired device until both hold the same journal.
pub async fn sync_with(
    shared: &SharedJournal,
    net: &NetHandle,
    peer: PeerId,
    device: Device,
) -> Result<Summary> {
    let started = Instant::now();
    let key = device.key.clone();
    let (journal_id, before, session) = ServedJournal::with(shared, {
        let key = key.clone();
        move |a| {
            let store = a.store()?;
            let saved = store.load_peer_state(&initiate_key(&key))?;
            Ok((
                store.journal_id().0,
                store.journal_mut(Doc::Shared).heads(),
                (SyncSession::new(saved.as_deref()), store.mark(Doc::Shared)),
            ))
        }
    })
    .await?;
    let (session, mark) = session;
    // Log records this session wrote: taken back if the peer is refused part-way.
    let mut written = 0u64;
    let mut session = Some(session);
    let session_id = u64::from_le_bytes(mend_crypto::random_bytes()?);
    let mut sent = 0u64;
    let mut summary_refused: Vec<Refused> = Vec::new();
    let mut answered = false;
    let mut received = 0u64;
    loop {
        let (s, step, w) = ServedJournal::with(shared, {
            let mut s = session.take().expect("session");
            move |a| {
                let store = a.store()?;
                let before = store.writes(Doc::Shared);
                // A session that does not converge is the sync's own failure, not the journal's:
                // it comes out as a value, so its message is not dressed as a journal error.
                let step = store.commit(Doc::Shared, |j| Ok(s.step(j)))??;
                Ok((s, step, store.writes(Doc::Shared) - before))
            }
        })
        .await?;
        written += w;
        session = Some(s);
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "sync: step made");
        let Step::Send {
            message,
            signatures,
        } = step
        else {
            break;
        };
        let response = net
            .request(
                peer,
                Protocol::Sync,
                Request::Sync {
                    journal_id,
                    session: session_id,
                    message,
                    signatures,
                },
            )
            .await;
        let response = match response {
            Ok(r) => r,
            // Not one answer, and the connection gone: a device that is not (or no longer)
            // paired there is refused at the handshake, which looks just like this from here.
            Err(mend_net::NetError::Request { why, .. }) if !answered => bail!(
                "{}'s {} closed the connection without answering: it may not count this \
                 laptop as one of the journal's devices any more (was it removed? `mend \
                 devices` on that laptop shows it), or it stopped ({why})",
                device.person,
                device.name
            ),
            Err(e) => return Err(e.into()),
        };
        answered = true;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "sync: reply arrived"
        );
        if let Response::Sync {
            message,
            signatures,
            ..
        } = &response
        {
            received += (message.len() + signatures.len()) as u64;
            if received > mend_app::budget::SESSION_BYTES {
                let undone =
                    ServedJournal::with(shared, move |a| Ok(a.store()?.undo_to(&mark, written)?))
                        .await?;
                bail!(
                    "{}'s {} sent more than {} MiB in one sync, more than Mend takes from one \
                     device; stopped, and {}",
                    device.person,
                    device.name,
                    mend_app::budget::SESSION_BYTES >> 20,
                    if undone {
                        "nothing of this sync was kept"
                    } else {
                        "what arrived before was kept, as this laptop wrote other things meanwhile"
                    }
                );
            }
        }
        let (reply, reply_sigs, gained) = match response {
            Response::Sync {
                message,
                signatures,
                gained,
            } => (message, signatures, gained),
            Response::Refused {
                reason: Refusal::BrokeRules { count },
            } => bail!(
                "{}'s {} refused {count} of the changes this laptop sent: it says they break \
                 the journal's rules",
                device.person,
                device.name
            ),
            Response::Refused {
                reason: Refusal::NotPaired,
            } => bail!(
                "{}'s {} does not count this laptop as one of the journal's devices (was it \
                 removed? `mend devices` on that laptop shows it)",
                device.person,
                device.name
            ),
            Response::Refused {
                reason: Refusal::TooMuch,
            } => bail!(
                "{}'s {} refused to take more from this laptop: it has sent more than one \
                 device may (in one sync, in one day, or this fast); what arrived before is \
                 kept",
                device.person,
                device.name
            ),
            Response::Refused { reason } => bail!(
                "{}'s {} refused to sync ({reason:?})",
                device.person,
                device.name
            ),
            _ => bail!("{}'s {} answered out of turn", device.person, device.name),
        };
        sent += u64::from(gained);
        let (s, w) = ServedJournal::with(shared, {
            let mut s = session.take().expect("session");
            move |a| {
                let store = a.store()?;
                let before = store.writes(Doc::Shared);
                store.commit(Doc::Shared, |j| {
                    s.on_reply(j, &reply, &reply_sigs).map_err(core)
                })?;
                Ok((s, store.writes(Doc::Shared) - before))
            }
        })
        .await?;
        written += w;
        session = Some(s);
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "sync: reply applied"
        );
    }
    let s = session.take().expect("session");
    summary_refused.extend(s.refused().iter().cloned());
    let own_changes_returned = s.own_returned();
    let refused = s.refused().to_vec();
    let refused_device = device.clone();
    let (after, summary_bytes, notices) = ServedJournal::with(shared, move |a| {
        let me = a.device.me().id;
        let store = a.store()?;
        if own_changes_returned > 0 {
            note_rollback(store, own_changes_returned, &refused_device);
        }
        if refused.is_empty() {
            store.save_peer_state(&initiate_key(&key), &s.saved_state())?;
        } else {
            // The peer would send the refused changes again; the next session starts from the
            // state saved after the last one that ended well.
            note_refusal(store, &refused_device, &refused);
        }
        let journal = store.journal_mut(Doc::Shared);
        let arrivals = journal.arrivals_since(&before).unwrap_or_default();
        let notices = mend_app::notices::arrived(journal, &arrivals.new_ids, &me);
        Ok((
            arrivals,
            (s.bytes_sent, s.bytes_received, s.rounds()),
            notices,
        ))
    })
    .await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "sync: state saved"
    );
    Ok(Summary {
        device: device.name.clone(),
        person: device.person.clone(),
        peer_id: peer.to_string(),
        entries_received: after.new,
        entries_edited: after.edited,
        entries_retracted: after.retracted,
        entries_sent: sent,
        bytes_sent: summary_bytes.0,
        bytes_received: summary_bytes.1,
        rounds: summary_bytes.2,
        elapsed: started.elapsed(),
        refused: summary_refused.len(),
        refused_reasons: reasons(&summary_refused),
        own_changes_returned,
        path: match net.path(peer).await {
            Ok(Some(path)) => path.to_string(),
            // The connection was gone by the end (the other side hung up at once).
            _ => "unknown".to_owned(),
        },
        notices,
    })
}

/// What answering a request led to.
pub enum Answer {
    /// Send this reply. `finished` is true when the peer's session ended with it; `ended` then
    /// says, for a session that finished well, who synced and what arrived (one line). `said`:
    /// lines a person watching should see now ("note: ...", "warning: ...").
    Reply {
        response: Response,
        finished: bool,
        ended: Option<String>,
        said: Vec<String>,
        /// What the session brought that asks for attention (a serve notifies).
        notices: Vec<mend_app::notices::Notice>,
    },
    /// Say nothing and close the connection: not a paired device, or not this journal.
    Refuse(&'static str),
}

/// Answer a sync request from `peer`, if it is a paired device of this journal.
pub async fn answer(shared: &SharedJournal, peer: PeerId, request: Request) -> Result<Answer> {
    let Request::Sync {
        journal_id,
        session,
        message,
        signatures,
    } = request
    else {
        return Ok(Answer::Refuse("a pairing message on the sync protocol"));
    };
    ServedJournal::with(shared, move |a| {
        let Some(device) = a.paired()?.remove(&peer) else {
            if let Some(d) = a.removed_device(&peer)? {
                // Not a stranger: a device this journal removed. It is told, and gets nothing.
                tracing::warn!(%peer, "refused {}'s {}: it was removed", d.person, d.name);
                return Ok(Answer::Reply {
                    response: Response::Refused {
                        reason: Refusal::NotPaired,
                    },
                    finished: true,
                    ended: None,
                    notices: Vec::new(),
                    said: vec![format!(
                        "note: refused {}'s {}: it was removed from the journal",
                        d.person, d.name
                    )],
                });
            }
            return Ok(Answer::Refuse("not a paired device"));
        };
        if a.store()?.journal_id().0 != journal_id {
            return Ok(Answer::Refuse("another journal"));
        }
        // Counted before anything is read: past its budget a device's message is not applied.
        let day = chrono::Utc::now().timestamp().div_euclid(86_400);
        let bytes = (message.len() + signatures.len()) as u64;
        let now = a.started.elapsed().as_secs_f64();
        let within = a
            .budgets
            .request(&device.key, now)
            .and_then(|()| a.budgets.charge(&device.key, session, day, bytes));
        if let Err(over) = within {
            // A session refused part-way is taken back whole: what it wrote is cut from the
            // log, unless something else was written since it began.
            let undone = a.undo_answering(&device.key, session)?;
            tracing::warn!(%peer, undone, "refused a sync message: {over}");
            let kept = if undone {
                "nothing of this sync was kept"
            } else {
                "what arrived before was kept, as this laptop wrote other things meanwhile"
            };
            return Ok(Answer::Reply {
                response: Response::Refused {
                    reason: Refusal::TooMuch,
                },
                finished: true,
                ended: None,
                notices: Vec::new(),
                said: vec![format!(
                    "warning: refused what {}'s {} sent: {over}, more than Mend takes from one \
                     device; {kept}",
                    device.person, device.name
                )],
            });
        }
        let (mut state, gained_before) = a.answering_state(&device.key, session)?;
        if !a.answering_started(&device.key, session) {
            a.note_answering_start(&device.key, session)?;
        }
        let store = a.store()?;
        let before = store.journal(Doc::Shared).len();
        let writes = store.writes(Doc::Shared);
        let result = store.commit(Doc::Shared, |j| {
            respond(j, &mut state, &message, &signatures).map_err(core)
        });
        let written = store.writes(Doc::Shared) - writes;
        a.note_answering_writes(&device.key, written);
        let store = a.store()?;
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(%peer, "refused a bad sync message: {e}");
                return Ok(Answer::Reply {
                    response: Response::Refused {
                        reason: Refusal::Malformed,
                    },
                    finished: true,
                    ended: None,
                    notices: Vec::new(),
                    said: Vec::new(),
                });
            }
        };
        let mut said = Vec::new();
        if reply.admission.own_returned > 0 {
            note_rollback(store, reply.admission.own_returned, &device);
            said.push(format!(
                "warning: {}",
                rollback_line(reply.admission.own_returned, &device.person, &device.name)
            ));
        }
        if !reply.admission.refused.is_empty() {
            // What passed is kept; the session ends, and its state is not saved: the peer
            // would only send the refused changes again.
            note_refusal(store, &device, &reply.admission.refused);
            said.push(format!(
                "warning: {}",
                refusal_line(
                    reply.admission.refused.len(),
                    &device.person,
                    &device.name,
                    &reasons(&reply.admission.refused)
                )
            ));
            return Ok(Answer::Reply {
                response: Response::Refused {
                    reason: Refusal::BrokeRules {
                        count: reply.admission.refused.len() as u32,
                    },
                },
                finished: true,
                ended: None,
                notices: Vec::new(),
                said,
            });
        }
        let gained = store.journal(Doc::Shared).len().saturating_sub(before) as u32;
        let finished = ends_session(&message, &reply.message);
        let total = gained_before.saturating_add(gained);
        let mut notices = Vec::new();
        let ended = if finished {
            let start = a.answering_start(&device.key);
            let me = a.device.me().id;
            let journal = a.store()?.journal_mut(Doc::Shared);
            let arrivals = journal.arrivals_since(&start).unwrap_or_default();
            notices = mend_app::notices::arrived(journal, &arrivals.new_ids, &me);
            Some(format!(
                "{}'s {} synced with this laptop: received {}",
                device.person,
                device.name,
                arrivals.words()
            ))
        } else {
            None
        };
        if finished {
            a.finish_answering(&device.key, &state)?;
        } else {
            a.keep_answering_state(&device.key, session, state, total);
        }
        Ok(Answer::Reply {
            response: Response::Sync {
                message: reply.message,
                signatures: reply.signatures,
                gained,
            },
            finished,
            ended,
            said,
            notices,
        })
    })
    .await
}
