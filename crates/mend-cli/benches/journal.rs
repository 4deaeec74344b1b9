//! The offline journal's benchmark: `just bench` (or
//! `cargo bench -p mend-cli --bench journal -- --out docs/benchmarks.md`).
//!
//! It generates a reproducible journal (seeded; ten years of ~200-character entries by the
//! importing person, since an import writes only one's own entries), imports it with the real
//! `mend` binary, and measures wall time and peak RSS of
//! `mend list -n 20` and `mend write`, the import, the bytes on disk against the plaintext, and
//! the unlock at the default (calibrated) key derivation separately. It also opens the journal in
//! process to show where the time of a command goes.

#[path = "journal/hostile.rs"]
mod hostile;
#[path = "journal/relay.rs"]
mod relay;
#[path = "journal/served.rs"]
mod served;
#[path = "journal/signed.rs"]
mod signed;
#[path = "../../../tests/e2e/stranger.rs"]
mod stranger;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use mend_crypto::{KdfParams, Passphrase};
use mend_journal::{Entry, Filter, Journal, Kind, MendExport, Person, SavedShared, Signer};
use mend_store::{Doc, Home, LockMode, Store};
use rand::{Rng, SeedableRng};

const PASS: &str = "benchmark passphrase";
const WORDS: &[&str] = &[
    "we",
    "talked",
    "about",
    "trust",
    "tonight",
    "and",
    "I",
    "listened",
    "without",
    "defending",
    "myself",
    "it",
    "felt",
    "heavy",
    "but",
    "honest",
    "tomorrow",
    "I",
    "will",
    "call",
    "at",
    "noon",
    "as",
    "promised",
    "you",
    "asked",
    "for",
    "reassurance",
    "so",
    "I",
    "gave",
    "it",
    "slowly",
    "the",
    "counselor",
    "said",
    "patience",
    "matters",
    "more",
    "than",
    "speed",
];

struct Args {
    entries: usize,
    runs: usize,
    out: Option<PathBuf>,
    /// Only the one-change-per-entry sync, printed (for profiling it).
    per_change_only: bool,
    /// Only the commands with and without serve, printed.
    served_only: bool,
    /// Only the serving laptop under the weight of strangers (docs/reliability.md).
    hostile_only: bool,
    /// Only the `mend join` pulls, each printed with its in-memory baseline.
    pull_only: bool,
    /// Only the relay's figures (reservations on loopback, sync through NATs), printed.
    relay_only: bool,
    /// With `--served-only`: keep the journal in this directory and reuse it next time.
    home: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        entries: 20_000,
        runs: 9,
        out: None,
        per_change_only: false,
        served_only: false,
        hostile_only: false,
        pull_only: false,
        relay_only: false,
        home: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--entries" => a.entries = it.next().and_then(|v| v.parse().ok()).expect("--entries N"),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            // Relative to the workspace root: cargo runs benchmarks in the package directory.
            "--out" => {
                a.out = it.next().map(|p| {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../..")
                        .join(p)
                })
            }
            "--per-change-only" => a.per_change_only = true,
            "--served-only" => a.served_only = true,
            "--hostile-only" => a.hostile_only = true,
            "--pull-only" => a.pull_only = true,
            "--relay-only" => a.relay_only = true,
            "--home" => a.home = it.next().map(PathBuf::from),
            _ => {} // cargo passes --bench
        }
    }
    a
}

fn text(rng: &mut impl Rng) -> String {
    let mut s = String::new();
    while s.len() < 200 {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    s
}

/// A seeded Mend export written by `people` in turn.
fn generate_for(n: usize, seed: u64, people: Vec<Person>) -> (MendExport, u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let start = Utc.with_ymd_and_hms(2016, 1, 1, 0, 0, 0).unwrap();
    let span = 10 * 365 * 24 * 3600;
    let mut plain = 0u64;
    let entries = (0..n)
        .map(|i| {
            let who = &people[i % people.len()];
            let at = start + chrono::Duration::seconds(rng.gen_range(0..span));
            let text = text(&mut rng);
            plain += text.len() as u64;
            Entry {
                id: format!("{:032x}", rng.gen::<u128>()),
                author: who.name.clone(),
                author_id: who.id.clone(),
                created_at: at,
                written_at: at,
                edited_at: None,
                text,
                tags: vec![["trust", "promise", "talk"][i % 3].to_owned()],
                mood: Some(rng.gen_range(1..=5)),
                kind: Kind::Entry,
                extra: Default::default(),
                private: false,
                conflicting_texts: Vec::new(),
            }
        })
        .collect();
    (
        MendExport::new("0".repeat(32), Utc::now(), people, entries),
        plain,
    )
}

struct Run {
    wall: Duration,
    max_rss_kib: i64,
    stdout: String,
}

fn mend(home: &Path, args: &[&str], test_kdf: bool) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mend"));
    cmd.arg("--home")
        .arg(home)
        .args(args)
        .env("MEND_PASSPHRASE", PASS);
    cmd.env_remove("MEND_INSECURE_TEST_KDF");
    if test_kdf {
        cmd.env("MEND_INSECURE_TEST_KDF", "1");
    }
    // Outputs here are small: they fit in the pipe, which is read after the child exits.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    // Reaped by wait4 below, which also reports the child's own peak RSS.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("spawn mend");
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by wait4 for the child we just spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our child; status and usage point to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(r, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "mend {args:?} failed"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("piped"), &mut stdout)
        .expect("read output");
    Run {
        wall,
        max_rss_kib: usage.ru_maxrss,
        stdout,
    }
}

fn median<T: Ord + Copy>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kib: i64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.0} GiB", kib as f64 / 1048576.0)
        });
    format!(
        "{cpu}, {cores} cores, {mem} memory, {}",
        std::env::consts::OS
    )
}

/// Everything measured on the seeded journal: the commands, in process, and the unlock.
struct Offline {
    import_wall: Duration,
    import_rss: i64,
    plain_bytes: u64,
    list_wall: Duration,
    list_rss: i64,
    after_write_wall: Duration,
    after_write_rss: i64,
    rebuild_wall: Duration,
    rebuild_rss: i64,
    write_wall: Duration,
    write_rss: i64,
    append: u64,
    index_on_disk: u64,
    disk: u64,
    unlock_test: Duration,
    open: Duration,
    read_all: Duration,
    sort: Duration,
    snapshot_bytes: u64,
    ops: usize,
    write_added: Duration,
    sig_bytes: usize,
    read_index: Duration,
    index_bytes: u64,
    sort_indexed: Duration,
    base: Baselines,
    real_params: KdfParams,
    unlock_wall: Duration,
    unlock_rss: i64,
    calibrate: Duration,
}

/// The one-change-per-entry sync, checked and unchecked (medians).
struct PerChange {
    per_change: usize,
    per_change_checked: Duration,
    per_change_unchecked: Duration,
}

fn per_change_figures(per_change: usize, runs: usize) -> PerChange {
    eprintln!("checked and unchecked sync of {per_change} + {per_change} one-entry changes");
    let mut checked = Vec::new();
    let mut unchecked = Vec::new();
    for _ in 0..runs {
        let (c, u) = signed::per_change(per_change);
        checked.push(c);
        unchecked.push(u);
    }
    PerChange {
        per_change,
        per_change_checked: median(checked),
        per_change_unchecked: median(unchecked),
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// Import the seeded journal into three homes, time the commands on one, see where their time
/// goes in process, and unlock at the default profile.
fn measure_offline(a: &Args, tmp: &Path) -> Offline {
    // Import into three fresh homes (test KDF, so unlock costs well under a millisecond). An
    // import writes only the importing person's own entries, so each home gets the same seeded
    // export (same entries, same text) in the name of its own person.
    let mut imports = Vec::new();
    let mut home = PathBuf::new();
    let mut generated = None;
    for i in 0..3 {
        home = tmp.join(format!("home{i}"));
        mend(&home, &["init", "--name", "Alex"], true);
        let (export, plain_bytes) = generate_for(a.entries, 42, vec![person_of(&home)]);
        let export_path = tmp.join(format!("export{i}.json"));
        std::fs::write(&export_path, serde_json::to_vec(&export).unwrap()).unwrap();
        eprintln!(
            "generated {} entries ({} bytes of text)",
            a.entries, plain_bytes
        );
        imports.push(mend(
            &home,
            &["import", export_path.to_str().unwrap()],
            true,
        ));
        generated = Some((export, plain_bytes));
    }
    let (export, plain_bytes) = generated.expect("three homes");
    let import_wall = median(imports.iter().map(|r| r.wall).collect());
    let import_rss = median(imports.iter().map(|r| r.max_rss_kib).collect());
    eprintln!("import: {}", ms(import_wall));

    // The first list after the import writes the read index; the timed ones read it.
    let list_n = ["list", "-n", "20"];
    mend(&home, &list_n, true);
    let lists: Vec<Run> = (0..a.runs).map(|_| mend(&home, &list_n, true)).collect();
    let log = home.join("shared/log");
    let mut appended = Vec::new();
    // Each write appends what it did to the index: the list after it reads the index too.
    let mut lists_after_write = Vec::new();
    let writes: Vec<Run> = (0..a.runs)
        .map(|i| {
            let before = std::fs::metadata(&log).unwrap().len();
            let text = format!("benchmark write {i}: {}", "a kept promise ".repeat(13));
            let r = mend(&home, &["write", &text], true);
            appended.push(
                std::fs::metadata(&log)
                    .unwrap()
                    .len()
                    .saturating_sub(before),
            );
            lists_after_write.push(mend(&home, &list_n, true));
            r
        })
        .collect();
    let list_wall = median(lists.iter().map(|r| r.wall).collect());
    let list_rss = median(lists.iter().map(|r| r.max_rss_kib).collect());
    let after_write_wall = median(lists_after_write.iter().map(|r| r.wall).collect());
    let after_write_rss = median(lists_after_write.iter().map(|r| r.max_rss_kib).collect());
    // Without an index (as after pairing or a sync that brought over 1,000 entries) a list
    // loads the journal and writes the index afresh.
    let rebuilds: Vec<Run> = (0..a.runs)
        .map(|_| {
            std::fs::remove_file(home.join("index")).unwrap();
            mend(&home, &list_n, true)
        })
        .collect();
    let rebuild_wall = median(rebuilds.iter().map(|r| r.wall).collect());
    let rebuild_rss = median(rebuilds.iter().map(|r| r.max_rss_kib).collect());
    let write_wall = median(writes.iter().map(|r| r.wall).collect());
    let write_rss = median(writes.iter().map(|r| r.max_rss_kib).collect());
    let append = median(appended);
    let index_on_disk = std::fs::metadata(home.join("index")).unwrap().len();
    let disk = dir_size(&home) - index_on_disk;

    // Where a command's time goes, measured in process on the same home.
    let h = Home::new(&home);
    let t = Instant::now();
    let (key_file, secrets) = h.unlock(&Passphrase::from(PASS)).unwrap();
    let unlock_test = t.elapsed();
    let t = Instant::now();
    let mut store = Store::open(
        &h,
        &secrets,
        key_file.journal_id,
        h.lock(LockMode::Read).unwrap(),
    )
    .unwrap();
    let open = t.elapsed();
    let t = Instant::now();
    let entries = store.journal(Doc::Shared).entries().unwrap();
    let read_all = t.elapsed();
    let t = Instant::now();
    let top = Filter {
        limit: Some(20),
        ..Default::default()
    }
    .apply(entries);
    let sort = t.elapsed();
    assert_eq!(top.len(), 20);
    let snapshot_bytes = store.stats(Doc::Shared).snapshot_bytes;
    let ops = store.journal(Doc::Shared).op_count();
    // What signing and the rules add to one write on this journal, in time and on disk.
    let (write_added, sig_bytes) = {
        let mut j = shared_copy(&mut store, &secrets);
        let me = j.my_person().unwrap();
        signed::write_costs(&mut j, &me, &Signer::from_seed(&secrets.identity_seed), 99)
    };
    drop(store);
    // The same entries through the read index, which the last list left current.
    let t = Instant::now();
    let (indexed, _) = Store::read_entries(
        &h,
        &secrets,
        key_file.journal_id,
        h.lock(LockMode::Read).unwrap(),
    )
    .unwrap();
    let read_index = t.elapsed();
    let index_bytes = std::fs::metadata(home.join("index")).unwrap().len();
    let t = Instant::now();
    let top = Filter {
        limit: Some(20),
        ..Default::default()
    }
    .apply(indexed.into_all());
    let sort_indexed = t.elapsed();
    assert_eq!(top.len(), 20);
    let base = baselines(&h, &secrets, key_file.journal_id, &export, a.runs);

    // Unlock at the default, calibrated profile: a real `mend init`, then `mend status`.
    let real = tmp.join("default-kdf");
    mend(&real, &["init", "--name", "Alex"], false);
    let real_params = Home::new(&real).read_key_file().unwrap().params;
    let unlocks: Vec<Run> = (0..3).map(|_| mend(&real, &["status"], false)).collect();
    let unlock_wall = median(unlocks.iter().map(|r| r.wall).collect());
    let unlock_rss = median(unlocks.iter().map(|r| r.max_rss_kib).collect());
    let t = Instant::now();
    KdfParams::calibrate(Duration::from_millis(700)).unwrap();
    let calibrate = t.elapsed();
    Offline {
        import_wall,
        import_rss,
        plain_bytes,
        list_wall,
        list_rss,
        after_write_wall,
        after_write_rss,
        rebuild_wall,
        rebuild_rss,
        write_wall,
        write_rss,
        append,
        index_on_disk,
        disk,
        unlock_test,
        open,
        read_all,
        sort,
        snapshot_bytes,
        ops,
        write_added,
        sig_bytes,
        read_index,
        index_bytes,
        sort_indexed,
        base,
        real_params,
        unlock_wall,
        unlock_rss,
        calibrate,
    }
}

fn main() {
    let a = args();
    if a.per_change_only {
        for _ in 0..a.runs {
            let (checked, unchecked) = signed::per_change((a.entries / 2).min(10_000));
            println!(
                "checked {checked:?}, unchecked {unchecked:?}, ratio {:.2}",
                checked.as_secs_f64() / unchecked.as_secs_f64()
            );
        }
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    if a.hostile_only {
        print!(
            "{}",
            hostile::section(&[
                hostile::measure(tmp.path(), a.runs.min(9), false),
                hostile::measure(tmp.path(), a.runs.min(9), true),
            ])
        );
        return;
    }
    if a.relay_only {
        let r = relay::reservations(tmp.path(), 100);
        let nat = relay::through_nats(a.entries);
        print!("{}", relay::section(&r, &nat, a.entries));
        return;
    }
    if a.pull_only {
        for r in 0..a.runs {
            let dir = tmp.path().join(format!("run{r}"));
            std::fs::create_dir_all(&dir).unwrap();
            let (join, baseline, n) = pulls(&dir, a.entries, 1);
            println!(
                "mend join of {n} entries: {:.0} ms (in-memory pull {:.0} ms)",
                join[0].as_secs_f64() * 1000.0,
                baseline[0].as_secs_f64() * 1000.0
            );
        }
        return;
    }
    if a.served_only {
        let home = a.home.clone().unwrap_or_else(|| tmp.path().join("home2"));
        if !home.join("device.key").exists() {
            mend(&home, &["init", "--name", "Alex"], true);
            let (export, _) = generate_for(a.entries, 42, vec![person_of(&home)]);
            let export_path = tmp.path().join("export.json");
            std::fs::write(&export_path, serde_json::to_vec(&export).unwrap()).unwrap();
            mend(&home, &["import", export_path.to_str().unwrap()], true);
        }
        mend(&home, &["list", "-n", "20"], true);
        print!(
            "{}",
            served::section(&served::measure(&home, a.runs.min(7)), a.entries)
        );
        return;
    }
    let o = measure_offline(&a, tmp.path());
    let n = a.entries;
    let half = n / 2;
    let runs = a.runs.min(3);
    eprintln!("sync benchmarks: {runs} runs of {half} + {half} entries");
    let figures = sync_figures(tmp.path(), half, runs);
    let pc = per_change_figures(half.min(10_000), a.runs.min(5));
    eprintln!("commands with mend serve running");
    let through_serve = served::measure(&tmp.path().join("home2"), a.runs.min(7));
    eprintln!("live propagation in network namespaces");
    let live = served::live();
    eprintln!("the relay: reservations, and sync through NATs in network namespaces");
    let reservations = relay::reservations(tmp.path(), 100);
    let nat = relay::through_nats(n);
    let md = [
        intro(&a, &o),
        summary_section(&o, &figures, &pc, n),
        offline_detail(&o, n),
        where_list_time_goes(&o, n),
        sync_section(&figures, half, runs),
        signed_section(&o, &figures, &pc, n),
        served::section(&through_serve, n),
        served::live_section(&live),
        relay::section(&reservations, &nat, n),
    ]
    .concat();
    match a.out {
        Some(p) => std::fs::write(&p, md).unwrap(),
        None => print!("{md}"),
    }
}

/// What was measured, how, and on what.
fn intro(a: &Args, o: &Offline) -> String {
    let &Offline {
        plain_bytes,
        unlock_test,
        ..
    } = o;
    let n = a.entries;
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str("Produced by `just bench`, which runs\n`cargo bench -p mend-cli --bench journal -- --out docs/benchmarks.md`\n");
    md.push_str(&format!(
        "(options: `--entries {n} --runs {}`). Each figure is the median of the runs; wall time is\n\
         measured around the real `mend` process, peak RSS is the child's `ru_maxrss` from `wait4`.\n\n",
        a.runs
    ));
    md.push_str(&format!("Machine: {}.\n\n", machine()));
    md.push_str(&format!(
        "Journal: {n} entries generated with seed 42 (ten years, ~200 characters each, {plain_bytes}\n\
         bytes of entry text, all by the importing person: an import writes only one's own\n\
         entries), imported with `mend import` from a Mend JSON export.\n\
         The timed commands use the test key-derivation profile (`MEND_INSECURE_TEST_KDF=1`, 256 KiB,\n\
         one pass: unlock {} in process), so their figures exclude the unlock, which is measured\n\
         on its own below at the default profile.\n\n",
        ms(unlock_test)
    ));
    md
}

/// The summary table: each figure beside its baseline.
fn summary_section(o: &Offline, figures: &SyncFigures, pc: &PerChange, n: usize) -> String {
    let &Offline {
        import_wall,
        list_wall,
        after_write_wall,
        rebuild_wall,
        write_wall,
        ref base,
        ..
    } = o;
    let &PerChange {
        per_change,
        per_change_checked,
        per_change_unchecked,
    } = pc;
    let half = n / 2;
    let mut md = String::new();
    md.push_str(&summary_table(&[
        Compared::new(
            "`mend list -n 20` (read index current)",
            list_wall,
            base.list,
            Some(base.floor),
            "≤ 150 ms",
            Some(list_wall <= Duration::from_millis(150)),
        ),
        Compared::new(
            "`mend list -n 20` right after a write",
            after_write_wall,
            base.list,
            Some(base.floor),
            "≤ 150 ms",
            Some(after_write_wall <= Duration::from_millis(150)),
        ),
        Compared::new(
            "`mend list -n 20` with no index (journal loaded, index written)",
            rebuild_wall,
            base.list,
            Some(base.floor),
            "",
            None,
        ),
        Compared::new(
            "`mend write`",
            write_wall,
            base.write,
            None,
            "≤ 150 ms",
            Some(write_wall <= Duration::from_millis(150)),
        ),
        Compared::new(
            &format!("`mend import` of {n} entries"),
            import_wall,
            base.import,
            None,
            "",
            None,
        ),
        Compared::new(
            &format!("diverged sync, {half} + {half} entries, every change checked (in memory)"),
            figures.baseline,
            figures.unverified,
            None,
            "≤ 1.5× the sync unchecked",
            Some(figures.baseline.as_secs_f64() <= 1.5 * figures.unverified.as_secs_f64()),
        ),
        Compared::new(
            &format!(
                "diverged sync, {per_change} + {per_change} entries of one change each, checked (in memory)"
            ),
            per_change_checked,
            per_change_unchecked,
            None,
            "≤ 1.5× unchecked",
            Some(per_change_checked.as_secs_f64() <= 1.5 * per_change_unchecked.as_secs_f64()),
        ),
        Compared::new(
            "incremental sync, one entry per side (session)",
            figures.incremental_session,
            figures.incremental_baseline,
            None,
            "≤ 50 ms, ≤ 4 KB",
            Some(
                figures.incremental_session <= Duration::from_millis(50)
                    && figures.incremental_bytes <= 4_000,
            ),
        ),
        Compared::new(
            &format!(
                "a new device pulls {} entries (`mend join`)",
                figures.pull_entries
            ),
            figures.pull,
            figures.pull_baseline,
            None,
            "≤ 2 s",
            Some(figures.pull <= Duration::from_secs(2)),
        ),
    ]));
    md
}

/// The offline journal in detail: wall times, memory, bytes, unlock.
fn offline_detail(o: &Offline, n: usize) -> String {
    let &Offline {
        import_wall,
        import_rss,
        plain_bytes,
        list_wall,
        list_rss,
        after_write_wall,
        after_write_rss,
        rebuild_wall,
        rebuild_rss,
        write_wall,
        write_rss,
        append,
        index_on_disk,
        disk,
        ref real_params,
        unlock_wall,
        unlock_rss,
        calibrate,
        ..
    } = o;
    let mut md = String::new();
    md.push_str("## The offline journal in detail\n\n");
    md.push_str("| figure | median | target | |\n|---|---|---|---|\n");
    for (what, wall, rss, timed) in [
        ("", list_wall, list_rss, true),
        (
            " right after a write",
            after_write_wall,
            after_write_rss,
            true,
        ),
        (" with no index", rebuild_wall, rebuild_rss, false),
    ] {
        let (target, verdict) = match timed {
            true => ("≤ 150 ms", met(wall <= Duration::from_millis(150))),
            false => ("", ""),
        };
        md.push_str(&format!(
            "| `mend list -n 20`{what} wall time | {} | {target} | {verdict} |\n",
            ms(wall),
        ));
        md.push_str(&format!(
            "| `mend list -n 20`{what} peak RSS | {} | ≤ 150 MB | {} |\n",
            mb(rss),
            met(rss * 1024 <= 150_000_000)
        ));
    }
    md.push_str(&format!(
        "| `mend write` wall time | {} | ≤ 150 ms | {} |\n",
        ms(write_wall),
        met(write_wall <= Duration::from_millis(150))
    ));
    md.push_str(&format!(
        "| `mend write` peak RSS | {} | ≤ 150 MB | {} |\n",
        mb(write_rss),
        met(write_rss * 1024 <= 150_000_000)
    ));
    md.push_str(&format!(
        "| bytes appended to the log by one write | {append} | O(entry) | {} |\n",
        met(append < 2048)
    ));
    md.push_str(&format!(
        "| `mend import` of {n} entries | {} | | |\n",
        ms(import_wall)
    ));
    md.push_str(&format!(
        "| `mend import` peak RSS | {} | | |\n",
        mb(import_rss)
    ));
    md.push_str(&format!(
        "| bytes on disk / plaintext bytes (journal files) | {disk} / {plain_bytes} = {:.2} | | |\n",
        disk as f64 / plain_bytes as f64
    ));
    md.push_str(&format!(
        "| bytes of the read index (a cache) / plaintext bytes | {index_on_disk} / {plain_bytes} = {:.2} | | |\n",
        index_on_disk as f64 / plain_bytes as f64
    ));
    md.push_str(&format!(
        "| unlock at the default profile (`mend status`, {} MiB, {} passes) | {} | 0.5–1 s | {} |\n",
        real_params.memory_kib / 1024,
        real_params.time_cost,
        ms(unlock_wall),
        met(unlock_wall >= Duration::from_millis(500) && unlock_wall <= Duration::from_millis(1100))
    ));
    md.push_str(&format!(
        "| peak RSS of that unlock | {} | | |\n",
        mb(unlock_rss)
    ));
    md.push_str(&format!(
        "| calibration at `mend init` | {} | | |\n\n",
        ms(calibrate)
    ));
    md
}

/// Where the time of `mend list` goes, in process.
fn where_list_time_goes(o: &Offline, n: usize) -> String {
    let &Offline {
        rebuild_wall,
        unlock_test,
        open,
        read_all,
        sort,
        snapshot_bytes,
        ops,
        read_index,
        index_bytes,
        sort_indexed,
        ..
    } = o;
    let mut md = String::new();
    md.push_str("## Where the time of `mend list -n 20` goes (in process, same journal)\n\n");
    md.push_str(
        "`mend list` and `mend search` read entries through a sealed read index (`docs/format.md`)\n\
         while the journal files are as the index records them. Every change appends what it did\n\
         to the entries, so a list after a write still reads the index; only after a change\n\
         besides entries (pairing) or to more than 1,000 entries at once (a large sync or\n\
         import), or with no index at all, does a list load the journal and write the index\n\
         afresh (\"index stale\" below).\n\n",
    );
    md.push_str("| step | time |\n|---|---|\n");
    md.push_str(&format!(
        "| unlock (test profile) | {} |\n",
        ms(unlock_test)
    ));
    md.push_str(&format!(
        "| index current: read, decrypt and parse the index ({index_bytes} bytes, {n} entries) | {} |\n",
        ms(read_index)
    ));
    md.push_str(&format!(
        "| index current: filter and sort, keep 20 | {} |\n",
        ms(sort_indexed)
    ));
    md.push_str(&format!(
        "| index stale: read, decrypt and load the snapshot ({snapshot_bytes} bytes) and log | {} |\n",
        ms(open)
    ));
    md.push_str(&format!(
        "| index stale: read all {n} entries out of the document | {} |\n",
        ms(read_all)
    ));
    md.push_str(&format!(
        "| index stale: filter and sort, keep 20 | {} |\n",
        ms(sort)
    ));
    md.push_str(
        "\nThe rest of the wall time is process start-up, printing and, when the index was stale,\n\
         writing it afresh.\n",
    );
    md.push_str(&format!(
        "\nWith the index stale, loading the journal takes {:.0}% of the list's wall time, nearly\n\
         all of it Automerge loading the document ({} operations for {n} entries, about 6 per\n\
         entry); reading the entries out takes most of the rest. `mend write` pays the same load\n\
         only the first time after the journal changed some other way: while the files are\n\
         unchanged it builds its change from the `tips` file beside them (docs/format.md).\n",
        open.as_secs_f64() / rebuild_wall.as_secs_f64() * 100.0,
        ops
    ));
    md
}

/// What signed changes cost, beside the same work without them.
fn signed_section(o: &Offline, figures: &SyncFigures, pc: &PerChange, n: usize) -> String {
    let &Offline {
        write_wall,
        write_added,
        sig_bytes,
        ..
    } = o;
    let &PerChange {
        per_change,
        per_change_checked,
        per_change_unchecked,
    } = pc;
    let half = n / 2;
    let mut md = String::new();
    md.push_str(&format!(
        "\n## Signed changes\n\n\
         Every change is signed by the device that made it and checked (signature, registry,\n\
         rules) by every device that receives it, before it is applied. The figures put that\n\
         work beside the same work without it, in the same run.\n\n\
         | figure | median | target | |\n|---|---|---|---|\n\
         | diverged sync {half} + {half} (imports: a few large changes), in memory through Mend's sync core, every change checked | {} | | |\n\
         | the same two documents synced by Automerge alone, in memory, nothing checked | {} | | |\n\
         | ratio: the same sync checked / not checked | {:.2}× | ≤ 1.5× | {} |\n\
         | the same sync as a session between two `mend` processes (network, storage, both sides) | {} | | |\n\
         | ratio: that session / Automerge alone in memory | {:.2}× | | |\n\
         | diverged sync {per_change} + {per_change} entries written one by one (one signed change each), checked, in memory | {} | | |\n\
         | the same, Automerge alone | {} | | |\n\
         | ratio | {:.2}× | ≤ 1.5× | {} |\n\
         | added to one `mend write` on the {n}-entry journal by the rules and the signature (in process) | {:.3} ms | ≤ 5 ms | {} |\n\
         | `mend write` wall time now (the release before signed changes: 258.8 ms in its own run) | {} | | |\n\
         | bytes a change's signature adds to its log record on disk | {} | ≤ 100 | {} |\n\
         | bytes per signed change in a snapshot (hash and signature) | 96 | ≤ 100 | met |\n\n\
         A snapshot keeps one (hash, signature) pair of 96 bytes per signed change; a log record\n\
         one 64-byte signature per change after the changes' 4-byte length. A new device pulling\n\
         the journal checks every change it receives: its figure is `mend join` in the sync table\n\
         above, verification included.\n\n\
         With one change per entry, where the checks cost most, three things keep them within\n\
         the target: signatures are verified many at once (ZIP 215 batch verification, about\n\
         8 µs a signature against 50 µs one by one, with the same verdict) on other threads\n\
         while the rules run; a peer that holds something is sent the changes it lacks rather\n\
         than a whole saved document to take apart; and the accepted changes are applied as\n\
         already read instead of read again by Automerge. Profiled in one run, per direction:\n\
         the rules about 0.1 s, reading the changes 0.03-0.09 s, Automerge applying them\n\
         0.3-0.45 s.\n",
        ms(figures.baseline),
        ms(figures.unverified),
        figures.baseline.as_secs_f64() / figures.unverified.as_secs_f64(),
        met(figures.baseline.as_secs_f64() <= 1.5 * figures.unverified.as_secs_f64()),
        ms(figures.diverged_session),
        figures.diverged_session.as_secs_f64() / figures.unverified.as_secs_f64(),
        ms(per_change_checked),
        ms(per_change_unchecked),
        per_change_checked.as_secs_f64() / per_change_unchecked.as_secs_f64(),
        met(per_change_checked.as_secs_f64() <= 1.5 * per_change_unchecked.as_secs_f64()),
        write_added.as_secs_f64() * 1000.0,
        met(write_added <= Duration::from_millis(5)),
        ms(write_wall),
        sig_bytes,
        met(sig_bytes <= 100),
    ));
    md
}

// ---- Sync -------------------------------------------------------------------------------

/// A `mend` process in the background (invite, serve), its output read line by line.
struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Background {
    fn start(home: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mend"))
            .arg("--home")
            .arg(home)
            .args(args)
            .env("MEND_PASSPHRASE", PASS)
            .env("MEND_INSECURE_TEST_KDF", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mend");
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn wait_for(&self, needle: &str) -> String {
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no line with {needle:?}"));
            if l.contains(needle) {
                return l;
            }
        }
    }

    fn address(&self) -> String {
        self.wait_for("/ip4/127.0.0.1/tcp/").trim().to_owned()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LOOPBACK: &str = "/ip4/127.0.0.1/tcp/0";

/// Pair a new device `b` with `a`; returns the `mend join` run.
fn pair(a: &Path, b: &Path) -> Run {
    let invite = Background::start(
        a,
        &[
            "invite",
            "--yes",
            "--listen",
            LOOPBACK,
            "--no-mdns",
            "--timeout",
            "120",
        ],
    );
    let code = invite
        .wait_for("Invite code:")
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let addr = invite.address();
    let run = mend(b, &["join", &code, "--name", "Sam", "--peer", &addr], true);
    let mut invite = invite;
    let _ = invite.child.wait();
    run
}

fn person_of(home: &Path) -> Person {
    let (_, s) = Home::new(home).unlock(&Passphrase::from(PASS)).unwrap();
    Person {
        id: s.person_id.clone(),
        name: s.person_name.clone(),
    }
}

fn import(home: &Path, tmp: &Path, n: usize, seed: u64, who: Person) {
    let (export, _) = generate_for(n, seed, vec![who]);
    let file = tmp.join(format!("export-{seed}.json"));
    std::fs::write(&file, serde_json::to_vec(&export).unwrap()).unwrap();
    mend(home, &["import", file.to_str().unwrap()], true);
}

/// A copy of the store's shared journal, with its signatures, as this device would load it.
fn shared_copy(store: &mut Store, secrets: &mend_crypto::DeviceSecrets) -> Journal {
    let saved = SavedShared::decode(&store.journal_mut(Doc::Shared).save_signed()).unwrap();
    Journal::load(
        &saved.doc,
        saved.signatures,
        saved.legacy_heads,
        &Signer::from_seed(&secrets.identity_seed),
        store.journal_id().0,
        false,
    )
    .unwrap()
}

/// The shared journal of a home and its saved sync state for a peer, loaded in process.
fn journal_and_state(
    home: &Path,
    peer_state: impl Fn(&str) -> String,
) -> (Journal, Option<Vec<u8>>) {
    let h = Home::new(home);
    let (key_file, secrets) = h.unlock(&Passphrase::from(PASS)).unwrap();
    let mut store = Store::open(
        &h,
        &secrets,
        key_file.journal_id,
        h.lock(LockMode::Read).unwrap(),
    )
    .unwrap();
    let other = store
        .journal(Doc::Shared)
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.key != secrets.public_key_hex())
        .unwrap();
    let state = store.load_peer_state(&peer_state(&other.key)).unwrap();
    let mut j = shared_copy(&mut store, &secrets);
    let _ = j.heads();
    (j, state)
}

/// Run a session from `b` (initiating) to `a` (answering) to its end; no change may be refused.
fn run_session(
    session: &mut mend_sync::SyncSession,
    ja: &mut Journal,
    state: &mut mend_journal::SyncState,
    jb: &mut Journal,
) {
    while let mend_sync::Step::Send {
        message,
        signatures,
    } = session.step(jb).unwrap()
    {
        let reply = mend_sync::respond(ja, state, &message, &signatures).unwrap();
        assert!(reply.admission.refused.is_empty(), "{:?}", reply.admission);
        session
            .on_reply(jb, &reply.message, &reply.signatures)
            .unwrap();
    }
    assert!(session.refused().is_empty(), "{:?}", session.refused());
}

/// The same two documents synced in memory with the same protocol: the floor for Mend's overhead.
fn in_memory_sync(a: &Path, b: &Path) -> (Duration, u64) {
    let (mut ja, a_answering) = journal_and_state(a, |k| format!("{k}-r"));
    let (mut jb, b_initiating) = journal_and_state(b, |k| format!("{k}-i"));
    let started = Instant::now();
    let mut session = mend_sync::SyncSession::new(b_initiating.as_deref());
    let mut state = a_answering
        .and_then(|s| mend_journal::SyncState::decode(&s).ok())
        .unwrap_or_default();
    run_session(&mut session, &mut ja, &mut state, &mut jb);
    let took = started.elapsed();
    assert_eq!(ja.len(), jb.len());
    (took, session.bytes_sent + session.bytes_received)
}

/// The same two documents and sync states synced by Automerge alone (no signatures, no rules).
fn in_memory_sync_unverified(a: &Path, b: &Path) -> Duration {
    let (mut ja, a_answering) = journal_and_state(a, |k| format!("{k}-r"));
    let (mut jb, b_initiating) = journal_and_state(b, |k| format!("{k}-i"));
    let (mut da, mut db) = (ja.doc_mut().clone(), jb.doc_mut().clone());
    let state = |s: Option<Vec<u8>>| {
        s.and_then(|s| automerge::sync::State::decode(&s).ok())
            .unwrap_or_default()
    };
    let (mut sa, mut sb) = (state(a_answering), state(b_initiating));
    let started = Instant::now();
    signed::unverified_sync(&mut db, &mut sb, &mut da, &mut sa);
    let took = started.elapsed();
    assert_eq!(da.get_heads(), db.get_heads());
    took
}

/// A new, empty document pulling the whole journal in memory with the same protocol.
fn in_memory_pull(a: &Path) -> Duration {
    let h = Home::new(a);
    let (key_file, secrets) = h.unlock(&Passphrase::from(PASS)).unwrap();
    let mut store = Store::open(
        &h,
        &secrets,
        key_file.journal_id,
        h.lock(LockMode::Read).unwrap(),
    )
    .unwrap();
    let mut ja = shared_copy(&mut store, &secrets);
    let legacy_heads = ja.legacy_heads().to_vec();
    drop(store);
    // The new device: an empty document that checks everything it receives.
    let new_device = Signer::from_seed(&[9; 32]);
    let mut jb = Journal::empty(key_file.journal_id.0, &new_device, false, legacy_heads);
    let started = Instant::now();
    let mut session = mend_sync::SyncSession::new(None);
    let mut state = mend_journal::SyncState::new();
    run_session(&mut session, &mut ja, &mut state, &mut jb);
    let took = started.elapsed();
    assert_eq!(ja.len(), jb.len());
    took
}

fn summary(run: &Run) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("sync --json output");
    v[0].clone()
}

fn bytes_of(s: &serde_json::Value) -> u64 {
    s["bytes_sent"].as_u64().unwrap() + s["bytes_received"].as_u64().unwrap()
}

struct SyncFigures {
    diverged: Duration,
    diverged_session: Duration,
    baseline: Duration,
    /// The same two documents synced by Automerge alone: no signatures, no rules.
    unverified: Duration,
    diverged_bytes: u64,
    baseline_bytes: u64,
    incremental: Duration,
    incremental_session: Duration,
    incremental_bytes: u64,
    incremental_baseline: Duration,
    pull: Duration,
    pull_baseline: Duration,
    pull_entries: usize,
}

fn sync_figures(tmp: &Path, half: usize, runs: usize) -> SyncFigures {
    let mut diverged = Vec::new();
    let mut diverged_session = Vec::new();
    let mut baseline = Vec::new();
    let mut unverified = Vec::new();
    let mut d_bytes = Vec::new();
    let mut b_bytes = Vec::new();
    let mut incremental = Vec::new();
    let mut incremental_session = Vec::new();
    let mut i_bytes = Vec::new();
    let mut incremental_baseline = Vec::new();
    for r in 0..runs {
        let a = tmp.join(format!("sync{r}-a"));
        let b = tmp.join(format!("sync{r}-b"));
        mend(&a, &["init", "--name", "Alex"], true);
        pair(&a, &b);
        import(&a, tmp, half, 100 + r as u64, person_of(&a));
        import(&b, tmp, half, 200 + r as u64, person_of(&b));
        let (t, bytes) = in_memory_sync(&a, &b);
        baseline.push(t);
        b_bytes.push(bytes);
        unverified.push(in_memory_sync_unverified(&a, &b));
        let serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
        let addr = serve.address();
        let run = mend(&b, &["sync", "--peer", &addr, "--json"], true);
        let s = summary(&run);
        assert_eq!(s["entries_received"].as_u64(), Some(half as u64));
        diverged.push(run.wall);
        diverged_session.push(Duration::from_millis(s["elapsed"].as_u64().unwrap()));
        d_bytes.push(bytes_of(&s));
        mend(&a, &["write", "one more from Alex"], true);
        mend(&b, &["write", "one more from Sam"], true);
        incremental_baseline.push(in_memory_sync(&a, &b).0);
        // Let the serving side notice the write and push it first, as it would in use.
        std::thread::sleep(Duration::from_millis(2500));
        let run = mend(&b, &["sync", "--peer", &addr, "--json"], true);
        let s = summary(&run);
        incremental.push(run.wall);
        incremental_session.push(Duration::from_millis(s["elapsed"].as_u64().unwrap()));
        i_bytes.push(bytes_of(&s));
        drop(serve);
    }
    let (pulls, pull_baseline, pulled) = pulls(tmp, 2 * half, runs);
    SyncFigures {
        diverged: median(diverged),
        diverged_session: median(diverged_session),
        baseline: median(baseline),
        unverified: median(unverified),
        diverged_bytes: median(d_bytes),
        baseline_bytes: median(b_bytes),
        incremental: median(incremental),
        incremental_session: median(incremental_session),
        incremental_bytes: median(i_bytes),
        incremental_baseline: median(incremental_baseline),
        pull: median(pulls),
        pull_baseline: median(pull_baseline),
        pull_entries: pulled,
    }
}

/// `runs` fresh journals of `n` entries, each pulled by a new device with `mend join`: the
/// joins' wall times, the in-memory pulls of the same journals, and how many entries arrived.
fn pulls(tmp: &Path, n: usize, runs: usize) -> (Vec<Duration>, Vec<Duration>, usize) {
    let mut pulls = Vec::new();
    let mut pull_baseline = Vec::new();
    let mut pulled = 0;
    for r in 0..runs {
        let a = tmp.join(format!("pull{r}-a"));
        let b = tmp.join(format!("pull{r}-b"));
        mend(&a, &["init", "--name", "Alex"], true);
        import(&a, tmp, n, 300 + r as u64, person_of(&a));
        pull_baseline.push(in_memory_pull(&a));
        let run = pair(&a, &b);
        pulled = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("Received the journal: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert_eq!(pulled, n, "{}", run.stdout);
        pulls.push(run.wall);
    }
    (pulls, pull_baseline, pulled)
}

fn sync_section(f: &SyncFigures, half: usize, runs: usize) -> String {
    let met = |ok: bool| if ok { "met" } else { "**missed**" };
    let ratio = f.diverged_session.as_secs_f64() / f.baseline.as_secs_f64();
    let mut md = format!(
        "\n## Sync (two devices over libp2p on 127.0.0.1, median of {runs} runs)\n\n\
         Each run pairs two fresh devices with `mend invite` / `mend join --peer`, imports\n\
         {half} entries on each side while apart, starts `mend serve` on one and runs\n\
         `mend sync --peer ADDR --json` on the other. The baseline loads the same two documents\n\
         and sync states in process and runs the same sync core with no storage and no network.\n\n\
         | figure | median | target | |\n|---|---|---|---|\n"
    );
    md.push_str(&format!(
        "| diverged sync {half} + {half}: the session (network, storage, both sides) | {} | ≤ 1.5× baseline | {} ({ratio:.2}×) |\n",
        ms(f.diverged_session),
        met(ratio <= 1.5)
    ));
    md.push_str(&format!(
        "| same, in memory (baseline) | {} | | |\n",
        ms(f.baseline)
    ));
    md.push_str(&format!(
        "| diverged sync: whole `mend sync` command (start, unlock, load, session) | {} | | |\n",
        ms(f.diverged)
    ));
    md.push_str(&format!(
        "| diverged sync: bytes of sync messages (baseline {}) | {} | | |\n",
        f.baseline_bytes, f.diverged_bytes
    ));
    md.push_str(&format!(
        "| incremental, one new entry per side after reconnect: the session | {} | ≤ 50 ms | {} |\n",
        ms(f.incremental_session),
        met(f.incremental_session <= Duration::from_millis(50))
    ));
    md.push_str(&format!(
        "| incremental: bytes of sync messages and signatures | {} | ≤ 4 KB | {} |\n",
        f.incremental_bytes,
        met(f.incremental_bytes <= 4_000)
    ));
    md.push_str(&format!(
        "| incremental: whole `mend sync` command | {} | | |\n",
        ms(f.incremental)
    ));
    md.push_str(&format!(
        "| a new device pulls a {}-entry journal: whole `mend join` (pairing, key file, pull) | {} | ≤ 2 s | {} |\n",
        f.pull_entries,
        ms(f.pull),
        met(f.pull <= Duration::from_secs(2))
    ));
    md.push_str(
        "\nThe session figures come from `mend sync --json` (`elapsed`: from the first message to\n\
         the end, including the answering side's loading and durable commits). The whole-command\n\
         figures add process start-up and opening the local journal, which for a 20,000-entry\n\
         journal is most of the time (see `mend list` above).\n",
    );
    md
}

// ---- Baselines and the summary ------------------------------------------------------------

/// In-process baselines on the same journal: no process, no storage (or no Automerge).
struct Baselines {
    /// Read and decrypt the journal's files, nothing more: the I/O floor of opening it.
    floor: Duration,
    /// Load the already-decrypted document, read the entries, keep the newest 20.
    list: Duration,
    /// Load the document, add one entry, take its changes.
    write: Duration,
    /// Create a journal and add every entry of the export as one change, then save it.
    import: Duration,
}

fn baselines(
    h: &Home,
    secrets: &mend_crypto::DeviceSecrets,
    jid: mend_crypto::JournalId,
    export: &MendExport,
    runs: usize,
) -> Baselines {
    use mend_crypto::{open_record, RecordKind};
    let files = [
        ("shared/snapshot", RecordKind::SignedSharedSnapshot),
        ("shared/log", RecordKind::SignedSharedLog),
        ("private/snapshot", RecordKind::PrivateSnapshot),
        ("private/log", RecordKind::PrivateLog),
    ];
    // The private journal is sealed under this device's own key.
    let device = secrets.device_key(&jid);
    let read_and_decrypt = || -> Vec<Vec<u8>> {
        let mut plain = Vec::new();
        for (f, kind) in files {
            let bytes = std::fs::read(h.root().join(f)).unwrap();
            let decoded = mend_store::decode_records(&bytes).unwrap();
            let key = if f.starts_with("private") {
                &device
            } else {
                &secrets.journal_key
            };
            // Log records are chained: each opens at its position after the one before.
            // The first binds the snapshot the log follows, named in its header.
            let mut link = mend_crypto::Chain {
                position: 0,
                previous: decoded.header.follows.unwrap_or_default(),
            };
            for r in decoded.records {
                if f.ends_with("log") {
                    plain.push(mend_crypto::open_chained(key, &jid, kind, &link, r).unwrap());
                    link = link.after(r).unwrap();
                    continue;
                }
                plain.push(open_record(key, &jid, kind, r).unwrap());
            }
        }
        plain
    };
    let time = |f: &mut dyn FnMut()| {
        median(
            (0..runs.max(1))
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .collect(),
        )
    };
    let floor = time(&mut || {
        read_and_decrypt();
    });
    let snapshot = read_and_decrypt().remove(0);
    let signer = Signer::from_seed(&secrets.identity_seed);
    // The shared snapshot's body: the document and the signatures of its changes.
    let load = || {
        let saved = SavedShared::decode(&snapshot).unwrap();
        Journal::load(
            &saved.doc,
            saved.signatures,
            saved.legacy_heads,
            &signer,
            jid.0,
            false,
        )
        .unwrap()
    };
    let list = time(&mut || {
        let j = load();
        let top = Filter {
            limit: Some(20),
            ..Default::default()
        }
        .apply(j.entries().unwrap());
        assert_eq!(top.len(), 20);
    });
    let write = time(&mut || {
        let mut j = load();
        let heads = j.heads();
        let e = mend_journal::NewEntry {
            id: "f".repeat(32),
            author_id: secrets.person_id.clone(),
            text: "benchmark write".into(),
            kind: Kind::Entry,
            ..Default::default()
        };
        j.add_entry(&e, Utc::now()).unwrap();
        assert!(!j.signed_changes_since(&heads).unwrap().is_empty());
    });
    let list_of_new: Vec<mend_journal::NewEntry> = export
        .entries
        .iter()
        .map(|e| mend_journal::NewEntry {
            id: e.id.clone(),
            author_id: e.author_id.clone(),
            created_at: e.created_at,
            written_at: e.written_at,
            text: e.text.clone(),
            tags: e.tags.clone(),
            mood: e.mood,
            kind: e.kind,
            ..Default::default()
        })
        .collect();
    let founder = export.people[0].clone();
    let device = Some(secrets.device_name.as_str());
    let import = time(&mut || {
        let mut j = Journal::create(jid.0, &founder, device, &signer, false, Utc::now()).unwrap();
        j.add_entries(&list_of_new, Utc::now()).unwrap();
        j.save_signed();
    });
    Baselines {
        floor,
        list,
        write,
        import,
    }
}

/// One line of the summary: Mend against its in-memory baseline.
struct Compared {
    figure: String,
    mend: Duration,
    baseline: Duration,
    floor: Option<Duration>,
    target: &'static str,
    met: Option<bool>,
}

impl Compared {
    fn new(
        figure: &str,
        mend: Duration,
        baseline: Duration,
        floor: Option<Duration>,
        target: &'static str,
        met: Option<bool>,
    ) -> Self {
        Self {
            figure: figure.into(),
            mend,
            baseline,
            floor,
            target,
            met,
        }
    }
}

fn summary_table(rows: &[Compared]) -> String {
    let mut md = String::from(
        "## Summary: Mend against its baselines, measured in the same run\n\n\
         The baseline is the same Automerge work in memory (no process, no storage, no network);\n\
         the I/O floor is reading and decrypting the same files and nothing else.\n\n\
         | figure | Mend (median) | baseline (median) | ratio | I/O floor | target | |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.2}× | {} | {} | {} |\n",
            r.figure,
            ms(r.mend),
            ms(r.baseline),
            r.mend.as_secs_f64() / r.baseline.as_secs_f64().max(1e-9),
            r.floor.map(ms).unwrap_or_default(),
            r.target,
            match r.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "",
            }
        ));
    }
    md.push('\n');
    md
}
