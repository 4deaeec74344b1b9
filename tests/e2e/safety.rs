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
    d.change_passphrase("a brand new passphrase");
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
        crate::util::succeeds(
            d.command(args)
                .env("EDITOR", &script)
                .env("XDG_RUNTIME_DIR", runtime.path())
                .env("TMPDIR", tmp.path())
                .env("RUST_LOG", "trace"),
        )
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

/// Everything a run printed to stderr (the logs, at RUST_LOG=trace) and stdout.
fn run_logged(d: &Device, args: &[&str], logs: &mut Vec<u8>) -> std::process::Output {
    let out = d.run(args);
    logs.extend(&out.stderr);
    assert!(
        out.status.success(),
        "mend {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn every_command_at_trace_level_keeps_secrets_off_disk_and_out_of_logs() {
    use crate::util::{start_invite, Background, LOOPBACK};
    let mut alex = Device::uninitialised();
    alex.trace = true;
    alex.pass = "alex-passphrase-marker-kiwi".into();
    let mut sam = Device::uninitialised();
    sam.trace = true;
    sam.pass = "sam-passphrase-marker-lime".into();
    let tmp = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let mut logs = Vec::new();
    let markers = [
        "MarkerPersonAlexia",
        "MarkerPersonSamwise",
        "marker-entry-aardvark",
        "markertagbison",
        "marker-private-cobra",
        "marker-reply-dingo",
        "marker-promise-eagle",
        "marker-ask-ferret",
        "marker-give-gecko",
        "marker-checkin-heron",
        "marker-together-ibis",
        "marker-device-jackal",
    ];
    run_logged(
        &alex,
        &["init", "--name", markers[0], "--device", markers[11]],
        &mut logs,
    );
    let e = run_logged(
        &alex,
        &["write", "--tag", markers[3], markers[2]],
        &mut logs,
    );
    let entry = String::from_utf8(e.stdout).unwrap().trim().to_owned();
    run_logged(&alex, &["write", "--private", markers[4]], &mut logs);

    // Pair over loopback, everything at trace level.
    let (invite, code, addr) = start_invite(&alex);
    run_logged(
        &sam,
        &["join", &code, "--name", markers[1], "--peer", &addr],
        &mut logs,
    );
    let (ok, out) = invite.finish();
    assert!(ok);
    logs.extend(log_lines(&out));

    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    run_logged(&sam, &["reply", &entry, markers[5]], &mut logs);
    let p = run_logged(&alex, &["promise", "add", markers[6]], &mut logs);
    let promise = String::from_utf8(p.stdout).unwrap().trim().to_owned();
    let a = run_logged(&sam, &["reassure", "ask", markers[7]], &mut logs);
    let ask = String::from_utf8(a.stdout).unwrap().trim().to_owned();
    run_logged(
        &sam,
        &["checkin", "--mood", "3", "--note", markers[9]],
        &mut logs,
    );
    run_logged(&sam, &["together", "communicate-1", markers[10]], &mut logs);
    run_logged(&sam, &["sync", "--peer", &addr], &mut logs);
    run_logged(&alex, &["reassure", "give", &ask, markers[8]], &mut logs);
    run_logged(&alex, &["promise", "kept", &promise], &mut logs);
    run_logged(&sam, &["ack", &entry], &mut logs);
    for args in [
        &["list"][..],
        &["search", "marker"],
        &["show", &entry],
        &["status"],
        &["devices"],
        &["history", &entry],
        &["promise", "list"],
        &["trends"],
        &["prompt"],
    ] {
        run_logged(&alex, args, &mut logs);
        run_logged(&sam, args, &mut logs);
    }
    run_logged(&sam, &["sync", "--peer", &addr], &mut logs);
    let (_, out) = serve.terminate();
    logs.extend(log_lines(&out));
    let out = alex
        .command(&["passphrase"])
        .env("MEND_NEW_PASSPHRASE", "alex-new-passphrase-marker-mango")
        .env("TMPDIR", tmp.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    logs.extend(&out.stderr);

    // The journal key, read the way the program reads it, must not be anywhere either.
    let (_, secrets) = mend_store::Home::new(sam.home())
        .unlock(&mend_crypto::Passphrase::from(sam.pass.clone()))
        .unwrap();
    let key_hex = hex_lower(secrets.journal_key.expose());
    let key_raw = secrets.journal_key.expose().to_vec();

    let mut places = files_under(&alex.home());
    places.extend(files_under(&sam.home()));
    places.extend(files_under(tmp.path()));
    places.extend(files_under(runtime.path()));
    let mut needles: Vec<Vec<u8>> = markers.iter().map(|m| m.as_bytes().to_vec()).collect();
    needles.push(alex.pass.as_bytes().to_vec());
    needles.push(sam.pass.as_bytes().to_vec());
    needles.push(b"alex-new-passphrase-marker-mango".to_vec());
    needles.push(key_hex.as_bytes().to_vec());
    needles.push(key_raw.clone());
    assert!(
        logs.len() > 10_000,
        "trace logging ran ({} bytes)",
        logs.len()
    );
    for n in &needles {
        let shown = String::from_utf8_lossy(n).into_owned();
        for (path, bytes) in &places {
            assert!(!contains(bytes, n), "{shown:?} found in {}", path.display());
        }
        assert!(!contains(&logs, n), "{shown:?} found in the logs");
    }
}

/// The log lines (tracing's, with a level) of a background run whose stdout and stderr were
/// read together: what it printed for the user on stdout is not a log.
fn log_lines(out: &str) -> Vec<u8> {
    out.lines()
        .filter(|l| {
            [" TRACE ", " DEBUG ", " INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .flat_map(|l| l.bytes().chain(std::iter::once(b'\n')))
        .collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Editor drafts hold plaintext: under any umask (here 000, where a plain create made them
/// world-readable) they are 0600 in a 0700 directory, and when mend is interrupted (Ctrl-C to
/// the terminal's process group), hung up or terminated while the editor is open, the draft is
/// wiped and removed and mend ends as that signal ends it (before, the draft stayed behind).
#[test]
fn editor_drafts_are_private_and_wiped_when_mend_is_interrupted_hung_up_or_terminated() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let d = Device::new("Alex");
    d.write(&["an entry to edit"]);
    let id = d.list_json(&[])[0]["id"].as_str().unwrap().to_owned();
    let runtime = d.dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let seen = d.dir.path().join("seen");
    let editor = d.dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nprintf '%s %s %s\\n' \"$(stat -c %a \"$1\")\" \"$(stat -c %a \"$(dirname \"$1\")\")\" \"$1\" > {seen}.tmp\n\
             echo 'secret draft words' >> \"$1\"\nmv {seen}.tmp {seen}\nexec sleep 30\n",
            seen = seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (sig, code) in [
        (libc::SIGINT, 1),
        (libc::SIGHUP, 128 + libc::SIGHUP),
        (libc::SIGTERM, 128 + libc::SIGTERM),
    ] {
        let _ = std::fs::remove_file(&seen);
        let stderr = d.dir.path().join("stderr");
        let mut c = d.command(&["edit", &id]);
        c.env("EDITOR", &editor)
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .process_group(0);
        // SAFETY: only umask, async-signal-safe, between fork and exec.
        unsafe {
            c.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        let mut child = c.spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !seen.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the editor never opened"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let line = std::fs::read_to_string(&seen).unwrap();
        let mut parts = line.split_whitespace();
        let (file_mode, dir_mode) = (parts.next().unwrap(), parts.next().unwrap());
        let draft = std::path::PathBuf::from(parts.next().unwrap());
        assert_eq!((file_mode, dir_mode), ("600", "700"), "{line}");
        assert!(draft.starts_with(&runtime) && draft.exists());
        let pid = child.id() as i32;
        // Ctrl-C goes to the whole foreground group; the others to mend alone.
        let target = if sig == libc::SIGINT { -pid } else { pid };
        assert_eq!(unsafe { libc::kill(target, sig) }, 0);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "mend did not end on {sig}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let err = std::fs::read_to_string(&stderr).unwrap();
        assert_eq!(status.code(), Some(code), "signal {sig}: {status:?} {err}");
        assert!(!draft.exists(), "signal {sig}: the draft is still there");
        assert!(
            std::fs::read_dir(&runtime).unwrap().next().is_none(),
            "signal {sig}: something is left in the runtime directory"
        );
        assert!(!err.contains("internal error"), "{err}");
        // Nothing of the draft was saved.
        assert!(!d.ok(&["show", &id]).contains("secret draft words"));
        let _ = unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

/// A home another local user can write in, or does not belong to this user, is refused before
/// anything is read or written there (another user could plant files or symlinks in it).
#[test]
fn a_home_others_can_write_in_or_that_is_not_ours_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    // A new journal in a directory the group and others may write in.
    let d = Device::uninitialised();
    std::fs::create_dir(d.home()).unwrap();
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = d.fails(&["init", "--name", "Alex"]);
    assert!(
        err.contains("is not private") && err.contains("mode 777"),
        "{err}"
    );
    assert!(err.contains("chmod 700"), "{err}");
    assert_eq!(
        std::fs::read_dir(d.home()).unwrap().count(),
        0,
        "nothing was written"
    );
    // An existing journal whose home became writable by the group.
    let d = Device::new("Alex");
    d.write(&["kept"]);
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let before = d.snapshot_files();
    for args in [&["list"][..], &["write", "more"], &["status"]] {
        let err = d.fails(args);
        assert!(err.contains("is not private"), "{args:?}: {err}");
    }
    assert_eq!(d.snapshot_files(), before);
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(d.ok(&["list"]).contains("kept"));
    // A home that belongs to another user: only root can make one here.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(d.home(), Some(65534), None).unwrap();
        let err = d.fails(&["list"]);
        assert!(err.contains("belongs to another user"), "{err}");
        std::os::unix::fs::chown(d.home(), Some(0), None).unwrap();
    } else {
        eprintln!("skipped the other user's home: not running as root, cannot chown");
    }
}

/// A symlink planted where Mend writes its temporary key file (`device.key.tmp`, the finding)
/// is removed, never followed: the file it points at is left as it was.
#[test]
fn a_planted_temporary_file_symlink_is_not_followed() {
    use std::os::unix::fs::PermissionsExt;
    let d = Device::uninitialised();
    let victim = d.dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::create_dir(d.home()).unwrap();
    std::fs::set_permissions(d.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&victim, d.home().join("device.key.tmp")).unwrap();
    d.ok(&["init", "--name", "Alex"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!std::fs::symlink_metadata(d.home().join("device.key"))
        .unwrap()
        .file_type()
        .is_symlink());
    d.write(&["works"]);
    // The same on a passphrase change, which rewrites the key file.
    std::os::unix::fs::symlink(&victim, d.home().join("device.key.tmp")).unwrap();
    d.change_passphrase("a new passphrase for this test");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// Every file under `d`'s home that holds records (all but the key file, the lock and the
/// shared journal): each record must open under the device's own key and not under the
/// journal key the partner's devices hold. Returns the files checked.
fn device_only_records(d: &Device) -> Vec<String> {
    let (key_file, secrets) = mend_store::Home::new(d.home())
        .unlock(&mend_crypto::Passphrase::from(d.pass.clone()))
        .unwrap();
    let jid = key_file.journal_id;
    let device = secrets.device_key(&jid);
    let mut checked = Vec::new();
    for (path, bytes) in files_under(&d.home()) {
        let name = path
            .strip_prefix(d.home())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name == "device.key" || name == "lock" || name.starts_with("shared/") || bytes.is_empty()
        {
            continue;
        }
        let Ok(decoded) = mend_store::decode_records(&bytes) else {
            continue; // not a data file (a socket's directory, say)
        };
        // Log records are chained: each opens at its place after the one before.
        // (the first binds the snapshot the log follows, named in its header).
        let mut link = mend_crypto::Chain {
            position: 0,
            previous: decoded.header.follows.unwrap_or_default(),
        };
        let chained = name.ends_with("log");
        let open = |key: &mend_crypto::JournalKey, link: &mend_crypto::Chain, kind, sealed| {
            if chained {
                mend_crypto::open_chained(key, &jid, kind, link, sealed)
            } else {
                mend_crypto::open_record(key, &jid, kind, sealed)
            }
        };
        for sealed in &decoded.records {
            let kind = decoded.header.kind;
            assert!(
                open(&secrets.journal_key, &link, kind, sealed).is_err(),
                "{name} of {} opens with the journal key the partner holds",
                d.home().display()
            );
            assert!(
                open(&device, &link, kind, sealed).is_ok(),
                "{name} does not open with the device's own key"
            );
            link = link.after(sealed).unwrap();
        }
        checked.push(name);
    }
    checked.sort();
    checked
}

/// What never leaves a device (its private journal, the read index, the per-peer sync states,
/// the tips, the notes) is sealed under a key of its own, derived from its identity seed, which
/// its passphrase wraps: the journal key the partner's devices hold opens none of it. A journal
/// of the release before, whose private journal was sealed under the journal key, is upgraded
/// by its first writing command, every entry kept.
#[test]
fn device_only_files_do_not_open_with_the_shared_journal_key() {
    let (a, b, serve, addr) = crate::util::alex_serving_paired_with_sam();
    a.write(&["--private", "Alex's private words"]);
    a.write(&["Words for both"]);
    b.write(&["--private", "Sam's private words"]);
    b.ok(&["sync", "--peer", &addr]);
    b.ok(&["list"]);
    serve.terminate();
    a.ok(&["list"]);
    for d in [&a, &b] {
        d.ok(&["status"]);
        d.write(&["One more, through the tips"]);
        let checked = device_only_records(d);
        for must in ["private/snapshot", "private/log", "index", "tips"] {
            assert!(checked.iter().any(|c| c == must), "{must} in {checked:?}");
        }
        assert!(
            checked.iter().any(|c| c.starts_with("peers/")),
            "{checked:?}"
        );
    }

    // The release before sealed Sam's private journal under the journal key.
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/v1-demo");
    let mut sam = Device::uninitialised();
    sam.pass = "sam demo passphrase".into();
    crate::util::copy_dir(&fixtures.join("sam"), &sam.home());
    let private_before: Vec<serde_json::Value> =
        sam.list_json(&["--private"]).into_iter().collect();
    assert_eq!(private_before.len(), 1);
    sam.write(&["--private", "Written after the upgrade"]);
    let private_after = sam.list_json(&["--private"]);
    assert_eq!(private_after.len(), 2);
    assert!(private_after
        .iter()
        .any(|e| e["id"] == private_before[0]["id"] && e["text"] == private_before[0]["text"]));
    let checked = device_only_records(&sam);
    assert!(
        checked.iter().any(|c| c == "private/snapshot"),
        "{checked:?}"
    );
}
