use anyhow::Result;

use crate::cli::{Global, PassphraseArgs};
use crate::passphrase::{self, ENV_NEW_PASSPHRASE};
use crate::unlock;

pub fn run(g: &Global, a: PassphraseArgs) -> Result<()> {
    let home = unlock::home(g)?;
    home.check_initialised()?;
    let old = passphrase::current(g.passphrase_file.as_deref())?;
    // Check the old passphrase before asking for a new one.
    home.unlock(&old)?;
    let new = passphrase::choose(a.new_passphrase_file.as_deref(), ENV_NEW_PASSPHRASE)?;
    let params = passphrase::kdf_params()?;
    home.change_passphrase(&old, &new, params)?;
    println!(
        "Passphrase changed. The old one no longer opens this device; entries were not touched."
    );
    Ok(())
}
