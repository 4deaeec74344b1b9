//! The serving policy, scenario by scenario, on a virtual clock: no sockets, no sleeps.

use std::time::Duration;

use mend_app::{Effect, Event, ServePlanner, LOCAL_POLL, RESYNC};

const ME: u32 = 5;
const SMALLER: u32 = 2;
const LARGER: u32 = 9;
const STRANGER: u32 = 7;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn started(paired: &[u32]) -> ServePlanner<u32> {
    let mut p = ServePlanner::new(ME);
    assert!(p
        .handle(Event::Started {
            paired: paired.to_vec(),
            at: Duration::ZERO
        })
        .is_empty());
    p
}

fn sessions(effects: &[Effect<u32>]) -> Vec<u32> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::StartSession(p) => Some(*p),
            _ => None,
        })
        .collect()
}

/// Run the clock from `from` to `to` in steps of `step`; every effect, with its time.
fn run_clock(
    p: &mut ServePlanner<u32>,
    from: Duration,
    to: Duration,
    step: Duration,
) -> Vec<(Duration, Effect<u32>)> {
    let mut out = Vec::new();
    let mut now = from;
    while now <= to {
        for e in p.handle(Event::Tick(now)) {
            out.push((now, e));
        }
        now += step;
    }
    out
}

#[test]
fn of_two_serving_devices_that_find_each_other_the_smaller_id_dials_and_starts() {
    let mut p = started(&[SMALLER, LARGER]);
    // A larger id: this device dials it, then starts the session.
    assert_eq!(
        p.handle(Event::Discovered(LARGER)),
        vec![Effect::Dial(LARGER)]
    );
    // Found again while dialling: one dial only.
    assert!(p.handle(Event::Discovered(LARGER)).is_empty());
    assert_eq!(
        p.handle(Event::Dialled(LARGER)),
        vec![Effect::StartSession(LARGER)]
    );
    // A smaller id: this device waits for it to lead.
    assert!(p.handle(Event::Discovered(SMALLER)).is_empty());
    assert!(p.handle(Event::Connected(SMALLER)).is_empty());
    // A stranger found on the network is never dialled.
    assert!(p.handle(Event::Discovered(STRANGER)).is_empty());
}

#[test]
fn a_change_written_by_another_process_is_pushed_at_once_to_every_connected_device() {
    let mut p = started(&[SMALLER, LARGER]);
    p.handle(Event::Connected(SMALLER));
    p.handle(Event::Connected(LARGER));
    // The poll comes every LOCAL_POLL, not before.
    let effects = run_clock(&mut p, ms(0), ms(1000), ms(10));
    let polls: Vec<Duration> = effects
        .iter()
        .filter(|(_, e)| *e == Effect::PollLocal)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(polls, vec![ms(250), ms(500), ms(750), ms(1000)]);
    assert_eq!(LOCAL_POLL, ms(250));
    let effects = p.handle(Event::LocalChange);
    assert_eq!(effects[0], Effect::ReadPaired);
    assert_eq!(sessions(&effects), vec![SMALLER, LARGER]);
}

#[test]
fn a_reason_to_sync_during_a_session_starts_exactly_one_more_after_it() {
    let mut p = started(&[LARGER]);
    p.handle(Event::Connected(LARGER));
    assert_eq!(sessions(&p.handle(Event::LocalChange)), vec![LARGER]);
    // Three more writes while the session runs: no second session at once...
    for _ in 0..3 {
        assert!(sessions(&p.handle(Event::LocalChange)).is_empty());
    }
    // ...one after it, and no third.
    let effects = p.handle(Event::SessionEnded {
        peer: LARGER,
        ok: true,
    });
    assert_eq!(
        effects,
        vec![
            Effect::PublishKeys,
            Effect::ReadPaired,
            Effect::StartSession(LARGER)
        ]
    );
    let effects = p.handle(Event::SessionEnded {
        peer: LARGER,
        ok: true,
    });
    assert!(sessions(&effects).is_empty());
}

#[test]
fn every_connected_device_is_checked_in_with_every_resync_and_only_those() {
    let mut p = started(&[SMALLER, LARGER]);
    p.handle(Event::Connected(SMALLER));
    let mut resyncs: Vec<(Duration, u32)> = Vec::new();
    let mut now = ms(0);
    while now <= RESYNC * 3 {
        for e in p.handle(Event::Tick(now)) {
            if let Effect::StartSession(peer) = e {
                resyncs.push((now, peer));
                // Each session ends well before the next check-in.
                p.handle(Event::SessionEnded { peer, ok: true });
            }
        }
        now += ms(500);
    }
    assert_eq!(
        resyncs,
        vec![
            (RESYNC, SMALLER),
            (RESYNC * 2, SMALLER),
            (RESYNC * 3, SMALLER)
        ]
    );
    assert!(p.next_wake() <= RESYNC * 3 + LOCAL_POLL);
}

#[test]
fn a_removed_device_is_never_started_with_again() {
    let mut p = started(&[SMALLER, LARGER]);
    p.handle(Event::Connected(SMALLER));
    p.handle(Event::Connected(LARGER));
    p.handle(Event::LocalChange);
    // During the sessions, another write: both would go again...
    p.handle(Event::LocalChange);
    // ...but the session with SMALLER brought the news that LARGER was removed.
    let effects = p.handle(Event::SessionEnded {
        peer: SMALLER,
        ok: true,
    });
    assert!(effects.contains(&Effect::ReadPaired));
    p.handle(Event::Paired(vec![SMALLER]));
    let effects = p.handle(Event::SessionEnded {
        peer: LARGER,
        ok: false,
    });
    assert!(sessions(&effects).is_empty(), "{effects:?}");
    assert!(!effects.contains(&Effect::PublishKeys));
    // SMALLER's queued session (for the second write) runs and ends; the next write goes to
    // SMALLER alone.
    p.handle(Event::SessionEnded {
        peer: SMALLER,
        ok: true,
    });
    assert_eq!(sessions(&p.handle(Event::LocalChange)), vec![SMALLER]);
    p.handle(Event::SessionEnded {
        peer: SMALLER,
        ok: true,
    });
    let effects = run_clock(&mut p, ms(0), RESYNC, ms(1000));
    assert!(effects
        .iter()
        .all(|(_, e)| *e != Effect::StartSession(LARGER)));
    assert!(p.handle(Event::Discovered(LARGER)).is_empty());
}

#[test]
fn a_change_dials_a_paired_device_whose_connection_was_closed() {
    let mut p = started(&[LARGER]);
    p.handle(Event::Connected(LARGER));
    // The connection is closed while idle (or lost); a change is written here.
    p.handle(Event::Disconnected(LARGER));
    let effects = p.handle(Event::LocalChange);
    assert!(sessions(&effects).is_empty(), "{effects:?}");
    assert!(effects.contains(&Effect::Dial(LARGER)), "{effects:?}");
    // While that dial is under way, neither another change nor finding it dials twice.
    assert!(!p.handle(Event::LocalChange).contains(&Effect::Dial(LARGER)));
    assert!(p.handle(Event::Discovered(LARGER)).is_empty());
    // The dial fails (the laptop is away): the next change tries again.
    p.handle(Event::Disconnected(LARGER));
    assert!(p.handle(Event::LocalChange).contains(&Effect::Dial(LARGER)));
    // It succeeds: the change goes at once.
    assert_eq!(sessions(&p.handle(Event::Dialled(LARGER))), vec![LARGER]);
    // A device that is not paired is never dialled.
    let mut q = started(&[]);
    assert!(!q
        .handle(Event::LocalChange)
        .contains(&Effect::Dial(STRANGER)));
}

#[test]
fn a_session_the_other_device_started_is_acted_on_like_one_started_here() {
    let mut p = started(&[LARGER]);
    p.handle(Event::Connected(LARGER));
    // LARGER pushed a change to this device, which answered: its keys for a now complete
    // reveal-together round are published, and the registry is read again (a removal may have
    // arrived). No session is started back for it.
    let effects = p.handle(Event::Answered(LARGER));
    assert!(effects.contains(&Effect::PublishKeys), "{effects:?}");
    assert!(effects.contains(&Effect::ReadPaired), "{effects:?}");
    assert!(sessions(&effects).is_empty(), "{effects:?}");
    // A key published is a change here, pushed at once.
    assert_eq!(sessions(&p.handle(Event::LocalChange)), vec![LARGER]);
}

#[test]
fn with_relays_devices_elsewhere_are_dialled_at_the_start_and_at_each_resync_until_connected() {
    let dials = |effects: &[Effect<u32>]| -> Vec<u32> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Dial(p) => Some(*p),
                _ => None,
            })
            .collect()
    };
    // Without relays nothing is dialled at the start (mDNS tells of devices nearby).
    assert!(dials(&ServePlanner::new(ME).handle(Event::Started {
        paired: vec![SMALLER, LARGER],
        at: Duration::ZERO
    }))
    .is_empty());
    let mut p = ServePlanner::new(ME).with_relays();
    let first = p.handle(Event::Started {
        paired: vec![SMALLER, LARGER],
        at: Duration::ZERO,
    });
    assert_eq!(dials(&first), vec![SMALLER, LARGER]);
    // SMALLER answered through the relay and synced; LARGER's dial failed.
    assert_eq!(sessions(&p.handle(Event::Dialled(SMALLER))), vec![SMALLER]);
    p.handle(Event::Disconnected(LARGER));
    // Not dialled again before the resync; then only the one not connected.
    assert!(dials(&p.handle(Event::Tick(RESYNC - ms(1)))).is_empty());
    assert_eq!(dials(&p.handle(Event::Tick(RESYNC))), vec![LARGER]);
}
