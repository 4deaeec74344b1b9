//! `mend serve` started at login: the text of the systemd user unit (Linux) and of the launchd
//! agent (macOS) that run `mend serve --locked`, what `mend service install --print` shows,
//! and what systemd's answers mean in plain words.
//!
//! Pure text: no I/O. The front end finds the paths (the binary, the home, the config
//! directory), writes the file and runs `systemctl` / `launchctl`.

use std::path::{Path, PathBuf};

/// The systemd user unit's file name (in `$XDG_CONFIG_HOME/systemd/user/`).
pub const UNIT_FILE: &str = "mend.service";
/// The launchd agent's label.
pub const AGENT_LABEL: &str = "org.mend.serve";
/// The launchd agent's file name (in `~/Library/LaunchAgents/`).
pub const AGENT_FILE: &str = "org.mend.serve.plist";
/// The launchd agent's log file name (in `~/Library/Logs/`): the serve's stdout and stderr.
pub const AGENT_LOG: &str = "mend-serve.log";
/// The line of `mend service install --print` between the file's text and what to run then:
/// everything before it is the file exactly as `install` writes it.
pub const THEN_RUN: &str = "# then run:";

/// `systemctl` arguments, in order, that `install` runs after writing the unit.
pub const SYSTEMD_INSTALL: [&[&str]; 2] = [
    &["--user", "daemon-reload"],
    &["--user", "enable", "--now", UNIT_FILE],
];
/// `systemctl` arguments that `uninstall` runs before removing the unit.
pub const SYSTEMD_STOP: &[&str] = &["--user", "disable", "--now", UNIT_FILE];
/// `systemctl` arguments that `uninstall` runs after removing the unit.
pub const SYSTEMD_FORGET: &[&str] = &["--user", "daemon-reload"];

/// A path that cannot go into a unit or agent file as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicePathError {
    #[error("{} is not an absolute path", .0.display())]
    NotAbsolute(PathBuf),
    #[error("the path {} is not valid UTF-8, which a service file needs", .0.display())]
    NotUtf8(PathBuf),
    #[error("the path {:?} holds a control character (such as a line break)", .0)]
    ControlCharacter(PathBuf),
    /// systemd refuses to start a program whose own path holds a quote or a backslash.
    #[error("systemd cannot start a program whose path holds a quote or a backslash: {}", .0.display())]
    UnsafeExecutable(PathBuf),
}

/// The path as text, if a service file can hold it: absolute, UTF-8, no control characters.
fn checked(p: &Path) -> Result<&str, ServicePathError> {
    if !p.is_absolute() {
        return Err(ServicePathError::NotAbsolute(p.to_owned()));
    }
    let s = p
        .to_str()
        .ok_or_else(|| ServicePathError::NotUtf8(p.to_owned()))?;
    if s.chars().any(char::is_control) {
        return Err(ServicePathError::ControlCharacter(p.to_owned()));
    }
    Ok(s)
}

/// What the service runs, one argument each: `EXE [--home HOME] serve --locked`. `home` is
/// `None` for the default home (the platform's data directory).
pub fn serve_command(exe: &Path, home: Option<&Path>) -> Result<Vec<String>, ServicePathError> {
    let mut argv = vec![checked(exe)?.to_owned()];
    if let Some(h) = home {
        argv.push("--home".into());
        argv.push(checked(h)?.to_owned());
    }
    argv.push("serve".into());
    argv.push("--locked".into());
    Ok(argv)
}

/// One word of a unit file setting, quoted per systemd.syntax(7) when it needs it: in double
/// quotes, with `\` and `"` escaped; `%` doubled (specifiers are expanded inside quotes too);
/// for a command line's argument (`exec`) `$` doubled too (environment variables are expanded
/// there, though not in the program's own path).
pub fn systemd_word(word: &str, exec: bool) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@=".contains(c));
    if plain {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if exec => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The systemd user unit `mend.service`: runs `EXE [--home HOME] serve --locked` at login,
/// restarted when it fails, in a sandbox that may write only `writable_home` (the journal's
/// home, whichever it is: the default one too) and the user's runtime directory, and reach
/// the network, the local socket and D-Bus. Commands run through serve run in the same
/// sandbox; those that read or write a file the person names (`import`, `trends --output`)
/// are run directly instead.
///
/// The mount sandboxing (`PrivateTmp`, `ProtectSystem`, `ProtectHome`, `ReadWritePaths`,
/// `PrivateDevices`) needs a user namespace in a user unit: `PrivateUsers=yes` says so, as
/// systemd 253 and later imply (before 253 those settings were silently ignored without it).
pub fn systemd_unit(
    exe: &Path,
    home: Option<&Path>,
    writable_home: &Path,
) -> Result<String, ServicePathError> {
    let argv = serve_command(exe, home)?;
    if argv[0].contains(['"', '\'', '\\']) {
        return Err(ServicePathError::UnsafeExecutable(exe.to_owned()));
    }
    // The program's own path takes no `$` expansion: only its arguments do.
    let exec = std::iter::once(systemd_word(&argv[0], false))
        .chain(argv[1..].iter().map(|w| systemd_word(w, true)))
        .collect::<Vec<_>>()
        .join(" ");
    let writable = systemd_word(checked(writable_home)?, false);
    Ok(format!(
        "\
# Starts `mend serve --locked` at login: it keeps this laptop's journal in sync with the paired
# devices. Started locked, it waits for the key: the first mend command that asks for the
# passphrase (or `mend unlock`) hands it over.
# Written by `mend service install`; `mend service uninstall` stops it and removes this file.

[Unit]
Description=Mend: keep the journal in sync with paired devices (mend serve)
After=network-online.target

[Service]
ExecStart={exec}
Restart=on-failure
RestartSec=5
NoNewPrivileges=yes
PrivateUsers=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
# The journal's home, and the runtime directory (where an editor's draft is kept while a
# command runs through serve).
ReadWritePaths={writable} %t
PrivateDevices=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
LockPersonality=yes
RestrictRealtime=yes
SystemCallArchitectures=native
RestrictNamespaces=yes

[Install]
WantedBy=default.target
"
    ))
}

/// Text escaped for XML character data and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The launchd agent `org.mend.serve.plist`: runs `EXE [--home HOME] serve --locked` at login
/// and again whenever it exits with an error; its output goes to `log_dir/mend-serve.log`.
pub fn launchd_plist(
    exe: &Path,
    home: Option<&Path>,
    log_dir: &Path,
) -> Result<String, ServicePathError> {
    let args: String = serve_command(exe, home)?
        .iter()
        .map(|a| format!("\t\t<string>{}</string>\n", xml_escape(a)))
        .collect();
    let log = xml_escape(checked(&log_dir.join(AGENT_LOG))?);
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Starts `mend serve --locked` at login. Written by `mend service install`;
     `mend service uninstall` unloads it and removes this file. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{AGENT_LABEL}</string>
	<key>ProgramArguments</key>
	<array>
{args}	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>StandardOutPath</key>
	<string>{log}</string>
	<key>StandardErrorPath</key>
	<string>{log}</string>
</dict>
</plist>
"#
    ))
}

/// `s` as one word for a POSIX shell: as it is when that is safe, else in single quotes.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@=%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A command line to show: `program args…`, each word quoted for a shell when needed.
pub fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .map(shell_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What `mend service install --print` shows: the file's text exactly as it would be
/// written, then the line [`THEN_RUN`], a comment naming where the file goes, and the
/// commands that would run, one a line.
pub fn install_preview(file_text: &str, file_path: &Path, commands: &[String]) -> String {
    let mut out = String::from(file_text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(THEN_RUN);
    out.push('\n');
    out.push_str(&format!(
        "#   (with the text above in {})\n",
        shell_word(&file_path.to_string_lossy())
    ));
    for c in commands {
        out.push_str(c);
        out.push('\n');
    }
    out
}

/// `systemctl --user is-enabled` and `is-active`'s answers about the unit, as `mend service
/// status` says them: `installed, enabled, running`.
pub fn systemd_state(is_enabled: &str, is_active: &str) -> String {
    let enabled = match is_enabled.trim() {
        "enabled" | "enabled-runtime" => "enabled",
        "disabled" => "not enabled (it will not start at login)",
        "masked" | "masked-runtime" => "masked (it cannot start)",
        "" => "whether it is enabled is unknown",
        other => other,
    };
    let active = match is_active.trim() {
        "active" | "reloading" => "running".to_owned(),
        "inactive" => "not running".to_owned(),
        "activating" => "starting".to_owned(),
        "deactivating" => "stopping".to_owned(),
        "failed" => format!("failed (`journalctl --user -u {UNIT_FILE}` says why)"),
        "" => "whether it runs is unknown".to_owned(),
        other => other.to_owned(),
    };
    format!("installed, {enabled}, {active}")
}

/// Where systemd looks for this user's units, given the config directory
/// (`$XDG_CONFIG_HOME`, else `~/.config`).
pub fn systemd_unit_path(config_dir: &Path) -> PathBuf {
    config_dir.join("systemd").join("user").join(UNIT_FILE)
}

/// Where launchd looks for this user's agents, given the user's home directory.
pub fn launchd_plist_path(user_home: &Path) -> PathBuf {
    user_home
        .join("Library")
        .join("LaunchAgents")
        .join(AGENT_FILE)
}

/// Where the launchd agent's log goes, given the user's home directory.
pub fn launchd_log_dir(user_home: &Path) -> PathBuf {
    user_home.join("Library").join("Logs")
}

/// The `ExecStart=` line of a unit file's text, if it has one (what `mend service status`
/// shows as what the service runs).
pub fn exec_start(unit_text: &str) -> Option<&str> {
    unit_text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .map(str::trim)
}

/// A path made absolute against `cwd` and lexically normalised (`.` dropped, `..` taken back
/// a component), for a home that may not exist yet (so cannot be canonicalised).
pub fn absolute_path(p: &Path, cwd: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        cwd.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether the service's private `/tmp` would hide `p` (PrivateTmp=yes): a home or binary
/// there is not the one the service sees.
pub fn under_private_tmp(p: &Path) -> bool {
    p.starts_with("/tmp") || p.starts_with("/var/tmp")
}
