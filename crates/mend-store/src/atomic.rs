//! Durable file writes: temp file + fsync + rename + directory fsync, and durable appends.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::StoreError;

/// Open options for a file only this user may read.
pub(crate) fn private_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    o.mode(0o600);
    o
}

/// Refuse a home directory that another user could change: not owned by this user, or
/// writable by its group or by others (they could plant files, or symlinks where Mend writes).
pub(crate) fn check_private_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = match fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(dir)(e)),
        };
        // SAFETY: geteuid cannot fail and touches no memory.
        let me = unsafe { libc::geteuid() };
        let why = if meta.uid() != me {
            Some(format!("it belongs to another user (uid {})", meta.uid()))
        } else if meta.mode() & 0o022 != 0 {
            Some(format!(
                "its group or other users may write in it (mode {:o})",
                meta.mode() & 0o777
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(StoreError::NotPrivate {
                path: dir.to_owned(),
                why,
            });
        }
    }
    Ok(())
}

/// Create a directory (and parents) that only this user may enter.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(StoreError::io(dir))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io(dir))
}

/// Replace `path` with `bytes` so that a crash leaves either the old or the new file whole.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    // A temporary file left by a crash, or planted (a symlink to a file of the user's): it is
    // removed, never followed, and the new one is created exclusively.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(StoreError::io(&tmp)(e));
        }
        _ => {}
    }
    let mut o = private_options();
    #[cfg(unix)]
    o.custom_flags(libc::O_NOFOLLOW);
    let mut f = o
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(StoreError::io(&tmp))?;
    f.write_all(bytes).map_err(StoreError::io(&tmp))?;
    f.sync_all().map_err(StoreError::io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    sync_dir(dir)
}

/// Append `bytes` to `path` after cutting it to `valid_len` (dropping a torn tail), then fsync.
pub(crate) fn append_durable(
    path: &Path,
    valid_len: u64,
    parts: &[&[u8]],
) -> Result<(), StoreError> {
    let mut f = private_options()
        .write(true)
        .open(path)
        .map_err(StoreError::io(path))?;
    let len = f.metadata().map_err(StoreError::io(path))?.len();
    if len != valid_len {
        f.set_len(valid_len).map_err(StoreError::io(path))?;
    }
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(valid_len))
        .map_err(StoreError::io(path))?;
    for bytes in parts {
        f.write_all(bytes).map_err(StoreError::io(path))?;
    }
    f.sync_data().map_err(StoreError::io(path))
}
