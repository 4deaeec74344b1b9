//! `mend service install|status|uninstall`: `mend serve --locked` started at login, as a
//! systemd user unit (Linux) or a launchd agent (macOS).
//!
//! The files' text comes from [`mend_app::service`]; here: finding the binary, the home and
//! where the file goes, writing it, and running `systemctl --user` / `launchctl` (looked up
//! on PATH, so tests can put a recording stand-in first). `XDG_CONFIG_HOME` decides where the
//! unit goes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Result;
use mend_app::service::{self as text, ServicePathError};
use mend_app::store::{Home, StoreError};

use crate::cli::{Global, ServiceCommand};
use crate::fail::fail;

pub fn run(g: &Global, c: ServiceCommand) -> Result<()> {
    if cfg!(target_os = "linux") {
        systemd(g, c)
    } else if cfg!(target_os = "macos") {
        launchd(g, c)
    } else {
        Err(fail(
            "mend service knows systemd (Linux) and launchd (macOS) only",
            "start `mend serve --locked` at login the way your system starts programs",
        )
        .into())
    }
}

/// What the service runs and may write.
struct Target {
    /// The running binary, canonical: the service runs exactly this file.
    exe: PathBuf,
    /// The journal's home, absolute (it may not exist yet).
    home: PathBuf,
    /// Whether the command line names the home (`--home HOME`); else the service finds the
    /// default home itself.
    home_arg: bool,
}

impl Target {
    fn home_arg(&self) -> Option<&Path> {
        self.home_arg.then_some(self.home.as_path())
    }
}

fn target(g: &Global) -> Result<Target> {
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .map_err(|e| {
            fail(
                format!("cannot find the path of the running mend binary: {e}"),
                "run mend by its full path, such as ~/.cargo/bin/mend service install",
            )
        })?;
    let cwd = std::env::current_dir().map_err(|e| {
        fail(
            format!("cannot read the current directory: {e}"),
            "run the command from a directory that still exists",
        )
    })?;
    let home = crate::unlock::home(g)?.root().to_owned();
    let home = home
        .canonicalize()
        .unwrap_or_else(|_| text::absolute_path(&home, &cwd));
    // The default home follows XDG_DATA_HOME, which the login session's service manager
    // may not have: then the unit names the home this shell sees.
    let xdg_data = cfg!(target_os = "linux")
        && std::env::var_os("XDG_DATA_HOME").is_some_and(|v| !v.is_empty());
    Ok(Target {
        exe,
        home,
        home_arg: g.home.is_some() || xdg_data,
    })
}

fn bad_path(e: ServicePathError) -> anyhow::Error {
    let hint = match e {
        ServicePathError::UnsafeExecutable(_) => {
            "nothing was written; install mend somewhere else (`cargo install --path \
             crates/mend-cli` puts it in ~/.cargo/bin) and run that one"
        }
        _ => "nothing was written; give --home (or MEND_HOME) a plain absolute path",
    };
    fail(e.to_string(), hint).into()
}

/// Warnings about what the service will run: a binary in a build directory changes or goes
/// away with the next build.
fn warn_about(t: &Target) {
    let in_build_dir = t.exe.ancestors().any(|a| {
        let name = a.file_name().and_then(|n| n.to_str());
        matches!(name, Some("debug" | "release"))
            && a.ancestors()
                .skip(1)
                .take(2)
                .any(|p| p.file_name().is_some_and(|n| n == "target"))
    });
    if in_build_dir {
        eprintln!(
            "warning: the service will run this exact binary, in a build directory: {} (a \
             rebuild changes it, `cargo clean` removes it; `cargo install --path \
             crates/mend-cli` puts mend in ~/.cargo/bin)",
            t.exe.display()
        );
    }
}

/// Refuse to install a service for a home with no journal: it would fail and restart forever.
fn check_journal(t: &Target) -> Result<()> {
    match Home::new(&t.home).check_initialised() {
        Ok(()) => Ok(()),
        Err(StoreError::NotInitialised { .. }) => Err(fail(
            format!(
                "there is no journal in {} for the service to serve",
                t.home.display()
            ),
            "nothing was written; run `mend init --name YOUR_NAME` or `mend join CODE` first \
             (with the same --home), then `mend service install`",
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// Write `contents` to `path` whole or not at all: a temporary file beside it, synced, then
/// renamed over it.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".mend-service-")
        .tempfile_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn cannot_write(path: &Path, e: std::io::Error) -> anyhow::Error {
    fail(
        format!("cannot write {}: {e}", path.display()),
        "nothing was installed; check that you may write there",
    )
    .into()
}

/// Run `program args` with no input; its output, or why it failed in one line (its first
/// line on stderr, or how it ended).
fn run_tool(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{program}` is not installed (not on PATH)"),
            _ => format!("cannot run `{program}`: {e}"),
        })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
    Err(match first {
        Some(l) => crate::render::clean(l).into_owned(),
        None => format!(
            "{} ended with {}",
            text::command_line(program, args),
            out.status
        ),
    })
}

/// A command's answer on stdout whether or not it succeeded (`is-enabled`, `is-active` say
/// "disabled" and "inactive" with a failing status).
fn answer(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn shown(args: &[&str]) -> String {
    text::command_line("systemctl", args)
}

// ---- systemd (Linux) ----

const UNREACHABLE: &str = "systemd's user manager is not reachable (no user session?)";

/// Whether `systemctl --user` reaches this user's service manager; why not if it does not.
fn user_manager() -> Result<(), String> {
    run_tool("systemctl", &["--user", "show-environment"]).map(|_| ())
}

fn unit_path() -> Result<PathBuf> {
    let config = dirs::config_dir().ok_or_else(|| {
        fail(
            "cannot find this user's config directory (neither XDG_CONFIG_HOME nor HOME is set)",
            "set HOME, or XDG_CONFIG_HOME, and run the command again",
        )
    })?;
    Ok(text::systemd_unit_path(&config))
}

fn systemd(g: &Global, c: ServiceCommand) -> Result<()> {
    match c {
        ServiceCommand::Install(a) => systemd_install(g, a.print),
        ServiceCommand::Status => systemd_status(),
        ServiceCommand::Uninstall(a) => systemd_uninstall(a.print),
    }
}

fn systemd_install(g: &Global, print: bool) -> Result<()> {
    let t = target(g)?;
    let unit = text::systemd_unit(&t.exe, t.home_arg(), &t.home).map_err(bad_path)?;
    let path = unit_path()?;
    let commands: Vec<String> = text::SYSTEMD_INSTALL.iter().map(|a| shown(a)).collect();
    warn_about(&t);
    for p in [&t.home, &t.exe] {
        if text::under_private_tmp(p) {
            eprintln!(
                "warning: the service has a /tmp of its own: it will not find {} there",
                p.display()
            );
        }
    }
    if print {
        if !Home::new(&t.home).is_initialised() {
            eprintln!(
                "note: there is no journal in {} yet; `mend service install` refuses until \
                 there is",
                t.home.display()
            );
        }
        print!("{}", text::install_preview(&unit, &path, &commands));
        return Ok(());
    }
    check_journal(&t)?;
    if let Err(why) = user_manager() {
        return Err(fail(
            format!("{UNREACHABLE}: {why}"),
            format!(
                "nothing was written. In a login session, run `mend service install` again; or \
                 put the text `mend service install --print` shows in {} and run `{}` and `{}`",
                text::shell_word(&path.to_string_lossy()),
                commands[0],
                commands[1]
            ),
        )
        .into());
    }
    let before = std::fs::read_to_string(&path).ok();
    write_atomically(&path, &unit).map_err(|e| cannot_write(&path, e))?;
    if let Err(why) = run_tool("systemctl", text::SYSTEMD_INSTALL[0]) {
        // Put back what was there, so that nothing changed.
        let _ = match &before {
            Some(old) => write_atomically(&path, old),
            None => std::fs::remove_file(&path),
        };
        return Err(fail(
            format!("`{}` failed: {why}", commands[0]),
            "nothing was installed; `systemctl --user status` may say more",
        )
        .into());
    }
    // A changed unit of a service already running takes effect only when it starts again.
    let changed = before.as_deref().is_some_and(|old| old != unit);
    if changed {
        let restart = ["--user", "try-restart", text::UNIT_FILE];
        if let Err(why) = run_tool("systemctl", &restart) {
            eprintln!("warning: `{}` failed: {why}", shown(&restart));
        }
    }
    if let Err(why) = run_tool("systemctl", text::SYSTEMD_INSTALL[1]) {
        return Err(fail(
            format!(
                "the unit is in {}, but `{}` failed: {why}",
                path.display(),
                commands[1]
            ),
            format!(
                "`journalctl --user -u {}` says why; `mend service uninstall` removes it",
                text::UNIT_FILE
            ),
        )
        .into());
    }
    let verb = match (&before, changed) {
        (None, _) => "Installed",
        (Some(_), true) => "Updated",
        (Some(_), false) => "Reinstalled",
    };
    println!("{verb} the login service: {}", path.display());
    println!(
        "It runs {} now and at every login, started locked: the first mend command that asks \
         for the passphrase (or `mend unlock`) hands it the key.",
        text::exec_start(&unit).unwrap_or("mend serve --locked")
    );
    Ok(())
}

fn systemd_status() -> Result<()> {
    let path = unit_path()?;
    let Ok(unit) = std::fs::read_to_string(&path) else {
        println!("Login service: not installed (`mend service install` sets it up)");
        return Ok(());
    };
    let state = match user_manager() {
        Ok(()) => text::systemd_state(
            &answer("systemctl", &["--user", "is-enabled", text::UNIT_FILE]),
            &answer("systemctl", &["--user", "is-active", text::UNIT_FILE]),
        ),
        Err(why) => format!(
            "installed; {UNREACHABLE}, so whether it is enabled and running is unknown ({why})"
        ),
    };
    println!("Login service: {state}");
    println!("Unit: {}", path.display());
    if let Some(exec) = text::exec_start(&unit) {
        println!("Runs: {}", crate::render::clean(exec));
    }
    Ok(())
}

fn systemd_uninstall(print: bool) -> Result<()> {
    let path = unit_path()?;
    if !path.exists() {
        println!(
            "The login service is not installed ({} does not exist); nothing to do.",
            path.display()
        );
        return Ok(());
    }
    let remove = text::command_line("rm", &[&path.to_string_lossy()]);
    let stop = shown(text::SYSTEMD_STOP);
    let forget = shown(text::SYSTEMD_FORGET);
    if print {
        println!("{stop}\n{remove}\n{forget}");
        return Ok(());
    }
    if let Err(why) = user_manager() {
        return Err(fail(
            format!("{UNREACHABLE}: {why}"),
            format!(
                "nothing was changed. In a login session, run `mend service uninstall` again; \
                 or run `{stop}`, `{remove}` and `{forget}`"
            ),
        )
        .into());
    }
    if let Err(why) = run_tool("systemctl", text::SYSTEMD_STOP) {
        return Err(fail(
            format!("`{stop}` failed: {why}"),
            format!(
                "nothing was removed; `systemctl --user status {}` may say more",
                text::UNIT_FILE
            ),
        )
        .into());
    }
    std::fs::remove_file(&path).map_err(|e| {
        fail(
            format!(
                "the service is stopped, but {} cannot be removed: {e}",
                path.display()
            ),
            format!("remove it yourself (`{remove}`), then run `{forget}`"),
        )
    })?;
    if let Err(why) = run_tool("systemctl", text::SYSTEMD_FORGET) {
        eprintln!("warning: `{forget}` failed: {why}");
    }
    println!(
        "Stopped and removed the login service ({}).",
        path.display()
    );
    Ok(())
}

// ---- launchd (macOS; untested on a real Mac) ----

fn user_home() -> Result<PathBuf> {
    dirs::home_dir().ok_or_else(|| {
        fail(
            "cannot find this user's home directory (HOME is not set)",
            "set HOME and run the command again",
        )
        .into()
    })
}

fn launchd(g: &Global, c: ServiceCommand) -> Result<()> {
    let user = user_home()?;
    let path = text::launchd_plist_path(&user);
    let path_text = path.to_string_lossy().into_owned();
    let load = ["load", "-w", path_text.as_str()];
    let unload = ["unload", "-w", path_text.as_str()];
    match c {
        ServiceCommand::Install(a) => {
            let t = target(g)?;
            let plist = text::launchd_plist(&t.exe, t.home_arg(), &text::launchd_log_dir(&user))
                .map_err(bad_path)?;
            warn_about(&t);
            if a.print {
                let commands = [text::command_line("launchctl", &load)];
                print!("{}", text::install_preview(&plist, &path, &commands));
                return Ok(());
            }
            check_journal(&t)?;
            if path.exists() {
                // A loaded agent reads its file again only when loaded again.
                let _ = run_tool("launchctl", &unload);
            }
            write_atomically(&path, &plist).map_err(|e| cannot_write(&path, e))?;
            if let Err(why) = run_tool("launchctl", &load) {
                return Err(fail(
                    format!(
                        "the agent is in {}, but `{}` failed: {why}",
                        path.display(),
                        text::command_line("launchctl", &load)
                    ),
                    "`mend service uninstall` removes it",
                )
                .into());
            }
            println!("Installed the login service: {}", path.display());
            println!(
                "It runs `mend serve --locked` now and at every login; its output goes to {}.",
                text::launchd_log_dir(&user).join(text::AGENT_LOG).display()
            );
            Ok(())
        }
        ServiceCommand::Status => {
            if !path.exists() {
                println!("Login service: not installed (`mend service install` sets it up)");
            } else if run_tool("launchctl", &["list", text::AGENT_LABEL]).is_ok() {
                println!("Login service: installed, loaded");
            } else {
                println!("Login service: installed, not loaded");
            }
            Ok(())
        }
        ServiceCommand::Uninstall(a) => {
            if !path.exists() {
                println!("The login service is not installed; nothing to do.");
                return Ok(());
            }
            let remove = text::command_line("rm", &[&path_text]);
            if a.print {
                println!("{}\n{remove}", text::command_line("launchctl", &unload));
                return Ok(());
            }
            if let Err(why) = run_tool("launchctl", &unload) {
                eprintln!(
                    "warning: `launchctl unload` failed (it may not have been loaded): {why}"
                );
            }
            std::fs::remove_file(&path).map_err(|e| {
                fail(
                    format!("cannot remove {}: {e}", path.display()),
                    format!("remove it yourself: `{remove}`"),
                )
            })?;
            println!(
                "Stopped and removed the login service ({}).",
                path.display()
            );
            Ok(())
        }
    }
}
