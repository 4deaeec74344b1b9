use anyhow::Result;
use chrono::Local;
use mend_app::model::{normalize_tag, responses_to, Entry, Filter};
use mend_app::store::LockMode;
use serde_json::json;

use mend_app::queries::{AnswerRef, Query, ThreadedRef};

use crate::cli::{Global, ListArgs, SearchArgs, ShowArgs, StatusArgs};
use crate::dates::parse_local;
use crate::fail::fail;
use crate::local::client;
use crate::local::wire::{ReadAnswer, ReadQuery};
use crate::render;
use crate::unlock::{self, Unlocked};

/// Build a filter from list-like arguments, before any passphrase is asked for.
pub fn filter_from(a: &ListArgs) -> Result<Filter> {
    let now = Local::now();
    let since = a
        .since
        .as_deref()
        .map(|s| parse_local(s, now))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_local(s, now))
        .transpose()?;
    let on =
        a.on.as_deref()
            .map(|s| parse_local(s, now))
            .transpose()?
            .map(|w| w.whole_day());
    Ok(Filter {
        since: on.map(|(start, _)| start).or(since.map(|w| w.start())),
        until: on.map(|(_, end)| end).or(until.map(|w| w.end())),
        author: a.author.clone(),
        tag: a
            .tag
            .as_deref()
            .map(|t| normalize_tag(t).unwrap_or_default()),
        kind: a
            .kind
            .as_deref()
            .map(|k| {
                render::kind_named(k).ok_or_else(|| {
                    fail(
                        format!("there is no kind of entry called {k:?}"),
                        format!(
                            "the kinds are: {}",
                            mend_app::model::Kind::ALL.map(|k| k.as_str()).join(", ")
                        ),
                    )
                })
            })
            .transpose()?,
        private_only: a.private,
        words: Vec::new(),
        limit: a.limit,
    })
}

fn print_entries(entries: &[&Entry], words: &[String], json: bool) -> Result<()> {
    if json {
        return render::print_json(&json!(entries
            .iter()
            .map(|e| render::entry_json(e))
            .collect::<Vec<_>>()));
    }
    if entries.is_empty() {
        eprintln!("no entries");
    }
    // One buffer and one write, not one per line: a search can print thousands of entries.
    let mut out = String::new();
    for e in entries {
        render::entry_block_into(&mut out, e, words, !words.is_empty());
        out.push('\n');
    }
    Ok(render::print_all(&out)?)
}

/// An entry with what answers it underneath: replies, receipts, promise events, reassurance.
fn threaded_block_into(s: &mut String, t: &ThreadedRef) {
    render::entry_block_into(s, t.entry, &[], false);
    if let Some(r) = t.totals {
        s.push_str(&format!(
            "    kept {} · missed {} · confirmed {}\n",
            r.kept, r.missed, r.confirmed
        ));
    }
    for r in &t.responses {
        s.push_str(&render::response_line(r));
    }
}

/// Answer a reading command's question and print the answer: from the home's serve if one
/// runs and holds the key, else from the journal here.
fn answer_and_print(g: &Global, query: Query, words: &[String], json: bool) -> Result<()> {
    if let Some(ReadAnswer::Read(answer)) = client::query(g, ReadQuery::Read(query.clone())) {
        return print_answer(answer.as_refs(), words, json);
    }
    let all = Unlocked::new(g)?.read_entries()?;
    let refs: Vec<&Entry> = all.iter().collect();
    print_answer(mend_app::queries::answer_refs(&refs, &query), words, json)
}

fn print_answer(answer: AnswerRef, words: &[String], json: bool) -> Result<()> {
    match answer {
        AnswerRef::Entries(entries) => print_entries(&entries, words, json),
        AnswerRef::Timeline(top) => {
            if top.is_empty() {
                eprintln!("no entries");
            }
            let mut out = String::new();
            for t in &top {
                threaded_block_into(&mut out, t);
                out.push('\n');
            }
            Ok(render::print_all(&out)?)
        }
    }
}

pub fn list(g: &Global, a: ListArgs) -> Result<()> {
    let filter = filter_from(&a)?;
    let query = if a.json {
        Query::Entries(filter)
    } else {
        // The timeline: entries in their own right, newest first, each with its thread.
        Query::Timeline(filter)
    };
    answer_and_print(g, query, &[], a.json)
}

pub fn search(g: &Global, a: SearchArgs) -> Result<()> {
    let filter = Filter {
        words: a.words.clone(),
        limit: a.limit,
        ..Default::default()
    };
    answer_and_print(g, Query::Entries(filter), &a.words, a.json)
}

pub fn show(g: &Global, a: ShowArgs) -> Result<()> {
    let store = Unlocked::new(g)?.open(LockMode::Read)?;
    let (_, id) = unlock::resolve(&store, &a.id)?;
    // Through all_entries, so that a reveal-together answer this device may read is opened.
    let all = unlock::all_entries(&store)?;
    let e = all
        .iter()
        .find(|e| e.id == id)
        .cloned()
        .ok_or_else(|| mend_app::model::JournalError::NotFound(id.clone()))?;
    if a.json {
        return render::print_json(&render::entry_json(&e));
    }
    let mut out = render::entry_full(&e);
    for r in responses_to(&all, &e.id)
        .into_iter()
        .filter(|r| mend_app::model::shown_under_its_target(r))
    {
        out.push_str(&render::response_line(r));
    }
    Ok(render::print_all(&out)?)
}

pub fn status(g: &Global, a: StatusArgs) -> Result<()> {
    let report = match client::query(g, ReadQuery::Status) {
        Some(ReadAnswer::Status(report)) => *report,
        _ => {
            let unlocked = Unlocked::new(g)?;
            let (report, warnings) = unlocked.status_direct()?;
            crate::unlock::warn(&warnings);
            report
        }
    };
    print_status(report, a.json)
}

/// Render what `mend status` found, wherever it was computed.
pub fn print_status(report: mend_app::status::Report, json: bool) -> Result<()> {
    let mend_app::status::Report {
        about,
        status:
            mend_app::status::Status {
                people,
                shared_entries,
                private_entries: private,
                by_author,
                unacknowledged: waiting,
                open_asks: asks,
                prompts_waiting: together_waiting,
                devices,
                refusals,
                rollbacks,
                standings,
            },
    } = report;
    let now = chrono::Utc::now();
    let disk = about.disk_bytes;
    if json {
        return render::print_json(&json!({
            "person": about.person,
            "device": about.device,
            "device_key": about.device_key,
            "journal_id": about.journal_id,
            "home": about.home,
            "people": people,
            "entries": { "shared": shared_entries, "private": private, "by_author": by_author },
            "disk_bytes": disk,
            "log_records": about.log_records,
            "kdf": { "memory_kib": about.kdf_memory_kib, "time_cost": about.kdf_time_cost,
                     "parallelism": about.kdf_parallelism, "weak": about.kdf_weak },
            "unacknowledged": waiting.iter().map(|e| &e.id).collect::<Vec<_>>(),
            "prompts_waiting": together_waiting,
            "open_reassurance": asks.iter().map(|e| json!({
                "id": e.id, "by": e.author, "text": e.text,
                "waiting_seconds": (now - e.created_at).num_seconds().max(0),
            })).collect::<Vec<_>>(),
            "rollbacks": rollbacks.iter().map(|(who, n)| json!({
                "from": who, "device_key": n.device, "changes": n.count,
                "at": chrono::DateTime::from_timestamp(n.at, 0).map(|t| t.to_rfc3339()),
            })).collect::<Vec<_>>(),
            "refused": refusals.iter().map(|(who, n)| json!({
                "from": who, "device_key": n.device, "changes": n.count, "reasons": n.reasons,
                "at": chrono::DateTime::from_timestamp(n.at, 0).map(|t| t.to_rfc3339()),
            })).collect::<Vec<_>>(),
            "removed_devices": devices.iter().filter_map(|d| d.removed.as_ref().map(|r| json!({
                "person": d.person, "device": d.name, "key": d.key,
                "at": r.at.to_rfc3339(), "by": r.by, "by_device": r.by_device,
                "uncoupled": r.uncoupled,
                "this_device": d.key == about.device_key,
            }))).collect::<Vec<_>>(),
            "sync": standings.iter().map(|st| json!({
                "person": st.device.person, "device": st.device.name, "key": st.device.key,
                "last_synced": st.last_synced.map(|t| t.to_rfc3339()),
                "entries_not_sent": st.not_sent,
            })).collect::<Vec<_>>(),
        }));
    }
    for (who, n) in &refusals {
        let when = chrono::DateTime::from_timestamp(n.at, 0).unwrap_or(now);
        println!(
            "warning: {} change{} from {who} broke the journal's rules and {} refused ({} ago): {}",
            n.count,
            if n.count == 1 { "" } else { "s" },
            if n.count == 1 { "was" } else { "were" },
            human_wait(now - when),
            n.reasons.join("; ")
        );
    }
    for (who, n) in &rollbacks {
        let when = chrono::DateTime::from_timestamp(n.at, 0).unwrap_or(now);
        println!(
            "warning: this laptop's journal had been put back to an older copy: {who} gave back {} \
             change{} this laptop had made ({} ago); {} restored.",
            n.count,
            if n.count == 1 { "" } else { "s" },
            human_wait(now - when),
            if n.count == 1 { "it is" } else { "they are" },
        );
    }
    let uncoupled: Vec<_> = devices
        .iter()
        .filter(|d| d.removed.as_ref().is_some_and(|r| r.uncoupled))
        .collect();
    if let Some(r) = uncoupled.first().and_then(|d| d.removed.as_ref()) {
        println!(
            "The partnership with {} ended {}: uncoupled by {}. This laptop no longer syncs \
             with {}, and refuses what they make; both keep the journal as it was.",
            uncoupled[0].person,
            render::local(r.at),
            crate::commands::net::removed_by(&devices, r),
            uncoupled
                .iter()
                .map(|d| format!("{}'s {}", d.person, d.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for d in &devices {
        if let Some(r) = d.removed.as_ref().filter(|r| !r.uncoupled) {
            let by = crate::commands::net::removed_by(&devices, r);
            if d.key == about.device_key {
                println!(
                    "This laptop was removed from the journal {} by {by}: it keeps what it had, \
                     and writes and syncs nothing shared.",
                    render::local(r.at)
                );
            } else {
                println!(
                    "{}'s {} was removed {} by {by}; every device refuses what it makes.",
                    d.person,
                    d.name,
                    render::local(r.at)
                );
            }
        }
    }
    if !refusals.is_empty() || !rollbacks.is_empty() || devices.iter().any(|d| d.removed.is_some())
    {
        println!();
    }
    for e in &asks {
        let waited = human_wait(now - e.created_at);
        if e.author_id == about.person_id {
            println!(
                "You asked for reassurance {waited} ago; your partner will see it after a sync."
            );
        } else {
            println!(
                "{} asked for reassurance {waited} ago: {}  (mend reassure give {} TEXT)",
                render::clean(&e.author),
                if e.text.is_empty() {
                    "(no words needed)".into()
                } else {
                    render::clean(&e.text)
                },
                e.short_id()
            );
        }
    }
    if !waiting.is_empty() {
        println!("Waiting for you to hear them (mend ack ID):");
        for e in &waiting {
            let first = e.text.lines().next().unwrap_or_default();
            println!(
                "  {}  {}  {}  {}",
                e.short_id(),
                render::clean(&e.author),
                render::local(e.created_at),
                render::clean(first)
            );
        }
    }
    for p in &together_waiting {
        println!("Your partner answered `{p}` together with you: `mend together {p}` (their answer opens once you have answered too).");
    }
    if !asks.is_empty() || !waiting.is_empty() || !together_waiting.is_empty() {
        println!();
    }
    println!("You are {} on {}.", about.person, about.device);
    println!(
        "  device key  {}",
        &about.device_key[..16.min(about.device_key.len())]
    );
    println!("  journal     {}", about.journal_id);
    println!("  home        {}", about.home.display());
    println!("  people      {}", people.join(", "));
    for (i, st) in standings.iter().enumerate() {
        let label = if i == 0 {
            "  synced     "
        } else {
            "             "
        };
        let who = format!("{}'s {}", st.device.person, st.device.name);
        let line = match (st.last_synced, st.not_sent) {
            (None, _) => format!("{who}: never synced"),
            (Some(t), Some(0)) => {
                format!("{who}: {} ago; it has everything here", human_wait(now - t))
            }
            (Some(t), Some(1)) => format!(
                "{who}: {} ago; 1 entry written or changed since has not reached it yet",
                human_wait(now - t)
            ),
            (Some(t), Some(n)) => format!(
                "{who}: {} ago; {n} entries written or changed since have not reached it yet",
                human_wait(now - t)
            ),
            (Some(t), None) => format!("{who}: {} ago", human_wait(now - t)),
        };
        println!("{label} {line}");
    }
    println!("  entries     {shared_entries} shared, {private} private");
    for (who, n) in &by_author {
        println!("              {n} by {who}");
    }
    println!(
        "  on disk     {} ({} log records since the last snapshot)",
        human_bytes(disk),
        about.log_records
    );
    println!(
        "  passphrase  Argon2id, {}, {} passes",
        human_bytes(u64::from(about.kdf_memory_kib) * 1024),
        about.kdf_time_cost
    );
    if about.kdf_weak {
        println!("  warning     this device uses the cheap test key-derivation profile");
    }
    Ok(())
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

fn human_wait(d: chrono::Duration) -> String {
    crate::render::duration_words(d.num_seconds().max(0) as f64)
}
