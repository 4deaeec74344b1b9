//! The store on a real file system, in temp directories.

use std::fs;

use chrono::{TimeZone, Utc};
use mend_crypto::{random_bytes, DeviceSecrets, JournalId, JournalKey, KdfParams, Passphrase};
use mend_journal::{Kind, NewEntry};
use mend_store::{Doc, Home, LockMode, Store, StoreError};

fn secrets() -> DeviceSecrets {
    DeviceSecrets {
        journal_key: JournalKey::generate().unwrap(),
        identity_seed: random_bytes().unwrap(),
        person_id: "a".repeat(32),
        person_name: "Alex".into(),
        device_name: "laptop".into(),
    }
}

fn new_home() -> (
    tempfile::TempDir,
    Home,
    DeviceSecrets,
    JournalId,
    Passphrase,
) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("home"));
    let s = secrets();
    let jid = JournalId::generate().unwrap();
    let pass = Passphrase::from("pass");
    home.init(&s, jid, &pass, KdfParams::INSECURE_TEST, Utc::now())
        .unwrap();
    (dir, home, s, jid, pass)
}

fn open(
    home: &Home,
    s: &DeviceSecrets,
    jid: JournalId,
    access: LockMode,
) -> Result<Store, StoreError> {
    Store::open(home, s, jid, home.lock(access).unwrap())
}

fn write(store: &mut Store, doc: Doc, id: &str, text: &str) {
    let e = NewEntry {
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ..new_entry(id, text)
    };
    store.commit(doc, |j| j.add_entry(&e, Utc::now())).unwrap();
}

#[test]
fn entries_survive_reopening_and_compaction() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    write(&mut store, Doc::Private, "p1", "secret draft");
    drop(store);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert_eq!(store.journal(Doc::Shared).entry("e1").unwrap().text, "one");
    assert!(store.journal(Doc::Private).entry("p1").unwrap().private);
    assert!(store.journal(Doc::Shared).entry("p1").is_err());
    store.compact(Doc::Shared).unwrap();
    assert_eq!(store.stats(Doc::Shared).log_records, 0);
    write(&mut store, Doc::Shared, "e2", "two");
    drop(store);
    let store = open(&home, &s, jid, LockMode::Read).unwrap();
    assert_eq!(store.journal(Doc::Shared).len(), 2);
}

#[test]
fn a_write_appends_only_its_own_bytes() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    let log = home.root().join("shared/log");
    let snap = fs::read(home.root().join("shared/snapshot")).unwrap();
    let before = fs::metadata(&log).unwrap().len();
    write(&mut store, Doc::Shared, "e1", &"x".repeat(200));
    let after = fs::metadata(&log).unwrap().len();
    assert!(after - before < 600, "appended {} bytes", after - before);
    assert_eq!(fs::read(home.root().join("shared/snapshot")).unwrap(), snap);
}

#[test]
fn a_torn_final_record_is_dropped_and_earlier_ones_kept() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "kept");
    write(&mut store, Doc::Shared, "e2", "torn");
    drop(store);
    let log = home.root().join("shared/log");
    let len = fs::metadata(&log).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(len - 7).unwrap();
    drop(f);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert_eq!(store.warnings().len(), 1);
    assert_eq!(store.journal(Doc::Shared).entry("e1").unwrap().text, "kept");
    assert!(store.journal(Doc::Shared).entry("e2").is_err());
    // The next write cuts the torn bytes away and the log is whole again.
    write(&mut store, Doc::Shared, "e3", "after");
    drop(store);
    let store = open(&home, &s, jid, LockMode::Read).unwrap();
    assert!(store.warnings().is_empty());
    assert_eq!(store.journal(Doc::Shared).len(), 2);
}

#[test]
fn a_damaged_record_is_an_error_naming_the_file() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    write(&mut store, Doc::Shared, "e2", "two");
    drop(store);
    let log = home.root().join("shared/log");
    let mut bytes = fs::read(&log).unwrap();
    bytes[26 + 4 + 30] ^= 1; // inside the first record
    fs::write(&log, &bytes).unwrap();
    let err = open(&home, &s, jid, LockMode::Read).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { ref path, .. } if path.ends_with("shared/log")));
}

#[test]
fn records_cannot_move_between_documents_or_journals() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Private, "p1", "draft");
    drop(store);
    // Put the private log where the shared log was.
    fs::copy(
        home.root().join("private/log"),
        home.root().join("shared/log"),
    )
    .unwrap();
    assert!(matches!(
        open(&home, &s, jid, LockMode::Read),
        Err(StoreError::Corrupt { .. })
    ));
    // Same bytes but with the header's kind rewritten to the shared log's: authentication
    // catches it.
    let mut bytes = fs::read(home.root().join("private/log")).unwrap();
    bytes[9] = mend_crypto::RecordKind::SignedSharedLog as u8;
    fs::write(home.root().join("shared/log"), &bytes).unwrap();
    assert!(matches!(
        open(&home, &s, jid, LockMode::Read),
        Err(StoreError::Corrupt { .. })
    ));
    // A snapshot from another journal.
    let (_d2, other, s2, jid2, _) = new_home();
    drop((s2, jid2));
    fs::copy(
        other.root().join("shared/snapshot"),
        home.root().join("shared/snapshot"),
    )
    .unwrap();
    assert!(open(&home, &s, jid, LockMode::Read).is_err());
}

#[test]
fn passphrase_change_rewraps_the_key_only() {
    let (_d, home, _s, _jid, pass) = new_home();
    let snap = fs::read(home.root().join("shared/snapshot")).unwrap();
    let new = Passphrase::from("new pass");
    assert!(matches!(
        home.change_passphrase(&Passphrase::from("wrong"), &new, KdfParams::INSECURE_TEST),
        Err(StoreError::WrongPassphrase)
    ));
    home.change_passphrase(&pass, &new, KdfParams::INSECURE_TEST)
        .unwrap();
    assert!(matches!(
        home.unlock(&pass),
        Err(StoreError::WrongPassphrase)
    ));
    let (_, s) = home.unlock(&new).unwrap();
    assert_eq!(s.person_name, "Alex");
    assert_eq!(fs::read(home.root().join("shared/snapshot")).unwrap(), snap);
}

#[test]
fn init_refuses_an_existing_home() {
    let (_d, home, s, jid, pass) = new_home();
    assert!(matches!(
        home.init(&s, jid, &pass, KdfParams::INSECURE_TEST, Utc::now()),
        Err(StoreError::AlreadyInitialised { .. })
    ));
}

#[test]
fn a_released_store_catches_up_with_other_writers_and_notices_compaction() {
    let (_d, home, s, jid, _) = new_home();
    let mut serving = open(&home, &s, jid, LockMode::Write).unwrap();
    serving.defer_compaction();
    write(&mut serving, Doc::Shared, "e1", "by the serving process");
    serving.release();
    // Another process writes while the first holds no lock.
    let mut other = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut other, Doc::Shared, "e2", "by another process");
    drop(other);
    serving.relock(home.lock(LockMode::Write).unwrap()).unwrap();
    assert_eq!(
        serving.journal(Doc::Shared).entry("e2").unwrap().text,
        "by another process"
    );
    write(&mut serving, Doc::Shared, "e3", "after catching up");
    serving.release();
    // Another process compacts: the released copy must be opened afresh.
    let mut other = open(&home, &s, jid, LockMode::Write).unwrap();
    other.compact(Doc::Shared).unwrap();
    drop(other);
    assert!(serving.relock(home.lock(LockMode::Write).unwrap()).is_err());
    let fresh = open(&home, &s, jid, LockMode::Read).unwrap();
    assert_eq!(fresh.journal(Doc::Shared).len(), 3);
}

/// `Store::read_entries` with a read lock, as `mend list` calls it.
fn read_entries(home: &Home, s: &DeviceSecrets, jid: JournalId) -> (Vec<String>, Vec<String>) {
    let (entries, warnings) =
        Store::read_entries(home, s, jid, home.lock(LockMode::Read).unwrap()).unwrap();
    let texts = entries.into_all().into_iter().map(|e| e.text).collect();
    (texts, warnings)
}

fn index_bytes(home: &Home) -> Option<Vec<u8>> {
    fs::read(home.root().join("index")).ok()
}

#[test]
fn the_read_index_is_used_only_while_the_journal_is_unchanged() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    write(&mut store, Doc::Private, "p1", "secret draft");
    drop(store);
    assert_eq!(index_bytes(&home), None);
    let expected = open(&home, &s, jid, LockMode::Read)
        .unwrap()
        .entries()
        .unwrap();

    // The first read loads the journal and writes the index, sealed.
    let (first, warnings) =
        Store::read_entries(&home, &s, jid, home.lock(LockMode::Read).unwrap()).unwrap();
    assert_eq!(first, expected);
    assert!(warnings.is_empty());
    let written = index_bytes(&home).expect("the index is written");
    let plain = |b: &[u8], w: &str| b.windows(w.len()).any(|x| x == w.as_bytes());
    assert!(!plain(&written, "secret draft") && !plain(&written, "Alex"));
    // The next read uses it as it is (rewriting it would seal it under a fresh nonce).
    let (second, _) =
        Store::read_entries(&home, &s, jid, home.lock(LockMode::Read).unwrap()).unwrap();
    assert_eq!(second, expected);
    assert_eq!(index_bytes(&home).as_ref(), Some(&written));

    // A write, and then a compaction, each make it stale: it is rebuilt, never believed.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e2", "two");
    drop(store);
    assert_eq!(
        read_entries(&home, &s, jid).0,
        ["one", "two", "secret draft"]
    );
    let after_write = index_bytes(&home).unwrap();
    assert_ne!(after_write, written);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    store.compact(Doc::Private).unwrap();
    store
        .commit(Doc::Private, |j| {
            j.delete_entry("p1", &"a".repeat(32), Utc::now())
        })
        .unwrap();
    drop(store);
    assert_eq!(read_entries(&home, &s, jid).0, ["one", "two"]);
    assert_ne!(index_bytes(&home).unwrap(), after_write);
}

#[test]
fn a_stale_damaged_or_foreign_index_is_rebuilt_not_believed() {
    let (_d, home, s, jid, _) = new_home();
    let index = home.root().join("index");
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    drop(store);
    read_entries(&home, &s, jid);
    let old = index_bytes(&home).unwrap();

    // An index put back from before a write.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e2", "two");
    drop(store);
    fs::write(&index, &old).unwrap();
    assert_eq!(
        read_entries(&home, &s, jid),
        (vec!["one".into(), "two".into()], vec![])
    );

    // What a reader killed while writing the index left behind goes with the next rebuild;
    // another reader's file that is still being written stays.
    let abandoned = home.root().join("index.4242.tmp");
    let in_progress = home.root().join("index.4343.tmp");
    for f in [&abandoned, &in_progress] {
        fs::write(f, b"sealed bytes").unwrap();
    }
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&abandoned)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    fs::remove_file(&index).unwrap();
    read_entries(&home, &s, jid);
    assert!(!abandoned.exists() && in_progress.exists());
    fs::remove_file(&in_progress).unwrap();

    // A damaged index.
    let mut damaged = index_bytes(&home).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    fs::write(&index, &damaged).unwrap();
    assert_eq!(read_entries(&home, &s, jid).0, ["one", "two"]);
    assert_ne!(index_bytes(&home).unwrap(), damaged);

    // Another journal's index, in this journal's state or not, opens under neither its id nor key.
    let (_d2, other, s2, jid2, _) = new_home();
    read_entries(&other, &s2, jid2);
    fs::copy(other.root().join("index"), &index).unwrap();
    assert_eq!(read_entries(&home, &s, jid).0, ["one", "two"]);

    // A torn final record: the warning comes every time, and no index is written from it.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e3", "torn");
    drop(store);
    let log = home.root().join("shared/log");
    let len = fs::metadata(&log).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let before = index_bytes(&home);
    for _ in 0..2 {
        let (texts, warnings) = read_entries(&home, &s, jid);
        assert_eq!((texts.len(), warnings.len()), (2, 1));
    }
    assert_eq!(index_bytes(&home), before);
}

/// Each change appends to the read index what it did, so the next read neither loads the
/// journal nor rebuilds the index, and still sees exactly what loading would.
#[test]
fn changes_keep_the_read_index_current_without_a_rebuild() {
    let (_d, home, s, jid, _) = new_home();
    let me = "a".repeat(32);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "mm", "first");
    drop(store);
    read_entries(&home, &s, jid);
    let mut last = index_bytes(&home).unwrap();
    // Each action, then a read: the index only grew (nothing rewritten), the read left it as
    // it was, and what it gave equals a full load.
    type Action<'a> = Box<dyn Fn(&mut Store) + 'a>;
    let actions: Vec<(&str, Action)> = vec![
        (
            "write",
            Box::new(|st| write(st, Doc::Shared, "zz", "later id")),
        ),
        (
            "write before",
            Box::new(|st| write(st, Doc::Shared, "aa", "earlier id")),
        ),
        (
            "private",
            Box::new(|st| write(st, Doc::Private, "p1", "draft")),
        ),
        (
            "edit",
            Box::new(|st| {
                let edit = mend_journal::EntryEdit {
                    text: Some("edited".into()),
                    ..Default::default()
                };
                st.commit(Doc::Shared, |j| j.edit_entry("zz", &me, &edit, Utc::now()))
                    .unwrap()
            }),
        ),
        (
            "delete",
            Box::new(|st| {
                st.commit(Doc::Private, |j| j.delete_entry("p1", &me, Utc::now()))
                    .unwrap()
            }),
        ),
        ("compact", Box::new(|st| st.compact(Doc::Shared).unwrap())),
    ];
    for (what, act) in &actions {
        let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
        act(&mut store);
        let expected = store.entries().unwrap();
        drop(store);
        let grown = index_bytes(&home).unwrap();
        assert!(
            grown.len() > last.len() && grown.starts_with(&last),
            "{what}: rewritten"
        );
        let (got, _) =
            Store::read_entries(&home, &s, jid, home.lock(LockMode::Read).unwrap()).unwrap();
        assert_eq!(got, expected, "{what}");
        assert_eq!(
            index_bytes(&home).unwrap(),
            grown,
            "{what}: rebuilt on read"
        );
        last = grown;
    }
    assert_eq!(
        read_entries(&home, &s, jid).0,
        ["earlier id", "first", "edited"]
    );

    // A change besides entries (a device joins, and with it a name) leaves it to be rebuilt.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    let sam = mend_journal::Person {
        id: "b".repeat(32),
        name: "Sam".into(),
    };
    store
        .commit(Doc::Shared, |j| {
            j.add_device(&"cd".repeat(32), &sam, "laptop", &me, Utc::now())
        })
        .unwrap();
    drop(store);
    assert_eq!(index_bytes(&home).unwrap(), last, "nothing appended");
    read_entries(&home, &s, jid);
    let rebuilt = index_bytes(&home).unwrap();
    assert!(
        !rebuilt.starts_with(&last[..last.len().min(200)]),
        "rebuilt"
    );

    // A long chain of deltas is folded into a new base by the reader that follows it.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    for i in 0..40 {
        write(&mut store, Doc::Shared, &format!("n{i:02}"), "one of many");
    }
    drop(store);
    let long = index_bytes(&home).unwrap().len();
    let (texts, _) = read_entries(&home, &s, jid);
    assert_eq!(texts.len(), 43);
    let folded = index_bytes(&home).unwrap().len();
    assert!(folded < long, "{folded} < {long}");
    assert_eq!(read_entries(&home, &s, jid).0, texts);
}

/// A commit whose action changed the document and then failed (as a sync message whose
/// changes were applied and then refused by a check) writes nothing, and the store says it is
/// stale: what it holds in memory never reaches the disk, by a later commit or compaction.
#[test]
fn a_failed_commit_that_changed_the_document_leaves_the_store_stale_and_writes_nothing() {
    let (dir, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "kept1", "kept");
    let files = |d: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = ["shared/log", "shared/snapshot"]
            .iter()
            .map(|f| (f.to_string(), fs::read(d.join("home").join(f)).unwrap()))
            .collect();
        out.sort();
        out
    };
    let before = files(dir.path());
    let e = NewEntry {
        id: "refused1".into(),
        author_id: "a".repeat(32),
        created_at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        written_at: Utc::now(),
        text: "applied, then refused".into(),
        kind: Kind::Entry,
        ..Default::default()
    };
    let failed = store.commit(Doc::Shared, |j| {
        j.add_entry(&e, Utc::now())?;
        Err::<(), _>(mend_journal::JournalError::MalformedSync(
            "refused after".into(),
        ))
    });
    assert!(failed.is_err());
    assert!(store.is_stale());
    assert_eq!(files(dir.path()), before, "nothing was written");
    drop(store);
    let store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert!(!store.is_stale());
    assert!(store.journal(Doc::Shared).entry("refused1").is_err());
    assert!(store.journal(Doc::Shared).entry("kept1").is_ok());
}

fn new_entry(id: &str, text: &str) -> NewEntry {
    NewEntry {
        id: id.into(),
        author_id: "a".repeat(32),
        created_at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        written_at: Utc::now(),
        edited_at: None,
        text: text.into(),
        tags: vec![],
        mood: None,
        kind: Kind::Entry,
        extra: Default::default(),
    }
}

fn cached(home: &Home, s: &DeviceSecrets, jid: JournalId) -> Option<mend_store::Cached> {
    mend_store::Cached::open(home, s, jid, home.lock(LockMode::Write).unwrap()).ok()
}

#[test]
fn what_is_kept_beside_the_journal_is_used_only_while_its_files_are_unchanged() {
    let (_d, home, s, jid, _) = new_home();
    assert!(cached(&home, &s, jid).is_none(), "nothing kept yet");
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "loaded");
    store.save_tips(&[]);
    drop(store);

    // Added without loading: in both documents, and in the read index at once.
    let mut c = cached(&home, &s, jid).expect("the files are as the tips describe");
    for (doc, id) in [
        (Doc::Shared, "e2"),
        (Doc::Private, "p1"),
        (Doc::Shared, "e3"),
    ] {
        let added = c.add_entry(doc, &new_entry(id, id), Utc::now()).unwrap();
        assert_eq!(added.map(|e| e.id), Some(id.to_owned()));
    }
    drop(c);
    let (texts, _) = read_entries(&home, &s, jid);
    assert_eq!(texts, ["loaded", "e2", "e3", "p1"]);
    // The journal, loaded, holds them: the same entries as the index.
    let store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    let loaded = store.entries().unwrap();
    drop(store);
    let (indexed, _) =
        Store::read_entries(&home, &s, jid, home.lock(LockMode::Read).unwrap()).unwrap();
    assert_eq!(loaded, indexed);

    // Any change made with the journal loaded makes them stale: not used, nothing written.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Private, "p2", "elsewhere");
    drop(store);
    assert!(cached(&home, &s, jid).is_none());
    // Read-only opening never writes them.
    let mut store = open(&home, &s, jid, LockMode::Read).unwrap();
    store.save_tips(&[]);
    drop(store);
    assert!(cached(&home, &s, jid).is_none());
    // Damaged: ignored, not believed.
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    store.save_tips(&[]);
    drop(store);
    assert!(cached(&home, &s, jid).is_some());
    let path = home.root().join("tips");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();
    assert!(cached(&home, &s, jid).is_none());
}

#[test]
fn a_reply_needs_the_journal_loaded_and_nothing_is_written_without_it() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "first");
    store.save_tips(&[]);
    drop(store);
    let mut c = cached(&home, &s, jid).unwrap();
    let mut reply = new_entry("r1", "a reply");
    reply.kind = Kind::Reply;
    reply.extra.refers_to = Some("e1".into());
    let before = fs::read(home.root().join("shared/log")).unwrap();
    assert!(c
        .add_entry(Doc::Shared, &reply, Utc::now())
        .unwrap()
        .is_none());
    assert_eq!(fs::read(home.root().join("shared/log")).unwrap(), before);
}

#[test]
fn a_record_damaged_in_the_middle_of_a_log_is_not_hidden_by_what_is_kept() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    write(&mut store, Doc::Shared, "e2", "two");
    store.save_tips(&[]);
    drop(store);
    assert!(cached(&home, &s, jid).is_some());
    // One byte of the first log record flipped: the files' fingerprint (lengths, first and
    // last bytes) is unchanged, yet the kept facts are not used.
    let log = home.root().join("shared/log");
    let mut bytes = fs::read(&log).unwrap();
    bytes[26 + 4 + 40] ^= 0xff;
    fs::write(&log, &bytes).unwrap();
    assert!(cached(&home, &s, jid).is_none());
    assert!(matches!(
        open(&home, &s, jid, LockMode::Write),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn a_session_taken_back_leaves_the_files_as_they_were_unless_something_else_was_written() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    store.defer_compaction();
    write(&mut store, Doc::Shared, "e1", "before the session");
    let shared = home.root().join("shared");
    let files = || ["snapshot", "log"].map(|f| fs::read(shared.join(f)).unwrap());
    let before = files();
    let heads = store.journal_mut(Doc::Shared).heads();
    // A session writes two records, then is taken back: the log is cut to where it stood.
    let mark = store.mark(Doc::Shared);
    write(&mut store, Doc::Shared, "s1", "from the session");
    write(&mut store, Doc::Shared, "s2", "from the session");
    assert_ne!(files(), before);
    assert!(store.undo_to(&mark, 2).unwrap());
    assert_eq!(files(), before);
    assert_eq!(store.journal_mut(Doc::Shared).heads(), heads);
    assert!(store.journal(Doc::Shared).entry("s1").is_err());
    // The store goes on writing after it, and the journal opens with everything but those.
    write(&mut store, Doc::Shared, "e2", "after");
    let old_mark = store.mark(Doc::Shared);
    drop(store);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    store.defer_compaction();
    // A mark taken on another opening of the journal is never undone to.
    write(&mut store, Doc::Shared, "e9", "on this opening");
    assert!(!store.undo_to(&old_mark, 1).unwrap());
    drop(store);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    store.defer_compaction();
    assert_eq!(store.journal(Doc::Shared).len(), 3);
    assert!(store.journal(Doc::Shared).entry("s2").is_err());

    // Something else written meanwhile (one record more than the session's own): nothing is
    // cut, whatever the session asks.
    let mark = store.mark(Doc::Shared);
    write(&mut store, Doc::Shared, "s3", "from the session");
    write(&mut store, Doc::Shared, "e3", "by a command meanwhile");
    let kept = files();
    assert!(!store.undo_to(&mark, 1).unwrap());
    assert_eq!(files(), kept);
    assert_eq!(store.journal(Doc::Shared).len(), 5);
    // Nor after a compaction, which rewrote the snapshot.
    let mark = store.mark(Doc::Shared);
    write(&mut store, Doc::Shared, "s4", "from the session");
    store.compact(Doc::Shared).unwrap();
    assert!(!store.undo_to(&mark, 2).unwrap());
    assert_eq!(store.journal(Doc::Shared).len(), 6);
    // A session that wrote nothing has nothing to take back.
    let mark = store.mark(Doc::Shared);
    assert!(store.undo_to(&mark, 0).unwrap());
}

/// Whether `file` of `home` opens with the journal key pairing gave.
fn opens_with_journal_key(home: &Home, s: &DeviceSecrets, jid: JournalId, file: &str) -> bool {
    let bytes = fs::read(home.root().join(file)).unwrap();
    let decoded = mend_store::decode_records(&bytes).unwrap();
    mend_crypto::open_record(
        &s.journal_key,
        &jid,
        decoded.header.kind,
        decoded.records[0],
    )
    .is_ok()
}

#[test]
fn a_removal_begins_a_key_epoch_and_files_of_the_one_before_still_open() {
    let (_d, home, s, jid, _) = new_home();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "before");
    let sam = mend_journal::Person {
        id: "b".repeat(32),
        name: "Sam".into(),
    };
    let sam_key: String = mend_journal::Signer::from_seed(&[5; 32])
        .public_key()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    store
        .commit(Doc::Shared, |j| {
            j.add_device(&sam_key, &sam, "sam-laptop", &sam.id, Utc::now())
        })
        .unwrap();
    assert_eq!(store.journal_key_epoch(), 0);
    assert!(opens_with_journal_key(&home, &s, jid, "shared/snapshot"));
    let shared = home.root().join("shared");
    let epoch0 = ["snapshot", "log"].map(|f| fs::read(shared.join(f)).unwrap());

    // Sam's only laptop is removed: a new epoch, and the journal rewritten under its key.
    store
        .commit(Doc::Shared, |j| j.remove_device(&sam_key, Utc::now()))
        .unwrap();
    assert_eq!(store.journal_key_epoch(), 1);
    assert!(home.root().join("epochs").exists());
    assert!(!opens_with_journal_key(&home, &s, jid, "shared/snapshot"));
    assert_eq!(store.stats(Doc::Shared).log_records, 0);
    write(&mut store, Doc::Shared, "e2", "after");
    drop(store);
    let store = open(&home, &s, jid, LockMode::Read).unwrap();
    assert_eq!(store.journal_key_epoch(), 1);
    assert_eq!(store.journal(Doc::Shared).len(), 2);
    drop(store);

    // The rewrite stopped between the snapshot and the log: the old log (under the first
    // epoch's key), which the snapshot already holds, is left unread and then emptied.
    let epoch1_snapshot = fs::read(shared.join("snapshot")).unwrap();
    fs::write(shared.join("log"), &epoch0[1]).unwrap();
    let store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert_eq!(store.stats(Doc::Shared).log_records, 0);
    assert!(store.journal(Doc::Shared).entry("e1").is_ok());
    drop(store);
    assert_ne!(fs::read(shared.join("snapshot")).unwrap(), epoch1_snapshot);

    // A copy of the journal from before the epoch put back: it opens (under the first
    // epoch's key) and is rewritten under the current one.
    fs::write(shared.join("snapshot"), &epoch0[0]).unwrap();
    fs::write(shared.join("log"), &epoch0[1]).unwrap();
    let store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert_eq!(store.journal_key_epoch(), 1);
    assert!(store.journal(Doc::Shared).entry("e1").is_ok());
    drop(store);
    assert!(!opens_with_journal_key(&home, &s, jid, "shared/snapshot"));

    // Without the epochs file, the journal does not open, and says what is missing.
    fs::remove_file(home.root().join("epochs")).unwrap();
    assert!(open(&home, &s, jid, LockMode::Read).is_err());
}

#[test]
fn a_log_names_its_snapshot_so_an_older_snapshot_put_back_beside_it_is_refused() {
    let (_d, home, s, jid, _) = new_home();
    let shared = home.root().join("shared");
    let read = |f: &str| fs::read(shared.join(f)).unwrap();
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    store.compact(Doc::Shared).unwrap();
    let old_snapshot = read("snapshot");
    write(&mut store, Doc::Shared, "e2", "two");
    write(&mut store, Doc::Shared, "e3", "three");
    let old_log = read("log");
    // The log's header names the snapshot it follows.
    let decoded = mend_store::decode_records(&old_log).unwrap();
    assert_eq!(
        decoded.header.follows.unwrap()[..],
        old_snapshot[old_snapshot.len() - 16..]
    );

    // A compaction that stopped between writing the snapshot and emptying the log: the log
    // left beside the new snapshot holds nothing it lacks, and is emptied on the next open.
    store.compact(Doc::Shared).unwrap();
    drop(store);
    fs::write(shared.join("log"), &old_log).unwrap();
    let store = open(&home, &s, jid, LockMode::Write).unwrap();
    assert_eq!(store.journal(Doc::Shared).len(), 3);
    assert_eq!(store.stats(Doc::Shared).log_records, 0);
    let mut store = store;
    write(&mut store, Doc::Shared, "e4", "four");
    drop(store);

    // The snapshot put back to an older copy beside a log that needs what it lacks: refused,
    // naming both files, and nothing is changed.
    fs::write(shared.join("snapshot"), &old_snapshot).unwrap();
    let before = files_of(&shared);
    let err = open(&home, &s, jid, LockMode::Write).err().unwrap();
    match &err {
        StoreError::Corrupt { path, why } => {
            assert!(path.ends_with("shared/log"), "{path:?}");
            assert!(
                why.contains("another snapshot") && why.contains("snapshot"),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(files_of(&shared), before);
    // Without that snapshot's log (the log that goes with it put back too), it opens.
    fs::write(shared.join("log"), &old_log).unwrap();
    let store = open(&home, &s, jid, LockMode::Read).unwrap();
    assert_eq!(store.journal(Doc::Shared).len(), 3);
}

#[test]
fn a_log_of_the_release_before_is_read_and_then_names_its_snapshot() {
    let (_d, home, s, jid, _) = new_home();
    let shared = home.root().join("shared");
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e1", "one");
    write(&mut store, Doc::Shared, "e2", "two");
    drop(store);
    // Rewrite the log as the release before wrote it: a version 1 header, and the first
    // record chained from zeros.
    let bytes = fs::read(shared.join("log")).unwrap();
    let decoded = mend_store::decode_records(&bytes).unwrap();
    let kind = decoded.header.kind;
    let mut link = mend_crypto::Chain {
        position: 0,
        previous: decoded.header.follows.unwrap(),
    };
    let mut old_link = mend_crypto::Chain {
        position: 0,
        previous: [0; mend_crypto::TAG_LEN],
    };
    let mut old = mend_store::encode_header(&mend_store::DataHeader {
        kind,
        journal_id: jid,
        follows: None,
    });
    for r in &decoded.records {
        let plain = mend_crypto::open_chained(&s.journal_key, &jid, kind, &link, r).unwrap();
        link = link.after(r).unwrap();
        let sealed =
            mend_crypto::seal_chained(&s.journal_key, &jid, kind, &old_link, &plain).unwrap();
        old_link = old_link.after(&sealed).unwrap();
        old.extend((sealed.len() as u32).to_le_bytes());
        old.extend(&sealed);
    }
    fs::write(shared.join("log"), &old).unwrap();
    let store = open(&home, &s, jid, LockMode::Read).unwrap();
    assert_eq!(store.journal(Doc::Shared).len(), 2);
    drop(store);
    let mut store = open(&home, &s, jid, LockMode::Write).unwrap();
    write(&mut store, Doc::Shared, "e3", "three");
    drop(store);
    let log = fs::read(shared.join("log")).unwrap();
    assert!(mend_store::decode_records(&log)
        .unwrap()
        .header
        .follows
        .is_some());
    let store = open(&home, &s, jid, LockMode::Read).unwrap();
    assert_eq!(store.journal(Doc::Shared).len(), 3);
}

fn files_of(dir: &std::path::Path) -> Vec<Vec<u8>> {
    ["snapshot", "log"]
        .map(|f| fs::read(dir.join(f)).unwrap())
        .to_vec()
}
