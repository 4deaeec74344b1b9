//! Reveal-together: both partners answer the same prompt, and neither can read the other's
//! answer until both have answered. Enforced with keys, not display logic: each answer is sealed
//! under its own random key, which stays in the answering device's private journal (sealed at
//! rest, never synced) until that device sees both answers in the shared journal; then it
//! publishes the key, and after the next sync both can read both.

use chrono::Utc;
use mend_crypto::{open_with_key, random_bytes, random_id_hex, seal_with_key, JournalId};
use mend_journal::{together_rounds, Entry, Extra, Kind, NewEntry};
use mend_store::{Doc, Store};
use zeroize::Zeroizing;

use crate::AppError;

type Result<T> = std::result::Result<T, AppError>;

fn associated_data(journal: JournalId, answer_id: &str) -> Vec<u8> {
    let mut ad = b"mend/together/1".to_vec();
    ad.extend(journal.0);
    ad.extend(answer_id.as_bytes());
    ad
}

fn key_from_hex(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(hex::decode(text.trim()).ok()?);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(bytes.get(..32)?);
    Some(key)
}

/// The keys this device may use: its own (private journal) and those published (shared).
fn keys(all: &[Entry]) -> Vec<(String, Zeroizing<[u8; 32]>)> {
    all.iter()
        .filter(|e| e.kind == Kind::TogetherKey || e.kind == Kind::TogetherReveal)
        .filter_map(|e| Some((e.extra.refers_to.clone()?, key_from_hex(&e.text)?)))
        .collect()
}

/// The answers of `all` as this device reads them (see [`open_answers`]), by their place in
/// `all`: every reveal-together answer, opened where a key allows, else with no text.
pub fn opened_answers<'a>(
    all: impl IntoIterator<Item = &'a Entry> + Clone,
    journal: JournalId,
) -> Vec<(usize, Entry)> {
    let keys: Vec<_> = all
        .clone()
        .into_iter()
        .filter(|e| e.kind == Kind::TogetherKey || e.kind == Kind::TogetherReveal)
        .filter_map(|e| Some((e.extra.refers_to.clone()?, key_from_hex(&e.text)?)))
        .collect();
    all.into_iter()
        .enumerate()
        .filter(|(_, e)| e.kind == Kind::TogetherAnswer)
        .map(|(i, e)| {
            let mut e = e.clone();
            open_one(&mut e, &keys, journal);
            (i, e)
        })
        .collect()
}

fn open_one(e: &mut Entry, keys: &[(String, Zeroizing<[u8; 32]>)], journal: JournalId) {
    e.text.clear();
    let Some(sealed) = e.extra.sealed.as_deref().and_then(|s| hex::decode(s).ok()) else {
        return;
    };
    let Some((_, key)) = keys.iter().find(|(id, _)| *id == e.id) else {
        return;
    };
    if let Ok(plain) = open_with_key(key, &associated_data(journal, &e.id), &sealed) {
        e.text = String::from_utf8_lossy(&plain).into_owned();
        e.extra.sealed = None;
    }
}

/// Open every reveal-together answer this device may read; the others keep their sealed bytes
/// and no text. Key and reveal entries are bookkeeping and leave the list.
pub fn open_answers(all: &mut Vec<Entry>, journal: JournalId) {
    let keys = keys(all);
    all.retain(|e| e.kind != Kind::TogetherKey && e.kind != Kind::TogetherReveal);
    for e in all.iter_mut().filter(|e| e.kind == Kind::TogetherAnswer) {
        open_one(e, &keys, journal);
    }
}

/// Answer `prompt`: seal the answer under a fresh key kept in the private journal. Joins the
/// partner's open round for this prompt, or opens a new one. Returns the answer's id and whether
/// the round is now complete.
/// When person `me` last answered `prompt` (a round of theirs, finished or not), from the
/// shared entries: answering again opens a new round, which a person should mean to do.
pub fn answered_before(
    shared: &[mend_journal::Entry],
    me: &str,
    prompt: &str,
) -> Option<chrono::DateTime<Utc>> {
    shared
        .iter()
        .filter(|e| {
            e.kind == Kind::TogetherAnswer
                && e.author_id == me
                && e.extra.prompt.as_deref() == Some(prompt)
                && e.extra.retracted_at.is_none()
        })
        .map(|e| e.written_at)
        .max()
}

pub fn answer(store: &mut Store, me: &str, prompt: &str, text: &str) -> Result<(String, bool)> {
    let journal = store.journal_id();
    let shared = store.journal(Doc::Shared).entries()?;
    let open_round = together_rounds(&shared)
        .into_iter()
        .find(|r| {
            r.second.is_none()
                && r.first.extra.prompt.as_deref() == Some(prompt)
                && r.first.author_id != me
        })
        .map(|r| r.first.id.clone());
    let key: Zeroizing<[u8; 32]> = Zeroizing::new(random_bytes()?);
    let id = random_id_hex()?;
    let sealed = seal_with_key(&key, &associated_data(journal, &id), text.as_bytes())?;
    let now = Utc::now();
    let base = NewEntry {
        author_id: me.to_owned(),
        created_at: now,
        written_at: now,
        ..Default::default()
    };
    // The key first (private, never synced): a crash after it leaves an unused key, never an
    // answer that nobody can ever open.
    let key_entry = NewEntry {
        id: random_id_hex()?,
        kind: Kind::TogetherKey,
        text: hex::encode(*key),
        extra: Extra {
            refers_to: Some(id.clone()),
            ..Default::default()
        },
        ..base.clone()
    };
    store.commit(Doc::Private, |j| j.add_entry(&key_entry, now))?;
    let answer = NewEntry {
        id: id.clone(),
        kind: Kind::TogetherAnswer,
        extra: Extra {
            refers_to: open_round.clone(),
            prompt: Some(prompt.to_owned()),
            sealed: Some(hex::encode(sealed)),
            ..Default::default()
        },
        ..base
    };
    store.commit(Doc::Shared, |j| j.add_entry(&answer, now))?;
    Ok((id, open_round.is_some()))
}

/// Publish this device's key for every round in which both have answered. Returns how many.
pub fn publish_ready(store: &mut Store, me: &str) -> Result<usize> {
    let entries = store.entries_current()?.0;
    publish_ready_from(store, me, &entries)
}

/// The answer keys of person `me` due to be published (both have answered, and the key is
/// not out yet), as (answer id, key hex), from both documents' entries.
pub fn keys_due(me: &str, entries: &mend_store::Entries) -> Vec<(String, String)> {
    let (shared, private) = (&entries.shared, &entries.private);
    let published: Vec<&str> = shared
        .iter()
        .filter(|e| e.kind == Kind::TogetherReveal)
        .filter_map(|e| e.extra.refers_to.as_deref())
        .collect();
    let mut to_publish = Vec::new();
    for round in together_rounds(shared) {
        let Some(second) = round.second else { continue };
        for mine in [round.first, second]
            .into_iter()
            .filter(|a| a.author_id == me)
        {
            if published.contains(&mine.id.as_str()) {
                continue;
            }
            let key = private.iter().find(|k| {
                k.kind == Kind::TogetherKey && k.extra.refers_to.as_deref() == Some(&mine.id)
            });
            if let Some(key) = key {
                to_publish.push((mine.id.clone(), key.text.clone()));
            }
        }
    }
    to_publish
}

/// [`publish_ready`] given both documents' entries as the store holds them.
pub fn publish_ready_from(
    store: &mut Store,
    me: &str,
    entries: &mend_store::Entries,
) -> Result<usize> {
    if store
        .journal(Doc::Shared)
        .removal_of_this_device()?
        .is_some()
    {
        return Ok(0); // a removed device writes nothing shared
    }
    let to_publish = keys_due(me, entries);
    let now = Utc::now();
    for (answer_id, key_hex) in &to_publish {
        let reveal = NewEntry {
            id: random_id_hex()?,
            author_id: me.to_owned(),
            created_at: now,
            written_at: now,
            kind: Kind::TogetherReveal,
            text: key_hex.clone(),
            extra: Extra {
                refers_to: Some(answer_id.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        store.commit(Doc::Shared, |j| j.add_entry(&reveal, now))?;
    }
    Ok(to_publish.len())
}
