//! The practices: replies, receipts, promises, reassurance, check-ins, sharing, history.

use anyhow::Result;
use chrono::{Local, Utc};
use mend_app::answering::{self, PracticeError};
use mend_app::model::{normalize_tag, promise_records, Extra, Kind, NewEntry};
use mend_app::store::{Doc, LockMode};
use serde_json::json;

use crate::cli::{
    AckArgs, CheckinArgs, Every, Global, HistoryArgs, IdArgs, PromiseAddArgs, PromiseCommand,
    PromiseEventArgs, PromptArgs, ReassureCommand, ReplyArgs, TogetherArgs,
};
use crate::commands::write::{non_empty, TextSource};
use crate::dates::parse_when;
use crate::fail::fail;
use crate::render;
use crate::unlock::{self, Unlocked};

/// Add one entry to the shared journal as this person, answering the entry `target` names (an id
/// prefix) if given; who may answer what is `mend_app::answering`'s to say.
/// The whole id of the shared entry `prefix` names (an answer goes to the shared journal only).
fn shared_target(store: &mend_app::store::Store, prefix: &str) -> Result<String> {
    let (doc, id) = unlock::resolve(store, prefix)?;
    if doc == Doc::Private {
        return Err(private_target());
    }
    Ok(id)
}

fn private_target() -> anyhow::Error {
    fail(
        "that entry is private to this device",
        "share it first with `mend share ID`",
    )
    .into()
}

fn insert(unlocked: &Unlocked, target: Option<&str>, entry: NewEntry) -> Result<String> {
    let me = unlocked.secrets.person_id.clone();
    let mut store = unlocked.open(LockMode::Write)?;
    let target = target
        .map(|prefix| shared_target(&store, prefix))
        .transpose()?;
    let id = answering::add_shared(&mut store, &me, target.as_deref(), entry, Utc::now())
        .map_err(practice_fail)?;
    Ok(id[..8].to_owned())
}

/// What to tell the person when an answer was not written, and what to do instead.
fn practice_fail(e: PracticeError) -> anyhow::Error {
    let (what, hint) = match e {
        PracticeError::App(e) => return anyhow::Error::from(*e),
        PracticeError::Retracted => (e.to_string(), "reply to another entry"),
        PracticeError::OwnEntry => (
            e.to_string(),
            "`mend status` lists your partner's entries waiting for you to hear them",
        ),
        PracticeError::NotA { what, .. } => (
            e.to_string(),
            if what == "a promise" {
                "`mend promise list` shows the promises"
            } else {
                "`mend status` lists open requests"
            },
        ),
        PracticeError::ConfirmOwnPromise => (
            e.to_string(),
            "use `mend promise kept` or `mend promise missed`; your partner confirms",
        ),
        PracticeError::NotYourPromise { .. } => (
            e.to_string(),
            "only the one who promised records it kept or missed; you can `mend promise confirm` it",
        ),
        PracticeError::OwnRequest => (
            e.to_string(),
            "your partner answers it from their laptop",
        ),
        PracticeError::Record(r) => {
            use mend_app::model::RecordRefusal as R;
            let hint = match &r {
                R::Retracted => "a retracted promise keeps no record; make a new one with `mend promise add`",
                R::BeforePromise => "give an --at after the promise was made",
                R::Ahead => "give an --at up to now",
                R::AlreadyRecorded { .. } => "`mend promise list` shows what is recorded; retract that one first to change it",
                R::NothingToConfirm => "confirm again after the next time it is kept",
                R::AlreadyAnswered => "`mend show ID` shows your answer",
            };
            (format!("not recorded: {r}"), hint)
        }
    };
    fail(what, hint).into()
}

fn words(text: &[String]) -> String {
    text.join(" ").trim().to_owned()
}

/// When an event happened (`--at`), never in the future: a record is of what happened.
fn when(at: &Option<String>) -> Result<chrono::DateTime<Utc>> {
    let t = at
        .as_deref()
        .map(|w| parse_when(w, Local::now()))
        .transpose()?
        .unwrap_or_default();
    crate::dates::check_not_future(t, Utc::now(), false)?;
    Ok(t)
}

pub fn reply(g: &Global, a: ReplyArgs) -> Result<()> {
    let source = TextSource::from_args(&a.text)?;
    let unlocked = Unlocked::new(g)?;
    // The target is checked before an editor opens (through the read index, without loading
    // the journal): a reply typed in vain is lost words. `insert` checks again when writing.
    {
        let entries = unlocked.read_documents()?;
        let (doc, target) = mend_app::device::resolve_in(&entries, &a.id)?;
        if doc == Doc::Private {
            return Err(private_target());
        }
        answering::may_answer(Kind::Reply, target, &unlocked.secrets.person_id)
            .map_err(practice_fail)?;
    }
    let text = source.text()?;
    let entry = NewEntry {
        kind: Kind::Reply,
        tags: mend_app::model::inline_tags(&text),
        text,
        ..Default::default()
    };
    let id = insert(&unlocked, Some(&a.id), entry)?;
    println!("{id}");
    Ok(())
}

pub fn ack(g: &Global, a: AckArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let entry = NewEntry {
        kind: Kind::Receipt,
        text: a.note.unwrap_or_default().trim().to_owned(),
        ..Default::default()
    };
    let id = insert(&unlocked, Some(&a.id), entry)?;
    println!("{id}");
    Ok(())
}

fn promise_event(g: &Global, a: PromiseEventArgs, kind: Kind) -> Result<()> {
    let created_at = when(&a.at)?;
    let unlocked = Unlocked::new(g)?;
    let entry = NewEntry {
        kind,
        text: a.note.unwrap_or_default().trim().to_owned(),
        created_at,
        ..Default::default()
    };
    let id = insert(&unlocked, Some(&a.id), entry)?;
    println!("{id}");
    Ok(())
}

pub fn promise(g: &Global, c: PromiseCommand) -> Result<()> {
    match c {
        PromiseCommand::Add(a) => promise_add(g, a),
        PromiseCommand::List(a) => promise_list(g, a.json),
        PromiseCommand::Kept(a) => promise_event(g, a, Kind::PromiseKept),
        PromiseCommand::Missed(a) => promise_event(g, a, Kind::PromiseMissed),
        PromiseCommand::Confirm(a) => promise_event(g, a, Kind::PromiseConfirmed),
    }
}

fn promise_add(g: &Global, a: PromiseAddArgs) -> Result<()> {
    let text = non_empty(&words(&a.text))?;
    let until = a
        .until
        .as_deref()
        .map(|w| parse_when(w, Local::now()))
        .transpose()?;
    let unlocked = Unlocked::new(g)?;
    let entry = NewEntry {
        kind: Kind::Promise,
        tags: mend_app::model::inline_tags(&text),
        text,
        extra: Extra {
            every: a.every.map(|e| match e {
                Every::Day => "day".to_owned(),
                Every::Week => "week".to_owned(),
            }),
            until,
            ..Default::default()
        },
        ..Default::default()
    };
    println!("{}", insert(&unlocked, None, entry)?);
    Ok(())
}

fn promise_list(g: &Global, as_json: bool) -> Result<()> {
    let entries = Unlocked::new(g)?.read_documents()?.shared;
    let records = promise_records(&entries);
    if as_json {
        return render::print_json(&serde_json::to_value(&records)?);
    }
    if records.is_empty() {
        eprintln!("no promises yet: `mend promise add TEXT [--every day|week]`");
    }
    for r in &records {
        anstream::print!("{}", render::promise_block(r));
    }
    Ok(())
}

pub fn reassure(g: &Global, c: ReassureCommand) -> Result<()> {
    match c {
        ReassureCommand::Ask(a) => {
            let unlocked = Unlocked::new(g)?;
            let entry = NewEntry {
                kind: Kind::ReassuranceAsk,
                text: words(&a.text),
                ..Default::default()
            };
            let id = insert(&unlocked, None, entry)?;
            println!("{id}");
            eprintln!("Your partner will see this in `mend status` after the next sync.");
            Ok(())
        }
        ReassureCommand::Give(a) => {
            let text = non_empty(&words(&a.text))?;
            let unlocked = Unlocked::new(g)?;
            let entry = NewEntry {
                kind: Kind::ReassuranceGive,
                text,
                ..Default::default()
            };
            let id = insert(&unlocked, Some(&a.id), entry)?;
            println!("{id}");
            Ok(())
        }
    }
}

pub fn checkin(g: &Global, a: CheckinArgs) -> Result<()> {
    let created_at = when(&a.at)?;
    let feelings = a
        .feelings
        .iter()
        .map(|f| {
            normalize_tag(f).ok_or_else(|| {
                anyhow::Error::from(fail(
                    format!("{f:?} is not one word"),
                    "name each feeling in one word: --feeling tired hopeful",
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Each feeling once, in the order given.
    let mut feelings_once: Vec<String> = Vec::new();
    for f in feelings {
        if !feelings_once.contains(&f) {
            feelings_once.push(f);
        }
    }
    let feelings = feelings_once;
    let unlocked = Unlocked::new(g)?;
    let entry = NewEntry {
        kind: Kind::Checkin,
        text: a.note.unwrap_or_default().trim().to_owned(),
        mood: Some(a.mood),
        created_at,
        extra: Extra {
            feelings,
            ..Default::default()
        },
        ..Default::default()
    };
    println!("{}", insert(&unlocked, None, entry)?);
    Ok(())
}

pub fn share(g: &Global, a: IdArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let mut store = unlocked.open(LockMode::Write)?;
    let (_, id) = unlock::resolve(&store, &a.id)?;
    let me = &unlocked.secrets.person_id;
    match mend_app::actions::share(&mut store, me, &id, Utc::now()) {
        Ok(e) => {
            println!(
                "{} shared; your partner sees it after the next sync",
                e.short_id()
            );
            Ok(())
        }
        Err(mend_app::actions::ActionError::AlreadyShared) => {
            Err(fail("that entry is already shared", "nothing was changed").into())
        }
        Err(mend_app::actions::ActionError::App(e)) => Err(anyhow::Error::from(*e)),
    }
}

pub fn history(g: &Global, a: HistoryArgs) -> Result<()> {
    use mend_app::status::Proof;
    let unlocked = Unlocked::new(g)?;
    let mut store = unlocked.open(LockMode::Read)?;
    let (doc, id) = unlock::resolve(&store, &a.id)?;
    let versions = mend_app::status::history(&mut store, doc, &id)?;
    let proof = |p: Proof| match p {
        Proof::Private => "this device's private journal",
        Proof::SignatureChecked => "signature checked",
        Proof::Unsigned => "unsigned: from before signed changes",
    };
    if a.json {
        let rows: Vec<_> = versions
            .iter()
            .map(|v| {
                json!({"at": v.version.at.to_rfc3339(), "by": v.by,
                       "signed_by": v.version.signed_by, "signature": proof(v.proof),
                       "action": v.version.action, "text": v.version.text})
            })
            .collect();
        return render::print_json(&json!(rows));
    }
    let mut out = format!(
        "{} — {}, oldest first\n",
        render::short(&id),
        render::count(versions.len(), "version", "versions")
    );
    for v in &versions {
        out.push_str(&render::version_block(
            &v.version,
            &format!("{} ({})", v.by, proof(v.proof)),
        ));
        out.push('\n');
    }
    Ok(render::print_all(&out)?)
}

pub fn prompt(a: PromptArgs) -> Result<()> {
    if a.all {
        let all = mend_app::model::all_prompts();
        if a.json {
            return render::print_json(&serde_json::to_value(&all)?);
        }
        for p in all {
            println!("{:<18} {}", p.id, p.question);
        }
        return Ok(());
    }
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    let day = Local::now()
        .date_naive()
        .signed_duration_since(epoch)
        .num_days();
    let p = mend_app::model::prompt_for_day(day, a.practice.as_deref()).map_err(|e| {
        fail(
            e.to_string(),
            "choose one of: acknowledge, communicate, act, intimacy, reassurance, accountability",
        )
    })?;
    if a.json {
        return render::print_json(&serde_json::to_value(&p)?);
    }
    println!("{} ({})", p.practice_title, p.practice);
    println!("  {}", p.question);
    println!("Answer it with: mend write --prompt {}", p.id);
    Ok(())
}

/// On a terminal (and the answer not read from stdin), ask whether to answer `prompt` again.
fn confirm_new_round(prompt: &str, at: chrono::DateTime<Utc>, source: &TextSource) -> Result<bool> {
    use std::io::IsTerminal;
    if matches!(source, TextSource::Piped(_)) || !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!(
        "You answered `{prompt}` already, {}. Answer it again in a new round? [y/N] ",
        render::local(at)
    );
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn together(g: &Global, a: TogetherArgs) -> Result<()> {
    let prompt = mend_app::model::prompt(&a.prompt)?;
    let source = TextSource::from_args(&a.text)?;
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.person_id.clone();
    // Answering a prompt one answered before opens a new round: asked first, not done
    // silently.
    let shared = unlocked.read_documents()?.shared;
    if let Some(at) = mend_app::together::answered_before(&shared, &me, &prompt.id) {
        if !a.again && !confirm_new_round(&prompt.id, at, &source)? {
            return Err(fail(
                format!(
                    "you answered `{}` already, {}",
                    prompt.id,
                    render::local(at)
                ),
                "pass --again to answer it again in a new round",
            )
            .into());
        }
    }
    eprintln!("{}\n", prompt.question);
    let text = source.text()?;
    let mut store = unlocked.open(LockMode::Write)?;
    let (id, complete) = mend_app::together::answer(&mut store, &me, &prompt.id, &text)?;
    println!("{}", render::short(&id));
    if complete {
        mend_app::together::publish_ready(&mut store, &me)?;
        eprintln!(
            "You have both answered. Your key is published: after the next sync you can read each other's answers."
        );
    } else {
        eprintln!(
            "Sealed. Your partner cannot read it until they have answered `{}` too.",
            prompt.id
        );
    }
    Ok(())
}
