//! `mend invite`, `join`, `sync`, `serve` and `devices`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use mend_app::store::{Doc, LockMode};
use serde_json::json;
use tokio::sync::mpsc;

use mend_node::{net_config, parse_addrs, ServedJournal, SharedJournal};

use crate::cli::{DevicesAction, DevicesArgs, Global, RemoveDeviceArgs, ServeArgs, SyncArgs};
use crate::commands::pair::net_options;
use crate::fail::fail;
use crate::render;
use crate::unlock::Unlocked;

pub fn sync(g: &Global, a: SyncArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let seed = unlocked.secrets.identity_seed;
    let shared = ServedJournal::new(unlocked.into_device(), crate::unlock::warn);
    let paired = shared.lock().expect("fresh").paired()?;
    // Said at once, not after the timeout.
    if a.net.no_mdns
        && a.net.peer.is_empty()
        && net_options(&a.net)?.relays.is_empty()
        && mend_node::usable_relays(shared.lock().expect("fresh").relays()?).is_empty()
    {
        return Err(fail(
            "no paired device can be reached without mDNS, --peer or --relay",
            "drop --no-mdns to look on the local network, or give --peer MULTIADDR or \
             --relay MULTIADDR (or remember one: `mend relay add ADDR`)",
        )
        .into());
    }
    if paired.is_empty() {
        return Err(fail(
            "no other device is paired with this journal yet",
            "pair one: `mend invite` here, then `mend join CODE --name NAME` on the other laptop",
        )
        .into());
    }
    let peers = parse_addrs(&a.net.peer)?;
    let config = net_config(seed, &net_options(&a.net)?)?;
    let timeout = Duration::from_secs(a.timeout);
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("looking for paired devices…");
    let watcher = Arc::new(Printer {
        spinner: Some(spinner.clone()),
    });
    let outcome = mend_node::runtime()?.block_on(mend_node::sync_once(
        &shared, &paired, config, peers, timeout, watcher,
    ));
    spinner.finish_and_clear();
    let mend_node::SyncOutcome {
        results,
        failures,
        interrupted,
    } = outcome?;
    if interrupted {
        return Err(fail(
            "the sync was interrupted",
            "every change received before that is saved; run `mend sync` again to finish",
        )
        .into());
    }
    mend_node::publish_keys(&shared)?;
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
            "make sure the other laptop is running `mend serve` (or `mend sync`) on this \
             network or with the same relay, or pass --peer with its address",
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

pub fn serve(g: &Global, a: ServeArgs) -> Result<()> {
    use crate::local::agent::{handover_bytes, Agent, AgentEvent};
    use mend_app::{LockEvent, LockPlanner};
    crate::unlock::OFFER_TO_SERVE.store(false, std::sync::atomic::Ordering::SeqCst);
    let home = crate::unlock::home(g)?;
    // Started locked (at login): the journal's id is in the key file's clear header; the key
    // comes later, from the first command that gets the passphrase.
    let (mut unlocked, journal_id) = if a.locked {
        home.check_initialised()?;
        (None, home.read_key_file()?.journal_id.0)
    } else {
        let u = Unlocked::new(g)?;
        let id = u.key_file.journal_id.0;
        (Some(u), id)
    };
    let (agent_tx, mut agent_rx) = mpsc::unbounded_channel();
    let handover = match &unlocked {
        Some(u) => Some(handover_bytes(&journal_id, &u.secrets)?),
        None => None,
    };
    let agent = Agent::start(home.root(), journal_id, handover, agent_tx)?;
    if unlocked.is_none() && agent.is_none() {
        return Err(fail(
            "cannot start locked: the home's path is too long for the socket the key comes through",
            "start `mend serve` without --locked, or use a shorter --home",
        )
        .into());
    }
    let rt = mend_node::runtime()?;
    let clock = std::time::Instant::now();
    let settings = crate::commands::settings::load()?;
    let mut lock_plan = LockPlanner::new(a.lock_after.or(settings.lock_after));
    // Desktop notifications of what the partner sends, unless turned off.
    let notifier = match (a.no_notify, settings.notify) {
        (true, _) | (false, mend_app::config::Notify::Off) => None,
        (false, mode) => Some(crate::notify::Notifier::start(
            mode == mend_app::config::Notify::Full,
        )),
    };
    let mut served_before = false;
    if unlocked.is_none() {
        println!(
            "{} Serving locked: waiting for the key. The first command that asks for the \
             passphrase (or `mend unlock`) hands it over.",
            chrono::Local::now().format("%H:%M:%S")
        );
    }
    loop {
        let unlocked_now = match unlocked.take() {
            Some(u) => u,
            None => {
                // Locked: only the local socket is served, until the key comes or a stop.
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
                let u = Unlocked::from_handover(g, &bytes)?;
                println!(
                    "{} Unlocked: syncing{}; commands need no passphrase.",
                    chrono::Local::now().format("%H:%M:%S"),
                    if served_before { " again" } else { "" }
                );
                u
            }
        };
        let unlocked = unlocked_now;
        served_before = true;
        lock_plan.handle(LockEvent::Unlocked {
            at: clock.elapsed(),
        });
        let seed = unlocked.secrets.identity_seed;
        let peers = parse_addrs(&a.net.peer)?;
        let config = net_config(seed, &net_options(&a.net)?)?;
        let shared = ServedJournal::new(unlocked.into_device(), crate::unlock::warn);
        let hold = |journal: Option<SharedJournal>| {
            if let Some(agent) = &agent {
                agent.set_journal(journal);
            }
        };
        let end = rt.block_on(mend_node::serve_node(
            shared,
            config,
            peers,
            mend_node::Local {
                hold: &hold,
                events: &mut agent_rx,
            },
            &mut lock_plan,
            clock,
            Arc::new(ServePrinter {
                notifier: notifier.clone(),
            }),
        ));
        hold(None);
        let end = end?;
        if matches!(end, mend_node::NodeEnd::Stopped) {
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
            "{} Locked: the key is forgotten and syncing has stopped. `mend unlock` gives it back (after --lock-after, so does the next command that asks for the passphrase); until then commands ask for the passphrase.",
            chrono::Local::now().format("%H:%M:%S")
        );
    }
    drop(agent);
    println!("Stopped.");
    Ok(())
}

/// What the node's loops say, printed: lines on stdout (above `mend sync`'s spinner, if one
/// turns), notes and warnings on stderr.
struct Printer {
    spinner: Option<indicatif::ProgressBar>,
}

impl mend_node::Watcher for Printer {
    fn say(&self, line: &str) {
        match &self.spinner {
            Some(s) => s.println(line),
            None => println!("{line}"),
        }
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    fn doing(&self, what: &str) {
        if let Some(s) = &self.spinner {
            s.set_message(what.to_owned());
        }
    }
}

/// What serve prints, and the notifications it raises.
struct ServePrinter {
    notifier: Option<crate::notify::Notifier>,
}

impl mend_node::Watcher for ServePrinter {
    fn say(&self, line: &str) {
        println!("{line}");
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    fn notify(&self, notice: &mend_app::notices::Notice) {
        if let Some(n) = &self.notifier {
            n.send(notice);
        }
    }
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
                "peer_id": mend_node::peer_id_of(&d.key),
                "added_at": d.added_at.to_rfc3339(),
                "added_by": d.added_by,
                "this_device": d.key == me,
                "removed": d.removed.as_ref().map(|r| json!({
                    "at": r.at.to_rfc3339(),
                    "by": r.by,
                    "by_device": r.by_device,
                    "uncoupled": r.uncoupled,
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
                    "  {} {} by {}",
                    if r.uncoupled { "UNCOUPLED" } else { "REMOVED" },
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
pub fn removed_by(devices: &[mend_app::model::Device], r: &mend_app::model::Removal) -> String {
    match devices.iter().find(|d| d.key == r.by_device) {
        Some(d) => format!("{} (from {})", r.by, d.name),
        None => r.by.clone(),
    }
}

/// The one device `wanted` names: its name, or the start of its key or peer id.
fn find_device<'a>(
    devices: &'a [mend_app::model::Device],
    wanted: &str,
) -> Result<&'a mend_app::model::Device> {
    let by_name: Vec<_> = devices
        .iter()
        .filter(|d| d.name.eq_ignore_ascii_case(wanted))
        .collect();
    let found: Vec<_> = if by_name.is_empty() && wanted.len() >= 4 {
        devices
            .iter()
            .filter(|d| {
                d.key.starts_with(&wanted.to_ascii_lowercase())
                    || mend_node::peer_id_of(&d.key).is_some_and(|p| p.starts_with(wanted))
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

/// `mend relay`: run a relay until stopped. It needs no journal: its identity is kept in the
/// home (`relay.key`), so its address stays the same.
pub fn relay(g: &Global, a: crate::cli::RelayArgs) -> Result<()> {
    let home = crate::unlock::home(g)?;
    // Checked before anything is started or written.
    mend_node::parse_addrs(&a.listen)?;
    mend_node::parse_addrs(&a.external)?;
    mend_node::relay::parse_peer_ids(&a.allow)?;
    let watcher = Arc::new(Printer { spinner: None });
    mend_node::runtime()?.block_on(mend_node::relay::run_relay(
        home.root(),
        &a.listen,
        &a.external,
        &a.allow,
        watcher,
    ))?;
    Ok(())
}

pub fn uncouple(g: &Global, a: crate::cli::UncoupleArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let mut store = unlocked.open(LockMode::Write)?;
    let me = unlocked.secrets.person_id.clone();
    let devices = store.journal(Doc::Shared).devices()?;
    if let Some(r) = devices
        .iter()
        .find_map(|d| d.removed.as_ref().filter(|r| r.uncoupled))
    {
        return Err(fail(
            format!(
                "the partnership already ended {}, uncoupled by {}",
                render::local(r.at),
                removed_by(&devices, r)
            ),
            "nothing was changed",
        )
        .into());
    }
    let theirs: Vec<_> = devices
        .iter()
        .filter(|d| d.person_id != me && d.removed.is_none())
        .collect();
    let Some(partner) = theirs.first().map(|d| d.person.clone()) else {
        return Err(fail(
            "no device of another person is paired with this journal",
            "there is no partnership to end; `mend devices` lists the devices",
        )
        .into());
    };
    let question = format!(
        "End the partnership with {partner}? This laptop and your other devices will stop \
         syncing with {partner}'s ({}), and refuse what they make from now on. You keep the \
         journal as it is.",
        theirs
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !confirmed(a.yes, &question, "ending the partnership", "end it")? {
        println!("nothing was changed: the partnership with {partner} goes on");
        return Ok(());
    }
    let removed = mend_app::actions::uncouple(&mut store, chrono::Utc::now())?;
    let epoch = store.journal_key_epoch();
    println!(
        "Uncoupled: the partnership with {partner} has ended. Removed {}.",
        removed
            .iter()
            .map(|d| format!("{}'s {}", d.person, d.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "This laptop keeps the journal as it is and no longer syncs with {partner}'s devices; \
         your other devices do the same at their next sync with this one.\n\
         {partner}'s laptops keep the copy they already had: uncoupling cannot take it back.\n\
         What this laptop writes from now on is sealed under a new key (epoch {epoch}) that \
         {partner}'s devices never had."
    );
    Ok(())
}

/// Whether the person agrees to `question`: yes at once with `--yes`; else asked on the
/// terminal (`[y/N]`). Without a terminal, `doing` "needs confirmation" and the hint says to
/// pass --yes to `verb` without being asked.
fn confirmed(yes: bool, question: &str, doing: &str, verb: &str) -> Result<bool> {
    use std::io::IsTerminal;
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            format!("{doing} needs confirmation"),
            format!("pass --yes to {verb} without being asked"),
        )
        .into());
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn remove_device(g: &Global, a: RemoveDeviceArgs) -> Result<()> {
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
    let question = format!(
        "Remove {}'s {}{}? Every device will refuse what it makes from now on.",
        target.person,
        target.name,
        if this { " (this laptop)" } else { "" }
    );
    if !confirmed(a.yes, &question, "removing a device", "remove it")? {
        println!("kept {}'s {}", target.person, target.name);
        return Ok(());
    }
    mend_app::actions::remove_device(&mut store, &target.key, chrono::Utc::now())?;
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
