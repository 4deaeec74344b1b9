//! Dates as people type them, as jrnl reads them: "yesterday", "2026-11-20", "yesterday at
//! 9pm", "noon", "last friday 8am", "2 days ago", or an RFC 3339 instant.
//!
//! A day without a time ("today", "2026-11-28", "last friday") names the whole day in the local
//! time zone: `--since` takes its start, `--until` its end, `--on` all of it. A time that the
//! clocks skip (the hour lost when daylight saving time starts) is moved past the gap, and the
//! command says so.

use anyhow::Result;
use chrono::{
    DateTime, Duration, FixedOffset, Local, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};

use crate::fail::fail;

/// What a date typed on the command line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// The moment (for a day, as the parser reads it: "yesterday" is yesterday at this time,
    /// "2026-11-20" its midnight).
    pub at: DateTime<Utc>,
    /// For a day without a time: its first and last moment.
    pub day: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// What had to be decided to read it (a time the clocks skip), to tell the person.
    pub note: Option<String>,
}

impl When {
    /// The earliest moment it names (`--since`).
    pub fn start(&self) -> DateTime<Utc> {
        self.day.map_or(self.at, |(start, _)| start)
    }

    /// The latest moment it names (`--until`).
    pub fn end(&self) -> DateTime<Utc> {
        self.day.map_or(self.at, |(_, end)| end)
    }

    /// The whole local day it falls on (`--on`).
    pub fn whole_day(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        self.day.unwrap_or_else(|| {
            let date = self.at.with_timezone(&Local).date_naive();
            day_span(date, &Local).0
        })
    }
}

/// Parse a date relative to `now` (local time): the moment it names.
pub fn parse_when(text: &str, now: DateTime<Local>) -> Result<DateTime<Utc>> {
    Ok(parse_local(text, now)?.at)
}

/// Parse a date relative to `now` in the local time zone, saying on stderr what had to be
/// decided to read it.
pub fn parse_local(text: &str, now: DateTime<Local>) -> Result<When> {
    let when = parse(text, now, &Local)?;
    if let Some(note) = &when.note {
        eprintln!("note: {note}");
    }
    Ok(when)
}

/// Parse a date relative to `now`, in the time zone `tz` (the local one, but for tests).
pub fn parse<Tz: TimeZone>(text: &str, now: DateTime<Tz>, tz: &Tz) -> Result<When> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        let at = t.with_timezone(&Utc);
        return Ok(When {
            at,
            day: None,
            note: None,
        });
    }
    let phrase = normalise(trimmed);
    let now_fixed = now.fixed_offset();
    let naive = naive_of(&phrase, now_fixed).ok_or_else(|| {
        fail(
            format!("cannot understand the date {text:?}"),
            "try \"yesterday 21:00\", \"yesterday at 9pm\", \"2026-11-20\", \"3 days ago\" or \
             \"last friday 8am\"",
        )
    })?;
    let (at, note) = resolve(naive, tz);
    if names_a_day(&phrase, now_fixed, naive) {
        let ((start, end), day_note) = day_span(naive.date(), tz);
        return Ok(When {
            at,
            day: Some((start, end)),
            note: day_note.or(note).map(|n| format!("{text:?}: {n}")),
        });
    }
    Ok(When {
        at,
        day: None,
        note: note.map(|n| format!("{text:?}: {n}")),
    })
}

/// The phrase as the parser reads it: lower case, "at" dropped ("yesterday at 9pm"), "noon"
/// and "midnight" as times.
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .split_whitespace()
        .filter(|w| *w != "at")
        .map(|w| match w {
            "noon" | "midday" => "12:00",
            "midnight" => "00:00",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The local date and time `phrase` names, read in a fixed offset (so no time is skipped).
fn naive_of(phrase: &str, now: DateTime<FixedOffset>) -> Option<NaiveDateTime> {
    interim::parse_date_string(phrase, now, interim::Dialect::Us)
        .ok()
        .map(|t| t.naive_local())
}

/// Whether `phrase` names a day and no time of it ("today", "2026-11-28", "last friday",
/// "2 days ago"): no time is typed, and read at two other times of the same day it names the
/// same date.
fn names_a_day(phrase: &str, now: DateTime<FixedOffset>, naive: NaiveDateTime) -> bool {
    if has_time_words(phrase) {
        return false;
    }
    let date = now.date_naive();
    [(0, 17, 29), (23, 43, 11)].iter().all(|&(h, m, s)| {
        let other = date
            .and_hms_opt(h, m, s)
            .and_then(|t| now.timezone().from_local_datetime(&t).single());
        other
            .and_then(|o| naive_of(phrase, o))
            .is_some_and(|n| n.date() == naive.date())
    })
}

/// Whether the person typed a time (which may well be midnight).
fn has_time_words(phrase: &str) -> bool {
    phrase.contains(':')
        || phrase.split_whitespace().any(|w| {
            w.ends_with("am")
                || w.ends_with("pm")
                || matches!(
                    w,
                    "hour" | "hours" | "minute" | "minutes" | "min" | "mins" | "now"
                )
        })
}

/// The first and last moment of local day `date` in `tz`, and a note if its start had to be
/// moved (a day that starts in a skipped hour).
fn day_span<Tz: TimeZone>(
    date: NaiveDate,
    tz: &Tz,
) -> ((DateTime<Utc>, DateTime<Utc>), Option<String>) {
    let (start, note) = resolve(date.and_time(NaiveTime::MIN), tz);
    let next = date.succ_opt().unwrap_or(date);
    let (next_start, _) = resolve(next.and_time(NaiveTime::MIN), tz);
    let end = if next_start > start {
        next_start - Duration::nanoseconds(1)
    } else {
        start
    };
    ((start, end), note)
}

/// `naive` in `tz`: the earlier of two readings where the clocks go back; past the gap where
/// they go forward, with a note saying so.
fn resolve<Tz: TimeZone>(naive: NaiveDateTime, tz: &Tz) -> (DateTime<Utc>, Option<String>) {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), None),
        LocalResult::Ambiguous(early, _) => (
            early.with_timezone(&Utc),
            Some(format!(
                "{} happens twice that day (the clocks go back); taking the first",
                naive.format("%H:%M")
            )),
        ),
        LocalResult::None => {
            // The gap is at most a few hours: the first minute after it.
            let mut later = naive;
            for _ in 0..(4 * 60) {
                later += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&later).earliest() {
                    return (
                        t.with_timezone(&Utc),
                        Some(format!(
                            "{} does not exist that day (the clocks go forward); using {}",
                            naive.format("%H:%M"),
                            later.format("%H:%M")
                        )),
                    );
                }
            }
            (Utc.from_utc_datetime(&naive), None)
        }
    }
}

/// How far ahead of now a date may be without `--future`: clocks differ a little.
pub const FUTURE_SLACK: Duration = Duration::minutes(5);

/// Refuse `at` if it is in the future (unless `future`): an entry dated ahead would sit at the
/// top of every list until then.
pub fn check_not_future(at: DateTime<Utc>, now: DateTime<Utc>, future: bool) -> Result<()> {
    if !future && at > now + FUTURE_SLACK {
        return Err(fail(
            format!(
                "{} is in the future",
                at.with_timezone(&Local).format("%Y-%m-%d %H:%M")
            ),
            "give a date up to now, or pass --future if you mean it",
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: &Local, s: &str) -> DateTime<Local> {
        tz.from_local_datetime(&NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
            .unwrap()
    }

    fn local(t: DateTime<Utc>) -> String {
        t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
    }

    #[test]
    fn understands_what_jrnl_users_type() {
        let now = at(&Local, "2026-11-25 12:00");
        for (typed, expected) in [
            ("yesterday 21:00", "2026-11-24 21:00"),
            ("yesterday at 9pm", "2026-11-24 21:00"),
            ("2026-11-20 08:00", "2026-11-20 08:00"),
            ("noon", "2026-11-25 12:00"),
            ("yesterday at noon", "2026-11-24 12:00"),
            ("last friday 8am", "2026-11-20 08:00"),
            ("yesterday midnight", "2026-11-24 00:00"),
        ] {
            let w = parse(typed, now, &Local).unwrap();
            assert_eq!((typed, local(w.at)), (typed, expected.to_owned()));
            assert_eq!(w.day, None, "{typed} names a time");
        }
        assert!(parse("2026-11-20T08:00:00Z", now, &Local).is_ok());
        assert!(parse("the day after never", now, &Local).is_err());
        let ago = parse("3 hours ago", now, &Local).unwrap();
        assert_eq!(
            (local(ago.at), ago.day),
            ("2026-11-25 09:00".to_owned(), None)
        );
    }

    #[test]
    fn a_day_without_a_time_is_the_whole_day() {
        let now = at(&Local, "2026-11-25 12:00");
        for (typed, day) in [
            ("today", "2026-11-25"),
            ("yesterday", "2026-11-24"),
            ("2026-11-28", "2026-11-28"),
            ("last friday", "2026-11-20"),
            ("2 days ago", "2026-11-23"),
        ] {
            let w = parse(typed, now, &Local).unwrap();
            let (start, end) = w.day.unwrap_or_else(|| panic!("{typed} names a day"));
            assert_eq!(local(start), format!("{day} 00:00"), "{typed}");
            assert_eq!(local(end), format!("{day} 23:59"), "{typed}");
            assert_eq!(w.start(), start);
            assert_eq!(w.end(), end);
        }
    }

    #[test]
    fn a_time_the_clocks_skip_is_moved_past_the_gap_and_said() {
        // Europe/Berlin: on 2026-03-29 the clocks go from 02:00 to 03:00.
        let tz = chrono_tz_like::Zone;
        let now = tz.with_ymd_and_hms(2026, 3, 30, 12, 0, 0).unwrap();
        let w = parse("2026-03-29 02:30", now, &tz).unwrap();
        assert_eq!(
            w.at,
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),
            "03:00 CEST is 01:00 UTC"
        );
        let note = w.note.expect("said");
        assert!(note.contains("02:30 does not exist"), "{note}");
        assert!(note.contains("03:00"), "{note}");
        // The day itself is 23 hours long.
        let d = parse("2026-03-29", now, &tz).unwrap();
        let (start, end) = d.day.unwrap();
        assert_eq!(end - start, Duration::hours(23) - Duration::nanoseconds(1));
    }

    /// A time zone with Berlin's 2026 spring change, enough for the tests (no tz database).
    mod chrono_tz_like {
        use chrono::{FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone};

        #[derive(Clone, Copy, Debug)]
        pub struct Zone;

        fn switch() -> NaiveDateTime {
            NaiveDate::from_ymd_opt(2026, 3, 29)
                .unwrap()
                .and_hms_opt(1, 0, 0)
                .unwrap() // UTC
        }

        impl TimeZone for Zone {
            type Offset = FixedOffset;
            fn from_offset(_: &FixedOffset) -> Self {
                Zone
            }
            fn offset_from_local_date(&self, _: &NaiveDate) -> LocalResult<FixedOffset> {
                LocalResult::Single(FixedOffset::east_opt(3600).unwrap())
            }
            fn offset_from_local_datetime(
                &self,
                local: &NaiveDateTime,
            ) -> LocalResult<FixedOffset> {
                let winter = FixedOffset::east_opt(3600).unwrap();
                let summer = FixedOffset::east_opt(7200).unwrap();
                let gap_start = switch() + chrono::Duration::hours(1); // 02:00 local
                let gap_end = switch() + chrono::Duration::hours(2); // 03:00 local
                if *local < gap_start {
                    LocalResult::Single(winter)
                } else if *local < gap_end {
                    LocalResult::None
                } else {
                    LocalResult::Single(summer)
                }
            }
            fn offset_from_utc_date(&self, _: &NaiveDate) -> FixedOffset {
                FixedOffset::east_opt(3600).unwrap()
            }
            fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> FixedOffset {
                if *utc < switch() {
                    FixedOffset::east_opt(3600).unwrap()
                } else {
                    FixedOffset::east_opt(7200).unwrap()
                }
            }
        }
    }
}
