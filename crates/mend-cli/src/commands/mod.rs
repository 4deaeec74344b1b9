//! One module per group of commands. Each validates its arguments, calls the library crates,
//! and prints.

mod demo;
mod exchange;
pub mod init;
mod lock;
mod man;
mod net;
mod pair;
mod passphrase;
mod practice_commands;
pub mod read;
mod relays;
mod service;
mod settings;
mod trends;
pub mod write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, a),
        Command::Write(a) => write::write(g, a),
        Command::Edit(a) => write::edit(g, a),
        Command::Delete(a) => write::delete(g, a),
        Command::List(a) => read::list(g, a),
        Command::Show(a) => read::show(g, a),
        Command::Search(a) => read::search(g, a),
        Command::Status(a) => read::status(g, a),
        Command::Export(a) => exchange::export(g, a),
        Command::Import(a) => exchange::import(g, a),
        Command::Passphrase(a) => passphrase::run(g, a),
        Command::Demo(a) => demo::run(a),
        Command::Prompt(a) => practice_commands::prompt(a),
        Command::Together(a) => practice_commands::together(g, a),
        Command::Reply(a) => practice_commands::reply(g, a),
        Command::Ack(a) => practice_commands::ack(g, a),
        Command::Promise(c) => practice_commands::promise(g, c),
        Command::Reassure(c) => practice_commands::reassure(g, c),
        Command::Checkin(a) => practice_commands::checkin(g, a),
        Command::Share(a) => practice_commands::share(g, a),
        Command::History(a) => practice_commands::history(g, a),
        Command::Trends(a) => trends::run(g, a),
        Command::Invite(a) => pair::invite(g, a),
        Command::Join(a) => pair::join(g, a),
        Command::Sync(a) => net::sync(g, a),
        Command::Serve(a) => net::serve(g, a),
        Command::Lock => lock::lock(g),
        Command::Unlock => lock::unlock(g),
        Command::Devices(a) => net::devices(g, a),
        Command::Uncouple(a) => net::uncouple(g, a),
        Command::Service(c) => service::run(g, c),
        Command::Config(c) => settings::run(g, c),
        Command::Relay(a) => match a.action {
            None => net::relay(g, a),
            Some(action) => relays::run(g, action),
        },
        Command::Completions(a) => {
            let mut cmd = Cli::command();
            // Into a buffer first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "mend", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(())
        }
        Command::Man(a) => man::run(a),
    }
}
