//! This laptop's settings: a small TOML file in the platform's config directory
//! (`$MEND_CONFIG`, else `mend/config.toml` under [`dirs::config_dir`]), read by every front end
//! and changed by `mend config set`.
//!
//! Three settings, and nothing else in the file: `notify` (what a desktop notification says),
//! `lock_after` (when a running `mend serve` forgets the key without `--lock-after`) and
//! `relays` (relay addresses this laptop uses besides those the journal remembers). A missing
//! file means every default; reading never creates it. A change is checked before anything is
//! written, then written with `toml_edit` (the file keeps its comments and layout) to a
//! temporary file in the same directory, synced and renamed over the old one.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use toml_edit::{Array, Document, DocumentMut, Item, Value};

use crate::AppError;

/// The environment variable naming the settings file (a file path); it wins over the
/// platform's config directory.
pub const ENV: &str = "MEND_CONFIG";

/// The largest settings file read, in bytes.
pub const FILE_MAX_BYTES: u64 = 64 * 1024;

/// The most relays the settings list.
pub const RELAYS_MAX: usize = 24;

/// The longest relay address, in bytes (as the journal's, [`mend_journal::RELAY_ADDR_MAX_BYTES`]).
pub const RELAY_MAX_BYTES: usize = mend_journal::RELAY_ADDR_MAX_BYTES;

/// The shortest `lock_after`.
pub const LOCK_AFTER_MIN: Duration = Duration::from_secs(1);

/// The longest `lock_after`: 366 days (so that humantime's `1y`, 365.25 days, fits).
pub const LOCK_AFTER_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// What a desktop notification raised by `mend serve` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    /// The kind of entry and the partner's name, never an entry's words.
    #[default]
    On,
    /// No notifications.
    Off,
    /// Also the entry's first words.
    Full,
}

impl Notify {
    /// As written in the file: `on`, `off` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::On => "on",
            Notify::Off => "off",
            Notify::Full => "full",
        }
    }
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// This laptop's settings. `Default` is what a missing file means.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub notify: Notify,
    /// `None`: never.
    pub lock_after: Option<Duration>,
    /// Relay multiaddrs (each ending in `/p2p/<id>`), each once, in the file's order.
    pub relays: Vec<String>,
}

/// One of the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Notify,
    LockAfter,
    Relays,
}

impl Key {
    /// Every setting, in the order they are shown.
    pub const ALL: [Key; 3] = [Key::Notify, Key::LockAfter, Key::Relays];

    /// Its name in the file and in `mend config`.
    pub fn name(self) -> &'static str {
        match self {
            Key::Notify => "notify",
            Key::LockAfter => "lock_after",
            Key::Relays => "relays",
        }
    }

    /// What a value of it must be, as error messages say it.
    pub fn expected(self) -> &'static str {
        match self {
            Key::Notify => "on, off or full",
            Key::LockAfter => "a duration from 1s to 1y, such as 15m or 2h, or never",
            Key::Relays => "a list of relay addresses (in the file, an array of strings)",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Key {
    type Err = AppError;

    /// A setting by its name; anything else is [`AppError::UnknownSetting`] (with no place).
    fn from_str(name: &str) -> Result<Key, AppError> {
        Key::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| AppError::UnknownSetting {
                key: name.to_owned(),
                at: None,
            })
    }
}

/// The names of every setting, as error messages list them: `notify, lock_after, relays`.
pub fn known_keys() -> String {
    Key::ALL.map(Key::name).join(", ")
}

/// Where a setting stands in the settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlace {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
}

impl fmt::Display for FilePlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.path.display(), self.line)
    }
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
}

impl Source {
    /// `default` or `file` (as `mend config get --json` says it).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
        }
    }
}

/// The settings as read, with which of them the file sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub settings: Settings,
    in_file: [bool; 3],
}

impl Config {
    /// Whether `key` comes from the file or is the default.
    pub fn source(&self, key: Key) -> Source {
        if self.in_file[key.index()] {
            Source::File
        } else {
            Source::Default
        }
    }
}

/// The settings file's path: `$MEND_CONFIG` when set and not empty, else `mend/config.toml` in
/// the platform's config directory (`$XDG_CONFIG_HOME`, else `~/.config`, on Linux); `None`
/// when there is neither.
pub fn path() -> Option<PathBuf> {
    path_from(std::env::var_os(ENV), dirs::config_dir)
}

fn path_from(
    env: Option<std::ffi::OsString>,
    config_dir: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    match env {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => config_dir().map(|d| d.join("mend").join("config.toml")),
    }
}

/// The settings in the file at `path`, with their sources; a missing file is every default.
pub fn read(path: &Path) -> Result<Config, AppError> {
    match read_text(path)? {
        None => Ok(Config::default()),
        Some(text) => check(path, &parse(path, text)?, None),
    }
}

/// The settings in the file at `path`; a missing file is every default.
pub fn load(path: &Path) -> Result<Settings, AppError> {
    read(path).map(|c| c.settings)
}

/// The settings in the file at [`path()`]; without a config directory, every default.
pub fn load_default() -> Result<Settings, AppError> {
    match path() {
        Some(p) => load(&p),
        None => Ok(Settings::default()),
    }
}

/// Set `key` to `value` (as typed on the command line: `notify full`, `lock_after 15m`,
/// `relays A,B`, `relays ""`) in the file at `path`, and return the settings it then holds.
/// The key, the value and the rest of the file are checked first: on an error nothing is
/// written. The file keeps its comments and layout; it is replaced atomically, and created
/// (mode 0600, its directory 0700) when missing. A symlink is followed: its target is
/// replaced.
pub fn set(path: &Path, key: &str, value: &str) -> Result<Settings, AppError> {
    let key: Key = key.parse()?;
    let new = parse_arg(key, value)?;
    let target = follow_symlink(path)?;
    let doc = match read_text(&target)? {
        Some(text) => parse(&target, text)?,
        None => parse(&target, String::new())?,
    };
    // The rest of the file must be readable too (the setting itself may be what is fixed).
    check(&target, &doc, Some(key))?;
    let mut doc: DocumentMut = doc.into_mut();
    let mut item = new.into_item();
    match doc.get_mut(key.name()) {
        Some(old) => {
            if let (Some(old), Item::Value(v)) = (old.as_value(), &mut item) {
                *v.decor_mut() = old.decor().clone();
            }
            *old = item;
        }
        None => {
            // After the last setting, before the comments that end the file; in a file of
            // comments alone, after them.
            let mut new_key = toml_edit::Key::new(key.name());
            if doc.is_empty() {
                let mut lead = doc.trailing().as_str().unwrap_or_default().to_owned();
                if !lead.is_empty() && !lead.ends_with('\n') {
                    lead.push('\n');
                }
                new_key = new_key.with_leaf_decor(toml_edit::Decor::new(lead, " "));
                doc.set_trailing("");
            }
            doc.insert_formatted(&new_key, item);
        }
    }
    let text = doc.to_string();
    if text.len() as u64 > FILE_MAX_BYTES {
        return Err(AppError::ConfigTooLarge {
            path: target,
            size: text.len() as u64,
            max: FILE_MAX_BYTES,
        });
    }
    // What is written must read back as it was meant.
    let config = check(&target, &parse(&target, text.clone())?, None)?;
    write_atomic(&target, text.as_bytes())?;
    Ok(config.settings)
}

/// A setting's value as `mend config get KEY` prints it: `on`, `15m`, `never`, the relays one
/// per line (nothing when there are none).
pub fn get(settings: &Settings, key: &str) -> Result<String, AppError> {
    Ok(value_text(settings, key.parse()?))
}

/// A setting's value as plain text (see [`get`]).
pub fn value_text(settings: &Settings, key: Key) -> String {
    match key {
        Key::Notify => settings.notify.as_str().to_owned(),
        Key::LockAfter => lock_after_text(settings.lock_after),
        Key::Relays => settings.relays.join("\n"),
    }
}

/// A setting's value as TOML on one line: `"on"`, `"15m"`, `["/ip4/…/p2p/…"]`.
pub fn value_toml(settings: &Settings, key: Key) -> String {
    let v: Value = match key {
        Key::Relays => Value::Array(settings.relays.iter().map(String::as_str).collect()),
        _ => value_text(settings, key).into(),
    };
    v.to_string().trim().to_owned()
}

/// `never`, or the duration as humantime writes it (`15m`, `1h 30m`).
pub fn lock_after_text(d: Option<Duration>) -> String {
    match d {
        None => "never".into(),
        Some(d) => humantime::format_duration(d).to_string(),
    }
}

/// A value parsed for one setting.
enum NewValue {
    Notify(Notify),
    LockAfter(Option<Duration>),
    Relays(Vec<String>),
}

impl NewValue {
    /// As written in the file: lists of two or more relays one per line.
    fn into_item(self) -> Item {
        match self {
            NewValue::Notify(n) => toml_edit::value(n.as_str()),
            NewValue::LockAfter(d) => toml_edit::value(lock_after_text(d)),
            NewValue::Relays(relays) => {
                let mut a = Array::new();
                let many = relays.len() > 1;
                for r in relays {
                    let mut v = Value::from(r);
                    if many {
                        v.decor_mut().set_prefix("\n    ");
                    }
                    a.push_formatted(v);
                }
                if many {
                    a.set_trailing_comma(true);
                    a.set_trailing("\n");
                }
                toml_edit::value(a)
            }
        }
    }
}

/// A value from the command line.
fn parse_arg(key: Key, value: &str) -> Result<NewValue, AppError> {
    let bad = |shown: &str, expected: &str| AppError::BadSetting {
        key: key.name().to_owned(),
        value: format!("{shown:?}"),
        expected: expected.to_owned(),
        at: None,
    };
    match key {
        Key::Notify => parse_notify(value)
            .map(NewValue::Notify)
            .ok_or_else(|| bad(value, key.expected())),
        Key::LockAfter => parse_lock_after(value)
            .map(NewValue::LockAfter)
            .ok_or_else(|| bad(value, key.expected())),
        Key::Relays => {
            let addrs: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            let mut relays: Vec<String> = Vec::new();
            for a in addrs {
                if !valid_relay(a) {
                    return Err(bad(a, RELAY_EXPECTED));
                }
                if !relays.iter().any(|r| r == a) {
                    relays.push(a.to_owned());
                }
            }
            if relays.len() > RELAYS_MAX {
                return Err(AppError::BadSetting {
                    key: key.name().to_owned(),
                    value: format!("{} addresses", relays.len()),
                    expected: RELAYS_COUNT_EXPECTED.to_owned(),
                    at: None,
                });
            }
            Ok(NewValue::Relays(relays))
        }
    }
}

const RELAY_EXPECTED: &str = "a relay address (a multiaddr of at most 300 bytes ending in /p2p/ \
                              and the relay's id, such as /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…)";
const RELAYS_COUNT_EXPECTED: &str = "at most 24 relay addresses";

fn valid_relay(addr: &str) -> bool {
    addr.len() <= RELAY_MAX_BYTES && mend_journal::valid_relay_addr(addr)
}

fn parse_notify(s: &str) -> Option<Notify> {
    let s = s.trim();
    [Notify::On, Notify::Off, Notify::Full]
        .into_iter()
        .find(|n| s.eq_ignore_ascii_case(n.as_str()))
}

/// `never` is `Some(None)`; a duration within bounds `Some(Some(d))`.
fn parse_lock_after(s: &str) -> Option<Option<Duration>> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("never") {
        return Some(None);
    }
    let d = humantime::parse_duration(s).ok()?;
    (LOCK_AFTER_MIN..=LOCK_AFTER_MAX)
        .contains(&d)
        .then_some(Some(d))
}

/// The file's text: `None` when there is no file; refused when over [`FILE_MAX_BYTES`], not a
/// regular file, or not UTF-8.
fn read_text(path: &Path) -> Result<Option<String>, AppError> {
    let io = |source| AppError::ConfigIo {
        path: path.to_owned(),
        source,
    };
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let too_large = |size| AppError::ConfigTooLarge {
        path: path.to_owned(),
        size,
        max: FILE_MAX_BYTES,
    };
    if meta.len() > FILE_MAX_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(FILE_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > FILE_MAX_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        AppError::ConfigNotToml {
            path: path.to_owned(),
            line: line_at(e.as_bytes(), at),
            why: "it is not UTF-8 text".into(),
        }
    })
}

/// The 1-based line of byte `offset`.
fn line_at(text: &[u8], offset: usize) -> usize {
    let end = offset.min(text.len());
    text[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

fn parse(path: &Path, text: String) -> Result<Document<String>, AppError> {
    Document::parse(text.clone()).map_err(|e| AppError::ConfigNotToml {
        path: path.to_owned(),
        line: line_at(text.as_bytes(), e.span().map_or(0, |s| s.start)),
        why: e.message().trim().replace('\n', " "),
    })
}

/// Every setting in `doc` checked, but `skip`; nothing else may be in it.
fn check(path: &Path, doc: &Document<String>, skip: Option<Key>) -> Result<Config, AppError> {
    let text = doc.raw().as_bytes();
    let place = |span: Option<std::ops::Range<usize>>| FilePlace {
        path: path.to_owned(),
        line: line_at(text, span.map_or(0, |s| s.start)),
    };
    let mut config = Config::default();
    for (name, item) in doc.iter() {
        let key_span = doc
            .get_key_value(name)
            .and_then(|(k, _)| k.span())
            .or_else(|| item.span());
        let Ok(key) = name.parse::<Key>() else {
            return Err(AppError::UnknownSetting {
                key: name.to_owned(),
                at: Some(place(key_span)),
            });
        };
        if Some(key) == skip {
            continue;
        }
        let bad = |value: String, expected: &str, span| AppError::BadSetting {
            key: key.name().to_owned(),
            value,
            expected: expected.to_owned(),
            at: Some(place(span)),
        };
        let value_span = item.span().or(key_span.clone());
        match key {
            Key::Notify => {
                config.settings.notify = item
                    .as_str()
                    .and_then(parse_notify)
                    .ok_or_else(|| bad(shown(item), key.expected(), value_span))?;
            }
            Key::LockAfter => {
                config.settings.lock_after = item
                    .as_str()
                    .and_then(parse_lock_after)
                    .ok_or_else(|| bad(shown(item), key.expected(), value_span))?;
            }
            Key::Relays => {
                let Some(array) = item.as_array() else {
                    return Err(bad(shown(item), key.expected(), value_span));
                };
                if array.len() > RELAYS_MAX {
                    return Err(bad(
                        format!("{} addresses", array.len()),
                        RELAYS_COUNT_EXPECTED,
                        value_span,
                    ));
                }
                let mut relays: Vec<String> = Vec::new();
                for v in array.iter() {
                    let addr = v
                        .as_str()
                        .map(str::trim)
                        .filter(|a| valid_relay(a))
                        .ok_or_else(|| {
                            bad(
                                shown_value(v),
                                RELAY_EXPECTED,
                                v.span().or(value_span.clone()),
                            )
                        })?;
                    if !relays.iter().any(|r| r == addr) {
                        relays.push(addr.to_owned());
                    }
                }
                config.settings.relays = relays;
            }
        }
        config.in_file[key.index()] = true;
    }
    Ok(config)
}

/// An item of the file as an error message shows it: its TOML on one line, shortened.
fn shown(item: &Item) -> String {
    match item {
        Item::Value(v) => shown_value(v),
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::None => "nothing".into(),
    }
}

fn shown_value(v: &Value) -> String {
    let text = v.clone().decorated("", "").to_string();
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    const MAX: usize = 80;
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// The file a symlink at `path` points to (a dotfiles manager's link stays a link); `path`
/// itself otherwise.
fn follow_symlink(path: &Path) -> Result<PathBuf, AppError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|source| AppError::ConfigIo {
                path: path.to_owned(),
                source,
            })
        }
        _ => Ok(path.to_owned()),
    }
}

/// Replace `path` with `bytes`: a temporary file (mode 0600) in the same directory, synced,
/// renamed over it, and the directory synced. The directory is created (mode 0700) if missing.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AppError::ConfigIo { path, source }
    };
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&dir).map_err(io(&dir))?;
    let mut prefix = path.file_name().unwrap_or_default().to_os_string();
    prefix.push(".");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(io(&dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o600))
            .map_err(io(tmp.path()))?;
    }
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(path).map_err(|e| AppError::ConfigIo {
        path: path.to_owned(),
        source: e.error,
    })?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mend_config_wins_over_the_config_directory_unless_empty() {
        let dir = || Some(PathBuf::from("/home/sam/.config"));
        assert_eq!(
            path_from(Some("/tmp/m.toml".into()), dir),
            Some(PathBuf::from("/tmp/m.toml"))
        );
        let default = Some(PathBuf::from("/home/sam/.config/mend/config.toml"));
        assert_eq!(path_from(Some("".into()), dir), default);
        assert_eq!(path_from(None, dir), default);
        assert_eq!(path_from(None, || None), None);
    }
}
