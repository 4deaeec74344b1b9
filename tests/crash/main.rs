//! Crash safety: start `mend write`, `mend import` (which compacts), `mend edit`, `mend sync` and
//! `mend serve`, kill them with SIGKILL at random moments, then open the journals and check that
//! they open, that every entry whose command reported success is present and intact, and that
//! nothing half-written is shown as an entry.
//!
//! `cargo test -p mend-cli --test crash` runs 50 local trials and 30 sync trials (seeded). The
//! full run is `just crash` (500 local and 200 sync trials, release build); its figures go to
//! docs/reliability.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

#[allow(dead_code)]
#[path = "../e2e/util.rs"]
mod util;

use util::{pair, Background, Device, LOOPBACK};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Run `args` in the background with its output captured, so that it can be killed.
fn spawn(d: &Device, args: &[&str]) -> std::process::Child {
    d.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn kill_after(child: std::process::Child, delay: Duration) -> std::process::Output {
    std::thread::sleep(delay);
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    child.wait_with_output().unwrap()
}

/// A small Mend export with these entry ids; importing it compacts the log into a new snapshot.
fn export_file(path: &Path, ids: &[String]) {
    let entries: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "author": "Alex", "author_id": "a".repeat(32),
                "created_at": "2026-01-01T00:00:00Z", "written_at": "2026-01-01T00:00:00Z",
                "text": format!("imported {id}"), "tags": [], "mood": null,
                "kind": "entry", "private": false,
            })
        })
        .collect();
    let export = serde_json::json!({
        "format": "mend-export", "version": 1, "journal_id": "0",
        "exported_at": "2026-01-01T00:00:00Z", "people": [], "entries": entries,
    });
    std::fs::write(path, export.to_string()).unwrap();
}

/// Every entry the journal lists, id to text; the journal must open.
fn listed(d: &Device, trial: usize) -> (BTreeMap<String, String>, bool) {
    let out = d.run(&["list", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "trial {trial}: the journal does not open: {stderr}"
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let by_id = listed
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (by_id, stderr.contains("torn"))
}

/// The listed entry whose id starts with `prefix`.
fn find<'a>(by_id: &'a BTreeMap<String, String>, prefix: &str) -> Option<&'a String> {
    by_id
        .range(prefix.to_owned()..)
        .next()
        .filter(|(id, _)| id.starts_with(prefix))
        .map(|(_, text)| text)
}

#[derive(Default, Debug)]
struct Tally {
    completed: usize,
    killed: usize,
    torn_recovered: usize,
}

#[test]
fn killed_commands_never_lose_acknowledged_entries_or_show_half_written_ones() {
    let trials = setting("MEND_CRASH_TRIALS", 50) as usize;
    let seed = setting("MEND_CRASH_SEED", 7);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let alex = Device::new("Alex");
    // What each entry id may read as: acknowledged texts must be there exactly; an interrupted
    // edit may leave either version; an interrupted write may leave the entry or not.
    let mut must: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut may_appear: BTreeMap<String, String> = BTreeMap::new();
    let mut tally = Tally::default();
    let started = Instant::now();
    for trial in 0..trials {
        let op = rng.gen_range(0..10);
        let delay = Duration::from_micros(rng.gen_range(0..25_000));
        let text = format!(
            "trial {trial} seed {seed}: {}",
            "words kept safe ".repeat(rng.gen_range(1..20)).trim_end()
        );
        let (child, import_ids, edit_of) = match op {
            0..=5 => (spawn(&alex, &["write", &text]), Vec::new(), None),
            6..=7 => {
                let ids: Vec<String> = (0..20).map(|i| format!("{trial:08x}{i:024x}")).collect();
                let file = alex.dir.path().join(format!("import-{trial}.json"));
                export_file(&file, &ids);
                (spawn(&alex, &["import", file.to_str().unwrap()]), ids, None)
            }
            _ => match must.keys().nth(rng.gen_range(0..must.len().max(1))) {
                Some(id)
                    if !id.starts_with(|c: char| c.is_ascii_digit()) || must[id].len() == 1 =>
                {
                    let id = id.clone();
                    (
                        spawn(&alex, &["edit", &id, "--text", &text]),
                        Vec::new(),
                        Some(id),
                    )
                }
                _ => (spawn(&alex, &["write", &text]), Vec::new(), None),
            },
        };
        for id in &import_ids {
            may_appear.insert(id.clone(), format!("imported {id}"));
        }
        if let Some(id) = &edit_of {
            must.get_mut(id).unwrap().insert(text.clone());
        }
        let out = kill_after(child, delay);
        if out.status.success() {
            tally.completed += 1;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if let Some(id) = &edit_of {
                must.insert(id.clone(), BTreeSet::from([text.clone()]));
            } else if import_ids.is_empty() {
                let short = stdout.trim().to_owned();
                must.insert(short, BTreeSet::from([text.clone()]));
            } else {
                for id in &import_ids {
                    must.insert(id.clone(), BTreeSet::from([format!("imported {id}")]));
                }
            }
        } else {
            tally.killed += 1;
            if edit_of.is_none() && import_ids.is_empty() {
                may_appear.insert(format!("write:{text}"), text.clone());
            }
        }
        // The journal must open, whatever happened.
        let (by_id, torn) = listed(&alex, trial);
        if torn {
            tally.torn_recovered += 1;
        }
        // Every acknowledged entry is present and reads as one of its allowed versions.
        for (id, allowed) in &must {
            let text = find(&by_id, id)
                .unwrap_or_else(|| panic!("trial {trial}: acknowledged entry {id} is lost"));
            assert!(
                allowed.contains(text),
                "trial {trial}: entry {id} reads {text:?}"
            );
        }
        // Nothing half-written: every listed text is one that some command wrote in full.
        let known: BTreeSet<&String> = must.values().flatten().chain(may_appear.values()).collect();
        for text in by_id.values() {
            assert!(known.contains(text), "trial {trial}: unknown text {text:?}");
        }
        // Writes that were killed but landed are now acknowledged by the journal itself.
        for (full, text) in &by_id {
            if !must.keys().any(|id| full.starts_with(id.as_str())) {
                must.insert(full.clone(), BTreeSet::from([text.clone()]));
            }
        }
    }
    println!(
        "crash: {trials} trials (seed {seed}) in {:.1} s: {} completed before the kill, {} killed, \
         {} opens recovered a torn final record; {} entries checked at the end; nothing lost",
        started.elapsed().as_secs_f64(),
        tally.completed,
        tally.killed,
        tally.torn_recovered,
        must.len()
    );
    assert!(
        tally.killed > 0 && tally.completed > 0,
        "the kills must land on both sides: {tally:?}"
    );
}

/// One side of the sync trials: its device, the entries it acknowledged writing, and the entries
/// it must hold (its own plus everything a completed sync brought).
struct Side {
    device: Device,
    own: BTreeMap<String, String>,
    must: BTreeMap<String, String>,
}

impl Side {
    fn write(&mut self, text: String) {
        let id = self.device.write(&[&text]);
        self.own.insert(id.clone(), text.clone());
        self.must.insert(id, text);
    }

    fn import(&mut self, ids: Vec<String>) {
        let file = self.device.dir.path().join("batch.json");
        export_file(&file, &ids);
        self.device.ok(&["import", file.to_str().unwrap()]);
        for id in ids {
            let text = format!("imported {id}");
            self.own.insert(id.clone(), text.clone());
            self.must.insert(id, text);
        }
    }

    /// The journal opens, holds everything it must, and shows nothing half-written.
    fn check(&self, known: &BTreeSet<String>, trial: usize) -> usize {
        let (by_id, _) = listed(&self.device, trial);
        for (id, text) in &self.must {
            assert_eq!(
                find(&by_id, id),
                Some(text),
                "trial {trial}: entry {id} is lost or altered"
            );
        }
        for text in by_id.values() {
            assert!(known.contains(text), "trial {trial}: unknown text {text:?}");
        }
        by_id.len()
    }
}

#[derive(Default, Debug)]
struct SyncTally {
    completed: usize,
    killed_before_anything_arrived: usize,
    killed_midway: usize,
    killed_after_everything_arrived: usize,
    serves_killed: usize,
    syncs_failing_cleanly: usize,
}

#[test]
fn killed_syncs_and_serves_never_lose_entries_on_either_side() {
    let trials = setting("MEND_CRASH_SYNC_TRIALS", 30) as usize;
    let seed = setting("MEND_CRASH_SEED", 7);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    let mut alex = Side {
        device: alex,
        own: BTreeMap::new(),
        must: BTreeMap::new(),
    };
    let mut sam = Side {
        device: sam,
        own: BTreeMap::new(),
        must: BTreeMap::new(),
    };
    let serve_args = ["serve", "--listen", LOOPBACK, "--no-mdns"];
    let mut serve = Background::start(&sam.device, &serve_args);
    let mut addr = serve.address();
    let mut known = BTreeSet::new();
    let mut tally = SyncTally::default();
    // Kills land within the time the last complete sync took, so they spread over its phases.
    let mut last_sync = Duration::from_millis(300);
    let started = Instant::now();
    for trial in 0..trials {
        for (side, who) in [(&mut alex, "alex"), (&mut sam, "sam")] {
            let text = format!("{who} trial {trial} seed {seed}");
            known.insert(text.clone());
            side.write(text);
        }
        // Every few trials one side brings a batch, so that the next session is a large one.
        if trial % 4 == 0 {
            let side = if rng.gen_bool(0.5) {
                &mut alex
            } else {
                &mut sam
            };
            let ids: Vec<String> = (0..300).map(|i| format!("5{trial:07x}{i:024x}")).collect();
            known.extend(ids.iter().map(|id| format!("imported {id}")));
            side.import(ids);
        }
        let before = listed(&alex.device, trial).0.len();
        let expected = alex
            .own
            .keys()
            .chain(sam.own.keys())
            .collect::<BTreeSet<_>>()
            .len();
        let delay = Duration::from_micros(rng.gen_range(0..last_sync.as_micros() as u64 * 11 / 10));
        let sync = spawn(&alex.device, &["sync", "--peer", &addr, "--timeout", "20"]);
        let began = Instant::now();
        let (out, took) = if rng.gen_range(0..10) < 7 {
            // Alex's `mend sync` is killed.
            let out = kill_after(sync, delay);
            (out, began.elapsed())
        } else {
            // Sam's `mend serve` is killed under Alex's sync, then started again.
            std::thread::sleep(delay);
            serve.kill_hard();
            tally.serves_killed += 1;
            let out = sync.wait_with_output().unwrap();
            let took = began.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("panicked"),
                "trial {trial}: sync panicked: {stderr}"
            );
            if !out.status.success() {
                assert!(
                    stderr.contains("error:") && stderr.contains("hint:"),
                    "trial {trial}: unclear failure: {stderr}"
                );
                tally.syncs_failing_cleanly += 1;
            }
            serve = Background::start(&sam.device, &serve_args);
            addr = serve.address();
            (out, took)
        };
        if std::env::var_os("MEND_CRASH_VERBOSE").is_some() {
            eprintln!(
                "trial {trial}: delay {delay:?}, last {last_sync:?}, took {took:?}, ok {}: {}",
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let after = alex.check(&known, trial);
        if out.status.success() {
            tally.completed += 1;
            last_sync = took;
        } else {
            // Killed early: reach further next time, so that kills spread over the session.
            last_sync = last_sync.mul_f64(1.3);
        }
        if out.status.success() {
            // A sync that said it finished brought everything each side had acknowledged.
            alex.must.extend(sam.own.clone());
            sam.must.extend(alex.own.clone());
            assert_eq!(after, expected, "trial {trial}: the sync said it finished");
        } else if after == before {
            tally.killed_before_anything_arrived += 1;
        } else if after < expected {
            tally.killed_midway += 1;
        } else {
            tally.killed_after_everything_arrived += 1;
        }
        sam.check(&known, trial);
    }
    // A last sync that nobody interrupts: both sides hold the same journal, nothing lost.
    alex.device
        .ok(&["sync", "--peer", &addr, "--timeout", "60"]);
    alex.must.extend(sam.own.clone());
    sam.must.extend(alex.own.clone());
    let a = listed(&alex.device, trials).0;
    let s = listed(&sam.device, trials).0;
    assert_eq!(a, s, "the two journals differ after the last sync");
    alex.check(&known, trials);
    sam.check(&known, trials);
    let (ok, out) = serve.terminate();
    assert!(ok, "serve did not stop cleanly: {out}");
    println!(
        "crash (sync): {trials} trials (seed {seed}) in {:.1} s: {tally:?}; both journals hold \
         the same {} entries; nothing lost",
        started.elapsed().as_secs_f64(),
        a.len()
    );
    assert!(
        tally.completed > 0
            && tally.killed_before_anything_arrived
                + tally.killed_midway
                + tally.killed_after_everything_arrived
                > 0,
        "the kills must land on both sides: {tally:?}"
    );
}
