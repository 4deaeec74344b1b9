//! Pairing over `/mend/pair/1`: [`invite`] (this device admits one joining device, once its
//! person has confirmed the verifier) and [`join`] (a new home joins a journal), each followed
//! by the first sync. The rules (whose device an invite admits, which names are names, who
//! may be added) are `mend_app::pairing`'s; the key exchange is `mend_sync`'s; this runs them
//! over the network. What a person sees goes to a [`PairWatcher`]; every way pairing can fail
//! is a [`PairingFailed`].

use std::time::{Duration, Instant};

use chrono::Utc;
use mend_app::pairing::{self, AdmitError, InviteFor, Joining};
use mend_app::Device;
use mend_crypto::{public_key_hex, random_bytes, DeviceSecrets, JournalId, JournalKey};
use mend_journal::Person;
use mend_net::{
    peer_id_from_public_key, start, Multiaddr, NetError, NetEvent, NetHandle, PeerId, Protocol,
};
use mend_store::{Doc, Home};
use mend_sync::{
    InviteCode, Inviter, JoinRequest, Joiner, PairError, Refusal, Request, Response, Welcome,
};
use tokio::sync::mpsc;

use crate::net::{net_config, parse_addrs, NetOptions};
use crate::{answer, human_duration, sync_with, Answer, NodeError, ServedJournal};

/// Every way pairing ends without a paired device. The line says what happened; the front end
/// adds what to do next.
#[derive(Debug, thiserror::Error)]
pub enum PairingFailed {
    #[error("this device has not received the journal yet")]
    NoJournalYet,
    #[error("your partner has already joined this journal, which holds two people")]
    PartnerAlreadyJoined,
    #[error("no device joined within {0}")]
    NoneJoined(String),
    #[error("the invite was cancelled")]
    Cancelled,
    #[error("the code typed on the other device did not match; this invite is used up")]
    CodeMismatchThere,
    #[error("pairing failed: {0}")]
    Protocol(String),
    #[error("the joining device's key does not match its connection")]
    KeyMismatch,
    #[error("{0}; nothing was sent")]
    BadNames(String),
    #[error("the verifier was not confirmed: nothing was sent, and this invite is used up")]
    NotConfirmed,
    #[error(
        "nothing was sent: without a terminal to confirm the verifier on, `mend invite` needs --yes"
    )]
    CannotConfirm,
    #[error(
        "the device that used the code went away before pairing finished; this invite is used up"
    )]
    Gone,
    /// Said on the inviting side: the journal has two people and the device is a third's.
    #[error("this journal already belongs to two people")]
    ThirdPerson,
    #[error("the joining device was not added: {0}")]
    NotAdded(String),
    #[error("the network stopped")]
    NetworkStopped,
    #[error("{0}")]
    BadCode(String),
    #[error("no inviting device answered within {0}")]
    NoInviter(String),
    /// Every address given with `--peer` failed to connect: where, and why.
    #[error("cannot reach {0}")]
    Unreachable(String),
    #[error("that device has no invite waiting (or it was used)")]
    NoInviteThere,
    #[error("the code does not match the inviting device's; that invite is now used up")]
    CodeMismatchHere,
    /// Said on the joining side: the inviting device refused a third person.
    #[error("this journal already belongs to two people")]
    RefusedThirdPerson,
    #[error("the inviting laptop did not confirm this device: nothing was received")]
    NotConfirmedThere,
    #[error("the inviting device refused: {0}")]
    Refused(String),
    #[error("paired, but the first sync failed: {0}")]
    FirstSync(String),
}

impl From<PairError> for PairingFailed {
    fn from(e: PairError) -> Self {
        PairingFailed::Protocol(e.to_string())
    }
}

impl From<PairError> for NodeError {
    fn from(e: PairError) -> Self {
        PairingFailed::from(e).into()
    }
}

impl From<PairingFailed> for NodeError {
    fn from(p: PairingFailed) -> Self {
        NodeError::Pairing(Box::new(p))
    }
}

/// What an invite is waiting with, for its person to pass on.
#[derive(Debug, Clone)]
pub struct Inviting {
    pub code: String,
    pub for_whom: InviteFor,
    /// The inviting person's name.
    pub inviter: String,
    /// The addresses this device listens on, with its peer id.
    pub addrs: Vec<String>,
    pub timeout: Duration,
}

/// A device that has the code and is about to receive the journal key.
#[derive(Debug, Clone)]
pub struct ToConfirm {
    pub person: String,
    pub device: String,
    pub verifier: String,
}

/// How a join ended well.
#[derive(Debug, Clone)]
pub struct Joined {
    pub inviter: String,
    /// The person this device belongs to (the invite's, which may not be the name given).
    pub person: String,
    pub device: String,
    pub verifier: String,
    /// The name given that was not used, when the invite was for another device of someone's.
    pub name_not_used: Option<String>,
}

/// What a person sees of pairing.
pub trait PairWatcher: Send + Sync {
    /// The invite is open: show the code and how to use it.
    fn inviting(&self, _invite: &Inviting) {}
    /// Ask whether the joining device's screen shows the same verifier. `None`: there is no
    /// one to ask (nothing is sent then).
    fn confirm(&self, _joining: &ToConfirm) -> Option<bool> {
        None
    }
    /// The joining device was admitted and has the key.
    fn paired(&self, _person: &str, _device: &str, _verifier: &str) {}
    /// The verifier on the joining side, while the inviting side is asked.
    fn verifier(&self, _verifier: &str) {}
    /// This device joined; the first sync starts.
    fn joined(&self, _joined: &Joined) {}
    /// A note (stderr).
    fn note(&self, _line: &str) {}
}

/// How long an invite waits for its relays' reservations before it shows its addresses.
const RESERVE_WITHIN: Duration = Duration::from_secs(5);

/// Wait briefly for the addresses the network listens on (and, with relays, for a reservation
/// on each, or [`RESERVE_WITHIN`]).
async fn listen_addrs(
    events: &mut mpsc::Receiver<NetEvent>,
    net: &NetHandle,
    relays: usize,
    watcher: &dyn PairWatcher,
) -> Vec<String> {
    let started = tokio::time::Instant::now();
    let mut deadline = started + Duration::from_millis(500);
    if relays > 0 {
        deadline = started + RESERVE_WITHIN;
    }
    let mut reached = 0;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.recv()).await {
        match ev {
            NetEvent::Reachable(_) => {
                reached += 1;
                if reached >= relays {
                    break;
                }
            }
            NetEvent::Unreachable { relay, why } => {
                watcher.note(&format!("note: the relay {relay} cannot be used: {why}"));
            }
            _ => {}
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

/// How `mend invite` runs.
#[derive(Debug, Clone)]
pub struct InviteOptions {
    /// Whose device to admit; `None`: the partner while the journal has one person, else one's
    /// own.
    pub for_whom: Option<InviteFor>,
    pub timeout: Duration,
    /// Send the key without asking whether both screens show the same verifier.
    pub yes: bool,
    pub net: NetOptions,
}

/// What the inviting device knows of itself.
struct Me {
    person: Person,
    journal_id: JournalId,
    journal_key: [u8; 32],
    key: String,
    device: String,
}

/// Invite one device and hand it the journal: returns how many entries it then holds. Ends at
/// Ctrl-C ([`PairingFailed::Cancelled`]) or after `timeout`.
pub async fn invite(
    device: Device,
    warn: fn(&[String]),
    opts: InviteOptions,
    watcher: &dyn PairWatcher,
) -> Result<usize, NodeError> {
    let seed = device.secrets.identity_seed;
    let me = Me {
        person: device.me(),
        journal_id: device.key_file.journal_id,
        journal_key: *device.secrets.journal_key.expose(),
        key: device.secrets.public_key_hex(),
        device: device.secrets.device_name.clone(),
    };
    let mut config = net_config(seed, &opts.net)?;
    config.pairing = mend_net::Pairing::Inviting;
    let shared = ServedJournal::new(device, warn);
    let me_id = me.person.id.clone();
    let (people, legacy_heads, partner_lost) = ServedJournal::with(&shared, move |a| {
        let journal = a.store()?.journal(Doc::Shared);
        let heads: Vec<[u8; 32]> = journal.legacy_heads().iter().map(|h| h.0).collect();
        let lost = pairing::lost_partner(journal, &me_id)
            .ok()
            .flatten()
            .is_some();
        Ok((journal.people()?.len(), heads, lost))
    })
    .await?;
    // Only a device that holds the journal can hand it on.
    if people == 0 {
        return Err(PairingFailed::NoJournalYet.into());
    }
    let for_whom = pairing::invite_for(people, opts.for_whom, partner_lost)
        .map_err(|_| PairingFailed::PartnerAlreadyJoined)?;
    // A device elsewhere joins through the relays: a reservation on each.
    crate::loops::add_remembered_relays(&shared, &mut config).await?;
    let relays = config.relays.len();
    config.reserve = relays > 0;
    let (net, mut events) = start(config).await?;
    let code = InviteCode::generate()?;
    let mut inviter = Inviter::new(code.clone(), &net.local_peer_id.to_bytes());
    let addrs = listen_addrs(&mut events, &net, relays, watcher).await;
    watcher.inviting(&Inviting {
        code: code.as_str().to_owned(),
        for_whom,
        inviter: me.person.name.clone(),
        addrs,
        timeout: opts.timeout,
    });
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let mut ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut hello_from: Option<PeerId> = None;
    let mut joined: Option<PeerId> = None;
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::time::sleep_until(deadline) => {
                return Err(PairingFailed::NoneJoined(human_duration(opts.timeout)).into());
            }
            _ = ctrl_c.recv() => return Err(PairingFailed::Cancelled.into()),
        };
        let Some(ev) = ev else { break };
        match ev {
            NetEvent::Request {
                peer,
                protocol: Protocol::Pair,
                request,
                reply,
            } => match request {
                Request::PairHello { spake } => {
                    let response = match inviter.on_hello(&peer.to_bytes(), &spake) {
                        Ok(r) => {
                            hello_from = Some(peer);
                            r
                        }
                        Err(_) => Response::Refused {
                            reason: Refusal::NoInvite,
                        },
                    };
                    let _ = reply.send(response);
                }
                Request::PairConfirm { mac, sealed_join } if hello_from == Some(peer) => {
                    let refuse = |reason| Response::Refused { reason };
                    let join = match inviter.on_confirm(&peer.to_bytes(), &mac, &sealed_join) {
                        Ok(j) => j,
                        Err(PairError::WrongCode) => {
                            let _ = reply.send(refuse(Refusal::WrongCode));
                            linger(&mut events, peer).await;
                            return Err(PairingFailed::CodeMismatchThere.into());
                        }
                        Err(e) => {
                            let _ = reply.send(refuse(Refusal::Malformed));
                            return Err(PairingFailed::Protocol(e.to_string()).into());
                        }
                    };
                    if peer_id_from_public_key(&join.device_key) != Some(peer) {
                        let _ = reply.send(refuse(Refusal::Malformed));
                        return Err(PairingFailed::KeyMismatch.into());
                    }
                    // Its names are about to be shown here: refuse what is no name.
                    let names = Joining {
                        device_key: &join.device_key,
                        device_name: &join.device_name,
                        person_name: &join.person_name,
                    };
                    if let Err(e) = pairing::check_names(&names) {
                        let _ = reply.send(refuse(Refusal::Malformed));
                        linger(&mut events, peer).await;
                        return Err(PairingFailed::BadNames(e.to_string()).into());
                    }
                    // The journal key leaves only once this person has seen the same six
                    // digits on both screens: someone who overheard the code and joined first
                    // shows other digits than the partner's laptop.
                    let verifier = inviter.verifier().unwrap_or_default();
                    let confirmed = if opts.yes {
                        Some(true)
                    } else {
                        let asked = ToConfirm {
                            person: join.person_name.trim().to_owned(),
                            device: join.device_name.clone(),
                            verifier: verifier.clone(),
                        };
                        tokio::task::block_in_place(|| watcher.confirm(&asked))
                    };
                    match confirmed {
                        Some(true) => {}
                        Some(false) => {
                            let _ = reply.send(refuse(Refusal::NotConfirmed));
                            linger(&mut events, peer).await;
                            return Err(PairingFailed::NotConfirmed.into());
                        }
                        None => {
                            let _ = reply.send(refuse(Refusal::NotConfirmed));
                            linger(&mut events, peer).await;
                            return Err(PairingFailed::CannotConfirm.into());
                        }
                    }
                    // While its person was deciding, the device may have gone: then record
                    // nothing (it would never receive the key).
                    let mut gone = false;
                    while let Ok(ev) = events.try_recv() {
                        gone |= matches!(ev, NetEvent::Disconnected(p) if p == peer);
                    }
                    if gone {
                        return Err(PairingFailed::Gone.into());
                    }
                    let by = me.person.clone();
                    let admitted = ServedJournal::with(&shared, move |a| {
                        let joining = Joining {
                            device_key: &join.device_key,
                            device_name: &join.device_name,
                            person_name: &join.person_name,
                        };
                        let admitted =
                            pairing::admit(a.store()?, &joining, &by, for_whom, Utc::now());
                        Ok(admitted.map(|p| (p, join)))
                    })
                    .await?;
                    let (person, join) = match admitted {
                        Ok(x) => x,
                        Err(AdmitError::ThirdPerson) => {
                            let _ = reply.send(refuse(Refusal::ThirdPerson));
                            linger(&mut events, peer).await;
                            return Err(PairingFailed::ThirdPerson.into());
                        }
                        Err(e) => {
                            tracing::warn!("refused a joining device: {e}");
                            let _ = reply.send(refuse(Refusal::Malformed));
                            linger(&mut events, peer).await;
                            return Err(PairingFailed::NotAdded(e.to_string()).into());
                        }
                    };
                    let welcome = Welcome {
                        journal_id: me.journal_id.0,
                        journal_key: me.journal_key,
                        person_id: person.id.clone(),
                        person_name: person.name.clone(),
                        inviter_name: me.person.name.clone(),
                        inviter_device_key: me.key.clone(),
                        inviter_device_name: me.device.clone(),
                        legacy_heads: legacy_heads.clone(),
                    };
                    let _ = reply.send(inviter.welcome(&welcome)?);
                    watcher.paired(&person.name, &join.device_name, &verifier);
                    joined = Some(peer);
                }
                _ => {
                    let _ = reply.send(Response::Refused {
                        reason: Refusal::Malformed,
                    });
                }
            },
            NetEvent::Request {
                peer,
                protocol: Protocol::Sync,
                request,
                reply,
            } => match answer(&shared, peer, request).await? {
                Answer::Reply {
                    response,
                    finished,
                    said,
                    ..
                } => {
                    let _ = reply.send(response);
                    for line in said {
                        watcher.note(&line);
                    }
                    if finished && joined == Some(peer) {
                        let n = ServedJournal::with(&shared, |a| {
                            Ok(a.store()?.journal(Doc::Shared).len())
                        })
                        .await?;
                        linger(&mut events, peer).await;
                        return Ok(n);
                    }
                }
                Answer::Refuse(why) => {
                    tracing::warn!(%peer, "closed a connection: {why}");
                    drop(reply);
                    let _ = net.disconnect(peer).await;
                }
            },
            NetEvent::BadInput { peer, why } => tracing::warn!(%peer, "bad input: {why}"),
            // The device that spent the invite left before finishing: say so now, not at the
            // timeout.
            NetEvent::Disconnected(peer) if hello_from == Some(peer) && joined.is_none() => {
                return Err(PairingFailed::Gone.into());
            }
            _ => {}
        }
    }
    Err(PairingFailed::NetworkStopped.into())
}

/// The devices to try: given addresses, or what mDNS finds.
async fn find_inviter(
    net: &NetHandle,
    events: &mut mpsc::Receiver<NetEvent>,
    peers: &[Multiaddr],
    tried: &[PeerId],
    deadline: tokio::time::Instant,
) -> Result<Option<PeerId>, PairingFailed> {
    let mut failed = Vec::new();
    for addr in peers {
        match net.dial(addr.clone()).await {
            Ok(p) if !tried.contains(&p) => return Ok(Some(p)),
            Ok(_) => {}
            Err(NetError::Dial { why, .. }) => failed.push(format!("{addr}: {why}")),
            Err(e) => failed.push(format!("{addr}: {e}")),
        }
    }
    if !peers.is_empty() {
        // Said at once, and as it is: not as a wait for an answer that never could come.
        if failed.len() == peers.len() {
            return Err(PairingFailed::Unreachable(failed.join("; ")));
        }
        return Ok(None);
    }
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(NetEvent::Discovered(p))) if !tried.contains(&p) => {
                if net.dial_peer(p).await.is_ok() {
                    return Ok(Some(p));
                }
            }
            Ok(Some(_)) => {}
            _ => return Ok(None),
        }
    }
}

/// How `mend join` runs.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// The invite code as typed.
    pub code: String,
    /// The person's name and this device's, both already checked.
    pub name: String,
    pub device: String,
    pub timeout: Duration,
    pub net: NetOptions,
}

/// Check a join's code and addresses before anything else is asked (the passphrase).
pub fn check_join(code: &str, net: &NetOptions) -> Result<(), NodeError> {
    InviteCode::parse(code).map_err(|e| PairingFailed::BadCode(e.to_string()))?;
    join_addrs(net)?;
    Ok(())
}

/// The addresses a join dials: each `--peer`; one given only as `/p2p/<id>` (the inviting
/// device's id, as `mend invite` prints it) is reached through each `--relay`.
fn join_addrs(net: &NetOptions) -> Result<Vec<Multiaddr>, NodeError> {
    let relays = crate::net::parse_relays(&net.relays)?;
    let mut out = Vec::new();
    for addr in parse_addrs(&net.peers)? {
        let only_id = matches!(
            addr.iter().collect::<Vec<_>>().as_slice(),
            [mend_net::multiaddr::Protocol::P2p(_)]
        );
        if only_id && !relays.is_empty() {
            for relay in &relays {
                let mut through = relay.clone();
                through.push(mend_net::multiaddr::Protocol::P2pCircuit);
                out.extend(std::iter::once(through).map(|t| {
                    addr.iter().fold(t, |mut a, p| {
                        a.push(p);
                        a
                    })
                }));
            }
        } else {
            out.push(addr);
        }
    }
    Ok(out)
}

/// How a join's first sync went.
#[derive(Debug, Clone)]
pub struct JoinOutcome {
    pub entries_received: usize,
    pub elapsed: Duration,
}

/// Join the journal whose invite `opts.code` is, on `home` (which must hold none), its key file
/// sealed under `pass` with `params`; then fetch the journal.
pub async fn join(
    home: Home,
    opts: JoinOptions,
    pass: mend_crypto::Passphrase,
    params: mend_crypto::KdfParams,
    warn: fn(&[String]),
    watcher: &dyn PairWatcher,
) -> Result<JoinOutcome, NodeError> {
    let started = Instant::now();
    let code = InviteCode::parse(&opts.code).map_err(|e| PairingFailed::BadCode(e.to_string()))?;
    let peers = join_addrs(&opts.net)?;
    let seed: [u8; 32] = random_bytes()?;
    let my_key = public_key_hex(&seed);
    let mut config = net_config(seed, &opts.net)?;
    config.pairing = mend_net::Pairing::Joining;
    let (net, mut events) = start(config).await?;
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let request = JoinRequest {
        person_name: opts.name.clone(),
        device_name: opts.device.clone(),
        device_key: my_key.clone(),
    };
    let mut tried = Vec::new();
    let (inviter_peer, welcome, verifier) = loop {
        let Some(peer) = find_inviter(&net, &mut events, &peers, &tried, deadline).await? else {
            return Err(PairingFailed::NoInviter(human_duration(opts.timeout)).into());
        };
        tried.push(peer);
        let (mut joiner, hello) = Joiner::start(
            code.clone(),
            &net.local_peer_id.to_bytes(),
            &peer.to_bytes(),
        );
        let (spake, mac) = match net.request(peer, Protocol::Pair, hello).await {
            Ok(Response::PairHello { spake, mac }) => (spake, mac),
            Ok(Response::Refused {
                reason: Refusal::NoInvite,
            }) if !peers.is_empty() => return Err(PairingFailed::NoInviteThere.into()),
            _ => continue, // not an inviting device
        };
        let confirm = match joiner.on_hello_reply(&spake, &mac, &request) {
            Ok(c) => c,
            Err(PairError::WrongCode) => {
                let _ = net.request(peer, Protocol::Pair, Joiner::give_up()).await;
                return Err(PairingFailed::CodeMismatchHere.into());
            }
            Err(e) => return Err(PairingFailed::Protocol(e.to_string()).into()),
        };
        if let Some(v) = joiner.verifier() {
            watcher.verifier(&v);
        }
        match net.request(peer, Protocol::Pair, confirm).await? {
            Response::PairWelcome { sealed } => {
                let welcome = joiner.on_welcome(&sealed)?;
                break (peer, welcome, joiner.verifier().unwrap_or_default());
            }
            Response::Refused {
                reason: Refusal::ThirdPerson,
            } => return Err(PairingFailed::RefusedThirdPerson.into()),
            Response::Refused {
                reason: Refusal::NotConfirmed,
            } => return Err(PairingFailed::NotConfirmedThere.into()),
            other => return Err(PairingFailed::Refused(format!("{other:?}")).into()),
        }
    };
    // The names about to be shown here came from the other device: they must be names.
    for name in [
        &welcome.person_name,
        &welcome.inviter_name,
        &welcome.inviter_device_name,
    ] {
        if !mend_journal::valid_name(name) {
            return Err(PairingFailed::Protocol(
                "the inviting device sent a name that is not one (empty, too long, or with \
                 control characters); nothing was kept"
                    .into(),
            )
            .into());
        }
    }
    let secrets = DeviceSecrets {
        journal_key: JournalKey::from_bytes(welcome.journal_key),
        identity_seed: seed,
        person_id: welcome.person_id.clone(),
        person_name: welcome.person_name.clone(),
        device_name: opts.device.clone(),
    };
    let jid = JournalId(welcome.journal_id);
    let legacy_heads: Vec<mend_journal::ChangeHash> = welcome
        .legacy_heads
        .iter()
        .map(|h| mend_journal::ChangeHash(*h))
        .collect();
    let inviter_name = welcome.inviter_name.clone();
    let inviter_device = mend_journal::Device {
        key: welcome.inviter_device_key.clone(),
        person_id: String::new(),
        person: inviter_name.clone(),
        name: welcome.inviter_device_name.clone(),
        added_at: Utc::now(),
        added_by: inviter_name.clone(),
        removed: None,
    };
    drop(welcome);
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "join: welcomed");
    let (home, secrets) = tokio::task::spawn_blocking(move || {
        home.join(&secrets, jid, legacy_heads, &pass, params, Utc::now())
            .map(|_| (home, secrets))
    })
    .await
    .map_err(|_| NodeError::WorkerStopped)??;
    let joined = Joined {
        inviter: inviter_name,
        person: secrets.person_name.clone(),
        device: opts.device.clone(),
        verifier,
        name_not_used: (!secrets.person_name.eq_ignore_ascii_case(opts.name.trim()))
            .then(|| opts.name.trim().to_owned()),
    };
    watcher.joined(&joined);
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "join: home written"
    );
    let key_file = home.read_key_file()?;
    let shared = ServedJournal::new(Device::from_parts(home, key_file, secrets), warn);
    let summary = sync_with(&shared, &net, inviter_peer, inviter_device)
        .await
        .map_err(|e| PairingFailed::FirstSync(e.to_string()))?;
    Ok(JoinOutcome {
        entries_received: summary.entries_received,
        elapsed: started.elapsed(),
    })
}
