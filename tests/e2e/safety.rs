//! Durability and secrecy: torn logs, concurrent writers, passphrase changes, no plaintext.

use std::process::Stdio;

use crate::util::{contains, files_under, texts, Device};

#[test]
fn a_torn_final_log_record_is_dropped_with_a_warning() {
    let d = Device::new("Alex");
    d.write(&["survives"]);
    d.write(&["torn by a power cut"]);
    let log = d.home().join("shared/log");
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 9)
        .unwrap();
    let out = d.run(&["list", "--json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning") && err.contains("torn"), "{err}");
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(texts(&entries), vec!["survives"]);
    d.write(&["after recovery"]);
    let out = d.run(&["list", "--json"]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
    assert_eq!(d.list_json(&[]).len(), 2);
}

#[test]
fn ten_concurrent_writers_all_land() {
    let d = Device::new("Alex");
    let children: Vec<_> = (0..10)
        .map(|i| {
            d.command(&["write", &format!("writer number {i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut got = texts(&d.list_json(&[]));
    got.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("writer number {i}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn changing_the_passphrase_keeps_entries_and_retires_the_old_one() {
    let mut d = Device::new("Alex");
    d.write(&["before the change"]);
    let snapshot_before = std::fs::read(d.home().join("shared/snapshot")).unwrap();
    let out = d
        .command(&["passphrase"])
        .env("MEND_NEW_PASSPHRASE", "a brand new passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.fails(&["list"]).contains("wrong passphrase"));
    d.pass = "a brand new passphrase".into();
    assert_eq!(texts(&d.list_json(&[])), vec!["before the change"]);
    assert_eq!(
        std::fs::read(d.home().join("shared/snapshot")).unwrap(),
        snapshot_before,
        "no entry is re-encrypted"
    );
    // --passphrase-file works too, and wins over the environment.
    let file = d.dir.path().join("pass.txt");
    std::fs::write(&file, "a brand new passphrase\n").unwrap();
    let out = d
        .command(&["--passphrase-file", file.to_str().unwrap(), "list"])
        .env("MEND_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn no_plaintext_reaches_the_disk() {
    let d = Device::new("Marker-Name-Quokka");
    let runtime = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = d.dir.path().join("editor.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf ' marker-edited-walrus' >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let with_env = |args: &[&str]| {
        let out = d
            .command(args)
            .env("EDITOR", &script)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("TMPDIR", tmp.path())
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let id = d.write(&[
        "--tag",
        "markertagokapi",
        "marker-body-narwhal @markerinlineaxolotl",
    ]);
    d.write(&["--private", "marker-private-pangolin"]);
    with_env(&["edit", &id]);
    let export = d.dir.path().join("x.json");
    std::fs::write(
        &export,
        r#"{"entries":[{"title":"marker-import-tapir.","body":"","date":"2026-01-01","time":"09:00","tags":[]}]}"#,
    )
    .unwrap();
    let mut logs = Vec::new();
    for args in [
        &["list"][..],
        &["search", "marker"],
        &["show", &id],
        &["status"],
        &["import", export.to_str().unwrap()],
        &["export"],
    ] {
        let out = with_env(args);
        logs.extend(out.stderr);
    }
    let markers = [
        "Marker-Name-Quokka",
        "marker-body-narwhal",
        "markertagokapi",
        "markerinlineaxolotl",
        "marker-private-pangolin",
        "marker-edited-walrus",
        "marker-import-tapir",
        crate::util::PASS,
    ];
    let mut places = files_under(&d.home());
    places.extend(files_under(runtime.path()));
    places.extend(files_under(tmp.path()));
    assert!(places.len() >= 5, "{places:?}");
    for m in markers {
        for (path, bytes) in &places {
            assert!(
                !contains(bytes, m.as_bytes()),
                "{m} found in {}",
                path.display()
            );
        }
        assert!(
            !contains(&logs, m.as_bytes()),
            "{m} found in the trace logs"
        );
    }
    // The edit really happened, so the scan looked for something that exists.
    assert!(d.ok(&["show", &id]).contains("marker-edited-walrus"));
}
