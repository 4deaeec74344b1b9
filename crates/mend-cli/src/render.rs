//! How entries look: for people (colour only on a terminal, never with NO_COLOR) and as JSON.

use std::io::Write;

use chrono::{DateTime, Local, Utc};
use mend_journal::{search_matches, Entry, KIND_ENTRY};
use owo_colors::OwoColorize;
use serde_json::{json, Value};

pub fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
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
    })
}

pub fn print_json(value: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn header(e: &Entry) -> String {
    let mut h = format!(
        "{}  {}  {}",
        e.short_id().yellow(),
        local(e.created_at).dimmed(),
        e.author.bold()
    );
    if e.kind != KIND_ENTRY {
        h.push_str(&format!("  {}", e.kind.cyan()));
    }
    if let Some(m) = e.mood {
        h.push_str(&format!("  mood {m}/5"));
    }
    if e.private {
        h.push_str(&format!("  {}", "[private]".magenta()));
    }
    if e.has_conflict() {
        h.push_str(&format!("  {}", "[edited on two devices at once]".red()));
    }
    h
}

fn tags(e: &Entry) -> String {
    e.tags
        .iter()
        .map(|t| format!("#{t}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn highlight(text: &str, words: &[String]) -> String {
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
    let mut s = header(e);
    s.push('\n');
    let lines: Vec<&str> = e.text.lines().collect();
    let shown = if full {
        lines.len()
    } else {
        lines.len().min(3)
    };
    for line in &lines[..shown] {
        s.push_str("    ");
        s.push_str(&highlight(line, words));
        s.push('\n');
    }
    if shown < lines.len() {
        s.push_str(&format!("    {}\n", "…".dimmed()));
    }
    if !e.tags.is_empty() {
        s.push_str(&format!("    {}\n", tags(e).green()));
    }
    s
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
                s.push_str(&format!("    {line}\n"));
            }
        }
    }
    s
}

/// An entry in Markdown, for `mend export --format markdown`.
pub fn entry_markdown(e: &Entry) -> String {
    let mut s = format!("## {} · {}\n\n{}\n", local(e.created_at), e.author, e.text);
    let mut meta = Vec::new();
    if e.kind != KIND_ENTRY {
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
            t.replace('\n', "\n> ")
        ));
    }
    s.push('\n');
    s
}
