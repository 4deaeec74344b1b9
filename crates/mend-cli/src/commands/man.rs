//! `mend man`: the manual pages, one for `mend` and one for every subcommand (`mend-write(1)`,
//! `mend-promise-add(1)`), each with ENVIRONMENT, EXIT STATUS, EXAMPLES and SEE ALSO.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;
use roff::{bold, roman, Roff};

use crate::cli::{Cli, ManArgs};
use crate::fail::fail;

/// Examples for a page, by the command's words after `mend` ("" for `mend` itself): the command
/// line and what it does.
const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "",
        &[
            ("mend init --name Alex", "start a journal on this laptop"),
            ("mend write \"We talked tonight\"", "write an entry"),
            ("mend list -n 5", "the five newest entries"),
            ("mend invite", "let your partner's laptop join"),
            (
                "mend sync",
                "sync with your partner's laptop on this network",
            ),
            ("mend demo", "a guided walkthrough on a throwaway journal"),
        ],
    ),
    (
        "init",
        &[(
            "mend init --name Alex --device alex-laptop",
            "a new journal, this laptop named alex-laptop",
        )],
    ),
    (
        "write",
        &[
            (
                "mend write \"We walked by the river and talked\"",
                "an entry from the arguments",
            ),
            ("mend write", "an entry written in $VISUAL or $EDITOR"),
            (
                "echo \"Slept badly\" | mend write --private",
                "from stdin, kept on this laptop only",
            ),
            (
                "mend write --at \"yesterday at 9pm\" \"Dinner was calm\"",
                "an entry about yesterday evening",
            ),
            (
                "mend write --kind acknowledgment",
                "a guided acknowledgment in the editor",
            ),
        ],
    ),
    (
        "list",
        &[
            ("mend list -n 10", "the ten newest entries"),
            (
                "mend list --on yesterday --author Sam",
                "what Sam wrote about yesterday",
            ),
            (
                "mend list --tag trust --since 2026-11-01",
                "entries tagged @trust since November 1",
            ),
            ("mend list --kind check-in --json", "every check-in as JSON"),
        ],
    ),
    (
        "show",
        &[(
            "mend show 81040a",
            "one entry in full, by a prefix of its id",
        )],
    ),
    (
        "edit",
        &[
            ("mend edit 81040a", "edit your entry in the editor"),
            ("mend edit 81040a --text \"New words\"", "replace its text"),
        ],
    ),
    (
        "search",
        &[
            ("mend search river", "entries with the word river"),
            (
                "mend search café calm",
                "entries with both words, however accents were typed",
            ),
        ],
    ),
    (
        "delete",
        &[(
            "mend delete 81040a",
            "retract your entry (both laptops show that it was retracted)",
        )],
    ),
    (
        "export",
        &[
            (
                "mend export > journal.json",
                "everything this laptop can read, as JSON",
            ),
            (
                "mend export --format markdown --since 2026-11-01",
                "November on, as Markdown",
            ),
        ],
    ),
    (
        "import",
        &[(
            "mend import jrnl-export.json",
            "entries from a jrnl JSON export, as yours",
        )],
    ),
    (
        "status",
        &[
            ("mend status", "what waits for you, and the last syncs"),
            ("mend status --json", "the same as JSON"),
        ],
    ),
    (
        "passphrase",
        &[("mend passphrase", "change this laptop's passphrase")],
    ),
    ("prompt", &[("mend prompt", "a question to answer today")]),
    (
        "together",
        &[(
            "mend together communicate-1",
            "answer a prompt; neither reads until both have answered",
        )],
    ),
    (
        "reply",
        &[(
            "mend reply 81040a \"Thank you for writing this\"",
            "answer your partner's entry",
        )],
    ),
    (
        "ack",
        &[("mend ack 81040a", "say you have read your partner's entry")],
    ),
    (
        "promise",
        &[("mend promise list", "every promise and its record")],
    ),
    (
        "promise add",
        &[(
            "mend promise add --every day \"I will say where I am going\"",
            "a daily promise",
        )],
    ),
    (
        "promise list",
        &[("mend promise list", "every promise with its record by week")],
    ),
    (
        "promise kept",
        &[(
            "mend promise kept 3fa2",
            "you kept it (once per day for a daily promise)",
        )],
    ),
    (
        "promise missed",
        &[(
            "mend promise missed 3fa2",
            "you missed it; it is recorded honestly",
        )],
    ),
    (
        "promise confirm",
        &[("mend promise confirm 9b1c", "you saw your partner keep it")],
    ),
    (
        "reassure",
        &[("mend reassure ask", "ask your partner for reassurance")],
    ),
    (
        "reassure ask",
        &[(
            "mend reassure ask \"Tell me we are okay\"",
            "ask, saying what would help",
        )],
    ),
    (
        "reassure give",
        &[(
            "mend reassure give 5e7d \"We are okay. I am here.\"",
            "answer your partner's request",
        )],
    ),
    (
        "checkin",
        &[(
            "mend checkin --mood 3 --feeling tired hopeful",
            "a check-in",
        )],
    ),
    (
        "share",
        &[(
            "mend share 81040a",
            "share a private draft with your partner",
        )],
    ),
    (
        "trends",
        &[
            ("mend trends --weeks 8", "the last eight weeks as charts"),
            ("mend trends --output trends.svg", "the charts as an image"),
        ],
    ),
    (
        "history",
        &[(
            "mend history 81040a",
            "every version of an entry, who signed it",
        )],
    ),
    (
        "invite",
        &[
            (
                "mend invite",
                "let your partner's first laptop join (prints a code)",
            ),
            ("mend invite --for me", "add another laptop of your own"),
        ],
    ),
    (
        "join",
        &[(
            "mend join 7-orbit-lunar-pencil --name Sam",
            "join with the code the other laptop shows",
        )],
    ),
    (
        "sync",
        &[
            (
                "mend sync",
                "sync once with the paired laptops on this network",
            ),
            (
                "mend sync --peer /ip4/192.168.1.20/tcp/4001",
                "sync with a laptop at an address",
            ),
            (
                "mend sync --relay /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…",
                "sync with a laptop on another network through a relay",
            ),
        ],
    ),
    (
        "serve",
        &[(
            "mend serve",
            "keep syncing while this runs; other commands skip the passphrase",
        )],
    ),
    (
        "lock",
        &[("mend lock", "make the running serve forget the key")],
    ),
    (
        "unlock",
        &[("mend unlock", "give the running serve the key again")],
    ),
    ("devices", &[("mend devices", "the devices of the journal")]),
    (
        "devices remove",
        &[(
            "mend devices remove sam-old-laptop",
            "remove a lost or sold laptop",
        )],
    ),
    (
        "uncouple",
        &[("mend uncouple", "end the partnership, keeping the journal")],
    ),
    (
        "service",
        &[("mend service install", "start mend serve at every login")],
    ),
    (
        "service install",
        &[
            (
                "mend service install",
                "install and start the login service",
            ),
            (
                "mend service install --print",
                "show the unit and the commands, change nothing",
            ),
        ],
    ),
    (
        "service status",
        &[(
            "mend service status",
            "is the login service installed and running?",
        )],
    ),
    (
        "service uninstall",
        &[(
            "mend service uninstall",
            "stop the login service and remove it",
        )],
    ),
    (
        "config",
        &[("mend config get", "every setting and where it comes from")],
    ),
    (
        "config get",
        &[("mend config get notify", "one setting's value")],
    ),
    (
        "config set",
        &[
            (
                "mend config set notify full",
                "notifications with the entry's first words",
            ),
            (
                "mend config set lock_after 30m",
                "serve forgets the key after 30 idle minutes",
            ),
        ],
    ),
    (
        "config path",
        &[("mend config path", "where the settings file is")],
    ),
    (
        "relay",
        &[
            (
                "mend relay --listen /ip4/0.0.0.0/tcp/4001",
                "run a relay on a machine both laptops can reach; it prints its address",
            ),
            (
                "mend serve --relay /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…",
                "stay reachable through that relay",
            ),
        ],
    ),
    (
        "relay add",
        &[(
            "mend relay add /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…",
            "remember a relay for both laptops",
        )],
    ),
    (
        "relay remove",
        &[("mend relay remove 3f9a1b2c", "forget a relay you added")],
    ),
    (
        "relay list",
        &[("mend relay list --json", "the relays the journal remembers")],
    ),
    (
        "completions",
        &[(
            "mend completions bash > ~/.local/share/bash-completion/completions/mend",
            "completions for bash",
        )],
    ),
    (
        "man",
        &[
            ("mend man write", "the page of mend write"),
            (
                "mend man --out-dir ~/.local/share/man/man1",
                "install every page",
            ),
        ],
    ),
    (
        "demo",
        &[("mend demo", "a walkthrough on a throwaway journal")],
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("MEND_HOME", "The home directory, as --home (which wins)."),
    (
        "MEND_PASSPHRASE",
        "The passphrase (also the new one for init and join). Prefer --passphrase-file or the \
         prompt: the environment can be read by other programs of the same user.",
    ),
    (
        "MEND_NEW_PASSPHRASE",
        "The new passphrase for mend passphrase.",
    ),
    (
        "MEND_INSECURE_TEST_KDF",
        "1: key files are written with the cheap test profile. Tests and demos only; a warning \
         says so.",
    ),
    (
        "VISUAL, EDITOR",
        "The editor, VISUAL first, else EDITOR, else vi.",
    ),
    (
        "NO_COLOR",
        "Set and not empty: no colour. Colour is used only on a terminal.",
    ),
    (
        "RUST_LOG",
        "Diagnostic logs on stderr, such as RUST_LOG=debug. Never entry text.",
    ),
    ("TZ", "Times are shown in this time zone."),
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "An error: stderr says what happened (error:) and what to do next (hint:). Nothing was \
         written.",
    ),
    ("2", "A usage error found while reading the arguments."),
    ("101", "An internal error in mend (a bug)."),
    (
        "129, 143",
        "Hung up or terminated while the editor was open: the draft was removed.",
    ),
    (
        "141",
        "The output's reader went away; the command ended quietly.",
    ),
];

/// The words after `mend` that name `cmd` (`promise add`), from its display name.
fn words_of(cmd: &clap::Command) -> String {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    name.strip_prefix("mend")
        .unwrap_or(name)
        .trim_start_matches('-')
        .replace('-', " ")
}

/// A section of tagged paragraphs: each item's term in bold, then what it means.
fn section(r: &mut Roff, title: &str, items: &[(&str, &str)]) {
    r.control("SH", [title]);
    for (term, what) in items {
        r.control("TP", [] as [&str; 0]);
        r.text([bold(*term)]);
        r.text([roman(*what)]);
    }
}

fn extra_sections(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    section(&mut r, "ENVIRONMENT", ENVIRONMENT);
    section(&mut r, "EXIT STATUS", EXIT_STATUS);
    let words = words_of(cmd);
    if let Some((_, examples)) = EXAMPLES.iter().find(|(w, _)| *w == words) {
        section(&mut r, "EXAMPLES", examples);
    }
    r.control("SH", ["SEE ALSO"]);
    let mut see: Vec<String> = Vec::new();
    if words.is_empty() {
        see.extend(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| format!("mend-{}(1)", s.get_name())),
        );
    } else {
        see.push("mend(1)".into());
        see.extend(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| format!("{}-{}(1)", page_name(cmd), s.get_name())),
        );
    }
    r.text([roman(see.join(", "))]);
    r
}

/// The page's name: `mend`, `mend-write`, `mend-promise-add`.
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned()
}

/// One page, in roff.
fn page(cmd: &clap::Command) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    let mut extra = extra_sections(cmd);
    extra.control("SH", ["VERSION"]);
    extra.text([roman(concat!("mend ", env!("CARGO_PKG_VERSION")))]);
    extra.to_writer(&mut out)?;
    Ok(out)
}

/// Every page: `mend` and each subcommand, deepest first.
fn all_pages(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        all_pages(sub, out)?;
    }
    out.push((page_name(cmd), page(cmd)?));
    Ok(())
}

fn built() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `mend man [COMMAND...] [--out-dir DIR]`.
pub fn run(a: ManArgs) -> Result<()> {
    let root = built();
    if let Some(dir) = a.out_dir {
        return write_all(&root, &dir);
    }
    let mut cmd = &root;
    for word in &a.command {
        cmd = cmd.find_subcommand(word).ok_or_else(|| {
            fail(
                format!("there is no command `mend {}`", a.command.join(" ")),
                format!(
                    "the commands are: {}",
                    cmd.get_subcommands()
                        .filter(|s| !s.is_hide_set())
                        .map(|s| s.get_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    }
    let text = page(cmd)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

fn write_all(root: &clap::Command, dir: &Path) -> Result<()> {
    let mut pages = Vec::new();
    all_pages(root, &mut pages)?;
    // Made before anything is written, so that a directory that cannot be made writes nothing.
    std::fs::create_dir_all(dir).map_err(|e| {
        fail(
            format!("cannot create {}: {e}", dir.display()),
            "choose a directory you may write in, such as ~/.local/share/man/man1",
        )
    })?;
    for (name, text) in &pages {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, text).map_err(|e| {
            fail(
                format!("cannot write {}: {e}", path.display()),
                "choose a directory you may write in, such as ~/.local/share/man/man1",
            )
        })?;
    }
    println!("Wrote {} manual pages to {}", pages.len(), dir.display());
    Ok(())
}
