//! Queries over entries: filters, id prefixes, search.

use chrono::{DateTime, Utc};

use crate::{Entry, JournalError};

/// Which entries to list.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Author name, case-insensitive.
    pub author: Option<String>,
    /// Tag, normalised (no `@`, lowercase).
    pub tag: Option<String>,
    pub kind: Option<crate::Kind>,
    /// Only private entries.
    pub private_only: bool,
    /// Words that must all appear (case-insensitive).
    pub words: Vec<String>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

impl Filter {
    pub fn matches(&self, e: &Entry) -> bool {
        let folded: Vec<String> = self.words.iter().map(|w| fold(w)).collect();
        self.matches_folded(e, &folded)
    }

    /// [`Filter::matches`] with the words already folded (once per query, not per entry).
    fn matches_folded(&self, e: &Entry, folded: &[String]) -> bool {
        self.since.is_none_or(|s| e.created_at >= s)
            && self.until.is_none_or(|u| e.created_at <= u)
            && self
                .author
                .as_ref()
                .is_none_or(|a| e.author.eq_ignore_ascii_case(a) || e.author_id == *a)
            && self
                .tag
                .as_ref()
                .is_none_or(|t| e.tags.iter().any(|have| same_tag(have, t)))
            && self.kind.as_ref().is_none_or(|k| e.kind == *k)
            && (!self.private_only || e.private)
            && folded.iter().all(|w| contains_folded(&e.text, w))
    }

    /// Keep the matching entries, newest first, at most `limit`.
    pub fn apply(&self, entries: Vec<Entry>) -> Vec<Entry> {
        self.select(&entries).into_iter().cloned().collect()
    }

    /// The matching entries among `entries`, newest first, at most `limit`, by reference: only
    /// the ones kept are ever sorted.
    pub fn select<'a>(&self, entries: impl IntoIterator<Item = &'a Entry>) -> Vec<&'a Entry> {
        let newest_first = |a: &&Entry, b: &&Entry| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.written_at.cmp(&a.written_at))
                .then_with(|| a.id.cmp(&b.id))
        };
        let folded: Vec<String> = self.words.iter().map(|w| fold(w)).collect();
        let mut out: Vec<&Entry> = entries
            .into_iter()
            .filter(|e| self.matches_folded(e, &folded))
            .collect();
        if let Some(n) = self.limit.filter(|n| *n < out.len()) {
            if n > 0 {
                out.select_nth_unstable_by(n - 1, newest_first);
            }
            out.truncate(n);
        }
        out.sort_by(newest_first);
        out
    }
}

/// One character as search compares it: decomposed (NFD) and fully case-folded (Unicode's
/// default caseless matching), so `café` typed composed finds it written decomposed and
/// `strasse` finds `Straße`.
fn folded(c: char) -> impl Iterator<Item = char> {
    use caseless::Caseless;
    use unicode_normalization::UnicodeNormalization;
    std::iter::once(c).nfd().default_case_fold().nfd()
}

/// A word or tag as search compares it (see [`folded`]). ASCII folds to its ASCII lowercase.
pub fn fold(word: &str) -> String {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    word.chars().flat_map(folded).collect()
}

/// Whether two tags are the same tag, whatever case or composition they were written in.
pub fn same_tag(a: &str, b: &str) -> bool {
    a == b || fold(a) == fold(b)
}

/// Whether `word` occurs in `text`, case-insensitively: the same answer as
/// `!search_matches(text, word).is_empty()`, without building the map of offsets. An ASCII
/// character folds to its ASCII lowercase, so for ASCII text and an ASCII folded word a
/// window compared ignoring ASCII case decides it.
pub fn contains_word(text: &str, word: &str) -> bool {
    contains_folded(text, &fold(word))
}

/// [`contains_word`] for a word already folded ([`fold`]).
fn contains_folded(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    if text.is_ascii() && needle.is_ascii() {
        let n = needle.as_bytes();
        let hay = text.as_bytes();
        // Jump to each place the word's first letter (either case) occurs, then compare.
        let first = n[0];
        return memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), hay)
            .any(|i| {
                hay.get(i..i + n.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(n))
            });
    }
    !search_folded(text, needle).is_empty()
}

/// Byte ranges in `text` where `word` occurs, compared as [`fold`] makes them; the ranges
/// point into the text as it is, each covering whole characters.
pub fn search_matches(text: &str, word: &str) -> Vec<std::ops::Range<usize>> {
    search_folded(text, &fold(word))
}

/// [`search_matches`] for a word already folded ([`fold`]).
fn search_folded(text: &str, needle: &str) -> Vec<std::ops::Range<usize>> {
    if needle.is_empty() {
        return Vec::new();
    }
    // All-ASCII text folds byte for byte to its ASCII lowercase, so offsets are the same in
    // both.
    if text.is_ascii() {
        if !needle.is_ascii() {
            return Vec::new();
        }
        let lowered = text.to_ascii_lowercase();
        return lowered
            .match_indices(needle)
            .map(|(i, m)| i..i + m.len())
            .collect();
    }
    // Folded char by char so that byte offsets map back onto the original text.
    let mut lowered = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        for l in folded(c) {
            for _ in 0..l.len_utf8() {
                map.push(i);
            }
            lowered.push(l);
        }
    }
    map.push(text.len());
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut from = 0;
    while let Some(pos) = lowered[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let orig_start = map[start];
        let orig_end = text[map[end - 1]..]
            .chars()
            .next()
            .map_or(text.len(), |c| map[end - 1] + c.len_utf8());
        // Two matches inside one character that folds to several (`s` twice in `ß`) are one
        // highlight.
        if out.last().is_none_or(|last| last.end <= orig_start) {
            out.push(orig_start..orig_end);
        }
        from = end;
    }
    out
}

/// Find the one id that starts with `prefix` (as git does with commit ids).
pub fn resolve_prefix<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    prefix: &str,
) -> Result<String, JournalError> {
    let prefix = prefix.trim().to_lowercase();
    if prefix.is_empty() {
        return Err(JournalError::NotFound(prefix));
    }
    let found: Vec<&str> = ids
        .into_iter()
        .filter(|id| id.starts_with(&prefix))
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(JournalError::NotFound(prefix)),
        many => Err(JournalError::Ambiguous {
            prefix,
            count: many.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_is_case_insensitive_and_maps_offsets() {
        let t = "We talked. TALKING helps. Ünïcode talk";
        let m = search_matches(t, "talk");
        assert_eq!(m.len(), 3);
        for r in &m {
            assert_eq!(t[r.clone()].to_lowercase(), "talk");
        }
        assert_eq!(search_matches("ÜBER über", "über").len(), 2);
        // Full case folding: ß is ss, the highlight still covers the text as written.
        let t = "Die Straße, STRASSE, strasse";
        let m = search_matches(t, "strasse");
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(&t[m[0].clone()], "Straße");
        let m = search_matches(t, "STRAẞE");
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(contains_word("STRASSE", "straße"));
        assert!(contains_word("Straße", "STRASSE"));
        assert_eq!(search_matches("Straße", "s"), vec![0..1, 4..6]);
        // Composed and decomposed are the same word.
        assert_eq!(search_matches("cafe\u{301}", "caf\u{e9}"), vec![0..6]);
        assert!(same_tag("straße", "strasse"));
        assert!(!same_tag("trust", "truth"));
        assert!(search_matches("nothing", "x").is_empty());
    }

    #[test]
    fn prefixes_resolve_like_git() {
        let ids = ["abc123", "abd456", "ffff00"];
        assert_eq!(resolve_prefix(ids, "abc").unwrap(), "abc123");
        assert!(matches!(
            resolve_prefix(ids, "ab"),
            Err(JournalError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            resolve_prefix(ids, "zz"),
            Err(JournalError::NotFound(_))
        ));
    }
}
