//! When `mend sync` starts a session with whom, tries again, and stops: its policy as events in
//! and effects out.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::Duration;

/// A device found on the network whose session failed is tried again after this long (two
/// devices dialling each other at once can both fail).
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
/// With relays, a paired device not found on the local network by then is dialled through
/// them: the local network stays first.
pub const RELAY_AFTER: Duration = Duration::from_secs(2);
/// A device not reached through the relays is dialled through them again after this long (its
/// laptop may be starting `mend serve`).
pub const RELAY_RETRY: Duration = Duration::from_secs(5);

/// What happened, as the shell tells it. Times are since the planner started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent<P> {
    /// A dial of a `--peer` address was answered: the device there, or `None` if it failed.
    Dialled(Option<P>),
    /// A device was found on the local network, or connected to us.
    Found(P),
    /// A session ended (`ok`: it finished).
    SessionEnded { peer: P, ok: bool, at: Duration },
    /// The clock moved on.
    Tick(Duration),
    /// The person pressed Ctrl-C.
    Interrupted,
}

/// What the shell is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEffect<P> {
    StartSession(P),
    /// Dial this device through the relays; once connected it is reported as
    /// [`SyncEvent::Found`].
    DialViaRelay(P),
    /// Stop: why, and the devices whose session was started and never finished.
    Finish {
        why: Finished,
        unfinished: Vec<P>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Every paired device has synced.
    AllSynced,
    /// With `--peer`: every address answered and every session started has ended.
    AddressesDone,
    TimedOut,
    Interrupted,
}

/// The policy of `mend sync`:
/// - a session with each paired device found on the network or at a `--peer` address, one at a
///   time per device; a device that has synced is not started with again;
/// - on the local network a session that failed is tried again after [`RETRY_AFTER`]; with
///   `--peer` it is not (the address was dialled once);
/// - done when every paired device has synced; with `--peer`, when every dial is answered and
///   every session started has ended; at the timeout at the latest; Ctrl-C stops at once.
pub struct SyncPlanner<P> {
    paired: HashSet<P>,
    direct: bool,
    dials_pending: usize,
    started: HashSet<P>,
    ended: HashMap<P, bool>,
    retries: Vec<(Duration, P)>,
    deadline: Duration,
    finished: bool,
    /// With relays: when to start dialling through them.
    relay_after: Option<Duration>,
    /// When each device was last dialled through the relays.
    relay_dialled: HashMap<P, Duration>,
}

impl<P: Clone + Eq + Hash + Ord> SyncPlanner<P> {
    /// `paired`: the other devices; `dials`: how many `--peer` addresses are being dialled
    /// (none: the local network); `timeout` from now (time zero).
    pub fn new(paired: impl IntoIterator<Item = P>, dials: usize, timeout: Duration) -> Self {
        Self {
            paired: paired.into_iter().collect(),
            direct: dials > 0,
            dials_pending: dials,
            started: HashSet::new(),
            ended: HashMap::new(),
            retries: Vec::new(),
            deadline: timeout,
            finished: false,
            relay_after: None,
            relay_dialled: HashMap::new(),
        }
    }

    /// Reach devices through relays too, from `after` on (zero without the local network).
    /// Not with `--peer` addresses, which are all that is dialled then.
    pub fn with_relays(mut self, after: Duration) -> Self {
        if !self.direct {
            self.relay_after = Some(after);
        }
        self
    }

    /// The devices to dial through the relays now: not started, not synced, not dialled
    /// within [`RELAY_RETRY`].
    fn relay_dials(&mut self, now: Duration, out: &mut Vec<SyncEffect<P>>) {
        let Some(after) = self.relay_after else {
            return;
        };
        if now < after {
            return;
        }
        let mut due: Vec<P> = self
            .paired
            .iter()
            .filter(|p| !self.started.contains(*p) && !self.ended.contains_key(*p))
            .filter(|p| {
                self.relay_dialled
                    .get(*p)
                    .is_none_or(|at| now >= *at + RELAY_RETRY)
            })
            .cloned()
            .collect();
        due.sort();
        for p in due {
            self.relay_dialled.insert(p.clone(), now);
            out.push(SyncEffect::DialViaRelay(p));
        }
    }

    /// When relay dials are next due, if any device is still to be reached.
    fn next_relay_dial(&self) -> Option<Duration> {
        let after = self.relay_after?;
        self.paired
            .iter()
            .filter(|p| !self.started.contains(*p) && !self.ended.contains_key(*p))
            .map(|p| {
                self.relay_dialled
                    .get(p)
                    .map_or(after, |at| (*at + RELAY_RETRY).max(after))
            })
            .min()
    }

    /// Take in one event; returns what to do. After a [`SyncEffect::Finish`] nothing more.
    pub fn handle(&mut self, event: SyncEvent<P>) -> Vec<SyncEffect<P>> {
        if self.finished {
            return Vec::new();
        }
        let mut out = Vec::new();
        match event {
            SyncEvent::Dialled(peer) => {
                self.dials_pending = self.dials_pending.saturating_sub(1);
                if let Some(p) = peer {
                    self.start(p, &mut out);
                }
            }
            SyncEvent::Found(p) => {
                if self.ended.get(&p) != Some(&true) {
                    self.start(p, &mut out);
                }
            }
            SyncEvent::SessionEnded { peer, ok, at } => {
                if ok {
                    self.ended.insert(peer, true);
                } else if self.direct {
                    self.ended.entry(peer).or_insert(false);
                } else {
                    self.started.remove(&peer);
                    self.retries.push((at + RETRY_AFTER, peer));
                }
            }
            SyncEvent::Tick(now) => {
                let (due, later): (Vec<_>, Vec<_>) =
                    self.retries.drain(..).partition(|(t, _)| *t <= now);
                self.retries = later;
                for (_, p) in due {
                    if !self.ended.contains_key(&p) {
                        self.start(p, &mut out);
                    }
                }
                self.relay_dials(now, &mut out);
                if now >= self.deadline {
                    return self.finish(Finished::TimedOut, out);
                }
            }
            SyncEvent::Interrupted => return self.finish(Finished::Interrupted, out),
        }
        if !self.ended.is_empty() && self.paired.iter().all(|p| self.ended.contains_key(p)) {
            return self.finish(Finished::AllSynced, out);
        }
        if self.direct
            && self.dials_pending == 0
            && self.started.iter().all(|p| self.ended.contains_key(p))
        {
            return self.finish(Finished::AddressesDone, out);
        }
        out
    }

    /// When the planner next needs a [`SyncEvent::Tick`]: a retry, or the timeout.
    pub fn next_wake(&self) -> Duration {
        self.retries
            .iter()
            .map(|(t, _)| *t)
            .chain(self.next_relay_dial())
            .min()
            .unwrap_or(self.deadline)
            .min(self.deadline)
    }

    fn start(&mut self, p: P, out: &mut Vec<SyncEffect<P>>) {
        if self.paired.contains(&p) && self.started.insert(p.clone()) {
            out.push(SyncEffect::StartSession(p));
        }
    }

    fn finish(&mut self, why: Finished, mut out: Vec<SyncEffect<P>>) -> Vec<SyncEffect<P>> {
        self.finished = true;
        let mut unfinished: Vec<P> = self
            .started
            .iter()
            .filter(|p| !self.ended.contains_key(*p))
            .cloned()
            .collect();
        unfinished.sort();
        out.push(SyncEffect::Finish { why, unfinished });
        out
    }
}
