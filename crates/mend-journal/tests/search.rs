//! The fast "does this word occur" used to filter a search gives the same answer as the
//! matcher that finds where (used to highlight), on ASCII and non-ASCII text alike.

use mend_journal::{contains_word, search_matches};

#[test]
fn the_quick_test_agrees_with_the_matcher() {
    let texts = [
        "We talked after dinner about TRUST.",
        "trust",
        "",
        "Ünïcödé text with Straße and ΣΊΣΥΦΟΣ",
        "a Kelvin sign: \u{212A} and a plain k",
        "İstanbul, ıi",
        "mixed ASCII and é accents, Trusting",
        "ends with tru",
    ];
    let words = [
        "trust",
        "TRUST",
        "Trust",
        "é",
        "É",
        "straße",
        "STRASSE",
        "σίσυφος",
        "k",
        "\u{212A}",
        "i̇",
        "istanbul",
        "",
        "tru",
        "st ",
        "dinner about",
        "x",
    ];
    for t in texts {
        for w in words {
            assert_eq!(
                contains_word(t, w),
                !search_matches(t, w).is_empty(),
                "text {t:?}, word {w:?}"
            );
        }
    }
    assert!(contains_word("We talked about TRUST", "trust"));
    assert!(!contains_word("We talked", "trust"));
}

/// The places a word is found, in all-ASCII text and in text with other characters before it.
#[test]
fn matches_are_found_at_the_right_offsets() {
    let ascii = "Trust trust TRUSTtrust";
    assert_eq!(
        search_matches(ascii, "trust"),
        vec![0..5, 6..11, 12..17, 17..22]
    );
    // The same words after "é" (two bytes) are found two bytes further on.
    let other = format!("é{ascii}");
    assert_eq!(
        search_matches(&other, "TRUST"),
        vec![2..7, 8..13, 14..19, 19..24]
    );
    assert!(search_matches(ascii, "trusts").is_empty());
}

#[test]
fn text_and_tags_match_however_an_accent_was_typed() {
    use mend_journal::{contains_word, normalize_tag, search_matches};
    let composed = "Un café, enfin"; // é as one character (NFC)
    let decomposed = "Un cafe\u{301}, enfin"; // e + combining acute (NFD)
    for text in [composed, decomposed] {
        for query in ["café", "cafe\u{301}", "CAFÉ"] {
            assert!(contains_word(text, query), "{text:?} / {query:?}");
            // The highlight covers the word as written in the text.
            let hits = search_matches(text, query);
            assert_eq!(hits.len(), 1, "{text:?} / {query:?}");
            assert_eq!(&text[hits[0].clone()], &text[3..text.find(',').unwrap()]);
        }
    }
    assert!(!contains_word(decomposed, "cafes"));
    assert_eq!(normalize_tag("@café"), normalize_tag("@cafe\u{301}"));
    assert_eq!(normalize_tag("cafe\u{301}").as_deref(), Some("café"));
}
