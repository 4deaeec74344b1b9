use std::io::Write;

use anyhow::Result;
use chrono::{Local, TimeZone, Utc};
use mend_journal::{
    inline_tags, parse_import, Entry, ImportFile, MendExport, NewEntry, Person, KIND_ENTRY,
};
use mend_store::{Access, Doc};

use crate::cli::{ExportArgs, ExportFormat, Global, ImportArgs, ListArgs};
use crate::fail::fail;
use crate::render;
use crate::session::{self, Unlocked};

/// An import file may be at most 256 MiB.
const IMPORT_MAX_BYTES: u64 = 256 * 1024 * 1024;

pub fn export(g: &Global, a: ExportArgs) -> Result<()> {
    let filter = crate::commands::read::filter_from(&ListArgs {
        since: a.since.clone(),
        until: a.until.clone(),
        ..Default::default()
    })?;
    let unlocked = Unlocked::new(g)?;
    let store = unlocked.open(Access::Read)?;
    let mut entries = if a.shared_only {
        store.journal(Doc::Shared).entries()?
    } else {
        session::all_entries(&store)?
    };
    entries = filter.apply(entries);
    entries.reverse(); // oldest first
    let mut out = std::io::stdout().lock();
    match a.format {
        ExportFormat::Json => {
            let export = MendExport::new(
                store.journal_id().to_hex(),
                Utc::now(),
                store.journal(Doc::Shared).people()?,
                entries,
            );
            serde_json::to_writer_pretty(&mut out, &export)?;
            writeln!(out)?;
        }
        ExportFormat::Markdown => {
            writeln!(out, "# Mend journal\n")?;
            for e in &entries {
                write!(out, "{}", render::entry_markdown(e))?;
            }
        }
    }
    Ok(())
}

/// A stable id for an imported jrnl entry, so importing the same file twice adds nothing.
fn jrnl_id(date: &str, time: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in ["jrnl", date, time, text] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

fn from_mend(e: Entry, people: &[Person]) -> NewEntry {
    let mut extra = e.extra;
    // Retractions name a person in exports; the journal stores their id.
    extra.retracted_by = extra.retracted_by.map(|name| {
        people
            .iter()
            .find(|p| p.name == name)
            .map_or(name, |p| p.id.clone())
    });
    NewEntry {
        id: e.id,
        author_id: e.author_id,
        created_at: e.created_at,
        written_at: e.written_at,
        edited_at: e.edited_at,
        text: e.text,
        tags: e.tags,
        mood: e.mood,
        kind: e.kind,
        extra,
    }
}

pub fn import(g: &Global, a: ImportArgs) -> Result<()> {
    let cant = |e: std::io::Error| {
        fail(
            format!("cannot read {}: {e}", a.file.display()),
            "check the path of the file to import",
        )
    };
    let len = std::fs::metadata(&a.file).map_err(cant)?.len();
    if len > IMPORT_MAX_BYTES {
        return Err(fail(
            format!("{} is larger than 256 MiB", a.file.display()),
            "split the export into several files",
        )
        .into());
    }
    let bytes = std::fs::read(&a.file).map_err(cant)?;
    let file = parse_import(&bytes)?;
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.me();
    let now = Utc::now();
    let mut shared = Vec::new();
    let mut private = Vec::new();
    let mut people: Vec<Person> = Vec::new();
    match file {
        ImportFile::Jrnl(j) => {
            for e in j.entries {
                let local = e.local_datetime()?;
                let created_at = Local
                    .from_local_datetime(&local)
                    .earliest()
                    .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc));
                let text = e.text();
                let mut tags = e.normalized_tags();
                for t in inline_tags(&text) {
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                let new = NewEntry {
                    id: jrnl_id(&e.date, &e.time, &text),
                    author_id: me.id.clone(),
                    created_at,
                    written_at: created_at,
                    edited_at: None,
                    text,
                    tags,
                    mood: None,
                    kind: KIND_ENTRY.into(),
                    extra: Default::default(),
                };
                if a.private {
                    private.push(new);
                } else {
                    shared.push(new);
                }
            }
        }
        ImportFile::Mend(m) => {
            people = m.people;
            for e in m.entries {
                if !people.iter().any(|p| p.id == e.author_id) {
                    people.push(Person {
                        id: e.author_id.clone(),
                        name: e.author.clone(),
                    });
                }
                let new = from_mend(e.clone(), &people);
                if e.private || a.private {
                    private.push(new);
                } else {
                    shared.push(new);
                }
            }
        }
    }
    let total = shared.len() + private.len();
    let mut store = unlocked.open(Access::Write)?;
    let mut added = 0;
    for (doc, list) in [(Doc::Shared, &shared), (Doc::Private, &private)] {
        if list.is_empty() {
            continue;
        }
        added += store.commit(doc, |j| {
            let known: Vec<String> = j.people()?.into_iter().map(|p| p.id).collect();
            for p in people.iter().filter(|p| !known.contains(&p.id)) {
                j.add_person(p, now)?;
            }
            j.add_entries(list, now)
        })?;
        // One import is one log record; fold it into the snapshot so that opening stays fast.
        store.compact(doc)?;
    }
    println!(
        "imported {added} entries ({} already present)",
        total - added
    );
    Ok(())
}
