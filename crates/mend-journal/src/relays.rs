//! Relays the journal remembers: entries of kind `relay` in the shared journal, each holding the
//! address of a libp2p circuit relay through which the partners' laptops reach each other from
//! different networks. Kept in the journal so that both laptops know them after a sync;
//! forgotten by retracting the entry, which only its author may do, as with every entry.
//!
//! This crate knows nothing of libp2p: an address is checked for its shape only
//! ([`valid_relay_addr`]); the network code parses it. The rules (`crate::rules`) hold every
//! relay entry, wherever it comes from, to that shape and to [`RELAY_ENTRIES_PER_PERSON`];
//! [`RELAYS_MAX`] is the application's limit on those remembered at once.

use std::collections::HashSet;

use automerge::{ObjType, ReadDoc};

use crate::{Entry, Journal, JournalError, Kind};

/// The most relays the journal remembers at once (entries of kind `relay` not retracted), as
/// the application keeps it: `mend relay add` refuses a seventeenth. Not a rule of the journal:
/// two partners who each add one while apart may leave more between them, and a relay entry
/// that arrives is held only to [`RELAY_ENTRIES_PER_PERSON`].
pub const RELAYS_MAX: usize = 16;

/// The most relay entries one person may write in the journal's whole life, retracted ones
/// included: a rule (`crate::rules`), counted over the whole journal as this device holds it.
/// It bounds the relay entries of a journal (two people) whatever branches they are written on.
pub const RELAY_ENTRIES_PER_PERSON: usize = 32;

/// The most relay addresses [`relay_addrs`] gives: what the network dials at most.
pub const RELAY_ADDRS_MAX: usize = 24;

/// The longest relay address, in bytes.
pub const RELAY_ADDR_MAX_BYTES: usize = 300;

/// Whether `addr` has the shape of a relay's multiaddr: 1 to 300 bytes of printable ASCII with
/// no whitespace, starting with `/`, holding `/p2p/` followed by a non-empty id
/// (`/ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…`).
pub fn valid_relay_addr(addr: &str) -> bool {
    (1..=RELAY_ADDR_MAX_BYTES).contains(&addr.len())
        && addr.starts_with('/')
        && addr.bytes().all(|b| b.is_ascii_graphic())
        && addr.match_indices("/p2p/").any(|(at, m)| {
            addr[at + m.len()..]
                .split('/')
                .next()
                .is_some_and(|id| !id.is_empty())
        })
}

/// The relays among `entries` that the journal remembers (shared entries of kind `relay`, not
/// retracted), in the order they were added (written, then id). All of them, as listing and
/// removing need: at most twice [`RELAY_ENTRIES_PER_PERSON`] in a journal the rules hold.
pub fn live_relays<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<&'a Entry> {
    let mut out: Vec<&Entry> = entries
        .into_iter()
        .filter(|e| e.kind == Kind::Relay && !e.private && e.extra.retracted_at.is_none())
        .collect();
    out.sort_by(|a, b| (a.written_at, &a.id).cmp(&(b.written_at, &b.id)));
    out
}

/// The addresses of the relays the journal remembers among `entries`, in the order they were
/// added, each once, at most [`RELAY_ADDRS_MAX`] of them (the oldest): what the network code
/// dials. (Both partners may add one while apart, so after a sync there may be more than
/// [`RELAYS_MAX`]; up to [`RELAY_ADDRS_MAX`] are given.)
pub fn relay_addrs<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for e in live_relays(entries) {
        if out.len() == RELAY_ADDRS_MAX {
            break;
        }
        if valid_relay_addr(&e.text) && seen.insert(e.text.as_str()) {
            out.push(e.text.clone());
        }
    }
    out
}

impl Journal {
    /// The relay entries this journal remembers, as [`live_relays`] gives them, read without
    /// reading the other entries. None in the private journal.
    pub fn relays(&self) -> Result<Vec<Entry>, JournalError> {
        if self.private {
            return Ok(Vec::new());
        }
        let Ok(entries) = self.root_map("entries") else {
            return Ok(Vec::new());
        };
        let names = self.people()?;
        let mut found = Vec::new();
        for item in self.doc.map_range(&entries, ..) {
            let automerge::ValueRef::Object(ObjType::Map) = item.value else {
                continue;
            };
            let obj = item.id();
            if self.get_str(&obj, "kind")?.as_deref() == Some(Kind::Relay.as_str()) {
                found.push(self.read_entry(&item.key, &obj, &names)?);
            }
        }
        Ok(live_relays(&found).into_iter().cloned().collect())
    }

    /// The addresses of the relays this journal remembers, as [`relay_addrs`] gives them: what
    /// the network code dials. Empty for the private journal, and when the document cannot be
    /// read.
    pub fn relay_addrs(&self) -> Vec<String> {
        self.relays()
            .map(|found| relay_addrs(&found))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_are_checked_for_their_shape() {
        let id = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        for good in [
            format!("/ip4/203.0.113.5/tcp/4001/p2p/{id}"),
            format!("/dns4/relay.example.org/udp/4001/quic-v1/p2p/{id}"),
            format!("/ip6/2001:db8::1/tcp/4001/p2p/{id}/"),
            "/p2p/x".to_owned(),
        ] {
            assert!(valid_relay_addr(&good), "{good}");
        }
        let long = format!("/ip4/1.2.3.4/tcp/1/p2p/{}", "a".repeat(300));
        for bad in [
            "",
            "ip4/203.0.113.5/tcp/4001/p2p/12D3",
            "/ip4/203.0.113.5/tcp/4001",
            "/ip4/203.0.113.5/tcp/4001/p2p/",
            "/ip4/203.0.113.5/tcp/4001/p2p//x",
            "/ip4/203.0.113.5/tcp/4001/p2p/12D3 x",
            "/ip4/203.0.113.5/tcp/4001/p2p/12D3\u{1b}[2K",
            "/ip4/203.0.113.5/tcp/4001/p2p/12D3é",
            long.as_str(),
        ] {
            assert!(!valid_relay_addr(bad), "{bad:?}");
        }
        let exactly = format!("/p2p/{}", "a".repeat(RELAY_ADDR_MAX_BYTES - 5));
        assert!(valid_relay_addr(&exactly));
        assert!(!valid_relay_addr(&format!("{exactly}a")));
    }
}
