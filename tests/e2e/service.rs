//! `mend service install|status|uninstall`: the login service's unit goes under a temporary
//! XDG_CONFIG_HOME, and `systemctl` is a recording stand-in, alone on PATH (the real one is
//! never run). Where `systemd-analyze` is installed, the unit is verified by systemd itself.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::{files_under, mend_bin, PASS};

/// How the stand-in `systemctl` behaves.
#[derive(Clone, Copy)]
enum Systemctl {
    /// Records its arguments and succeeds: `is-enabled` says "enabled", `is-active` "active".
    Records,
    /// Records its arguments and fails as with no user session.
    NoSession,
    /// Not installed: nothing named `systemctl` on PATH.
    Missing,
}

/// A temporary world: the user's home, XDG_CONFIG_HOME and PATH, and the journal's home.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(systemctl: Systemctl) -> Self {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["bin", "config", "user"] {
            std::fs::create_dir(w.dir.path().join(d)).unwrap();
        }
        w.set_systemctl(systemctl);
        w
    }

    fn set_systemctl(&self, systemctl: Systemctl) {
        let script = self.dir.path().join("bin/systemctl");
        let log = self.dir.path().join("systemctl.log");
        let body = match systemctl {
            Systemctl::Missing => {
                let _ = std::fs::remove_file(&script);
                return;
            }
            Systemctl::Records => {
                "case \"$*\" in\n  *is-enabled*) echo enabled ;;\n  *is-active*) echo active ;;\nesac\nexit 0\n"
            }
            Systemctl::NoSession => {
                "echo 'Failed to connect to bus: No medium found' >&2\nexit 1\n"
            }
        };
        let text = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n{body}",
            log.display()
        );
        // Written beside, then renamed: never executed while open for writing.
        let tmp = self.dir.path().join("systemctl.tmp");
        std::fs::write(&tmp, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &script).unwrap();
    }

    /// The journal's home: a path with a space in it.
    fn home(&self) -> PathBuf {
        self.dir.path().join("My Journal")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn unit_path(&self) -> PathBuf {
        self.config().join("systemd/user/mend.service")
    }

    /// `mend ARGS` with no --home and no MEND_HOME, in this world.
    fn bare(&self, args: &[&str]) -> Command {
        let mut c = Command::new(mend_bin());
        c.args(args)
            .env("HOME", self.dir.path().join("user"))
            .env("XDG_CONFIG_HOME", self.config())
            .env("PATH", self.dir.path().join("bin"))
            .env("MEND_PASSPHRASE", PASS)
            .env("MEND_INSECURE_TEST_KDF", "1")
            .env("NO_COLOR", "1")
            .env_remove("MEND_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }

    /// `mend --home HOME ARGS` in this world.
    fn mend(&self, args: &[&str]) -> Command {
        let mut c = self.bare(&[]);
        c.arg("--home").arg(self.home()).args(args);
        c
    }

    fn init(&self) {
        ok(&mut self.mend(&["init", "--name", "Alex", "--device", "laptop"]));
    }

    /// What the stand-in `systemctl` was asked, one call a line; then forgotten.
    fn calls(&self) -> Vec<String> {
        let log = self.dir.path().join("systemctl.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_owned).collect()
    }

    /// Every file under XDG_CONFIG_HOME.
    fn config_files(&self) -> Vec<PathBuf> {
        files_under(&self.config()).into_keys().collect()
    }
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run, insist on exit 1 with one `error:` and one `hint:` line; stderr.
fn refused(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{c:?} should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    let count = |p: &str| err.lines().filter(|l| l.starts_with(p)).count();
    assert_eq!((count("error: "), count("hint: ")), (1, 1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn exe() -> String {
    Path::new(mend_bin())
        .canonicalize()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The unit part of `install --print`: everything before `# then run:`.
fn unit_of(printed: &str) -> &str {
    printed
        .split_once("# then run:\n")
        .unwrap_or_else(|| panic!("no `# then run:` line in:\n{printed}"))
        .0
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in:\n{text}"))
}

#[test]
fn print_shows_the_unit_for_this_home_and_changes_nothing() {
    let w = World::new(Systemctl::Records);
    w.init();
    let out = w.mend(&["service", "install", "--print"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let home = w.home().canonicalize().unwrap();
    let home = home.to_str().unwrap();
    assert!(!exe().contains([' ', '"', '%', '$', '\\']), "{}", exe());
    assert_eq!(
        line(&printed, "ExecStart="),
        format!("ExecStart={} --home \"{home}\" serve --locked", exe())
    );
    assert_eq!(
        line(&printed, "ReadWritePaths="),
        format!("ReadWritePaths=\"{home}\" %t")
    );
    let unit = unit_of(&printed);
    assert!(
        unit.starts_with("# ") && unit.contains("\n[Service]\n"),
        "{unit}"
    );
    let after: Vec<&str> = printed
        .split_once("# then run:\n")
        .unwrap()
        .1
        .lines()
        .collect();
    assert_eq!(
        after,
        [
            format!("#   (with the text above in {})", w.unit_path().display()).as_str(),
            "systemctl --user daemon-reload",
            "systemctl --user enable --now mend.service",
        ]
    );
    // The binary is a build's: said plainly.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("warning: the service will run this exact binary, in a build directory"),
        "{err}"
    );
    // Nothing written, nothing run.
    assert_eq!(w.config_files(), Vec::<PathBuf>::new());
    assert_eq!(w.calls(), Vec::<String>::new());
}

#[test]
fn the_home_comes_from_mend_home_or_is_the_default() {
    let w = World::new(Systemctl::Records);
    // MEND_HOME: named in the command line, absolute.
    let printed = ok(w
        .bare(&["service", "install", "--print"])
        .env("MEND_HOME", "relative/../journal")
        .current_dir(w.dir.path()));
    let journal = w.dir.path().canonicalize().unwrap().join("journal");
    assert_eq!(
        line(&printed, "ExecStart="),
        format!(
            "ExecStart={} --home {} serve --locked",
            exe(),
            journal.display()
        )
    );
    // The default home: not named, but the only place the service may write.
    let printed = ok(&mut w.bare(&["service", "install", "--print"]));
    assert_eq!(
        line(&printed, "ExecStart="),
        format!("ExecStart={} serve --locked", exe())
    );
    let default = w.dir.path().join("user/.local/share/mend");
    assert_eq!(
        line(&printed, "ReadWritePaths="),
        format!("ReadWritePaths={} %t", default.display())
    );
    // A default home that follows XDG_DATA_HOME is named: the login session may not set it.
    let data = w.dir.path().join("data");
    let printed = ok(w
        .bare(&["service", "install", "--print"])
        .env("XDG_DATA_HOME", &data));
    assert_eq!(
        line(&printed, "ExecStart="),
        format!(
            "ExecStart={} --home {} serve --locked",
            exe(),
            data.join("mend").display()
        )
    );
    assert_eq!(w.config_files(), Vec::<PathBuf>::new());
    assert_eq!(w.calls(), Vec::<String>::new());
}

#[test]
fn install_status_uninstall_run_systemctl_in_order() {
    let w = World::new(Systemctl::Records);
    w.init();
    let printed = ok(&mut w.mend(&["service", "install", "--print"]));
    assert_eq!(w.calls(), Vec::<String>::new());

    let said = ok(&mut w.mend(&["service", "install"]));
    assert_eq!(
        std::fs::read_to_string(w.unit_path()).unwrap(),
        unit_of(&printed),
        "the unit written is the one --print shows"
    );
    assert_eq!(
        w.calls(),
        [
            "--user show-environment",
            "--user daemon-reload",
            "--user enable --now mend.service"
        ]
    );
    assert!(
        said.starts_with(&format!(
            "Installed the login service: {}\n",
            w.unit_path().display()
        )),
        "{said}"
    );
    assert!(
        said.contains("serve --locked now and at every login"),
        "{said}"
    );
    assert_eq!(w.config_files(), [w.unit_path()], "no temporary file left");

    let status = ok(&mut w.mend(&["service", "status"]));
    assert_eq!(
        status.lines().next(),
        Some("Login service: installed, enabled, running"),
        "{status}"
    );
    assert!(
        status.contains(&format!("Unit: {}\n", w.unit_path().display())),
        "{status}"
    );
    assert!(status.contains("serve --locked"), "{status}");
    assert_eq!(
        w.calls(),
        [
            "--user show-environment",
            "--user is-enabled mend.service",
            "--user is-active mend.service"
        ]
    );

    // The same unit again: nothing to restart.
    let said = ok(&mut w.mend(&["service", "install"]));
    assert!(said.starts_with("Reinstalled the login service"), "{said}");
    assert_eq!(
        w.calls(),
        [
            "--user show-environment",
            "--user daemon-reload",
            "--user enable --now mend.service"
        ]
    );

    // --print changes nothing.
    let shown = ok(&mut w.mend(&["service", "uninstall", "--print"]));
    assert_eq!(
        shown,
        format!(
            "systemctl --user disable --now mend.service\nrm {}\nsystemctl --user daemon-reload\n",
            w.unit_path().display()
        )
    );
    assert!(w.unit_path().exists());
    assert_eq!(w.calls(), Vec::<String>::new());

    let said = ok(&mut w.mend(&["service", "uninstall"]));
    assert!(
        said.starts_with("Stopped and removed the login service"),
        "{said}"
    );
    assert!(!w.unit_path().exists());
    assert_eq!(
        w.calls(),
        [
            "--user show-environment",
            "--user disable --now mend.service",
            "--user daemon-reload"
        ]
    );

    // Not installed: said, exit 0, nothing run.
    let status = ok(&mut w.mend(&["service", "status"]));
    assert_eq!(
        status,
        "Login service: not installed (`mend service install` sets it up)\n"
    );
    let said = ok(&mut w.mend(&["service", "uninstall"]));
    assert!(said.contains("not installed"), "{said}");
    assert_eq!(w.calls(), Vec::<String>::new());
}

#[test]
fn a_changed_unit_restarts_a_running_service() {
    let w = World::new(Systemctl::Records);
    w.init();
    std::fs::create_dir_all(w.unit_path().parent().unwrap()).unwrap();
    std::fs::write(w.unit_path(), "[Service]\nExecStart=/old/mend serve\n").unwrap();
    let said = ok(&mut w.mend(&["service", "install"]));
    assert!(said.starts_with("Updated the login service"), "{said}");
    assert_eq!(
        w.calls(),
        [
            "--user show-environment",
            "--user daemon-reload",
            "--user try-restart mend.service",
            "--user enable --now mend.service"
        ]
    );
    assert!(std::fs::read_to_string(w.unit_path())
        .unwrap()
        .contains("serve --locked"));
}

#[test]
fn without_a_user_session_nothing_is_written() {
    for systemctl in [Systemctl::NoSession, Systemctl::Missing] {
        let w = World::new(systemctl);
        w.init();
        let err = refused(&mut w.mend(&["service", "install"]));
        assert!(
            err.contains("error: systemd's user manager is not reachable (no user session?)"),
            "{err}"
        );
        let hint = line(&err, "hint: ");
        for needed in [
            "nothing was written",
            "systemctl --user daemon-reload",
            "systemctl --user enable --now mend.service",
            "mend service install --print",
        ] {
            assert!(hint.contains(needed), "{needed} in {hint}");
        }
        assert!(
            hint.contains(&format!("'{}'", w.unit_path().display()))
                || hint.contains(&w.unit_path().display().to_string()),
            "{hint}"
        );
        assert_eq!(w.config_files(), Vec::<PathBuf>::new());
        match systemctl {
            Systemctl::Missing => assert!(err.contains("not on PATH"), "{err}"),
            _ => {
                assert!(err.contains("Failed to connect to bus"), "{err}");
                assert_eq!(w.calls(), ["--user show-environment"]);
            }
        }

        // Status still answers, and says what it cannot know.
        let printed = ok(&mut w.mend(&["service", "install", "--print"]));
        std::fs::create_dir_all(w.unit_path().parent().unwrap()).unwrap();
        std::fs::write(w.unit_path(), unit_of(&printed)).unwrap();
        let status = ok(&mut w.mend(&["service", "status"]));
        assert!(
            status.starts_with(
                "Login service: installed; systemd's user manager is not reachable (no user \
                 session?), so whether it is enabled and running is unknown"
            ),
            "{status}"
        );

        // Uninstall is refused too, and leaves the unit.
        let err = refused(&mut w.mend(&["service", "uninstall"]));
        assert!(err.contains("not reachable"), "{err}");
        assert!(
            line(&err, "hint: ").contains("systemctl --user disable --now mend.service"),
            "{err}"
        );
        assert!(w.unit_path().exists());
        let _ = w.calls();
    }
}

#[test]
fn a_home_without_a_journal_is_refused() {
    let w = World::new(Systemctl::Records);
    let err = refused(&mut w.mend(&["service", "install"]));
    assert!(
        err.contains("error: there is no journal in ") && err.contains("for the service to serve"),
        "{err}"
    );
    assert!(err.contains("mend init --name YOUR_NAME"), "{err}");
    assert_eq!(w.config_files(), Vec::<PathBuf>::new());
    assert_eq!(w.calls(), Vec::<String>::new());
    assert!(!w.home().exists(), "the home was not created");
}

/// Lines of `systemd-analyze verify` output about the unit (it exits 0 on unknown keys and
/// bad values, and names the file in what it says).
fn verify(unit: &str, dir: &Path, user: bool) -> Vec<String> {
    let path = dir.join("mend.service");
    std::fs::write(&path, unit).unwrap();
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut c = Command::new("systemd-analyze");
    if user {
        c.arg("--user");
    }
    let out: Output = c
        .arg("verify")
        .arg(&path)
        // Its user manager reads units under these: keep them away from the real ones.
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let mut problems: Vec<String> = err
        .lines()
        .filter(|l| l.contains("mend.service"))
        .map(str::to_owned)
        .collect();
    if !out.status.success() {
        problems.push(format!("exit {}: {err}", out.status));
    }
    problems
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("note: systemd-analyze is not installed; the unit was not verified by systemd");
        return;
    }
    let w = World::new(Systemctl::Records);
    w.init();
    let printed = ok(&mut w.mend(&["service", "install", "--print"]));
    let unit = unit_of(&printed);
    let scratch = tempfile::tempdir().unwrap();
    for user in [true, false] {
        assert_eq!(
            verify(unit, scratch.path(), user),
            Vec::<String>::new(),
            "user manager: {user}\n{unit}"
        );
    }
    // The check sees what is wrong: an unknown key, a bad value, a missing binary.
    let broken = unit
        .replace(
            "ProtectHome=read-only",
            "ProtectHome=sometimes\nProtectHomes=yes",
        )
        .replace(&exe(), "/nonexistent/mend");
    let problems = verify(&broken, scratch.path(), true);
    for needed in ["ProtectHomes", "sometimes", "/nonexistent/mend"] {
        assert!(
            problems.iter().any(|p| p.contains(needed)),
            "{needed}: {problems:?}"
        );
    }
}
