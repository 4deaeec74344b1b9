//! The command line, as clap sees it. Parsing only: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// An end-to-end-encrypted journal for two partners rebuilding trust.
///
/// Everything on disk is sealed; the passphrase is asked for on the terminal, or read from
/// MEND_PASSPHRASE or --passphrase-file (never from the command line).
#[derive(Debug, Parser)]
#[command(name = "mend", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Directory holding this device's journal [default: the platform data dir]
    #[arg(long, global = true, env = "MEND_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Read the passphrase from the first line of FILE (for scripts)
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Print long output straight to the terminal, not through $MEND_PAGER or $PAGER
    #[arg(long, global = true)]
    pub no_pager: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create this device and a new journal
    Init(InitArgs),
    /// Write an entry (from arguments, from stdin when piped, or in $EDITOR)
    Write(WriteArgs),
    /// List entries, newest first
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show one entry in full (any unique id prefix)
    Show(ShowArgs),
    /// Edit one of your entries (in $EDITOR, or with --text)
    Edit(EditArgs),
    /// Find entries containing all of the given words (case-insensitive)
    Search(SearchArgs),
    /// Retract one of your shared entries (its words stay in the history), or delete a private one
    Delete(DeleteArgs),
    /// Print the journal as JSON (lossless) or Markdown
    Export(ExportArgs),
    /// Import Mend's own JSON export or jrnl's (`jrnl --export json`)
    Import(ImportArgs),
    /// This device, its journal, and how much is in it
    Status(StatusArgs),
    /// Change this device's passphrase (re-wraps the key; entries are not re-encrypted)
    Passphrase(PassphraseArgs),
    /// Suggest today's prompt (practices rotate daily), or one for a practice
    Prompt(PromptArgs),
    /// Answer a prompt together: neither can read the other's answer until both have answered
    Together(TogetherArgs),
    /// Reply to an entry (a reply is its own entry, shown under the one it answers)
    Reply(ReplyArgs),
    /// "I hear you": let your partner know you read their entry
    Ack(AckArgs),
    /// Promises: make one, record it kept or missed, confirm your partner's
    #[command(subcommand)]
    Promise(PromiseCommand),
    /// Ask for reassurance, or give it
    #[command(subcommand)]
    Reassure(ReassureCommand),
    /// Check in: how you are today, from 1 to 5
    Checkin(CheckinArgs),
    /// Share one of your private entries with your partner
    Share(IdArgs),
    /// Weekly charts: each partner's mood, promises kept/missed/confirmed, reassurance
    Trends(TrendsArgs),
    /// Every version of an entry, from the journal's own history
    History(HistoryArgs),
    /// Invite a partner's device: prints a one-time code, then waits for it to join
    Invite(InviteArgs),
    /// Join a partner's journal with the code their `mend invite` printed
    Join(JoinArgs),
    /// Sync once with paired devices on this network (or --peer), then exit
    Sync(SyncArgs),
    /// Stay up and keep paired devices in sync whenever they are reachable; while it runs, other
    /// commands on this home run through it and need no passphrase
    Serve(ServeArgs),
    /// Make the running `mend serve` forget the key (commands ask for the passphrase again)
    Lock,
    /// Give the running `mend serve` the key again (the passphrase from the usual sources)
    Unlock,
    /// List the devices paired with this journal, or remove one (`mend devices remove NAME`)
    Devices(DevicesArgs),
    /// End the partnership: stop sharing with the other person's devices, keep the journal
    Uncouple(UncoupleArgs),
    /// Run a relay for laptops on different networks (`mend relay`), or remember the relays
    /// your laptops use (`mend relay add|remove|list`)
    Relay(RelayArgs),
    /// Start `mend serve` at login: a systemd user unit (Linux) or a launchd agent (macOS)
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Settings of this laptop (a TOML file in the config directory): `mend config get|set`
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print a manual page (roff): `mend man`, `mend man write`; or write every page
    Man(ManArgs),
    /// A guided walkthrough on a throwaway journal in a temporary directory
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Your name, as your partner will see it
    #[arg(long)]
    pub name: String,
    /// A name for this device [default: the host name]
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Debug, Args)]
pub struct EntryFields {
    /// When the entry is about: "yesterday 21:00", "yesterday at 9pm", "2026-11-20 08:00",
    /// "last friday"
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    /// Allow `--at` to be in the future
    #[arg(long)]
    pub future: bool,
    /// Add a tag (repeatable); `@tags` in the text are picked up too
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,
    /// How you feel, from 1 (very low) to 5 (very good)
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub mood: Option<u8>,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The text; without it, stdin when piped, else $EDITOR
    pub text: Vec<String>,
    #[command(flatten)]
    pub fields: EntryFields,
    /// Keep it on this device only (a private draft, never synced)
    #[arg(long)]
    pub private: bool,
    /// What kind of entry: a plain entry, or an acknowledgment (opens a guided template)
    #[arg(long, value_enum, default_value = "entry")]
    pub kind: WriteKind,
    /// Answer a prompt (`mend prompt` suggests one); its question is shown above your answer
    #[arg(long, value_name = "PROMPT_ID")]
    pub prompt: Option<String>,
    /// Open the draft kept when words from the editor could not be saved, and save it
    #[arg(long, conflicts_with = "text")]
    pub recover: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum WriteKind {
    Entry,
    Acknowledgment,
}

#[derive(Debug, Args, Default)]
pub struct ListArgs {
    /// Show at most N entries
    #[arg(short = 'n', long = "number", value_name = "N")]
    pub limit: Option<usize>,
    /// Only entries about this moment or later; a day ("today", "2026-01-01") from its start
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries about this moment or earlier; a day ("yesterday") through its end
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only entries about this day ("today", "2026-11-28", "last friday")
    #[arg(long, value_name = "DAY", conflicts_with_all = ["since", "until"])]
    pub on: Option<String>,
    /// Only entries by this person
    #[arg(long, value_name = "NAME")]
    pub author: Option<String>,
    /// Only entries with this tag
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only entries of this kind
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only private entries
    #[arg(long)]
    pub private: bool,
    /// Print JSON (see docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Entry id or a unique prefix of it
    pub id: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Entry id or a unique prefix of it
    pub id: String,
    /// The new text (instead of opening $EDITOR)
    #[arg(long)]
    pub text: Option<String>,
    #[command(flatten)]
    pub fields: EntryFields,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words that must all appear
    #[arg(required = true)]
    pub words: Vec<String>,
    /// Show at most N entries
    #[arg(short = 'n', long = "number", value_name = "N")]
    pub limit: Option<usize>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Entry id or a unique prefix of it
    pub id: String,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "json")]
    pub format: ExportFormat,
    /// Only entries about this moment or later; a day from its start
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries about this moment or earlier; a day through its end
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only entries about this day
    #[arg(long, value_name = "DAY", conflicts_with_all = ["since", "until"])]
    pub on: Option<String>,
    /// Leave out private entries
    #[arg(long)]
    pub shared_only: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A Mend JSON export or a jrnl JSON export
    pub file: PathBuf,
    /// Import every entry as private (kept on this device)
    #[arg(long)]
    pub private: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the new passphrase from the first line of FILE (else MEND_NEW_PASSPHRASE, else asked)
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`write`, `promise add`); none for `mend` itself
    pub command: Vec<String>,
    /// Write every page (`mend.1`, `mend-write.1`, …) into DIR instead
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's home in DIR instead of deleting it
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// Where and how to reach other devices.
#[derive(Debug, Args, Clone)]
pub struct NetArgs {
    /// Address to listen on (repeatable) [default: /ip4/0.0.0.0/tcp/0]
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// Talk to this address instead of looking on the local network (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    pub peer: Vec<String>,
    /// Do not look for devices on the local network (mDNS)
    #[arg(long)]
    pub no_mdns: bool,
    /// Reach devices on other networks through this relay (repeatable), as `mend relay`
    /// printed it, with its /p2p/ id; the relays the journal remembers are used too
    #[arg(long, value_name = "MULTIADDR")]
    pub relay: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    #[command(subcommand)]
    pub action: Option<RelayAction>,
    /// Address to listen on when running a relay (repeatable) [default: /ip4/0.0.0.0/tcp/4001
    /// and /ip6/::/tcp/4001]
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// The address laptops reach this relay at, when it is not one it listens on (a forwarded
    /// port, a public address) (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    pub external: Vec<String>,
    /// Only this device may use the relay (repeatable; its peer id, as `mend devices` shows
    /// it) [default: any device]
    #[arg(long, value_name = "PEER_ID")]
    pub allow: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum RelayAction {
    /// Remember a relay in the journal, so both partners' laptops use it after a sync
    Add(RelayAddrArgs),
    /// Forget a relay you added
    Remove(RelayAddrArgs),
    /// The relays the journal remembers
    List(RelayListArgs),
}

#[derive(Debug, Args)]
pub struct RelayAddrArgs {
    /// The relay's address as `mend relay` printed it, ending in /p2p/<its id>
    pub addr: String,
}

#[derive(Debug, Args)]
pub struct RelayListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InviteArgs {
    /// Whose device may join: your partner's first device (the default while the journal has
    /// one person), or another of your own (`me`, the default once your partner has joined)
    #[arg(long = "for", value_enum, value_name = "WHOM")]
    pub for_whom: Option<InviteFor>,
    #[command(flatten)]
    pub net: NetArgs,
    /// How long to wait for the partner's device, in seconds
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
    /// Send the journal without asking whether both screens show the same verifier (for
    /// scripts; without a terminal nothing is sent unless this is given)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Whose device an invite admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InviteFor {
    /// Your partner's first device: your partner joins the journal
    Partner,
    /// Another device of your own
    Me,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The code shown by `mend invite`, such as 7-orbit-lunar-pencil
    pub code: String,
    /// Your name, as your partner will see it (when you join as the partner; a device you add
    /// for yourself takes the name you already have)
    #[arg(long)]
    pub name: String,
    /// A name for this device [default: the host name]
    #[arg(long)]
    pub device: Option<String>,
    #[command(flatten)]
    pub net: NetArgs,
    /// How long to look for the inviting device, in seconds
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Give up when no paired device answers within this many seconds
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Forget the key after this long without a command ("15m", "2h", "90s") [default: the
    /// config's lock_after, else never]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lock_after: Option<std::time::Duration>,
    /// Start without the key: the first command that gets the passphrase (or `mend unlock`)
    /// hands it over (as the login service starts it)
    #[arg(long)]
    pub locked: bool,
    /// Raise no desktop notifications for what the partner sends
    #[arg(long)]
    pub no_notify: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Install and start the login service that runs `mend serve --locked`
    Install(ServiceInstallArgs),
    /// Whether the login service is installed and running
    Status,
    /// Stop and remove the login service
    Uninstall(ServicePrintArgs),
}

#[derive(Debug, Args)]
pub struct ServiceInstallArgs {
    /// Print the unit (or agent) file and what would be run, and change nothing
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct ServicePrintArgs {
    /// Print what would be run, and change nothing
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print one setting, or every setting with its value and where it comes from
    Get(ConfigGetArgs),
    /// Change a setting (checked first; the file keeps its comments)
    Set(ConfigSetArgs),
    /// Print the config file's path
    Path,
}

#[derive(Debug, Args)]
pub struct ConfigGetArgs {
    /// The setting (notify, lock_after, relays); none: all of them
    pub key: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigSetArgs {
    /// The setting: notify, lock_after or relays
    pub key: String,
    /// Its value: notify on|off|full; lock_after a duration ("15m") or never; relays a
    /// comma-separated list of relay addresses (empty: none)
    pub value: String,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    pub action: Option<DevicesAction>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DevicesAction {
    /// Remove a lost, stolen or sold device: every device refuses what it makes afterwards
    Remove(RemoveDeviceArgs),
}

#[derive(Debug, Args)]
pub struct UncoupleArgs {
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RemoveDeviceArgs {
    /// The device's name (as `mend devices` shows it), or the start of its key or peer id
    pub device: String,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Entry id or a unique prefix of it
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// The entry you answer (id or prefix)
    pub id: String,
    /// The reply; without it, stdin when piped, else $EDITOR
    pub text: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    /// Your partner's entry (id or prefix)
    pub id: String,
    /// A few words to go with it
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PromiseCommand {
    /// Make a promise
    Add(PromiseAddArgs),
    /// Every promise with its record over time
    List(PromiseListArgs),
    /// You kept your promise (this time)
    Kept(PromiseEventArgs),
    /// You missed your promise (this time); it is recorded honestly
    Missed(PromiseEventArgs),
    /// You saw your partner keep their promise
    Confirm(PromiseEventArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Every {
    Day,
    Week,
}

#[derive(Debug, Args)]
pub struct PromiseAddArgs {
    /// What you promise
    #[arg(required = true)]
    pub text: Vec<String>,
    /// It recurs every day or every week
    #[arg(long, value_enum)]
    pub every: Option<Every>,
    /// Until when ("2026-12-31", "in 3 weeks")
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromiseListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PromiseEventArgs {
    /// The promise (id or prefix)
    pub id: String,
    /// A few words about it
    #[arg(long)]
    pub note: Option<String>,
    /// When it happened [default: now]
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReassureCommand {
    /// Ask your partner for reassurance
    Ask(ReassureAskArgs),
    /// Answer your partner's request
    Give(ReassureGiveArgs),
}

#[derive(Debug, Args)]
pub struct ReassureAskArgs {
    /// What would help (optional)
    pub text: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReassureGiveArgs {
    /// The request (id or prefix)
    pub id: String,
    /// Your words
    #[arg(required = true)]
    pub text: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckinArgs {
    /// How you are, from 1 (very low) to 5 (very good)
    #[arg(long, required = true, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub mood: u8,
    /// Feelings, one word each (repeatable, or several after one flag)
    #[arg(long = "feeling", num_args = 1.., value_name = "WORD")]
    pub feelings: Vec<String>,
    /// A note
    #[arg(long)]
    pub note: Option<String>,
    /// When [default: now]
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Entry id or a unique prefix of it
    pub id: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PromptArgs {
    /// acknowledge, communicate, act, intimacy, reassurance or accountability
    #[arg(long)]
    pub practice: Option<String>,
    /// Every prompt in the catalogue
    #[arg(long)]
    pub all: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TogetherArgs {
    /// The prompt you both answer (`mend prompt` suggests one)
    pub prompt: String,
    /// Your answer; without it, stdin when piped, else $EDITOR
    pub text: Vec<String>,
    /// Answer again in a new round, though you answered this prompt before
    #[arg(long)]
    pub again: bool,
}

#[derive(Debug, Args)]
pub struct TrendsArgs {
    /// How many weeks, up to this one
    #[arg(long, default_value_t = 12)]
    pub weeks: usize,
    /// Write the charts to an image instead: SVG or PNG, by the file's extension
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub output: Option<PathBuf>,
    /// Print the figures as JSON
    #[arg(long)]
    pub json: bool,
}
