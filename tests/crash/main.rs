//! Crash safety: start `mend write`, `mend import` (which compacts) and `mend edit`, kill them
//! with SIGKILL at random moments, then open the journal and check that it opens, that every
//! entry whose command reported success is present and intact, and that nothing half-written is
//! shown as an entry.
//!
//! `cargo test -p mend-cli --test crash` runs 50 trials (seeded). The full run is
//! `MEND_CRASH_TRIALS=500 cargo test --release -p mend-cli --test crash -- --nocapture`
//! (`just crash`); its figures go to docs/reliability.md.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

const PASS: &str = "crash test passphrase";

fn mend(home: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mend"));
    c.arg("--home")
        .arg(home)
        .args(args)
        .env("MEND_PASSPHRASE", PASS)
        .env("MEND_INSECURE_TEST_KDF", "1")
        .env("NO_COLOR", "1")
        .env_remove("MEND_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[derive(Default, Debug)]
struct Tally {
    completed: usize,
    killed: usize,
    torn_recovered: usize,
}

#[test]
fn killed_commands_never_lose_acknowledged_entries_or_show_half_written_ones() {
    let trials: usize = std::env::var("MEND_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("MEND_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(mend(&home, &["init", "--name", "Alex"])
        .status()
        .unwrap()
        .success());
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
        let (mut cmd, import_ids, edit_of) = match op {
            0..=5 => (mend(&home, &["write", &text]), Vec::new(), None),
            6..=7 => {
                // A small Mend export; importing it compacts the log into a new snapshot.
                let ids: Vec<String> = (0..20).map(|i| format!("{trial:08x}{i:024x}")).collect();
                let entries: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|id| serde_json::json!({
                        "id": id, "author": "Alex", "author_id": "a".repeat(32),
                        "created_at": "2026-01-01T00:00:00Z", "written_at": "2026-01-01T00:00:00Z",
                        "text": format!("imported {id}"), "tags": [], "mood": null,
                        "kind": "entry", "private": false,
                    }))
                    .collect();
                let export = serde_json::json!({
                    "format": "mend-export", "version": 1, "journal_id": "0",
                    "exported_at": "2026-01-01T00:00:00Z", "people": [], "entries": entries,
                });
                let file = dir.path().join(format!("import-{trial}.json"));
                std::fs::write(&file, export.to_string()).unwrap();
                (mend(&home, &["import", file.to_str().unwrap()]), ids, None)
            }
            _ => match must.keys().nth(rng.gen_range(0..must.len().max(1))) {
                Some(id)
                    if !id.starts_with(|c: char| c.is_ascii_digit()) || must[id].len() == 1 =>
                {
                    let id = id.clone();
                    (
                        mend(&home, &["edit", &id, "--text", &text]),
                        Vec::new(),
                        Some(id),
                    )
                }
                _ => (mend(&home, &["write", &text]), Vec::new(), None),
            },
        };
        for id in &import_ids {
            may_appear.insert(id.clone(), format!("imported {id}"));
        }
        if let Some(id) = &edit_of {
            must.get_mut(id).unwrap().insert(text.clone());
        }
        let child = cmd.spawn().unwrap();
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
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
        let out = mend(&home, &["list", "--json"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "trial {trial}: the journal does not open: {stderr}"
        );
        if stderr.contains("torn") {
            tally.torn_recovered += 1;
        }
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let by_id: BTreeMap<String, String> = listed
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap().to_owned(),
                    e["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        // Every acknowledged entry is present and reads as one of its allowed versions.
        for (id, allowed) in &must {
            let found = by_id.iter().find(|(full, _)| full.starts_with(id.as_str()));
            let (_, text) =
                found.unwrap_or_else(|| panic!("trial {trial}: acknowledged entry {id} is lost"));
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
