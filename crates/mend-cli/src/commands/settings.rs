//! `mend config get|set|path`: this laptop's settings file. No journal and no passphrase.

use std::path::PathBuf;

use anyhow::Result;
use mend_app::config::{self, Config, Key, Source};
use serde_json::{json, Map, Value};

use crate::cli::{ConfigCommand, ConfigGetArgs, ConfigSetArgs, Global};
use crate::fail::fail;
use crate::render;

pub fn run(_g: &Global, c: ConfigCommand) -> Result<()> {
    match c {
        ConfigCommand::Path => {
            println!("{}", shown_path(&need_path()?));
            Ok(())
        }
        ConfigCommand::Get(a) => get(a),
        ConfigCommand::Set(a) => set(a),
    }
}

/// The settings file's path; without `MEND_CONFIG` and a config directory, a user error.
fn need_path() -> Result<PathBuf> {
    config::path().ok_or_else(|| {
        fail(
            format!(
                "no config directory on this system, and {} is not set",
                config::ENV
            ),
            format!(
                "set {} to the settings file's path (such as ~/.mend.toml)",
                config::ENV
            ),
        )
        .into()
    })
}

fn shown_path(p: &std::path::Path) -> String {
    render::clean(&p.display().to_string()).into_owned()
}

fn get(a: ConfigGetArgs) -> Result<()> {
    // The key is checked before the file is read.
    let only: Option<Key> = a.key.as_deref().map(str::parse).transpose()?;
    let path = config::path();
    let cfg = match &path {
        Some(p) => config::read(p)?,
        None => Config::default(),
    };
    let keys: Vec<Key> = match only {
        Some(k) => vec![k],
        None => Key::ALL.to_vec(),
    };
    if a.json {
        let mut out = Map::new();
        for k in keys {
            out.insert(k.name().to_owned(), json_of(&cfg, k));
        }
        return render::print_json(&Value::Object(out));
    }
    if let Some(k) = only {
        let text = config::value_text(&cfg.settings, k);
        if !text.is_empty() {
            println!("{}", render::clean(&text));
        }
        return Ok(());
    }
    let lines: Vec<(String, Source)> = keys
        .iter()
        .map(|&k| {
            let line = format!("{} = {}", k.name(), config::value_toml(&cfg.settings, k));
            (render::clean(&line).into_owned(), cfg.source(k))
        })
        .collect();
    let width = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (line, source) in lines {
        let from = match (source, &path) {
            (Source::File, Some(p)) => format!("(in {})", shown_path(p)),
            _ => "(default)".to_owned(),
        };
        println!("{line:width$}  {from}");
    }
    Ok(())
}

/// `{"value": …, "source": "default"|"file"}`; relays' value is an array.
fn json_of(cfg: &Config, k: Key) -> Value {
    let value = match k {
        Key::Relays => json!(cfg.settings.relays),
        _ => json!(config::value_text(&cfg.settings, k)),
    };
    json!({ "value": value, "source": cfg.source(k).as_str() })
}

fn set(a: ConfigSetArgs) -> Result<()> {
    // The key and value are checked (by config::set) before anything is written; the key
    // first, so that a wrong key is named even without a config directory.
    let key: Key = a.key.parse()?;
    let path = need_path()?;
    let settings = config::set(&path, key.name(), &a.value)?;
    let line = format!("{} = {}", key.name(), config::value_toml(&settings, key));
    println!("{} (in {})", render::clean(&line), shown_path(&path));
    Ok(())
}

/// This laptop's settings (`mend config`): the file's, or every default where there is none.
pub fn load() -> Result<mend_app::config::Settings> {
    Ok(mend_app::config::load_default()?)
}
