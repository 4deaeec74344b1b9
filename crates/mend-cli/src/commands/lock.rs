//! `mend lock` and `mend unlock`: make the running `mend serve` forget the key, or give it back.

use anyhow::Result;

use crate::cli::Global;
use crate::fail::fail;
use crate::local::agent::handover_bytes;
use crate::local::client::{ask, connect};
use crate::local::wire::{Reply, Request, VERSION};
use crate::unlock::Unlocked;

fn no_serve() -> anyhow::Error {
    fail(
        "no mend serve is running for this journal",
        "start one with `mend serve`; without it every command asks for the passphrase",
    )
    .into()
}

fn answered(reply: Reply) -> Result<bool> {
    match reply {
        Reply::Done { already } => Ok(already),
        Reply::Refused { why } => Err(fail(
            format!("mend serve refused: {why}"),
            "check that this is the home mend serve runs for",
        )
        .into()),
        other => Err(fail(
            format!("mend serve answered something unexpected ({other:?})"),
            "restart mend serve",
        )
        .into()),
    }
}

pub fn lock(g: &Global) -> Result<()> {
    let sock = connect(g).ok_or_else(no_serve)?;
    let reply = ask(&sock, &Request::Lock { version: VERSION }, None).map_err(|e| {
        fail(
            format!("cannot reach mend serve: {e}"),
            "restart mend serve",
        )
    })?;
    if answered(reply)? {
        println!("mend serve was already locked.");
    } else {
        println!(
            "Locked: mend serve has forgotten the key and stopped syncing; commands ask for the passphrase until `mend unlock`."
        );
    }
    Ok(())
}

pub fn unlock(g: &Global) -> Result<()> {
    let sock = connect(g).ok_or_else(no_serve)?;
    crate::unlock::OFFER_TO_SERVE.store(false, std::sync::atomic::Ordering::SeqCst);
    let unlocked = Unlocked::new(g)?;
    let bytes = handover_bytes(&unlocked.key_file.journal_id.0, &unlocked.secrets)?;
    let reply = ask(&sock, &Request::Unlock { version: VERSION }, Some(&bytes)).map_err(|e| {
        fail(
            format!("cannot reach mend serve: {e}"),
            "restart mend serve",
        )
    })?;
    if answered(reply)? {
        println!("mend serve already held the key.");
    } else {
        println!("Unlocked: mend serve holds the key again; commands need no passphrase.");
    }
    Ok(())
}
