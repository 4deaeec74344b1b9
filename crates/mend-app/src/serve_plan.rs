//! When a serving device syncs: the policy of `mend serve`, as events in and effects out.

use std::collections::{BTreeSet, HashSet};
use std::hash::Hash;
use std::time::Duration;

/// How often a serving device looks for changes another `mend` process wrote.
pub const LOCAL_POLL: Duration = Duration::from_millis(250);
/// How often a serving device checks in with every connected paired device, in case a change
/// was missed.
pub const RESYNC: Duration = Duration::from_secs(60);

/// What happened, as the shell tells it. `at` is the time since the planner started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<P> {
    /// The network shell is listening; `paired` are the journal's other devices, not removed.
    Started {
        paired: Vec<P>,
        at: Duration,
    },
    /// A paired device was found on the local network.
    Discovered(P),
    /// A connection to a device is up (it dialled us, or we dialled it).
    Connected(P),
    Disconnected(P),
    /// A dial the planner asked for succeeded.
    Dialled(P),
    /// A session a device started with this one finished (this device answered it).
    Answered(P),
    /// A sync session with a device ended (`ok`: it finished).
    SessionEnded {
        peer: P,
        ok: bool,
    },
    /// Another process changed the journal (found by a [`Effect::PollLocal`]).
    LocalChange,
    /// The journal's registry was read again: these are the paired devices now.
    Paired(Vec<P>),
    /// The clock moved on.
    Tick(Duration),
}

/// What the shell is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<P> {
    /// Open a connection to this device.
    Dial(P),
    /// Start a sync session with this device (one at a time per device).
    StartSession(P),
    /// Look whether another process changed the journal; report [`Event::LocalChange`].
    PollLocal,
    /// Read the registry again (a session may have brought a device's removal, a local change a
    /// new device); report [`Event::Paired`].
    ReadPaired,
    /// Publish this device's reveal-together keys for rounds both people have answered.
    PublishKeys,
}

/// The serving policy:
/// - of two serving devices that find each other, the one with the smaller id dials and starts,
///   so they do not both sync the same changes at once; a device that connects to us leads;
/// - one session per device at a time; a reason to sync during one starts exactly one more
///   after it;
/// - a change written by another process is pushed at once to every connected device, and
///   every other paired device is dialled to receive it (a connection closed while idle);
/// - every [`RESYNC`], a session with every connected device;
/// - after a session that finished, started here or by the other device: publish keys, read
///   the registry again; a device no longer paired (removed) is never started with again.
pub struct ServePlanner<P> {
    me: P,
    paired: HashSet<P>,
    connected: BTreeSet<P>,
    in_progress: HashSet<P>,
    again: HashSet<P>,
    dialling: HashSet<P>,
    next_poll: Duration,
    next_resync: Duration,
    effects: Vec<Effect<P>>,
    /// Devices elsewhere can be reached through relays: dial them at the start and at every
    /// [`RESYNC`] while they are not connected (mDNS tells of none of them).
    relays: bool,
}

impl<P: Clone + Ord + Hash> ServePlanner<P> {
    pub fn new(me: P) -> Self {
        Self {
            me,
            paired: HashSet::new(),
            connected: BTreeSet::new(),
            in_progress: HashSet::new(),
            again: HashSet::new(),
            dialling: HashSet::new(),
            next_poll: Duration::ZERO,
            next_resync: RESYNC,
            effects: Vec::new(),
            relays: false,
        }
    }

    /// Devices can be reached through relays (see the field).
    pub fn with_relays(mut self) -> Self {
        self.relays = true;
        self
    }

    /// Relays came into use while serving (a sync brought ones the journal remembers).
    pub fn use_relays(&mut self) {
        self.relays = true;
    }

    /// Dial every paired device not connected and not being dialled.
    fn dial_unreached(&mut self) {
        let mut unreached: Vec<P> = self
            .paired
            .iter()
            .filter(|p| !self.connected.contains(*p) && !self.dialling.contains(*p))
            .cloned()
            .collect();
        unreached.sort();
        for p in unreached {
            self.dialling.insert(p.clone());
            self.effects.push(Effect::Dial(p));
        }
    }

    /// Take in one event; returns what to do, in order.
    pub fn handle(&mut self, event: Event<P>) -> Vec<Effect<P>> {
        match event {
            Event::Started { paired, at } => {
                self.paired = paired.into_iter().collect();
                self.next_poll = at + LOCAL_POLL;
                self.next_resync = at + RESYNC;
                if self.relays {
                    self.dial_unreached();
                }
            }
            Event::Discovered(p) => {
                if self.paired.contains(&p)
                    && self.me < p
                    && !self.connected.contains(&p)
                    && self.dialling.insert(p.clone())
                {
                    self.effects.push(Effect::Dial(p));
                }
            }
            Event::Dialled(p) => {
                self.dialling.remove(&p);
                self.connected.insert(p.clone());
                self.sync_with(p);
            }
            // A device that connects to us is about to sync: let it lead.
            Event::Connected(p) => {
                self.connected.insert(p);
            }
            Event::Disconnected(p) => {
                self.connected.remove(&p);
                self.dialling.remove(&p);
            }
            Event::SessionEnded { peer, ok } => {
                self.in_progress.remove(&peer);
                if ok {
                    self.effects.push(Effect::PublishKeys);
                }
                self.effects.push(Effect::ReadPaired);
                if self.again.remove(&peer) {
                    self.sync_with(peer);
                }
            }
            // What arrived may complete a reveal-together round or remove a device, as after
            // a session this device started.
            Event::Answered(_) => {
                self.effects.push(Effect::PublishKeys);
                self.effects.push(Effect::ReadPaired);
            }
            Event::LocalChange => {
                self.effects.push(Effect::ReadPaired);
                for p in self.connected.clone() {
                    self.sync_with(p);
                }
                // A paired device whose connection was closed while idle is dialled again, by
                // whichever side has the change: it syncs once the dial succeeds.
                self.dial_unreached();
            }
            Event::Paired(paired) => {
                self.paired = paired.into_iter().collect();
                let paired = &self.paired;
                self.again.retain(|p| paired.contains(p));
            }
            Event::Tick(now) => {
                if now >= self.next_poll {
                    self.next_poll = now + LOCAL_POLL;
                    self.effects.push(Effect::PollLocal);
                }
                if now >= self.next_resync {
                    self.next_resync = now + RESYNC;
                    for p in self.connected.clone() {
                        self.sync_with(p);
                    }
                    if self.relays {
                        self.dial_unreached();
                    }
                }
            }
        }
        std::mem::take(&mut self.effects)
    }

    /// When the planner next needs a [`Event::Tick`].
    pub fn next_wake(&self) -> Duration {
        self.next_poll.min(self.next_resync)
    }

    fn sync_with(&mut self, p: P) {
        if !self.paired.contains(&p) {
            return;
        }
        if self.in_progress.insert(p.clone()) {
            self.effects.push(Effect::StartSession(p));
        } else {
            self.again.insert(p);
        }
    }
}
