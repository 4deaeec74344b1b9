//! The key-file parser: never panics; whatever parses writes back to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = mend_crypto::KeyFile::parse(data) {
        assert_eq!(file.to_bytes(), data);
    }
});
