//! Admitting a joining device into a real journal on disk (a temporary home).

use chrono::Utc;
use mend_app::pairing::{admit, invite_for, AdmitError, InviteFor, Joining};
use mend_store::Doc;

mod common;

fn key_hex(seed: u8) -> String {
    let key = mend_journal::Signer::from_seed(&[seed; 32]).public_key();
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_joining_device_becomes_whose_the_inviter_says_and_errors_say_what_they_are() {
    let (_dir, mut store, alex) = common::alex_store();
    let sam_laptop = key_hex(2);
    let joining = Joining {
        device_key: &sam_laptop,
        device_name: "sam-laptop",
        person_name: "Sam",
    };
    let sam = admit(&mut store, &joining, &alex, InviteFor::Partner, Utc::now()).unwrap();
    assert_eq!(sam.name, "Sam");
    assert_ne!(sam.id, alex.id);
    // The same device again: said as such, not as a third person.
    match admit(&mut store, &joining, &alex, InviteFor::Me, Utc::now()) {
        Err(AdmitError::AlreadyPaired(who)) => assert_eq!(who, "Sam's sam-laptop"),
        other => panic!("{other:?}"),
    }
    // A name a terminal would act on is no name.
    let hostile = key_hex(5);
    let joining_bad = Joining {
        device_key: &hostile,
        device_name: "laptop\u{1b}[2J",
        person_name: "Sam",
    };
    assert!(matches!(
        admit(&mut store, &joining_bad, &alex, InviteFor::Me, Utc::now()),
        Err(AdmitError::BadName(_))
    ));
    // A partner invite now that two people have joined: a third person, refused.
    let third = key_hex(3);
    let joining = Joining {
        device_key: &third,
        device_name: "mallory-laptop",
        person_name: "Mallory",
    };
    assert!(matches!(
        admit(&mut store, &joining, &alex, InviteFor::Partner, Utc::now()),
        Err(AdmitError::ThirdPerson)
    ));
    // One of Alex's own devices, whatever name it gave.
    let phone = key_hex(4);
    let joining = Joining {
        device_key: &phone,
        device_name: "alex-phone",
        person_name: "Mallory",
    };
    let p = admit(&mut store, &joining, &alex, InviteFor::Me, Utc::now()).unwrap();
    assert_eq!(p, alex);
    let people = store.journal(Doc::Shared).people().unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(store.journal(Doc::Shared).devices().unwrap().len(), 3);
}

#[test]
fn the_inviter_decides_whose_device_joins() {
    assert_eq!(invite_for(1, None, false).unwrap(), InviteFor::Partner);
    assert_eq!(invite_for(2, None, false).unwrap(), InviteFor::Me);
    assert_eq!(
        invite_for(1, Some(InviteFor::Me), false).unwrap(),
        InviteFor::Me
    );
    assert_eq!(
        invite_for(1, Some(InviteFor::Partner), false).unwrap(),
        InviteFor::Partner
    );
    assert!(matches!(
        invite_for(2, Some(InviteFor::Partner), false),
        Err(AdmitError::ThirdPerson)
    ));
    // A partner who lost every device joins again from a new one, on an explicit invite only.
    assert_eq!(
        invite_for(2, Some(InviteFor::Partner), true).unwrap(),
        InviteFor::Partner
    );
    assert_eq!(invite_for(2, None, true).unwrap(), InviteFor::Me);
}
