//! A modified client: a program on Sam's laptop that holds Sam's keys and journal (as any
//! program there could, with Sam's passphrase) and writes what the stock `mend` never would,
//! then pushes it to Alex's `mend serve` over the real sync protocol. Each forgery is first
//! shown to carry its effect (what Alex's journal would say had it been applied), then refused
//! by Alex's laptop: nothing of it is written, Alex's journal still opens, Alex is told, and
//! Sam's honest laptop syncs with Alex's right after.

use std::collections::BTreeMap;
use std::path::PathBuf;

use automerge::sync::SyncDoc;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue};
use mend_journal::{encode_pairs, Sig, Signer};
use mend_store::{Doc, Home, LockMode, Store};
use mend_sync::{Refusal, Request, Response};

use crate::sync::as_device;
use crate::util::{files_under, pair, Background, Device, LOOPBACK};

/// Who signs a forged change, and under which actor id it is made.
#[derive(Clone, Copy)]
enum Signing {
    /// Sam's key, under Sam's actor id (a change the stock program could have made, but with
    /// contents it never would).
    Sam,
    /// No signature at all.
    Unsigned,
    /// Sam's key, under Alex's actor id.
    AsAlex,
    /// A key the journal has never seen, under its own actor id.
    Stranger,
}

/// What the forger knows of the journal (all of it: Sam's laptop holds the same journal).
struct World {
    entries: ObjId,
    people: ObjId,
    devices: ObjId,
    alex: String,
    sam: String,
    alex_entry: String,
    sam_entry: String,
    alex_promise: String,
    sam_promise: String,
    sam_ask: String,
    alex_answer: String,
}

struct Forgery {
    name: &'static str,
    signing: Signing,
    /// The forged operations, made on a copy of Sam's journal.
    forge: fn(&mut AutoCommit, &World),
    /// What the forged journal says that Alex's must never say: checked on the forged copy
    /// (the attack works without the check) and on Alex's journal after (it was refused).
    effect: fn(&AutoCommit, &World) -> bool,
    /// Words Alex's refusal must contain.
    why: &'static str,
}

fn ts() -> ScalarValue {
    ScalarValue::Timestamp(1_700_000_000_000)
}

fn map(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key).ok().flatten()? {
        (automerge::Value::Object(_), id) => Some(id),
        _ => None,
    }
}

fn text_of(doc: &AutoCommit, w: &World, id: &str, field: &str) -> Option<String> {
    let entries = map(doc, &automerge::ROOT, "entries")?;
    let _ = w;
    let obj = map(doc, &entries, id)?;
    doc.get(&obj, field)
        .ok()
        .flatten()
        .and_then(|(v, _)| v.as_str().map(str::to_owned))
}

fn new_entry(doc: &mut AutoCommit, w: &World, id: &str, fields: &[(&str, ScalarValue)]) {
    let obj = doc.put_object(&w.entries, id, ObjType::Map).unwrap();
    doc.put(&obj, "created_at", ts()).unwrap();
    for (k, v) in fields {
        doc.put(&obj, *k, v.clone()).unwrap();
    }
}

fn entry_obj(doc: &AutoCommit, w: &World, id: &str) -> ObjId {
    map(doc, &w.entries, id).unwrap()
}

fn has_entry(doc: &AutoCommit, id: &str) -> bool {
    map(doc, &automerge::ROOT, "entries").is_some_and(|e| map(doc, &e, id).is_some())
}

fn s(v: &str) -> ScalarValue {
    ScalarValue::Str(v.into())
}

fn forgeries() -> Vec<Forgery> {
    vec![
        Forgery {
            name: "an unsigned change",
            signing: Signing::Unsigned,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "unsigned1",
                    &[("author", s(&w.sam)), ("text", s("no signature"))],
                )
            },
            effect: |d, _| has_entry(d, "unsigned1"),
            why: "not signed",
        },
        Forgery {
            name: "a forged actor id (Alex's)",
            signing: Signing::AsAlex,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "asalex1",
                    &[
                        ("author", s(&w.alex)),
                        ("text", s("I admit everything was my fault")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "asalex1"),
            why: "signature does not verify",
        },
        Forgery {
            name: "a signature by an unknown key",
            signing: Signing::Stranger,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "stranger1",
                    &[("author", s(&w.sam)), ("text", s("from nowhere"))],
                )
            },
            effect: |d, _| has_entry(d, "stranger1"),
            why: "belongs to no device",
        },
        Forgery {
            name: "an edit of the other's entry",
            signing: Signing::Sam,
            forge: |d, w| {
                let e = entry_obj(d, w, &w.alex_entry);
                d.put(&e, "text", "I admit everything was my fault")
                    .unwrap();
            },
            effect: |d, w| {
                text_of(d, w, &w.alex_entry, "text").as_deref()
                    == Some("I admit everything was my fault")
            },
            why: "only its author may",
        },
        Forgery {
            name: "a retraction of the other's entry",
            signing: Signing::Sam,
            forge: |d, w| {
                let e = entry_obj(d, w, &w.alex_entry);
                d.put(&e, "text", "").unwrap();
                d.put(&e, "retracted_at", ts()).unwrap();
                d.put(&e, "retracted_by", w.sam.as_str()).unwrap();
            },
            effect: |d, w| text_of(d, w, &w.alex_entry, "text").as_deref() == Some(""),
            why: "only its author may",
        },
        Forgery {
            name: "an author rewrite",
            signing: Signing::Sam,
            forge: |d, w| {
                let e = entry_obj(d, w, &w.sam_entry);
                d.put(&e, "author", w.alex.as_str()).unwrap();
            },
            effect: |d, w| {
                text_of(d, w, &w.sam_entry, "author").as_deref() == Some(w.alex.as_str())
            },
            why: "stays as written",
        },
        Forgery {
            name: "an entry in the other's name",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "inname1",
                    &[
                        ("author", s(&w.alex)),
                        ("kind", s("acknowledgment")),
                        ("text", s("It was all my fault")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "inname1"),
            why: "in Alex's name",
        },
        Forgery {
            name: "a replaced entries map",
            signing: Signing::Sam,
            forge: |d, _| {
                d.put_object(automerge::ROOT, "entries", ObjType::Map)
                    .unwrap();
            },
            effect: |d, w| map(d, &automerge::ROOT, "entries").is_some_and(|e| e != w.entries),
            why: "root",
        },
        Forgery {
            name: "a third person",
            signing: Signing::Sam,
            forge: |d, w| {
                let p = d
                    .put_object(&w.people, "mallory0000000000000000000000000", ObjType::Map)
                    .unwrap();
                d.put(&p, "name", "Mallory").unwrap();
                d.put(&p, "added_at", ts()).unwrap();
                let key = hex::encode(Signer::from_seed(&[0x66; 32]).public_key());
                let dev = d
                    .put_object(&w.devices, key.as_str(), ObjType::Map)
                    .unwrap();
                d.put(&dev, "person", "mallory0000000000000000000000000")
                    .unwrap();
                d.put(&dev, "name", "mallory-laptop").unwrap();
                d.put(&dev, "added_at", ts()).unwrap();
                d.put(&dev, "added_by", w.sam.as_str()).unwrap();
            },
            effect: |d, w| map(d, &w.people, "mallory0000000000000000000000000").is_some(),
            why: "third person",
        },
        Forgery {
            name: "a device added under the other's name",
            signing: Signing::Sam,
            forge: |d, w| {
                let key = hex::encode(Signer::from_seed(&[0x67; 32]).public_key());
                let dev = d
                    .put_object(&w.devices, key.as_str(), ObjType::Map)
                    .unwrap();
                d.put(&dev, "person", w.alex.as_str()).unwrap();
                d.put(&dev, "name", "alex-phone").unwrap();
                d.put(&dev, "added_at", ts()).unwrap();
                d.put(&dev, "added_by", w.sam.as_str()).unwrap();
            },
            effect: |d, w| d.keys(&w.devices).count() == 3,
            why: "under Alex's name",
        },
        Forgery {
            name: "a schema change",
            signing: Signing::Sam,
            forge: |d, _| {
                d.put(automerge::ROOT, "schema", 99).unwrap();
            },
            effect: |d, _| {
                d.get(automerge::ROOT, "schema")
                    .unwrap()
                    .and_then(|(v, _)| v.as_i64())
                    == Some(99)
            },
            why: "root",
        },
        Forgery {
            name: "an oversized text",
            signing: Signing::Sam,
            forge: |d, w| {
                let big = "x".repeat(1024 * 1024 + 1);
                new_entry(d, w, "big1", &[("author", s(&w.sam)), ("text", s(&big))]);
            },
            effect: |d, _| has_entry(d, "big1"),
            why: "longer than 1 MiB",
        },
        Forgery {
            name: "a promise kept for the other",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "kept1",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("promise-kept")),
                        ("ref", s(&w.alex_promise)),
                        ("text", s("")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "kept1"),
            why: "only the one who promised",
        },
        Forgery {
            name: "a confirmation of one's own promise",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "conf1",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("promise-confirmed")),
                        ("ref", s(&w.sam_promise)),
                        ("text", s("")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "conf1"),
            why: "only the partner may",
        },
        Forgery {
            name: "reassurance given to one's own request",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "give1",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("reassurance-give")),
                        ("ref", s(&w.sam_ask)),
                        ("text", s("I reassure myself")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "give1"),
            why: "only the partner may",
        },
        Forgery {
            name: "a receipt for one's own entry",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "rcpt1",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("receipt")),
                        ("ref", s(&w.sam_entry)),
                        ("text", s("")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "rcpt1"),
            why: "receipt is for the partner",
        },
        Forgery {
            name: "a reply in the other's name",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "reply1",
                    &[
                        ("author", s(&w.alex)),
                        ("kind", s("reply")),
                        ("ref", s(&w.sam_entry)),
                        ("text", s("You are right about everything")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "reply1"),
            why: "in Alex's name",
        },
        Forgery {
            name: "a second reveal-together answer in the other's name",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "second1",
                    &[
                        ("author", s(&w.alex)),
                        ("kind", s("together-answer")),
                        ("ref", s(&w.alex_answer)),
                        ("prompt", s("act-1")),
                        ("sealed", s(&"00".repeat(64))),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "second1"),
            why: "in Alex's name",
        },
        Forgery {
            name: "a second reveal-together answer that is not sealed",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "second2",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("together-answer")),
                        ("ref", s(&w.alex_answer)),
                        ("prompt", s("act-1")),
                        ("sealed", s("00")),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "second2"),
            why: "not sealed",
        },
        Forgery {
            name: "a second reveal-together answer for another prompt",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "second3",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("together-answer")),
                        ("ref", s(&w.alex_answer)),
                        ("prompt", s("act-2")),
                        ("sealed", s(&"00".repeat(64))),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "second3"),
            why: "another prompt",
        },
        Forgery {
            name: "an answer key published for the other's answer",
            signing: Signing::Sam,
            forge: |d, w| {
                new_entry(
                    d,
                    w,
                    "reveal1",
                    &[
                        ("author", s(&w.sam)),
                        ("kind", s("together-reveal")),
                        ("ref", s(&w.alex_answer)),
                        ("text", s(&"ab".repeat(32))),
                    ],
                )
            },
            effect: |d, _| has_entry(d, "reveal1"),
            why: "not the signer's",
        },
        Forgery {
            name: "a valid change that depends on a refused one",
            signing: Signing::Sam,
            forge: |d, w| {
                let e = entry_obj(d, w, &w.alex_entry);
                d.put(&e, "text", "forged first").unwrap();
                d.commit_with(CommitOptions::default().with_message("edit"));
                new_entry(
                    d,
                    w,
                    "after1",
                    &[
                        ("author", s(&w.sam)),
                        ("text", s("honest words after a forgery")),
                    ],
                );
            },
            effect: |d, _| has_entry(d, "after1"),
            why: "depends on a change that was refused",
        },
    ]
}

fn signer_for(signing: Signing, sam: &Signer, alex_actor: &[u8]) -> (Vec<u8>, Option<Signer>) {
    match signing {
        Signing::Sam => (sam.actor().to_vec(), Some(sam.clone())),
        Signing::Unsigned => (sam.actor().to_vec(), None),
        Signing::AsAlex => (alex_actor.to_vec(), Some(sam.clone())),
        Signing::Stranger => {
            let k = Signer::from_seed(&[0x99; 32]);
            (k.actor().to_vec(), Some(k))
        }
    }
}

/// A device's shared journal as a plain Automerge document (what a modified program on Sam's
/// laptop holds; on Alex's, what Alex's journal says).
fn sams_document(b: &Device) -> (AutoCommit, Signer, [u8; 16]) {
    let home = Home::new(b.home());
    let (key_file, secrets) = home
        .unlock(&mend_crypto::Passphrase::from(b.pass.clone()))
        .unwrap();
    let lock = home.lock(LockMode::Read).unwrap();
    let mut store = Store::open(&home, &secrets, key_file.journal_id, lock).unwrap();
    let doc = store.journal_mut(Doc::Shared).doc_mut().fork();
    (
        doc,
        Signer::from_seed(&secrets.identity_seed),
        key_file.journal_id.0,
    )
}

/// Push everything `doc` holds that Alex lacks, with `signatures`, over the sync protocol, as
/// one session. Returns the last response.
fn push(b: &Device, addr: &str, doc: &mut AutoCommit, signatures: Vec<u8>) -> Response {
    as_device(b, addr, async |net, peer, journal_id| {
        let mut state = automerge::sync::State::new();
        let session = u64::from_le_bytes(mend_crypto::random_bytes().unwrap());
        let mut last = None;
        for _ in 0..8 {
            let message = doc
                .sync()
                .generate_sync_message(&mut state)
                .map(|m| m.encode())
                .unwrap_or_default();
            let request = Request::Sync {
                journal_id,
                session,
                message: message.clone(),
                signatures: signatures.clone(),
            };
            let response = net
                .request(peer, mend_net::Protocol::Sync, request)
                .await
                .unwrap();
            match &response {
                Response::Sync { message: reply, .. } if !reply.is_empty() => {
                    let m = automerge::sync::Message::decode(reply).unwrap();
                    doc.sync().receive_sync_message(&mut state, m).unwrap();
                }
                Response::Sync { .. } if message.is_empty() => return response,
                Response::Sync { .. } => {}
                _ => return response,
            }
            last = Some(response);
        }
        last.unwrap()
    })
}

/// [`push`] `doc` with `sigs`, which must be refused as `count` changes that break the rules.
fn push_refused(
    b: &Device,
    addr: &str,
    doc: &mut AutoCommit,
    sigs: &[(ChangeHash, Sig)],
    count: u32,
) {
    let response = push(b, addr, doc, encode_pairs(sigs.iter().map(|(h, s)| (h, s))));
    assert!(
        matches!(response, Response::Refused { reason: Refusal::BrokeRules { count: c } } if c == count),
        "{response:?}"
    );
}

fn journal_files(a: &Device) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = files_under(&a.home().join("shared"));
    files.extend(files_under(&a.home().join("private")));
    files
}

/// The journal's files once a serving laptop has left them alone for two seconds: its first
/// idle moment folds the log into the snapshot (compaction), which a test comparing files
/// before and after an attack must not take for the attack's doing.
fn settled_journal_files(a: &Device) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = journal_files(a);
    for _ in 0..30 {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let now = journal_files(a);
        if now == files {
            return files;
        }
        files = now;
    }
    panic!("the journal's files kept changing with nothing to do");
}

#[test]
fn a_modified_client_with_a_paired_identity_gets_nothing_past_the_rules() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let alex_entry = a.write(&["We talked after dinner."]).trim().to_owned();
    let alex_promise = a.ok(&["promise", "add", "Call at noon"]).trim().to_owned();
    a.ok(&["together", "act-1", "What I want us to try"]);
    let sam_entry = b.write(&["I am still hurt."]).trim().to_owned();
    let sam_promise = b.ok(&["promise", "add", "Walk together"]).trim().to_owned();
    let sam_ask = b
        .ok(&["reassure", "ask", "Tell me we are okay"])
        .trim()
        .to_owned();
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    assert!(b
        .ok(&["sync", "--peer", &addr])
        .contains("Synced with Alex"));
    let full_id = |d: &Device, prefix: &str| -> String {
        d.list_json(&[])
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .find(|id| id.starts_with(prefix))
            .unwrap_or_else(|| panic!("no entry {prefix}"))
    };
    let alex_answer = b
        .list_json(&[])
        .iter()
        .find(|e| e["kind"] == "together-answer")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .expect("Alex's answer reached Sam");
    let alex_actor = {
        let devices: Vec<serde_json::Value> =
            serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
        let key = devices.iter().find(|d| d["this_device"] == true).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        hex::decode(&key[..32]).unwrap()
    };

    let mut refusals_seen = 0;
    for f in forgeries() {
        let (mut doc, sam, journal_id) = sams_document(&b);
        let people: Vec<(String, String)> = {
            let p = map(&doc, &automerge::ROOT, "people").unwrap();
            doc.keys(&p)
                .map(|id| {
                    let o = map(&doc, &p, &id).unwrap();
                    let name = doc
                        .get(&o, "name")
                        .unwrap()
                        .unwrap()
                        .0
                        .as_str()
                        .unwrap()
                        .to_owned();
                    (id, name)
                })
                .collect()
        };
        let id_of = |name: &str| people.iter().find(|(_, n)| n == name).unwrap().0.clone();
        let w = World {
            entries: map(&doc, &automerge::ROOT, "entries").unwrap(),
            people: map(&doc, &automerge::ROOT, "people").unwrap(),
            devices: map(&doc, &automerge::ROOT, "devices").unwrap(),
            alex: id_of("Alex"),
            sam: id_of("Sam"),
            alex_entry: full_id(&b, &alex_entry),
            sam_entry: full_id(&b, &sam_entry),
            alex_promise: full_id(&b, &alex_promise),
            sam_promise: full_id(&b, &sam_promise),
            sam_ask: full_id(&b, &sam_ask),
            alex_answer: alex_answer.clone(),
        };
        let (actor, key) = signer_for(f.signing, &sam, &alex_actor);
        doc.set_actor(ActorId::from(actor));
        let heads = doc.get_heads();
        (f.forge)(&mut doc, &w);
        doc.commit_with(CommitOptions::default().with_message("forged"));
        let forged: Vec<ChangeHash> = doc.get_changes(&heads).iter().map(|c| c.hash()).collect();
        assert!(!forged.is_empty(), "{}: nothing forged", f.name);
        // The attack is real: the forged journal says what Alex's must not.
        assert!(
            (f.effect)(&doc, &w),
            "{}: the forgery has no effect",
            f.name
        );
        let sigs: Vec<(ChangeHash, Sig)> = match &key {
            Some(k) => forged
                .iter()
                .map(|h| (*h, k.sign(&journal_id, h)))
                .collect(),
            None => Vec::new(),
        };
        let before = journal_files(&a);
        let response = push(
            &b,
            &addr,
            &mut doc,
            encode_pairs(sigs.iter().map(|(h, s)| (h, s))),
        );
        match response {
            Response::Refused {
                reason: Refusal::BrokeRules { count },
            } => assert_eq!(count as usize, forged.len(), "{}", f.name),
            other => panic!("{}: not refused: {other:?}", f.name),
        }
        refusals_seen += 1;
        let warning = serve.wait_for_nth("warning: ", refusals_seen);
        assert!(
            warning.contains(f.why) && warning.contains("Sam's Sam-laptop"),
            "{}: {warning}",
            f.name
        );
        assert_eq!(
            journal_files(&a),
            before,
            "{}: Alex's journal files changed",
            f.name
        );
        // Alex's journal, as Alex's own `mend` reads it, does not say what the forgery said.
        let (alex_doc, _, _) = sams_document(&a);
        assert!(
            !(f.effect)(&alex_doc, &w),
            "{}: the forgery took effect",
            f.name
        );
    }

    // Alex is told where Alex looks, Alex's journal opens, and the honest laptop still syncs.
    let status = a.ok(&["status"]);
    assert!(
        status.contains("from Sam's Sam-laptop broke the journal's rules"),
        "{status}"
    );
    b.write(&["An honest entry after all that"]);
    let out = b.ok(&["sync", "--peer", &addr]);
    assert!(out.contains("Synced with Alex"), "{out}");
    assert!(a.ok(&["list"]).contains("An honest entry after all that"));

    // A valid change made before a forgery (so not depending on it) still arrives.
    let (mut doc, sam, journal_id) = sams_document(&b);
    doc.set_actor(ActorId::from(sam.actor().to_vec()));
    let entries = map(&doc, &automerge::ROOT, "entries").unwrap();
    let heads = doc.get_heads();
    let honest = doc.put_object(&entries, "honest1", ObjType::Map).unwrap();
    doc.put(&honest, "author", b_person(&b).as_str()).unwrap();
    doc.put(&honest, "created_at", ts()).unwrap();
    doc.put(&honest, "text", "Honest words before a forgery")
        .unwrap();
    doc.commit_with(CommitOptions::default().with_message("write"));
    let alex_obj = map(&doc, &entries, &full_id(&b, &alex_entry)).unwrap();
    doc.put(&alex_obj, "text", "forged after").unwrap();
    doc.commit_with(CommitOptions::default().with_message("edit"));
    let sigs: Vec<(ChangeHash, Sig)> = doc
        .get_changes(&heads)
        .iter()
        .map(|c| (c.hash(), sam.sign(&journal_id, &c.hash())))
        .collect();
    push_refused(&b, &addr, &mut doc, &sigs, 1);
    let listed = a.ok(&["list"]);
    assert!(listed.contains("Honest words before a forgery"), "{listed}");
    assert!(!listed.contains("forged after"), "{listed}");
    serve.terminate();
}

/// The person id of a device's home.
fn b_person(d: &Device) -> String {
    let home = Home::new(d.home());
    let (_, secrets) = home
        .unlock(&mend_crypto::Passphrase::from(d.pass.clone()))
        .unwrap();
    secrets.person_id.clone()
}

/// Sam's phone is removed. A modified program on Sam's laptop (still paired) then sends a
/// change made under the phone's actor id and signed with the phone's key, which it holds (it
/// is Sam's phone): the signature is good, the device is no longer in the journal. Refused.
/// The phone itself is refused at the door.
#[test]
fn a_change_signed_by_a_removed_device_is_refused() {
    let a = Device::new("Alex");
    let b = Device::uninitialised();
    pair(&a, &b, "Sam");
    let phone = Device::uninitialised();
    crate::util::pair_own_device(&b, &phone, "Sam", "sam-phone");
    b.ok(&["devices", "remove", "sam-phone", "--yes"]);
    let mut serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    b.ok(&["sync", "--peer", &addr]);
    assert!(a.ok(&["devices"]).contains("REMOVED"));

    let (mut doc, _, journal_id) = sams_document(&b);
    let (_, phone_key, _) = sams_document(&phone);
    doc.set_actor(ActorId::from(phone_key.actor().to_vec()));
    let entries = map(&doc, &automerge::ROOT, "entries").unwrap();
    let heads = doc.get_heads();
    let e = doc
        .put_object(&entries, "fromremoved1", ObjType::Map)
        .unwrap();
    doc.put(&e, "author", b_person(&b).as_str()).unwrap();
    doc.put(&e, "created_at", ts()).unwrap();
    doc.put(&e, "text", "written with a removed key").unwrap();
    doc.commit_with(CommitOptions::default().with_message("write"));
    let forged: Vec<ChangeHash> = doc.get_changes(&heads).iter().map(|c| c.hash()).collect();
    let sigs: Vec<(ChangeHash, Sig)> = forged
        .iter()
        .map(|h| (*h, phone_key.sign(&journal_id, h)))
        .collect();
    // The attack is real: a good signature by a key the journal registered, and the entry.
    assert!(mend_journal::verify(
        &phone_key.public_key(),
        &journal_id,
        &sigs[0].0,
        &sigs[0].1
    ));
    assert!(has_entry(&doc, "fromremoved1"));
    let before = journal_files(&a);
    push_refused(&b, &addr, &mut doc, &sigs, 1);
    let warning = serve.wait_for("warning: ");
    assert!(
        warning.contains("after that device was removed") && warning.contains("sam-phone"),
        "{warning}"
    );
    assert_eq!(journal_files(&a), before);
    let (alex_doc, _, _) = sams_document(&a);
    assert!(!has_entry(&alex_doc, "fromremoved1"));

    // The phone itself, with its own identity, is refused at the door: its connection is
    // closed when the handshake names it (serve keeps connections with paired devices only).
    let (_, phone_secrets) = mend_store::Home::new(phone.home())
        .unlock(&mend_crypto::Passphrase::from(phone.pass.clone()))
        .unwrap();
    let outcome =
        crate::sync::try_on_network(phone_secrets.identity_seed, &addr, async |net, peer| {
            let request = Request::Sync {
                journal_id,
                session: 7,
                message: Vec::new(),
                signatures: Vec::new(),
            };
            net.request(peer, mend_net::Protocol::Sync, request).await
        });
    assert!(!matches!(outcome, Some(Ok(_))), "{outcome:?}");
    serve.wait_for("refused a connection from an unknown device");
    assert_eq!(journal_files(&a), before);
    serve.terminate();
}

/// The peak memory of a process (VmHWM, in bytes).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kb * 1024
}

/// A decompression bomb from a modified program on a paired laptop: a sync message whose one
/// change is a compressed chunk of about a megabyte that inflates to 1 GiB (Automerge inflates
/// compressed changes with no bound). Alex's serve refuses it before inflating past its budget:
/// its peak memory stays under 300 MB, nothing is written, the journal opens, and Sam's
/// honest laptop syncs right after.
#[test]
fn a_decompression_bomb_from_a_paired_device_is_refused_without_inflating_it() {
    let (a, b, serve, addr) = crate::util::alex_serving_paired_with_sam();
    a.write(&["before the bomb"]);
    b.ok(&["sync", "--peer", &addr]);
    let before = journal_files(&a);

    // 1 GiB of zeros, deflated at the highest level (made once with zlib: compressing it
    // here would take a minute): about a megabyte on the wire.
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/zeros-1gib.deflate"
    ))
    .unwrap();
    assert!(body.len() < 2 << 20, "{}", body.len());
    let mut bomb = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    leb128::write::unsigned(&mut bomb, body.len() as u64).unwrap();
    bomb.extend_from_slice(&body);

    let (mut doc, _, _) = sams_document(&b);
    let outcome = as_device(&b, &addr, async |net, peer, journal_id| {
        let mut state = automerge::sync::State::new();
        let mut message = doc.sync().generate_sync_message(&mut state).unwrap();
        message.changes = automerge::sync::ChunkList::from(vec![bomb]);
        let request = Request::Sync {
            journal_id,
            session: 99,
            message: message.encode(),
            signatures: Vec::new(),
        };
        net.request(peer, mend_net::Protocol::Sync, request).await
    });
    assert!(
        !matches!(outcome, Ok(Response::Sync { gained, .. }) if gained > 0),
        "{outcome:?}"
    );
    let peak = peak_rss(serve.pid());
    assert!(peak < 300 << 20, "serve's peak memory: {} MB", peak >> 20);
    assert_eq!(journal_files(&a), before, "nothing was written");
    assert!(a.ok(&["list"]).contains("before the bomb"));
    b.write(&["after the bomb"]);
    assert!(b
        .ok(&["sync", "--peer", &addr])
        .contains("Synced with Alex"));
    assert!(a.ok(&["list"]).contains("after the bomb"));
    serve.terminate();
}

/// A modified program on Sam's laptop pushes without end: in one session it sends the same
/// 30 MiB of Sam's own (well-formed, signed) entries ten times, 300 MiB. Alex's serve takes
/// what a device may send in one sync (128 MiB), then refuses the rest (`TooMuch`) and says
/// so, its memory staying under 300 MB; what arrived before is kept, the journal opens, and
/// Sam's honest laptop syncs right after in a new session.
#[test]
fn a_paired_device_that_pushes_without_end_is_refused_past_its_budget() {
    let (a, b, mut serve, addr) = crate::util::alex_serving_paired_with_sam();
    b.ok(&["sync", "--peer", &addr]);

    let (mut doc, sam, journal_id) = sams_document(&b);
    doc.set_actor(ActorId::from(sam.actor().to_vec()));
    let person = b_person(&b);
    let entries = map(&doc, &automerge::ROOT, "entries").unwrap();
    let heads = doc.get_heads();
    for i in 0..30 {
        // Changes are sent as they are (uncompressed): a plain text weighs its length.
        let text = format!("{i} {}", "x".repeat((1 << 20) - 64));
        let e = doc
            .put_object(&entries, format!("push{i:028}"), ObjType::Map)
            .unwrap();
        doc.put(&e, "author", person.as_str()).unwrap();
        doc.put(&e, "created_at", ts()).unwrap();
        doc.put(&e, "text", text).unwrap();
        doc.commit_with(CommitOptions::default().with_message("write"));
    }
    let changes = doc.get_changes(&heads);
    let sigs: Vec<(ChangeHash, Sig)> = changes
        .iter()
        .map(|c| (c.hash(), sam.sign(&journal_id, &c.hash())))
        .collect();
    let chunks: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    assert!(chunks.iter().map(Vec::len).sum::<usize>() > 29 << 20);
    let before = settled_journal_files(&a);
    let responses = as_device(&b, &addr, async |net, peer, journal_id| {
        let mut state = automerge::sync::State::new();
        let mut message = doc.sync().generate_sync_message(&mut state).unwrap();
        message.changes = automerge::sync::ChunkList::from(chunks);
        let message = message.encode();
        let signatures = encode_pairs(sigs.iter().map(|(h, s)| (h, s)));
        let mut responses = Vec::new();
        for _ in 0..10 {
            let request = Request::Sync {
                journal_id,
                session: 4242,
                message: message.clone(),
                signatures: signatures.clone(),
            };
            match net.request(peer, mend_net::Protocol::Sync, request).await {
                Ok(r) => responses.push(r),
                Err(_) => break, // serve may end the session's stream once refused
            }
        }
        responses
    });
    // Four messages (120 MiB) are answered; the fifth would pass 128 MiB, and nothing more is.
    let taken = responses
        .iter()
        .take_while(|r| !matches!(r, Response::Refused { .. }))
        .count();
    assert_eq!(taken, 4, "{} responses", responses.len());
    assert!(responses[taken..].iter().all(|r| matches!(
        r,
        Response::Refused {
            reason: Refusal::TooMuch
        }
    )));
    let peak = peak_rss(serve.pid());
    eprintln!(
        "serve's peak memory after a 300 MiB push: {} MB",
        peak / 1_000_000
    );
    assert!(peak < 300_000_000, "{} MB", peak / 1_000_000);
    let warning = serve.wait_for("warning: refused what Sam's");
    assert!(
        warning.contains("more than 128 MiB in one sync")
            && warning.contains("nothing of this sync was kept"),
        "{warning}"
    );
    // The refused session is taken back whole: the journal's files are as they were before
    // it (the log cut back to where it stood), and the journal opens without its entries.
    assert_eq!(journal_files(&a), before, "the journal's files changed");
    assert_eq!(
        a.list_json(&["-n", "100"])
            .iter()
            .filter(|e| e["id"].as_str().unwrap().starts_with("push"))
            .count(),
        0
    );
    // Sam's honest laptop, in new sessions, is served both ways.
    assert!(b
        .ok(&["sync", "--peer", &addr])
        .contains("Synced with Alex"));
    b.write(&["honest words"]);
    assert!(b
        .ok(&["sync", "--peer", &addr])
        .contains("Synced with Alex"));
    assert!(a.ok(&["list"]).contains("honest words"));
    serve.terminate();
}
