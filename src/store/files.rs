//! A directory of whole files next to the key-value store, for values too
//! large to keep in its trees (documents of data messages).
//!
//! The store's trees hold only references to these files. The protocol
//! that keeps both consistent is the caller's, with the help of
//! [`FileDir`]:
//! 1. [`FileDir::write`] each file (written under a temporary name, forced
//!    to disk, renamed to its final name),
//! 2. [`FileDir::sync`] the directory, so the names are durable too,
//! 3. apply the batch that references the files, durably,
//! 4. on failure remove the files again; a crash between 1 and 3 leaves
//!    files nothing references, which the owner sweeps when it opens the
//!    store.
//!
//! Removing a file follows the durable write that dropped its last
//! reference, never precedes it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Suffix of files being written; never a final name.
const TEMP_SUFFIX: &str = ".tmp";

/// Bytes handed to one `write` call.
const WRITE_PIECE: usize = 1 << 20;

/// Alignment of buffer, offset and length that direct I/O asks for (the
/// largest logical block size in use).
const DIRECT_ALIGN: usize = 4096;

/// Longest accepted file name, in bytes.
const MAX_FILE_NAME: usize = 64;

/// A directory of files referenced from the store.
#[derive(Debug)]
pub struct FileDir {
    dir: PathBuf,
    /// Test hook: while this file exists, writes fail as on a full disk.
    full_disk_trigger: std::sync::OnceLock<PathBuf>,
}

impl FileDir {
    /// Opens (creating it if needed) the directory and removes the
    /// temporary files an interrupted write left behind.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let files = FileDir {
            dir: dir.to_path_buf(),
            full_disk_trigger: std::sync::OnceLock::new(),
        };
        fs::create_dir_all(dir).map_err(|e| files.io(dir, e))?;
        for name in files.entries()? {
            if name.ends_with(TEMP_SUFFIX) {
                files.remove_raw(&name)?;
            }
        }
        Ok(files)
    }

    /// Makes every write fail with `ENOSPC` while `trigger` exists: a test
    /// hook for a full disk where no small file system can be mounted
    /// (`Config::simulate_full_disk_while`). Set once.
    pub fn simulate_full_disk_while(&self, trigger: PathBuf) {
        let _ = self.full_disk_trigger.set(trigger);
    }

    fn check_simulated_full_disk(&self) -> Result<(), StoreError> {
        match self.full_disk_trigger.get() {
            Some(trigger) if trigger.exists() => Err(self.io(
                &self.dir,
                io::Error::from_raw_os_error(28), // ENOSPC
            )),
            _ => Ok(()),
        }
    }

    /// Checks that a small file can be written here and forced to disk
    /// (and removes it): whether the directory can take new documents.
    pub fn probe(&self) -> Result<(), StoreError> {
        self.check_simulated_full_disk()?;
        let path = self.dir.join(format!(".probe{TEMP_SUFFIX}"));
        let written = write_buffered(&path, &[0u8; 4096]);
        let _ = fs::remove_file(&path);
        written.map_err(|e| self.io(&self.dir, e))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The path of file `name`, refusing names that could leave the
    /// directory or clash with temporary files.
    fn file_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_FILE_NAME
            && !name.starts_with('.')
            && !name.ends_with(TEMP_SUFFIX)
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(StoreError::Corrupt(format!("invalid file name {name:?}")));
        }
        Ok(self.dir.join(name))
    }

    /// Writes `bytes` as the new file `name` and forces it to disk; an
    /// existing file of that name is an error (and stays as it is). The
    /// name itself is durable only after [`FileDir::sync`].
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.file_path(name)?;
        self.refuse_existing(&path)?;
        self.check_simulated_full_disk()?;
        let temp = self.dir.join(format!("{name}{TEMP_SUFFIX}"));
        // Direct I/O where the file system offers it, else through the
        // page cache (tmpfs, other platforms).
        let written = match write_direct(&temp, bytes) {
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => write_buffered(&temp, bytes),
            other => other,
        };
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.io(&temp, e));
        }
        fs::rename(&temp, &path).map_err(|e| {
            let _ = fs::remove_file(&temp);
            self.io(&path, e)
        })
    }

    /// Makes file `name` hold the same bytes as file `existing`: a hard
    /// link where the file system allows, else a copy forced to disk.
    pub fn link(&self, existing: &str, name: &str) -> Result<(), StoreError> {
        let from = self.file_path(existing)?;
        let to = self.file_path(name)?;
        self.refuse_existing(&to)?;
        if fs::hard_link(&from, &to).is_ok() {
            return Ok(());
        }
        let bytes = fs::read(&from).map_err(|e| self.io(&from, e))?;
        self.write(name, &bytes)
    }

    fn refuse_existing(&self, path: &Path) -> Result<(), StoreError> {
        if path.exists() {
            return Err(self.io(
                path,
                io::Error::new(io::ErrorKind::AlreadyExists, "the file exists already"),
            ));
        }
        Ok(())
    }

    /// Forces the directory's entries (names written, renamed, removed) to
    /// disk.
    pub fn sync(&self) -> Result<(), StoreError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io(&self.dir, e))
    }

    /// The bytes of file `name`; `None` when there is no such file.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.file_path(name)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    /// Removes file `name`; a missing file is not an error.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.file_path(name)?;
        self.remove_raw(name)
    }

    fn remove_raw(&self, name: &str) -> Result<(), StoreError> {
        let path = self.dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    /// Names of the complete files in the directory (temporary files of
    /// writes in progress left out), in no particular order.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|n| !n.ends_with(TEMP_SUFFIX))
            .collect())
    }

    fn entries(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| self.io(&self.dir, e))? {
            let entry = entry.map_err(|e| self.io(&self.dir, e))?;
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if let (true, Some(name)) = (is_file, entry.file_name().to_str()) {
                out.push(name.to_owned());
            }
        }
        Ok(out)
    }
}

/// Writes `bytes` as file `path` through the page cache, in pieces, and
/// forces it to disk.
fn write_buffered(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        // Documents are private to the gateway's user (any umask).
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    for piece in bytes.chunks(WRITE_PIECE) {
        file.write_all(piece)?;
    }
    file.sync_all()
}

/// Writes `bytes` as file `path` with direct I/O (`O_DIRECT`), from an
/// aligned 1 MiB staging buffer, and forces it to disk; `InvalidInput`
/// when the file system refuses direct I/O.
///
/// Why: on the reference machine (a VM, ext4) copying a new 20 MB file
/// into the page cache took anywhere from 5 to 50 ms, depending on how
/// recently the kernel had handed its free pages back to the host; the
/// direct write's cost is the device's alone (~10 ms) and the page cache
/// is not filled with documents that are rarely read again soon.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn write_direct(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    let mut staging = vec![0u8; WRITE_PIECE + DIRECT_ALIGN];
    let start = staging.as_ptr().align_offset(DIRECT_ALIGN);
    let Some(block) = staging.get_mut(start..start + WRITE_PIECE) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    for piece in bytes.chunks(WRITE_PIECE) {
        // The last piece is padded to the alignment; the file is cut back
        // to its length below.
        let padded = piece.len().next_multiple_of(DIRECT_ALIGN);
        block[..piece.len()].copy_from_slice(piece);
        block[piece.len()..padded].fill(0);
        file.write_all(&block[..padded])?;
    }
    file.set_len(bytes.len() as u64)?;
    file.sync_all()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn write_direct(_path: &Path, _bytes: &[u8]) -> io::Result<()> {
    Err(io::ErrorKind::InvalidInput.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_link_remove_and_sweep_temporaries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("files");
        let files = FileDir::open(&dir).unwrap();
        files.write("a-0", b"hello").unwrap();
        files.link("a-0", "b-0").unwrap();
        // Never over an existing file.
        assert!(files.write("a-0", b"other").is_err());
        assert!(files.link("a-0", "b-0").is_err());
        files.sync().unwrap();
        assert_eq!(files.read("a-0").unwrap(), Some(b"hello".to_vec()));
        assert_eq!(files.read("b-0").unwrap(), Some(b"hello".to_vec()));
        assert_eq!(files.read("c-0").unwrap(), None);
        let mut names = files.names().unwrap();
        names.sort();
        assert_eq!(names, vec!["a-0", "b-0"]);
        files.remove("a-0").unwrap();
        files.remove("a-0").unwrap();
        assert_eq!(files.read("b-0").unwrap(), Some(b"hello".to_vec()));
        for bad in ["", "../x", "a/b", ".hidden", "x.tmp"] {
            assert!(files.read(bad).is_err(), "{bad:?}");
            assert!(files.write(bad, b"").is_err(), "{bad:?}");
        }
        // A write interrupted before its rename is swept on open.
        fs::write(dir.join("d-0.tmp"), b"half").unwrap();
        assert_eq!(files.names().unwrap(), vec!["b-0"]);
        let files = FileDir::open(&dir).unwrap();
        assert!(!dir.join("d-0.tmp").exists());
        assert_eq!(files.names().unwrap(), vec!["b-0"]);
    }

    /// Lengths around the alignment and the piece size, through direct
    /// I/O where the file system has it and through the page cache (the
    /// fallback) in any case: the same bytes come back, nothing padded.
    #[test]
    fn direct_and_buffered_writes_keep_exact_lengths() {
        let tmp = tempfile::tempdir().unwrap();
        let lengths = [
            0,
            1,
            DIRECT_ALIGN - 1,
            DIRECT_ALIGN,
            DIRECT_ALIGN + 1,
            WRITE_PIECE - 1,
            WRITE_PIECE,
            2 * WRITE_PIECE + 17,
        ];
        for len in lengths {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8 + 1).collect();
            let direct = tmp.path().join(format!("direct-{len}"));
            match write_direct(&direct, &bytes) {
                Ok(()) => assert_eq!(fs::read(&direct).unwrap(), bytes, "direct, {len}"),
                // Refused by this file system (tmpfs) or platform.
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}"),
            }
            let buffered = tmp.path().join(format!("buffered-{len}"));
            write_buffered(&buffered, &bytes).unwrap();
            assert_eq!(fs::read(&buffered).unwrap(), bytes, "buffered, {len}");
            // And whichever FileDir::write picks.
            let files = FileDir::open(&tmp.path().join("dir")).unwrap();
            files.write(&format!("f-{len}"), &bytes).unwrap();
            assert_eq!(files.read(&format!("f-{len}")).unwrap(), Some(bytes));
        }
    }
}
