//! mend: the command line of Mend, an end-to-end-encrypted journal for two partners.
//!
//! This crate parses arguments, validates them, calls the library crates (mend-store,
//! mend-journal, mend-crypto) and prints. Errors a user can cause are printed as one line saying
//! what happened and one saying what to do next, never as a stack trace.

mod charts;
mod cli;
mod commands;
mod dates;
mod editor;
mod fail;
mod local;
mod notify;
mod passphrase;
mod render;
mod unlock;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // `println!` to a pipe whose reader is gone (`mend status | head -1`): end quietly,
        // as a program killed by SIGPIPE would.
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(fail::BROKEN_PIPE_EXIT);
        }
        eprintln!("error: internal error in mend: {msg}");
        eprintln!("hint: nothing more was written; please report this with the command you ran");
    }));
    bound_allocator_growth();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    render::set_pager(!cli.global.no_pager);
    if let Some(code) = local::client::forward(&cli) {
        return code;
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if fail::is_broken_pipe(&err) => ExitCode::from(fail::BROKEN_PIPE_EXIT as u8),
        Err(err) => {
            let (what, hint) = fail::explain(&err);
            anstream::eprintln!("{} {what}", owo_colors::OwoColorize::red(&"error:"));
            anstream::eprintln!("{} {hint}", owo_colors::OwoColorize::dimmed(&"hint:"));
            ExitCode::FAILURE
        }
    }
}

/// Large buffers (a peer's sync message can be tens of MiB) go straight to the system and back
/// when freed. glibc otherwise raises its mmap threshold after the first large free and then
/// serves such buffers from per-thread heaps that keep the memory: a serving laptop receiving
/// a few large messages grew by hundreds of MB that way.
fn bound_allocator_growth() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
