//! File helpers: atomic writes and expanding snapshot globs.

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
