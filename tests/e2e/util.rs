//! A small harness: a temporary home and a way to run `mend` in it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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

    /// `mend passphrase` to `new` (given as `MEND_NEW_PASSPHRASE`); fails the test if it fails.
    pub fn change_passphrase(&self, new: &str) {
        succeeds(
            self.command(&["passphrase"])
                .env("MEND_NEW_PASSPHRASE", new),
        );
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

/// Run `c` (a `mend` command set up by the caller); fails the test, showing stderr, unless it
/// succeeds.
pub fn succeeds(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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
            } else if p.is_file() && p.file_name().is_some_and(|n| n != "lock") {
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

/// A `mend` process in the background whose output is read as it comes.
pub struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Background {
    pub fn start(d: &Device, args: &[&str]) -> Self {
        Self::spawn(d.command(args))
    }

    /// Start a command made by [`Device::command`] (with extra environment, say).
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The process id, to read its memory use from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first line containing `needle` (waiting at most 30 s).
    pub fn wait_for(&mut self, needle: &str) -> String {
        if let Some(l) = self
            .seen
            .iter()
            .find(|l| l.contains(needle) && !l.contains(" DEBUG ") && !l.contains(" TRACE "))
        {
            return l.clone();
        }
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) && !l.contains(" DEBUG ") && !l.contains(" TRACE ") {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The `n`th line (from 1) that starts with `prefix` (waiting at most 30 s for it).
    pub fn wait_for_nth(&mut self, prefix: &str, n: usize) -> String {
        loop {
            let found: Vec<&String> = self
                .seen
                .iter()
                .filter(|l| l.trim_start().starts_with(prefix))
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!(
                    "no line {n} starting with {prefix:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The loopback address it prints it listens on (a line of its own, not a log line).
    pub fn address(&mut self) -> String {
        let is_address = |l: &String| l.trim().starts_with("/ip4/127.0.0.1/tcp/");
        if let Some(l) = self.seen.iter().find(|l| is_address(l)) {
            return l.trim().to_owned();
        }
        loop {
            let l = self.wait_for("/ip4/127.0.0.1/tcp/");
            if is_address(&l) {
                return l.trim().to_owned();
            }
        }
    }

    /// Wait for it to exit (at most 30 s); returns success and everything it printed.
    pub fn finish(mut self) -> (bool, String) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                self.seen.extend(self.lines.try_iter());
                return (status.success(), self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("did not exit: {}", self.seen.join("\n"));
    }

    /// Kill it at once, as a power cut or `kill -9` would.
    #[allow(dead_code)] // the crash tests use it
    pub fn kill_hard(self) {
        unsafe_kill(self.child.id(), "KILL");
    }

    pub fn terminate(self) -> (bool, String) {
        unsafe_kill(self.child.id(), "TERM");
        self.finish()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, signal: &str) {
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
}

pub const LOOPBACK: &str = "/ip4/127.0.0.1/tcp/0";

/// Pair `b` (not initialised yet) with `a` as `name`; returns both outputs.
/// Start `mend invite` on `a` over loopback; returns it with the code and the address it printed.
pub fn start_invite(a: &Device) -> (Background, String, String) {
    start_invite_with(a, &[])
}

/// `mend invite` with more arguments (such as `--for me`), confirming the verifier (`--yes`).
pub fn start_invite_with(a: &Device, extra: &[&str]) -> (Background, String, String) {
    let mut args = vec!["--yes"];
    args.extend_from_slice(extra);
    start_invite_unconfirmed(a, &args)
}

/// `mend invite` with exactly these further arguments (no `--yes` unless given).
pub fn start_invite_unconfirmed(a: &Device, extra: &[&str]) -> (Background, String, String) {
    let mut args = vec![
        "invite",
        "--listen",
        LOOPBACK,
        "--no-mdns",
        "--timeout",
        "60",
    ];
    args.extend_from_slice(extra);
    let mut invite = Background::start(a, &args);
    let code = invite
        .wait_for("Invite code:")
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let addr = invite.address();
    (invite, code, addr)
}

pub fn pair(a: &Device, b: &Device, name: &str) -> (String, String) {
    pair_with(a, b, name, &format!("{name}-laptop"), &[])
}

/// Alex's laptop serving on loopback and Sam's paired with it: (Alex, Sam, Alex's serve, its
/// address).
pub fn alex_serving_paired_with_sam() -> (Device, Device, Background, String) {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    (a, b, serve, addr)
}

/// Add `b` (not initialised yet) as another device of `a`'s person, named `name`.
pub fn pair_own(a: &Device, b: &Device, name: &str) -> (String, String) {
    pair_with(a, b, name, &format!("{name}-laptop"), &["--for", "me"])
}

/// Pair `b` (not initialised yet) with `a` as a device of the partner `name`, called `device`
/// (`mend invite --for partner`).
pub fn pair_partner_device(a: &Device, b: &Device, name: &str, device: &str) -> (String, String) {
    pair_with(a, b, name, device, &["--for", "partner"])
}

/// Add `b` (not initialised yet) as another device of `a`'s person `person`, called `device`.
pub fn pair_own_device(a: &Device, b: &Device, person: &str, device: &str) {
    pair_with(a, b, person, device, &["--for", "me"]);
}

fn pair_with(a: &Device, b: &Device, name: &str, device: &str, extra: &[&str]) -> (String, String) {
    let (invite, code, addr) = start_invite_with(a, extra);
    let out = b.run(&[
        "join", &code, "--name", name, "--device", device, "--peer", &addr,
    ]);
    let joined =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "join failed: {joined}");
    let (ok, invited) = invite.finish();
    assert!(ok, "invite failed: {invited}");
    (invited, joined)
}

/// Copy a directory tree (a home, say) file by file.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
}
