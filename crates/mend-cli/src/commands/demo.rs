//! `mend demo`: a walkthrough on a throwaway journal, driving this same binary as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::cli::DemoArgs;
use crate::passphrase::{ENV_INSECURE_KDF, ENV_PASSPHRASE};

struct Demo {
    exe: PathBuf,
    home: PathBuf,
}

impl Demo {
    fn mend(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut cmd = Command::new(&self.exe);
        cmd.args(["--home"])
            .arg(&self.home)
            .args(args)
            .env(ENV_PASSPHRASE, "demo passphrase, not for real use")
            .env(ENV_INSECURE_KDF, "1")
            .env("NO_COLOR", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting mend")?;
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .context("stdin")?
                .write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "`mend {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn step(&self, say: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
        println!("\n── {say}");
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
        println!("$ mend {}", shown.join(" "));
        let out = self.mend(args, stdin)?;
        print!("{out}");
        Ok(out)
    }
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Result<(usize, Vec<PathBuf>)> {
    let mut seen = 0;
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                seen += 1;
                let bytes = std::fs::read(&p)?;
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p);
                }
            }
        }
    }
    Ok((seen, hits))
}

pub fn run(a: DemoArgs) -> Result<()> {
    let tmp = tempfile::Builder::new().prefix("mend-demo-").tempdir()?;
    let base = a.keep.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&base)?;
    let demo = Demo {
        exe: std::env::current_exe()?,
        home: base.join("alex"),
    };
    println!(
        "Mend demo: one partner's journal on this laptop, in {}",
        demo.home.display()
    );
    println!("(It uses the cheap test key-derivation profile so that it runs quickly; a real");
    println!(" `mend init` calibrates Argon2id to about 0.7 s with 64 MiB.)");
    demo.step(
        "Alex creates a journal on this device.",
        &["init", "--name", "Alex", "--device", "alex-laptop"],
        None,
    )?;
    demo.step(
        "Alex acknowledges what happened, backdated to last night.",
        &["write", "--at", "yesterday 21:30", "--mood", "2", "--tag", "acknowledge",
          "I broke your trust when I hid the messages. I am sorry, and I will answer any question you ask. @honesty"],
        None,
    )?;
    demo.step(
        "A check-in this morning, piped in from another program.",
        &["write", "--mood", "3"],
        Some("Slept badly but we had coffee together and talked about boundaries. @boundaries"),
    )?;
    demo.step(
        "A private draft, kept on this device until Alex is ready to share it.",
        &[
            "write",
            "--private",
            "Something I am not ready to say out loud yet.",
        ],
        None,
    )?;
    demo.step("The timeline, newest first.", &["list"], None)?;
    demo.step("Searching is case-insensitive.", &["search", "TRUST"], None)?;
    demo.step(
        "Entries tagged @honesty, as JSON for scripts.",
        &["list", "--tag", "honesty", "--json"],
        None,
    )?;
    demo.step("What is on this device.", &["status"], None)?;

    println!("\n── Nothing readable reaches the disk: every file in the home is scanned.");
    let mut total_hits = Vec::new();
    let mut files = 0;
    for marker in [
        "hid the messages",
        "boundaries",
        "not ready to say",
        "Alex",
        "honesty",
    ] {
        let (seen, hits) = files_containing(&demo.home, marker.as_bytes())?;
        files = seen;
        total_hits.extend(hits);
    }
    if !total_hits.is_empty() {
        bail!("plaintext found on disk in {total_hits:?}");
    }
    println!("   {files} files scanned for entry text, tags and names: none found.");
    match a.keep {
        Some(dir) => println!(
            "\nThe demo home is kept in {}. Try:\n  MEND_PASSPHRASE='demo passphrase, not for real use' mend --home {} list",
            dir.display(),
            demo.home.display()
        ),
        None => println!("\nDone. The demo journal was deleted (use --keep DIR to keep it)."),
    }
    Ok(())
}
