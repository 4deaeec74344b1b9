//! Natural-language dates, as jrnl accepts them ("yesterday 21:00", "last friday").

use anyhow::Result;
use chrono::{DateTime, Local, Utc};

use crate::fail::fail;

/// Parse a date relative to `now` (local time).
pub fn parse_when(text: &str, now: DateTime<Local>) -> Result<DateTime<Utc>> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&Utc));
    }
    interim::parse_date_string(trimmed, now, interim::Dialect::Us)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            fail(
                format!("cannot understand the date {text:?}"),
                "try \"yesterday 21:00\", \"2026-11-20 08:00\", \"3 days ago\" or \"last friday\"",
            )
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn understands_what_jrnl_users_type() {
        let now = Local.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let y = parse_when("yesterday 21:00", now).unwrap();
        assert_eq!(
            y.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string(),
            "2026-11-24 21:00"
        );
        let d = parse_when("2026-11-20 08:00", now).unwrap();
        assert_eq!(
            d.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string(),
            "2026-11-20 08:00"
        );
        assert!(parse_when("2026-11-20T08:00:00Z", now).is_ok());
        assert!(parse_when("the day after never", now).is_err());
    }
}
