//! Who may answer what in the practices.

use chrono::Utc;
use mend_app::answering::{may_answer, PracticeError};
use mend_journal::{Entry, Kind};

fn entry(kind: Kind, author: &str) -> Entry {
    let e: Entry = serde_json::from_value(serde_json::json!({
        "id": "0123456789abcdef0123456789abcdef",
        "author_id": author,
        "author": if author == "me" { "Alex" } else { "Sam" },
        "created_at": "2026-01-01T00:00:00Z",
        "written_at": "2026-01-01T00:00:00Z",
        "text": "t",
        "tags": [],
        "kind": kind.as_str(),
        "private": false,
    }))
    .unwrap();
    e
}

#[test]
fn who_may_answer_what() {
    let mine = entry(Kind::Promise, "me");
    let theirs = entry(Kind::Promise, "them");
    assert!(may_answer(Kind::PromiseKept, &mine, "me").is_ok());
    assert!(may_answer(Kind::PromiseMissed, &mine, "me").is_ok());
    assert!(matches!(
        may_answer(Kind::PromiseKept, &theirs, "me"),
        Err(PracticeError::NotYourPromise { author }) if author == "Sam"
    ));
    assert!(matches!(
        may_answer(Kind::PromiseConfirmed, &mine, "me"),
        Err(PracticeError::ConfirmOwnPromise)
    ));
    assert!(may_answer(Kind::PromiseConfirmed, &theirs, "me").is_ok());
    assert!(matches!(
        may_answer(
            Kind::PromiseConfirmed,
            &entry(mend_journal::Kind::Entry, "them"),
            "me"
        ),
        Err(PracticeError::NotA {
            what: "a promise",
            ..
        })
    ));
    let ask_theirs = entry(Kind::ReassuranceAsk, "them");
    assert!(may_answer(Kind::ReassuranceGive, &ask_theirs, "me").is_ok());
    assert!(matches!(
        may_answer(
            Kind::ReassuranceGive,
            &entry(Kind::ReassuranceAsk, "me"),
            "me"
        ),
        Err(PracticeError::OwnRequest)
    ));
    assert!(matches!(
        may_answer(Kind::Receipt, &entry(mend_journal::Kind::Entry, "me"), "me"),
        Err(PracticeError::OwnEntry)
    ));
    assert!(may_answer(Kind::Receipt, &theirs, "me").is_ok());
    let mut retracted = entry(mend_journal::Kind::Entry, "them");
    retracted.extra.retracted_at = Some(Utc::now());
    assert!(matches!(
        may_answer(Kind::Reply, &retracted, "me"),
        Err(PracticeError::Retracted)
    ));
}
