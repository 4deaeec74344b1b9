//! `mend invite` and `mend join`: pairing over `/mend/pair/1`, then the first sync.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use mend_app::pairing::{self, AdmitError, Joining};
use mend_crypto::{public_key_hex, random_bytes, DeviceSecrets, JournalId, JournalKey};
use mend_journal::{Device, Person};
use mend_net::{peer_id_from_public_key, start, NetEvent, NetHandle, PeerId, Protocol};
use mend_store::Doc;
use mend_sync::{
    InviteCode, Inviter, JoinRequest, Joiner, PairError, Refusal, Request, Response, Welcome,
};
use tokio::sync::mpsc;

use super::{answer, net_config, parse_addrs, sync_with, Answer, ServedJournal, SharedJournal};
use crate::cli::{InviteArgs, InviteFor, JoinArgs};
use crate::fail::fail;
use crate::unlock::Unlocked;

/// Wait briefly for the addresses the network listens on.
async fn listen_addrs(events: &mut mpsc::Receiver<NetEvent>, net: &NetHandle) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let NetEvent::Listening(_) = ev {
            continue;
        }
    }
    net.listen_addrs()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| format!("{a}/p2p/{}", net.local_peer_id))
        .collect()
}

/// Let a last reply leave before the network stops: wait for `peer` to hang up, or a moment.
async fn linger(events: &mut mpsc::Receiver<NetEvent>, peer: PeerId) {
    let grace = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(ev)) = tokio::time::timeout_at(grace, events.recv()).await {
        if matches!(ev, NetEvent::Disconnected(p) if p == peer) {
            break;
        }
    }
}

/// Record the joining device for the person the invite is for (`mend_app::pairing`).
fn admit(
    a: &mut ServedJournal,
    join: &JoinRequest,
    inviter: &Person,
    for_whom: InviteFor,
) -> Result<Result<Person, AdmitError>> {
    let joining = Joining {
        device_key: &join.device_key,
        device_name: &join.device_name,
        person_name: &join.person_name,
    };
    Ok(pairing::admit(
        a.store()?,
        &joining,
        inviter,
        app_invite_for(for_whom),
        Utc::now(),
    ))
}

fn app_invite_for(f: InviteFor) -> pairing::InviteFor {
    match f {
        InviteFor::Partner => pairing::InviteFor::Partner,
        InviteFor::Me => pairing::InviteFor::Me,
    }
}

/// Whose device an invite admits: what `--for` says, else the partner while the journal has one
/// person and one's own device after.
fn invite_for(people: usize, asked: Option<InviteFor>) -> Result<InviteFor> {
    match pairing::invite_for(people, asked.map(app_invite_for)) {
        Ok(pairing::InviteFor::Partner) => Ok(InviteFor::Partner),
        Ok(pairing::InviteFor::Me) => Ok(InviteFor::Me),
        Err(_) => Err(fail(
            "your partner has already joined this journal, which holds two people",
            "to add another device of yours, run `mend invite --for me`; your partner adds \
             theirs from one of their own devices",
        )
        .into()),
    }
}

pub fn invite(unlocked: Unlocked, args: InviteArgs) -> Result<()> {
    let seed = unlocked.secrets.identity_seed;
    let inviter_person = unlocked.me();
    let journal_id = unlocked.key_file.journal_id;
    let journal_key = *unlocked.secrets.journal_key.expose();
    let my_key = unlocked.secrets.public_key_hex();
    let my_device = unlocked.secrets.device_name.clone();
    let shared = ServedJournal::new(unlocked.into_device(), crate::unlock::warn);
    let timeout = Duration::from_secs(args.timeout);
    let config = net_config(seed, &args.net)?;
    let asked = args.for_whom;
    let args_yes = args.yes;
    super::runtime()?.block_on(async move {
        let (people, legacy_heads) = ServedJournal::with_err::<_, anyhow::Error>(&shared, |a| {
            let journal = a.store()?.journal(Doc::Shared);
            let heads: Vec<[u8; 32]> = journal.legacy_heads().iter().map(|h| h.0).collect();
            Ok((journal.people()?.len(), heads))
        })
        .await?;
        let for_whom = invite_for(people, asked)?;
        let (net, mut events) = start(config).await?;
        let code = InviteCode::generate()?;
        let mut inviter = Inviter::new(code.clone(), &net.local_peer_id.to_bytes());
        let addrs = listen_addrs(&mut events, &net).await;
        println!("Invite code: {}", code.as_str());
        match for_whom {
            InviteFor::Partner => println!(
                "This code adds your partner's first device: your partner joins the journal.\n\
                 On your partner's laptop, run:\n  mend join {} --name THEIR_NAME",
                code.as_str()
            ),
            InviteFor::Me => println!(
                "This code adds another device of yours ({}).\n\
                 On that device, run:\n  mend join {} --name {}",
                inviter_person.name,
                code.as_str(),
                inviter_person.name
            ),
        }
        println!("This device listens on:");
        for a in &addrs {
            println!("  {a}");
        }
        println!(
            "Waiting up to {} for one device to join (Ctrl-C to stop).",
            super::human_duration(timeout)
        );
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut hello_from: Option<PeerId> = None;
        let mut joined: Option<PeerId> = None;
        loop {
            let ev = tokio::select! {
                ev = events.recv() => ev,
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(fail(
                        format!("no device joined within {}", super::human_duration(timeout)),
                        "run `mend invite` again when the other laptop is ready",
                    ).into());
                }
                _ = ctrl_c.recv() => {
                    return Err(fail("the invite was cancelled", "run `mend invite` again when ready").into());
                }
            };
            let Some(ev) = ev else { break };
            match ev {
                NetEvent::Request { peer, protocol: Protocol::Pair, request, reply } => match request {
                    Request::PairHello { spake } => {
                        let response = match inviter.on_hello(&peer.to_bytes(), &spake) {
                            Ok(r) => {
                                hello_from = Some(peer);
                                r
                            }
                            Err(_) => Response::Refused { reason: Refusal::NoInvite },
                        };
                        let _ = reply.send(response);
                    }
                    Request::PairConfirm { mac, sealed_join } if hello_from == Some(peer) => {
                        let join = match inviter.on_confirm(&peer.to_bytes(), &mac, &sealed_join) {
                            Ok(j) => j,
                            Err(PairError::WrongCode) => {
                                let _ = reply.send(Response::Refused { reason: Refusal::WrongCode });
                                linger(&mut events, peer).await;
                                return Err(fail(
                                    "the code typed on the other device did not match; this invite is used up",
                                    "run `mend invite` again and type the new code carefully",
                                ).into());
                            }
                            Err(e) => {
                                let _ = reply.send(Response::Refused { reason: Refusal::Malformed });
                                return Err(fail(format!("pairing failed: {e}"), "run `mend invite` again").into());
                            }
                        };
                        if peer_id_from_public_key(&join.device_key) != Some(peer) {
                            let _ = reply.send(Response::Refused { reason: Refusal::Malformed });
                            return Err(fail("the joining device's key does not match its connection", "run `mend invite` again").into());
                        }
                        // Its names are about to be shown here: refuse what is no name.
                        let names = Joining {
                            device_key: &join.device_key,
                            device_name: &join.device_name,
                            person_name: &join.person_name,
                        };
                        if let Err(e) = pairing::check_names(&names) {
                            let _ = reply.send(Response::Refused { reason: Refusal::Malformed });
                            linger(&mut events, peer).await;
                            return Err(fail(format!("{e}; nothing was sent"), "run `mend invite` again").into());
                        }
                        // The journal key leaves only once this person has seen the same six
                        // digits on both screens: someone who overheard the code and joined
                        // first shows other digits than the partner's laptop.
                        let verifier = inviter.verifier().unwrap_or_default();
                        let confirmed = if args_yes {
                            true
                        } else if std::io::stdin().is_terminal() {
                            print!(
                                "A device calling itself {}'s \"{}\" has the code. Does its screen show the verifier {verifier}? [y/N] ",
                                join.person_name.trim(), join.device_name
                            );
                            let _ = std::io::Write::flush(&mut std::io::stdout());
                            tokio::task::spawn_blocking(|| {
                                let mut answer = String::new();
                                std::io::stdin().read_line(&mut answer).map(|_| matches!(answer.trim(), "y" | "Y" | "yes"))
                            })
                            .await?
                            .unwrap_or(false)
                        } else {
                            false
                        };
                        if !confirmed {
                            let _ = reply.send(Response::Refused { reason: Refusal::NotConfirmed });
                            linger(&mut events, peer).await;
                            return Err(if args_yes || std::io::stdin().is_terminal() {
                                fail(
                                    "the verifier was not confirmed: nothing was sent, and this invite is used up",
                                    "run `mend invite` again; answer y only when both screens show the same six digits",
                                )
                            } else {
                                fail(
                                    "nothing was sent: without a terminal to confirm the verifier on, `mend invite` needs --yes",
                                    "run `mend invite` in a terminal, or with --yes in a script you trust",
                                )
                            }
                            .into());
                        }
                        let by = inviter_person.clone();
                        // While its person was deciding, the device may have gone: then
                        // record nothing (it would never receive the key).
                        let mut gone = false;
                        while let Ok(ev) = events.try_recv() {
                            gone |= matches!(ev, NetEvent::Disconnected(p) if p == peer);
                        }
                        if gone {
                            return Err(fail(
                                "the device that used the code went away before pairing finished; this invite is used up",
                                "run `mend invite` again, and `mend join` with its new code",
                            )
                            .into());
                        }
                        let admitted = ServedJournal::with_err::<_, anyhow::Error>(&shared, move |a| Ok(admit(a, &join, &by, for_whom)?.map(|p| (p, join)))).await?;
                        let (person, join) = match admitted {
                            Ok(x) => x,
                            Err(AdmitError::ThirdPerson) => {
                                let _ = reply.send(Response::Refused { reason: Refusal::ThirdPerson });
                                linger(&mut events, peer).await;
                                return Err(fail(
                                    "this journal already belongs to two people",
                                    "a device can join as one of them: use the same --name as on their other device",
                                ).into());
                            }
                            Err(e) => {
                                tracing::warn!("refused a joining device: {e}");
                                let _ = reply.send(Response::Refused { reason: Refusal::Malformed });
                                linger(&mut events, peer).await;
                                return Err(fail(
                                    format!("the joining device was not added: {e}"),
                                    "nothing was added to the journal; run `mend invite` again",
                                ).into());
                            }
                        };
                        let welcome = Welcome {
                            journal_id: journal_id.0,
                            journal_key,
                            person_id: person.id.clone(),
                            person_name: person.name.clone(),
                            inviter_name: inviter_person.name.clone(),
                            inviter_device_key: my_key.clone(),
                            inviter_device_name: my_device.clone(),
                            legacy_heads: legacy_heads.clone(),
                        };
                        let _ = reply.send(inviter.welcome(&welcome)?);
                        println!(
                            "Paired with {}'s device \"{}\". Verifier: {} (check that the other screen shows the same).",
                            person.name,
                            join.device_name,
                            inviter.verifier().unwrap_or_default()
                        );
                        joined = Some(peer);
                    }
                    _ => {
                        let _ = reply.send(Response::Refused { reason: Refusal::Malformed });
                    }
                },
                NetEvent::Request { peer, protocol: Protocol::Sync, request, reply } => {
                    match answer(&shared, peer, request).await? {
                        Answer::Reply { response, finished, said, .. } => {
                            let _ = reply.send(response);
                            for line in said {
                                eprintln!("{line}");
                            }
                            if finished && joined == Some(peer) {
                                let n = ServedJournal::with_err::<_, anyhow::Error>(&shared, |a| Ok(a.store()?.journal(Doc::Shared).len())).await?;
                                linger(&mut events, peer).await;
                                println!("The new device has the journal ({n} entries). Done.");
                                return Ok(());
                            }
                        }
                        Answer::Refuse(why) => {
                            tracing::warn!(%peer, "closed a connection: {why}");
                            drop(reply);
                            let _ = net.disconnect(peer).await;
                        }
                    }
                }
                NetEvent::BadInput { peer, why } => tracing::warn!(%peer, "bad input: {why}"),
                // The device that spent the invite left before finishing: say so now, not at
                // the timeout.
                NetEvent::Disconnected(peer) if hello_from == Some(peer) && joined.is_none() => {
                    return Err(fail(
                        "the device that used the code went away before pairing finished; this invite is used up",
                        "run `mend invite` again, and `mend join` with its new code",
                    )
                    .into());
                }
                _ => {}
            }
        }
        Err(fail("the network stopped", "run `mend invite` again").into())
    })
}

/// The devices to try: given addresses, or what mDNS finds.
async fn find_inviter(
    net: &NetHandle,
    events: &mut mpsc::Receiver<NetEvent>,
    peers: &[mend_net::Multiaddr],
    tried: &[PeerId],
    deadline: tokio::time::Instant,
) -> Option<PeerId> {
    for addr in peers {
        if let Ok(p) = net.dial(addr.clone()).await {
            if !tried.contains(&p) {
                return Some(p);
            }
        }
    }
    if !peers.is_empty() {
        return None;
    }
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(NetEvent::Discovered(p))) if !tried.contains(&p) => {
                if net.dial_peer(p).await.is_ok() {
                    return Some(p);
                }
            }
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

pub fn join(
    home: mend_store::Home,
    args: JoinArgs,
    pass: mend_crypto::Passphrase,
    params: mend_crypto::KdfParams,
    name: String,
    device: String,
) -> Result<()> {
    let code = InviteCode::parse(&args.code).map_err(|e| {
        fail(
            e.to_string(),
            "type the code exactly as `mend invite` printed it",
        )
    })?;
    let peers = parse_addrs(&args.net.peer)?;
    let seed: [u8; 32] = random_bytes()?;
    let my_key = public_key_hex(&seed);
    let config = net_config(seed, &args.net)?;
    let timeout = Duration::from_secs(args.timeout);
    let started = Instant::now();
    super::runtime()?.block_on(async move {
        let (net, mut events) = start(config).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let request = JoinRequest { person_name: name.clone(), device_name: device.clone(), device_key: my_key.clone() };
        let mut tried = Vec::new();
        let (inviter_peer, welcome, verifier) = loop {
            let Some(peer) = find_inviter(&net, &mut events, &peers, &tried, deadline).await else {
                return Err(fail(
                    format!("no inviting device answered within {}", super::human_duration(timeout)),
                    "run `mend invite` on the other laptop first, on the same network, or pass --peer with the address it prints",
                ).into());
            };
            tried.push(peer);
            let (mut joiner, hello) = Joiner::start(code.clone(), &net.local_peer_id.to_bytes(), &peer.to_bytes());
            let (spake, mac) = match net.request(peer, Protocol::Pair, hello).await {
                Ok(Response::PairHello { spake, mac }) => (spake, mac),
                Ok(Response::Refused { reason: Refusal::NoInvite }) if !peers.is_empty() => {
                    return Err(fail("that device has no invite waiting (or it was used)", "run `mend invite` there again").into());
                }
                _ => continue, // not an inviting device
            };
            let confirm = match joiner.on_hello_reply(&spake, &mac, &request) {
                Ok(c) => c,
                Err(PairError::WrongCode) => {
                    let _ = net.request(peer, Protocol::Pair, Joiner::give_up()).await;
                    return Err(fail(
                        "the code does not match the inviting device's; that invite is now used up",
                        "run `mend invite` again on the other laptop and type its new code",
                    ).into());
                }
                Err(e) => return Err(fail(format!("pairing failed: {e}"), "run `mend invite` again and retry").into()),
            };
            if let Some(v) = joiner.verifier() {
                println!("Verifier: {v}. The inviting laptop asks whether its screen shows the same; waiting for it…");
            }
            match net.request(peer, Protocol::Pair, confirm).await? {
                Response::PairWelcome { sealed } => {
                    let welcome = joiner.on_welcome(&sealed)?;
                    break (peer, welcome, joiner.verifier().unwrap_or_default());
                }
                Response::Refused { reason: Refusal::ThirdPerson } => {
                    return Err(fail(
                        "this journal already belongs to two people",
                        "to add a device for one of them, join with the same --name they use",
                    ).into());
                }
                Response::Refused { reason: Refusal::NotConfirmed } => {
                    return Err(fail(
                        "the inviting laptop did not confirm this device: nothing was received",
                        "compare the six digits on both screens; run `mend invite` there again and `mend join` here with its new code",
                    ).into());
                }
                other => return Err(fail(format!("the inviting device refused: {other:?}"), "run `mend invite` again and retry").into()),
            }
        };
        let secrets = DeviceSecrets {
            journal_key: JournalKey::from_bytes(welcome.journal_key),
            identity_seed: seed,
            person_id: welcome.person_id.clone(),
            person_name: welcome.person_name.clone(),
            device_name: device.clone(),
        };
        let jid = JournalId(welcome.journal_id);
        let legacy_heads: Vec<mend_journal::ChangeHash> =
            welcome.legacy_heads.iter().map(|h| mend_journal::ChangeHash(*h)).collect();
        let inviter_name = welcome.inviter_name.clone();
        let inviter_device = Device {
            key: welcome.inviter_device_key.clone(),
            person_id: String::new(),
            person: inviter_name.clone(),
            name: welcome.inviter_device_name.clone(),
            added_at: Utc::now(),
            added_by: inviter_name.clone(),
            removed: None,
        };
        drop(welcome);
        let (home, secrets) = tokio::task::spawn_blocking(move || {
            home.join(&secrets, jid, legacy_heads, &pass, params, Utc::now()).map(|_| (home, secrets))
        })
        .await??;
        println!(
            "Joined {inviter_name}'s journal as {} on \"{device}\". Verifier: {verifier} (check that the other screen shows the same).",
            secrets.person_name
        );
        if !secrets.person_name.eq_ignore_ascii_case(name.trim()) {
            println!(
                "The invite was for another device of {}'s, so this device is {}'s; --name {} was not used.",
                secrets.person_name, secrets.person_name, name.trim()
            );
        }
        let key_file = home.read_key_file()?;
        let unlocked = Unlocked::from_parts(home, key_file, secrets);
        let shared: SharedJournal = ServedJournal::new(unlocked.into_device(), crate::unlock::warn);
        let summary = sync_with(&shared, &net, inviter_peer, inviter_device).await.map_err(|e| {
            fail(
                format!("paired, but the first sync failed: {e}"),
                "run `mend sync` with the other laptop nearby to fetch the journal",
            )
        })?;
        println!(
            "Received the journal: {} entries in {}.",
            summary.entries_received,
            super::human_duration(started.elapsed())
        );
        Ok(())
    })
}
