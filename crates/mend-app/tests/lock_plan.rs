//! The `--lock-after` policy on a virtual clock: no sleeps.

use std::time::Duration;

use mend_app::{LockEffect, LockEvent, LockPlanner};

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn it_locks_once_the_limit_passes_without_a_command() {
    let mut p = LockPlanner::new(Some(S(60)));
    assert_eq!(p.handle(LockEvent::Unlocked { at: S(0) }), None);
    assert_eq!(p.next_wake(), Some(S(60)));
    assert_eq!(p.handle(LockEvent::Tick(S(59))), None);
    assert_eq!(p.handle(LockEvent::Tick(S(60))), Some(LockEffect::Lock));
    assert!(!p.is_unlocked());
    // Locked: nothing more to lock, and no reason to wake.
    assert_eq!(p.next_wake(), None);
    assert_eq!(p.handle(LockEvent::Tick(S(500))), None);
}

#[test]
fn a_command_starts_the_wait_again() {
    let mut p = LockPlanner::new(Some(S(60)));
    p.handle(LockEvent::Unlocked { at: S(0) });
    p.handle(LockEvent::Used { at: S(50) });
    assert_eq!(p.handle(LockEvent::Tick(S(100))), None);
    assert_eq!(p.next_wake(), Some(S(110)));
    // A command reported late does not move the wait back.
    p.handle(LockEvent::Used { at: S(40) });
    assert_eq!(p.next_wake(), Some(S(110)));
    assert_eq!(p.handle(LockEvent::Tick(S(110))), Some(LockEffect::Lock));
}

#[test]
fn without_a_limit_it_never_locks_and_a_lock_by_hand_is_kept() {
    let mut p = LockPlanner::new(None);
    p.handle(LockEvent::Unlocked { at: S(0) });
    assert_eq!(p.next_wake(), None);
    assert_eq!(p.handle(LockEvent::Tick(S(1_000_000))), None);
    assert!(p.is_unlocked());
    p.handle(LockEvent::Locked);
    assert!(!p.is_unlocked());
    // A command while locked (run directly, with a passphrase) does not unlock it.
    p.handle(LockEvent::Used { at: S(10) });
    assert!(!p.is_unlocked());
    let mut q = LockPlanner::new(Some(S(5)));
    q.handle(LockEvent::Unlocked { at: S(0) });
    q.handle(LockEvent::Locked);
    assert_eq!(q.handle(LockEvent::Tick(S(6))), None);
    q.handle(LockEvent::Unlocked { at: S(7) });
    assert_eq!(q.handle(LockEvent::Tick(S(11))), None);
    assert_eq!(q.handle(LockEvent::Tick(S(12))), Some(LockEffect::Lock));
}
