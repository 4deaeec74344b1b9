//! `mend demo`: two partners' laptops, Alex's and Sam's, each with its own home and passphrase
//! in a temporary directory. They pair with a code over libp2p on 127.0.0.1, write while apart,
//! sync, and show the merged timeline and the trends as both see them. Every step runs this same
//! binary as a person would: real key files, sealed storage, real network connections.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::DemoArgs;
use crate::passphrase::{ENV_INSECURE_KDF, ENV_PASSPHRASE};

/// The demo's passphrases (printed with --keep so the homes can be opened afterwards).
const ALEX_PASS: &str = "alex demo passphrase";
const SAM_PASS: &str = "sam demo passphrase";
const LOOPBACK: &str = "/ip4/127.0.0.1/tcp/0";

struct Laptop {
    name: &'static str,
    home: PathBuf,
    pass: &'static str,
}

/// A command running in the background (invite, serve), read line by line.
struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Background {
    fn wait_for(&self, needle: &str) -> Result<String> {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .with_context(|| format!("waiting for {needle:?}"))?;
            if line.contains(needle) {
                return Ok(line);
            }
        }
    }

    fn finish(mut self) -> Result<Vec<String>> {
        let status = self.child.wait()?;
        let lines: Vec<String> = self.lines.try_iter().collect();
        if !status.success() {
            bail!("a background step failed: {}", lines.join("\n"));
        }
        Ok(lines)
    }
}

impl Drop for Background {
    /// Ask it to stop (a serve then removes its socket), and stop it if it has not within 2 s.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SIGTERM to our own child, not yet reaped.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let asked = std::time::Instant::now();
        while asked.elapsed() < std::time::Duration::from_secs(2) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Laptop {
    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--home")
            .arg(&self.home)
            .args(args)
            .env(ENV_PASSPHRASE, self.pass)
            .env(ENV_INSECURE_KDF, "1")
            .env("NO_COLOR", "1")
            .env_remove("MEND_HOME")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        Ok(cmd)
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command(args)?
            .stderr(Stdio::piped())
            .output()
            .context("starting mend")?;
        if !out.status.success() {
            bail!(
                "`mend {}` on {}'s laptop failed: {}",
                args.join(" "),
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run and show it, as typed at this laptop.
    fn show(&self, args: &[&str]) -> Result<String> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("{a:?}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        println!("{}$ mend {}", self.name.to_lowercase(), shown.join(" "));
        let out = self.run(args)?;
        for line in out.lines() {
            println!("    {line}");
        }
        Ok(out)
    }

    fn background(&self, args: &[&str]) -> Result<Background> {
        let mut child = self
            .command(args)?
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = child.stdout.take().context("stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Ok(Background { child, lines })
    }

    fn shared_ids(&self) -> Result<Vec<String>> {
        let list: serde_json::Value = serde_json::from_str(&self.run(&["list", "--json"])?)?;
        let mut ids: Vec<String> = list
            .as_array()
            .context("a list")?
            .iter()
            .filter(|e| e["private"] == false)
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn say(text: &str) {
    println!("\n── {text}");
}

/// The short id a write printed.
fn id_of(out: &str) -> String {
    out.trim().to_owned()
}

fn sync(alex_addr: &str, sam: &Laptop) -> Result<()> {
    sam.show(&["sync", "--peer", alex_addr])?;
    Ok(())
}

fn files_containing(dir: &Path, needle: &[u8]) -> Result<(usize, Vec<PathBuf>)> {
    let mut seen = 0;
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                // Regular files only: a running serve's socket holds nothing to read.
                seen += 1;
                if std::fs::read(&p)?
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    hits.push(p);
                }
            }
        }
    }
    Ok((seen, hits))
}

pub fn run(a: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let tmp = tempfile::Builder::new().prefix("mend-demo-").tempdir()?;
    let base = a.keep.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&base)?;
    let alex = Laptop {
        name: "Alex",
        home: base.join("alex"),
        pass: ALEX_PASS,
    };
    let sam = Laptop {
        name: "Sam",
        home: base.join("sam"),
        pass: SAM_PASS,
    };
    for l in [&alex, &sam] {
        if l.home.exists() {
            bail!(
                "{} already exists; give --keep an empty directory",
                l.home.display()
            );
        }
    }
    println!("Mend demo: Alex's and Sam's laptops, each with its own journal home and passphrase,");
    println!(
        "in {}. They talk over libp2p on 127.0.0.1. Key derivation uses the cheap",
        base.display()
    );
    println!("test profile so that the demo runs quickly; a real `mend init` takes about 0.7 s to unlock.");

    say("Alex starts the journal and writes an acknowledgment, section by section.");
    alex.show(&["init", "--name", "Alex", "--device", "alex-laptop"])?;
    let ack = id_of(&alex.show(&[
        "write",
        "--kind",
        "acknowledgment",
        "--at",
        "2 days ago",
        "## What happened\nI hid the messages for months.\n## Its impact on you\nYou stopped trusting what I say.\n## No excuses: what I own\nI chose to hide them.\n## What I will do differently\nTell you first, even when it is hard.",
    ])?);

    say("Alex invites Sam's laptop; Sam joins with the code. Both see the same verifier (a person\n   answers y when the digits match; the demo passes --yes).");
    let invite = alex.background(&[
        "invite",
        "--yes",
        "--listen",
        LOOPBACK,
        "--no-mdns",
        "--timeout",
        "60",
    ])?;
    let code_line = invite.wait_for("Invite code:")?;
    let code = code_line.rsplit(' ').next().unwrap_or_default().to_owned();
    let invite_addr = invite.wait_for("/ip4/127.0.0.1/tcp/")?.trim().to_owned();
    println!("alex$ mend invite\n    {code_line}");
    sam.show(&[
        "join",
        &code,
        "--name",
        "Sam",
        "--device",
        "sam-laptop",
        "--peer",
        &invite_addr,
    ])?;
    for line in invite.finish()? {
        if line.contains("Verifier") {
            println!("    (on Alex's laptop) {line}");
        }
    }

    say("Apart, each writes. Alex makes a promise and checks in; Sam asks for reassurance,");
    println!("   keeps a private draft, checks in, and answers Alex's acknowledgment.");
    let promise = id_of(&alex.show(&[
        "promise",
        "add",
        "--every",
        "day",
        "Call at noon, every day",
    ])?);
    alex.show(&["checkin", "--mood", "3", "--feeling", "nervous", "hopeful"])?;
    let ask = id_of(&sam.show(&[
        "reassure",
        "ask",
        "Tell me you are not hiding anything else",
    ])?);
    sam.show(&["write", "--private", "A draft I am not ready to share yet"])?;
    sam.show(&["checkin", "--mood", "2", "--feeling", "raw"])?;
    sam.show(&["reply", &ack, "Thank you for writing it down. I need time."])?;
    sam.show(&["ack", &ack, "--note", "I read it"])?;

    say("Alex's laptop serves; Sam's syncs with it.");
    let serve = alex.background(&["serve", "--listen", LOOPBACK, "--no-mdns"])?;
    let addr = serve.wait_for("/ip4/127.0.0.1/tcp/")?.trim().to_owned();
    println!("alex$ mend serve\n    listening on {addr}");
    sync(&addr, &sam)?;

    say("Alex answers the request and marks the promise kept while, at the same moment, Sam");
    println!(
        "   writes on the other laptop. Both are kept in the merge; then Sam, having seen the"
    );
    println!("   promise kept, confirms it.");
    alex.show(&[
        "reassure",
        "give",
        &ask,
        "Nothing else. Ask me anything, any time.",
    ])?;
    alex.show(&["promise", "kept", &promise, "--note", "called at 12:01"])?;
    sam.show(&["write", "The walk helped. I slept better."])?;
    sync(&addr, &sam)?;
    sam.show(&["promise", "confirm", &promise, "--note", "he called"])?;
    sync(&addr, &sam)?;
    drop(serve);

    say("The merged timeline, as Alex sees it and as Sam sees it.");
    alex.show(&["list"])?;
    sam.show(&["list"])?;
    say("The promise's record and the trends, as each sees them.");
    alex.show(&["promise", "list"])?;
    sam.show(&["promise", "list"])?;
    alex.show(&["trends", "--weeks", "2"])?;
    sam.show(&["trends", "--weeks", "2"])?;

    say("Checks: the same shared journal on both, the private draft only on Sam's, no plaintext on disk.");
    let (a_ids, s_ids) = (alex.shared_ids()?, sam.shared_ids()?);
    if a_ids != s_ids {
        bail!("the two laptops hold different journals");
    }
    println!(
        "   both laptops hold the same {} shared entries",
        a_ids.len()
    );
    if alex.run(&["list"])?.contains("not ready to share") {
        bail!("the private draft left Sam's laptop");
    }
    println!("   Sam's private draft is only on Sam's laptop");
    let records: serde_json::Value =
        serde_json::from_str(&alex.run(&["promise", "list", "--json"])?)?;
    let total = &records[0]["total"];
    if total["kept"] != 1 || total["confirmed"] != 1 {
        bail!("the promise lost an update: {total}");
    }
    println!("   the promise shows both updates: kept once, confirmed once");
    let mut files = 0;
    for marker in [
        "hid the messages",
        "not ready to share",
        "Call at noon",
        "nervous",
        "Alex",
        "Sam",
    ] {
        for home in [&alex.home, &sam.home] {
            let (seen, hits) = files_containing(home, marker.as_bytes())?;
            files += seen;
            if !hits.is_empty() {
                bail!("plaintext found on disk in {hits:?}");
            }
        }
    }
    println!("   {files} file reads for entry text and names: no plaintext found on disk");
    println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
    match a.keep {
        Some(_) => {
            println!("The homes are kept. Try:");
            println!(
                "  MEND_PASSPHRASE='{ALEX_PASS}' mend --home {} list",
                alex.home.display()
            );
            println!(
                "  MEND_PASSPHRASE='{SAM_PASS}' mend --home {} status",
                sam.home.display()
            );
        }
        None => println!("The demo homes were deleted (use --keep DIR to keep them)."),
    }
    Ok(())
}
