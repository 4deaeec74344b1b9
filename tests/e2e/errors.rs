//! Bad input gets one clear error and a next step, exits non-zero, and changes nothing.

use crate::util::Device;

#[test]
fn wrong_passphrase_changes_nothing() {
    let mut d = Device::new("Alex");
    d.write(&["kept safe"]);
    let before = d.snapshot_files();
    d.pass = "not the passphrase".into();
    for args in [
        &["list"][..],
        &["write", "should not land"],
        &["passphrase"],
    ] {
        let err = d.fails(args);
        assert!(err.contains("wrong passphrase"), "{err}");
    }
    assert_eq!(d.snapshot_files(), before);
}

#[test]
fn user_mistakes_are_explained_and_write_nothing() {
    let d = Device::new("Alex");
    let id = d.write(&["the only entry"]);
    let before = d.snapshot_files();
    let err = d.fails(&["show", "ffffffff"]);
    assert!(
        err.contains("no entry with id ffffffff") && err.contains("mend list"),
        "{err}"
    );
    let err = d.fails(&["write", "--at", "the day after never", "text"]);
    assert!(err.contains("cannot understand the date"), "{err}");
    let err = d.fails(&["list", "--since", "someday maybe"]);
    assert!(err.contains("cannot understand the date"), "{err}");
    let err = d.fails(&["list", "--kind", "promises"]);
    assert!(
        err.contains("no kind of entry called \"promises\"") && err.contains("promise-kept"),
        "{err}"
    );
    let err = d.fails(&["write"]);
    assert!(err.contains("empty"), "{err}");
    let err = d.fails(&["write", "--tag", "two words", "text"]);
    assert!(err.contains("not a tag"), "{err}");
    let err = d.fails(&["edit", &id, "--text", "   "]);
    assert!(err.contains("empty"), "{err}");
    let err = d.fails(&["init", "--name", "Again"]);
    assert!(err.contains("already holds"), "{err}");
    let garbage = d.dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"hello\": 1}").unwrap();
    let err = d.fails(&["import", garbage.to_str().unwrap()]);
    assert!(err.contains("not a Mend or jrnl"), "{err}");
    let err = d.fails(&["import", "/no/such/file.json"]);
    assert!(err.contains("cannot read"), "{err}");
    let err = d.fails(&["delete", &id]);
    assert!(err.contains("confirmation"), "{err}");
    // Out-of-range mood and a passphrase in argv are usage errors (exit 2).
    assert_eq!(d.run(&["write", "--mood", "9", "x"]).status.code(), Some(2));
    assert_eq!(
        d.run(&["--passphrase", "secret", "list"]).status.code(),
        Some(2)
    );
    assert_eq!(d.snapshot_files(), before);
}

#[test]
fn an_empty_home_says_how_to_start() {
    let d = Device::uninitialised();
    let err = d.fails(&["list"]);
    assert!(
        err.contains("no Mend journal") && err.contains("mend init"),
        "{err}"
    );
    assert!(!d.home().exists());
}

#[test]
fn a_damaged_file_is_named_and_left_alone() {
    let d = Device::new("Alex");
    d.write(&["one"]);
    d.write(&["two"]);
    let log = d.home().join("shared/log");
    let mut bytes = std::fs::read(&log).unwrap();
    let mid = 26 + 4 + 40;
    bytes[mid] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let before = d.snapshot_files();
    // Reading goes on with the private entries, saying what is damaged; writing to the shared
    // journal is refused, naming it.
    let out = d.run(&["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("shared/log") && err.contains("damaged"),
        "{err}"
    );
    let err = d.fails(&["write", "three"]);
    assert!(err.contains("shared/log"), "{err}");
    assert_eq!(d.snapshot_files(), before);
}

#[test]
fn a_hostile_key_file_cannot_demand_unbounded_work() {
    let d = Device::new("Alex");
    let key = d.home().join("device.key");
    let mut bytes = std::fs::read(&key).unwrap();
    bytes[10..14].copy_from_slice(&u32::MAX.to_le_bytes()); // Argon2 memory in KiB
    std::fs::write(&key, &bytes).unwrap();
    let started = std::time::Instant::now();
    let err = d.fails(&["list"]);
    assert!(err.contains("above the allowed maximum"), "{err}");
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn a_key_file_from_another_journal_is_refused_and_changes_nothing() {
    let d = Device::new("Alex");
    d.write(&["Alex's words"]);
    let other = Device::new("Sam");
    std::fs::copy(other.home().join("device.key"), d.home().join("device.key")).unwrap();
    let before = d.snapshot_files();
    let err = d.fails(&["list"]);
    assert!(err.contains("another journal"), "{err}");
    assert!(d.fails(&["write", "more"]).contains("another journal"));
    assert_eq!(d.snapshot_files(), before);
}

#[test]
fn a_record_moved_to_another_file_is_refused_and_changes_nothing() {
    let d = Device::new("Alex");
    d.write(&["Shared words"]);
    d.write(&["--private", "Private words"]);
    // The shared log put where the private log belongs: same journal, same key, wrong place.
    std::fs::copy(d.home().join("shared/log"), d.home().join("private/log")).unwrap();
    let before = d.snapshot_files();
    let err = d.fails(&["list"]);
    assert!(err.contains("private/log"), "{err}");
    d.fails(&["write", "more"]);
    assert_eq!(d.snapshot_files(), before);
}

/// `mend status | head -1` and the like: once the reader of the output is gone, the command
/// ends quietly (exit 0, or 141 as if killed by SIGPIPE), with nothing on stderr. Before, it
/// printed "internal error … Broken pipe" (exit 101) or "error: Broken pipe".
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let d = Device::new("Alex");
    for i in 0..30 {
        d.write(&[&format!("entry number {i} with some words #tag{i}")]);
    }
    for args in [
        &["status"][..],
        &["trends"],
        &["completions", "bash"],
        &["export", "--format", "markdown"],
        &["export", "--format", "json"],
        &["list"],
        &["list", "--json"],
        &["search", "entry"],
        &["devices"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        // The reader is gone before the command writes anything.
        drop(reader);
        let out = d
            .command(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(141)),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// Ids are what a Mend export says they are: a short one (`a1`) is shown and used whole, and
/// one with a character that is not ASCII is refused at import by name, where before the
/// partner's `mend list` failed with "internal error … not a char boundary".
#[test]
fn short_and_non_ascii_entry_ids_from_an_import_never_crash_a_command() {
    let d = Device::new("Alex");
    d.write(&["the template"]);
    let export: serde_json::Value =
        serde_json::from_str(&d.ok(&["export", "--format", "json"])).unwrap();
    let template = export["entries"][0].clone();
    let file = d.dir.path().join("ids.json");
    let with = |id: &str, text: &str| {
        let mut e = template.clone();
        e["id"] = id.into();
        e["text"] = text.into();
        let mut f = export.clone();
        f["entries"] = serde_json::json!([e]);
        std::fs::write(&file, f.to_string()).unwrap();
    };
    with("a1", "a short id");
    d.ok(&["import", file.to_str().unwrap()]);
    assert!(d.ok(&["list"]).contains("a1  "));
    assert!(d.ok(&["show", "a1"]).contains("a short id"));
    let edited = d.ok(&["edit", "a1", "--text", "still short"]);
    assert!(edited.contains("a1 edited"), "{edited}");
    assert!(d.ok(&["history", "a1"]).contains("still short"));
    with("ééééééééé9", "not ascii");
    let before = d.snapshot_files();
    let err = d.fails(&["import", file.to_str().unwrap()]);
    assert!(err.contains("entry 1:") && err.contains("id"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    assert_eq!(d.snapshot_files(), before);
    d.ok(&["list"]);
}

/// A damaged shared journal no longer locks the private entries out: reading commands show the
/// private entries with a warning naming the damaged file, writing to the shared journal is
/// refused with an error naming it, and nothing is changed.
#[test]
fn a_damaged_shared_journal_leaves_the_private_entries_readable() {
    let d = Device::new("Alex");
    d.write(&["shared words"]);
    d.write(&["--private", "private words"]);
    d.ok(&["list"]);
    // Damage the shared snapshot where its record starts (the nonce): it fails authentication
    // and its fingerprint changes, so the read index is not believed either.
    let snapshot = d.home().join("shared").join("snapshot");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    for b in bytes.iter_mut().skip(40).take(8) {
        *b ^= 0xff;
    }
    std::fs::write(&snapshot, &bytes).unwrap();
    let before = d.snapshot_files();
    let out = d.run(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("private words"), "{stdout}");
    assert!(!stdout.contains("shared words"), "{stdout}");
    assert!(
        stderr.contains("warning: the shared journal cannot be read")
            && stderr.contains("shared/snapshot"),
        "{stderr}"
    );
    let err = d.fails(&["write", "more shared words"]);
    assert!(err.contains("shared/snapshot"), "{err}");
    assert_eq!(d.snapshot_files(), before, "nothing was changed");
}

#[test]
fn init_refuses_a_directory_that_holds_other_things() {
    let d = Device::uninitialised();
    std::fs::create_dir_all(d.home()).unwrap();
    std::fs::write(d.home().join("thesis.tex"), "my own work").unwrap();
    let err = d.fails(&["init", "--name", "Alex"]);
    assert!(
        err.contains("is not empty") && err.contains("--home"),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(d.home())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["thesis.tex"], "nothing added");
    // A new or empty directory is fine.
    let fresh = Device::uninitialised();
    std::fs::create_dir_all(fresh.home()).unwrap();
    fresh.ok(&["init", "--name", "Alex"]);
}

/// Every invite code the documentation shows is a code `mend join` accepts, and a mistyped
/// word is named rather than the whole code called "not a code".
#[test]
fn the_documented_invite_code_shape_is_accepted_and_a_mistyped_word_is_named() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut shown = Vec::new();
    for doc in ["README.md", "docs/cli.md", "docs/protocol.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            let parts: Vec<&str> = word.split('-').collect();
            if parts.len() == 4
                && parts[0].parse::<u32>().is_ok()
                && parts[1..]
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
            {
                shown.push(word.to_owned());
            }
        }
    }
    assert!(!shown.is_empty(), "the README shows an invite code");
    for code in &shown {
        assert!(
            mend_sync::InviteCode::parse(code).is_ok(),
            "{code} is shown in the documentation but is not a code"
        );
    }
    let d = Device::uninitialised();
    let err = d.fails(&["join", "7-orbit-lunar-pencl", "--name", "Sam"]);
    assert!(err.contains("\"pencl\" is not one of the words"), "{err}");
    assert!(!d.home().exists(), "nothing written");
}

/// `mend join --peer` to an address where nothing listens says so, at once: not that no
/// inviting device answered within the timeout.
#[test]
fn join_where_nothing_listens_says_connection_refused() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let d = Device::uninitialised();
    let addr = format!("/ip4/127.0.0.1/tcp/{port}");
    let err = d.fails(&[
        "join",
        "7-orbit-lunar-pencil",
        "--name",
        "Sam",
        "--peer",
        &addr,
    ]);
    assert!(
        err.contains(&format!("cannot reach {addr}")) && err.contains("connection refused"),
        "{err}"
    );
    assert!(!err.contains("answered within"), "{err}");
    assert!(
        !d.home().join("device.key").exists(),
        "a failed join leaves no journal behind"
    );
}

/// A home that is a file, a home this user cannot read and a place with no journal are three
/// different problems, each named as itself (before, all three said "no Mend journal … run
/// mend init"), and none is changed.
#[test]
fn an_unreadable_home_a_file_home_and_no_journal_are_each_named() {
    let d = Device::uninitialised();
    std::fs::write(d.home(), b"not a directory").unwrap();
    let err = d.fails(&["list"]);
    assert!(err.contains("is a file, not a Mend home"), "{err}");
    let err = d.fails(&["init", "--name", "Alex"]);
    assert!(err.contains("is a file, not a Mend home"), "{err}");
    assert_eq!(std::fs::read(d.home()).unwrap(), b"not a directory");

    let nowhere = Device::uninitialised();
    let err = nowhere.fails(&["list"]);
    assert!(err.contains("no Mend journal in"), "{err}");

    // A journal whose directory this user may not read: made unreadable (mode 000). Root reads
    // it anyway, so as root the command runs as `nobody`, whose journal it then is.
    let a = Device::new("Alex");
    let home = a.home();
    let before = a.snapshot_files();
    // SAFETY: geteuid only reads the process's credentials.
    let root = unsafe { libc::geteuid() } == 0;
    let mut c = if root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            a.home().parent().unwrap(),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        for path in crate::util::files_under(&home).keys().chain([&home]) {
            std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
        }
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(crate::util::mend_bin());
        c
    } else {
        std::process::Command::new(crate::util::mend_bin())
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = c
        .arg("--home")
        .arg(&home)
        .arg("list")
        .env("MEND_PASSPHRASE", &a.pass)
        .env("MEND_INSECURE_TEST_KDF", "1")
        .env("NO_COLOR", "1")
        .env_remove("MEND_HOME")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot read {}: permission denied",
            home.display()
        )),
        "{err}"
    );
    assert!(!err.contains("mend init"), "{err}");
    assert_eq!(a.snapshot_files(), before, "nothing changed");
}

/// A log's records as (frame start, frame end) in `bytes`: each frame is a 4-byte length and
/// the sealed record.
fn frames(bytes: &[u8]) -> (usize, Vec<(usize, usize)>) {
    let decoded = mend_store::decode_records(bytes).unwrap();
    let base = bytes.as_ptr() as usize;
    let spans: Vec<(usize, usize)> = decoded
        .records
        .iter()
        .map(|r| {
            let start = r.as_ptr() as usize - base - 4;
            (start, start + 4 + r.len())
        })
        .collect();
    (spans.first().map_or(bytes.len(), |s| s.0), spans)
}

/// Log records are chained: a record dropped from the middle of a log, or two records put in
/// another order, is detected when the journal is opened (before, the rest opened one by one
/// and the loss went unnoticed), named, and nothing is changed.
#[test]
fn a_record_dropped_from_the_middle_of_a_log_is_detected_on_open() {
    for doc in ["shared", "private"] {
        let d = Device::new("Alex");
        let private = if doc == "private" { "--private" } else { "" };
        for i in 0..3 {
            let text = format!("Entry {i}");
            let mut args = vec![text.as_str()];
            if !private.is_empty() {
                args.insert(0, private);
            }
            d.write(&args);
        }
        let log = d.home().join(doc).join("log");
        let bytes = std::fs::read(&log).unwrap();
        let (header_end, spans) = frames(&bytes);
        assert!(spans.len() >= 3, "{doc}: one record per write");
        let frame = |i: usize| &bytes[spans[i].0..spans[i].1];
        let rebuilt = |order: &[usize]| {
            let mut out = bytes[..header_end].to_vec();
            for &i in order {
                out.extend_from_slice(frame(i));
            }
            out
        };
        let n = spans.len();
        let dropped: Vec<usize> = (0..n).filter(|&i| i != n - 2).collect();
        let mut swapped: Vec<usize> = (0..n).collect();
        swapped.swap(n - 2, n - 1);
        for (what, order) in [("dropped", dropped), ("swapped", swapped)] {
            std::fs::write(&log, rebuilt(&order)).unwrap();
            let _ = std::fs::remove_file(d.home().join("index"));
            let _ = std::fs::remove_file(d.home().join("tips"));
            let before = d.snapshot_files();
            // A damaged shared journal leaves the private entries readable (with a warning);
            // either way the damage is named.
            let out = d.run(&["list"]);
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(
                said.contains(&format!("{doc}/log")) && said.contains("failed authentication"),
                "{doc}, {what}: {said}"
            );
            let err = d.fails(&["write", "more"]);
            assert!(err.contains(&format!("{doc}/log")), "{doc}, {what}: {err}");
            assert_eq!(d.snapshot_files(), before, "{doc}, {what}: nothing changed");
        }
        std::fs::write(&log, &bytes).unwrap();
        assert_eq!(d.list_json(&[]).len(), 3, "{doc}: whole again");
    }
}
