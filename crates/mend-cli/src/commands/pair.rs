//! `mend invite` and `mend join`: arguments to mend-node's pairing, and what it reports,
//! printed.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use mend_app::pairing::InviteFor as Whom;
use mend_node::pairing::{self, Inviting, JoinOptions, Joined, PairWatcher, ToConfirm};

use crate::cli::{Global, InviteArgs, InviteFor, JoinArgs, NetArgs};
use crate::commands::init::{check_name, default_device_name};
use crate::passphrase;
use crate::unlock::{self, Unlocked};

/// The network options as `--listen`, `--peer`, `--no-mdns` and `--relay` give them, with
/// the relays of this laptop's settings (`mend config`) after those given.
pub fn net_options(a: &NetArgs) -> Result<mend_node::NetOptions> {
    let mut relays = a.relay.clone();
    for r in crate::commands::settings::load()?.relays {
        if !relays.contains(&r) {
            relays.push(r);
        }
    }
    Ok(mend_node::NetOptions {
        listen: a.listen.clone(),
        peers: a.peer.clone(),
        no_mdns: a.no_mdns,
        relays,
    })
}

/// What pairing reports, printed; the verifier asked on the terminal.
struct Printer;

impl PairWatcher for Printer {
    fn inviting(&self, i: &Inviting) {
        println!("Invite code: {}", i.code);
        match i.for_whom {
            Whom::Partner => println!(
                "This code adds your partner's first device: your partner joins the journal.\n\
                 On your partner's laptop, run:\n  mend join {} --name THEIR_NAME",
                i.code
            ),
            Whom::Me => println!(
                "This code adds another device of yours ({}).\n\
                 On that device, run:\n  mend join {} --name {}",
                i.inviter, i.code, i.inviter
            ),
        }
        let (relayed, here): (Vec<&String>, Vec<&String>) =
            i.addrs.iter().partition(|a| a.contains("/p2p-circuit/"));
        println!("This device listens on:");
        for a in here {
            println!("  {a}");
        }
        if !relayed.is_empty() {
            println!("From another network, add to the join command:");
            for a in relayed {
                println!("  --peer {a}");
            }
        }
        println!(
            "Waiting up to {} for one device to join (Ctrl-C to stop).",
            mend_node::human_duration(i.timeout)
        );
    }

    fn confirm(&self, j: &ToConfirm) -> Option<bool> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        print!(
            "A device calling itself {}'s \"{}\" has the code. Does its screen show the verifier {}? [y/N] ",
            j.person, j.device, j.verifier
        );
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut answer = String::new();
        Some(
            std::io::stdin()
                .read_line(&mut answer)
                .is_ok_and(|_| matches!(answer.trim(), "y" | "Y" | "yes")),
        )
    }

    fn paired(&self, person: &str, device: &str, verifier: &str) {
        println!(
            "Paired with {person}'s device \"{device}\". Verifier: {verifier} (check that the other screen shows the same)."
        );
    }

    fn verifier(&self, v: &str) {
        println!(
            "Verifier: {v}. The inviting laptop asks whether its screen shows the same; waiting for it…"
        );
    }

    fn joined(&self, j: &Joined) {
        println!(
            "Joined {}'s journal as {} on \"{}\". Verifier: {} (check that the other screen shows the same).",
            j.inviter, j.person, j.device, j.verifier
        );
        if let Some(name) = &j.name_not_used {
            println!(
                "The invite was for another device of {}'s, so this device is {}'s; --name {name} was not used.",
                j.person, j.person
            );
        }
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

pub fn invite(g: &Global, a: InviteArgs) -> Result<()> {
    let unlocked = Unlocked::new(g)?;
    let opts = pairing::InviteOptions {
        for_whom: a.for_whom.map(|f| match f {
            InviteFor::Partner => Whom::Partner,
            InviteFor::Me => Whom::Me,
        }),
        timeout: Duration::from_secs(a.timeout),
        yes: a.yes,
        net: net_options(&a.net)?,
    };
    let entries = mend_node::runtime()?.block_on(pairing::invite(
        unlocked.into_device(),
        unlock::warn,
        opts,
        &Printer,
    ))?;
    println!("The new device has the journal ({entries} entries). Done.");
    Ok(())
}

pub fn join(g: &Global, a: JoinArgs) -> Result<()> {
    let home = unlock::home(g)?;
    mend_app::device::check_uninitialised(&home)?;
    let net = net_options(&a.net)?;
    pairing::check_join(&a.code, &net)?;
    let name = check_name("your name", &a.name)?;
    let device = check_name(
        "the device name",
        &a.device.clone().unwrap_or_else(default_device_name),
    )?;
    let pass = passphrase::choose(g.passphrase_file.as_deref(), passphrase::ENV_PASSPHRASE)?;
    let params = passphrase::kdf_params()?;
    let opts = JoinOptions {
        code: a.code,
        name,
        device,
        timeout: Duration::from_secs(a.timeout),
        net,
    };
    let outcome = mend_node::runtime()?.block_on(pairing::join(
        home,
        opts,
        pass,
        params,
        unlock::warn,
        &Printer,
    ))?;
    println!(
        "Received the journal: {} in {}.",
        crate::render::count(outcome.entries_received, "entry", "entries"),
        mend_node::human_duration(outcome.elapsed)
    );
    Ok(())
}
