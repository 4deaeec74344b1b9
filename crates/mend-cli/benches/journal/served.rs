//! Commands with `mend serve` running on the home (they run through it, no passphrase) beside
//! the same commands run directly, and what serve itself holds in memory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::PASS;

/// Medians of one command, run directly and through serve.
pub struct Pair {
    pub label: &'static str,
    /// Run directly, the first time after the journal changed some other way (the `tips`
    /// file removed): `write` and `status` load the documents.
    pub direct_first: Duration,
    pub direct: Duration,
    pub served: Duration,
}

pub struct Served {
    /// `mend --version`: starting the process and nothing else.
    pub startup: Duration,
    pub commands: Vec<Pair>,
    /// Peak RSS of `mend serve` after the commands (VmHWM), KiB.
    pub serve_rss_kib: u64,
    /// How many times each command ran, each way.
    pub runs: usize,
}

fn run(home: &Path, args: &[&str], passphrase: bool) -> Duration {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mend"));
    cmd.arg("--home")
        .arg(home)
        .args(args)
        .env("MEND_INSECURE_TEST_KDF", "1")
        .env_remove("MEND_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if passphrase {
        cmd.env("MEND_PASSPHRASE", PASS);
    }
    let started = Instant::now();
    let status = cmd.status().expect("spawn mend");
    let wall = started.elapsed();
    assert!(status.success(), "mend {args:?} failed");
    wall
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Time `list -n 20`, `write`, `search`, `status` on `home` directly, then with `mend serve`
/// running on it.
pub fn measure(home: &Path, runs: usize) -> Served {
    let commands: [(&'static str, Vec<&str>); 4] = [
        ("`mend list -n 20`", vec!["list", "-n", "20"]),
        (
            "`mend write`",
            vec!["write", "a kept promise, written while serve runs"],
        ),
        ("`mend search promise`", vec!["search", "promise"]),
        ("`mend status`", vec!["status"]),
    ];
    let startup = median(
        (0..runs)
            .map(|_| run(home, &["--version"], false))
            .collect(),
    );
    let direct: Vec<(Duration, Duration)> = commands
        .iter()
        .map(|(_, args)| {
            let _ = std::fs::remove_file(home.join("tips"));
            let first = run(home, args, true);
            (
                first,
                median((0..runs).map(|_| run(home, args, true)).collect()),
            )
        })
        .collect();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_mend"))
        .arg("--home")
        .arg(home)
        .args(["serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .env("MEND_INSECURE_TEST_KDF", "1")
        .env("MEND_PASSPHRASE", PASS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mend serve");
    let out = serve.stdout.take().expect("piped");
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        if line.expect("serve output").contains("Ctrl-C stops.") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let served: Vec<Duration> = commands
        .iter()
        .map(|(_, args)| {
            // The first run warms the page cache the same way the direct runs did.
            run(home, args, false);
            median((0..runs).map(|_| run(home, args, false)).collect())
        })
        .collect();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", serve.id())).unwrap_or_default();
    let serve_rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    let _ = serve.wait();
    Served {
        runs,
        startup,
        commands: commands
            .iter()
            .zip(direct.into_iter().zip(served))
            .map(|((label, _), ((direct_first, direct), served))| Pair {
                label,
                direct_first,
                direct,
                served,
            })
            .collect(),
        serve_rss_kib,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The section of docs/benchmarks.md.
pub fn section(s: &Served, n: usize) -> String {
    let targets = [
        (
            "≤ start-up + 20 ms",
            s.startup + Duration::from_millis(20),
            Duration::from_millis(50),
        ),
        (
            "≤ start-up + 25 ms",
            s.startup + Duration::from_millis(25),
            Duration::from_millis(100),
        ),
        (
            "≤ 60 ms",
            Duration::from_millis(60),
            Duration::from_millis(100),
        ),
        (
            "≤ 40 ms",
            Duration::from_millis(40),
            Duration::from_millis(100),
        ),
    ];
    let met = |ok: bool| if ok { "met" } else { "**missed**" };
    let mut md = format!(
        "\n## With `mend serve` running\n\n\
         While `mend serve` runs on a home, the other commands on it go through it (no\n\
         passphrase, no key derivation): `mend write` hands serve the entry it prepared; `list`,\n\
         `search` and `status` send serve their question and render its answer; the others run\n\
         as serve's child processes with the key. Each command below runs {runs} times in a row\n\
         (median shown). Figures on the {n}-entry journal, wall time of the\n\
         whole command as a person runs it (the test key profile for the direct runs, so that\n\
         only journal work counts). Process start-up (`mend --version`): {}. \"First\" is the\n\
         direct run right after the journal changed some other way (the `tips` file removed).\n\n\
         | command | directly, first | directly | target | | through serve | target | |\n\
         |---|---|---|---|---|---|---|---|\n",
        ms(s.startup),
        runs = s.runs,
    );
    for (p, (label, served_target, direct_target)) in s.commands.iter().zip(targets) {
        md.push_str(&format!(
            "| {} | {} | {} | ≤ {} | {} | {} | {label} | {} |\n",
            p.label,
            ms(p.direct_first),
            ms(p.direct),
            ms(direct_target),
            met(p.direct <= direct_target),
            ms(p.served),
            met(p.served <= served_target),
        ));
    }
    md.push_str(&format!(
        "| peak RSS of `mend serve` after these | | | | | {:.1} MB | ≤ 150 MB | {} |\n\n\
         Serve answers `list`, `search` and `status` from the entries it keeps in memory while\n\
         the journal files are unchanged; the first question after a write (here, the first\n\
         search after the writes) reads them again through the read index. `mend search\n\
         promise` finds 59% of the entries here, so most of its time is printing them. Run\n\
         directly, `mend write` and `mend status` read the `tips` file beside the journal\n\
         (docs/format.md) instead of loading the Automerge documents while the files are\n\
         unchanged since the last command that did; the first run after the journal changed\n\
         some other way (a sync, an edit) loads them (about 150 ms, see where the time of a\n\
         list goes above) and writes the file afresh. With serve running neither loads\n\
         anything. Directly, the key derivation at the default profile (see the unlock figure\n\
         above) comes on top.\n",
        s.serve_rss_kib as f64 * 1024.0 / 1e6,
        met(s.serve_rss_kib * 1024 <= 150_000_000),
    ));
    md
}

/// Live propagation between two serving laptops in two network namespaces (real mDNS), by
/// `tests/netns/live.sh`: its output lines, or why it could not run here.
pub fn live() -> Result<Vec<String>, String> {
    netns_lines("live", &["8"])
}

/// Run tests/netns/NAME.sh with the benchmark's `mend` and `args`: the lines it printed that
/// start with `NAME: ` (without it), or why it did not run or failed.
pub fn netns_lines(name: &str, args: &[&str]) -> Result<Vec<String>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/netns/{name}.sh"));
    let out = Command::new("bash")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_mend"))
        .args(args)
        .output()
        .map_err(|e| format!("could not start bash: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let prefix = format!("{name}: ");
    match out.status.code() {
        Some(0) => Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()),
        Some(2) => Err(text
            .lines()
            .find(|l| l.contains("CANNOT RUN"))
            .unwrap_or("the network-namespace test cannot run here")
            .to_owned()),
        _ => Err(format!("the {name} test failed:\n{text}")),
    }
}

/// The live propagation section of docs/benchmarks.md.
pub fn live_section(live: &Result<Vec<String>, String>) -> String {
    let mut md = String::from(
        "\n## Live propagation between two serving laptops\n\n\
         `tests/netns/live.sh`: two network namespaces joined by a veth pair, `mend serve` in each,\n\
         found by mDNS. Entries are written in turn on each laptop (through its serve); the time\n\
         from the end of the write to the first `mend list` on the other laptop that shows the\n\
         entry (the list's own run time included). Target: median ≤ 300 ms.\n\n",
    );
    match live {
        Ok(lines) => {
            let median = lines
                .iter()
                .find(|l| l.starts_with("median propagation"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse::<f64>().ok());
            for l in lines {
                md.push_str(&format!("- {l}\n"));
            }
            md.push_str(&format!(
                "\nMedian: {}.\n",
                match median {
                    Some(m) if m <= 300.0 => format!("{m:.0} ms, met"),
                    Some(m) => format!("{m:.0} ms, **missed**"),
                    None => "not found in the output".into(),
                }
            ));
        }
        Err(why) => md.push_str(&format!("Not measured in this run: {why}\n")),
    }
    md
}
