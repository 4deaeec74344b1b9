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
    let mut f = private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(StoreError::io(&tmp))?;
    f.write_all(bytes).map_err(StoreError::io(&tmp))?;
    f.sync_all().map_err(StoreError::io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    sync_dir(dir)
}

/// Append `bytes` to `path` after cutting it to `valid_len` (dropping a torn tail), then fsync.
pub(crate) fn append_durable(path: &Path, valid_len: u64, bytes: &[u8]) -> Result<(), StoreError> {
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
    f.write_all(bytes).map_err(StoreError::io(path))?;
    f.sync_data().map_err(StoreError::io(path))
}
