//! Pairing messages from a stranger: never panic; garbage never yields a join request.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mend_sync::{InviteCode, Inviter, Joiner};

fuzz_target!(|data: &[u8]| {
    let code = InviteCode::parse("7-abandon-ability-able").unwrap();
    let mut inviter = Inviter::new(code.clone(), b"inviter");
    let _ = inviter.on_hello(b"joiner", data);
    let half = data.len() / 2;
    assert!(inviter
        .on_confirm(b"joiner", &data[..half], &data[half..])
        .is_err());
    let (joiner, _) = Joiner::start(code, b"joiner", b"inviter");
    assert!(joiner.on_welcome(data).is_err());
});
