//! `mend invite`, `join`, `sync`, `serve` and `devices`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use mend_net::{start, NetEvent, PeerId, Protocol};
use mend_store::{Doc, LockMode};
use serde_json::json;
use tokio::sync::mpsc;

use crate::cli::{
    DevicesAction, DevicesArgs, Global, InviteArgs, JoinArgs, RemoveDeviceArgs, ServeArgs, SyncArgs,
};
use crate::commands::init::{check_name, default_device_name};
use crate::fail::fail;
use crate::node::{
    self, answer, net_config, parse_addrs, sync_with, Answer, ServedJournal, SharedJournal, Summary,
};
use crate::unlock::{self, Unlocked};
use crate::{passphrase, render};

pub fn invite(g: &Global, a: InviteArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    // Only a device that holds the journal can hand it on.
    unlocked
        .open(LockMode::Read)?
        .journal(Doc::Shared)
        .people()?
        .first()
        .ok_or_else(|| {
            fail(
                "this device has not received the journal yet",
                "run `mend sync` with a paired device first",
            )
        })?;
    node::pair::invite(unlocked, a)
}

pub fn join(g: &Global, a: JoinArgs) -> Result<()> {
    let home = unlock::home(g)?;
    if home.is_initialised() {
        return Err(mend_store::StoreError::AlreadyInitialised {
            home: home.root().to_owned(),
        }
        .into());
    }
    mend_sync::InviteCode::parse(&a.code).map_err(|e| {
        fail(
            e.to_string(),
            "type the code exactly as `mend invite` printed it",
        )
    })?;
    let name = check_name("your name", &a.name)?;
    let device = check_name(
        "the device name",
        &a.device.clone().unwrap_or_else(default_device_name),
    )?;
    parse_addrs(&a.net.peer)?;
    let pass = passphrase::choose(g.passphrase_file.as_deref(), passphrase::ENV_PASSPHRASE)?;
    let params = passphrase::kdf_params()?;
    node::pair::join(home, a, pass, params, name, device)
}

/// Start a session with `peer` in the background; its outcome arrives on `done`.
fn spawn_sync(
    shared: &SharedJournal,
    net: &mend_net::NetHandle,
    peer: PeerId,
    device: mend_journal::Device,
    done: &mpsc::Sender<(PeerId, Result<Summary>)>,
) {
    let (shared, net, done) = (shared.clone(), net.clone(), done.clone());
    tokio::spawn(async move {
        let result = async {
            net.dial_peer(peer).await?;
            Ok::<_, anyhow::Error>(sync_with(&shared, &net, peer, device).await?)
        }
        .await;
        let _ = done.send((peer, result)).await;
    });
}

/// Answer a request from a peer: sync for paired devices; silence and a closed connection for
/// anyone else (no hint that a journal exists).
fn spawn_answer(
    shared: &SharedJournal,
    net: &mend_net::NetHandle,
    peer: PeerId,
    protocol: Protocol,
    request: mend_sync::Request,
    reply: tokio::sync::oneshot::Sender<mend_sync::Response>,
    answered: Option<mpsc::UnboundedSender<PeerId>>,
) {
    let (shared, net) = (shared.clone(), net.clone());
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
                ..
            }) => {
                let _ = reply.send(response);
                for line in said {
                    eprintln!("{line}");
                }
                // Serve says each session it answered and acts on what arrived.
                if let (Some(line), Some(answered)) = (ended, &answered) {
                    println!("{} {line}", chrono::Local::now().format("%H:%M:%S"));
                    let _ = answered.send(peer);
                }
            }
            Ok(Answer::Refuse(why)) => {
                tracing::warn!(%peer, "closed a connection: {why}");
                eprintln!("note: refused a connection from an unknown device ({peer}): {why}");
                drop(reply);
                let _ = net.disconnect(peer).await;
            }
            Err(e) => tracing::warn!(%peer, "answering failed: {e:#}"),
        }
    });
}

pub fn sync(g: &Global, a: SyncArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let seed = unlocked.secrets.identity_seed;
    let shared = ServedJournal::new(unlocked.into_device(), crate::unlock::warn);
    let paired = shared.lock().expect("fresh").paired()?;
    if paired.is_empty() {
        return Err(fail(
            "no other device is paired with this journal yet",
            "pair one: `mend invite` here, then `mend join CODE --name NAME` on the other laptop",
        )
        .into());
    }
    let peers = parse_addrs(&a.net.peer)?;
    let config = net_config(seed, &a.net)?;
    let timeout = Duration::from_secs(a.timeout);
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("looking for paired devices…");
    let results = node::runtime()?.block_on(async {
        use mend_app::{Finished, SyncEffect, SyncEvent, SyncPlanner};
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
        for addr in peers {
            let (net, dialed_tx) = (net.clone(), dialed_tx.clone());
            tokio::spawn(async move {
                let result = net.dial(addr.clone()).await;
                let _ = dialed_tx.send((addr, result)).await;
            });
        }
        let mut queue = std::collections::VecDeque::new();
        let (why, unfinished) = 'run: loop {
            while let Some(event) = queue.pop_front() {
                for effect in plan.handle(event) {
                    match effect {
                        SyncEffect::StartSession(p) => {
                            if let Some(d) = paired.get(&p) {
                                spinner.set_message(format!("syncing with {}'s {}…", d.person, d.name));
                                spawn_sync(&shared, &net, p, d.clone(), &done_tx);
                            }
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
                        spawn_answer(&shared, &net, peer, protocol, request, reply, None);
                    }
                    Some(_) => {}
                    // The network shell stopped: end here with what was received (saved).
                    None => break 'run (Finished::AddressesDone, Vec::new()),
                },
                Some((peer, r)) = done_rx.recv() => {
                    let ok = match r {
                        Ok(s) => {
                            spinner.println(s.line());
                            results.push(s);
                            broken.remove(&peer);
                            true
                        }
                        Err(e) => {
                            let who = paired.get(&peer).map_or_else(|| peer.to_string(), |d| format!("{}'s {}", d.person, d.name));
                            broken.insert(peer, format!("the session with {who} broke off: {e:#}"));
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
                    let who = paired.get(&p).map_or_else(|| p.to_string(), |d| format!("{}'s {}", d.person, d.name));
                    broken.insert(p, format!("the session with {who} broke off: no answer within {} s", a.timeout));
                }
            }
            Finished::AllSynced | Finished::AddressesDone => {}
        }
        failures.extend(broken.into_values());
        anyhow::Ok((results, failures, interrupted))
    });
    spinner.finish_and_clear();
    let (results, failures, interrupted) = results?;
    if interrupted {
        return Err(fail(
            "the sync was interrupted",
            "every change received before that is saved; run `mend sync` again to finish",
        )
        .into());
    }
    publish_keys(&shared)?;
    shared
        .lock()
        .map_err(|_| anyhow::anyhow!("the journal worker stopped"))?
        .close();
    if results.is_empty() {
        if let Some(broken) = failures.iter().rev().find(|f| f.starts_with("the session")) {
            return Err(fail(
                format!("the sync did not finish: {broken}"),
                "every change received before that is saved; make sure the other laptop is \
                 running `mend serve` (or `mend sync`), then run `mend sync` again",
            )
            .into());
        }
    }
    for f in &failures {
        eprintln!("warning: {f}");
    }
    if results.is_empty() {
        let waited = if a.net.peer.is_empty() {
            format!("within {} s", a.timeout)
        } else {
            format!("at {}", a.net.peer.join(", "))
        };
        return Err(fail(
            format!("no paired device answered {waited}"),
            "make sure the other laptop is on this network and running `mend serve` (or \
             `mend sync`), or pass --peer with its address",
        )
        .into());
    }
    if a.json {
        for s in &results {
            for w in s.rollback().into_iter().chain(s.refusal()) {
                eprintln!("warning: {w}");
            }
        }
        return render::print_json(&json!(results));
    }
    for s in &results {
        println!("{}", s.line());
        for w in s.rollback().into_iter().chain(s.refusal()) {
            eprintln!("warning: {w}");
        }
    }
    Ok(())
}

/// After a sync, publish this device's keys for reveal-together rounds that are now complete;
/// how many were published.
fn publish_keys(shared: &SharedJournal) -> Result<usize> {
    let mut a = shared
        .lock()
        .map_err(|_| anyhow::anyhow!("the journal worker stopped"))?;
    let me = a.device.secrets.person_id.clone();
    let published = mend_app::together::publish_ready(a.store()?, &me)?;
    a.release_unless_answering();
    Ok(published)
}

/// Why a serving node stopped.
enum NodeEnd {
    /// Ctrl-C, a termination signal, or the network shell ended: serve stops.
    Stopped,
    /// `mend lock` or `--lock-after`: the key is to be forgotten; serve waits for `mend unlock`.
    Locked,
}

pub fn serve(g: &Global, a: ServeArgs) -> Result<()> {
    use crate::local::agent::{handover_bytes, Agent, AgentEvent};
    use mend_app::{LockEvent, LockPlanner};
    let mut unlocked = Unlocked::new(g)?;
    let journal_id = unlocked.key_file.journal_id.0;
    let (agent_tx, mut agent_rx) = mpsc::unbounded_channel();
    let agent = Agent::start(
        unlocked.home.root(),
        journal_id,
        handover_bytes(&journal_id, &unlocked.secrets)?,
        agent_tx,
    )?;
    let rt = node::runtime()?;
    let clock = std::time::Instant::now();
    let mut lock_plan = LockPlanner::new(a.lock_after);
    loop {
        lock_plan.handle(LockEvent::Unlocked {
            at: clock.elapsed(),
        });
        let end = rt.block_on(serve_node(
            unlocked,
            &a,
            agent.as_ref(),
            &mut agent_rx,
            &mut lock_plan,
            clock,
        ));
        if let Some(agent) = &agent {
            agent.set_journal(None);
        }
        let end = end?;
        if matches!(end, NodeEnd::Stopped) {
            break;
        }
        let Some(agent) = &agent else {
            println!(
                "Locked: the key is forgotten; with no socket to unlock it through, serve stops."
            );
            break;
        };
        agent.forget();
        lock_plan.handle(LockEvent::Locked);
        println!(
            "{} Locked: the key is forgotten and syncing has stopped. `mend unlock` gives it back; until then commands ask for the passphrase.",
            chrono::Local::now().format("%H:%M:%S")
        );
        // Locked: only the local socket is served, until `mend unlock` or a stop.
        let handed = rt.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let mut ctrl_c =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
            loop {
                tokio::select! {
                    _ = ctrl_c.recv() => return anyhow::Ok(None),
                    _ = term.recv() => return Ok(None),
                    ev = agent_rx.recv() => match ev {
                        Some(AgentEvent::Unlocked(bytes)) => return Ok(Some(bytes)),
                        Some(_) => {}
                        None => return Ok(None),
                    },
                }
            }
        })?;
        let Some(bytes) = handed else {
            break;
        };
        unlocked = Unlocked::from_handover(g, &bytes)?;
        println!(
            "{} Unlocked: syncing again; commands need no passphrase.",
            chrono::Local::now().format("%H:%M:%S")
        );
    }
    drop(agent);
    println!("Stopped.");
    Ok(())
}

/// Whether another process changed the journal since serve last looked.
async fn changed_here(shared: &SharedJournal) -> Result<bool> {
    ServedJournal::with_err::<_, anyhow::Error>(shared, |a| {
        let changed = a.changed_elsewhere();
        a.close_if_idle();
        Ok(changed)
    })
    .await
}

/// Serve the journal on the network with `unlocked` until stopped or locked.
async fn serve_node(
    unlocked: Unlocked,
    a: &ServeArgs,
    agent: Option<&crate::local::agent::Agent>,
    agent_rx: &mut mpsc::UnboundedReceiver<crate::local::agent::AgentEvent>,
    lock_plan: &mut mend_app::LockPlanner,
    since: std::time::Instant,
) -> Result<NodeEnd> {
    use crate::local::agent::AgentEvent;
    use mend_app::{LockEffect, LockEvent};
    let seed = unlocked.secrets.identity_seed;
    let who = format!(
        "{} on {}",
        unlocked.secrets.person_name, unlocked.secrets.device_name
    );
    let shared = ServedJournal::new(unlocked.into_device(), crate::unlock::warn);
    if let Some(agent) = agent {
        agent.set_journal(Some(shared.clone()));
    }
    let peers = parse_addrs(&a.net.peer)?;
    let config = net_config(seed, &a.net)?;
    let mut end = NodeEnd::Stopped;
    use mend_app::{Effect, Event, ServePlanner};
    let (net, mut events) = start(config).await?;
    let (done_tx, mut done_rx) = mpsc::channel(8);
    let (answered_tx, mut answered_rx) = mpsc::unbounded_channel();
    let mut paired: HashMap<PeerId, mend_journal::Device> = ServedJournal::with(&shared, |a| {
        let p = a.paired();
        a.release_unless_answering();
        p
    })
    .await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("Serving the journal as {who}. Listening on:");
    for addr in net.listen_addrs().await? {
        println!("  {addr}/p2p/{}", net.local_peer_id);
    }
    println!("Ctrl-C stops.");
    // When to sync with whom is the planner's (mend-app); this loop only carries it out.
    let clock = tokio::time::Instant::now();
    let mut plan = ServePlanner::new(net.local_peer_id);
    let mut queue = std::collections::VecDeque::from([Event::Started {
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
                    Effect::Dial(p) => match net.dial_peer(p).await {
                        Ok(_) => queue.push_back(Event::Dialled(p)),
                        Err(_) => queue.push_back(Event::Disconnected(p)),
                    },
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
                        paired = ServedJournal::with(&shared, |a| {
                            let p = a.paired();
                            a.release_unless_answering();
                            p
                        })
                        .await?;
                        queue.push_back(Event::Paired(paired.keys().copied().collect()));
                    }
                    Effect::PublishKeys => {
                        let shared = shared.clone();
                        match tokio::task::spawn_blocking(move || publish_keys(&shared)).await? {
                            // A key published here is a change of this device's own: push it.
                            Ok(n) if n > 0 => queue.push_back(Event::LocalChange),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("publishing reveal-together keys failed: {e:#}")
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
            ev = agent_rx.recv() => match ev {
                // A command ran through serve: push what it wrote at once.
                Some(AgentEvent::Used) => {
                    lock_plan.handle(LockEvent::Used { at: since.elapsed() });
                    if changed_here(&shared).await? {
                        queue.push_back(Event::LocalChange);
                    }
                }
                // Serve wrote an entry for a command: its own change, pushed at once.
                Some(AgentEvent::Wrote) => {
                    lock_plan.handle(LockEvent::Used { at: since.elapsed() });
                    queue.push_back(Event::LocalChange);
                }
                Some(AgentEvent::Locked) => {
                    end = NodeEnd::Locked;
                    break;
                }
                Some(AgentEvent::Unlocked(_)) | None => {}
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
                    spawn_answer(&shared, &net, peer, protocol, request, reply, Some(answered_tx.clone()));
                }
                Some(NetEvent::BadInput { peer, why }) => {
                    eprintln!("note: closed a connection that sent something unreadable ({peer}): {why}");
                }
                Some(_) => {}
                None => break,
            },
            Some(peer) = answered_rx.recv() => queue.push_back(Event::Answered(peer)),
            Some((peer, r)) = done_rx.recv() => {
                match &r {
                    Ok(s) => {
                        println!("{} {}", chrono::Local::now().format("%H:%M:%S"), s.line());
                        for w in s.rollback().into_iter().chain(s.refusal()) {
                            eprintln!("warning: {w}");
                        }
                    }
                    Err(e) => {
                        tracing::info!(%peer, "sync did not complete: {e:#}");
                        let who = paired.get(&peer).map_or_else(|| peer.to_string(), |d| format!("{}'s {}", d.person, d.name));
                        println!(
                            "{} The sync with {who} did not finish ({e:#}); what arrived is saved, and it is tried again when the device is back.",
                            chrono::Local::now().format("%H:%M:%S")
                        );
                    }
                }
                queue.push_back(Event::SessionEnded { peer, ok: r.is_ok() });
            }
            _ = tokio::time::sleep_until(wake) => queue.push_back(Event::Tick(clock.elapsed())),
        }
    }
    ServedJournal::with_err::<_, anyhow::Error>(&shared, |a| {
        a.close();
        Ok(())
    })
    .await?;
    Ok(end)
}

pub fn devices(g: &Global, a: DevicesArgs) -> Result<()> {
    if let Some(DevicesAction::Remove(r)) = a.action {
        return remove_device(g, r);
    }
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.public_key_hex();
    let store = unlocked.open(LockMode::Read)?;
    let devices = store.journal(Doc::Shared).devices()?;
    let rows: Vec<_> = devices
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "person": d.person,
                "key": d.key,
                "peer_id": mend_net::peer_id_from_public_key(&d.key).map(|p| p.to_string()),
                "added_at": d.added_at.to_rfc3339(),
                "added_by": d.added_by,
                "this_device": d.key == me,
                "removed": d.removed.as_ref().map(|r| json!({
                    "at": r.at.to_rfc3339(),
                    "by": r.by,
                    "by_device": r.by_device,
                })),
            })
        })
        .collect();
    if a.json {
        return render::print_json(&json!(rows));
    }
    for d in &devices {
        println!(
            "{}{}  ({})  added {} by {}{}{}",
            d.person,
            format_args!("'s {}", d.name),
            &d.key[..16.min(d.key.len())],
            render::local(d.added_at),
            d.added_by,
            match &d.removed {
                Some(r) => format!(
                    "  REMOVED {} by {}",
                    render::local(r.at),
                    removed_by(&devices, r)
                ),
                None => String::new(),
            },
            if d.key == me { "  [this device]" } else { "" }
        );
    }
    Ok(())
}

/// Who removed a device: the person, and which of their devices.
pub fn removed_by(devices: &[mend_journal::Device], r: &mend_journal::Removal) -> String {
    match devices.iter().find(|d| d.key == r.by_device) {
        Some(d) => format!("{} (from {})", r.by, d.name),
        None => r.by.clone(),
    }
}

/// The one device `wanted` names: its name, or the start of its key or peer id.
fn find_device<'a>(
    devices: &'a [mend_journal::Device],
    wanted: &str,
) -> Result<&'a mend_journal::Device> {
    let by_name: Vec<_> = devices
        .iter()
        .filter(|d| d.name.eq_ignore_ascii_case(wanted))
        .collect();
    let found: Vec<_> = if by_name.is_empty() && wanted.len() >= 4 {
        devices
            .iter()
            .filter(|d| {
                d.key.starts_with(&wanted.to_ascii_lowercase())
                    || mend_net::peer_id_from_public_key(&d.key)
                        .is_some_and(|p| p.to_string().starts_with(wanted))
            })
            .collect()
    } else {
        by_name
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(fail(
            format!("no device of this journal is called {wanted:?}"),
            "`mend devices` lists them; give a name or the start of a key",
        )
        .into()),
        many => Err(fail(
            format!(
                "{wanted:?} names {} devices ({})",
                many.len(),
                many.iter()
                    .map(|d| format!("{}'s {} {}", d.person, d.name, &d.key[..8]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "give the start of the key instead (`mend devices` shows it)",
        )
        .into()),
    }
}

fn remove_device(g: &Global, a: RemoveDeviceArgs) -> Result<()> {
    use std::io::IsTerminal;
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.public_key_hex();
    let mut store = unlocked.open(LockMode::Write)?;
    let devices = store.journal(Doc::Shared).devices()?;
    let target = find_device(&devices, &a.device)?.clone();
    if let Some(r) = &target.removed {
        return Err(fail(
            format!(
                "{}'s {} was already removed, {} by {}",
                target.person,
                target.name,
                render::local(r.at),
                removed_by(&devices, r)
            ),
            "nothing was changed",
        )
        .into());
    }
    let this = target.key == me;
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(fail(
                "removing a device needs confirmation",
                "pass --yes to remove it without being asked",
            )
            .into());
        }
        eprint!(
            "Remove {}'s {}{}? Every device will refuse what it makes from now on. [y/N] ",
            target.person,
            target.name,
            if this { " (this laptop)" } else { "" }
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("kept {}'s {}", target.person, target.name);
            return Ok(());
        }
    }
    store.commit(Doc::Shared, |j| {
        j.remove_device(&target.key, chrono::Utc::now())
    })?;
    println!("Removed {}'s {}.", target.person, target.name);
    println!(
        "Every device of this journal refuses what it makes from now on, and its connections.\n\
         What it already holds stays on it: a removal cannot take back a copy of the journal.\n\
         The other devices learn of it at their next sync with this one (`mend sync`)."
    );
    if this {
        println!("This laptop was the one removed: it writes nothing more to the shared journal.");
    }
    Ok(())
}
