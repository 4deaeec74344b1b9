//! `mend config get|set|path`: this laptop's settings file, with no journal and no passphrase.
//! Every command here is pointed at a temporary file (`MEND_CONFIG`, or `XDG_CONFIG_HOME`), so
//! the user's own settings are never read or touched.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::util::Device;

const RELAY_A: &str =
    "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
const RELAY_B: &str = "/dns4/relay.example.org/tcp/4001/p2p/12D3KooWBeta";

/// A laptop with no journal, whose settings file is `config` (not created yet).
struct Laptop {
    device: Device,
    config: PathBuf,
}

impl Laptop {
    fn new() -> Self {
        let device = Device::uninitialised();
        let config = device
            .dir
            .path()
            .join("conf")
            .join("mend")
            .join("config.toml");
        Laptop { device, config }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.device.command(args);
        // No passphrase to give: a command that asked for one would fail (stdin is null).
        c.env("MEND_CONFIG", &self.config)
            .env("XDG_CONFIG_HOME", self.device.dir.path().join("xdg"))
            .env_remove("MEND_PASSPHRASE");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mend {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run, insist on exit status 1 with nothing on stdout and exactly one `error:` line and
    /// one `hint:` line on stderr; returns the error line.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(1), "mend {args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "mend {args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "mend {args:?}:\n{err}");
        assert!(lines[0].starts_with("error: "), "{err}");
        assert!(lines[1].starts_with("hint: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        lines[0].to_owned()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn shown(&self) -> String {
        self.config.display().to_string()
    }
}

#[test]
fn config_get_shows_the_defaults_and_reading_creates_nothing() {
    let l = Laptop::new();
    assert_eq!(l.ok(&["config", "path"]), format!("{}\n", l.shown()));
    assert_eq!(
        l.ok(&["config", "get"]),
        "notify = \"on\"         (default)\n\
         lock_after = \"never\"  (default)\n\
         relays = []           (default)\n"
    );
    assert_eq!(l.ok(&["config", "get", "notify"]), "on\n");
    assert_eq!(l.ok(&["config", "get", "lock_after"]), "never\n");
    assert_eq!(l.ok(&["config", "get", "relays"]), "");
    assert_eq!(
        l.json(&["config", "get", "--json"]),
        serde_json::json!({
            "notify": {"value": "on", "source": "default"},
            "lock_after": {"value": "never", "source": "default"},
            "relays": {"value": [], "source": "default"},
        })
    );
    assert!(!l.config.exists());
    assert!(!l.config.parent().unwrap().exists());
    // No home was made either.
    assert!(!l.device.home().exists());
}

#[test]
fn config_set_changes_each_setting_and_get_shows_where_it_comes_from() {
    let l = Laptop::new();
    let file = l.shown();
    assert_eq!(
        l.ok(&["config", "set", "notify", "full"]),
        format!("notify = \"full\" (in {file})\n")
    );
    assert_eq!(
        l.ok(&["config", "set", "lock_after", "15m"]),
        format!("lock_after = \"15m\" (in {file})\n")
    );
    assert_eq!(
        l.ok(&["config", "set", "relays", &format!("{RELAY_A},{RELAY_B}")]),
        format!("relays = [\"{RELAY_A}\", \"{RELAY_B}\"] (in {file})\n")
    );
    let shown = l.ok(&["config", "get"]);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(lines[0].starts_with("notify = \"full\" "), "{shown}");
    assert!(lines[1].starts_with("lock_after = \"15m\" "), "{shown}");
    assert!(
        lines[2].starts_with(&format!("relays = [\"{RELAY_A}\", \"{RELAY_B}\"]")),
        "{shown}"
    );
    for line in &lines {
        assert!(line.ends_with(&format!("  (in {file})")), "{shown}");
    }
    assert_eq!(l.ok(&["config", "get", "notify"]), "full\n");
    assert_eq!(l.ok(&["config", "get", "lock_after"]), "15m\n");
    assert_eq!(
        l.ok(&["config", "get", "relays"]),
        format!("{RELAY_A}\n{RELAY_B}\n")
    );
    assert_eq!(
        l.json(&["config", "get", "--json"]),
        serde_json::json!({
            "notify": {"value": "full", "source": "file"},
            "lock_after": {"value": "15m", "source": "file"},
            "relays": {"value": [RELAY_A, RELAY_B], "source": "file"},
        })
    );
    assert_eq!(
        l.json(&["config", "get", "lock_after", "--json"]),
        serde_json::json!({"lock_after": {"value": "15m", "source": "file"}})
    );

    // Back to the quiet defaults, set explicitly.
    l.ok(&["config", "set", "relays", ""]);
    l.ok(&["config", "set", "lock_after", "never"]);
    l.ok(&["config", "set", "notify", "off"]);
    assert_eq!(
        std::fs::read_to_string(&l.config).unwrap(),
        "notify = \"off\"\nlock_after = \"never\"\nrelays = []\n"
    );
    assert_eq!(l.ok(&["config", "get", "relays"]), "");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&l.config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn config_refuses_bad_values_and_unknown_keys_and_leaves_the_file_alone() {
    let l = Laptop::new();
    std::fs::create_dir_all(l.config.parent().unwrap()).unwrap();
    let before = "# my settings\nnotify = \"off\"  # quiet\n";
    std::fs::write(&l.config, before).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["config", "set", "notify", "sometimes"],
            "error: \"sometimes\" is not a valid value for notify: expected on, off or full",
        ),
        (
            &["config", "set", "lock_after", "soon"],
            "error: \"soon\" is not a valid value for lock_after: expected a duration",
        ),
        (
            &["config", "set", "relays", "/ip4/203.0.113.5/tcp/4001"],
            "error: \"/ip4/203.0.113.5/tcp/4001\" is not a valid value for relays: expected a \
             relay address",
        ),
        (
            &["config", "set", "colour", "blue"],
            "error: unknown setting \"colour\" (the settings are notify, lock_after, relays)",
        ),
        (
            &["config", "get", "colour"],
            "error: unknown setting \"colour\" (the settings are notify, lock_after, relays)",
        ),
    ];
    for (args, start) in cases {
        let line = l.refused(args);
        assert!(line.starts_with(start), "{args:?}: {line}");
        assert_eq!(
            std::fs::read(&l.config).unwrap(),
            before.as_bytes(),
            "{args:?}"
        );
    }
    assert_eq!(l.ok(&["config", "get", "notify"]), "off\n");

    // A file with something else in it is refused, naming the key and its line.
    let odd = "notify = \"on\"\n\ntheme = \"dark\"\n";
    std::fs::write(&l.config, odd).unwrap();
    let line = l.refused(&["config", "get"]);
    assert_eq!(
        line,
        format!(
            "error: unknown setting \"theme\" in {} line 3 (the settings are notify, lock_after, \
             relays)",
            l.shown()
        )
    );
    l.refused(&["config", "set", "notify", "full"]);
    assert_eq!(std::fs::read_to_string(&l.config).unwrap(), odd);

    // And one that is not TOML, naming the line.
    let broken = "notify = \"on\"\nlock_after = 15m\n";
    std::fs::write(&l.config, broken).unwrap();
    let line = l.refused(&["config", "get", "notify"]);
    assert!(
        line.starts_with(&format!("error: {} is not valid TOML: line 2", l.shown())),
        "{line}"
    );
    l.refused(&["config", "set", "lock_after", "15m"]);
    assert_eq!(std::fs::read_to_string(&l.config).unwrap(), broken);
}

#[test]
fn config_set_keeps_a_hand_written_comment() {
    let l = Laptop::new();
    std::fs::create_dir_all(l.config.parent().unwrap()).unwrap();
    std::fs::write(
        &l.config,
        "# Sam's laptop: notifications stay vague at work.\n\
         notify = \"on\" # not full, please\n\
         \n\
         # the relay at the office\n\
         relays = [\n    \"/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWOffice\",\n]\n",
    )
    .unwrap();
    l.ok(&["config", "set", "notify", "off"]);
    l.ok(&["config", "set", "lock_after", "2h"]);
    assert_eq!(
        std::fs::read_to_string(&l.config).unwrap(),
        "# Sam's laptop: notifications stay vague at work.\n\
         notify = \"off\" # not full, please\n\
         \n\
         # the relay at the office\n\
         relays = [\n    \"/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWOffice\",\n]\n\
         lock_after = \"2h\"\n"
    );
    assert_eq!(
        l.ok(&["config", "get", "relays"]),
        "/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWOffice\n"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn without_mend_config_the_file_is_under_xdg_config_home() {
    let l = Laptop::new();
    let xdg = l.device.dir.path().join("xdg");
    let expected = xdg.join("mend").join("config.toml");
    let run = |args: &[&str]| {
        let out = l.command(args).env_remove("MEND_CONFIG").output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(&["config", "path"]),
        format!("{}\n", expected.display())
    );
    run(&["config", "set", "notify", "full"]);
    assert_eq!(
        std::fs::read_to_string(&expected).unwrap(),
        "notify = \"full\"\n"
    );
    assert_eq!(run(&["config", "get", "notify"]), "full\n");
    assert!(!l.config.exists());
}
