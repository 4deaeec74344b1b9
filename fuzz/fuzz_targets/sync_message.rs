//! The sync core's handling of a peer's message and the signatures beside it: never panics,
//! and nothing the fuzzer sends reaches the document. It cannot sign as the journal's one
//! device, so every change it sends is refused (or fails to read) and the heads stay as they
//! were, whether `respond` answers or errs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mend_journal::{Journal, Person, Signer, SyncState};

/// Alex's new journal, made once; each input starts from a copy.
fn journal() -> Journal {
    static MADE: std::sync::OnceLock<Journal> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let person = Person {
            id: "a".repeat(32),
            name: "Alex".into(),
        };
        let signer = Signer::from_seed(&[1; 32]);
        Journal::create(
            [1; 16],
            &person,
            Some("laptop"),
            &signer,
            false,
            chrono::DateTime::default(),
        )
        .unwrap()
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let mut j = journal();
    let heads = j.heads();
    // The whole input as the message, with no signatures (earlier crash inputs still apply);
    // then its first byte says how many of its last bytes are signatures instead.
    let mut tries = vec![(data, &data[..0])];
    if let Some((&n, rest)) = data.split_first() {
        let cut = rest.len().saturating_sub(usize::from(n));
        tries.push((&rest[..cut], &rest[cut..]));
    }
    for (message, signatures) in tries {
        let mut state = SyncState::new();
        if mend_sync::respond(&mut j, &mut state, message, signatures).is_err() {
            j.rollback();
        }
        assert_eq!(j.heads(), heads);
    }
});
