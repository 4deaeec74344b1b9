//! The pairing state machines, driven through their public API as the network shell drives them.

use mend_sync::{InviteCode, Inviter, JoinRequest, Joiner, PairError, Request, Response, Welcome};

type Result<T = ()> = std::result::Result<T, PairError>;

fn join() -> JoinRequest {
    JoinRequest {
        person_name: "Sam".into(),
        device_name: "sam-laptop".into(),
        device_key: "ab".repeat(32),
    }
}

fn welcome() -> Welcome {
    Welcome {
        journal_id: [1; 16],
        journal_key: [2; 32],
        person_id: "cd".repeat(16),
        person_name: "Sam".into(),
        inviter_name: "Alex".into(),
        inviter_device_key: "ef".repeat(32),
        inviter_device_name: "alex-laptop".into(),
        legacy_heads: vec![[3; 32], [4; 32]],
    }
}

/// Where the first two steps leave an exchange.
struct Hello {
    joiner: Joiner,
    /// The SPAKE2 message of the joiner's hello.
    spake: Vec<u8>,
    /// The inviter's SPAKE2 message and MAC in reply.
    a: Vec<u8>,
    mac: Vec<u8>,
}

/// The first two steps: a joiner ("joiner-peer", believing it talks to `inviter_peer`) says
/// hello with `code` and `inviter` answers.
fn hello(inviter: &mut Inviter, code: InviteCode, inviter_peer: &[u8]) -> Result<Hello> {
    let (joiner, hello) = Joiner::start(code, b"joiner-peer", inviter_peer);
    let Request::PairHello { spake } = hello else {
        panic!("a joiner starts with a hello, not {hello:?}")
    };
    match inviter.on_hello(b"joiner-peer", &spake)? {
        Response::PairHello { spake: a, mac } => Ok(Hello {
            joiner,
            spake,
            a,
            mac,
        }),
        other => panic!("an inviter answers a hello with its own, not {other:?}"),
    }
}

/// The joiner's key confirmation and sealed join request, given the inviter's hello reply.
fn confirm(joiner: &mut Joiner, a: &[u8], mac: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    match joiner.on_hello_reply(a, mac, &join())? {
        Request::PairConfirm { mac, sealed_join } => Ok((mac, sealed_join)),
        other => panic!("a joiner confirms, not {other:?}"),
    }
}

#[test]
fn the_right_code_hands_over_the_journal_key() -> Result {
    let code = InviteCode::generate()?;
    let mut inviter = Inviter::new(code.clone(), b"inviter-peer");
    let Hello {
        mut joiner, a, mac, ..
    } = hello(&mut inviter, code, b"inviter-peer")?;
    let (mb, sealed_join) = confirm(&mut joiner, &a, &mac)?;
    assert_eq!(
        inviter.on_confirm(b"joiner-peer", &mb, &sealed_join)?,
        join()
    );
    let Response::PairWelcome { sealed } = inviter.welcome(&welcome())? else {
        panic!("no welcome")
    };
    assert_eq!(joiner.on_welcome(&sealed)?, welcome());
    assert_eq!(inviter.verifier(), joiner.verifier());
    assert_eq!(inviter.verifier().map(|v| v.len()), Some(7));
    Ok(())
}

/// Someone who recorded a whole successful exchange replays it to a later invite, even one
/// with the same code: the inviter's fresh SPAKE2 secret makes the old confirmation wrong,
/// so the replay gets no join request through, no welcome, and spends that invite.
#[test]
fn a_replayed_pairing_exchange_gets_nothing() -> Result {
    let code = InviteCode::generate()?;
    let mut first = Inviter::new(code.clone(), b"inviter-peer");
    let Hello {
        mut joiner,
        spake,
        a,
        mac,
    } = hello(&mut first, code.clone(), b"inviter-peer")?;
    let (recorded_mac, recorded_join) = confirm(&mut joiner, &a, &mac)?;
    assert!(first
        .on_confirm(b"joiner-peer", &recorded_mac, &recorded_join)
        .is_ok());
    // The replay, to a new invite with the same code, from the same peer id.
    let mut second = Inviter::new(code, b"inviter-peer");
    assert!(second.on_hello(b"joiner-peer", &spake).is_ok());
    assert!(second
        .on_confirm(b"joiner-peer", &recorded_mac, &recorded_join)
        .is_err());
    assert!(second.welcome(&welcome()).is_err());
    assert!(second.is_spent());
    // And a second hello to the spent invite is refused.
    assert!(second.on_hello(b"joiner-peer", &spake).is_err());
    Ok(())
}

#[test]
fn a_wrong_code_fails_on_both_sides_and_burns_the_invite() -> Result {
    let code = InviteCode::generate()?;
    let wrong = InviteCode::parse("1-abandon-ability-able")?;
    let mut inviter = Inviter::new(code, b"inviter-peer");
    let Hello {
        mut joiner,
        spake,
        a,
        mac,
    } = hello(&mut inviter, wrong, b"inviter-peer")?;
    assert!(matches!(
        joiner.on_hello_reply(&a, &mac, &join()),
        Err(PairError::WrongCode)
    ));
    let Request::PairConfirm { mac, sealed_join } = Joiner::give_up() else {
        panic!("giving up is an empty confirmation")
    };
    assert!(matches!(
        inviter.on_confirm(b"joiner-peer", &mac, &sealed_join),
        Err(PairError::WrongCode)
    ));
    // The invite is spent: even the right code cannot use it now.
    assert!(matches!(
        inviter.on_hello(b"joiner-peer", &spake),
        Err(PairError::InviteSpent)
    ));
    assert!(inviter.welcome(&welcome()).is_err());
    Ok(())
}

#[test]
fn a_session_is_bound_to_both_peer_ids() -> Result {
    let code = InviteCode::generate()?;
    let mut inviter = Inviter::new(code.clone(), b"inviter-peer");
    // The joiner thinks it talks to someone else (a relay): keys differ, confirmation fails.
    let Hello {
        mut joiner, a, mac, ..
    } = hello(&mut inviter, code, b"mallory-peer")?;
    assert!(joiner.on_hello_reply(&a, &mac, &join()).is_err());
    Ok(())
}

#[test]
fn garbage_and_out_of_order_messages_are_refused() -> Result {
    let code = InviteCode::generate()?;
    let mut inviter = Inviter::new(code.clone(), b"i");
    assert!(inviter.on_confirm(b"j", b"x", b"y").is_err());
    assert!(inviter.on_hello(b"j", b"not a spake message").is_err());
    let (joiner, _) = Joiner::start(code, b"j", b"i");
    assert!(joiner.on_welcome(b"garbage").is_err());
    Ok(())
}
