//! The Hugging Face Hub source: files fetched from `{endpoint}/{repo}/resolve/{revision}/{file}`
//! into the standard Hugging Face cache (`models--org--name/{blobs,snapshots,refs}`), so Python
//! tools and Inkread share one copy.
//!
//! hf-hub 0.4's sync API keeps its `.part` file inside `blobs/`, checks no hash and reports
//! progress only to its own bar, so the HTTP part is written here with ureq 3; hf-hub still
//! names the cache folder and reads the token. Each file is downloaded to
//! `<inkread home>/partial/hub/`, resumed with an HTTP Range when a part is kept, checked
//! against the catalog's sha256 or the one the Hub reports (the `X-Linked-Etag` of LFS files),
//! and only then renamed into `blobs/`. Snapshot links and `refs/<revision>` are written after
//! every file of the model is in place.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::InstallError;
use super::events::InstallEvent;
use super::store::{StoreConfig, place_file};
use super::verify::{self, Expected, FileProgress};
use crate::cancel::CancelToken;
use crate::models::catalog::FileSpec;

/// A Hub repository at a revision, with the model files below `subdir`.
#[derive(Debug, Clone, Copy)]
pub struct HubRepo<'a> {
    pub repo: &'a str,
    pub revision: &'a str,
    pub subdir: &'a str,
}

impl HubRepo<'_> {
    fn cache_dir(&self, config: &StoreConfig) -> PathBuf {
        let folder = hf_hub::Repo::model(self.repo.to_string()).folder_name();
        config.hf_cache.join(folder)
    }

    fn in_repo(&self, name: &str) -> String {
        if self.subdir.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.subdir.trim_matches('/'))
        }
    }

    fn url(&self, config: &StoreConfig, name: &str) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            config.hf_endpoint,
            self.repo,
            self.revision,
            self.in_repo(name)
        )
    }

    /// The commit the cache records for this revision (a commit revision is its own).
    fn cached_commit(&self, config: &StoreConfig) -> Option<String> {
        if is_commit(self.revision) {
            return Some(self.revision.to_string());
        }
        let path = self.cache_dir(config).join("refs").join(self.revision);
        let commit = std::fs::read_to_string(path).ok()?.trim().to_string();
        is_commit(&commit).then_some(commit)
    }

    /// The snapshot folder holding the model files, when every required file is there and
    /// every file with a catalog hash points at the blob of that hash.
    pub fn complete_snapshot(&self, config: &StoreConfig, files: &[FileSpec]) -> Option<PathBuf> {
        let commit = self.cached_commit(config)?;
        let dir = self
            .cache_dir(config)
            .join("snapshots")
            .join(commit)
            .join(self.subdir);
        let ok = files.iter().all(|spec| {
            let found = spec.candidates().find(|n| dir.join(n).is_file());
            match found {
                None => spec.optional,
                Some(name) => blob_matches(&dir.join(name), spec.sha256.as_deref()),
            }
        });
        ok.then_some(dir)
    }

    /// Removes this repository from the shared cache.
    pub fn remove(&self, config: &StoreConfig) -> Result<Option<PathBuf>, InstallError> {
        let dir = self.cache_dir(config);
        if !dir.exists() {
            return Ok(None);
        }
        std::fs::remove_dir_all(&dir).map_err(|e| InstallError::io(&dir, e))?;
        Ok(Some(dir))
    }
}

/// A snapshot entry is a link to `blobs/<etag>`; for LFS files the etag is the sha256, so a
/// catalog hash can be checked without reading the file. Copies (no symlinks) are trusted.
fn blob_matches(path: &Path, sha256: Option<&str>) -> bool {
    let (Some(want), Ok(target)) = (sha256, std::fs::read_link(path)) else {
        return true;
    };
    target
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|blob| !verify::looks_like_sha256(blob) || blob.eq_ignore_ascii_case(want))
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a HEAD request on `resolve/` tells about one file.
#[derive(Debug, Clone)]
struct Metadata {
    commit: String,
    /// Blob name in the cache: the sha256 for LFS files, the git blob id otherwise.
    etag: String,
    size: Option<u64>,
}

impl Metadata {
    fn reported_sha256(&self) -> Option<&str> {
        verify::looks_like_sha256(&self.etag).then_some(self.etag.as_str())
    }
}

/// Installs the files of one Hub source into the cache; returns the snapshot folder.
pub fn install(
    config: &StoreConfig,
    model: &str,
    hub: HubRepo<'_>,
    files: &[FileSpec],
    on_event: &mut dyn FnMut(InstallEvent),
    cancel: &CancelToken,
) -> Result<PathBuf, InstallError> {
    if let Some(dir) = hub.complete_snapshot(config, files) {
        return Ok(dir);
    }
    if config.hf_offline {
        return Err(InstallError::OfflineMode {
            what: format!("Hugging Face Hub {}", hub.repo),
        });
    }
    let client = Client::new(config);
    let planned = plan(&client, config, hub, files)?;
    let Some(commit) = planned.first().map(|(_, _, meta)| meta.commit.clone()) else {
        return Err(InstallError::NotFound {
            what: format!("{} has none of the model's files", hub.repo),
        });
    };
    let repo_dir = hub.cache_dir(config);
    for (spec, name, meta) in &planned {
        let blob = repo_dir.join("blobs").join(&meta.etag);
        if blob.is_file() && meta.size.is_none_or(|s| file_len(&blob) == Some(s)) {
            continue;
        }
        let expected = expected_for(spec, name, meta)?;
        let part = fetch(
            &client,
            config,
            model,
            &hub.url(config, name),
            name,
            meta,
            &expected,
            on_event,
            cancel,
        )?;
        place_file(&part, &blob)?;
    }
    // Every blob is in place: now make the snapshot visible, then the ref.
    let snapshot = repo_dir.join("snapshots").join(&commit);
    for (_, name, meta) in &planned {
        link_into_snapshot(&repo_dir, &snapshot.join(hub.in_repo(name)), &meta.etag)?;
    }
    if !is_commit(hub.revision) {
        write_ref(&repo_dir, hub.revision, &commit)?;
    }
    Ok(snapshot.join(hub.subdir))
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// For every file: the name that exists at the source and its metadata (optional files that
/// do not exist are left out).
fn plan<'f>(
    client: &Client,
    config: &StoreConfig,
    hub: HubRepo<'_>,
    files: &'f [FileSpec],
) -> Result<Vec<(&'f FileSpec, String, Metadata)>, InstallError> {
    let mut planned = Vec::new();
    for spec in files {
        let mut found = None;
        for name in spec.candidates() {
            match client.head(&hub.url(config, name)) {
                Ok(meta) => {
                    found = Some((name.to_string(), meta));
                    break;
                }
                Err(InstallError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        match found {
            Some((name, meta)) => planned.push((spec, name, meta)),
            None if spec.optional => {}
            None => {
                return Err(InstallError::NotFound {
                    what: format!("{} in {} at {}", spec.name, hub.repo, hub.revision),
                });
            }
        }
    }
    Ok(planned)
}

/// The sha256 and size the file must have: the catalog's, else what the Hub reported; a
/// catalog hash that disagrees with the Hub's fails before any byte is downloaded.
fn expected_for(spec: &FileSpec, name: &str, meta: &Metadata) -> Result<Expected, InstallError> {
    let hub_sha = meta.reported_sha256();
    if let (Some(want), Some(reported)) = (&spec.sha256, hub_sha)
        && !want.eq_ignore_ascii_case(reported)
    {
        return Err(InstallError::HashMismatch {
            file: name.to_string(),
            expected: want.clone(),
            actual: reported.to_string(),
        });
    }
    if let (Some(want), Some(reported)) = (spec.size, meta.size)
        && want != reported
    {
        return Err(InstallError::SizeMismatch {
            file: name.to_string(),
            expected: want,
            actual: reported,
        });
    }
    Ok(Expected {
        sha256: spec.sha256.clone().or(hub_sha.map(str::to_string)),
        size: spec.size.or(meta.size),
    })
}

/// Downloads one file into `partial/hub/<etag>.part`, resuming and retrying after
/// interruptions; returns the verified part file, ready to be placed.
#[allow(clippy::too_many_arguments)]
fn fetch(
    client: &Client,
    config: &StoreConfig,
    model: &str,
    url: &str,
    name: &str,
    meta: &Metadata,
    expected: &Expected,
    on_event: &mut dyn FnMut(InstallEvent),
    cancel: &CancelToken,
) -> Result<PathBuf, InstallError> {
    let partial = config.partial_dir().join("hub");
    std::fs::create_dir_all(&partial).map_err(|e| InstallError::io(&partial, e))?;
    let part = partial.join(format!("{}.part", meta.etag));
    on_event(InstallEvent::Started {
        model: model.to_string(),
        file: name.to_string(),
        total_bytes: expected.size,
    });
    let mut progress = FileProgress {
        model,
        file: name,
        on_event,
        cancel: Some(cancel),
    };
    let mut attempt = 0;
    loop {
        match client.download_once(url, &part, expected, &mut progress) {
            Ok(hasher) => {
                let size = file_len(&part).unwrap_or(0);
                let sha = verify::check(&part, name, hasher, size, expected)?;
                progress.emit(InstallEvent::Verified {
                    model: model.to_string(),
                    file: name.to_string(),
                    sha256: sha,
                });
                return Ok(part);
            }
            Err(InstallError::Interrupted { .. })
                if attempt < config.retries && !cancel.is_cancelled() =>
            {
                attempt += 1
            }
            Err(e) => return Err(e),
        }
    }
}

/// Points `link` at `blobs/<etag>` with a relative symlink (a copy where symlinks are not
/// available), created under a temporary name and renamed.
fn link_into_snapshot(repo_dir: &Path, link: &Path, etag: &str) -> Result<(), InstallError> {
    let blob = repo_dir.join("blobs").join(etag);
    let parent = link.parent().unwrap_or(repo_dir);
    std::fs::create_dir_all(parent).map_err(|e| InstallError::io(parent, e))?;
    let tmp = parent.join(format!(".inkread-link-{}-{etag}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    make_link(&blob, parent, &tmp).map_err(|e| InstallError::io(&tmp, e))?;
    std::fs::rename(&tmp, link).map_err(|e| InstallError::io(link, e))
}

#[cfg(unix)]
fn make_link(blob: &Path, link_parent: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(relative_to(blob, link_parent), link)
}

#[cfg(not(unix))]
fn make_link(blob: &Path, _link_parent: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(blob, link).map(|_| ())
}

/// `target` expressed relative to the folder `from` (both below the same repo folder).
#[cfg(unix)]
fn relative_to(target: &Path, from: &Path) -> PathBuf {
    let t: Vec<_> = target.components().collect();
    let f: Vec<_> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel
}

fn write_ref(repo_dir: &Path, revision: &str, commit: &str) -> Result<(), InstallError> {
    let path = repo_dir.join("refs").join(revision);
    let parent = path.parent().unwrap_or(repo_dir);
    std::fs::create_dir_all(parent).map_err(|e| InstallError::io(parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".inkread-ref-")
        .tempfile_in(parent)
        .map_err(|e| InstallError::io(parent, e))?;
    std::io::Write::write_all(tmp.as_file_mut(), commit.as_bytes())
        .map_err(|e| InstallError::io(&path, e))?;
    tmp.persist(&path)
        .map_err(|e| InstallError::io(&path, e.error))?;
    Ok(())
}

/// The HTTP side: a HEAD that does not follow the Hub's redirect to its CDN (the file's
/// metadata is on the first answer), and a GET that does.
struct Client {
    head_agent: ureq::Agent,
    get_agent: ureq::Agent,
    token: Option<String>,
}

impl Client {
    fn new(config: &StoreConfig) -> Client {
        let build = |redirects: u32| -> ureq::Agent {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(redirects)
                .max_redirects_will_error(false)
                .timeout_connect(Some(config.connect_timeout))
                .timeout_recv_response(Some(config.connect_timeout * 4))
                .timeout_per_read(Some(config.connect_timeout * 4))
                .user_agent(concat!("inkread/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        Client {
            head_agent: build(0),
            get_agent: build(10),
            token: config.hf_token.clone(),
        }
    }

    fn head(&self, url: &str) -> Result<Metadata, InstallError> {
        let mut current = url.to_string();
        // Follow only the Hub's own relative redirects (renamed repositories); the redirect
        // to the CDN already carries the metadata.
        for _ in 0..5 {
            let mut req = self.head_agent.head(&current);
            if let Some(t) = &self.token {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            let resp = req.call().map_err(|e| network_error(&current, e))?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if status == 404 {
                return Err(InstallError::NotFound { what: current });
            }
            let commit = header("x-repo-commit");
            if (300..400).contains(&status) && commit.is_none() {
                let Some(location) = header("location") else {
                    return Err(InstallError::Http {
                        url: current,
                        status,
                    });
                };
                current = join_location(&current, &location);
                continue;
            }
            if !(200..400).contains(&status) {
                return Err(InstallError::Http {
                    url: current,
                    status,
                });
            }
            let missing = |h: &str| InstallError::MissingHeader {
                what: current.clone(),
                header: h.to_string(),
            };
            let commit = commit.ok_or_else(|| missing("X-Repo-Commit"))?;
            let etag = header("x-linked-etag")
                .or_else(|| header("etag"))
                .ok_or_else(|| missing("ETag"))?;
            let etag = etag.trim_start_matches("W/").replace('"', "");
            if etag.is_empty() || !etag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(missing("ETag (a plain hash)"));
            }
            let size = header("x-linked-size")
                .or_else(|| header("content-length"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            return Ok(Metadata {
                commit: commit.trim().to_string(),
                etag,
                size,
            });
        }
        Err(InstallError::Http {
            url: url.to_string(),
            status: 310,
        })
    }

    /// One GET of the file, appending to a kept part with a Range request when there is one.
    /// Returns the hasher over the whole part once the body ended.
    fn download_once(
        &self,
        url: &str,
        part: &Path,
        expected: &Expected,
        progress: &mut FileProgress<'_>,
    ) -> Result<Sha256, InstallError> {
        let mut offset = file_len(part).unwrap_or(0);
        if expected.size.is_some_and(|s| offset > s) {
            let _ = std::fs::remove_file(part);
            offset = 0;
        }
        let mut req = self
            .get_agent
            .get(url)
            .header("Accept-Encoding", "identity");
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        if offset > 0 {
            req = req.header("Range", &format!("bytes={offset}-"));
        }
        let resp = req.call().map_err(|e| network_error(url, e))?;
        let status = resp.status().as_u16();
        let resumed_at = match status {
            206 if content_range_start(&resp) == Some(offset) => offset,
            200 => 0,
            // The kept part is already whole (or the server disagrees with it): start over.
            206 | 416 => {
                let _ = std::fs::remove_file(part);
                return Err(InstallError::Interrupted {
                    file: progress.file.to_string(),
                    done: 0,
                    total: expected.size.unwrap_or(0),
                });
            }
            404 => {
                return Err(InstallError::NotFound {
                    what: url.to_string(),
                });
            }
            _ => {
                return Err(InstallError::Http {
                    url: url.to_string(),
                    status,
                });
            }
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(resumed_at == 0)
            .open(part)
            .map_err(|e| InstallError::io(part, e))?;
        let mut hasher = Sha256::new();
        if resumed_at > 0 {
            let mut existing = std::fs::File::open(part).map_err(|e| InstallError::io(part, e))?;
            verify::hash_into(&mut (&mut existing).take(resumed_at), &mut hasher)
                .map_err(|e| InstallError::io(part, e))?;
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(resumed_at))
                .map_err(|e| InstallError::io(part, e))?;
            progress.emit(InstallEvent::Resumed {
                model: progress.model.to_string(),
                file: progress.file.to_string(),
                from: resumed_at,
            });
        }
        let mut body = resp.into_body().into_reader();
        let done = verify::pump(
            &mut body,
            &mut file,
            &mut hasher,
            resumed_at,
            expected.size,
            progress,
            part,
        )?;
        if let Some(total) = expected.size
            && done < total
        {
            return Err(InstallError::Interrupted {
                file: progress.file.to_string(),
                done,
                total,
            });
        }
        file.sync_all().map_err(|e| InstallError::io(part, e))?;
        Ok(hasher)
    }
}

fn content_range_start(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let value = resp.headers().get("content-range")?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

/// Resolves a `Location` header against the URL it came from.
fn join_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        format!("{}{location}", &base[..host_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= host_end)
            .unwrap_or(host_end);
        format!("{}/{location}", &base[..dir_end])
    }
}

/// Connection-level failures mean the Hub cannot be reached: say "offline" plainly.
fn network_error(url: &str, e: ureq::Error) -> InstallError {
    InstallError::Offline {
        what: url.to_string(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_resolution() {
        assert_eq!(join_location("http://h:1/a/b/c", "/x/y"), "http://h:1/x/y");
        assert_eq!(join_location("http://h:1/a/b/c", "d"), "http://h:1/a/b/d");
        assert_eq!(
            join_location("http://h/a", "https://cdn/z"),
            "https://cdn/z"
        );
    }

    #[cfg(unix)]
    #[test]
    fn relative_link_target() {
        let rel = relative_to(
            Path::new("/c/m/blobs/abc"),
            Path::new("/c/m/snapshots/123/sub"),
        );
        assert_eq!(rel, PathBuf::from("../../../blobs/abc"));
    }
}
