//! Copying bytes while hashing them, and checking the result against what the catalog or the
//! source promised, before anything is placed.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::InstallError;
use super::events::InstallEvent;
use crate::cancel::CancelToken;

/// How often a [`InstallEvent::Progress`] is sent while copying.
const PROGRESS_EVERY: u64 = 256 * 1024;
const BUFFER: usize = 64 * 1024;

/// What a file must be; either part may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub sha256: Option<String>,
    pub size: Option<u64>,
}

/// Where progress of one file goes.
pub struct FileProgress<'a> {
    pub model: &'a str,
    pub file: &'a str,
    pub on_event: &'a mut dyn FnMut(InstallEvent),
    /// Downloads stop at the next chunk once this is cancelled; local copies have none.
    pub cancel: Option<&'a CancelToken>,
}

impl FileProgress<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(CancelToken::is_cancelled)
    }

    pub fn emit(&mut self, event: InstallEvent) {
        (self.on_event)(event)
    }

    pub fn progress(&mut self, done: u64, total: Option<u64>) {
        let event = InstallEvent::Progress {
            model: self.model.to_string(),
            file: self.file.to_string(),
            done,
            total,
        };
        self.emit(event)
    }
}

/// Copies `reader` to a new file at `dest` (which must not be a final cache path), hashing as it
/// goes, then checks size and hash. On a mismatch `dest` is deleted.
pub fn copy_verified(
    reader: &mut dyn Read,
    dest: &Path,
    expected: &Expected,
    progress: &mut FileProgress<'_>,
) -> Result<(String, u64), InstallError> {
    let mut out = std::fs::File::create(dest).map_err(|e| InstallError::io(dest, e))?;
    let mut hasher = Sha256::new();
    let result = pump(
        reader,
        &mut out,
        &mut hasher,
        0,
        expected.size,
        progress,
        dest,
    );
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(dest);
            return Err(e);
        }
    };
    out.sync_all().map_err(|e| InstallError::io(dest, e))?;
    drop(out);
    let sha = check(dest, progress.file, hasher, done, expected)?;
    Ok((sha, done))
}

/// Reads `reader` to its end into `out`, updating `hasher`; returns the byte count including
/// `already` bytes that were there before. Read errors are returned as `Interrupted` so a
/// caller with a resumable source can continue.
pub fn pump(
    reader: &mut dyn Read,
    out: &mut std::fs::File,
    hasher: &mut Sha256,
    already: u64,
    total: Option<u64>,
    progress: &mut FileProgress<'_>,
    dest: &Path,
) -> Result<u64, InstallError> {
    let mut buf = vec![0u8; BUFFER];
    let mut done = already;
    let mut last_report = already;
    loop {
        if progress.cancelled() {
            out.flush().map_err(|e| InstallError::io(dest, e))?;
            return Err(InstallError::Cancelled);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                out.flush().map_err(|e| InstallError::io(dest, e))?;
                progress.progress(done, total);
                return Err(InstallError::Interrupted {
                    file: progress.file.to_string(),
                    done,
                    total: total.unwrap_or(0),
                });
            }
        };
        out.write_all(&buf[..n])
            .map_err(|e| InstallError::io(dest, e))?;
        hasher.update(&buf[..n]);
        done += n as u64;
        if let Some(t) = total
            && done > t
        {
            return Err(InstallError::SizeMismatch {
                file: progress.file.to_string(),
                expected: t,
                actual: done,
            });
        }
        if done - last_report >= PROGRESS_EVERY {
            progress.progress(done, total);
            last_report = done;
        }
    }
    out.flush().map_err(|e| InstallError::io(dest, e))?;
    progress.progress(done, total);
    Ok(done)
}

/// Compares what was written with what was expected; deletes `path` when they differ.
pub fn check(
    path: &Path,
    file: &str,
    hasher: Sha256,
    size: u64,
    expected: &Expected,
) -> Result<String, InstallError> {
    let actual = hex::encode(hasher.finalize());
    let failure = if let Some(want) = expected.size
        && want != size
    {
        Some(InstallError::SizeMismatch {
            file: file.to_string(),
            expected: want,
            actual: size,
        })
    } else if let Some(want) = &expected.sha256
        && !want.eq_ignore_ascii_case(&actual)
    {
        Some(InstallError::HashMismatch {
            file: file.to_string(),
            expected: want.clone(),
            actual: actual.clone(),
        })
    } else {
        None
    };
    match failure {
        Some(e) => {
            let _ = std::fs::remove_file(path);
            Err(e)
        }
        None => Ok(actual),
    }
}

/// The sha256 of a whole file and its size.
pub fn hash_file(path: &Path) -> Result<(String, u64), InstallError> {
    let mut f = std::fs::File::open(path).map_err(|e| InstallError::io(path, e))?;
    let mut hasher = Sha256::new();
    let size = hash_into(&mut f, &mut hasher).map_err(|e| InstallError::io(path, e))?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Feeds everything `reader` has into `hasher`; returns the byte count.
pub fn hash_into(reader: &mut dyn Read, hasher: &mut Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; BUFFER];
    let mut n_total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(n_total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                n_total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// True for a lower-case or upper-case 64-digit hex string (a sha256).
pub fn looks_like_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
