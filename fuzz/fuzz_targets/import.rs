//! The jrnl and Mend JSON importers: never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mend_journal::ImportFile::Jrnl(j)) = mend_journal::parse_import(data) {
        for e in &j.entries {
            let _ = e.local_datetime();
            let _ = e.text();
            let _ = e.normalized_tags();
        }
    }
});
