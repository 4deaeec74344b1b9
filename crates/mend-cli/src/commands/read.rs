use std::collections::BTreeMap;

use anyhow::Result;
use chrono::Local;
use mend_journal::{normalize_tag, Filter};
use mend_store::{Access, Doc};
use serde_json::json;

use crate::cli::{Global, ListArgs, SearchArgs, ShowArgs, StatusArgs};
use crate::dates::parse_when;
use crate::render;
use crate::session::{self, Unlocked};

/// Build a filter from list-like arguments, before any passphrase is asked for.
pub fn filter_from(a: &ListArgs) -> Result<Filter> {
    let now = Local::now();
    Ok(Filter {
        since: a.since.as_deref().map(|s| parse_when(s, now)).transpose()?,
        until: a.until.as_deref().map(|s| parse_when(s, now)).transpose()?,
        author: a.author.clone(),
        tag: a
            .tag
            .as_deref()
            .map(|t| normalize_tag(t).unwrap_or_default()),
        kind: a.kind.clone(),
        private_only: a.private,
        words: Vec::new(),
        limit: a.limit,
    })
}

fn print_entries(entries: &[mend_journal::Entry], words: &[String], json: bool) -> Result<()> {
    if json {
        return render::print_json(&json!(entries
            .iter()
            .map(render::entry_json)
            .collect::<Vec<_>>()));
    }
    if entries.is_empty() {
        eprintln!("no entries");
    }
    for e in entries {
        anstream::println!("{}", render::entry_block(e, words, !words.is_empty()));
    }
    Ok(())
}

pub fn list(g: &Global, a: ListArgs) -> Result<()> {
    let filter = filter_from(&a)?;
    let store = Unlocked::new(g)?.open(Access::Read)?;
    let entries = filter.apply(session::all_entries(&store)?);
    print_entries(&entries, &[], a.json)
}

pub fn search(g: &Global, a: SearchArgs) -> Result<()> {
    let filter = Filter {
        words: a.words.clone(),
        limit: a.limit,
        ..Default::default()
    };
    let store = Unlocked::new(g)?.open(Access::Read)?;
    let entries = filter.apply(session::all_entries(&store)?);
    print_entries(&entries, &a.words, a.json)
}

pub fn show(g: &Global, a: ShowArgs) -> Result<()> {
    let store = Unlocked::new(g)?.open(Access::Read)?;
    let (doc, id) = session::resolve(&store, &a.id)?;
    let e = store.journal(doc).entry(&id)?;
    if a.json {
        return render::print_json(&render::entry_json(&e));
    }
    anstream::print!("{}", render::entry_full(&e));
    Ok(())
}

pub fn status(g: &Global, a: StatusArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let store = unlocked.open(Access::Read)?;
    let shared = store.journal(Doc::Shared);
    let mut by_author: BTreeMap<String, usize> = BTreeMap::new();
    for e in shared.entries()? {
        *by_author.entry(e.author).or_default() += 1;
    }
    let people: Vec<String> = shared.people()?.into_iter().map(|p| p.name).collect();
    let private = store.journal(Doc::Private).len();
    let s = &unlocked.secrets;
    let params = unlocked.key_file.params;
    let disk = unlocked.home.disk_usage();
    let log = store.stats(Doc::Shared);
    if a.json {
        return render::print_json(&json!({
            "person": s.person_name,
            "device": s.device_name,
            "device_key": s.public_key_hex(),
            "journal_id": store.journal_id().to_hex(),
            "home": unlocked.home_path(),
            "people": people,
            "entries": { "shared": shared.len(), "private": private, "by_author": by_author },
            "disk_bytes": disk,
            "log_records": log.log_records,
            "kdf": { "memory_kib": params.memory_kib, "time_cost": params.time_cost,
                     "parallelism": params.parallelism, "weak": params.is_weak() },
        }));
    }
    println!("You are {} on {}.", s.person_name, s.device_name);
    println!("  device key  {}", &s.public_key_hex()[..16]);
    println!("  journal     {}", store.journal_id());
    println!("  home        {}", unlocked.home_path().display());
    println!("  people      {}", people.join(", "));
    println!("  entries     {} shared, {} private", shared.len(), private);
    for (who, n) in &by_author {
        println!("              {n} by {who}");
    }
    println!(
        "  on disk     {} ({} log records since the last snapshot)",
        human_bytes(disk),
        log.log_records
    );
    println!(
        "  passphrase  Argon2id, {}, {} passes",
        human_bytes(u64::from(params.memory_kib) * 1024),
        params.time_cost
    );
    if params.is_weak() {
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
