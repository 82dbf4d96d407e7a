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
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let context = || format!("cannot write `{}`", path.display());
    let path = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(context)?;
            return f.write_all(bytes).with_context(context);
        }
        Ok(_) => std::fs::canonicalize(path).with_context(context)?,
        Err(_) => path.to_path_buf(),
    };
    let path = path.as_path();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
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

/// The largest policy script trueup reads.
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

/// Reads a policy script, within [`MAX_SCRIPT_BYTES`].
pub fn read_script(path: &Path) -> std::io::Result<String> {
    read_to_string_bounded(path, MAX_SCRIPT_BYTES)
}

/// Reads a UTF-8 text file through [`read_bounded`], as
/// `std::fs::read_to_string` would but never past `max_bytes`: for inputs
/// that are not YAML (policy scripts), whose readers report I/O errors.
pub fn read_to_string_bounded(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    match read_bounded(path, max_bytes, |_| true) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| Error::new(ErrorKind::InvalidData, "file is not valid UTF-8 text")),
        Err(ReadError::Io(e)) => Err(e),
        Err(ReadError::IsDirectory) => Err(Error::other("is a directory, not a file")),
        Err(ReadError::TooLarge { .. } | ReadError::Refused(_)) => Err(Error::other(format!(
            "file is too large (the limit is {} MiB)",
            max_bytes >> 20
        ))),
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
