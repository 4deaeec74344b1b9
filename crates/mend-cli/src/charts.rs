//! The charts of `mend trends` in the terminal: one row per week, labelled with its ISO week
//! and the date of its Monday (`W45 · 2 Nov`), a column per person or per count, and in each
//! a bar with its value. A week with nothing to show is a gap (`·`), so a single week stands
//! on its own and empty weeks are never bridged. Width comes from the terminal; on a terminal
//! whose locale is not UTF-8 everything is plain ASCII. No I/O here: the width and the
//! character set are given.

use mend_app::model::{Trends, WeekTrend};

/// How the charts may be drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Columns available.
    pub width: usize,
    /// Whether block characters and `·` may be used (a UTF-8 locale).
    pub unicode: bool,
}

impl Style {
    /// The style for this process: `COLUMNS`, else the terminal's width, else 80 (kept between
    /// 40 and 200); Unicode when the locale (`LC_ALL`, `LC_CTYPE`, `LANG`, the first set) is
    /// UTF-8.
    pub fn of_this_terminal() -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0)
            .or_else(terminal_width)
            .unwrap_or(80)
            .clamp(40, 200);
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_default()
            .to_lowercase();
        Self {
            width,
            unicode: locale.contains("utf-8") || locale.contains("utf8"),
        }
    }

    fn gap(&self) -> &'static str {
        if self.unicode {
            "·"
        } else {
            "."
        }
    }
}

fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize the call owns; a failed call is answered with None.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        (libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0)
            .then_some(size.ws_col as usize)
    }
}

/// `W45 · 2 Nov` for `2026-W45` (the date of its Monday); the ISO week as given if it does not
/// parse.
pub fn week_label(iso_week: &str, style: Style) -> String {
    let monday = iso_week.split_once("-W").and_then(|(y, w)| {
        chrono::NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, chrono::Weekday::Mon)
    });
    match (monday, iso_week.split_once("-W")) {
        (Some(day), Some((_, w))) => {
            let dot = if style.unicode { "·" } else { "-" };
            format!("W{w} {dot} {:>2} {}", day.format("%-d"), day.format("%b"))
        }
        _ => iso_week.to_owned(),
    }
}

/// A bar of `value` out of `max` in `width` columns: whole blocks and, in Unicode, an eighth
/// block for the rest. Any value above zero shows at least a sliver.
fn bar(value: f64, max: f64, width: usize, style: Style) -> String {
    if max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    let cells = (value / max).clamp(0.0, 1.0) * width as f64;
    if !style.unicode {
        let n = (cells.round() as usize).max(1);
        return "#".repeat(n);
    }
    let eighths = ((cells * 8.0).round() as usize).max(1);
    let mut s = "█".repeat(eighths / 8);
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    s.push_str(PARTS[eighths % 8]);
    s
}

/// The width a string takes on the terminal (every character here is one column).
fn cols(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, width: usize) -> String {
    let n = cols(s);
    if n >= width {
        s.chars().take(width).collect()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// One chart: a title, a header naming the columns, and a row per week. `value` gives, per
/// week and column, the value to draw (None: nothing that week, drawn as a gap); `max` is the
/// top of the scale; `shown` formats a value.
fn chart(
    title: &str,
    columns: &[String],
    weeks: &[WeekTrend],
    value: impl Fn(&WeekTrend, usize) -> Option<f64>,
    max: f64,
    shown: impl Fn(f64) -> String,
    style: Style,
) -> String {
    let labels: Vec<String> = weeks.iter().map(|w| week_label(&w.week, style)).collect();
    let label_w = labels.iter().map(|l| cols(l)).max().unwrap_or(0) + 2;
    let value = &value;
    let value_w = (0..columns.len())
        .flat_map(|c| weeks.iter().filter_map(move |w| value(w, c)))
        .map(|v| cols(&shown(v)))
        .max()
        .unwrap_or(1);
    let column_w = (style.width.saturating_sub(label_w) / columns.len().max(1)).max(value_w + 6);
    // A bar, a space, its value, and two spaces before the next column.
    let bar_w = column_w.saturating_sub(value_w + 3).max(3);
    let mut out = format!("{title}\n{}", " ".repeat(label_w));
    for c in columns {
        out.push_str(&pad(c, column_w));
    }
    let mut out = out.trim_end().to_owned();
    out.push('\n');
    for (w, label) in weeks.iter().zip(&labels) {
        let mut line = pad(label, label_w);
        for c in 0..columns.len() {
            let cell = match value(w, c) {
                Some(v) if v > 0.0 => format!("{} {}", bar(v, max, bar_w, style), shown(v)),
                Some(v) => format!("{} {}", style.gap(), shown(v)),
                None => style.gap().to_owned(),
            };
            line.push_str(&pad(&cell, column_w));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A chart of counts, a column per name, scaled to the busiest week; `empty` instead when
/// every count is zero. Zero is a count: drawn as a gap with its 0.
fn count_chart(
    title: &str,
    empty: &str,
    names: &[&str],
    weeks: &[WeekTrend],
    counts: impl Fn(&WeekTrend) -> Vec<usize>,
    style: Style,
) -> String {
    let max = weeks.iter().flat_map(&counts).max().unwrap_or(0);
    if max == 0 {
        return format!("{empty}\n");
    }
    let columns: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    chart(
        title,
        &columns,
        weeks,
        |w, c| counts(w).get(c).map(|&n| n as f64),
        max as f64,
        |v| format!("{}", v.round() as u64),
        style,
    )
}

/// All of `mend trends` in the terminal.
pub fn render(t: &Trends, style: Style) -> String {
    let n = t.weeks.len();
    let (first, last) = match (t.weeks.first(), t.weeks.last()) {
        (Some(f), Some(l)) => (week_label(&f.week, style), week_label(&l.week, style)),
        _ => return "No weeks to show.\n".into(),
    };
    let dash = if style.unicode { "–" } else { "-" };
    let mut out = format!(
        "Trends for {}, {first} {dash} {last}, oldest first. {} marks a week with nothing to show.\n\n",
        crate::render::count(n, "week", "weeks"),
        style.gap()
    );
    // Mood: a column per person, the average of their check-ins that week.
    let people: Vec<&String> = t
        .people
        .iter()
        .filter(|p| t.weeks.iter().any(|w| w.mood.contains_key(*p)))
        .collect();
    if people.is_empty() {
        out.push_str(
            "Mood: no check-ins in these weeks yet (`mend checkin --mood 1-5` adds one).\n",
        );
    } else {
        let columns: Vec<String> = people.iter().map(|p| (*p).clone()).collect();
        out.push_str(&chart(
            "Mood by week: the average of the check-ins, 1 (very low) to 5 (very good)",
            &columns,
            &t.weeks,
            |w, c| w.mood.get(people[c]).copied(),
            5.0,
            |v| format!("{v:.1}"),
            style,
        ));
    }
    out.push('\n');
    out.push_str(&count_chart(
        "Promises by week",
        "Promises: nothing kept, missed or confirmed in these weeks.",
        &["kept", "missed", "confirmed"],
        &t.weeks,
        |w| vec![w.promises.kept, w.promises.missed, w.promises.confirmed],
        style,
    ));
    out.push('\n');
    let reassurance = count_chart(
        "Reassurance by week",
        "Reassurance: no requests in these weeks.",
        &["asked", "answered"],
        &t.weeks,
        |w| vec![w.reassurance_asked, w.reassurance_answered],
        style,
    );
    let any_requests = t
        .weeks
        .iter()
        .any(|w| w.reassurance_asked + w.reassurance_answered > 0);
    out.push_str(&reassurance);
    match t.median_minutes_to_reassure {
        Some(m) => out.push_str(&format!(
            "Median time to answer a request for reassurance: {}\n",
            crate::render::duration_words(m * 60.0)
        )),
        None if any_requests => {
            out.push_str("No request for reassurance was answered in these weeks.\n")
        }
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const WIDE: Style = Style {
        width: 100,
        unicode: true,
    };

    fn week(label: &str, moods: &[(&str, f64)]) -> WeekTrend {
        WeekTrend {
            week: label.into(),
            mood: moods
                .iter()
                .map(|(p, m)| ((*p).to_owned(), *m))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }
    }

    fn trends(weeks: Vec<WeekTrend>) -> Trends {
        Trends {
            people: vec!["Alex".into(), "Sam".into()],
            weeks,
            median_minutes_to_reassure: None,
        }
    }

    fn line_of<'a>(text: &'a str, label: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no line for {label} in\n{text}"))
    }

    #[test]
    fn weeks_are_labelled_with_their_iso_week_and_monday() {
        assert_eq!(week_label("2026-W45", WIDE), "W45 ·  2 Nov");
        assert_eq!(week_label("2027-W01", WIDE), "W01 ·  4 Jan");
        let ascii = Style {
            unicode: false,
            ..WIDE
        };
        assert_eq!(week_label("2026-W45", ascii), "W45 -  2 Nov");
    }

    #[test]
    fn a_single_week_is_visible_and_empty_weeks_are_gaps_not_bridged() {
        let t = trends(vec![
            week("2026-W44", &[]),
            week("2026-W45", &[("Alex", 4.0)]),
            week("2026-W46", &[]),
            week("2026-W47", &[("Alex", 2.0), ("Sam", 5.0)]),
        ]);
        let out = render(&t, WIDE);
        let w45 = line_of(&out, "W45");
        assert!(w45.contains('█') && w45.contains("4.0"), "{out}");
        // Sam did not check in that week: a gap in Sam's column.
        assert!(w45.trim_end().ends_with('·'), "{out}");
        assert_eq!(line_of(&out, "W44").matches('·').count(), 3, "{out}"); // label + 2 gaps
        assert!(!line_of(&out, "W46").contains('█'), "{out}");
        // Both on one chart, Alex's 4.0 twice as long as Alex's 2.0, Sam's 5.0 the longest.
        let blocks = |l: &str| l.chars().filter(|c| *c == '█').count();
        let w47 = line_of(&out, "W47");
        assert!(w47.contains("2.0") && w47.contains("5.0"), "{out}");
        let (four, two) = (blocks(w45), blocks(w47.split("2.0").next().unwrap()));
        assert!(four.abs_diff(2 * two) <= 1, "{four} against {two}: {out}");
        let header = out.lines().nth(3).unwrap();
        assert!(header.contains("Alex") && header.contains("Sam"), "{out}");
    }

    #[test]
    fn no_check_ins_says_so_instead_of_empty_boxes() {
        let t = trends(vec![week("2026-W45", &[]), week("2026-W46", &[])]);
        let out = render(&t, WIDE);
        assert!(
            out.contains("Mood: no check-ins in these weeks yet"),
            "{out}"
        );
        assert!(out.contains("Promises: nothing kept"), "{out}");
        assert!(!out.contains('█'), "{out}");
    }

    #[test]
    fn counts_are_whole_numbers_scaled_to_the_busiest_week() {
        let mut a = week("2026-W45", &[]);
        a.promises.kept = 4;
        let mut b = week("2026-W46", &[]);
        b.promises.kept = 1;
        b.promises.missed = 1;
        let out = render(&trends(vec![a, b]), WIDE);
        let w45 = line_of(&out, "W45");
        assert!(w45.contains(" 4 ") || w45.contains(" 4"), "{out}");
        assert!(!w45.contains("4.0"), "{out}");
        let w46 = line_of(&out, "W46");
        let kept = |l: &str| l.split(" 1").next().unwrap().matches('█').count();
        assert!(kept(w46) * 4 <= kept(w45) + 1, "{out}");
    }

    #[test]
    fn the_width_is_kept_and_ascii_is_plain() {
        let t = trends(vec![
            week("2026-W45", &[("Alex", 5.0), ("Sam", 5.0)]),
            week("2026-W46", &[("Alex", 1.0)]),
        ]);
        for width in [40, 60, 120] {
            let out = render(
                &t,
                Style {
                    width,
                    unicode: true,
                },
            );
            for l in out.lines().filter(|l| l.starts_with('W')) {
                assert!(l.chars().count() <= width, "{width}: {l:?}");
            }
        }
        let narrow = render(
            &t,
            Style {
                width: 40,
                unicode: true,
            },
        );
        let wide = render(
            &t,
            Style {
                width: 120,
                unicode: true,
            },
        );
        assert!(
            line_of(&wide, "W45").matches('█').count()
                > line_of(&narrow, "W45").matches('█').count()
        );
        let ascii = render(
            &t,
            Style {
                width: 80,
                unicode: false,
            },
        );
        assert!(ascii.is_ascii(), "{ascii}");
        assert!(line_of(&ascii, "W45").contains('#'), "{ascii}");
    }
}
