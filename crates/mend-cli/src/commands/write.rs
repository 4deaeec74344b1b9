use std::io::{IsTerminal, Read};

use anyhow::Result;
use chrono::{Local, Utc};
use mend_app::model::{
    inline_tags, merge_tags, normalize_tag, EntryEdit, Kind, NewEntry, TEXT_MAX_BYTES,
};
use mend_app::store::{Doc, LockMode};
use zeroize::Zeroizing;

use crate::cli::{DeleteArgs, EditArgs, EntryFields, Global, WriteArgs, WriteKind};
use crate::dates::parse_when;
use crate::fail::fail;
use crate::unlock::{self, Unlocked};
use crate::{editor, render};

fn explicit_tags(raw: &[String]) -> Result<Vec<String>> {
    raw.iter()
        .map(|t| {
            normalize_tag(t).ok_or_else(|| {
                fail(
                    format!("{t:?} is not a tag"),
                    "tags are single words of letters, digits, - or _",
                )
                .into()
            })
        })
        .collect()
}

fn read_stdin() -> Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(String::new());
    std::io::stdin()
        .take(TEXT_MAX_BYTES as u64 + 1)
        .read_to_string(&mut buf)
        .map_err(|e| {
            fail(
                format!("cannot read the entry from stdin: {e}"),
                "pipe UTF-8 text",
            )
        })?;
    Ok(buf)
}

/// Where an entry's text comes from: the arguments, stdin when piped, or else the editor.
pub(crate) enum TextSource {
    Args(String),
    Piped(Zeroizing<String>),
    Editor,
}

impl TextSource {
    /// Decided, and stdin read, before the passphrase is asked for.
    pub(crate) fn from_args(args: &[String]) -> Result<Self> {
        Ok(if !args.is_empty() {
            TextSource::Args(args.join(" "))
        } else if !std::io::stdin().is_terminal() {
            TextSource::Piped(read_stdin()?)
        } else {
            TextSource::Editor
        })
    }

    /// The text, checked, opening the editor if that is where it comes from.
    pub(crate) fn text(self) -> Result<String> {
        match self {
            TextSource::Args(t) => non_empty(&t),
            TextSource::Piped(t) => non_empty(&t),
            TextSource::Editor => non_empty(&editor::edit("")?),
        }
    }
}

pub(crate) fn non_empty(text: &str) -> Result<String> {
    let t = text.trim_end();
    if t.trim().is_empty() {
        return Err(fail("the entry is empty", "nothing was saved").into());
    }
    if t.len() > TEXT_MAX_BYTES {
        return Err(fail(
            "the entry is longer than 1 MiB",
            "nothing was saved; split it",
        )
        .into());
    }
    Ok(t.to_owned())
}

/// Write an acknowledgment from the guided template; sections left empty are pointed out
/// before anything is saved. The text as written (checked by the caller).
fn acknowledgment_in_editor() -> Result<Zeroizing<String>> {
    let mut text = editor::edit(&mend_app::model::acknowledgment_template())?;
    loop {
        let empty = mend_app::model::empty_sections(&text);
        if empty.is_empty() {
            return Ok(text);
        }
        eprintln!("These sections are still empty:");
        for s in &empty {
            eprintln!("  - {s}");
        }
        eprint!("Edit again [e], save as it is [s], or cancel [c]? ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        match answer.trim() {
            "s" | "S" => return Ok(text),
            "e" | "E" | "" => text = editor::edit(&text)?,
            _ => {
                return Err(fail(
                    "the acknowledgment was not saved",
                    "run the command again when you are ready",
                )
                .into())
            }
        }
    }
}

/// Keep words from the editor that could not be saved, sealed, and say so; `mend write
/// --recover` brings them back.
fn keep_draft(unlocked: &Unlocked, text: &str) {
    let kept = unlocked
        .home
        .keep_draft(&unlocked.secrets, unlocked.key_file.journal_id, text);
    match kept {
        Ok(()) => eprintln!(
            "note: what you wrote is kept, sealed, on this laptop: `mend write --recover` \
             opens it in the editor again"
        ),
        Err(e) => eprintln!("warning: what you wrote could not be kept either: {e}"),
    }
}

/// The entry `mend write` makes of `text` and its options.
fn new_entry(
    a: &WriteArgs,
    created_at: chrono::DateTime<Utc>,
    tags: &[String],
    prompt: Option<&mend_app::model::Prompt>,
    text: String,
) -> NewEntry {
    let acknowledgment = a.kind == WriteKind::Acknowledgment;
    NewEntry {
        created_at,
        edited_at: None,
        tags: merge_tags(inline_tags(&text), tags.to_vec()),
        text,
        mood: a.fields.mood,
        kind: if acknowledgment {
            Kind::Acknowledgment
        } else {
            Kind::Entry
        },
        extra: mend_app::model::Extra {
            prompt: prompt.map(|p| p.id.clone()),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn write(g: &Global, a: WriteArgs) -> Result<()> {
    // Validate everything we can before asking for the passphrase.
    let created_at = match &a.fields.at {
        Some(w) => parse_when(w, Local::now())?,
        None => Utc::now(),
    };
    crate::dates::check_not_future(created_at, Utc::now(), a.fields.future)?;
    let tags = explicit_tags(&a.fields.tags)?;
    let prompt = a
        .prompt
        .as_deref()
        .map(mend_app::model::prompt)
        .transpose()?;
    let acknowledgment = a.kind == WriteKind::Acknowledgment;
    let source = if a.recover {
        TextSource::Editor
    } else {
        TextSource::from_args(&a.text)?
    };
    let from_editor = matches!(source, TextSource::Editor);
    // With a serve that holds the key, it writes the entry: no passphrase. Otherwise the
    // passphrase is asked for before the editor opens, so that no text is written in vain.
    // Words from the editor are written here, with the key, which can keep them should they
    // not be saved.
    let served = if from_editor {
        None
    } else {
        crate::local::client::Writer::connect(g)
    };
    let unlocked = match served {
        Some(_) => None,
        None => Some(Unlocked::new(g)?),
    };
    if let Some(p) = &prompt {
        eprintln!("{}\n", p.question);
    }
    if let (true, Some(unlocked)) = (from_editor, &unlocked) {
        let drafted = if a.recover {
            let kept = unlocked
                .home
                .kept_draft(&unlocked.secrets, unlocked.key_file.journal_id)?
                .ok_or_else(|| {
                    fail(
                        "no draft is kept on this laptop",
                        "a draft is kept only when words written in the editor could not be saved",
                    )
                })?;
            editor::edit(&kept)?
        } else if acknowledgment {
            acknowledgment_in_editor()?
        } else {
            editor::edit("")?
        };
        let saved = non_empty(&drafted).and_then(|text| {
            let entry = new_entry(&a, created_at, &tags, prompt.as_ref(), text);
            unlocked.write_direct(entry, a.private, Utc::now())
        });
        return match saved {
            Ok((id, warnings)) => {
                crate::unlock::warn(&warnings);
                if a.recover {
                    unlocked.home.forget_draft()?;
                }
                println!("{}", render::short(&id));
                Ok(())
            }
            Err(e) => {
                if !drafted.trim().is_empty() {
                    keep_draft(unlocked, &drafted);
                }
                Err(e)
            }
        };
    }
    let text = source.text()?;
    let entry = new_entry(&a, created_at, &tags, prompt.as_ref(), text);
    if let Some(writer) = served {
        let request = crate::local::wire::NewEntryRequest {
            created_at_ms: entry.created_at.timestamp_millis(),
            text: entry.text.clone(),
            tags: entry.tags.clone(),
            mood: entry.mood,
            acknowledgment,
            prompt: entry.extra.prompt.clone(),
            private: a.private,
        };
        if let Some(id) = writer.write(request)? {
            println!("{}", render::short(&id));
            return Ok(());
        }
    }
    let unlocked = match unlocked {
        Some(u) => u,
        None => Unlocked::new(g)?,
    };
    let (id, warnings) = unlocked.write_direct(entry, a.private, Utc::now())?;
    crate::unlock::warn(&warnings);
    println!("{}", render::short(&id));
    Ok(())
}

fn apply_fields(f: &EntryFields, edit: &mut EntryEdit, old_tags: &[String]) -> Result<()> {
    if let Some(w) = &f.at {
        let at = parse_when(w, Local::now())?;
        crate::dates::check_not_future(at, Utc::now(), f.future)?;
        edit.created_at = Some(at);
    }
    if let Some(m) = f.mood {
        edit.mood = Some(Some(m));
    }
    if !f.tags.is_empty() {
        edit.tags = Some(merge_tags(old_tags.to_vec(), explicit_tags(&f.tags)?));
    }
    Ok(())
}

pub fn edit(g: &Global, a: EditArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.person_id.clone();
    // Read the entry under a shared lock, edit without holding any lock, then write.
    let (doc, id, current) = {
        let store = unlocked.open(LockMode::Read)?;
        let (doc, id) = unlock::resolve(&store, &a.id)?;
        let e = mend_app::actions::editable_entry(&store, doc, &id, &me)?;
        (doc, id, e)
    };
    let new_text = match &a.text {
        Some(t) => Some(non_empty(t)?),
        None if a.fields.at.is_none() && a.fields.mood.is_none() && a.fields.tags.is_empty() => {
            let mut initial = current.text.clone();
            for (i, other) in current.conflicting_texts.iter().enumerate() {
                initial.push_str(&format!(
                    "\n\n--- other version {} (kept after edits on two devices; merge, then delete this line) ---\n{other}",
                    i + 1
                ));
            }
            Some(non_empty(&editor::edit(&initial)?)?)
        }
        None => None,
    };
    let mut change = match &new_text {
        Some(t) => mend_app::actions::text_change(&current, t),
        None => EntryEdit::default(),
    };
    let base_tags = change.tags.clone().unwrap_or_else(|| current.tags.clone());
    apply_fields(&a.fields, &mut change, &base_tags)?;
    let mut store = unlocked.open(LockMode::Write)?;
    if mend_app::actions::edit(&mut store, doc, &id, &me, &change, Utc::now())? {
        println!("{} edited", render::short(&id));
    } else {
        println!("{} unchanged", current.short_id());
    }
    Ok(())
}

pub fn delete(g: &Global, a: DeleteArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.person_id.clone();
    let mut store = unlocked.open(LockMode::Write)?;
    let (doc, id) = unlock::resolve(&store, &a.id)?;
    let e = mend_app::actions::own_entry(&store, doc, &id, &me)?;
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(fail(
                "deleting needs confirmation",
                "pass --yes to delete without being asked",
            )
            .into());
        }
        anstream::print!("{}", render::entry_block(&e, &[], false));
        if doc == Doc::Shared {
            eprint!(
                "Retract this entry? The timeline will show it as retracted; its words stay in the \
                 journal's history on both laptops. [y/N] "
            );
        } else {
            eprint!("Delete this private entry? [y/N] ");
        }
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("kept {}", e.short_id());
            return Ok(());
        }
    }
    mend_app::actions::take_back(&mut store, doc, &id, &me, Utc::now())?;
    if doc == Doc::Private {
        println!(
            "deleted {} (it was private to this device)",
            render::short(&id)
        );
        return Ok(());
    }
    println!("retracted {}", render::short(&id));
    eprintln!(
        "note: the timeline now shows it as retracted by you. Its words are not erased: they remain \
         in the journal's history on this laptop and, once synced, on your partner's (`mend history`)."
    );
    Ok(())
}
