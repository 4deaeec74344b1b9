//! Writing in `$EDITOR`. The editor needs a plaintext file: it lives in a private (0700)
//! directory, on a RAM-backed one (`$XDG_RUNTIME_DIR`) when there is one, is overwritten and
//! removed as soon as the editor exits. See docs/threat-model.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;
use zeroize::Zeroizing;

use crate::fail::fail;

fn private_dir() -> Result<tempfile::TempDir> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    // tempfile creates the directory with mode 0700.
    Ok(tempfile::Builder::new()
        .prefix("mend-edit-")
        .tempdir_in(&base)
        .map_err(|e| {
            fail(
                format!(
                    "cannot create a private directory for the editor in {}: {e}",
                    base.display()
                ),
                "set XDG_RUNTIME_DIR or TMPDIR to a directory you can write",
            )
        })?)
}

fn editor_command() -> String {
    std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_owned())
}

/// Open `initial` in the user's editor and return what they saved.
pub fn edit(initial: &str) -> Result<Zeroizing<String>> {
    let dir = private_dir()?;
    let path = dir.path().join("entry.md");
    {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(initial.as_bytes())?;
    }
    let editor = editor_command();
    // Through the shell, so that EDITOR="code --wait" works.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("mend-editor")
        .arg(&path)
        .status();
    let text = std::fs::read_to_string(&path).map(Zeroizing::new);
    // Overwrite before removing, then remove the directory (TempDir's drop).
    if let Ok(meta) = std::fs::metadata(&path) {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = f.write_all(&vec![0u8; meta.len() as usize]);
            let _ = f.sync_all();
        }
    }
    drop(dir);
    match status {
        Ok(s) if s.success() => {}
        Ok(_) => {
            return Err(fail(
                format!("the editor ({editor}) exited with an error"),
                "nothing was saved; fix $EDITOR or pass the text on the command line",
            )
            .into())
        }
        Err(e) => {
            return Err(fail(
                format!("cannot start the editor ({editor}): {e}"),
                "set $EDITOR to an editor you have, or pass the text on the command line",
            )
            .into())
        }
    }
    Ok(text?)
}
