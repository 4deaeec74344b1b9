//! Tags: `@word` inline in the text, or given explicitly. Stored lowercase without the `@`.

/// Normalise a tag as typed (`@Trust`, `trust`) to its stored form (`trust`).
/// Returns `None` for something that is not a tag.
pub fn normalize_tag(raw: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let t = raw.trim().trim_start_matches('@');
    // Composed (NFC), so that a tag typed decomposed is the same tag.
    let t: String = t.chars().flat_map(char::to_lowercase).nfc().collect();
    let valid = !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    valid.then_some(t)
}

/// `tags`, then those of `more` not among them, in order.
pub fn merge_tags(mut tags: Vec<String>, more: Vec<String>) -> Vec<String> {
    for t in more {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags
}

/// The `@tags` written inside a text, in order of first appearance, without duplicates.
pub fn inline_tags(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let Some(rest) = word.strip_prefix('@') else {
            continue;
        };
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let candidate = rest[..end].trim_end_matches(['-', '_']);
        if let Some(tag) = normalize_tag(candidate) {
            if !out.contains(&tag) {
                out.push(tag);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_tags() {
        assert_eq!(
            inline_tags("@honesty We said it. @Trust, and @trust again; me@mail.com @"),
            vec!["honesty", "trust"]
        );
        assert_eq!(normalize_tag("@Promise"), Some("promise".into()));
        assert_eq!(normalize_tag("two words"), None);
    }
}
