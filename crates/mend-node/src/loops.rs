//! The loops of `mend sync` and `mend serve`: they start the network, carry out what the
//! planners (mend-app) decide, run and answer sessions, and tell a [`Watcher`] what a person
//! should see. When to sync with whom is the planners'; what is printed, and how, is the front
//! end's.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mend_app::{
    Effect, Event, Finished, LockEffect, LockEvent, LockPlanner, ServePlanner, SyncEffect,
    SyncEvent, SyncPlanner,
};
use mend_journal::Device;
use mend_net::{start, Multiaddr, NetConfig, NetEvent, NetHandle, PeerId, Protocol};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::{answer, sync_with, Answer, NodeError, ServedJournal, SharedJournal, Summary};

type Result<T, E = NodeError> = std::result::Result<T, E>;

/// What a node's loops tell the person watching.
pub trait Watcher: Send + Sync + 'static {
    /// A line for the person (stdout).
    fn say(&self, line: &str);
    /// A note or a warning (stderr); the line starts with what it is ("note:", "warning:").
    fn note(&self, line: &str);
    /// What is being done now, for a progress display (`mend sync`'s spinner).
    fn doing(&self, _what: &str) {}
    /// Something the partner sent asks for attention (serve only): a desktop notification,
    /// where there is a desktop.
    fn notify(&self, _notice: &mend_app::notices::Notice) {}
}

pub type SharedWatcher = Arc<dyn Watcher>;

/// The time of day, as serve's lines begin.
fn now() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

fn who(paired: &HashMap<PeerId, Device>, peer: &PeerId) -> String {
    paired.get(peer).map_or_else(
        || peer.to_string(),
        |d| format!("{}'s {}", d.person, d.name),
    )
}

/// Start a session with `peer` in the background; its outcome arrives on `done`.
fn spawn_sync(
    shared: &SharedJournal,
    net: &NetHandle,
    peer: PeerId,
    device: Device,
    done: &mpsc::Sender<(PeerId, Result<Summary>)>,
) {
    let (shared, net, done) = (shared.clone(), net.clone(), done.clone());
    tokio::spawn(async move {
        let result = async {
            net.dial_peer(peer).await?;
            sync_with(&shared, &net, peer, device).await
        }
        .await;
        let _ = done.send((peer, result)).await;
    });
}

/// Answer a request from a peer: sync for paired devices; silence and a closed connection for
/// anyone else (no hint that a journal exists). `answered` hears of each session answered to
/// its end.
fn spawn_answer(
    shared: &SharedJournal,
    net: &NetHandle,
    watcher: &SharedWatcher,
    (peer, protocol, request, reply): (
        PeerId,
        Protocol,
        mend_sync::Request,
        tokio::sync::oneshot::Sender<mend_sync::Response>,
    ),
    answered: Option<mpsc::UnboundedSender<PeerId>>,
) {
    let (shared, net, watcher) = (shared.clone(), net.clone(), watcher.clone());
    tokio::spawn(async move {
        let outcome = match protocol {
            Protocol::Sync => answer(&shared, peer, request).await,
            Protocol::Pair => Ok(Answer::Refuse("no invite is waiting")),
        };
        match outcome {
            Ok(Answer::Reply {
                response,
                ended,
                said,
                notices,
                ..
            }) => {
                let _ = reply.send(response);
                for line in said {
                    watcher.note(&line);
                }
                // Serve says each session it answered and acts on what arrived.
                if let (Some(line), Some(answered)) = (ended, &answered) {
                    watcher.say(&format!("{} {line}", now()));
                    for n in &notices {
                        watcher.notify(n);
                    }
                    let _ = answered.send(peer);
                }
            }
            Ok(Answer::Refuse(why)) => {
                tracing::warn!(%peer, "closed a connection: {why}");
                watcher.note(&format!(
                    "note: refused a connection from an unknown device ({peer}): {why}"
                ));
                drop(reply);
                let _ = net.disconnect(peer).await;
            }
            Err(e) => tracing::warn!(%peer, "answering failed: {e}"),
        }
    });
}

/// After a sync, publish this device's keys for reveal-together rounds that are now complete;
/// how many were published.
pub fn publish_keys(shared: &SharedJournal) -> Result<usize> {
    let mut a = shared.lock().map_err(|_| NodeError::WorkerStopped)?;
    let published = a.publish_keys()?;
    a.release_unless_answering();
    Ok(published)
}

/// What one `mend sync` found.
pub struct SyncOutcome {
    /// The sessions that finished, one per device.
    pub results: Vec<Summary>,
    /// What went wrong on the way (an address that is no paired device, a session that broke
    /// off), one line each.
    pub failures: Vec<String>,
    /// Ctrl-C ended it.
    pub interrupted: bool,
}

/// Sync once with every paired device that can be found (mDNS, or the `peers` addresses)
/// within `timeout`, answering what they ask meanwhile.
pub async fn sync_once(
    shared: &SharedJournal,
    paired: &HashMap<PeerId, Device>,
    mut config: NetConfig,
    peers: Vec<Multiaddr>,
    timeout: Duration,
    watcher: SharedWatcher,
) -> Result<SyncOutcome> {
    // Connections with the paired devices only: a stranger's is closed before it is heard.
    config.allowed = Some(paired.keys().copied().collect());
    add_remembered_relays(shared, &mut config).await?;
    // Through relays, after the local network had its chance (at once without mDNS).
    let relay_after = (!config.relays.is_empty()).then_some(if config.mdns {
        mend_app::RELAY_AFTER
    } else {
        Duration::ZERO
    });
    let (net, mut events) = start(config).await?;
    let (done_tx, mut done_rx) = mpsc::channel(8);
    let mut results: Vec<Summary> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    // Sessions that broke off, by device; a later success clears its entry.
    let mut broken: HashMap<PeerId, String> = HashMap::new();
    let mut interrupted = false;
    // Ctrl-C is ours from the start, dials included.
    let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    // Dial every --peer address at once; the answers arrive in the loop below.
    let (dialed_tx, mut dialed_rx) = mpsc::channel(peers.len().max(1));
    let mut dials_pending = peers.len();
    // When to start, retry and stop is the planner's (mend-app); this loop carries it out.
    let clock = tokio::time::Instant::now();
    let mut plan = SyncPlanner::new(paired.keys().copied(), peers.len(), timeout);
    if let Some(after) = relay_after {
        plan = plan.with_relays(after);
    }
    for addr in peers {
        let (net, dialed_tx) = (net.clone(), dialed_tx.clone());
        tokio::spawn(async move {
            let result = net.dial(addr.clone()).await;
            let _ = dialed_tx.send((addr, result)).await;
        });
    }
    let mut queue = VecDeque::new();
    let (why, unfinished) = 'run: loop {
        while let Some(event) = queue.pop_front() {
            for effect in plan.handle(event) {
                match effect {
                    SyncEffect::StartSession(p) => {
                        if let Some(d) = paired.get(&p) {
                            watcher.doing(&format!("syncing with {}'s {}…", d.person, d.name));
                            spawn_sync(shared, &net, p, d.clone(), &done_tx);
                        }
                    }
                    SyncEffect::DialViaRelay(p) => {
                        if let Some(d) = paired.get(&p) {
                            watcher.doing(&format!(
                                "reaching {}'s {} through the relays…",
                                d.person, d.name
                            ));
                        }
                        // Once connected the device is reported (NetEvent::Connected); a
                        // dial that fails is tried again when the planner says.
                        let net = net.clone();
                        tokio::spawn(async move {
                            if let Err(e) = net.dial_peer(p).await {
                                tracing::debug!(%p, "no path through the relays: {e}");
                            }
                        });
                    }
                    SyncEffect::Finish { why, unfinished } => break 'run (why, unfinished),
                }
            }
        }
        let wake = clock + plan.next_wake();
        tokio::select! {
            Some((addr, dialed)) = dialed_rx.recv(), if dials_pending > 0 => {
                dials_pending -= 1;
                match dialed {
                    Ok(peer) => {
                        if !paired.contains_key(&peer) {
                            failures.push(format!("{addr} is not a device paired with this journal"));
                        }
                        queue.push_back(SyncEvent::Dialled(Some(peer)));
                    }
                    Err(e) => {
                        failures.push(e.to_string());
                        queue.push_back(SyncEvent::Dialled(None));
                    }
                }
            }
            ev = events.recv() => match ev {
                Some(NetEvent::Discovered(p)) | Some(NetEvent::Connected(p)) => {
                    queue.push_back(SyncEvent::Found(p));
                }
                Some(NetEvent::Request { peer, protocol, request, reply }) => {
                    spawn_answer(shared, &net, &watcher, (peer, protocol, request, reply), None);
                }
                Some(_) => {}
                // The network shell stopped: end here with what was received (saved).
                None => break 'run (Finished::AddressesDone, Vec::new()),
            },
            Some((peer, r)) = done_rx.recv() => {
                let ok = match r {
                    Ok(s) => {
                        watcher.say(&s.line());
                        results.push(s);
                        broken.remove(&peer);
                        true
                    }
                    Err(e) => {
                        let who = who(paired, &peer);
                        broken.insert(peer, format!("the session with {who} broke off: {e}"));
                        false
                    }
                };
                queue.push_back(SyncEvent::SessionEnded { peer, ok, at: clock.elapsed() });
            }
            _ = tokio::time::sleep_until(wake) => queue.push_back(SyncEvent::Tick(clock.elapsed())),
            _ = ctrl_c.recv() => queue.push_back(SyncEvent::Interrupted),
        }
    };
    match why {
        Finished::Interrupted => interrupted = true,
        Finished::TimedOut => {
            for p in unfinished {
                let who = who(paired, &p);
                broken.insert(
                    p,
                    format!(
                        "the session with {who} broke off: no answer within {} s",
                        timeout.as_secs()
                    ),
                );
            }
        }
        Finished::AllSynced | Finished::AddressesDone => {}
    }
    failures.extend(broken.into_values());
    Ok(SyncOutcome {
        results,
        failures,
        interrupted,
    })
}

/// What the home's local socket tells the serving node.
#[derive(Debug)]
pub enum LocalEvent {
    /// A command ran (to its end) through the serve.
    Used,
    /// The serve wrote an entry into its own journal for a command: push it.
    Wrote,
    /// `mend lock`: the key is forgotten already; stop using it.
    Locked,
    /// `mend unlock`: the secrets to use now (journal id and secrets, as handed over).
    Unlocked(Zeroizing<Vec<u8>>),
}

/// Why a serving node stopped.
pub enum NodeEnd {
    /// Ctrl-C, a termination signal, or the network shell ended: serve stops.
    Stopped,
    /// `mend lock` or `--lock-after`: the key is to be forgotten; serve waits for `mend unlock`.
    Locked,
}

/// Whether another process changed the journal since serve last looked.
async fn changed_here(shared: &SharedJournal) -> Result<bool> {
    ServedJournal::with(shared, |a| {
        let changed = a.changed_elsewhere();
        a.close_if_idle();
        Ok(changed)
    })
    .await
}

async fn read_paired(shared: &SharedJournal) -> Result<HashMap<PeerId, Device>> {
    ServedJournal::with(shared, |a| {
        let p = a.paired();
        a.release_unless_answering();
        p
    })
    .await
}

/// Use the relays the journal remembers too, after those given.
pub(crate) async fn add_remembered_relays(
    shared: &SharedJournal,
    config: &mut NetConfig,
) -> Result<()> {
    for relay in read_relays(shared).await? {
        if !config.relays.contains(&relay) {
            config.relays.push(relay);
        }
    }
    Ok(())
}

/// The relays the journal remembers that this build can use.
async fn read_relays(shared: &SharedJournal) -> Result<Vec<Multiaddr>> {
    let remembered = ServedJournal::with(shared, |a| {
        let r = a.relays();
        a.release_unless_answering();
        r
    })
    .await?;
    crate::net::parse_relays(&crate::net::usable_relays(remembered))
}

/// The home's local socket as the serving node sees it.
pub struct Local<'a> {
    /// Hand the journal the node holds to the socket (to write into and answer from), or take
    /// it back (`None`).
    pub hold: &'a (dyn Fn(Option<SharedJournal>) + Sync),
    pub events: &'a mut mpsc::UnboundedReceiver<LocalEvent>,
}

/// Serve `shared` on the network until stopped or locked: answer paired devices, push what
/// is written here, sync with devices as they appear (the planner decides when).
pub async fn serve_node(
    shared: SharedJournal,
    mut config: NetConfig,
    peers: Vec<Multiaddr>,
    local: Local<'_>,
    lock_plan: &mut LockPlanner,
    since: std::time::Instant,
    watcher: SharedWatcher,
) -> Result<NodeEnd> {
    let who_here = {
        let a = shared.lock().map_err(|_| NodeError::WorkerStopped)?;
        format!(
            "{} on {}",
            a.device.secrets.person_name, a.device.secrets.device_name
        )
    };
    (local.hold)(Some(shared.clone()));
    let mut end = NodeEnd::Stopped;
    let mut paired = read_paired(&shared).await?;
    // Connections with the paired devices only, decided by the network shell from this list
    // (kept as the registry changes): a stranger's is closed before any protocol runs, without
    // the journal or its lock being touched.
    config.allowed = Some(paired.keys().copied().collect());
    // Reachable through each relay: a reservation on it.
    add_remembered_relays(&shared, &mut config).await?;
    let relays = !config.relays.is_empty();
    let mut relays_in_use = config.relays.clone();
    // Reserved on every relay, from the start or once one is known.
    config.reserve = true;
    let (net, mut events) = start(config).await?;
    let (done_tx, mut done_rx) = mpsc::channel(8);
    let (answered_tx, mut answered_rx) = mpsc::unbounded_channel();
    let (dialled_tx, mut dialled_rx) = mpsc::channel::<(PeerId, bool)>(16);
    // Strangers already reported (one line each, however often they knock; bounded).
    let mut refused: std::collections::HashSet<PeerId> = std::collections::HashSet::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    watcher.say(&format!("Serving the journal as {who_here}. Listening on:"));
    for addr in net.listen_addrs().await? {
        watcher.say(&format!("  {addr}/p2p/{}", net.local_peer_id));
    }
    watcher.say("Ctrl-C stops.");
    // When to sync with whom is the planner's (mend-app); this loop only carries it out.
    let clock = tokio::time::Instant::now();
    let mut plan = ServePlanner::new(net.local_peer_id);
    if relays {
        plan = plan.with_relays();
    }
    let mut queue = VecDeque::from([Event::Started {
        paired: paired.keys().copied().collect(),
        at: clock.elapsed(),
    }]);
    for addr in peers {
        if let Ok(p) = net.dial(addr).await {
            queue.push_back(Event::Dialled(p));
        }
    }
    loop {
        while let Some(event) = queue.pop_front() {
            tracing::debug!(?event, "serve planner event");
            let effects = plan.handle(event);
            tracing::debug!(?effects, "serve planner effects");
            for effect in effects {
                match effect {
                    // In the background: a dial through a relay that does not answer takes
                    // seconds, and serve goes on answering meanwhile.
                    Effect::Dial(p) => {
                        let (net, dialled_tx) = (net.clone(), dialled_tx.clone());
                        tokio::spawn(async move {
                            let ok = net.dial_peer(p).await.is_ok();
                            let _ = dialled_tx.send((p, ok)).await;
                        });
                    }
                    Effect::StartSession(p) => match paired.get(&p) {
                        Some(d) => spawn_sync(&shared, &net, p, d.clone(), &done_tx),
                        None => queue.push_back(Event::SessionEnded { peer: p, ok: false }),
                    },
                    Effect::PollLocal => {
                        if changed_here(&shared).await? {
                            queue.push_back(Event::LocalChange);
                        }
                    }
                    // What arrived or was written may have removed or added a device.
                    Effect::ReadPaired => {
                        paired = read_paired(&shared).await?;
                        net.allow_only(paired.keys().copied().collect()).await?;
                        // A relay the partner added reaches this laptop by a sync: used at once.
                        let now_known = read_relays(&shared).await?;
                        let new: Vec<Multiaddr> = now_known
                            .into_iter()
                            .filter(|r| !relays_in_use.contains(r))
                            .collect();
                        if !new.is_empty() {
                            relays_in_use.extend(new.iter().cloned());
                            plan.use_relays();
                            net.use_relays(new).await?;
                        }
                        queue.push_back(Event::Paired(paired.keys().copied().collect()));
                    }
                    Effect::PublishKeys => {
                        let shared = shared.clone();
                        match tokio::task::spawn_blocking(move || publish_keys(&shared))
                            .await
                            .map_err(|_| NodeError::WorkerStopped)?
                        {
                            // A key published here is a change of this device's own: push it.
                            Ok(n) if n > 0 => queue.push_back(Event::LocalChange),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("publishing reveal-together keys failed: {e}")
                            }
                        }
                    }
                }
            }
        }
        let wake = clock + plan.next_wake();
        let lock_at = lock_plan
            .next_wake()
            .map(|w| tokio::time::Instant::from_std(since + w));
        tokio::select! {
            _ = ctrl_c.recv() => break,
            _ = term.recv() => break,
            ev = local.events.recv() => match ev {
                // A command ran through serve: push what it wrote at once.
                Some(LocalEvent::Used) => {
                    lock_plan.handle(LockEvent::Used { at: since.elapsed() });
                    if changed_here(&shared).await? {
                        queue.push_back(Event::LocalChange);
                    }
                }
                // Serve wrote an entry for a command: its own change, pushed at once.
                Some(LocalEvent::Wrote) => {
                    lock_plan.handle(LockEvent::Used { at: since.elapsed() });
                    queue.push_back(Event::LocalChange);
                }
                Some(LocalEvent::Locked) => {
                    end = NodeEnd::Locked;
                    break;
                }
                Some(LocalEvent::Unlocked(_)) | None => {}
            },
            _ = async { tokio::time::sleep_until(lock_at.expect("checked")).await }, if lock_at.is_some() => {
                if lock_plan.handle(LockEvent::Tick(since.elapsed())) == Some(LockEffect::Lock) {
                    end = NodeEnd::Locked;
                    break;
                }
            }
            ev = events.recv() => match ev {
                Some(NetEvent::Discovered(p)) => queue.push_back(Event::Discovered(p)),
                Some(NetEvent::Connected(p)) => queue.push_back(Event::Connected(p)),
                Some(NetEvent::Disconnected(p)) => queue.push_back(Event::Disconnected(p)),
                Some(NetEvent::Request { peer, protocol, request, reply }) => {
                    spawn_answer(
                        &shared,
                        &net,
                        &watcher,
                        (peer, protocol, request, reply),
                        Some(answered_tx.clone()),
                    );
                }
                Some(NetEvent::BadInput { peer, why }) => {
                    watcher.note(&format!(
                        "note: closed a connection that sent something unreadable ({peer}): {why}"
                    ));
                }
                Some(NetEvent::Denied(peer)) => {
                    if refused.len() < 256 && refused.insert(peer) {
                        watcher.note(&format!(
                            "note: refused a connection from an unknown device ({peer})"
                        ));
                    }
                }
                Some(NetEvent::Reachable(addr)) => {
                    watcher.say(&format!(
                        "{} Reachable through the relay at {addr}/p2p/{}",
                        now(),
                        net.local_peer_id
                    ));
                }
                Some(NetEvent::Unreachable { relay, why }) => {
                    watcher.note(&format!(
                        "note: no reservation on the relay {relay}: {why}; asked again later"
                    ));
                }
                Some(_) => {}
                None => break,
            },
            Some(peer) = answered_rx.recv() => queue.push_back(Event::Answered(peer)),
            Some((peer, ok)) = dialled_rx.recv() => queue.push_back(if ok {
                Event::Dialled(peer)
            } else {
                Event::Disconnected(peer)
            }),
            Some((peer, r)) = done_rx.recv() => {
                match &r {
                    Ok(s) => {
                        watcher.say(&format!("{} {}", now(), s.line()));
                        for n in &s.notices {
                            watcher.notify(n);
                        }
                        for w in s.rollback().into_iter().chain(s.refusal()) {
                            watcher.note(&format!("warning: {w}"));
                        }
                    }
                    Err(e) => {
                        tracing::info!(%peer, "sync did not complete: {e}");
                        watcher.say(&format!(
                            "{} The sync with {} did not finish ({e}); what arrived is saved, \
                             and it is tried again when the device is back.",
                            now(),
                            who(&paired, &peer)
                        ));
                    }
                }
                queue.push_back(Event::SessionEnded { peer, ok: r.is_ok() });
            }
            _ = tokio::time::sleep_until(wake) => queue.push_back(Event::Tick(clock.elapsed())),
        }
    }
    (local.hold)(None);
    ServedJournal::with(&shared, |a| {
        a.close();
        Ok(())
    })
    .await?;
    Ok(end)
}
