//! The formats that carry signatures, and what is kept beside the journal: signature pairs, a
//! shared snapshot's body (document, signatures, trusted heads) and a document tip. Whatever
//! the bytes, nothing panics; signature pairs that decode encode back to the same bytes; a tip
//! only ever yields a change that follows from it.
#![no_main]
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mend_journal::{
    decode_pairs, encode_pairs, Journal, Kind, NewEntry, SavedShared, Signer, Tip,
    SIGNED_PAIR_LEN,
};

const JID: [u8; 16] = [5; 16];

fn alex() -> &'static Signer {
    static ALEX: OnceLock<Signer> = OnceLock::new();
    ALEX.get_or_init(|| Signer::from_seed(&[1; 32]))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = decode_pairs(data) {
        assert_eq!(data.len() % SIGNED_PAIR_LEN, 0);
        // Hashes given twice keep one signature; a pair list without repeats round-trips.
        if pairs.len() * SIGNED_PAIR_LEN == data.len() {
            let mut again = decode_pairs(&encode_pairs(pairs.iter())).unwrap();
            again.retain(|h, s| pairs.get(h) == Some(s));
            assert_eq!(again.len(), pairs.len());
        }
    }
    if let Ok(saved) = SavedShared::decode(data) {
        let _ = Journal::load(
            &saved.doc,
            saved.signatures,
            saved.legacy_heads,
            alex(),
            JID,
            false,
        );
    }
    if let Ok(tip) = postcard::from_bytes::<Tip>(data) {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let e = NewEntry {
            id: "f".repeat(32),
            author_id: "a".repeat(32),
            created_at: at,
            written_at: at,
            text: "words".into(),
            kind: Kind::Entry,
            ..Default::default()
        };
        for private in [false, true] {
            if let Ok(Some(w)) = tip.add_entry(alex(), JID, private, &e, at) {
                assert_eq!(w.entry.id, e.id);
                assert_eq!(w.entry.text, "words");
            }
        }
    }
});
