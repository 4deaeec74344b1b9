//! `mend devices remove`: a stolen phone is cut off. The laptops that know of the removal show
//! it, refuse the phone's connections, and never take what it wrote afterwards.

use crate::util::{pair, pair_own_device, Background, Device, LOOPBACK};

fn devices(d: &Device) -> Vec<serde_json::Value> {
    serde_json::from_str(&d.ok(&["devices", "--json"])).unwrap()
}

fn shared_texts(d: &Device) -> Vec<String> {
    d.list_json(&[])
        .iter()
        .filter(|e| e["private"] == false)
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_stolen_phone_removed_by_its_owner_is_refused_by_both_laptops() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    // Sam adds a phone of Sam's own.
    let phone = Device::uninitialised();
    pair_own_device(&sam, &phone, "Sam", "sam-phone");
    phone.write(&["from the phone, before it was stolen"]);
    let mut sam_serve = Background::start(&sam, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let sam_addr = sam_serve.address();
    phone.ok(&["sync", "--peer", &sam_addr]);
    sam_serve.terminate();

    // Removing needs a yes; without a terminal, --yes.
    let err = sam.fails(&["devices", "remove", "sam-phone"]);
    assert!(err.contains("needs confirmation"), "{err}");
    let err = sam.fails(&["devices", "remove", "no-such-device"]);
    assert!(err.contains("no device of this journal is called"), "{err}");
    // Alex may not remove one of Sam's devices while Sam has another.
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    sam.ok(&["sync", "--peer", &alex_addr]);
    alex_serve.terminate();
    let err = alex.fails(&["devices", "remove", "sam-phone", "--yes"]);
    assert!(err.contains("only Sam's own devices may"), "{err}");

    let out = sam.ok(&["devices", "remove", "sam-phone", "--yes"]);
    assert!(out.contains("Removed Sam's sam-phone."), "{out}");
    assert!(out.contains("What it already holds stays on it"), "{out}");
    let err = sam.fails(&["devices", "remove", "sam-phone", "--yes"]);
    assert!(err.contains("already removed"), "{err}");

    // The thief writes on the phone, which has not heard of its removal.
    phone.write(&["written by the thief"]);

    // Sam's laptop tells Alex's.
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    sam.ok(&["sync", "--peer", &alex_addr]);
    let on_alex = devices(&alex);
    let removed = on_alex
        .iter()
        .find(|d| d["name"] == "sam-phone")
        .expect("the phone is listed");
    assert_eq!(removed["removed"]["by"], "Sam");
    let listed = alex.ok(&["devices"]);
    assert!(
        listed.contains("sam-phone") && listed.contains("REMOVED") && listed.contains("by Sam"),
        "{listed}"
    );
    let status = alex.ok(&["status"]);
    assert!(
        status.contains("Sam's sam-phone was removed") && status.contains("by Sam"),
        "{status}"
    );

    // The phone cannot sync with either laptop, and nothing of the thief's reaches them.
    let err = phone.fails(&["sync", "--peer", &alex_addr, "--timeout", "20"]);
    assert!(
        err.contains("closed the connection without answering") && err.contains("was it removed?"),
        "{err}"
    );
    alex_serve.terminate();
    let mut sam_serve = Background::start(&sam, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let sam_addr = sam_serve.address();
    let err = phone.fails(&["sync", "--peer", &sam_addr, "--timeout", "20"]);
    assert!(
        err.contains("closed the connection without answering") && err.contains("was it removed?"),
        "{err}"
    );
    sam_serve.terminate();
    for d in [&alex, &sam] {
        let texts = shared_texts(d);
        assert!(texts.contains(&"from the phone, before it was stolen".to_owned()));
        assert!(
            !texts.contains(&"written by the thief".to_owned()),
            "{texts:?}"
        );
    }
    // Alex and Sam still sync with each other.
    alex.write(&["still here"]);
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    sam.ok(&["sync", "--peer", &alex_addr]);
    alex_serve.terminate();
    assert!(shared_texts(&sam).contains(&"still here".to_owned()));
}

/// Whether a shared-journal file of `d` opens with the journal key pairing gave (which the
/// partner holds too): `None` when the file holds no record.
fn opens_with_the_journal_key(d: &Device, file: &str) -> Option<bool> {
    let (key_file, secrets) = mend_store::Home::new(d.home())
        .unlock(&mend_crypto::Passphrase::from(d.pass.clone()))
        .unwrap();
    let bytes = std::fs::read(d.home().join(file)).unwrap();
    let decoded = mend_store::decode_records(&bytes).unwrap();
    let first = decoded.records.first()?;
    let jid = key_file.journal_id;
    let kind = decoded.header.kind;
    Some(if file.ends_with("log") {
        let start = mend_crypto::Chain {
            position: 0,
            previous: decoded.header.follows.unwrap_or_default(),
        };
        mend_crypto::open_chained(&secrets.journal_key, &jid, kind, &start, first).is_ok()
    } else {
        mend_crypto::open_record(&secrets.journal_key, &jid, kind, first).is_ok()
    })
}

#[test]
fn uncoupling_ends_the_sharing_both_keep_their_copy_and_new_words_are_sealed_anew() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    alex.write(&["Alex, while together"]);
    sam.write(&["Sam, while together"]);
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    sam.ok(&["sync", "--peer", &alex_addr]);
    alex_serve.terminate();
    assert_eq!(
        opens_with_the_journal_key(&alex, "shared/snapshot"),
        Some(true)
    );

    // Ending it needs a yes.
    let err = alex.fails(&["uncouple"]);
    assert!(err.contains("needs confirmation"), "{err}");
    let out = alex.ok(&["uncouple", "--yes"]);
    assert!(
        out.contains("Uncoupled: the partnership with Sam has ended."),
        "{out}"
    );
    assert!(out.contains("Removed Sam's"), "{out}");
    assert!(out.contains("new key (epoch 1)"), "{out}");
    let err = alex.fails(&["uncouple", "--yes"]);
    assert!(err.contains("already ended"), "{err}");
    let listed = alex.ok(&["devices"]);
    assert!(
        listed.contains("UNCOUPLED") && listed.contains("by Alex"),
        "{listed}"
    );
    let on_alex = devices(&alex);
    assert!(on_alex
        .iter()
        .filter(|d| d["person"] == "Sam")
        .all(|d| d["removed"]["uncoupled"] == true));

    // What Alex's laptop holds is now sealed under a key Sam's laptop never had: the journal
    // key that pairing gave both opens none of it.
    assert_eq!(
        opens_with_the_journal_key(&alex, "shared/snapshot"),
        Some(false)
    );
    alex.write(&["Alex, after"]);
    assert_eq!(opens_with_the_journal_key(&alex, "shared/log"), Some(false));
    // Sam's laptop, which never heard of it, keeps its copy under the old key.
    assert_eq!(
        opens_with_the_journal_key(&sam, "shared/snapshot"),
        Some(true)
    );

    // Sam writes on and tries to sync: refused, and nothing of it reaches Alex's laptop.
    sam.write(&["Sam, after"]);
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    let err = sam.fails(&["sync", "--peer", &alex_addr, "--timeout", "20"]);
    assert!(
        err.contains("closed the connection without answering"),
        "{err}"
    );
    alex_serve.terminate();
    let on_alex = shared_texts(&alex);
    for kept in ["Alex, while together", "Sam, while together", "Alex, after"] {
        assert!(on_alex.contains(&kept.to_owned()), "{on_alex:?}");
    }
    assert!(!on_alex.contains(&"Sam, after".to_owned()), "{on_alex:?}");
    // Both keep the journal as it was; Sam's copy goes on on its own.
    let on_sam = shared_texts(&sam);
    for kept in ["Alex, while together", "Sam, while together", "Sam, after"] {
        assert!(on_sam.contains(&kept.to_owned()), "{on_sam:?}");
    }
    assert!(!on_sam.contains(&"Alex, after".to_owned()));
    let status = alex.ok(&["status"]);
    assert!(
        status.contains("The partnership with Sam ended") && status.contains("uncoupled by Alex"),
        "{status}"
    );
}

#[test]
fn a_person_who_lost_their_only_laptop_is_removed_by_the_partner_and_joins_again() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    sam.write(&["Sam, on the laptop later lost"]);
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    sam.ok(&["sync", "--peer", &alex_addr]);
    alex_serve.terminate();

    // Sam's only laptop is lost: Alex removes it, which Alex may only because it is Sam's last.
    let out = alex.ok(&["devices", "remove", "Sam-laptop", "--yes"]);
    assert!(out.contains("Removed Sam's Sam-laptop."), "{out}");
    let listed = alex.ok(&["devices"]);
    assert!(
        listed.contains("REMOVED") && listed.contains("by Alex"),
        "{listed}"
    );
    // The remover's laptop begins a new key epoch: the journal key the lost laptop holds no
    // longer opens what Alex's laptop keeps.
    assert_eq!(
        opens_with_the_journal_key(&alex, "shared/snapshot"),
        Some(false)
    );

    // Whoever has the lost laptop writes and tries to sync: refused.
    sam.write(&["written on the lost laptop"]);
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    let err = sam.fails(&["sync", "--peer", &alex_addr, "--timeout", "20"]);
    assert!(err.contains("was it removed?"), "{err}");
    alex_serve.terminate();

    // Sam joins again from a new laptop, as Sam (Alex invites it for the partner), and gets
    // the journal, Sam's old words too.
    let new_laptop = Device::uninitialised();
    crate::util::pair_partner_device(&alex, &new_laptop, "Sam", "sam-new-laptop");
    let texts = shared_texts(&new_laptop);
    assert!(
        texts.contains(&"Sam, on the laptop later lost".to_owned()),
        "{texts:?}"
    );
    assert!(!texts.contains(&"written on the lost laptop".to_owned()));
    let on_new = devices(&new_laptop);
    let lost = on_new.iter().find(|d| d["name"] == "Sam-laptop").unwrap();
    assert_eq!(lost["removed"]["by"], "Alex");
    assert_eq!(lost["person"], "Sam");
    let status = new_laptop.ok(&["status"]);
    assert!(
        status.contains("Sam's Sam-laptop was removed") && status.contains("by Alex"),
        "{status}"
    );
    // The new laptop writes as Sam, and Alex's laptop takes it.
    new_laptop.write(&["Sam, from the new laptop"]);
    let mut alex_serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let alex_addr = alex_serve.address();
    new_laptop.ok(&["sync", "--peer", &alex_addr]);
    alex_serve.terminate();
    let on_alex = alex.list_json(&[]);
    assert!(
        on_alex
            .iter()
            .any(|e| e["text"] == "Sam, from the new laptop" && e["author"] == "Sam"),
        "{on_alex:?}"
    );
}
