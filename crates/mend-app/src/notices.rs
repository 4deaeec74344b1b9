//! What the partner sent that asks for attention, as a desktop notification says it: the kind
//! and the partner always, the entry's first words only when the person opted in.

use std::collections::BTreeSet;

use mend_journal::{Entry, Journal, Kind};

/// At most this many notifications for one sync; past it, one more says how many others came.
pub const PER_SYNC: usize = 4;
/// An entry's words in a notification (with `notify = "full"`), at most this many characters.
pub const WORDS_MAX: usize = 80;

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened, naming the partner: "Sam asked for reassurance".
    pub what: String,
    /// The entry's first words, on one line (never for a sealed reveal-together answer).
    pub words: Option<String>,
}

/// What the partner wrote that asks for attention, with the words it would say, or `None`.
fn what(entry: &Entry) -> Option<String> {
    let who = &entry.author;
    Some(match entry.kind {
        Kind::ReassuranceAsk => format!("{who} asked for reassurance"),
        Kind::ReassuranceGive => format!("{who} answered your request for reassurance"),
        Kind::Acknowledgment => format!("{who} wrote an acknowledgment"),
        Kind::Receipt => format!("{who} heard your entry"),
        Kind::Reply => format!("{who} replied to an entry"),
        Kind::PromiseConfirmed => format!("{who} confirmed a promise you kept"),
        Kind::TogetherAnswer => format!("{who} answered a reveal-together prompt"),
        _ => return None,
    })
}

/// An entry's first words on one line: control characters dropped, at most [`WORDS_MAX`].
fn first_words(text: &str) -> Option<String> {
    let line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if line.is_empty() {
        return None;
    }
    if line.chars().count() <= WORDS_MAX {
        return Some(line);
    }
    let cut: String = line.chars().take(WORDS_MAX - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

/// The notifications for entries that arrived: those by someone other than `me` (a person id)
/// that ask for attention, oldest first, at most [`PER_SYNC`] and then one for the rest.
pub fn notices<'a>(arrived: impl IntoIterator<Item = &'a Entry>, me: &str) -> Vec<Notice> {
    let mut wanted: Vec<(&Entry, String)> = arrived
        .into_iter()
        .filter(|e| e.author_id != me && !e.private)
        .filter_map(|e| what(e).map(|w| (e, w)))
        .collect();
    wanted.sort_by_key(|(e, _)| e.written_at);
    let more = wanted.len().saturating_sub(PER_SYNC);
    let mut out: Vec<Notice> = wanted
        .into_iter()
        .take(PER_SYNC)
        .map(|(e, what)| Notice {
            what,
            words: match e.kind {
                Kind::TogetherAnswer => None,
                _ => first_words(&e.text),
            },
        })
        .collect();
    if more > 0 {
        out.push(Notice {
            what: format!(
                "and {more} more {} from your partner",
                if more == 1 { "entry" } else { "entries" }
            ),
            words: None,
        });
    }
    out
}

/// The notifications for the entries with these ids in `journal` (what a sync brought).
pub fn arrived(journal: &Journal, ids: &[String], me: &str) -> Vec<Notice> {
    if ids.is_empty() {
        return Vec::new();
    }
    let ids: BTreeSet<String> = ids.iter().cloned().collect();
    match journal.entries_with_ids(&ids) {
        Ok((entries, _)) => notices(&entries, me),
        Err(e) => {
            tracing::debug!("no notifications: {e}");
            Vec::new()
        }
    }
}
