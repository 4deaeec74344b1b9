use std::io::Write;

use anyhow::Result;
use chrono::{Local, TimeZone, Utc};
use mend_app::model::{
    inline_tags, parse_import, Entry, ImportFile, Kind, MendExport, NewEntry, Person,
};
use mend_app::store::{Doc, LockMode};

use crate::cli::{ExportArgs, ExportFormat, Global, ImportArgs, ListArgs};
use crate::fail::fail;
use crate::render;
use crate::unlock::{self, Unlocked};

/// An import file may be at most 256 MiB.
const IMPORT_MAX_BYTES: u64 = 256 * 1024 * 1024;

pub fn export(g: &Global, a: ExportArgs) -> Result<()> {
    let filter = crate::commands::read::filter_from(&ListArgs {
        since: a.since.clone(),
        until: a.until.clone(),
        on: a.on.clone(),
        ..Default::default()
    })?;
    let unlocked = Unlocked::new(g)?;
    let store = unlocked.open(LockMode::Read)?;
    let mut entries = if a.shared_only {
        store.journal(Doc::Shared).entries()?
    } else {
        unlock::all_entries(&store)?
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

/// The error for an import some of whose entries cannot be written: each named, nothing written.
fn import_refused(named: &[String]) -> crate::fail::Fail {
    let shown: Vec<&str> = named.iter().take(10).map(String::as_str).collect();
    let more = named.len().saturating_sub(shown.len());
    fail(
        format!(
            "{} of the entries cannot be imported, so nothing was: {}{}",
            named.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ),
        "an import writes entries as you, of kinds you may write; remove or fix the entries \
         named and import again",
    )
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
    // Positions in the file (from 0) of the entries in `shared`, to name the ones refused.
    let mut shared_at = Vec::new();
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
                    kind: Kind::Entry,
                    extra: Default::default(),
                };
                if a.private {
                    private.push(new);
                } else {
                    shared_at.push(shared.len());
                    shared.push(new);
                }
            }
        }
        ImportFile::Mend(m) => {
            let mut people: Vec<Person> = m.people;
            for (i, e) in m.entries.into_iter().enumerate() {
                if !people.iter().any(|p| p.id == e.author_id) {
                    people.push(Person {
                        id: e.author_id.clone(),
                        name: e.author.clone(),
                    });
                }
                let private_entry = e.private;
                // An import writes only as the one importing: whoever the file names.
                let mut new = from_mend(e, &people);
                new.author_id = me.id.clone();
                if new.extra.retracted_at.is_some() {
                    new.extra.retracted_by = Some(me.id.clone());
                }
                if private_entry || a.private {
                    private.push(new);
                } else {
                    shared_at.push(i);
                    shared.push(new);
                }
            }
        }
    }
    let total = shared.len() + private.len();
    let mut store = unlocked.open(LockMode::Write)?;
    let added = match mend_app::actions::import(&mut store, &shared, &private, now) {
        Err(mend_app::actions::ImportError::Refused(refused)) => {
            let named: Vec<String> = refused
                .iter()
                .map(|(i, why)| {
                    let at = shared_at.get(*i).copied().unwrap_or(*i);
                    format!("entry {}: {why}", at + 1)
                })
                .collect();
            return Err(import_refused(&named).into());
        }
        Err(mend_app::actions::ImportError::App(e)) => return Err((*e).into()),
        Ok(added) => added,
    };
    println!(
        "imported {added} entries ({} already present)",
        total - added
    );
    Ok(())
}
