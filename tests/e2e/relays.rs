//! `mend relay add|remove|list`: relays remembered in the shared journal reach the partner's
//! laptop by sync; only the one who added a relay removes it; relays never show as entries.

use crate::util::{pair, Background, Device, LOOPBACK};

const RELAY: &str =
    "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";

fn relays(d: &Device) -> Vec<serde_json::Value> {
    serde_json::from_str(&d.ok(&["relay", "list", "--json"])).unwrap()
}

/// Neither `list` (as text or JSON) nor `search` shows the relay as an entry.
fn lists_no_relay(d: &Device) {
    let listed = d.ok(&["list"]);
    assert!(listed.contains("Written by Alex"), "{listed}");
    assert!(!listed.contains("203.0.113.5"), "{listed}");
    let entries = d.list_json(&[]);
    assert!(
        entries
            .iter()
            .all(|e| e["kind"] != "relay" && !e["text"].as_str().unwrap().contains("203.0.113.5")),
        "{entries:?}"
    );
    let found = d.run(&["search", "12D3KooWDpJ7As7"]);
    assert!(
        !String::from_utf8_lossy(&found.stdout).contains("203.0.113.5"),
        "{found:?}"
    );
}

#[test]
fn a_relay_alex_adds_reaches_sam_and_only_alex_removes_it() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    alex.write(&["Written by Alex"]);
    assert_eq!(
        alex.ok(&["relay", "list"]),
        "No relays remembered. Add one with `mend relay add ADDR`.\n"
    );

    // What is not a relay's address is refused, and nothing is written.
    let before = alex.snapshot_files();
    for bad in [
        "/ip4/203.0.113.5/tcp/4001",
        "203.0.113.5:4001",
        "/ip4/203.0.113.5/tcp/4001/p2p/",
        "/ip4/203.0.113.5/tcp/4001/p2p/12D3Koo W",
    ] {
        let err = alex.fails(&["relay", "add", bad]);
        assert!(err.contains("is not a relay address"), "{bad}: {err}");
        assert!(err.contains("hint: nothing was saved"), "{bad}: {err}");
    }
    assert_eq!(alex.snapshot_files(), before, "nothing written");

    let out = alex.ok(&["relay", "add", RELAY]);
    assert_eq!(
        out,
        format!(
            "Remembered relay {RELAY} (your laptops and your partner's use it after the next \
             sync)\n"
        )
    );
    let err = alex.fails(&["relay", "add", RELAY]);
    assert!(
        err.contains(&format!(
            "already remembers the relay {RELAY} (added by Alex)"
        )),
        "{err}"
    );
    let on_alex = relays(&alex);
    assert_eq!(on_alex.len(), 1, "{on_alex:?}");
    assert_eq!(on_alex[0]["addr"], RELAY);
    assert_eq!(on_alex[0]["added_by"], "Alex");
    let listed = alex.ok(&["relay", "list"]);
    assert!(
        listed.starts_with(&format!("{RELAY}  added by Alex on ")),
        "{listed}"
    );
    lists_no_relay(&alex);

    // After a sync, Sam's laptop knows it, as Alex's.
    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    sam.ok(&["sync", "--peer", &addr]);
    let on_sam = relays(&sam);
    assert_eq!(on_sam, on_alex);
    lists_no_relay(&sam);
    let status = sam.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["entries"]["shared"], 1, "{status}");
    assert_eq!(status["unacknowledged"].as_array().unwrap().len(), 1);

    // Sam cannot remove it; Alex can (through the running serve).
    let before = sam.snapshot_files();
    let err = sam.fails(&["relay", "remove", RELAY]);
    assert!(
        err.contains("Alex added this relay; only Alex can remove it"),
        "{err}"
    );
    assert_eq!(sam.snapshot_files(), before, "nothing written");
    let err = alex.fails(&["relay", "remove", "/ip4/198.51.100.1/tcp/1/p2p/12D3KooWx"]);
    assert!(err.contains("remembers no relay"), "{err}");
    let id = on_alex[0]["id"].as_str().unwrap();
    let out = alex.ok(&["relay", "remove", &id[..8]]);
    assert!(out.starts_with(&format!("Forgot relay {RELAY}")), "{out}");
    assert!(relays(&alex).is_empty());

    sam.ok(&["sync", "--peer", &addr]);
    assert!(relays(&sam).is_empty());
    assert_eq!(
        sam.ok(&["relay", "list"]),
        "No relays remembered. Add one with `mend relay add ADDR`.\n"
    );
    lists_no_relay(&sam);
    lists_no_relay(&alex);
    let (ok, served) = serve.terminate();
    assert!(ok, "{served}");
}

/// Two laptops that know no address of each other sync through a relay the journal remembers:
/// `mend relay` runs, Alex remembers it, Sam learns it by a sync, and from then on neither needs
/// `--peer` or `--relay`. On loopback the relayed connection is upgraded by hole punching, and
/// `mend sync` says so.
#[test]
fn a_remembered_relay_carries_sync_between_laptops_that_know_no_address() {
    let relay_home = Device::uninitialised();
    let mut relay = Background::start(&relay_home, &["relay", "--listen", LOOPBACK]);
    let relay_addr = relay.address();
    assert!(relay_addr.contains("/p2p/12D3KooW"), "{relay_addr}");
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    alex.ok(&["relay", "add", &relay_addr]);
    // Sam learns the relay by a sync at a known address, reported as direct.
    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let line = sam.ok(&["sync", "--peer", &addr]);
    assert!(
        line.contains("Synced with Alex's laptop (direct)"),
        "{line}"
    );
    assert_eq!(relays(&sam)[0]["addr"], relay_addr.as_str());
    serve.wait_for("Reachable through the relay at");
    drop(serve);

    // Alex serves again, told no relay: it uses the one remembered.
    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let reachable = serve.wait_for("Reachable through the relay at");
    assert!(
        reachable.contains(&format!("{relay_addr}/p2p-circuit/p2p/")),
        "{reachable}"
    );
    sam.write(&["Sam, from far away"]);
    let out = sam.ok(&["sync", "--no-mdns", "--json", "--timeout", "20"]);
    let sessions: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(sessions.len(), 1, "{out}");
    assert_eq!(sessions[0]["entries_sent"], 1, "{out}");
    // Reached through the relay, then straight: loopback lets hole punching through.
    assert_eq!(sessions[0]["path"], "hole-punched", "{out}");
    assert!(crate::util::texts(&alex.list_json(&[]))
        .iter()
        .any(|t| t == "Sam, from far away"));
    let note = relay.wait_for("holds a reservation");
    assert!(note.starts_with("note: 12D3KooW"), "{note}");
}
