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

/// Makes `dir` (created if missing) private to the owner: created with mode
/// 0700, and an existing directory that others may read or enter is
/// tightened to 0700 with a warning, since it holds passwords' hashes,
/// messages and keys.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PathIoError> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let io = |source| PathIoError {
            path: dir.to_path_buf(),
            source,
        };
        let mode = fs::metadata(dir).map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory was open to other users; restricting it to its owner"
            );
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
    }
    Ok(())
}

/// Restricts every file and directory under `dir` to its owner (files
/// 0600, directories 0700), for files made by code that does not set a
/// mode (the store's own files) or under a lax umask. Best effort: a
/// failure is logged, not returned.
pub fn restrict_tree(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let mode = meta.permissions().mode();
            let wanted = if meta.is_dir() {
                restrict_tree(&path);
                0o700
            } else if meta.is_file() {
                mode & 0o700
            } else {
                continue;
            };
            if mode & 0o777 != wanted
                && let Err(err) = fs::set_permissions(&path, fs::Permissions::from_mode(wanted))
            {
                tracing::warn!(path = %path.display(), error = %err, "cannot restrict a file to its owner");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Writes `contents` as a new or replaced file readable by its owner only
/// (0600 on Unix, whatever the umask).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)
}
