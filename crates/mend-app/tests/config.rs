//! The settings file: defaults, checking, and edits that keep the file's comments.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mend_app::config::{self, Key, Notify, Settings, Source};
use mend_app::AppError;

const RELAY_A: &str = "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWAlpha";
const RELAY_B: &str = "/dns4/relay.example.org/tcp/4001/p2p/12D3KooWBeta";

fn file_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("mend").join("config.toml")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_missing_file_is_every_default_and_reading_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let settings = config::load(&path).unwrap();
    assert_eq!(settings, Settings::default());
    assert_eq!(settings.notify, Notify::On);
    assert_eq!(settings.lock_after, None);
    assert!(settings.relays.is_empty());
    let read = config::read(&path).unwrap();
    for k in Key::ALL {
        assert_eq!(read.source(k), Source::Default, "{k}");
    }
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn set_creates_a_private_file_in_a_private_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let s = config::set(&path, "notify", "full").unwrap();
    assert_eq!(s.notify, Notify::Full);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "notify = \"full\"\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.toml"]);
    let read = config::read(&path).unwrap();
    assert_eq!(read.source(Key::Notify), Source::File);
    assert_eq!(read.source(Key::LockAfter), Source::Default);
}

#[test]
fn set_keeps_comments_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let before = "# Mend on this laptop\n\
                  notify = \"off\"   # quiet at work\n\
                  \n\
                  # lock the key when I walk away\n\
                  lock_after = \"2h\"\n";
    write(&path, before);
    let s = config::set(&path, "notify", "on").unwrap();
    assert_eq!(s.notify, Notify::On);
    assert_eq!(s.lock_after, Some(Duration::from_secs(7200)));
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        "# Mend on this laptop\n\
         notify = \"on\"   # quiet at work\n\
         \n\
         # lock the key when I walk away\n\
         lock_after = \"2h\"\n"
    );
    // A new setting goes at the end; the rest stays.
    config::set(&path, "relays", RELAY_A).unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with("# Mend on this laptop\nnotify = \"on\"   # quiet at work\n"),
        "{after}"
    );
    assert!(
        after.ends_with(&format!("lock_after = \"2h\"\nrelays = [\"{RELAY_A}\"]\n")),
        "{after}"
    );
}

#[test]
fn an_unknown_key_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let before = "# mine\nnotify = \"off\"\n";
    write(&path, before);
    let err = config::set(&path, "colour", "red").unwrap_err();
    match &err {
        AppError::UnknownSetting { key, at: None } => assert_eq!(key, "colour"),
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("\"colour\""), "{msg}");
    assert!(msg.contains("notify, lock_after, relays"), "{msg}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert!(matches!(
        config::get(&Settings::default(), "color"),
        Err(AppError::UnknownSetting { .. })
    ));
    // Nor is a file created for it.
    let fresh = dir.path().join("other").join("config.toml");
    assert!(config::set(&fresh, "lock", "15m").is_err());
    assert!(!fresh.exists());
}

#[test]
fn bad_values_are_refused_and_the_file_is_unchanged_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let before = "notify = \"full\" # a comment\nrelays = []\n";
    write(&path, before);
    let too_many: Vec<String> = (0..25)
        .map(|i| format!("/ip4/10.0.0.{i}/tcp/4001/p2p/12D3KooW{i}"))
        .collect();
    let long = format!("/ip4/10.0.0.1/tcp/4001/p2p/{}", "x".repeat(300));
    let cases: &[(&str, &str, &str)] = &[
        ("notify", "sometimes", "on, off or full"),
        ("notify", "", "on, off or full"),
        ("lock_after", "soon", "never"),
        ("lock_after", "0s", "never"),
        ("lock_after", "400days", "never"),
        ("relays", "/ip4/203.0.113.5/tcp/4001", "/p2p/"),
        ("relays", &format!("{RELAY_A},not a relay"), "/p2p/"),
        ("relays", &long, "300 bytes"),
        ("relays", &too_many.join(","), "at most 24"),
    ];
    for (key, value, expected) in cases {
        let err = config::set(&path, key, value).unwrap_err();
        let AppError::BadSetting {
            key: k, at: None, ..
        } = &err
        else {
            panic!("{key} {value}: {err:?}");
        };
        assert_eq!(k, key);
        let msg = err.to_string();
        assert!(msg.contains(expected), "{key} {value}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before.as_bytes(),
            "{key} {value}"
        );
    }
}

#[test]
fn a_file_that_is_not_toml_is_refused_with_its_line_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let before = "notify = \"on\"\n# fine so far\nlock_after = 15m\n";
    write(&path, before);
    for err in [
        config::load(&path).unwrap_err(),
        config::set(&path, "notify", "off").unwrap_err(),
    ] {
        match &err {
            AppError::ConfigNotToml { path: p, line, .. } => {
                assert_eq!(p, &path);
                assert_eq!(*line, 3);
            }
            other => panic!("{other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("config.toml is not valid TOML: line 3"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before.as_bytes());

    std::fs::write(&path, b"notify = \"on\"\n\xff\n").unwrap();
    assert!(matches!(
        config::load(&path),
        Err(AppError::ConfigNotToml { line: 2, .. })
    ));
}

#[test]
fn anything_else_in_the_file_is_refused_with_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let before = "notify = \"on\"\n\n# old\ntheme = \"dark\"\n";
    write(&path, before);
    for err in [
        config::load(&path).unwrap_err(),
        config::set(&path, "notify", "off").unwrap_err(),
    ] {
        match &err {
            AppError::UnknownSetting { key, at: Some(at) } => {
                assert_eq!(key, "theme");
                assert_eq!(at.line, 4);
                assert_eq!(at.path, path);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("config.toml line 4"), "{err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before.as_bytes());

    // A table is not a setting either.
    write(&path, "[relays]\nlist = []\n");
    let err = config::load(&path).unwrap_err();
    assert!(
        matches!(&err, AppError::BadSetting { key, at: Some(at), .. } if key == "relays" && at.line == 1),
        "{err:?}"
    );
}

#[test]
fn bad_values_in_the_file_are_named_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let cases: &[(&str, &str, usize)] = &[
        ("notify = \"loud\"\n", "notify", 1),
        ("\nnotify = true\n", "notify", 2),
        ("lock_after = 900\n", "lock_after", 1),
        ("lock_after = \"-5m\"\n", "lock_after", 1),
        ("relays = \"/ip4/1.2.3.4/tcp/1/p2p/x\"\n", "relays", 1),
        (
            "relays = [\n  \"/ip4/1.2.3.4/tcp/1/p2p/x\",\n  \"/ip4/1.2.3.4/tcp/1\",\n]\n",
            "relays",
            3,
        ),
        (
            "relays = [\n  \"/ip4/1.2.3.4/tcp/1/p2p/x\",\n  7,\n]\n",
            "relays",
            3,
        ),
    ];
    for (text, key, line) in cases {
        write(&path, text);
        match config::load(&path) {
            Err(AppError::BadSetting {
                key: k,
                at: Some(at),
                ..
            }) => {
                assert_eq!((k.as_str(), at.line), (*key, *line), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn set_replaces_a_bad_value_of_the_same_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    write(&path, "notify = \"loud\" # oops\n");
    assert!(config::load(&path).is_err());
    let s = config::set(&path, "notify", "Off").unwrap();
    assert_eq!(s.notify, Notify::Off);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "notify = \"off\" # oops\n"
    );
}

#[test]
fn relays_are_read_from_an_array_and_set_from_a_comma_separated_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    write(
        &path,
        &format!("relays = [\n  \"{RELAY_A}\", # home\n  \" {RELAY_B} \",\n  \"{RELAY_A}\",\n]\n"),
    );
    let s = config::load(&path).unwrap();
    assert_eq!(s.relays, [RELAY_A, RELAY_B]);
    assert_eq!(
        config::get(&s, "relays").unwrap(),
        format!("{RELAY_A}\n{RELAY_B}")
    );

    let s = config::set(&path, "relays", &format!(" {RELAY_B} ,{RELAY_A}")).unwrap();
    assert_eq!(s.relays, [RELAY_B, RELAY_A]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("relays = [\n    \"{RELAY_B}\",\n    \"{RELAY_A}\",\n]\n")
    );
    assert_eq!(config::load(&path).unwrap().relays, [RELAY_B, RELAY_A]);
    assert_eq!(
        config::value_toml(&s, Key::Relays),
        format!("[\"{RELAY_B}\", \"{RELAY_A}\"]")
    );

    let s = config::set(&path, "relays", "").unwrap();
    assert!(s.relays.is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "relays = []\n");
    let read = config::read(&path).unwrap();
    assert!(read.settings.relays.is_empty());
    assert_eq!(read.source(Key::Relays), Source::File);
    assert_eq!(config::get(&read.settings, "relays").unwrap(), "");

    // 24 are allowed.
    let many: Vec<String> = (0..24)
        .map(|i| format!("/ip4/10.0.0.{i}/tcp/4001/p2p/12D3KooW{i}"))
        .collect();
    assert_eq!(
        config::set(&path, "relays", &many.join(","))
            .unwrap()
            .relays
            .len(),
        24
    );
}

#[test]
fn lock_after_takes_a_duration_or_never() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let s = config::set(&path, "lock_after", "15m").unwrap();
    assert_eq!(s.lock_after, Some(Duration::from_secs(900)));
    assert_eq!(config::get(&s, "lock_after").unwrap(), "15m");
    assert_eq!(config::value_toml(&s, Key::LockAfter), "\"15m\"");

    let s = config::set(&path, "lock_after", "never").unwrap();
    assert_eq!(s.lock_after, None);
    assert_eq!(config::get(&s, "lock_after").unwrap(), "never");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "lock_after = \"never\"\n"
    );
    let read = config::read(&path).unwrap();
    assert_eq!(read.settings.lock_after, None);
    assert_eq!(read.source(Key::LockAfter), Source::File);

    write(&path, "lock_after = \"1h 30m\"\n");
    assert_eq!(
        config::load(&path).unwrap().lock_after,
        Some(Duration::from_secs(5400))
    );
    write(&path, "lock_after = \"1y\"\n");
    assert!(config::load(&path).unwrap().lock_after.is_some());
}

#[test]
fn a_file_over_64_kib_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_in(&dir);
    let mut text = String::from("notify = \"on\"\n");
    while text.len() <= 64 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    write(&path, &text);
    assert!(matches!(
        config::load(&path),
        Err(AppError::ConfigTooLarge { max: 65536, .. })
    ));
    assert!(matches!(
        config::set(&path, "notify", "off"),
        Err(AppError::ConfigTooLarge { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[cfg(unix)]
#[test]
fn set_through_a_symlink_replaces_its_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles").join("mend.toml");
    write(&real, "# from my dotfiles\n");
    let link = file_in(&dir);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    config::set(&link, "notify", "off").unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "# from my dotfiles\nnotify = \"off\"\n"
    );
}
