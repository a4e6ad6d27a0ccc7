//! Files the gateway creates for itself (keys, certificates): directories
//! only the owner may enter, files written whole or not at all.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O failure on one path.
#[derive(Debug)]
pub struct PathIoError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Creates `dir` (and its parents) with mode 0700 on Unix if it does not
/// exist yet; an existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> Result<(), PathIoError> {
    let io = |source| PathIoError {
        path: dir.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir).map_err(io)?;
    Ok(())
}

/// Writes `contents` to `path` atomically: into `<path>.tmp`, synced, then
/// renamed over `path`. `private` files get mode 0600 (else 0644) on Unix,
/// also when a stale temporary file is reused.
pub fn write_atomically(path: &Path, contents: &[u8], private: bool) -> Result<(), PathIoError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PathIoError { path: p, source }
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = opts.open(&tmp).map_err(io(&tmp))?;
    #[cfg(unix)]
    {
        // `mode` applies only on creation; a leftover file keeps its mode.
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o644 };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io(&tmp))?;
    }
    file.write_all(contents).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))
}
