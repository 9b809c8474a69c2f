//! Fetches an image from an http(s) URL with limits: a time-out, a size cap, an image
//! content type and few redirects. Blocking: the app calls it from a loader thread.

use std::time::Duration;

/// Limits for one fetch; the defaults suit a page photo.
#[derive(Clone, Debug)]
pub struct FetchLimits {
    pub timeout: Duration,
    pub max_bytes: u64,
    pub max_redirects: u32,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_bytes: 40 * 1024 * 1024,
            max_redirects: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a web address: {0}")]
    NotAUrl(String),
    #[error("only http and https addresses can be opened, not {0}")]
    Scheme(String),
    #[error("the server answered {status} for {url}")]
    Status { status: u16, url: String },
    #[error("{url} is not an image (content type {content_type})")]
    NotAnImage { url: String, content_type: String },
    #[error("{url} is larger than {max_mb} MB")]
    TooLarge { url: String, max_mb: u64 },
    #[error("{url} took longer than {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("{url} redirected more than {max} times")]
    TooManyRedirects { url: String, max: u32 },
    #[error("could not fetch {url}: {reason}")]
    Network { url: String, reason: String },
}

/// Whether `text` looks like something `fetch_image_bytes` would try.
pub fn looks_like_url(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("http://") || t.starts_with("https://")) && !t.contains(char::is_whitespace)
}

/// Checks the address before any connection: http or https, with a host.
pub fn check_url(url: &str) -> Result<ureq::http::Uri, FetchError> {
    let url = url.trim();
    // The scheme is checked on the text first: `file:///x` has no authority and would
    // otherwise fail to parse with a less helpful message.
    if let Some((scheme, _)) = url.split_once("://")
        && !scheme.eq_ignore_ascii_case("http")
        && !scheme.eq_ignore_ascii_case("https")
    {
        return Err(FetchError::Scheme(scheme.to_owned()));
    }
    let uri: ureq::http::Uri = url.parse().map_err(|_| FetchError::NotAUrl(url.into()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(FetchError::Scheme(other.into())),
        None => return Err(FetchError::NotAUrl(url.into())),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(FetchError::NotAUrl(url.into()));
    }
    Ok(uri)
}

/// Downloads the body of an image URL, enforcing `limits`.
pub fn fetch_image_bytes(url: &str, limits: &FetchLimits) -> Result<Vec<u8>, FetchError> {
    let uri = check_url(url)?;
    let url = uri.to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .max_redirects(limits.max_redirects)
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(uri)
        .call()
        .map_err(|e| map_error(e, &url, limits))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(FetchError::Status { status, url });
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // Scanned pages are often served as PDFs.
    if !(content_type.starts_with("image/") || content_type.starts_with("application/pdf")) {
        return Err(FetchError::NotAnImage { url, content_type });
    }
    response
        .body_mut()
        .with_config()
        .limit(limits.max_bytes)
        .read_to_vec()
        .map_err(|e| map_error(e, &url, limits))
}

fn map_error(e: ureq::Error, url: &str, limits: &FetchLimits) -> FetchError {
    let url = url.to_owned();
    match e {
        ureq::Error::Timeout(_) => FetchError::Timeout {
            url,
            secs: limits.timeout.as_secs(),
        },
        ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge {
            url,
            max_mb: limits.max_bytes / (1024 * 1024),
        },
        ureq::Error::TooManyRedirects => FetchError::TooManyRedirects {
            url,
            max: limits.max_redirects,
        },
        other => FetchError::Network {
            url,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_pass_the_check() {
        assert!(check_url("https://example.org/a.png").is_ok());
        assert!(check_url("http://127.0.0.1:8080/a.png").is_ok());
        assert!(matches!(
            check_url("file:///etc/passwd"),
            Err(FetchError::Scheme(_))
        ));
        assert!(matches!(
            check_url("ftp://host/x.png"),
            Err(FetchError::Scheme(_))
        ));
        assert!(check_url("not a url").is_err());
        assert!(looks_like_url(" https://x.org/p.jpg "));
        assert!(!looks_like_url("hello world"));
    }
}
