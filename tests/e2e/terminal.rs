//! What a person at a terminal sees: the passphrase prompt, the editor, colour.
//! A pseudo-terminal comes from util-linux's `script`, so these run without a real one.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::{mend_bin, Device};

/// Run `mend ARGS` on a pseudo-terminal, typing `input`; returns everything the terminal showed.
fn on_terminal(d: &Device, args: &str, input: &str, env: &[(&str, &str)]) -> (bool, String) {
    let cmd = format!("{} --home {} {args}", mend_bin(), d.home().display());
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .env("MEND_INSECURE_TEST_KDF", "1")
        .env("TZ", "UTC")
        .env_remove("MEND_PASSPHRASE")
        .env_remove("NO_COLOR")
        .env_remove("MEND_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .expect("util-linux `script` is needed for terminal tests");
    // Read the screen as it comes, and type only once the prompt is up: typing earlier would be
    // echoed by the terminal before mend could turn echo off.
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !String::from_utf8_lossy(&screen).contains("Passphrase:") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => screen.extend(chunk),
            Err(_) => break,
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    screen.extend(rx.try_iter().flatten());
    (
        status.success(),
        String::from_utf8_lossy(&screen).into_owned(),
    )
}

#[test]
fn the_passphrase_is_asked_for_without_echo() {
    let d = Device::new("Alex");
    d.write(&["hello from the terminal"]);
    let (ok, screen) = on_terminal(&d, "list", &format!("{}\n", d.pass), &[]);
    assert!(ok, "{screen}");
    assert!(screen.contains("Passphrase:"), "{screen}");
    assert!(screen.contains("hello from the terminal"), "{screen}");
    assert!(
        !screen.contains(&d.pass),
        "the passphrase was echoed: {screen}"
    );
    let (ok, screen) = on_terminal(&d, "list", "wrong guess\n", &[]);
    assert!(!ok);
    assert!(screen.contains("wrong passphrase"), "{screen}");
}

#[test]
fn write_on_a_terminal_opens_the_editor() {
    let d = Device::new("Alex");
    let script = d.dir.path().join("editor.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'From the editor @calm\\n' > \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let editor = script.to_str().unwrap();
    let rt = runtime.path().to_str().unwrap();
    let (ok, screen) = on_terminal(
        &d,
        "write",
        &format!("{}\n", d.pass),
        &[
            ("EDITOR", editor),
            ("VISUAL", editor),
            ("XDG_RUNTIME_DIR", rt),
        ],
    );
    assert!(ok, "{screen}");
    let entries = d.list_json(&[]);
    assert_eq!(entries[0]["text"], "From the editor @calm");
    assert_eq!(entries[0]["tags"], serde_json::json!(["calm"]));
    assert_eq!(std::fs::read_dir(runtime.path()).unwrap().count(), 0);
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let d = Device::new("Alex");
    d.write(&["--tag", "colour", "a colourful entry"]);
    let input = format!("{}\n", d.pass);
    let (ok, screen) = on_terminal(&d, "list", &input, &[]);
    assert!(ok);
    assert!(
        screen.contains('\u{1b}'),
        "a terminal gets colour: {screen:?}"
    );
    let (ok, screen) = on_terminal(&d, "list", &input, &[("NO_COLOR", "1")]);
    assert!(ok);
    assert!(
        !screen.contains("\u{1b}["),
        "NO_COLOR is honoured: {screen:?}"
    );
    assert!(!d.ok(&["list"]).contains('\u{1b}'), "a pipe gets no colour");
}

fn editor_script(d: &Device, name: &str, body: &str) -> String {
    let script = d.dir.path().join(name);
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat > \"$1\" <<'TEXT'\n{body}\nTEXT\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script.to_str().unwrap().to_owned()
}

#[test]
fn an_acknowledgment_is_written_from_the_guided_template() {
    let d = Device::new("Alex");
    let runtime = tempfile::tempdir().unwrap();
    let rt = runtime.path().to_str().unwrap();
    let full = editor_script(
        &d,
        "full.sh",
        "## What happened\nI hid the messages.\n## Its impact on you\nYou stopped feeling safe.\n\
         ## No excuses: what I own\nI chose to hide them.\n## What I will do differently\nTell you first.",
    );
    let (ok, screen) = on_terminal(
        &d,
        "write --kind acknowledgment",
        &format!("{}\n", d.pass),
        &[
            ("EDITOR", &full),
            ("VISUAL", &full),
            ("XDG_RUNTIME_DIR", rt),
        ],
    );
    assert!(ok, "{screen}");
    let e = &d.list_json(&[])[0];
    assert_eq!(e["kind"], "acknowledgment");
    assert!(e["text"].as_str().unwrap().contains("Tell you first."));

    let partial = editor_script(
        &d,
        "partial.sh",
        "## What happened\nI hid the messages.\n## Its impact on you\n",
    );
    let (ok, screen) = on_terminal(
        &d,
        "write --kind acknowledgment",
        &format!("{}\nc\n", d.pass),
        &[
            ("EDITOR", &partial),
            ("VISUAL", &partial),
            ("XDG_RUNTIME_DIR", rt),
        ],
    );
    assert!(!ok, "cancelled, so nothing is saved: {screen}");
    assert!(
        screen.contains("These sections are still empty")
            && screen.contains("What I will do differently"),
        "{screen}"
    );
    assert_eq!(d.list_json(&[]).len(), 1);
}

/// The attack of the hostile-data issue, with the stock binary: an entry whose text carries a
/// carriage return, line erasing and cursor movement, a fake line and an OSC 52 clipboard
/// write. On the partner's terminal (colour on) and in pipes and the Markdown export (colour
/// off) it is shown escaped: nothing of it reaches the terminal as a control sequence.
#[test]
fn terminal_escapes_in_an_entry_are_shown_escaped_never_acted_on() {
    let d = Device::new("Alex");
    let hostile = "ok\r\x1b[2K\x1b[1A  Sam  I admit everything \x1b]52;c;cHduZWQ=\x07 \u{202e}desrever\u{9b}31m";
    d.write(&[hostile]);
    let raw = [
        "\x1b[2K", "\x1b[1A", "\x1b]52", "\x07", "\r\x1b", "\u{202e}", "\u{9b}",
    ];
    let shown = [
        "\\u{d}",
        "\\u{1b}[2K",
        "\\u{1b}]52;c;",
        "\\u{7}",
        "\\u{202e}",
        "\\u{9b}",
    ];
    // Coloured, on a terminal (where the search highlight works too).
    for args in ["list", "search admit", "show"] {
        let args = if args == "show" {
            let id = d.list_json(&[])[0]["id"].as_str().unwrap().to_owned();
            format!("show {id}")
        } else {
            args.to_owned()
        };
        let (ok, screen) = on_terminal(&d, &args, &format!("{}\n", d.pass), &[]);
        assert!(ok, "{args}: {screen}");
        for r in raw {
            assert!(
                !screen.contains(r),
                "{args}: {r:?} reached the terminal: {screen:?}"
            );
        }
        for s in shown {
            assert!(screen.contains(s), "{args}: {s} not shown: {screen:?}");
        }
    }
    // Piped, and exported as Markdown.
    for args in [
        &["list"][..],
        &["search", "admit"],
        &["export", "--format", "markdown"],
    ] {
        let out = d.ok(args);
        for r in raw.iter().chain(&["\r"]) {
            assert!(!out.contains(r), "{args:?}: {r:?} in {out:?}");
        }
        assert!(out.contains("\\u{1b}]52;c;"), "{args:?}: {out:?}");
    }
    // The JSON export keeps the text exactly (JSON escapes it), so nothing is lost.
    assert_eq!(d.list_json(&[])[0]["text"], hostile);
}

#[test]
fn a_reply_checks_its_target_before_the_editor_opens() {
    let d = Device::new("Alex");
    let id = d.write(&["words later taken back"]);
    d.ok(&["delete", &id, "--yes"]);
    // An editor that leaves a mark when it runs.
    let mark = d.dir.path().join("editor-ran");
    let script = d.dir.path().join("editor.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch {}\nprintf 'a reply typed in vain\\n' > \"$1\"\n",
            mark.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let editor = script.to_str().unwrap();
    let (ok, screen) = on_terminal(
        &d,
        &format!("reply {id}"),
        &format!("{}\n", d.pass),
        &[("EDITOR", editor), ("VISUAL", editor)],
    );
    assert!(!ok, "{screen}");
    assert!(screen.contains("retracted"), "{screen}");
    assert!(!mark.exists(), "the editor did not open");
}

/// Long output on a terminal goes through a pager (`$MEND_PAGER`, else `$PAGER`, else
/// `less`); output that fits, `--no-pager` and a pipe are printed straight.
#[test]
fn a_pager_on_a_terminal_for_long_output() {
    let d = Device::new("Alex");
    for i in 0..40 {
        d.write(&[&format!("entry number {i} for the pager")]);
    }
    let seen = tempfile::tempdir().unwrap();
    let file = seen.path().join("paged");
    let pager = format!("cat > {}; echo PAGER-RAN", file.display());
    let input = format!("{}\n", d.pass);
    let env = [("PAGER", pager.as_str()), ("LINES", "24")];
    let (ok, screen) = on_terminal(&d, "list", &input, &env);
    assert!(ok, "{screen}");
    assert!(screen.contains("PAGER-RAN"), "{screen}");
    assert!(
        !screen.contains("entry number 39"),
        "the list went to the pager, not to the screen: {screen}"
    );
    let paged = std::fs::read_to_string(&file).unwrap();
    assert!(
        paged.contains("entry number 39 for the pager") && paged.contains("entry number 0 for"),
        "{paged}"
    );
    std::fs::remove_file(&file).unwrap();

    // MEND_PAGER comes first.
    let mend_pager = format!("cat > {}; echo MEND-PAGER-RAN", file.display());
    let (_, screen) = on_terminal(
        &d,
        "list",
        &input,
        &[
            ("MEND_PAGER", mend_pager.as_str()),
            ("PAGER", pager.as_str()),
            ("LINES", "24"),
        ],
    );
    assert!(screen.contains("MEND-PAGER-RAN"), "{screen}");
    assert!(!screen.lines().any(|l| l.trim() == "PAGER-RAN"), "{screen}");
    std::fs::remove_file(&file).unwrap();

    for (args, why) in [("--no-pager list", "--no-pager"), ("list -n 2", "it fits")] {
        let (ok, screen) = on_terminal(&d, args, &input, &env);
        assert!(ok, "{screen}");
        assert!(!screen.contains("PAGER-RAN"), "{why}: {screen}");
        assert!(
            screen.contains("entry number 39 for the pager"),
            "{why}: {screen}"
        );
        assert!(!file.exists(), "{why}");
    }
    // In a pipe, never.
    let out = d.command(&["list"]).env("PAGER", &pager).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("entry number 0 for the pager"), "{text}");
    assert!(!file.exists());
}

/// Words from the editor that cannot be saved (here, longer than an entry may be) are not
/// lost with the error: they are kept sealed in the home, and `mend write --recover` opens them
/// in the editor again and saves them; then the draft is gone.
#[test]
fn a_draft_that_cannot_be_saved_is_kept_sealed_and_recovered() {
    let d = Device::new("Alex");
    let runtime = tempfile::tempdir().unwrap();
    let rt = runtime.path().to_str().unwrap();
    let script = |name: &str, body: &str| {
        let path = d.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path.to_str().unwrap().to_owned()
    };
    // Over 1 MiB of words.
    let long = script(
        "long.sh",
        "i=0; while [ $i -lt 30000 ]; do echo 'MARKER-draft words that took an hour to find'; \
         i=$((i+1)); done > \"$1\"",
    );
    let input = format!("{}\n", d.pass);
    let (ok, screen) = on_terminal(
        &d,
        "write",
        &input,
        &[
            ("EDITOR", &long),
            ("VISUAL", &long),
            ("XDG_RUNTIME_DIR", rt),
        ],
    );
    assert!(!ok, "{screen}");
    assert!(screen.contains("longer than 1 MiB"), "{screen}");
    assert!(screen.contains("mend write --recover"), "{screen}");
    assert!(d.home().join("draft").exists());
    for (path, bytes) in crate::util::files_under(&d.home()) {
        assert!(
            !crate::util::contains(&bytes, b"MARKER-draft"),
            "plaintext in {}",
            path.display()
        );
    }
    assert!(d.list_json(&[]).is_empty(), "nothing saved");

    // The editor opened by --recover gets the words back; it shortens them.
    let shorten = script(
        "shorten.sh",
        "if grep -q 'MARKER-draft words that took an hour' \"$1\"; then \
         echo 'Recovered: MARKER-draft words, shortened' > \"$1\"; \
         else echo 'the draft did not come back' > \"$1\"; fi",
    );
    let env = [
        ("EDITOR", shorten.as_str()),
        ("VISUAL", shorten.as_str()),
        ("XDG_RUNTIME_DIR", rt),
    ];
    let (ok, screen) = on_terminal(&d, "write --recover", &input, &env);
    assert!(ok, "{screen}");
    let entries = d.list_json(&[]);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["text"],
        "Recovered: MARKER-draft words, shortened"
    );
    assert!(
        !d.home().join("draft").exists(),
        "the draft is gone once saved"
    );
    let (ok, screen) = on_terminal(&d, "write --recover", &input, &env);
    assert!(!ok);
    assert!(
        screen.contains("no draft is kept on this laptop"),
        "{screen}"
    );
    assert_eq!(std::fs::read_dir(runtime.path()).unwrap().count(), 0);
}
