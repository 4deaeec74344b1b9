//! The attacks a partner could make with the stock `mend` binary and nothing else, each named
//! after what it tried, and the journal made before signed changes, opened by this release.

use std::path::Path;

use crate::util::{pair, start_invite, Background, Device, LOOPBACK};

/// Alex's laptop, and Sam's paired with it.
fn paired() -> (Device, Device) {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    (a, b)
}

/// Alex's laptop serves; Sam's syncs with it. Returns the serving process and its address.
fn serve_and_sync(a: &Device, b: &Device) -> (Background, String) {
    let mut serve = Background::start(a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    b.ok(&["sync", "--peer", &addr]);
    (serve, addr)
}

/// A device's journal as `mend export --format json` writes it.
fn exported(d: &Device) -> serde_json::Value {
    serde_json::from_str(&d.ok(&["export", "--format", "json"])).unwrap()
}

fn entry_ids(d: &Device) -> Vec<String> {
    let mut ids: Vec<String> = d
        .list_json(&[])
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn people(d: &Device) -> Vec<String> {
    let status: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).unwrap();
    let mut names: Vec<String> = status["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Attack 1: Sam edits an export so that entries say they are Alex's (an acknowledgment "I
/// admit everything was my fault", confirmations of Alex's promise "by Alex" dated before the
/// promise existed), adds a third person, and imports it. Before, Alex's own laptop listed the
/// entries as Alex's after one sync and named three people.
#[test]
fn attack_an_edited_export_cannot_put_words_in_the_partners_mouth_or_add_a_person() {
    let (a, b) = paired();
    let promise = a.ok(&["promise", "add", "Call at noon"]).trim().to_owned();
    b.write(&["What I wrote myself"]);
    let (serve, addr) = serve_and_sync(&a, &b);
    let export = exported(&b);
    let alex_id = export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["author"] == "Alex")
        .unwrap()["author_id"]
        .clone();
    let promise_id = export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"].as_str().unwrap().starts_with(&promise))
        .unwrap()["id"]
        .clone();
    let mut forged = export.clone();
    let entries = forged["entries"].as_array_mut().unwrap();
    let template = entries
        .iter()
        .find(|e| e["author"] == "Sam")
        .unwrap()
        .clone();
    let mut confession = template.clone();
    confession["id"] = "f0000000000000000000000000000001".into();
    confession["author"] = "Alex".into();
    confession["author_id"] = alex_id.clone();
    confession["kind"] = "acknowledgment".into();
    confession["text"] = "I admit everything was my fault".into();
    let mut confirmation = template.clone();
    confirmation["id"] = "f0000000000000000000000000000002".into();
    confirmation["author"] = "Alex".into();
    confirmation["author_id"] = alex_id.clone();
    confirmation["kind"] = "promise-confirmed".into();
    confirmation["refers_to"] = promise_id;
    confirmation["created_at"] = "2001-01-01T00:00:00Z".into();
    confirmation["written_at"] = "2001-01-01T00:00:00Z".into();
    confirmation["text"] = "".into();
    let mut mallory = template.clone();
    mallory["id"] = "f0000000000000000000000000000003".into();
    mallory["author"] = "Mallory".into();
    mallory["author_id"] = "m".repeat(32).into();
    entries.extend([confession, confirmation, mallory]);
    forged["people"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "m".repeat(32), "name": "Mallory"}));
    let file = b.dir.path().join("forged.json");
    std::fs::write(&file, forged.to_string()).unwrap();

    let out = b.ok(&["import", file.to_str().unwrap()]);
    assert!(out.contains("imported 3 entries"), "{out}");
    b.ok(&["sync", "--peer", &addr]);
    for d in [&a, &b] {
        let listed = d.list_json(&[]);
        for id in ["01", "02", "03"] {
            let e = listed
                .iter()
                .find(|e| e["id"] == format!("f00000000000000000000000000000{id}"))
                .unwrap_or_else(|| panic!("f..{id} missing"));
            assert_eq!(e["author"], "Sam", "{e}");
        }
        assert_eq!(people(d), vec!["Alex", "Sam"]);
    }
    // Alex's promise record: a confirmation by Sam, none by Alex.
    let record: serde_json::Value =
        serde_json::from_str(&a.ok(&["promise", "list", "--json"])).unwrap();
    let text = record.to_string();
    assert!(!text.contains("Mallory"), "{text}");

    // What a person may not write is named, by its place in the file, and nothing is written.
    let mut kept = template.clone();
    kept["id"] = "f0000000000000000000000000000004".into();
    kept["kind"] = "promise-kept".into();
    kept["refers_to"] = export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"].as_str().unwrap().starts_with(&promise))
        .unwrap()["id"]
        .clone();
    let mut file_json = export.clone();
    file_json["entries"] = serde_json::json!([template, kept]);
    std::fs::write(&file, file_json.to_string()).unwrap();
    let before = b.snapshot_files();
    let ids_before = entry_ids(&b);
    let err = b.fails(&["import", file.to_str().unwrap()]);
    assert!(
        err.contains("entry 2:") && err.contains("only the one who promised"),
        "{err}"
    );
    assert_eq!(
        b.snapshot_files(),
        before,
        "a refused import writes nothing"
    );
    assert_eq!(entry_ids(&b), ids_before);
    serve.terminate();
}

/// Attack 2: Sam runs `mend invite`; a new home joins with `--name Alex --device alex-phone`.
/// Before, it was admitted as a device of Alex's, and could rewrite Alex's entries.
#[test]
fn attack_a_device_joining_with_the_partners_name_is_the_inviters_not_the_partners() {
    let (a, b) = paired();
    let alex_words = a.write(&["Alex's own words"]).trim().to_owned();
    let (serve, addr) = serve_and_sync(&a, &b);

    let phone = Device::uninitialised();
    let (invite, code, invite_addr) = start_invite(&b);
    let joined = phone.ok(&[
        "join",
        &code,
        "--name",
        "Alex",
        "--device",
        "alex-phone",
        "--peer",
        &invite_addr,
    ]);
    assert!(joined.contains("as Sam"), "{joined}");
    let (ok, _) = invite.finish();
    assert!(ok);
    // Sam's laptop tells Alex's about its new device; only then does Alex's talk to it.
    b.ok(&["sync", "--peer", &addr]);
    let err = phone.fails(&["edit", &alex_words, "--text", "I admit everything"]);
    assert!(err.contains("only its author"), "{err}");
    phone.write(&["Written on the phone"]);
    phone.ok(&["sync", "--peer", &addr]);
    let devices: Vec<serde_json::Value> =
        serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
    let phone_dev = devices.iter().find(|d| d["name"] == "alex-phone").unwrap();
    assert_eq!(phone_dev["person"], "Sam", "{phone_dev}");
    let listed = a.list_json(&[]);
    let from_phone = listed
        .iter()
        .find(|e| e["text"] == "Written on the phone")
        .unwrap();
    assert_eq!(from_phone["author"], "Sam");
    assert_eq!(
        a.list_json(&[])
            .iter()
            .find(|e| e["id"].as_str().unwrap().starts_with(&alex_words))
            .unwrap()["text"],
        "Alex's own words"
    );
    serve.terminate();
}

/// Attack 3: Alex answers a reveal-together prompt; Sam imports a fake second answer in Alex's
/// name (sealed = zeros). Before, `mend status` on Alex's laptop published Alex's key and Sam
/// read Alex's answer without ever answering.
#[test]
fn attack_a_fake_second_answer_does_not_reveal_the_partners_answer() {
    let (a, b) = paired();
    a.ok(&[
        "together",
        "act-1",
        "The answer only Sam's own answer opens",
    ]);
    let (serve, addr) = serve_and_sync(&a, &b);
    let export = exported(&b);
    let answer = export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "together-answer")
        .unwrap()
        .clone();
    for author in ["Alex", "Sam"] {
        let mut fake = answer.clone();
        fake["id"] = format!("fa{author}00000000000000000000000000").into();
        fake["author"] = author.into();
        fake["refers_to"] = answer["id"].clone();
        fake["sealed"] = "00".repeat(64).into();
        let mut file_json = export.clone();
        file_json["entries"] = serde_json::json!([fake]);
        let file = b.dir.path().join("fake.json");
        std::fs::write(&file, file_json.to_string()).unwrap();
        let before = b.snapshot_files();
        let err = b.fails(&["import", file.to_str().unwrap()]);
        assert!(err.contains("mend together"), "{err}");
        assert_eq!(b.snapshot_files(), before);
    }
    b.ok(&["sync", "--peer", &addr]);
    a.ok(&["status"]);
    b.ok(&["sync", "--peer", &addr]);
    let listed = b.ok(&["list"]);
    assert!(
        !listed.contains("The answer only Sam's own answer opens"),
        "{listed}"
    );
    serve.terminate();
}

/// A journal made by the release before signed changes opens with every entry as it was,
/// is upgraded in place by the first command that writes, and still syncs and pairs.
#[test]
fn a_journal_made_before_signed_changes_keeps_every_entry_and_syncs() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/v1-demo");
    let homes: Vec<(Device, &str)> = [
        ("alex", "alex demo passphrase"),
        ("sam", "sam demo passphrase"),
    ]
    .into_iter()
    .map(|(name, pass)| {
        let mut d = Device::uninitialised();
        d.pass = pass.into();
        crate::util::copy_dir(&fixtures.join(name), &d.home());
        (d, name)
    })
    .collect();
    let fields = |e: &serde_json::Value| {
        (
            e["id"].clone(),
            e["author"].clone(),
            e["kind"].clone(),
            e["text"].clone(),
            e["created_at"].clone(),
            e["private"].clone(),
        )
    };
    for (d, name) in &homes {
        let expected: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(fixtures.join(format!("{name}-list.json"))).unwrap(),
        )
        .unwrap();
        // Read-only first: the files stay as they were.
        let before = d.snapshot_files();
        let listed = d.list_json(&[]);
        let mut got: Vec<_> = listed.iter().map(fields).collect();
        let mut want: Vec<_> = expected.iter().map(fields).collect();
        got.sort_by_key(|f| f.0.to_string());
        want.sort_by_key(|f| f.0.to_string());
        assert_eq!(got, want, "{name}: the entries read by this release");
        let shared_before: Vec<_> = before
            .keys()
            .filter(|p| p.to_string_lossy().contains("/shared/"))
            .cloned()
            .collect();
        let after = d.snapshot_files();
        for p in &shared_before {
            assert_eq!(before.get(p), after.get(p), "{name}: a read changed {p:?}");
        }
        // The first write upgrades: the entries stay, a new one joins them.
        d.write(&[&format!("Written by {name} after the upgrade")]);
        let listed = d.list_json(&[]);
        assert_eq!(listed.len(), expected.len() + 1, "{name}");
        for e in &expected {
            assert!(
                listed.iter().any(|l| fields(l) == fields(e)),
                "{name}: lost {e}"
            );
        }
    }
    // History from before signed changes says so; what was written since is signed.
    let alex = &homes[0].0;
    let old = alex
        .list_json(&[])
        .iter()
        .find(|e| e["kind"] == "acknowledgment")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history: serde_json::Value =
        serde_json::from_str(&alex.ok(&["history", "--json", &old])).unwrap();
    assert_eq!(
        history[0]["signature"], "unsigned: from before signed changes",
        "{history}"
    );
    let new = alex.write(&["Signed words"]).trim().to_owned();
    let history: serde_json::Value =
        serde_json::from_str(&alex.ok(&["history", "--json", &new])).unwrap();
    assert_eq!(history[0]["signature"], "signature checked", "{history}");
    // Both upgraded laptops sync what they wrote since.
    let (alex, sam) = (&homes[0].0, &homes[1].0);
    let mut serve = Background::start(alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let out = sam.ok(&["sync", "--peer", &addr]);
    assert!(out.contains("Synced with Alex"), "{out}");
    serve.terminate();
    assert!(alex
        .ok(&["list"])
        .contains("Written by sam after the upgrade"));
    assert!(sam
        .ok(&["list"])
        .contains("Written by alex after the upgrade"));
    // A new device joins the upgraded journal and receives the old history too.
    let phone = Device::uninitialised();
    let (invite, code, invite_addr) = crate::util::start_invite_with(alex, &["--for", "me"]);
    phone.ok(&["join", &code, "--name", "Alex", "--peer", &invite_addr]);
    invite.finish();
    let shared = alex
        .list_json(&[])
        .iter()
        .filter(|e| e["private"] == false)
        .count();
    assert_eq!(phone.list_json(&[]).len(), shared);
}
