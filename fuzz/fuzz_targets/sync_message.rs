//! The sync core's handling of a peer's message: never panics; a refused message changes nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mend_journal::{Journal, Person, SyncState};

fuzz_target!(|data: &[u8]| {
    let person = Person {
        id: "a".repeat(32),
        name: "Alex".into(),
    };
    let mut j =
        Journal::create("jid", &person, &[1; 16], false, chrono::DateTime::default()).unwrap();
    let heads = j.heads();
    let mut state = SyncState::new();
    if mend_sync::respond(&mut j, &mut state, data).is_err() {
        j.rollback();
        assert_eq!(j.heads(), heads);
    }
});
