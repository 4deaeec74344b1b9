//! How entries look: for people (colour only on a terminal, never with NO_COLOR) and as JSON.

use std::io::Write;

use chrono::{DateTime, Local, Utc};
use mend_app::model::{search_matches, Entry, Kind, PromiseRecord, Version};
use owo_colors::OwoColorize;
use serde_json::{json, Value};

pub fn local(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let l = t.with_timezone(&Local);
    // `%Y-%m-%d %H:%M` without parsing the format each time (a list prints thousands);
    // years chrono writes with a sign go the long way.
    if (0..=9999).contains(&l.year()) {
        return format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            l.year(),
            l.month(),
            l.day(),
            l.hour(),
            l.minute()
        );
    }
    l.format("%Y-%m-%d %H:%M").to_string()
}

/// The stable JSON shape of an entry (docs/cli.md).
pub fn entry_json(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "short_id": e.short_id(),
        "author": e.author,
        "author_id": e.author_id,
        "created_at": e.created_at.to_rfc3339(),
        "written_at": e.written_at.to_rfc3339(),
        "edited_at": e.edited_at.map(|t| t.to_rfc3339()),
        "text": e.text,
        "tags": e.tags,
        "mood": e.mood,
        "kind": e.kind,
        "private": e.private,
        "conflict": e.has_conflict(),
        "conflicting_texts": e.conflicting_texts,
        "refers_to": e.extra.refers_to,
        "every": e.extra.every,
        "until": e.extra.until.map(|t| t.to_rfc3339()),
        "feelings": e.extra.feelings,
        "shared_at": e.extra.shared_at.map(|t| t.to_rfc3339()),
        "retracted_at": e.extra.retracted_at.map(|t| t.to_rfc3339()),
        "retracted_by": e.extra.retracted_by,
        "prompt": e.extra.prompt,
        "sealed": e.extra.sealed,
    })
}

/// How a kind reads in the timeline.
fn kind_label(e: &Entry) -> Option<String> {
    match (e.kind, &e.extra.every) {
        (Kind::Promise, Some(every)) => Some(format!("promise, every {every}")),
        (kind, _) => label_of(kind),
    }
}

/// The label `list` prints for entries of `kind` (none for plain entries).
fn label_of(kind: Kind) -> Option<String> {
    Some(match kind {
        Kind::Entry => return None,
        Kind::Promise => "promise".into(),
        Kind::ReassuranceAsk => "asks for reassurance".into(),
        Kind::ReassuranceGive => "reassures".into(),
        Kind::Checkin => "check-in".into(),
        Kind::TogetherAnswer => "answers together".into(),
        Kind::Reply => "reply".into(),
        Kind::Receipt => "heard".into(),
        Kind::PromiseKept => "kept it".into(),
        Kind::PromiseMissed => "missed it".into(),
        Kind::PromiseConfirmed => "saw it kept".into(),
        other => other.as_str().to_owned(),
    })
}

/// The kind `name` names: its stored name (`checkin`) or the label `list` prints for it
/// (`check-in`, `kept it`), any case, spaces or dashes.
pub fn kind_named(name: &str) -> Option<Kind> {
    let norm = |s: &str| s.trim().to_lowercase().replace([' ', '_'], "-");
    let wanted = norm(name);
    Kind::parse(&wanted).or_else(|| {
        Kind::ALL
            .into_iter()
            .find(|k| label_of(*k).is_some_and(|l| norm(&l) == wanted))
    })
}

/// A response shown under the entry it refers to: one or two lines, indented.
pub fn response_line(e: &Entry) -> String {
    let label = kind_label(e).unwrap_or_default();
    let mut s = format!(
        "      {} {} {} {}",
        "↳".dimmed(),
        clean(&e.author).bold(),
        label.cyan(),
        local(e.created_at).dimmed()
    );
    if e.extra.retracted_at.is_some() {
        s.push_str(&format!("  {}", retracted(e).dimmed()));
    } else if !e.text.is_empty() {
        let first = e.text.lines().next().unwrap_or_default();
        s.push_str(&format!("\n        {}", clean(first)));
    }
    s.push('\n');
    s
}

fn retracted(e: &Entry) -> String {
    format!(
        "retracted by {} on {}",
        e.extra.retracted_by.as_deref().unwrap_or("its author"),
        e.extra.retracted_at.map(local).unwrap_or_default()
    )
}

/// A promise and its record over time.
pub fn promise_block(r: &PromiseRecord) -> String {
    let p = &r.promise;
    let mut s = format!(
        "{}  {}  {} promised{}{}\n    {}\n",
        p.short_id().yellow(),
        local(p.created_at).dimmed(),
        clean(&p.author).bold(),
        p.extra
            .every
            .as_ref()
            .map(|e| format!(", every {e}"))
            .unwrap_or_default(),
        p.extra
            .until
            .map(|u| format!(", until {}", local(u)))
            .unwrap_or_default(),
        clean(&p.text)
    );
    let t = r.total;
    s.push_str(&format!(
        "    {} kept · {} missed · {} confirmed\n",
        t.kept.to_string().green(),
        t.missed.to_string().red(),
        t.confirmed.to_string().cyan()
    ));
    for (week, w) in &r.weeks {
        s.push_str(&format!(
            "      {week}  kept {}  missed {}  confirmed {}\n",
            w.kept, w.missed, w.confirmed
        ));
    }
    s.push('\n');
    s
}

/// One version of an entry, for `mend history`.
pub fn version_block(v: &Version, who: &str) -> String {
    let mut s = format!(
        "{}  {}  {}\n",
        local(v.at).dimmed(),
        clean(who).bold(),
        clean(&v.action).cyan()
    );
    if v.text.is_empty() {
        s.push_str(&format!("    {}\n", "(no words: retracted)".dimmed()));
    }
    for line in v.text.lines() {
        s.push_str(&format!("    {}\n", clean(line)));
    }
    s
}

pub fn print_json(value: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// An entry id as lists show it: its first 8 characters (however short or unusual the id).
pub fn short(id: &str) -> &str {
    let end = id.char_indices().nth(8).map_or(id.len(), |(i, _)| i);
    &id[..end]
}

/// Text from the journal or a peer as a terminal may show it: control characters other than
/// newline and tab (escape sequences, carriage returns, bells, C1 controls) and the
/// bidirectional overrides are shown escaped (`\u{1b}`), never acted on. A partner's entry
/// cannot move the cursor, rewrite lines, set the clipboard or reorder what is shown.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    // Most text has none of them: a byte scan decides. 0xC2 starts the C1 controls, 0xE2 the
    // bidirectional marks and overrides.
    let suspect =
        |b: u8| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f || b == 0xc2 || b == 0xe2;
    if !text.bytes().any(suspect) {
        return std::borrow::Cow::Borrowed(text);
    }
    let acted_on = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acted_on(c) {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// An entry's header line (no newline), written into `h`: a list writes thousands of them
/// into one buffer.
fn header_into(h: &mut String, e: &Entry) {
    use std::fmt::Write as _;
    let _ = write!(
        h,
        "{}  {}  {}",
        e.short_id().yellow(),
        local(e.created_at).dimmed(),
        clean(&e.author).bold()
    );
    if let Some(label) = kind_label(e) {
        let _ = write!(h, "  {}", clean(&label).cyan());
    }
    if let Some(m) = e.mood {
        let _ = write!(h, "  mood {m}/5");
    }
    if !e.extra.feelings.is_empty() {
        let _ = write!(h, "  ({})", clean(&e.extra.feelings.join(", ")));
    }
    if let Some(later) = written_later(e) {
        let _ = write!(h, "  {}", later.dimmed());
    }
    if let Some(t) = e.extra.shared_at {
        let _ = write!(h, "  {}", format!("shared {}", local(t)).dimmed());
    }
    if e.private {
        let _ = write!(h, "  {}", "[private]".magenta());
    }
    if e.has_conflict() {
        let _ = write!(h, "  {}", "[edited on two devices at once]".red());
    }
}

/// `n` things, singular or plural: "1 entry", "3 entries".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A span of time in words, as exact as it is short: "5 seconds", "1 minute", "3 hours",
/// "2 days".
pub fn duration_words(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    let (n, unit) = match s {
        0..60 => (s, "second"),
        60..3600 => (s / 60, "minute"),
        3600..172_800 => (s / 3600, "hour"),
        _ => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// "(written 3 days later)" for an entry written a day or more after the moment it is dated.
pub fn written_later(e: &Entry) -> Option<String> {
    let days = (e.written_at - e.created_at).num_days();
    (days >= 1).then(|| {
        format!(
            "(written {days} day{} later)",
            if days == 1 { "" } else { "s" }
        )
    })
}

fn tags(e: &Entry) -> String {
    e.tags
        .iter()
        .map(|t| format!("@{}", clean(t)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether what is printed to stdout keeps its colours (a terminal, and colour not turned off).
fn stdout_coloured() -> bool {
    static COLOURED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *COLOURED.get_or_init(|| anstream::stdout().current_choice() != anstream::ColorChoice::Never)
}

/// Whether long output on a terminal goes through a pager (`--no-pager` turns it off).
static PAGER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

pub fn set_pager(on: bool) {
    PAGER.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The terminal's height in rows: its window size, else `LINES`, else 24.
fn terminal_rows() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize the call owns; a failed call leaves it zeroed.
    let rows = unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) == 0 {
            size.ws_row as usize
        } else {
            0
        }
    };
    if rows > 0 {
        return rows;
    }
    std::env::var("LINES")
        .ok()
        .and_then(|l| l.parse().ok())
        .filter(|&l: &usize| l > 0)
        .unwrap_or(24)
}

/// Show `out` through the pager when stdout is a terminal, the output is taller than it and no
/// `--no-pager` was given: `$MEND_PAGER`, else `$PAGER`, else `less` (with `LESS=FRX` unless
/// `LESS` is set: colour kept, and it quits at once when the text fits after all). An empty
/// pager or `cat` means none. False when nothing was paged (the caller prints).
fn through_pager(out: &[u8]) -> std::io::Result<bool> {
    use std::io::IsTerminal;
    if !PAGER.load(std::sync::atomic::Ordering::Relaxed) || !std::io::stdout().is_terminal() {
        return Ok(false);
    }
    if out.iter().filter(|&&b| b == b'\n').count() < terminal_rows() {
        return Ok(false);
    }
    let pager = std::env::var("MEND_PAGER")
        .or_else(|_| std::env::var("PAGER"))
        .unwrap_or_else(|_| "less".into());
    if pager.trim().is_empty() || pager.trim() == "cat" {
        return Ok(false);
    }
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(&pager)
        .stdin(std::process::Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        command.env("LESS", "FRX");
    }
    let Ok(mut child) = command.spawn() else {
        return Ok(false);
    };
    // Ctrl-C while paging is the pager's to handle: mend waits for it instead of dying under
    // it and leaving the terminal in the pager's mode.
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: ignoring SIGINT installs no handler code; the old action is put back below.
    let old = unsafe { sigaction(Signal::SIGINT, &ignore) }.ok();
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may quit before reading everything (`q`): that is not an error.
        let _ = stdin.write_all(out);
    }
    let waited = child.wait();
    if let Some(old) = old {
        // SAFETY: puts back the action that was there before.
        let _ = unsafe { sigaction(Signal::SIGINT, &old) };
    }
    waited?;
    Ok(true)
}

/// Print `out` to stdout in one write (a list can be thousands of lines), its colours kept
/// or stripped as for any other output; through the pager when it is long and stdout a
/// terminal.
pub fn print_all(out: &str) -> std::io::Result<()> {
    let shown = if stdout_coloured() {
        std::borrow::Cow::Borrowed(out.as_bytes())
    } else {
        std::borrow::Cow::Owned(strip(out.as_bytes()))
    };
    if through_pager(&shown)? {
        return Ok(());
    }
    std::io::Write::write_all(&mut std::io::stdout().lock(), &shown)
}

/// What anstream leaves of `out` for a stream without colour. Output that is printable ASCII
/// apart from colour codes (`ESC [ digits and ; m`) is stripped here in one pass; anything else
/// goes through anstream's own parser.
fn strip(out: &[u8]) -> Vec<u8> {
    // The bytes anstream prints as they are: printable ASCII and ASCII whitespace.
    let plain = |b: u8| matches!(b, 0x20..=0x7e | b'\t' | b'\n' | 0x0c | b'\r');
    let mut kept = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        let start = i;
        while i < out.len() && plain(out[i]) {
            i += 1;
        }
        kept.extend_from_slice(&out[start..i]);
        if i == out.len() {
            return kept;
        }
        if out[i] == 0x1b && out.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < out.len() && (out[j].is_ascii_digit() || out[j] == b';') {
                j += 1;
            }
            if out.get(j) == Some(&b'm') {
                i = j + 1;
                continue;
            }
        }
        break;
    }
    if i == out.len() {
        return kept;
    }
    let mut kept = Vec::with_capacity(out.len());
    for chunk in anstream::adapter::strip_bytes(out) {
        kept.extend_from_slice(chunk);
    }
    kept
}

fn highlight(text: &str, words: &[String]) -> String {
    // Without colour a highlight would be stripped again: find nothing.
    if words.is_empty() || !stdout_coloured() {
        return text.to_owned();
    }
    let mut ranges: Vec<_> = words.iter().flat_map(|w| search_matches(text, w)).collect();
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        if r.start < at {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(&(&text[r.clone()]).black().on_yellow().to_string());
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// One entry in a list: a header line, then the text (first lines only unless `full`).
pub fn entry_block(e: &Entry, words: &[String], full: bool) -> String {
    let mut s = String::new();
    entry_block_into(&mut s, e, words, full);
    s
}

/// [`entry_block`], written at the end of `s`.
pub fn entry_block_into(s: &mut String, e: &Entry, words: &[String], full: bool) {
    use std::fmt::Write as _;
    header_into(s, e);
    s.push('\n');
    if let Some(p) = e
        .extra
        .prompt
        .as_deref()
        .and_then(|id| mend_app::model::prompt(id).ok())
    {
        let _ = writeln!(s, "    {}", format!("› {}", p.question).italic().dimmed());
    }
    if e.extra.retracted_at.is_some() {
        let _ = writeln!(s, "    {}", retracted(e).dimmed());
        return;
    }
    if e.extra.sealed.is_some() {
        let _ = writeln!(
            s,
            "    {}",
            "(sealed: it opens once you have both answered and synced)".dimmed()
        );
        return;
    }
    let mut lines = e.text.lines();
    let mut shown = 0;
    for line in lines.by_ref() {
        s.push_str("    ");
        let line = clean(line);
        if words.is_empty() {
            s.push_str(&line);
        } else {
            s.push_str(&highlight(&line, words));
        }
        s.push('\n');
        shown += 1;
        if !full && shown == 3 {
            break;
        }
    }
    if lines.next().is_some() {
        let _ = writeln!(s, "    {}", "…".dimmed());
    }
    if !e.tags.is_empty() {
        let _ = writeln!(s, "    {}", tags(e).green());
    }
}

/// One entry in full, with every version when edits conflicted.
pub fn entry_full(e: &Entry) -> String {
    let mut s = entry_block(e, &[], true);
    s.push_str(&format!("    {}\n", format!("id {}", e.id).dimmed()));
    s.push_str(&format!(
        "    {}\n",
        format!("written {}", local(e.written_at)).dimmed()
    ));
    if let Some(t) = e.edited_at {
        s.push_str(&format!(
            "    {}\n",
            format!("edited {}", local(t)).dimmed()
        ));
    }
    if e.has_conflict() {
        s.push_str(&format!(
            "\n    {}\n",
            "This entry was edited on two devices at once. Nothing was lost: every version \
             is kept. `mend edit` saves the one you want."
                .red()
        ));
        for (i, text) in e.conflicting_texts.iter().enumerate() {
            s.push_str(&format!(
                "\n    {}\n",
                format!("other version {}:", i + 1).bold()
            ));
            for line in text.lines() {
                s.push_str(&format!("    {}\n", clean(line)));
            }
        }
    }
    s
}

/// An entry in Markdown, for `mend export --format markdown`. A relay the journal remembers is
/// configuration, not writing: it has none (the JSON export keeps it).
pub fn entry_markdown(e: &Entry) -> String {
    if e.kind == Kind::Relay {
        return String::new();
    }
    let body = if e.extra.retracted_at.is_some() {
        format!("*{}*", clean(&retracted(e)))
    } else {
        clean(&e.text).into_owned()
    };
    let mut s = format!(
        "## {} · {}\n\n{}\n",
        local(e.created_at),
        clean(&e.author),
        body
    );
    let mut meta = Vec::new();
    if e.kind != Kind::Entry {
        meta.push(format!("Kind: {}", e.kind));
    }
    if !e.tags.is_empty() {
        meta.push(format!("Tags: {}", tags(e)));
    }
    if let Some(m) = e.mood {
        meta.push(format!("Mood: {m}/5"));
    }
    if e.private {
        meta.push("Private".into());
    }
    if !meta.is_empty() {
        s.push_str(&format!("\n*{}*\n", meta.join(" · ")));
    }
    for t in &e.conflicting_texts {
        s.push_str(&format!(
            "\n> Another version, kept after concurrent edits:\n>\n> {}\n",
            clean(t).replace('\n', "\n> ")
        ));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {

    #[test]
    fn clean_escapes_what_a_terminal_acts_on_and_keeps_the_rest() {
        assert!(matches!(
            clean("plain words, émoji 🙂, tab\tand\nnewline"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            clean("a\rb\x1b[2Kc\x07d\u{9b}e\u{202e}f\x7f"),
            "a\\u{d}b\\u{1b}[2Kc\\u{7}d\\u{9b}e\\u{202e}f\\u{7f}"
        );
        // Characters that share a first byte with those are kept as they are.
        assert_eq!(clean("ÂÃ€‘’…"), "ÂÃ€‘’…");
    }

    use super::*;

    /// Stripping colour the quick way leaves what anstream's parser leaves.
    #[test]
    fn colour_is_stripped_as_anstream_strips_it() {
        let cases = [
            "plain text\n",
            "\x1b[33mabc\x1b[39m  \x1b[2m2026\x1b[0m\n\ttabbed\r\x0c",
            "\x1b[1;30;43mhighlight\x1b[0m and \x1b[m empty",
            "text with a raw \x1b]52;c;aGk=\x07 clipboard write",
            "\x1b[2K\x1b[1A erase and move",
            "an unfinished \x1b[12",
            "a lone escape \x1b at the end \x1b",
            "DEL \x7f and bell \x07 and NUL \x00",
            "accents é, an ellipsis …, C1 \u{9b}31m and \u{85}",
            "\x1b[33mé\x1b[0m",
            "",
        ];
        for c in cases {
            let want: Vec<u8> = anstream::adapter::strip_bytes(c.as_bytes())
                .flat_map(|b| b.to_vec())
                .collect();
            assert_eq!(strip(c.as_bytes()), want, "{c:?}");
        }
    }

    /// The quick way of writing a moment gives what `%Y-%m-%d %H:%M` gives, at the ends of
    /// the range too.
    #[test]
    fn local_times_read_as_the_format_says() {
        for s in [
            "2026-11-30T03:18:27Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1969-07-20T20:17:40Z",
        ] {
            let t: DateTime<Utc> = s.parse().unwrap();
            let want = t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string();
            assert_eq!(local(t), want, "{s}");
        }
        let far = DateTime::<Utc>::from_timestamp(400_000_000_000, 0).unwrap();
        assert_eq!(
            local(far),
            far.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        );
    }
}
