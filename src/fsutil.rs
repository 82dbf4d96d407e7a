//! File helpers: atomic writes, expanding snapshot globs, and the one
//! bounded reader every input file is read through.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced,
/// then renamed over it. A crash leaves the old file or the new one.
///
/// What is not a file is written to as it is: `/dev/null`, `/dev/stdout`, a
/// named pipe or a socket must never be replaced by a file. A symbolic link
/// to a file stays a link; the file it points at is replaced.
///
/// A replaced file keeps its permissions; a new one gets the usual
/// `0666 & !umask`. The temporary is `.NAME.trueup-tmp-PID`; one left by a
/// run that was killed is removed by the next write beside it, so they never
/// pile up.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for output made in pieces: `write` streams it (through a
/// buffer) into the temporary, which replaces `path` only once it is all
/// there. What `write` returns is returned.
pub fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<T>,
) -> Result<T> {
    let context = || format!("cannot write `{}`", path.display());
    let (path, existing) = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(context)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            return write(&mut w)
                .and_then(|t| w.flush().map(|_| t))
                .with_context(context);
        }
        Ok(meta) => (
            std::fs::canonicalize(path).with_context(context)?,
            Some(meta.permissions()),
        ),
        Err(_) => (path.to_path_buf(), None),
    };
    let path = path.as_path();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = temp_prefix(path);
    remove_stale_temps(dir, &prefix);
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    let written = (|| -> std::io::Result<T> {
        let f = match create_new(&tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Left by an earlier process with this id: not being written.
                std::fs::remove_file(&tmp)?;
                create_new(&tmp)?
            }
            other => other?,
        };
        if let Some(perms) = existing {
            f.set_permissions(perms)?;
        }
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let t = write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(t)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(context)
}

fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// `.NAME.trueup-tmp-`: the start of every temporary written for `path`.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy());
    format!(".{name}.trueup-tmp-")
}

/// How old a temporary of a live-looking writer must be to count as stale
/// where process ids cannot be checked.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the temporaries for this output that no running writer owns: the
/// writer's process is gone (where `/proc` tells), or the file is older than
/// [`STALE_AFTER`].
fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let proc_known = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let dead = proc_known && !Path::new(&format!("/proc/{pid}")).exists();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if pid != std::process::id() && (dead || old) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Expands each argument: an existing path stands for itself, anything else
/// is a glob (`snapshots/*.yaml`, `inv/**/2026-*.yaml`). Results are sorted
/// and de-duplicated; a pattern that matches nothing is an error.
pub fn expand(args: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        let path = PathBuf::from(arg);
        if path.exists() {
            out.push(path);
            continue;
        }
        if !arg.contains(['*', '?', '[', '{']) {
            bail!("`{arg}`: no such file");
        }
        // The limits waiver globs have: the glob compiler panics far past them.
        crate::waivers::check_glob(arg)
            .map_err(|why| anyhow::anyhow!("`{arg}` is not a valid glob: {why}"))?;
        let glob = globset::GlobBuilder::new(arg)
            .literal_separator(true)
            .build()
            .with_context(|| format!("`{arg}` is not a valid glob"))?
            .compile_matcher();
        let base: PathBuf = Path::new(arg)
            .components()
            .take_while(|c| {
                !c.as_os_str()
                    .to_string_lossy()
                    .contains(['*', '?', '[', '{'])
            })
            .collect();
        let mut found = Vec::new();
        walk(
            if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                &base
            },
            &mut |p| {
                let rel = p.strip_prefix("./").unwrap_or(p);
                if glob.is_match(rel) {
                    found.push(rel.to_path_buf());
                }
            },
        );
        if found.is_empty() {
            bail!("`{arg}` matches no file");
        }
        out.extend(found);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// Why [`read_bounded`] stopped without the whole input.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    IsDirectory,
    /// The input holds more than the limit; `size` when known up front.
    TooLarge {
        size: Option<u64>,
    },
    /// `inspect` refused the bytes read so far, which it holds.
    Refused(Vec<u8>),
}

/// How much [`read_bounded`] reads at a time.
const CHUNK: usize = 1 << 16;

/// Reads all of `path`, but never more than `max_bytes`, whatever it is: a
/// file, a named pipe, a terminal, `/dev/zero`. A regular file over the
/// limit is refused from its size before it is read, else read whole;
/// anything else is read in chunks until it ends, passes the limit, or
/// `inspect` answers `false`. `inspect` sees everything read so far, after
/// each chunk (once, for a regular file), so that input that cannot be what
/// the caller reads stops the read early.
pub fn read_bounded(
    path: &Path,
    max_bytes: u64,
    mut inspect: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if meta.is_dir() {
        return Err(ReadError::IsDirectory);
    }
    if meta.is_file() && meta.len() > max_bytes {
        return Err(ReadError::TooLarge {
            size: Some(meta.len()),
        });
    }
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut limited = file.take(max_bytes.saturating_add(1));
    let mut buf = Vec::new();
    if meta.is_file() {
        // The size is known: read in one go into one allocation.
        buf.reserve_exact(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
        limited.read_to_end(&mut buf).map_err(ReadError::Io)?;
        if buf.len() as u64 > max_bytes {
            // It grew while being read.
            return Err(ReadError::TooLarge { size: None });
        }
        return if inspect(&buf) {
            Ok(buf)
        } else {
            Err(ReadError::Refused(buf))
        };
    }
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match limited.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() as u64 > max_bytes {
            return Err(ReadError::TooLarge { size: None });
        }
        if !inspect(&buf) {
            return Err(ReadError::Refused(buf));
        }
    }
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    #[test]
    fn reads_a_file_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 1000]).unwrap();
        assert_eq!(read_bounded(&p, 1000, |_| true).unwrap().len(), 1000);
        assert!(matches!(
            read_bounded(&p, 999, |_| true),
            Err(ReadError::TooLarge { size: Some(1000) })
        ));
    }

    // Regression: `/dev/zero` has no size, so a size check alone read it
    // until memory ran out.
    #[cfg(unix)]
    #[test]
    fn stops_at_the_limit_on_an_endless_device() {
        let limit = 3 * CHUNK as u64 + 7;
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), limit, |_| true),
            Err(ReadError::TooLarge { size: None })
        ));
        let mut calls = 0;
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), u64::MAX, |_| {
                calls += 1;
                false
            }),
            Err(ReadError::Refused(_))
        ));
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_directory_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_bounded(dir.path(), 10, |_| true),
            Err(ReadError::IsDirectory)
        ));
    }
}
