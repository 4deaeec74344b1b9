//! The data-file container (snapshot and log): never panics; records lie within the file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = mend_store::decode_records(data) {
        assert!(d.valid_len <= data.len());
        assert_eq!(d.valid_len + d.torn_bytes, data.len());
        let key = mend_crypto::JournalKey::from_bytes([7; 32]);
        for r in d.records {
            assert!(
                mend_crypto::open_record(&key, &d.header.journal_id, d.header.kind, r).is_err()
            );
        }
    }
});
