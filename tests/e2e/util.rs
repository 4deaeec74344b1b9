//! A small harness: a temporary home and a way to run `mend` in it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASS: &str = "correct horse battery staple";

pub struct Device {
    pub dir: tempfile::TempDir,
    pub pass: String,
    /// Run every command at RUST_LOG=trace (for the secret scans).
    pub trace: bool,
}

pub fn mend_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mend")
}

impl Device {
    /// A home that does not exist yet.
    pub fn uninitialised() -> Self {
        Device {
            dir: tempfile::tempdir().unwrap(),
            pass: PASS.into(),
            trace: false,
        }
    }

    /// A home with a journal for `name`.
    pub fn new(name: &str) -> Self {
        let d = Self::uninitialised();
        d.ok(&["init", "--name", name, "--device", "laptop"]);
        d
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(mend_bin());
        c.arg("--home")
            .arg(self.home())
            .args(args)
            .env("MEND_PASSPHRASE", &self.pass)
            .env("MEND_INSECURE_TEST_KDF", "1")
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .env_remove("MEND_HOME")
            .env_remove("MEND_NEW_PASSPHRASE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if self.trace {
            c.env("RUST_LOG", "trace");
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run and insist on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mend {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run and insist on failure with exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "mend {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("error:") && err.contains("hint:"), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
        err
    }

    pub fn write(&self, args: &[&str]) -> String {
        let mut full = vec!["write"];
        full.extend_from_slice(args);
        self.ok(&full).trim().to_owned()
    }

    pub fn list_json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut full = vec!["list", "--json"];
        full.extend_from_slice(args);
        serde_json::from_str(&self.ok(&full)).unwrap()
    }

    /// Every file under the home with its bytes, to prove that nothing changed.
    pub fn snapshot_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.home())
    }
}

pub fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "lock") {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn texts(entries: &[serde_json::Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect()
}
