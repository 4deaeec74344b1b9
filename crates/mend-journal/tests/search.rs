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
