//! The prompt catalogue (`data/prompts.json`): questions for each practice, and which one to
//! suggest on a given day.

use serde::Deserialize;

use crate::JournalError;

const CATALOGUE: &str = include_str!("../data/prompts.json");

/// The six practices, in the order the daily prompt rotates through them.
pub const PRACTICES: &[&str] = &[
    "acknowledge",
    "communicate",
    "act",
    "intimacy",
    "reassurance",
    "accountability",
];

#[derive(Deserialize)]
struct Catalogue {
    practices: Vec<PracticeData>,
}

#[derive(Deserialize)]
struct PracticeData {
    name: String,
    title: String,
    prompts: Vec<String>,
}

/// One prompt: `communicate-3` and its question.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Prompt {
    pub id: String,
    pub practice: String,
    pub practice_title: String,
    pub question: String,
}

fn catalogue() -> Catalogue {
    serde_json::from_str(CATALOGUE).expect("data/prompts.json is valid (checked by a test)")
}

/// Every prompt, practice by practice (parsed once).
pub fn all_prompts() -> Vec<Prompt> {
    static ALL: std::sync::OnceLock<Vec<Prompt>> = std::sync::OnceLock::new();
    ALL.get_or_init(parse_all).clone()
}

fn parse_all() -> Vec<Prompt> {
    catalogue()
        .practices
        .into_iter()
        .flat_map(|p| {
            let (name, title) = (p.name, p.title);
            p.prompts.into_iter().enumerate().map(move |(i, q)| Prompt {
                id: format!("{name}-{}", i + 1),
                practice: name.clone(),
                practice_title: title.clone(),
                question: q,
            })
        })
        .collect()
}

/// A prompt by id (`act-2`).
pub fn prompt(id: &str) -> Result<Prompt, JournalError> {
    all_prompts()
        .into_iter()
        .find(|p| p.id == id.trim().to_lowercase())
        .ok_or_else(|| JournalError::Invalid(format!("there is no prompt {id:?}")))
}

/// The prompt for a day (days since 1970-01-01, local). Practices rotate day by day; within a
/// practice the next question comes up each time, so no prompt repeats within 48 days, and with
/// a practice chosen, within 8.
pub fn prompt_for_day(day: i64, practice: Option<&str>) -> Result<Prompt, JournalError> {
    let prompts = all_prompts();
    let day = day.max(0) as usize;
    let (name, index) = match practice {
        Some(p) => {
            let p = p.trim().to_lowercase();
            if !PRACTICES.contains(&p.as_str()) {
                return Err(JournalError::Invalid(format!(
                    "there is no practice {p:?}; the practices are {}",
                    PRACTICES.join(", ")
                )));
            }
            (p, day)
        }
        None => (
            PRACTICES[day % PRACTICES.len()].to_owned(),
            day / PRACTICES.len(),
        ),
    };
    let of_practice: Vec<Prompt> = prompts.into_iter().filter(|p| p.practice == name).collect();
    Ok(of_practice[index % of_practice.len()].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_at_least_eight_prompts_for_each_practice() {
        let all = all_prompts();
        for p in PRACTICES {
            assert!(all.iter().filter(|x| x.practice == *p).count() >= 8, "{p}");
        }
        let mut ids: Vec<_> = all.iter().map(|p| &p.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
    }

    #[test]
    fn no_prompt_repeats_within_a_week() {
        for start in 0..100 {
            let week: Vec<_> = (start..start + 7)
                .map(|d| prompt_for_day(d, None).unwrap().id)
                .collect();
            let mut unique = week.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 7, "{week:?}");
            let practices: Vec<_> = (start..start + 6)
                .map(|d| prompt_for_day(d, None).unwrap().practice)
                .collect();
            let mut u = practices.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 6, "practices rotate");
            let chosen: Vec<_> = (start..start + 7)
                .map(|d| prompt_for_day(d, Some("act")).unwrap().id)
                .collect();
            let mut u = chosen.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 7);
        }
        assert!(prompt_for_day(0, Some("nonsense")).is_err());
        assert_eq!(prompt("act-2").unwrap().practice, "act");
        assert!(prompt("act-99").is_err());
    }
}
