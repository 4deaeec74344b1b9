//! Two (or three) devices over loopback with `--peer`: pairing, sync, serve.

use std::time::Duration;

use crate::stranger;
use crate::util::{pair, pair_own, start_invite, Background, Device, LOOPBACK};

fn verifier(text: &str) -> String {
    let at = text.find("Verifier: ").expect("a verifier");
    text[at + 10..at + 17].to_owned()
}

fn shared_entries(d: &Device) -> Vec<serde_json::Value> {
    let mut v: Vec<_> = d
        .list_json(&[])
        .into_iter()
        .filter(|e| e["private"] == false)
        .collect();
    v.sort_by_key(|e| e["id"].as_str().unwrap().to_owned());
    v
}

#[test]
fn pair_then_write_apart_then_sync_through_serve() {
    let a = Device::new("Alex");
    a.write(&["--tag", "trust", "Before Sam joined"]);
    a.write(&["--private", "Alex's private draft"]);
    let b = Device::uninitialised();
    let (invited, joined) = pair(&a, &b, "Sam");
    assert_eq!(
        verifier(&invited),
        verifier(&joined),
        "both sides show the same verifier"
    );
    assert!(
        joined.contains("Received the journal: 1 entry in"),
        "{joined}"
    );
    assert_eq!(shared_entries(&b), shared_entries(&a));
    let devices: Vec<serde_json::Value> =
        serde_json::from_str(&b.ok(&["devices", "--json"])).unwrap();
    assert_eq!(devices.len(), 2);
    assert!(devices
        .iter()
        .any(|d| d["person"] == "Sam" && d["this_device"] == true));

    // Both write while apart; Sam also keeps a private draft.
    b.write(&["Sam, offline"]);
    b.write(&["--private", "Sam's private draft"]);
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    a.write(&["Alex, while serving"]);
    let out = b.ok(&["sync", "--peer", &addr, "--json", "--timeout", "30"]);
    let summary: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(summary[0]["person"], "Alex");
    assert_eq!(summary[0]["entries_received"], 1);
    assert_eq!(summary[0]["entries_sent"], 1);
    assert_eq!(shared_entries(&b), shared_entries(&a));
    assert_eq!(shared_entries(&a).len(), 3);
    // Private drafts never leave their device.
    let a_all = a.ok(&["list"]);
    let b_all = b.ok(&["list"]);
    assert!(a_all.contains("Alex's private draft") && !a_all.contains("Sam's private draft"));
    assert!(b_all.contains("Sam's private draft") && !b_all.contains("Alex's private draft"));
    // A second sync with nothing new is cheap.
    let out = b.ok(&["sync", "--peer", &addr, "--json"]);
    let summary: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(summary[0]["entries_received"], 0);
    assert!(
        summary[0]["bytes_sent"].as_u64().unwrap() + summary[0]["bytes_received"].as_u64().unwrap()
            < 4000
    );
    let (ok, served) = serve.terminate();
    assert!(ok && served.contains("Stopped."), "{served}");
}

#[test]
fn a_wrong_code_fails_on_both_sides_and_creates_nothing() {
    let a = Device::new("Alex");
    a.write(&["Written before anyone tried to join"]);
    let before = a.snapshot_files();
    let b = Device::uninitialised();
    let (invite, code, addr) = start_invite(&a);
    let wrong = if code.starts_with("1-") {
        "2-abandon-ability-able"
    } else {
        "1-abandon-ability-able"
    };
    let err = b.fails(&["join", wrong, "--name", "Sam", "--peer", &addr]);
    assert!(err.contains("does not match"), "{err}");
    let (ok, out) = invite.finish();
    assert!(!ok && out.contains("did not match"), "{out}");
    assert!(
        !b.home().exists(),
        "nothing was created on the joining side"
    );
    // The invite is spent: the right code no longer works either.
    assert!(b
        .fails(&[
            "join",
            &code,
            "--name",
            "Sam",
            "--peer",
            &addr,
            "--timeout",
            "5"
        ])
        .contains("error"));
    // The inviting side's journal is exactly as it was.
    assert_eq!(a.snapshot_files(), before);
}

#[test]
fn concurrent_edits_on_two_devices_of_one_person_keep_both() {
    let a = Device::new("Alex");
    let id = a.write(&["The original words"]);
    let b = Device::uninitialised();
    pair_own(&a, &b, "Alex");
    let devices: Vec<serde_json::Value> =
        serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
    assert_eq!(
        devices.iter().filter(|d| d["person"] == "Alex").count(),
        2,
        "a second device for Alex"
    );
    a.ok(&["edit", &id, "--text", "Edited on the laptop"]);
    b.ok(&["edit", &id, "--text", "Edited on the desktop"]);
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    b.ok(&["sync", "--peer", &addr]);
    for d in [&a, &b] {
        let e: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", &id])).unwrap();
        assert_eq!(e["conflict"], true);
        let mut both = vec![
            e["text"].as_str().unwrap().to_owned(),
            e["conflicting_texts"][0].as_str().unwrap().to_owned(),
        ];
        both.sort();
        assert_eq!(both, vec!["Edited on the desktop", "Edited on the laptop"]);
        assert!(d
            .ok(&["show", &id])
            .contains("edited on two devices at once"));
    }
    serve.terminate();
}

#[test]
fn a_third_person_is_refused_and_the_inviter_decides_whose_device_joins() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    // An invite for a partner, once the partner has joined, is refused before any code.
    let err = a.fails(&["invite", "--for", "partner", "--no-mdns", "--timeout", "5"]);
    assert!(err.contains("already joined"), "{err}");
    // A plain invite is now for another of Alex's devices, whatever name the joiner gives.
    let c = Device::uninitialised();
    let (invite, code, addr) = start_invite(&a);
    let joined = c.ok(&["join", &code, "--name", "Chris", "--peer", &addr]);
    assert!(joined.contains("as Alex"), "{joined}");
    let (ok, invited) = invite.finish();
    assert!(
        ok && invited.contains("another device of yours"),
        "{invited}"
    );
    let status = a.ok(&["status", "--json"]);
    let people: serde_json::Value =
        serde_json::from_str::<serde_json::Value>(&status).unwrap()["people"].clone();
    assert_eq!(people.as_array().unwrap().len(), 2, "{people}");
    assert!(!status.contains("Chris"), "{status}");
}

#[test]
fn sync_with_nobody_there_says_so() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let err = b.fails(&["sync", "--peer", "/ip4/127.0.0.1/tcp/9", "--timeout", "3"]);
    assert!(err.contains("no paired device answered"), "{err}");
    let lone = Device::new("Solo");
    assert!(lone
        .fails(&["sync", "--timeout", "1"])
        .contains("no other device is paired"));
}

#[test]
fn serve_pushes_what_other_processes_write() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let mut b_serve = Background::start(&b, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let b_addr = b_serve.address();
    let mut a_serve = Background::start(
        &a,
        &[
            "serve",
            "--listen",
            LOOPBACK,
            "--no-mdns",
            "--peer",
            &b_addr,
        ],
    );
    a_serve.wait_for("Ctrl-C stops");
    // Written by a separate `mend write` process while Alex's device serves.
    a.write(&["Pushed by serve"]);
    let mut arrived = false;
    for _ in 0..60 {
        if b.ok(&["list"]).contains("Pushed by serve") {
            arrived = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    if !arrived {
        let (_, a_out) = a_serve.terminate();
        let (_, b_out) = b_serve.terminate();
        panic!(
            "the entry did not reach the other device:\n{a_out}\n--- the other device:\n{b_out}"
        );
    }
    // The laptop that was pushed to says so too, one line per session.
    b_serve.wait_for("Alex's laptop synced with this laptop: received 1 new entry");
    let (ok, out) = a_serve.terminate();
    assert!(ok && out.contains("Stopped."), "{out}");
    b_serve.terminate();
}

/// A stranger on the network (an unpaired device speaking the real protocol) gets nothing and
/// costs nothing: its connection is closed when the handshake names it, from the list of
/// paired devices serve keeps, without the journal or the home's lock being touched (here the
/// lock is held by someone else the whole time, which before made serve wait on it to decide).
/// The paired partner is still served.
#[test]
fn an_unpaired_device_gets_nothing_and_is_disconnected() {
    let a = Device::new("Alex");
    a.write(&["Words a stranger must not get"]);
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let before = a.snapshot_files();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(a.home().join("lock"))
        .unwrap();
    lock.lock().unwrap();
    let outcome = try_on_network([0x5a; 32], &addr, async |net, peer| {
        // A well-formed first sync message for an empty document, from a stranger.
        let request = mend_sync::Request::Sync {
            journal_id: [0; 16],
            session: 1,
            message: Vec::new(),
            signatures: Vec::new(),
        };
        net.request(peer, mend_net::Protocol::Sync, request).await
    });
    assert!(
        !matches!(outcome, Some(Ok(_))),
        "a stranger got an answer: {outcome:?}"
    );
    serve.wait_for("refused a connection from an unknown device");
    lock.unlock().unwrap();
    assert_eq!(a.snapshot_files(), before, "nothing changed");
    // The real partner is still served.
    assert!(b
        .ok(&["sync", "--peer", &addr])
        .contains("Synced with Alex"));
    serve.terminate();
}

/// A stranger that dials over and over from one address, a fresh identity each time (so no
/// list of known peers can stop it), is refused as its connections are accepted, before any
/// handshake, once past its burst: the laptop spends no key agreement on it. Meanwhile the
/// partner, on another address, is served as before.
#[test]
fn a_stranger_dialling_over_and_over_is_refused_before_the_handshake() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let mut serve = serve;
    let addr: mend_net::Multiaddr = serve.address().parse().unwrap();
    // 200 attempts, 16 at a time, from 127.0.0.2 (loopback too, but another source than the
    // partner's 127.0.0.1). Serve notes each stranger whose handshake it completed (each has
    // its own identity, and it notes up to 256), so its notes count the handshakes it did.
    let attempts = 200;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let outcomes: Vec<stranger::Outcome> = rt.block_on(async {
        let mut outcomes = Vec::new();
        for _ in 0..attempts / 16 + 1 {
            let batch: Vec<_> = (0..16.min(attempts - outcomes.len()))
                .map(|_| {
                    let addr = addr.clone();
                    tokio::spawn(async move {
                        stranger::attempt("127.0.0.2".parse().unwrap(), &addr).await
                    })
                })
                .collect();
            for t in batch {
                outcomes.push(t.await.unwrap());
            }
        }
        outcomes
    });
    assert_eq!(outcomes.len(), attempts);
    assert!(
        !outcomes.contains(&stranger::Outcome::Answered),
        "a stranger got an answer"
    );
    // The partner, from 127.0.0.1, is served right after, its own bucket untouched.
    assert!(b
        .ok(&["sync", "--peer", &addr.to_string()])
        .contains("Synced with Alex"));
    let (_, said) = serve.terminate();
    let handshakes = said
        .lines()
        .filter(|l| l.contains("refused a connection from an unknown device"))
        .count();
    let early = outcomes
        .iter()
        .filter(|o| **o == stranger::Outcome::NoHandshake)
        .count();
    assert!(
        handshakes > 0,
        "the stranger's first attempts reach a handshake"
    );
    assert!(
        handshakes < attempts && early > 0,
        "serve did {handshakes} handshakes for {attempts} attempts from one address \
         ({early} failed before one): nothing limits a source"
    );
}

/// Run `body` on the network as device `d` (its own identity, as a modified program on that
/// laptop would hold it), connected to `addr`.
pub(crate) fn as_device<T>(
    d: &Device,
    addr: &str,
    body: impl AsyncFnOnce(&mend_net::NetHandle, mend_net::PeerId, [u8; 16]) -> T,
) -> T {
    let (key_file, secrets) = mend_store::Home::new(d.home())
        .unlock(&mend_crypto::Passphrase::from(d.pass.clone()))
        .unwrap();
    let journal_id = key_file.journal_id.0;
    on_network(secrets.identity_seed, addr, async |net, peer| {
        body(net, peer, journal_id).await
    })
}

/// [`on_network`], for a device that may not get a connection at all: `None` if the dial
/// failed.
pub(crate) fn try_on_network<T>(
    identity_seed: [u8; 32],
    addr: &str,
    body: impl AsyncFnOnce(&mend_net::NetHandle, mend_net::PeerId) -> T,
) -> Option<T> {
    network(identity_seed, addr, async |net, dialled| match dialled {
        Ok(peer) => Some(body(net, peer).await),
        Err(_) => None,
    })
}

/// Run `body` on the network with the identity `identity_seed`, connected to `addr`.
fn on_network<T>(
    identity_seed: [u8; 32],
    addr: &str,
    body: impl AsyncFnOnce(&mend_net::NetHandle, mend_net::PeerId) -> T,
) -> T {
    network(identity_seed, addr, async |net, dialled| {
        body(net, dialled.expect("the dial succeeds")).await
    })
}

/// Start the network with the identity `identity_seed`, dial `addr`, and run `body` with the
/// outcome of the dial.
fn network<T>(
    identity_seed: [u8; 32],
    addr: &str,
    body: impl AsyncFnOnce(&mend_net::NetHandle, Result<mend_net::PeerId, mend_net::NetError>) -> T,
) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (net, _events) = mend_net::start(mend_net::NetConfig {
            identity_seed,
            listen: vec![LOOPBACK.parse().unwrap()],
            mdns: false,
            mdns_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(20),
            allowed: None,
            // A client that may also ask to pair (as a joining device does).
            pairing: mend_net::Pairing::Joining,
            relays: Vec::new(),
            reserve: false,
        })
        .await
        .unwrap();
        let dialled = net.dial(addr.parse().unwrap()).await;
        body(&net, dialled).await
    })
}

/// A session cut off after the serving side sent its changes (they never arrived) must not
/// confuse the next session from the same device: it starts afresh and brings everything.
#[test]
fn a_session_cut_off_midway_does_not_confuse_the_next_one() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    for i in 0..30 {
        a.write(&[&format!("Alex wrote {i} while Sam was away")]);
    }
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    // Sam's side starts a session (from the state its last session left, as `mend sync` does)
    // and receives Alex's changes, which are then lost: the program never applies them and
    // vanishes, as a laptop whose link is cut would.
    let devices: Vec<serde_json::Value> =
        serde_json::from_str(&b.ok(&["devices", "--json"])).unwrap();
    let alex_key = devices.iter().find(|d| d["this_device"] == false).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let lost = as_device(&b, &addr, async |net, peer, journal_id| {
        let home = mend_store::Home::new(b.home());
        let (key_file, secrets) = home
            .unlock(&mend_crypto::Passphrase::from(b.pass.clone()))
            .unwrap();
        let lock = home.lock(mend_store::LockMode::Read).unwrap();
        let mut store =
            mend_store::Store::open(&home, &secrets, key_file.journal_id, lock).unwrap();
        let saved = store.load_peer_state(&format!("{alex_key}-i")).unwrap();
        assert!(saved.is_some(), "joining left a saved state");
        let journal = store.journal_mut(mend_store::Doc::Shared);
        let mut session = mend_sync::SyncSession::new(saved.as_deref());
        let mend_sync::Step::Send {
            message,
            signatures,
        } = session.step(journal).unwrap()
        else {
            panic!("nothing to send");
        };
        let request = mend_sync::Request::Sync {
            journal_id,
            session: 42,
            message,
            signatures,
        };
        match net.request(peer, mend_net::Protocol::Sync, request).await {
            Ok(mend_sync::Response::Sync { message, .. }) => message.len(),
            other => panic!("{other:?}"),
        }
    });
    assert!(
        lost > 1000,
        "the lost replies carried Alex's entries ({lost} bytes)"
    );
    // Sam's real `mend sync`, at once: it must bring all thirty entries.
    let out = b.ok(&["sync", "--peer", &addr, "--timeout", "20"]);
    assert!(out.contains("received 30 new entries"), "{out}");
    assert_eq!(shared_entries(&a), shared_entries(&b));
    serve.terminate();
}

#[test]
fn garbage_replays_and_stray_pairing_from_a_paired_identity_change_nothing() {
    let mut a = Device::new("Alex");
    a.write(&["Before the hostile peer"]);
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    a.trace = true; // the serving side logs what it refuses
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let before = shared_entries(&a);
    let answers = as_device(&b, &addr, async |net, peer, journal_id| {
        let mut answers = Vec::new();
        let sync = |message: Vec<u8>| mend_sync::Request::Sync {
            journal_id,
            session: 1,
            message,
            signatures: Vec::new(),
        };
        // Garbage where an Automerge sync message belongs.
        answers.push(
            net.request(peer, mend_net::Protocol::Sync, sync(vec![0x42, 1, 2, 3]))
                .await,
        );
        // The same "anything more?" replayed three times.
        for _ in 0..3 {
            answers.push(
                net.request(peer, mend_net::Protocol::Sync, sync(Vec::new()))
                    .await,
            );
        }
        // A pairing hello with no invite waiting.
        let hello = mend_sync::Request::PairHello { spake: vec![7; 33] };
        answers.push(net.request(peer, mend_net::Protocol::Pair, hello).await);
        answers
    });
    assert!(
        matches!(
            answers[0],
            Ok(mend_sync::Response::Refused {
                reason: mend_sync::Refusal::Malformed
            })
        ),
        "{:?}",
        answers[0]
    );
    for replay in &answers[1..4] {
        assert!(
            matches!(replay, Ok(mend_sync::Response::Sync { gained: 0, .. })),
            "{replay:?}"
        );
    }
    assert!(
        answers[4].is_err(),
        "no invite, no answer: {:?}",
        answers[4]
    );
    serve.wait_for("refused a bad sync message");
    // The journal is unchanged, and the real partner is still served.
    assert_eq!(shared_entries(&a), before);
    b.write(&["Sam, after the hostile messages"]);
    let addr = serve.address();
    assert!(b
        .ok(&["sync", "--peer", &addr])
        .contains("Synced with Alex"));
    assert_eq!(shared_entries(&a).len(), before.len() + 1);
    serve.terminate();
}

/// `mend status` answers "did the other laptop get what I wrote?": when the last sync with each
/// paired device finished, and how many entries changed here since.
#[test]
fn status_says_what_the_other_device_has_not_received_yet() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let standing = |d: &Device| -> serde_json::Value {
        let status: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
        assert_eq!(status["sync"].as_array().unwrap().len(), 1, "{status}");
        status["sync"][0].clone()
    };
    // Joining was a sync: both sides have everything.
    let s = standing(&a);
    assert_eq!(s["person"], "Sam");
    assert!(s["last_synced"].is_string(), "{s}");
    assert_eq!(s["entries_not_sent"], 0);
    assert_eq!(standing(&b)["entries_not_sent"], 0);
    // Two shared entries and a private one on Alex's side: two have not reached Sam.
    a.write(&["First, while Sam is away"]);
    let second = a.write(&["Second, while Sam is away"]);
    a.write(&["--private", "A draft for later"]);
    assert_eq!(standing(&a)["entries_not_sent"], 2);
    let text = a.ok(&["status"]);
    assert!(
        text.contains("Sam's Sam-laptop:") && text.contains("2 entries written or changed since"),
        "{text}"
    );
    // An edit counts its entry once.
    a.ok(&["edit", &second, "--text", "Second, edited"]);
    assert_eq!(standing(&a)["entries_not_sent"], 2);
    // Sam syncs with Alex's serving laptop: now both sides say it has everything.
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    b.ok(&["sync", "--peer", &addr]);
    serve.terminate();
    assert_eq!(standing(&a)["entries_not_sent"], 0);
    assert_eq!(standing(&b)["entries_not_sent"], 0);
    assert!(a.ok(&["status"]).contains("it has everything here"));
}

/// Sam's laptop is put back to an older copy of its home (a restored backup). At the next sync
/// Alex's laptop gives back what Sam had written since, and Sam's laptop says what happened.
#[test]
fn a_journal_put_back_to_an_older_copy_is_told_and_gets_its_own_changes_back() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    b.ok(&["sync", "--peer", &addr]);
    let backup = b.dir.path().join("backup");
    crate::util::copy_dir(&b.home(), &backup);
    b.write(&["written after the backup"]);
    b.write(&["also after the backup"]);
    let out = b.run(&["sync", "--peer", &addr]);
    assert!(out.status.success());
    // An ordinary sync says nothing of the kind.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("older copy"));
    std::fs::remove_dir_all(b.home()).unwrap();
    crate::util::copy_dir(&backup, &b.home());
    assert!(!b.ok(&["list"]).contains("written after the backup"));

    let out = b.run(&["sync", "--peer", &addr, "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("gave back 2 changes this laptop had made and no longer held")
            && stderr.contains("put back to an older copy"),
        "{stderr}"
    );
    let summary: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary[0]["own_changes_returned"], 2);
    let listed = b.ok(&["list"]);
    assert!(
        listed.contains("written after the backup") && listed.contains("also after the backup"),
        "{listed}"
    );
    // `mend status` keeps saying it after the sync.
    let status = b.ok(&["status"]);
    assert!(
        status.contains("put back to an older copy: Alex's")
            && status.contains("gave back 2 changes this laptop had made"),
        "{status}"
    );
    let status: serde_json::Value = serde_json::from_str(&b.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["rollbacks"][0]["changes"], 2);
    serve.terminate();
}

/// Without a terminal to confirm the verifier on, and without --yes, `mend invite` sends
/// nothing: the joiner is told, gets no journal, and the inviter's journal is unchanged.
#[test]
fn an_unconfirmed_invite_sends_nothing() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    let before = a.snapshot_files();
    let (invite, code, addr) = crate::util::start_invite_unconfirmed(&a, &[]);
    let err = b.fails(&["join", &code, "--name", "Sam", "--peer", &addr]);
    assert!(
        err.contains("did not confirm this device: nothing was received"),
        "{err}"
    );
    let (ok, out) = invite.finish();
    assert!(!ok, "{out}");
    assert!(out.contains("needs --yes"), "{out}");
    assert!(!b.home().join("device.key").exists());
    assert!(b.fails(&["list"]).contains("mend init"));
    assert_eq!(a.snapshot_files(), before);
    let devices: Vec<serde_json::Value> =
        serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
    assert_eq!(devices.len(), 1);
}

/// A device that says hello with the right code (spending the invite) and then leaves: the
/// inviter says at once that the invite is used up, instead of waiting for its timeout.
#[test]
fn an_invite_spent_by_a_device_that_leaves_says_so_at_once() {
    let a = Device::new("Alex");
    let (invite, code, addr) = crate::util::start_invite(&a);
    let code = mend_sync::InviteCode::parse(&code).unwrap();
    on_network([0x42; 32], &addr, async |net, peer| {
        let (_joiner, hello) =
            mend_sync::Joiner::start(code, &net.local_peer_id.to_bytes(), &peer.to_bytes());
        let reply = net
            .request(peer, mend_net::Protocol::Pair, hello)
            .await
            .unwrap();
        assert!(
            matches!(reply, mend_sync::Response::PairHello { .. }),
            "{reply:?}"
        );
        // ...and goes away.
    });
    let (ok, out) = invite.finish();
    assert!(!ok, "{out}");
    assert!(
        out.contains("went away before pairing finished; this invite is used up"),
        "{out}"
    );
}

/// `mend invite` on a terminal (a pty from util-linux `script`): the journal goes only when its
/// person answers y to "does its screen show the verifier …?"; on n nothing is sent.
#[test]
fn an_invite_on_a_terminal_sends_the_journal_only_on_yes() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` (for a pty) is not installed here");
        return;
    }
    for answer in ["n", "y"] {
        let a = Device::new("Alex");
        let b = Device::uninitialised();
        let line = format!(
            "{} --home {} invite --listen {LOOPBACK} --no-mdns --timeout 60",
            crate::util::mend_bin(),
            a.home().display()
        );
        let mut child = Command::new("script")
            .args(["-qfec", &line, "/dev/null"])
            .env("MEND_PASSPHRASE", &a.pass)
            .env("MEND_INSECURE_TEST_KDF", "1")
            .env("NO_COLOR", "1")
            .env_remove("MEND_HOME")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut code, mut addr) = (String::new(), String::new());
        let mut text = String::new();
        while code.is_empty() || addr.is_empty() {
            let mut l = String::new();
            assert!(out.read_line(&mut l).unwrap() > 0, "invite ended: {text}");
            text.push_str(&l);
            let l = l.trim();
            if let Some(c) = l.strip_prefix("Invite code: ") {
                code = c.to_owned();
            }
            if l.starts_with("/ip4/127.0.0.1/tcp/") {
                addr = l.to_owned();
            }
        }
        // The answer waits in the terminal's input until the question is asked.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        let joined = b.run(&["join", &code, "--name", "Sam", "--peer", &addr]);
        let joined = String::from_utf8_lossy(&joined.stdout).into_owned()
            + &String::from_utf8_lossy(&joined.stderr);
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut rest);
        let status = child.wait().unwrap();
        assert!(
            rest.contains("Does its screen show the verifier"),
            "{answer}: {rest}"
        );
        if answer == "y" {
            assert!(status.success(), "{rest}");
            assert!(joined.contains("Received the journal"), "{joined}");
        } else {
            assert!(!status.success(), "{rest}");
            assert!(
                joined.contains("did not confirm this device: nothing was received"),
                "{joined}"
            );
            assert!(!b.home().join("device.key").exists());
        }
    }
}

#[test]
fn sync_without_mdns_or_a_peer_says_so_at_once() {
    // Before, it looked for 30 s and then said no paired device had answered.
    let d = Device::new("Alex");
    let err = d.fails(&["sync", "--no-mdns"]);
    assert!(
        err.contains("no paired device can be reached without mDNS, --peer or --relay"),
        "{err}"
    );
}
