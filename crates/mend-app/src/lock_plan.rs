//! When a serving device forgets its key: the `mend serve --lock-after` policy, as events in
//! and effects out, with time passed in.

use std::time::Duration;

/// What happened, as the shell tells it. `at` is the time since the shell started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEvent {
    /// The key was given (at start, or by `mend unlock`).
    Unlocked { at: Duration },
    /// A command was run through the serving device.
    Used { at: Duration },
    /// The key was forgotten (by `mend lock`, or after [`LockEffect::Lock`]).
    Locked,
    /// The clock moved on.
    Tick(Duration),
}

/// What the shell is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEffect {
    /// Forget the key now.
    Lock,
}

/// Lock after `after` without a command; never, without a limit. A locked device has nothing
/// to lock.
#[derive(Debug, Clone)]
pub struct LockPlanner {
    after: Option<Duration>,
    /// The last unlock or command, while unlocked.
    last_use: Option<Duration>,
}

impl LockPlanner {
    pub fn new(after: Option<Duration>) -> Self {
        Self {
            after,
            last_use: None,
        }
    }

    pub fn handle(&mut self, event: LockEvent) -> Option<LockEffect> {
        match event {
            LockEvent::Unlocked { at } => self.last_use = Some(at),
            LockEvent::Used { at } => {
                if let Some(last) = &mut self.last_use {
                    *last = (*last).max(at);
                }
            }
            LockEvent::Locked => self.last_use = None,
            LockEvent::Tick(now) => {
                if self.next_wake().is_some_and(|due| now >= due) {
                    self.last_use = None;
                    return Some(LockEffect::Lock);
                }
            }
        }
        None
    }

    /// When the planner next needs a [`LockEvent::Tick`]; `None`: not before something else
    /// happens.
    pub fn next_wake(&self) -> Option<Duration> {
        Some(self.last_use? + self.after?)
    }

    /// Whether the key is held, as far as the planner was told.
    pub fn is_unlocked(&self) -> bool {
        self.last_use.is_some()
    }
}
