//! `mend relay add|remove|list`: the relays the journal remembers.

use anyhow::Result;
use chrono::Utc;
use mend_app::store::LockMode;
use serde_json::json;

use crate::cli::{Global, RelayAction, RelayAddrArgs, RelayListArgs};
use crate::render;
use crate::unlock::Unlocked;

pub fn run(g: &Global, action: RelayAction) -> Result<()> {
    match action {
        RelayAction::Add(a) => add(g, a),
        RelayAction::Remove(a) => remove(g, a),
        RelayAction::List(a) => list(g, a),
    }
}

fn add(g: &Global, a: RelayAddrArgs) -> Result<()> {
    // Said before any passphrase is asked for.
    mend_app::relays::check_addr(&a.addr)?;
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.person_id.clone();
    let mut store = unlocked.open(LockMode::Write)?;
    let relay = mend_app::relays::add(&mut store, &me, &a.addr, Utc::now())?;
    println!(
        "Remembered relay {} (your laptops and your partner's use it after the next sync)",
        render::clean(&relay.addr)
    );
    Ok(())
}

fn remove(g: &Global, a: RelayAddrArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let me = unlocked.secrets.person_id.clone();
    let mut store = unlocked.open(LockMode::Write)?;
    let relay = mend_app::relays::remove(&mut store, &me, &a.addr, Utc::now())?;
    println!(
        "Forgot relay {} (your laptops and your partner's stop using it after the next sync)",
        render::clean(&relay.addr)
    );
    Ok(())
}

fn list(g: &Global, a: RelayListArgs) -> Result<()> {
    let shared = Unlocked::new(g)?.read_documents()?.shared;
    let relays = mend_app::relays::relays(&shared);
    if a.json {
        return render::print_json(&json!(relays
            .iter()
            .map(|r| json!({
                "id": r.id,
                "addr": r.addr,
                "added_by": r.added_by,
                "added_at": r.added_at.to_rfc3339(),
            }))
            .collect::<Vec<_>>()));
    }
    if relays.is_empty() {
        println!("No relays remembered. Add one with `mend relay add ADDR`.");
        return Ok(());
    }
    for r in &relays {
        println!(
            "{}  added by {} on {}  ({})",
            render::clean(&r.addr),
            render::clean(&r.added_by),
            render::local(r.added_at),
            render::short(&r.id)
        );
    }
    Ok(())
}
