//! The login service's files: the systemd user unit and the launchd agent, as text.

use std::path::{Path, PathBuf};

use mend_app::service::{
    absolute_path, command_line, exec_start, install_preview, launchd_log_dir, launchd_plist,
    launchd_plist_path, serve_command, shell_word, systemd_state, systemd_unit, systemd_unit_path,
    systemd_word, ServicePathError, THEN_RUN,
};

const EXE: &str = "/home/alex/.cargo/bin/mend";
const SPACED_HOME: &str = "/home/alex/My Journal/mend";

fn unit_lines(unit: &str) -> Vec<&str> {
    unit.lines().collect()
}

/// The value of the one `KEY=` line of a unit; fails the test if there is none or several.
fn directive<'a>(unit: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    let found: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "{key}= should appear once in:\n{unit}");
    found[0]
}

#[test]
fn unit_has_every_directive_in_its_section() {
    let unit = systemd_unit(
        Path::new(EXE),
        Some(Path::new(SPACED_HOME)),
        Path::new(SPACED_HOME),
    )
    .unwrap();
    let expected = [
        (
            "Description",
            "Mend: keep the journal in sync with paired devices (mend serve)",
        ),
        ("After", "network-online.target"),
        ("Restart", "on-failure"),
        ("RestartSec", "5"),
        ("NoNewPrivileges", "yes"),
        ("PrivateUsers", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "read-only"),
        ("ReadWritePaths", "\"/home/alex/My Journal/mend\" %t"),
        ("PrivateDevices", "yes"),
        (
            "RestrictAddressFamilies",
            "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ),
        ("LockPersonality", "yes"),
        ("RestrictRealtime", "yes"),
        ("SystemCallArchitectures", "native"),
        ("RestrictNamespaces", "yes"),
        ("WantedBy", "default.target"),
    ];
    for (key, value) in expected {
        assert_eq!(directive(&unit, key), value, "{key}");
    }
    // Each directive sits in its own section.
    let lines = unit_lines(&unit);
    let at = |l: &str| {
        lines
            .iter()
            .position(|x| *x == l || x.starts_with(&format!("{l}=")))
            .unwrap_or_else(|| panic!("{l} missing"))
    };
    assert!(at("[Unit]") < at("Description") && at("After") < at("[Service]"));
    assert!(at("[Service]") < at("ExecStart") && at("RestrictNamespaces") < at("[Install]"));
    assert!(at("[Install]") < at("WantedBy"));
}

#[test]
fn exec_start_quotes_a_home_with_a_space() {
    let unit = systemd_unit(
        Path::new(EXE),
        Some(Path::new(SPACED_HOME)),
        Path::new(SPACED_HOME),
    )
    .unwrap();
    assert_eq!(
        directive(&unit, "ExecStart"),
        "/home/alex/.cargo/bin/mend --home \"/home/alex/My Journal/mend\" serve --locked"
    );
    assert_eq!(
        exec_start(&unit),
        Some("/home/alex/.cargo/bin/mend --home \"/home/alex/My Journal/mend\" serve --locked")
    );
}

#[test]
fn default_home_leaves_out_home_but_still_may_write_it() {
    let default = Path::new("/home/alex/.local/share/mend");
    let unit = systemd_unit(Path::new(EXE), None, default).unwrap();
    assert_eq!(
        directive(&unit, "ExecStart"),
        "/home/alex/.cargo/bin/mend serve --locked"
    );
    assert_eq!(
        directive(&unit, "ReadWritePaths"),
        "/home/alex/.local/share/mend %t"
    );
}

#[test]
fn systemd_words_escape_what_systemd_would_expand() {
    assert_eq!(systemd_word("/usr/bin/mend", true), "/usr/bin/mend");
    assert_eq!(systemd_word("/a b", true), "\"/a b\"");
    assert_eq!(systemd_word("/50%", false), "\"/50%%\"");
    assert_eq!(systemd_word("/$HOME", true), "\"/$$HOME\"");
    // `$` is literal outside a command line.
    assert_eq!(systemd_word("/$HOME", false), "\"/$HOME\"");
    assert_eq!(systemd_word(r#"/q"u\o"#, true), r#""/q\"u\\o""#);
    assert_eq!(systemd_word("/it's", true), "\"/it's\"");
    assert_eq!(systemd_word("", true), "\"\"");
    // The program's path takes `%` specifiers but no `$` expansion; its arguments take both.
    let unit = systemd_unit(
        Path::new("/opt/50% off $x/mend"),
        Some(Path::new("/srv/$j \"q\"")),
        Path::new("/srv/$j \"q\""),
    )
    .unwrap();
    assert_eq!(
        directive(&unit, "ExecStart"),
        r#""/opt/50%% off $x/mend" --home "/srv/$$j \"q\"" serve --locked"#
    );
    assert_eq!(directive(&unit, "ReadWritePaths"), r#""/srv/$j \"q\"" %t"#);
}

#[test]
fn systemd_cannot_start_a_program_with_a_quote_in_its_path() {
    for exe in ["/opt/it's/mend", "/opt/\"q\"/mend", "/opt/back\\slash/mend"] {
        assert_eq!(
            systemd_unit(Path::new(exe), None, Path::new("/h")),
            Err(ServicePathError::UnsafeExecutable(PathBuf::from(exe))),
            "{exe}"
        );
    }
}

#[test]
fn paths_a_service_file_cannot_hold_are_refused() {
    let relative = systemd_unit(Path::new("mend"), None, Path::new("/h"));
    assert_eq!(
        relative,
        Err(ServicePathError::NotAbsolute(PathBuf::from("mend")))
    );
    let home = Path::new("/h/line\nbreak");
    assert_eq!(
        systemd_unit(Path::new(EXE), Some(home), home),
        Err(ServicePathError::ControlCharacter(home.to_owned()))
    );
    assert!(matches!(
        launchd_plist(Path::new(EXE), Some(Path::new("rel")), Path::new("/logs")),
        Err(ServicePathError::NotAbsolute(_))
    ));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"/h/\xff"));
        assert_eq!(
            serve_command(Path::new(EXE), Some(bad)),
            Err(ServicePathError::NotUtf8(bad.to_owned()))
        );
    }
}

fn plist_dict(text: &str) -> plist::Dictionary {
    plist::Value::from_reader_xml(text.as_bytes())
        .unwrap_or_else(|e| panic!("not a property list ({e}):\n{text}"))
        .into_dictionary()
        .expect("a dictionary at the top")
}

#[test]
fn plist_parses_with_the_program_arguments() {
    let home = "/Users/sam/Journal & <Notes>/mend's";
    let text = launchd_plist(
        Path::new("/Users/sam/.cargo/bin/mend"),
        Some(Path::new(home)),
        Path::new("/Users/sam/Library/Logs"),
    )
    .unwrap();
    let dict = plist_dict(&text);
    assert_eq!(
        dict.get("Label").and_then(|v| v.as_string()),
        Some("org.mend.serve")
    );
    let args: Vec<&str> = dict
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .expect("ProgramArguments array")
        .iter()
        .map(|v| v.as_string().expect("a string argument"))
        .collect();
    assert_eq!(
        args,
        [
            "/Users/sam/.cargo/bin/mend",
            "--home",
            home,
            "serve",
            "--locked"
        ]
    );
    assert_eq!(
        dict.get("RunAtLoad").and_then(|v| v.as_boolean()),
        Some(true)
    );
    let keep = dict
        .get("KeepAlive")
        .and_then(|v| v.as_dictionary())
        .expect("KeepAlive dictionary");
    assert_eq!(
        keep.get("SuccessfulExit").and_then(|v| v.as_boolean()),
        Some(false)
    );
    for key in ["StandardOutPath", "StandardErrorPath"] {
        assert_eq!(
            dict.get(key).and_then(|v| v.as_string()),
            Some("/Users/sam/Library/Logs/mend-serve.log"),
            "{key}"
        );
    }
    // The raw text escapes what XML must.
    assert!(
        text.contains("Journal &amp; &lt;Notes&gt;/mend&apos;s"),
        "{text}"
    );
}

#[test]
fn plist_for_the_default_home_has_no_home_argument() {
    let text = launchd_plist(
        Path::new("/usr/local/bin/mend"),
        None,
        Path::new("/Users/sam/Library/Logs"),
    )
    .unwrap();
    let dict = plist_dict(&text);
    let args: Vec<&str> = dict
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .expect("ProgramArguments array")
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    assert_eq!(args, ["/usr/local/bin/mend", "serve", "--locked"]);
}

#[test]
fn preview_puts_the_file_first_then_what_to_run() {
    let unit = systemd_unit(
        Path::new(EXE),
        None,
        Path::new("/home/alex/.local/share/mend"),
    )
    .unwrap();
    let commands = vec![
        command_line("systemctl", &["--user", "daemon-reload"]),
        command_line("systemctl", &["--user", "enable", "--now", "mend.service"]),
    ];
    let path = Path::new("/home/alex/.config/systemd/user/mend.service");
    let shown = install_preview(&unit, path, &commands);
    let (file, rest) = shown
        .split_once(&format!("{THEN_RUN}\n"))
        .expect("the separator line");
    assert_eq!(file, unit, "everything before the separator is the file");
    assert_eq!(
        rest,
        "#   (with the text above in /home/alex/.config/systemd/user/mend.service)\n\
         systemctl --user daemon-reload\n\
         systemctl --user enable --now mend.service\n"
    );
    assert!(!unit.contains(THEN_RUN));
}

#[test]
fn shell_words_are_quoted_when_needed() {
    assert_eq!(shell_word("/usr/bin/mend"), "/usr/bin/mend");
    assert_eq!(shell_word("/My Journal"), "'/My Journal'");
    assert_eq!(shell_word("it's"), r"'it'\''s'");
    assert_eq!(
        command_line("rm", &["/a b/mend.service"]),
        "rm '/a b/mend.service'"
    );
}

#[test]
fn systemd_answers_in_plain_words() {
    assert_eq!(
        systemd_state("enabled\n", "active\n"),
        "installed, enabled, running"
    );
    assert_eq!(
        systemd_state("disabled", "inactive"),
        "installed, not enabled (it will not start at login), not running"
    );
    assert_eq!(
        systemd_state("enabled", "failed"),
        "installed, enabled, failed (`journalctl --user -u mend.service` says why)"
    );
    assert_eq!(
        systemd_state("masked", "activating"),
        "installed, masked (it cannot start), starting"
    );
}

#[test]
fn where_the_files_go() {
    assert_eq!(
        systemd_unit_path(Path::new("/home/alex/.config")),
        Path::new("/home/alex/.config/systemd/user/mend.service")
    );
    assert_eq!(
        launchd_plist_path(Path::new("/Users/sam")),
        Path::new("/Users/sam/Library/LaunchAgents/org.mend.serve.plist")
    );
    assert_eq!(
        launchd_log_dir(Path::new("/Users/sam")),
        Path::new("/Users/sam/Library/Logs")
    );
}

#[test]
fn relative_homes_become_absolute_and_normal() {
    let cwd = Path::new("/home/alex/work");
    assert_eq!(
        absolute_path(Path::new("../j/./mend"), cwd),
        Path::new("/home/alex/j/mend")
    );
    assert_eq!(
        absolute_path(Path::new("/srv/j/../k"), cwd),
        Path::new("/srv/k")
    );
}
