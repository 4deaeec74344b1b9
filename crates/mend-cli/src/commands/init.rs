use anyhow::Result;
use chrono::Utc;

use crate::cli::{Global, InitArgs};
use crate::fail::fail;
use crate::{passphrase, unlock};

/// A name as people will see it: 1-64 characters, no control characters.
pub fn check_name(what: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if !mend_app::model::valid_name(name) {
        return Err(fail(
            format!("{what} must be 1 to 64 characters with no control characters"),
            "nothing was created; choose another name",
        )
        .into());
    }
    Ok(name.to_owned())
}

pub fn default_device_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this device".to_owned())
}

pub fn run(g: &Global, a: InitArgs) -> Result<()> {
    let home = unlock::home(g)?;
    let name = check_name("your name", &a.name)?;
    let device = check_name(
        "the device name",
        &a.device.unwrap_or_else(default_device_name),
    )?;
    // Said before a passphrase is asked for; creating checks it again.
    if home.is_initialised() {
        return Err(mend_app::store::StoreError::AlreadyInitialised {
            home: home.root().to_owned(),
        }
        .into());
    }
    let pass = passphrase::choose(g.passphrase_file.as_deref(), passphrase::ENV_PASSPHRASE)?;
    let params = passphrase::kdf_params()?;
    let created = mend_app::Device::create(home, &name, &device, &pass, params, Utc::now())?;
    println!(
        "Created a journal for {} on {}.\n  home:    {}\n  journal: {}\n\
         Write your first entry with `mend write`.",
        created.secrets.person_name,
        created.secrets.device_name,
        created.home_path().display(),
        created.key_file.journal_id
    );
    Ok(())
}
