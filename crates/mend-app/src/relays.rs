//! The relays the journal remembers (`mend relay add|remove|list`): entries of kind `relay` in
//! the shared journal (`mend_journal::relays`), so that both partners' laptops know them after
//! a sync. Adding one writes such an entry; removing one retracts it, which only the person who
//! added it may do. The network code asks for the addresses to dial with [`relay_addrs`] (over
//! entries) or `Journal::relay_addrs` (over the shared journal loaded).

use chrono::{DateTime, Utc};
use mend_crypto::random_id_hex;
use mend_journal::{live_relays, valid_relay_addr, Entry, JournalError, Kind, NewEntry};
use mend_store::{Doc, Store};
use serde::{Deserialize, Serialize};

use crate::AppError;

pub use mend_journal::{relay_addrs, RELAYS_MAX};

/// A relay the journal remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    /// The id of the entry that remembers it.
    pub id: String,
    /// Its multiaddr, as it was given.
    pub addr: String,
    /// The name of the person who added it.
    pub added_by: String,
    /// Their person id.
    pub added_by_id: String,
    pub added_at: DateTime<Utc>,
}

impl Relay {
    fn of(e: &Entry) -> Self {
        Self {
            id: e.id.clone(),
            addr: e.text.clone(),
            added_by: e.author.clone(),
            added_by_id: e.author_id.clone(),
            added_at: e.written_at,
        }
    }
}

/// The relays the journal remembers, from the shared journal's entries (as the read index
/// holds them, say), in the order they were added.
pub fn relays<'a>(shared: impl IntoIterator<Item = &'a Entry>) -> Vec<Relay> {
    live_relays(shared).into_iter().map(Relay::of).collect()
}

/// `addr` with surrounding whitespace taken off, if it has the shape of a relay's address
/// ([`mend_journal::valid_relay_addr`]). Asked before anything is opened.
pub fn check_addr(addr: &str) -> Result<&str, AppError> {
    let addr = addr.trim();
    if !valid_relay_addr(addr) {
        return Err(AppError::BadRelayAddr {
            addr: addr.to_owned(),
        });
    }
    Ok(addr)
}

/// Remember the relay at `addr` as person `me`: one entry of kind `relay` in the shared
/// journal, one change, dated `now`. Refused with nothing written when `addr` is not a relay's
/// address ([`check_addr`]), when the journal remembers it already, and when it remembers
/// [`RELAYS_MAX`] relays.
pub fn add(store: &mut Store, me: &str, addr: &str, now: DateTime<Utc>) -> Result<Relay, AppError> {
    let addr = check_addr(addr)?;
    let known = store.journal(Doc::Shared).relays()?;
    if let Some(r) = known.iter().find(|r| r.text == addr) {
        return Err(AppError::RelayKnown {
            addr: addr.to_owned(),
            by: r.author.clone(),
        });
    }
    if known.len() >= RELAYS_MAX {
        return Err(AppError::TooManyRelays { max: RELAYS_MAX });
    }
    let entry = NewEntry {
        id: random_id_hex()?,
        author_id: me.to_owned(),
        created_at: now,
        written_at: now,
        text: addr.to_owned(),
        kind: Kind::Relay,
        ..Default::default()
    };
    store.commit(Doc::Shared, |j| j.add_entry(&entry, now))?;
    Ok(Relay::of(&store.journal(Doc::Shared).entry(&entry.id)?))
}

/// Forget the relay `which` names (its address exactly, or the start of its entry's id) as
/// person `me`: its entry is retracted, one change. Refused with nothing written when the
/// journal remembers no such relay, and when the partner added it.
pub fn remove(
    store: &mut Store,
    me: &str,
    which: &str,
    now: DateTime<Utc>,
) -> Result<Relay, AppError> {
    let which = which.trim();
    let known = store.journal(Doc::Shared).relays()?;
    let unknown = || AppError::UnknownRelay {
        which: which.to_owned(),
    };
    let found = match known.iter().find(|r| r.text == which) {
        Some(r) => r,
        // An address is never taken for the start of an id.
        None if which.starts_with('/') => return Err(unknown()),
        None => match mend_journal::resolve_prefix(known.iter().map(|r| r.id.as_str()), which) {
            Ok(id) => known.iter().find(|r| r.id == id).ok_or_else(unknown)?,
            Err(JournalError::NotFound(_)) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        },
    };
    if found.author_id != me {
        return Err(AppError::RelayNotYours {
            author: found.author.clone(),
        });
    }
    store.commit(Doc::Shared, |j| j.retract_entry(&found.id, me, now))?;
    Ok(Relay::of(found))
}
