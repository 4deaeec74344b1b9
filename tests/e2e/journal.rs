//! Keeping a journal: write, list, search, show, edit, delete, export, import.

use crate::util::{contains, texts, Device};

#[test]
fn write_from_arguments_stdin_and_options_then_list_and_filter() {
    let d = Device::new("Alex");
    let a = d.write(&[
        "--at",
        "2026-11-20 08:00",
        "--mood",
        "4",
        "--tag",
        "Promise",
        "Kept",
        "my",
        "word",
        "@trust",
    ]);
    assert_eq!(a.len(), 8, "write prints the short id");
    let out = d.run_with_stdin(&["write"], "Piped in from a script. @Honesty\n");
    assert!(out.status.success());
    d.write(&["--private", "A draft I am not ready to share"]);

    let all = d.list_json(&[]);
    assert_eq!(all.len(), 3);
    let kept = all
        .iter()
        .find(|e| e["id"].as_str().unwrap().starts_with(&a))
        .unwrap();
    assert_eq!(kept["text"], "Kept my word @trust");
    assert_eq!(kept["author"], "Alex");
    assert_eq!(kept["mood"], 4);
    assert_eq!(kept["kind"], "entry");
    assert_eq!(kept["private"], false);
    assert_eq!(kept["created_at"], "2026-11-20T08:00:00+00:00");
    let mut tags: Vec<_> = kept["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, vec!["promise", "trust"]);
    // Newest first: the backdated entry is last.
    assert_eq!(all[2]["id"], kept["id"]);

    assert_eq!(texts(&d.list_json(&["-n", "1"])).len(), 1);
    assert_eq!(
        texts(&d.list_json(&["--tag", "honesty"])),
        vec!["Piped in from a script. @Honesty"]
    );
    assert_eq!(
        texts(&d.list_json(&["--private"])),
        vec!["A draft I am not ready to share"]
    );
    assert_eq!(d.list_json(&["--until", "2026-11-21"]).len(), 1);
    assert_eq!(d.list_json(&["--since", "2026-11-21"]).len(), 2);
    assert_eq!(d.list_json(&["--author", "alex"]).len(), 3);
    assert_eq!(d.list_json(&["--author", "Sam"]).len(), 0);

    let human = d.ok(&["list"]);
    assert!(human.contains("Kept my word"), "{human}");
    assert!(human.contains("[private]"));
    assert!(!human.contains('\u{1b}'), "no colour when not a terminal");
}

#[test]
fn search_show_edit_and_delete_by_prefix() {
    let d = Device::new("Alex");
    let id = d.write(&["We talked about TRUST tonight"]);
    d.write(&["Something else entirely"]);
    let found = d.ok(&["search", "trust"]);
    assert!(found.contains("We talked about TRUST tonight"));
    assert!(!found.contains("Something else"));
    assert_eq!(
        d.ok(&["search", "--json", "talked", "tonight"])
            .matches("\"id\"")
            .count(),
        1
    );

    let shown = d.ok(&["show", &id[..5]]);
    assert!(shown.contains("We talked about TRUST tonight"));
    d.ok(&[
        "edit",
        &id[..6],
        "--text",
        "We talked about trust, and listened @listening",
    ]);
    let e: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", &id])).unwrap();
    assert_eq!(e["text"], "We talked about trust, and listened @listening");
    assert_eq!(e["tags"], serde_json::json!(["listening"]));
    assert!(e["edited_at"].is_string());

    d.ok(&["edit", &id, "--mood", "5"]);
    let e: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", &id])).unwrap();
    assert_eq!(e["mood"], 5);

    // A shared entry is retracted: it stays in the timeline as retracted, without its words.
    let out = d.ok(&["delete", "--yes", &id]);
    assert!(out.contains("retracted"));
    let e: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", &id])).unwrap();
    assert_eq!(e["text"], "");
    assert_eq!(e["retracted_by"], "Alex");
    // A private entry is deleted outright: it never left this device.
    let draft = d.write(&["--private", "a private draft"]);
    assert!(d.ok(&["delete", "--yes", &draft]).contains("deleted"));
    assert_eq!(d.list_json(&[]).len(), 2);
}

/// `mend list` and `mend search` read through the sealed read index; each change appends to it
/// what it did, so every list sees every change, exactly as loading the journal would.
#[test]
fn list_sees_every_change_through_the_read_index() {
    let d = Device::new("Alex");
    let first = d.write(&["The first words"]);
    assert_eq!(texts(&d.list_json(&[])), ["The first words"]);
    let index = d.home().join("index");
    let built = std::fs::read(&index).expect("the first list writes the index");

    d.write(&["--at", "2020-01-01 09:00", "Second words, backdated"]);
    d.ok(&["edit", &first, "--text", "The first words, edited"]);
    let draft = d.write(&["--private", "A private draft"]);
    let listed = texts(&d.list_json(&[]));
    assert_eq!(
        listed,
        [
            "A private draft",
            "The first words, edited",
            "Second words, backdated"
        ]
    );
    d.ok(&["delete", "--yes", &draft]);
    let listed = d.list_json(&[]);
    assert_eq!(
        texts(&listed),
        ["The first words, edited", "Second words, backdated"]
    );
    assert!(d
        .ok(&["search", "edited"])
        .contains("The first words, edited"));

    // Every change was appended, nothing rebuilt, and nothing in it is readable.
    let grown = std::fs::read(&index).unwrap();
    assert!(grown.len() > built.len() && grown.starts_with(&built));
    for marker in ["first words", "private draft", "Alex"] {
        assert!(!contains(&grown, marker.as_bytes()), "{marker} on disk");
    }
    // Without the index the journal is loaded: the same list, and a new index.
    std::fs::remove_file(&index).unwrap();
    assert_eq!(d.list_json(&[]), listed);
    assert!(index.exists());
}

#[test]
fn editor_writes_entries_and_leaves_no_temp_file() {
    let d = Device::new("Alex");
    let runtime = tempfile::tempdir().unwrap();
    let script = d.dir.path().join("fake-editor.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'Written in the editor @editor\\n' >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // stdin must look interactive for the editor to open: use a pseudo "script" tty-less trick:
    // with no text and no pipe, `mend write` opens $EDITOR. stdin is /dev/null here, which is not
    // a terminal, so use `edit` (which always opens the editor without --text) instead.
    let id = d.write(&["first version"]);
    crate::util::succeeds(
        d.command(&["edit", &id])
            .env("EDITOR", &script)
            .env_remove("VISUAL")
            .env("XDG_RUNTIME_DIR", runtime.path()),
    );
    let e: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", &id])).unwrap();
    assert_eq!(e["text"], "first versionWritten in the editor @editor");
    assert_eq!(
        std::fs::read_dir(runtime.path()).unwrap().count(),
        0,
        "the editor's private directory is removed"
    );
}

#[test]
fn export_import_is_a_lossless_round_trip() {
    let a = Device::new("Alex");
    a.write(&[
        "--at",
        "2026-01-02 10:00",
        "--mood",
        "2",
        "--tag",
        "one",
        "First @hello",
    ]);
    a.write(&["Second\nwith two lines"]);
    a.write(&["--private", "Private draft"]);
    let gone = a.write(&["Words taken back"]);
    a.ok(&["delete", "--yes", &gone]);
    let export = a.ok(&["export", "--format", "json"]);
    let file = a.dir.path().join("export.json");
    std::fs::write(&file, &export).unwrap();

    // Read back into a new journal of Alex's: everything as it was (but for Alex's person id,
    // which is the new journal's).
    let restored = Device::new("Alex");
    let out = restored.ok(&["import", file.to_str().unwrap()]);
    assert!(out.contains("imported 4 entries"), "{out}");
    // Importing again adds nothing.
    assert!(restored
        .ok(&["import", file.to_str().unwrap()])
        .contains("imported 0 entries (4 already present)"));

    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        let mut entries = v["entries"].take();
        let list = entries.as_array_mut().unwrap();
        for e in list.iter_mut() {
            e.as_object_mut().unwrap().remove("author_id");
        }
        list.sort_by_key(|e| e["id"].as_str().unwrap().to_owned());
        entries
    };
    let again = restored.ok(&["export", "--format", "json"]);
    assert_eq!(strip(&export), strip(&again));

    // Sam importing Alex's export writes the entries as Sam's: an import never writes in
    // another person's name.
    let b = Device::new("Sam");
    assert!(b
        .ok(&["import", file.to_str().unwrap()])
        .contains("imported 4 entries"));
    assert!(b.list_json(&["--author", "Alex"]).is_empty());
    assert_eq!(b.list_json(&["--author", "Sam"]).len(), 4);

    let md = a.ok(&["export", "--format", "markdown"]);
    assert!(md.starts_with("# Mend journal"));
    assert!(md.contains("First @hello") && md.contains("Mood: 2/5") && md.contains("Private"));
    let shared_only = a.ok(&["export", "--shared-only"]);
    assert!(!shared_only.contains("Private draft"));
}

#[test]
fn jrnl_export_imports_with_dates_tags_and_stars() {
    let d = Device::new("Alex");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/jrnl-export-sample.json"
    );
    assert!(d.ok(&["import", fixture]).contains("imported 3 entries"));
    assert!(d.ok(&["import", fixture]).contains("imported 0 entries"));
    let all = d.list_json(&[]);
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0]["text"],
        "Kept my promise to call at noon. @promise @trust"
    );
    assert_eq!(all[0]["created_at"], "2026-11-25T08:15:00+00:00");
    let tags: Vec<_> = all[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, vec!["trust", "promise", "starred"]);
    assert_eq!(
        all[2]["text"],
        "First check-in with our counselor. It felt awkward at first, then lighter. @counseling"
    );
    assert_eq!(all[2]["author"], "Alex");
    assert_eq!(d.list_json(&["--tag", "@counseling"]).len(), 1);
}

#[test]
fn status_completions_and_man_page() {
    let d = Device::new("Alex");
    d.write(&["one"]);
    d.write(&["--private", "two"]);
    let s: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    assert_eq!(s["person"], "Alex");
    assert_eq!(s["entries"]["shared"], 1);
    assert_eq!(s["entries"]["private"], 1);
    assert_eq!(s["kdf"]["weak"], true);
    assert!(s["disk_bytes"].as_u64().unwrap() > 0);
    assert!(d.ok(&["completions", "bash"]).contains("_mend"));
    assert!(d.ok(&["man"]).contains(".TH mend"));
}

#[test]
fn the_demo_pairs_two_laptops_and_leaves_what_it_says() {
    let keep = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::util::mend_bin())
        .args(["demo", "--keep"])
        .arg(keep.path())
        .env("NO_COLOR", "1")
        .env_remove("MEND_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("no plaintext found on disk"), "{text}");
    // Check the outcome on the kept homes, independently of what the demo printed.
    let open = |who: &str, pass: &str, args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(crate::util::mend_bin())
            .arg("--home")
            .arg(keep.path().join(who))
            .args(args)
            .env("MEND_PASSPHRASE", pass)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let shared = |v: &serde_json::Value| {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["private"] == false)
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let alex = open("alex", "alex demo passphrase", &["list", "--json"]);
    let sam = open("sam", "sam demo passphrase", &["list", "--json"]);
    assert_eq!(shared(&alex), shared(&sam));
    assert!(shared(&alex).len() >= 8);
    let private = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["private"] == true)
            .count()
    };
    assert_eq!(
        (private(&alex), private(&sam)),
        (0, 1),
        "the draft stays on Sam's laptop"
    );
    for (who, pass) in [
        ("alex", "alex demo passphrase"),
        ("sam", "sam demo passphrase"),
    ] {
        let records = open(who, pass, &["promise", "list", "--json"]);
        assert_eq!(records[0]["total"]["kept"], 1, "{records}");
        assert_eq!(records[0]["total"]["confirmed"], 1, "{records}");
    }
}

#[test]
fn prompts_are_suggested_and_answers_remember_their_question() {
    let d = Device::new("Alex");
    let out = d.ok(&["prompt", "--practice", "act"]);
    assert!(out.contains("mend write --prompt act-"), "{out}");
    let today: serde_json::Value = serde_json::from_str(&d.ok(&["prompt", "--json"])).unwrap();
    assert!(today["question"].as_str().unwrap().ends_with('?'));
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&d.ok(&["prompt", "--all", "--json"])).unwrap();
    assert!(all.len() >= 48);
    d.write(&["--prompt", "act-2", "The noon call was hardest."]);
    let e = &d.list_json(&[])[0];
    assert_eq!(e["prompt"], "act-2");
    assert!(d
        .ok(&["list"])
        .contains("› Which promise was hardest to keep lately"));
    assert!(d
        .fails(&["write", "--prompt", "act-99", "x"])
        .contains("no prompt"));
    assert!(d
        .fails(&["prompt", "--practice", "nonsense"])
        .contains("no practice"));
}

/// An edit that changes nothing (the same words, or the editor closed unchanged) says so and
/// writes nothing: the partner never sees an edit that did not happen.
#[test]
fn an_edit_that_changes_nothing_writes_nothing() {
    let d = Device::new("Alex");
    let id = d.write(&["the same @words"]).trim().to_owned();
    let before = d.snapshot_files();
    let out = d.ok(&["edit", &id, "--text", "the same @words"]);
    assert!(out.contains("unchanged"), "{out}");
    let out = d
        .command(&["edit", &id])
        .env("EDITOR", "true")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    assert_eq!(d.snapshot_files(), before);
    let shown = d.list_json(&[]);
    assert!(shown[0]["edited_at"].is_null(), "{shown:?}");
}

/// Stdout of `mend status --json` on `d`, with how it was told (its log at debug level), and
/// the part that depends on the files' sizes left out.
fn status_json(d: &Device) -> (serde_json::Value, bool) {
    let out = crate::util::succeeds(
        d.command(&["status", "--json"])
            .env("RUST_LOG", "mend_app=debug"),
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    let told_from_tips = contains(&out.stderr, b"status told without loading the journal");
    v.as_object_mut()
        .and_then(|o| o.remove("disk_bytes"))
        .expect("status shows the home's size");
    (v, told_from_tips)
}

#[test]
fn write_and_status_without_loading_the_journal_say_what_loading_it_says() {
    let (a, b, serve, addr) = crate::util::alex_serving_paired_with_sam();
    a.write(&["Alex's first, before Sam's laptop syncs"]);
    b.ok(&["sync", "--peer", &addr]);
    drop(serve);
    // Sam writes on his own laptop: the first write loads the journal (nothing is kept
    // beside it yet), the next ones need not.
    let mut added_without_loading = 0;
    for (i, text) in ["one @us", "two", "three, private"].iter().enumerate() {
        let mut args = vec!["write", "--mood", "3"];
        if i == 2 {
            args.push("--private");
        }
        args.push(text);
        let out = crate::util::succeeds(b.command(&args).env("RUST_LOG", "mend_app=debug"));
        if contains(&out.stderr, b"entry added without loading the journal") {
            added_without_loading += 1;
        }
    }
    assert_eq!(added_without_loading, 2, "the writes after the first");
    let (cached, told_from_tips) = status_json(&b);
    assert!(told_from_tips);
    // The same status with the journal loaded (what is kept beside it removed first).
    std::fs::remove_file(b.home().join("tips")).unwrap();
    let (loaded, told_from_tips) = status_json(&b);
    assert!(!told_from_tips);
    assert_eq!(cached, loaded);
    // Alex's laptop has not got Sam's two shared entries: status says so both ways.
    let alex_laptop = loaded["sync"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["person"] == "Alex")
        .cloned()
        .expect("Alex's laptop is listed");
    assert_eq!(alex_laptop["entries_not_sent"], 2, "{loaded:#}");
    // And every entry written without the journal loaded is in it, whole, after a reload.
    std::fs::remove_file(b.home().join("index")).unwrap();
    let all = b.list_json(&[]);
    for text in ["one @us", "two", "three, private"] {
        let e = all
            .iter()
            .find(|e| e["text"] == text)
            .unwrap_or_else(|| panic!("{text:?} is in the journal"));
        assert_eq!(e["author"], "Sam");
        assert_eq!(e["mood"], 3);
    }
    let one = all.iter().find(|e| e["text"] == "one @us").unwrap();
    assert_eq!(one["tags"], serde_json::json!(["us"]));
    // Alex's laptop takes them as Sam's, signature checked.
    let mut serve = crate::util::Background::start(
        &a,
        &["serve", "--listen", crate::util::LOOPBACK, "--no-mdns"],
    );
    let addr = serve.address();
    b.ok(&["sync", "--peer", &addr]);
    drop(serve);
    let at_alex = a.list_json(&[]);
    let texts = texts(&at_alex);
    assert!(texts.iter().any(|t| t == "one @us") && texts.iter().any(|t| t == "two"));
}

#[test]
fn a_retracted_entry_refuses_edits_and_exports_as_retracted() {
    let d = Device::new("Alex");
    let id = d.write(&["words to take back"]);
    d.ok(&["delete", &id, "--yes"]);
    let before = d.snapshot_files();
    let err = d.fails(&["edit", &id, "--text", "changed after"]);
    assert!(err.contains("was retracted"), "{err}");
    // Refused before an editor would open: nothing typed is lost.
    let err = d.fails(&["edit", &id]);
    assert!(err.contains("was retracted"), "{err}");
    assert_eq!(d.snapshot_files(), before, "nothing written");
    let md = d.ok(&["export", "--format", "markdown"]);
    assert!(md.contains("*retracted by Alex on "), "{md}");
    assert!(
        !md.contains("changed after") && !md.contains("words to take back"),
        "{md}"
    );
}

#[test]
fn sync_summaries_count_new_edited_and_retracted_entries_apart() {
    let (a, b, mut serve, addr) = crate::util::alex_serving_paired_with_sam();
    let edited = a.write(&["first words"]);
    let retracted = a.write(&["words to take back"]);
    let out = b.ok(&["sync", "--peer", &addr]);
    assert!(out.contains("received 2 new entries"), "{out}");
    drop(serve);
    a.ok(&["edit", &edited, "--text", "better words"]);
    a.ok(&["delete", &retracted, "--yes"]);
    a.write(&["something new"]);
    serve = crate::util::Background::start(
        &a,
        &["serve", "--listen", crate::util::LOOPBACK, "--no-mdns"],
    );
    let addr = serve.address();
    let out = b.ok(&["sync", "--peer", &addr]);
    assert!(
        out.contains("received 1 new entry, 1 edited, 1 retracted"),
        "{out}"
    );
    b.write(&["from Sam"]);
    b.ok(&["sync", "--peer", &addr]);
    serve.wait_for("synced with this laptop: received 1 new entry");
}

#[test]
fn words_tags_as_typed_feelings_once_kind_labels_and_plurals() {
    let d = Device::new("Alex");
    let id = d.write(&["A walk together @trust"]);
    let list = d.ok(&["list"]);
    assert!(
        list.contains("@trust") && !list.contains("#trust"),
        "{list}"
    );
    d.ok(&[
        "checkin",
        "--mood",
        "3",
        "--feeling",
        "tired",
        "tired",
        "hopeful",
        "Tired",
    ]);
    let checkins = d.list_json(&["--kind", "check-in"]);
    assert_eq!(
        checkins.len(),
        1,
        "the label list prints is a kind: {checkins:?}"
    );
    assert_eq!(
        checkins[0]["feelings"],
        serde_json::json!(["tired", "hopeful"])
    );
    let history = d.ok(&["history", &id]);
    assert!(history.contains("— 1 version,"), "{history}");
    let err = d.fails(&["list", "--kind", "bogus"]);
    assert!(
        err.contains("no kind of entry called") && err.contains("checkin"),
        "{err}"
    );
}

/// Search and tags understand Unicode: a word matches however its accents were typed
/// (composed or decomposed) and in any case, with full case folding (`strasse` finds
/// `Straße`); a tag filter does the same; what is shown is the text as written.
#[test]
fn search_and_tags_understand_unicode() {
    let d = Device::new("Alex");
    d.write(&["Die Straße war leer, wir gingen langsam @Straße"]);
    d.write(&["Un cafe\u{301} ensemble, enfin"]);
    d.write(&["Nothing to find here"]);
    let found = d.ok(&["search", "strasse"]);
    assert!(found.contains("Die Straße war leer"), "{found}");
    assert!(!found.contains("cafe"), "{found}");
    let found = d.ok(&["search", "STRASSE"]);
    assert!(found.contains("Die Straße war leer"), "{found}");
    // Typed composed (é as one character), written decomposed (e + combining accent).
    let found = d.ok(&["search", "caf\u{e9}"]);
    assert!(found.contains("Un cafe\u{301} ensemble"), "{found}");
    let found = d.ok(&["search", "CAFE\u{301}"]);
    assert!(found.contains("Un cafe\u{301} ensemble"), "{found}");
    let tagged = d.ok(&["list", "--tag", "STRASSE"]);
    assert!(tagged.contains("Die Straße war leer"), "{tagged}");
    assert!(!tagged.contains("Nothing to find"), "{tagged}");
    let tagged = d.ok(&["list", "--tag", "@straße"]);
    assert!(tagged.contains("Die Straße war leer"), "{tagged}");
    let none = d.run(&["search", "strase"]);
    assert!(String::from_utf8_lossy(&none.stdout).trim().is_empty());
}

/// `mend man COMMAND` prints the page of one command and `mend man --out-dir DIR` writes one
/// per command; every page has ENVIRONMENT, EXIT STATUS and EXAMPLES, and every page a page
/// points at (`mend-write(1)`) is among them.
#[test]
fn man_pages_for_every_subcommand_with_environment_exit_status_and_examples() {
    let d = Device::uninitialised();
    let page = d.ok(&["man", "write"]);
    assert!(page.contains(".TH mend-write 1"), "{page}");
    assert!(
        page.contains("mend write \\(dqWe walked") || page.contains("mend write \"We walked"),
        "{page}"
    );
    let page = d.ok(&["man", "promise", "add"]);
    assert!(page.contains(".TH mend-promise-add 1"), "{page}");
    let err = d.fails(&["man", "bogus"]);
    assert!(err.contains("there is no command `mend bogus`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    d.ok(&["man", "--out-dir", out.to_str().unwrap()]);
    let pages: std::collections::BTreeMap<String, String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|f| {
            let f = f.unwrap();
            (
                f.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(f.path()).unwrap(),
            )
        })
        .collect();
    for name in [
        "mend.1",
        "mend-write.1",
        "mend-sync.1",
        "mend-devices-remove.1",
    ] {
        assert!(pages.contains_key(name), "{name} in {:?}", pages.keys());
    }
    for (name, text) in &pages {
        for section in [
            ".SH ENVIRONMENT",
            ".SH \"EXIT STATUS\"",
            ".SH EXAMPLES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(text.contains(section), "{name} has no {section}");
        }
        assert!(text.contains("MEND_HOME"), "{name}");
        // Every page named is one that was written.
        for (i, _) in text.match_indices("(1)") {
            let start = text[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '\\'))
                .map_or(0, |s| s + 1);
            let named = text[start..i].replace("\\-", "-");
            if named.starts_with("mend") {
                assert!(
                    pages.contains_key(&format!("{named}.1")),
                    "{name} points at {named}(1)"
                );
            }
        }
    }
}
