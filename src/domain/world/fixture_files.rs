//! Files a world fixture refers to (documents, certificates): read only
//! from inside the fixture's own directory, only if they are regular files,
//! and only up to a size, so a fixture cannot make the gateway read (and
//! then serve) other files of the machine, block on a FIFO or a device, or
//! load more than an upload could carry.

use std::io::Read;
use std::path::{Component, Path};

/// Largest file a fixture may refer to: the largest attachment total ISDS
/// accepts for a box with a raised limit (50 MB; 20 MB by default).
pub const MAX_FIXTURE_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// Where the files a fixture refers to are read from.
#[derive(Debug, Clone, Copy)]
pub struct FixtureDir<'a> {
    /// The fixture file's directory: relative names are read inside it.
    pub dir: &'a Path,
    /// Absolute names are read too, wherever they lead (`serve
    /// --allow-absolute-fixture-paths`); off by default.
    pub absolute_paths: bool,
}

impl<'a> FixtureDir<'a> {
    /// Files inside `dir` only.
    pub fn confined(dir: &'a Path) -> Self {
        Self {
            dir,
            absolute_paths: false,
        }
    }

    /// Reads `file` as [`read_confined`] does; with `absolute_paths` an
    /// absolute name is read where it points, still only a regular file
    /// and only up to `limit` bytes.
    pub fn read(&self, file: &Path, limit: u64) -> Result<Vec<u8>, String> {
        if self.absolute_paths && file.is_absolute() {
            let no_parent = file.components().all(|c| c != Component::ParentDir);
            if !no_parent {
                return Err(format!("{}: a file name without `..`", file.display()));
            }
            return read_regular(file, &file.display().to_string(), limit);
        }
        read_confined(self.dir, file, limit)
    }
}

/// Reads `file`, given relative to the fixture's directory `base`. Refused:
/// absolute paths and `..` (also a symbolic link leading out of `base`),
/// anything but a regular file, files over `limit` bytes.
pub fn read_confined(base: &Path, file: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let shown = file.display();
    if file.as_os_str().is_empty()
        || file
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "{shown}: files must be named relative to the fixture's directory, without `..`"
        ));
    }
    let base = base
        .canonicalize()
        .map_err(|e| format!("{shown}: the fixture's directory cannot be resolved: {e}"))?;
    let path = base
        .join(file)
        .canonicalize()
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !path.starts_with(&base) {
        return Err(format!("{shown}: leads out of the fixture's directory"));
    }
    read_regular(&path, &shown.to_string(), limit)
}

/// Reads the regular file at `path` (`shown` names it in errors), refusing
/// anything else and files over `limit` bytes.
fn read_regular(path: &Path, shown: &str, limit: u64) -> Result<Vec<u8>, String> {
    // Checked before opening: opening a FIFO would block.
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.len() > limit {
        return Err(format!(
            "{shown}: {} bytes, more than the {limit} a fixture file may have",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{shown}: more than the {limit} bytes a fixture file may have"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_outside_the_directory_or_not_regular_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("world");
        std::fs::create_dir_all(base.join("docs")).unwrap();
        std::fs::write(base.join("docs/a.txt"), b"hello").unwrap();
        std::fs::write(root.path().join("secret.txt"), b"secret").unwrap();
        assert_eq!(
            read_confined(&base, Path::new("docs/a.txt"), 100).unwrap(),
            b"hello"
        );
        for bad in ["../secret.txt", "docs/../../secret.txt", "/etc/passwd", ""] {
            assert!(read_confined(&base, Path::new(bad), 100).is_err(), "{bad}");
        }
        assert!(read_confined(&base, Path::new("docs/a.txt"), 3).is_err());
        assert!(read_confined(&base, Path::new("docs"), 100).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.path().join("secret.txt"), base.join("link")).unwrap();
            assert!(read_confined(&base, Path::new("link"), 100).is_err());
            let fifo = base.join("fifo");
            let status = std::process::Command::new("mkfifo").arg(&fifo).status();
            if status.is_ok_and(|s| s.success()) {
                assert!(read_confined(&base, Path::new("fifo"), 100).is_err());
            }
        }
    }

    #[test]
    fn absolute_paths_are_read_only_when_allowed() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("world");
        std::fs::create_dir_all(&base).unwrap();
        let secret = root.path().join("secret.txt");
        std::fs::write(&secret, b"secret").unwrap();
        let confined = FixtureDir::confined(&base);
        assert!(confined.read(&secret, 100).is_err());
        let open = FixtureDir {
            dir: &base,
            absolute_paths: true,
        };
        assert_eq!(open.read(&secret, 100).unwrap(), b"secret");
        assert!(open.read(&secret, 3).is_err());
        assert!(open.read(root.path(), 100).is_err());
        assert!(open.read(Path::new("../secret.txt"), 100).is_err());
        let dotted = base.join("..").join("secret.txt");
        assert!(open.read(&dotted, 100).is_err());
    }
}
