//! Who a joining device becomes. The inviter decides, never the joiner: the partner's first
//! device (a new person, named by the joiner) while the journal has one person, otherwise one
//! of the inviter's own devices. The journal's rules check the same again on every device that
//! receives the registration (`mend_journal::rules`).

use chrono::{DateTime, Utc};
use mend_crypto::random_id_hex;
use mend_journal::Person;
use mend_store::{Doc, Store};

use crate::AppError;

/// Whose device an invite admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteFor {
    /// The partner's first device: the partner joins the journal.
    Partner,
    /// Another device of the inviter's own.
    Me,
}

/// Why a joining device was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// A partner invite while the journal already holds two people.
    #[error("this journal already belongs to two people")]
    ThirdPerson,
    /// The joining device sent a name that is no name (empty, too long, control characters).
    #[error("the joining device sent a name that cannot be shown ({0:?}…)")]
    BadName(String),
    /// The joining device's key is already one of the journal's devices.
    #[error("the joining device ({0}) is already one of this journal's devices")]
    AlreadyPaired(String),
    /// Reading or writing the journal failed.
    #[error(transparent)]
    App(Box<AppError>),
}

impl From<AppError> for AdmitError {
    fn from(e: AppError) -> Self {
        AdmitError::App(Box::new(e))
    }
}

impl From<mend_journal::JournalError> for AdmitError {
    fn from(e: mend_journal::JournalError) -> Self {
        AdmitError::App(Box::new(e.into()))
    }
}

impl From<mend_store::StoreError> for AdmitError {
    fn from(e: mend_store::StoreError) -> Self {
        AdmitError::App(Box::new(e.into()))
    }
}

impl From<mend_crypto::CryptoError> for AdmitError {
    fn from(e: mend_crypto::CryptoError) -> Self {
        AdmitError::App(Box::new(e.into()))
    }
}

/// Whose device an invite admits: what was asked, else the partner while the journal has one
/// person and one's own device after. A partner invite once two people have joined is refused.
///
/// `partner_lost`: the partner has lost every device (all removed, not by an uncoupling), so
/// an explicit partner invite admits the partner's next device.
pub fn invite_for(
    people: usize,
    asked: Option<InviteFor>,
    partner_lost: bool,
) -> Result<InviteFor, AdmitError> {
    match (asked, people) {
        (Some(InviteFor::Partner), n) if n >= 2 && !partner_lost => Err(AdmitError::ThirdPerson),
        (Some(f), _) => Ok(f),
        (None, n) if n >= 2 => Ok(InviteFor::Me),
        (None, _) => Ok(InviteFor::Partner),
    }
}

/// The device that asks to join, as it introduced itself.
#[derive(Debug, Clone)]
pub struct Joining<'a> {
    /// Its Ed25519 public key, hex.
    pub device_key: &'a str,
    pub device_name: &'a str,
    /// The name it gave for its person (used only for a partner's first device).
    pub person_name: &'a str,
}

/// Refuse names from a joining device that are not names: they are shown on terminals.
pub fn check_names(joining: &Joining<'_>) -> Result<(), AdmitError> {
    for name in [joining.person_name.trim(), joining.device_name] {
        if !mend_journal::valid_name(name) {
            return Err(AdmitError::BadName(
                name.chars().filter(|c| !c.is_control()).take(16).collect(),
            ));
        }
    }
    Ok(())
}

/// The partner of `me`, if every device of theirs was removed and none by an uncoupling: they
/// lost their only laptop, and join again from a new one.
pub fn lost_partner(
    journal: &mend_journal::Journal,
    me: &str,
) -> Result<Option<Person>, AdmitError> {
    let devices = journal.devices()?;
    Ok(journal.people()?.into_iter().find(|p| {
        let mut theirs = devices.iter().filter(|d| d.person_id == p.id).peekable();
        p.id != me
            && theirs.peek().is_some()
            && theirs.all(|d| d.removed.as_ref().is_some_and(|r| !r.uncoupled))
    }))
}

/// Record the joining device in the shared journal for the person `for_whom` says: one signed
/// change. Returns the person it now belongs to.
pub fn admit(
    store: &mut Store,
    joining: &Joining<'_>,
    inviter: &Person,
    for_whom: InviteFor,
    now: DateTime<Utc>,
) -> Result<Person, AdmitError> {
    check_names(joining)?;
    let journal = store.journal(Doc::Shared);
    if let Some(d) = journal
        .devices()?
        .into_iter()
        .find(|d| d.key == joining.device_key)
    {
        return Err(AdmitError::AlreadyPaired(format!(
            "{}'s {}",
            d.person, d.name
        )));
    }
    let people = journal.people()?;
    let person = match for_whom {
        InviteFor::Me => inviter.clone(),
        InviteFor::Partner if people.len() < 2 => Person {
            id: random_id_hex()?,
            name: joining.person_name.trim().to_owned(),
        },
        InviteFor::Partner => lost_partner(journal, &inviter.id)?.ok_or(AdmitError::ThirdPerson)?,
    };
    store.commit(Doc::Shared, |j| {
        j.add_device(
            joining.device_key,
            &person,
            joining.device_name,
            &inviter.id,
            now,
        )
    })?;
    Ok(person)
}
