//! `mend sync`'s policy, scenario by scenario, on a virtual clock.

use std::time::Duration;

use mend_app::{Finished, SyncEffect, SyncEvent, SyncPlanner, RETRY_AFTER};

const A: u32 = 1;
const B: u32 = 2;
const STRANGER: u32 = 9;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn finish(effects: &[SyncEffect<u32>]) -> Option<(Finished, Vec<u32>)> {
    effects.iter().find_map(|e| match e {
        SyncEffect::Finish { why, unfinished } => Some((*why, unfinished.clone())),
        _ => None,
    })
}

#[test]
fn on_the_network_it_stops_once_every_paired_device_has_synced() {
    let mut p = SyncPlanner::new([A, B], 0, s(30));
    assert_eq!(
        p.handle(SyncEvent::Found(A)),
        vec![SyncEffect::StartSession(A)]
    );
    // Found again (mDNS repeats itself) while the session runs: not started twice.
    assert!(p.handle(SyncEvent::Found(A)).is_empty());
    assert!(p.handle(SyncEvent::Found(STRANGER)).is_empty());
    assert!(p
        .handle(SyncEvent::SessionEnded {
            peer: A,
            ok: true,
            at: s(1)
        })
        .is_empty());
    // A has synced; found again, it is left alone.
    assert!(p.handle(SyncEvent::Found(A)).is_empty());
    assert_eq!(
        p.handle(SyncEvent::Found(B)),
        vec![SyncEffect::StartSession(B)]
    );
    let done = p.handle(SyncEvent::SessionEnded {
        peer: B,
        ok: true,
        at: s(2),
    });
    assert_eq!(finish(&done), Some((Finished::AllSynced, vec![])));
    assert!(p.handle(SyncEvent::Found(B)).is_empty());
}

#[test]
fn on_the_network_a_failed_session_is_tried_again_after_the_pause_not_before() {
    let mut p = SyncPlanner::new([A], 0, s(30));
    p.handle(SyncEvent::Found(A));
    p.handle(SyncEvent::SessionEnded {
        peer: A,
        ok: false,
        at: s(3),
    });
    assert_eq!(p.next_wake(), s(3) + RETRY_AFTER);
    assert!(p.handle(SyncEvent::Tick(s(4))).is_empty());
    assert_eq!(
        p.handle(SyncEvent::Tick(s(5))),
        vec![SyncEffect::StartSession(A)]
    );
    // It never answers: at the timeout, stop and name it.
    assert_eq!(p.next_wake(), s(30));
    let done = p.handle(SyncEvent::Tick(s(30)));
    assert_eq!(finish(&done), Some((Finished::TimedOut, vec![A])));
}

#[test]
fn with_addresses_it_stops_when_every_dial_is_answered_and_every_session_has_ended() {
    let mut p = SyncPlanner::new([A, B], 2, s(30));
    // One address is not a paired device, the other is A.
    assert!(p.handle(SyncEvent::Dialled(Some(STRANGER))).is_empty());
    assert_eq!(
        p.handle(SyncEvent::Dialled(Some(A))),
        vec![SyncEffect::StartSession(A)]
    );
    // A's session fails: with --peer it is not tried again, and the sync is over.
    let done = p.handle(SyncEvent::SessionEnded {
        peer: A,
        ok: false,
        at: s(1),
    });
    assert_eq!(finish(&done), Some((Finished::AddressesDone, vec![])));
    assert!(p.handle(SyncEvent::Tick(s(10))).is_empty());
}

#[test]
fn with_addresses_that_all_fail_it_stops_at_once() {
    let mut p = SyncPlanner::<u32>::new([A], 1, s(30));
    let done = p.handle(SyncEvent::Dialled(None));
    assert_eq!(finish(&done), Some((Finished::AddressesDone, vec![])));
}

#[test]
fn ctrl_c_stops_at_once_and_names_the_sessions_cut_off() {
    let mut p = SyncPlanner::new([A, B], 0, s(30));
    p.handle(SyncEvent::Found(B));
    let done = p.handle(SyncEvent::Interrupted);
    assert_eq!(finish(&done), Some((Finished::Interrupted, vec![B])));
}

#[test]
fn with_relays_the_local_network_goes_first_then_devices_not_found_are_dialled_through_them() {
    use mend_app::{RELAY_AFTER, RELAY_RETRY};
    let mut p = SyncPlanner::new([A, B], 0, s(30)).with_relays(RELAY_AFTER);
    assert_eq!(p.next_wake(), RELAY_AFTER, "woken when relays are due");
    // A is on this network: found and started before the relays are used.
    assert_eq!(
        p.handle(SyncEvent::Found(A)),
        vec![SyncEffect::StartSession(A)]
    );
    assert!(p.handle(SyncEvent::Tick(RELAY_AFTER / 2)).is_empty());
    // At RELAY_AFTER only B, not found, is dialled through the relays; A is not.
    assert_eq!(
        p.handle(SyncEvent::Tick(RELAY_AFTER)),
        vec![SyncEffect::DialViaRelay(B)]
    );
    // Not again before RELAY_RETRY (its laptop may not be serving yet), then again.
    assert_eq!(p.next_wake(), RELAY_AFTER + RELAY_RETRY);
    assert!(p
        .handle(SyncEvent::Tick(RELAY_AFTER + RELAY_RETRY / 2))
        .is_empty());
    assert_eq!(
        p.handle(SyncEvent::Tick(RELAY_AFTER + RELAY_RETRY)),
        vec![SyncEffect::DialViaRelay(B)]
    );
    // Connected through a relay: found, started, and never dialled again.
    assert_eq!(
        p.handle(SyncEvent::Found(B)),
        vec![SyncEffect::StartSession(B)]
    );
    assert!(p.handle(SyncEvent::Tick(s(20))).is_empty());
}

#[test]
fn relays_are_not_used_with_peer_addresses_and_at_once_without_the_local_network() {
    let mut p = SyncPlanner::new([A], 1, s(30)).with_relays(Duration::ZERO);
    assert!(p.handle(SyncEvent::Tick(s(3))).is_empty(), "--peer only");
    let mut p = SyncPlanner::new([A], 0, s(30)).with_relays(Duration::ZERO);
    assert_eq!(
        p.handle(SyncEvent::Tick(Duration::ZERO)),
        vec![SyncEffect::DialViaRelay(A)]
    );
}
