//! Invite codes: a number and three words, such as `7-orbit-lunar-pencil`.
//!
//! The words come from the BIP-39 English list (2,048 words, 11 bits each) and the number runs
//! from 1 to 99: about 39.6 bits in all, of which an attacker gets exactly one online guess.

use std::fmt;

use zeroize::Zeroize;

use crate::PairError;

const WORDS: usize = 3;

/// A one-time pairing code. Zeroized on drop; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, Zeroize)]
#[zeroize(drop)]
pub struct InviteCode(String);

impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteCode([REDACTED])")
    }
}

fn random_u64() -> Result<u64, PairError> {
    mend_crypto::random_bytes::<8>()
        .map(u64::from_le_bytes)
        .map_err(|_| PairError::Random)
}

impl InviteCode {
    pub fn generate() -> Result<Self, PairError> {
        let list = bip39::Language::English.word_list();
        let mut parts = vec![(1 + random_u64()? % 99).to_string()];
        for _ in 0..WORDS {
            parts.push(list[(random_u64()? % 2048) as usize].to_owned());
        }
        Ok(Self(parts.join("-")))
    }

    /// Accept what a person types: any case, spaces or dashes between the parts.
    pub fn parse(typed: &str) -> Result<Self, PairError> {
        let shape = "a code is a number from 1 to 99 and three words, such as 7-orbit-lunar-pencil";
        let bad = |why: String| PairError::BadCode(typed.trim().to_owned(), why);
        let lower = typed.trim().to_lowercase();
        let parts: Vec<&str> = lower
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        let [number, words @ ..] = parts.as_slice() else {
            return Err(bad(shape.into()));
        };
        let n: u32 = number.parse().map_err(|_| bad(shape.into()))?;
        if !(1..=99).contains(&n) || words.len() != WORDS {
            return Err(bad(shape.into()));
        }
        let lang = bip39::Language::English;
        if let Some(w) = words.iter().find(|w| lang.find_word(w).is_none()) {
            return Err(bad(format!(
                "{w:?} is not one of the words invite codes are made of (check its spelling)"
            )));
        }
        Ok(Self(parts.join("-")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse_back() {
        for _ in 0..50 {
            let c = InviteCode::generate().unwrap();
            assert_eq!(InviteCode::parse(c.as_str()).unwrap(), c);
            let spaced = c.as_str().replace('-', " ").to_uppercase();
            assert_eq!(InviteCode::parse(&spaced).unwrap(), c);
        }
    }

    #[test]
    fn refuses_what_is_not_a_code() {
        for bad in [
            "",
            "7",
            "7-amber",
            "0-abandon-ability-able",
            "100-abandon-ability-able",
            "7-abandon-ability-notaword",
            "x-abandon-ability-able",
            "7-abandon-ability-able-about",
        ] {
            assert!(InviteCode::parse(bad).is_err(), "{bad}");
        }
        assert!(InviteCode::parse(" 7 Abandon ability-able ").is_ok());
        let e = InviteCode::parse("7-abandon-ability-notaword").unwrap_err();
        assert!(
            e.to_string()
                .contains("\"notaword\" is not one of the words"),
            "{e}"
        );
        let e = InviteCode::parse("7-amber").unwrap_err();
        assert!(
            e.to_string()
                .contains("a number from 1 to 99 and three words"),
            "{e}"
        );
    }
}
