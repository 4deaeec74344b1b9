//! Test vectors: checked-in files with a small text header, run by one test.
//!
//! Each file in `tests/vectors/` holds `key: value` lines. `expect:` is `success` or
//! `fail_<reason>`; `kind:` is `keyfile` (a key file opened with `passphrase:`) or `data` (a data
//! file whose one record is opened with `journal_key:` as a record of `record_kind:` in journal
//! `journal_id:`). `hex:` is the file's bytes. Success vectors also state what must come out.
//!
//! Regenerate (only when a format version changes):
//! `MEND_REGEN_VECTORS=1 cargo test -p mend-store --test vectors -- --ignored`

use std::collections::BTreeMap;
use std::path::PathBuf;

use mend_crypto::{
    open_record, seal_record, DeviceSecrets, JournalId, JournalKey, KdfParams, KeyFile, Passphrase,
    RecordKind,
};
use mend_store::{decode_records, encode_header, DataHeader};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(':'))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn kind_from(name: &str) -> RecordKind {
    match name {
        "shared-snapshot" => RecordKind::SharedSnapshot,
        "shared-log" => RecordKind::SharedLog,
        "private-snapshot" => RecordKind::PrivateSnapshot,
        "private-log" => RecordKind::PrivateLog,
        other => panic!("unknown record kind {other}"),
    }
}

fn check_keyfile(v: &BTreeMap<String, String>, bytes: &[u8]) -> Result<(), String> {
    let file = KeyFile::parse(bytes).map_err(|e| e.to_string())?;
    let secrets = file
        .open(&Passphrase::from(v["passphrase"].clone()))
        .map_err(|e| e.to_string())?;
    assert_eq!(file.journal_id.to_hex(), v["journal_id"]);
    assert_eq!(secrets.person_name, v["person_name"]);
    assert_eq!(hex::encode(secrets.journal_key.expose()), v["journal_key"]);
    Ok(())
}

fn check_data(v: &BTreeMap<String, String>, bytes: &[u8]) -> Result<(), String> {
    let decoded = decode_records(bytes)?;
    let jid = JournalId::from_hex(&v["journal_id"]).unwrap();
    let kind = kind_from(&v["record_kind"]);
    if decoded.header.journal_id != jid || decoded.header.kind != kind {
        return Err("header names another journal or kind".into());
    }
    if decoded.records.len() != 1 {
        return Err(format!("{} records", decoded.records.len()));
    }
    let key = JournalKey::from_bytes(hex::decode(&v["journal_key"]).unwrap().try_into().unwrap());
    let plain = open_record(&key, &jid, kind, decoded.records[0]).map_err(|e| e.to_string())?;
    assert_eq!(hex::encode(plain), v["plaintext"]);
    Ok(())
}

#[test]
fn every_vector_behaves_as_its_header_says() {
    let mut seen = 0;
    let mut failures = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "vec") {
            continue;
        }
        let v = parse(&std::fs::read_to_string(&path).unwrap());
        let bytes = hex::decode(&v["hex"]).unwrap();
        let result = match v["kind"].as_str() {
            "keyfile" => check_keyfile(&v, &bytes),
            "data" => check_data(&v, &bytes),
            other => panic!("{}: unknown kind {other}", path.display()),
        };
        match (v["expect"].as_str(), result) {
            ("success", Ok(())) => {}
            ("success", Err(e)) => panic!("{} should open: {e}", path.display()),
            (fail, Err(_)) if fail.starts_with("fail_") => failures += 1,
            (_, Ok(())) => panic!("{} should have failed", path.display()),
            (other, _) => panic!("{}: unknown expectation {other}", path.display()),
        }
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} vectors");
    assert!(failures >= 5, "only {failures} failing vectors");
}

#[test]
#[ignore = "writes the vectors; run only when a format version changes"]
fn regenerate_vectors() {
    if std::env::var("MEND_REGEN_VECTORS").as_deref() != Ok("1") {
        return;
    }
    let jid = JournalId::from_hex("00112233445566778899aabbccddeeff").unwrap();
    let key = JournalKey::from_bytes([0x42; 32]);
    let pass = "vector passphrase";
    let secrets = DeviceSecrets {
        journal_key: key.clone(),
        identity_seed: [7; 32],
        person_id: "ab".repeat(16),
        person_name: "Alex".into(),
        device_name: "vector-laptop".into(),
    };
    let kf = KeyFile::seal(
        &secrets,
        jid,
        &Passphrase::from(pass),
        KdfParams::INSECURE_TEST,
    )
    .unwrap()
    .to_bytes();
    let write = |name: &str, expect: &str, kind: &str, extra: &[(&str, String)], bytes: &[u8]| {
        let mut s = format!("# {name}\nexpect: {expect}\nkind: {kind}\n");
        for (k, v) in extra {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s.push_str(&format!("hex: {}\n", hex::encode(bytes)));
        std::fs::write(dir().join(format!("{name}.vec")), s).unwrap();
    };
    let kf_fields = |p: &str| {
        vec![
            ("passphrase", p.to_owned()),
            ("journal_id", jid.to_hex()),
            ("person_name", "Alex".to_owned()),
            ("journal_key", hex::encode(key.expose())),
        ]
    };
    write("keyfile_ok", "success", "keyfile", &kf_fields(pass), &kf);
    write(
        "keyfile_wrong_passphrase",
        "fail_wrong_passphrase",
        "keyfile",
        &kf_fields("guess"),
        &kf,
    );
    let mut bad = kf.clone();
    *bad.last_mut().unwrap() ^= 1;
    write(
        "keyfile_bad_tag",
        "fail_bad_tag",
        "keyfile",
        &kf_fields(pass),
        &bad,
    );
    write(
        "keyfile_truncated",
        "fail_truncated",
        "keyfile",
        &kf_fields(pass),
        &kf[..60],
    );
    let mut costly = kf.clone();
    costly[10..14].copy_from_slice(&(4u32 * 1024 * 1024).to_le_bytes());
    write(
        "keyfile_excessive_kdf",
        "fail_excessive_kdf_cost",
        "keyfile",
        &kf_fields(pass),
        &costly,
    );

    let plaintext = b"an automerge change would be here".to_vec();
    let sealed = seal_record(&key, &jid, RecordKind::SharedLog, &plaintext).unwrap();
    let mut data = encode_header(&DataHeader {
        kind: RecordKind::SharedLog,
        journal_id: jid,
        follows: None,
    })
    .to_vec();
    data.extend((sealed.len() as u32).to_le_bytes());
    data.extend(&sealed);
    let data_fields = |jid: &str, kind: &str| {
        vec![
            ("journal_id", jid.to_owned()),
            ("record_kind", kind.to_owned()),
            ("journal_key", hex::encode(key.expose())),
            ("plaintext", hex::encode(&plaintext)),
        ]
    };
    let ok = data_fields(&jid.to_hex(), "shared-log");
    write("data_ok", "success", "data", &ok, &data);
    let mut bad = data.clone();
    *bad.last_mut().unwrap() ^= 1;
    write("data_bad_tag", "fail_bad_tag", "data", &ok, &bad);
    let other = data_fields("ffeeddccbbaa99887766554433221100", "shared-log");
    write(
        "data_wrong_journal",
        "fail_wrong_journal_id",
        "data",
        &other,
        &data,
    );
    let mut moved = data.clone();
    moved[9] = RecordKind::PrivateLog as u8;
    let private = data_fields(&jid.to_hex(), "private-log");
    write(
        "data_wrong_kind",
        "fail_record_moved_between_kinds",
        "data",
        &private,
        &moved,
    );
    write(
        "data_truncated",
        "fail_truncated",
        "data",
        &ok,
        &data[..data.len() - 5],
    );
}
