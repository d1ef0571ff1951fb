//! The append-only results file `DIR/results.jsonl`.
//!
//! Every record is one line written with a single `write_all` and flushed, so a killed harness
//! leaves at most one truncated last line. On reopening, unreadable lines (such a truncated line)
//! are ignored — never rewritten — and appending starts after a fresh newline. Nothing already
//! recorded is lost or changed. A lock file keeps two harness processes from writing one
//! directory at the same time.

use super::record::Record;
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The results file name inside a results directory.
pub const RESULTS: &str = "results.jsonl";

/// Records read from a results file, plus how many lines could not be read.
pub struct Loaded {
    pub records: Vec<Record>,
    pub unreadable: usize,
}

/// The results file of `path`: `path` itself if it is a file, else `path/results.jsonl`.
pub fn results_file(path: &Path) -> PathBuf {
    if path.is_file() {
        path.to_path_buf()
    } else {
        path.join(RESULTS)
    }
}

/// Read every record of a results file (or directory). A missing file reads as empty.
pub fn read(path: &Path) -> Result<Loaded> {
    let file = results_file(path);
    let text = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", file.display())),
    };
    let mut records = Vec::new();
    let mut unreadable = 0;
    for line in text.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => records.push(r),
            Err(_) => unreadable += 1,
        }
    }
    Ok(Loaded { records, unreadable })
}

/// An open results directory, locked for appending.
pub struct Store {
    pub dir: PathBuf,
    file: File,
    _lock: File,
}

impl Store {
    /// Create `dir` if needed, lock it, and open its results file for appending.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create directory", dir.display()))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot open", lock_path.display()))?;
        // SAFETY: flock on a valid open descriptor.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            bail!("{}: another quiver process is writing results there (lock {})", dir.display(), lock_path.display());
        }
        let path = dir.join(RESULTS);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        // A truncated last line (a killed run) stays as it is; new records start on a new line.
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                file.flush()?;
            }
        }
        Ok(Store { dir: dir.to_path_buf(), file, _lock: lock })
    }

    /// Append one record as one line.
    pub fn append(&mut self, r: &Record) -> Result<()> {
        let mut line = serde_json::to_string(r).context("serialize record")?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).with_context(|| format!("{}: cannot append", self.dir.display()))?;
        self.file.flush()?;
        Ok(())
    }
}

/// Write `text` to `path` atomically (temporary file, then rename), creating parent directories.
pub fn write_atomic(path: &Path, text: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create directory", dir.display()))?;
    let name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))
}
