//! The web console: `GET /` (the page) and `GET /console/{name}` (its script and style
//! sheet), compiled into the binary from `txclass-server/console/`.
//!
//! The page only calls the public API (same origin), so the console decides nothing the API
//! does not. Assets are named by a hash of their content (`console.3f…a1.js`) and cached for
//! a year (`immutable`); the page itself is revalidated on every load (`no-cache` with an
//! `ETag`), so a new binary's console is seen at once. Every answer carries a strict
//! Content-Security-Policy: scripts and styles from this origin only, no inline script or
//! style, no frames, requests to this origin only.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{Response, StatusCode};
use http_body_util::{Either, Full};

use super::bodies::Res;
use crate::error::ApiError;

/// The policy every console answer carries.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Source files: (name in `index.html`'s `{{…}}` placeholders, content type, content).
const SOURCES: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/console.css"),
    ),
];

const INDEX: &str = include_str!("../../console/index.html");

/// One file the console serves.
struct Asset {
    content_type: &'static str,
    body: Bytes,
    etag: HeaderValue,
}

struct Console {
    index: Asset,
    /// Keyed by the hashed file name (`console.<hash>.js`).
    files: Vec<(String, Asset)>,
}

static CONSOLE: LazyLock<Console> = LazyLock::new(|| {
    let mut index = INDEX.to_owned();
    let mut files = Vec::new();
    for &(name, content_type, body) in SOURCES {
        let hash = fnv1a(body);
        let (stem, ext) = name
            .rsplit_once('.')
            .expect("asset names have an extension");
        let hashed = format!("{stem}.{hash:016x}.{ext}");
        index = index.replace(&format!("{{{{{name}}}}}"), &format!("/console/{hashed}"));
        files.push((hashed, asset(content_type, Bytes::from_static(body))));
    }
    debug_assert!(!index.contains("{{"), "every placeholder is replaced");
    Console {
        index: asset("text/html; charset=utf-8", Bytes::from(index)),
        files,
    }
});

fn asset(content_type: &'static str, body: Bytes) -> Asset {
    let etag = HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(&body))).expect("hex");
    Asset {
        content_type,
        body,
        etag,
    }
}

/// `GET /`: the page; revalidated on every load.
pub(super) fn index(headers: &HeaderMap) -> Res {
    respond(&CONSOLE.index, "no-cache", headers)
}

/// `GET /console/{name}`: a content-named asset, cached for good.
pub(super) fn file(name: &str, headers: &HeaderMap) -> Result<Res, ApiError> {
    let (_, asset) = CONSOLE
        .files
        .iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| ApiError::not_found(format!("no console file {name}")))?;
    Ok(respond(
        asset,
        "public, max-age=31536000, immutable",
        headers,
    ))
}

fn respond(asset: &Asset, cache: &'static str, headers: &HeaderMap) -> Res {
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == asset.etag || tag.trim() == "*");
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Bytes::new())
    } else {
        (StatusCode::OK, asset.body.clone())
    };
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, asset.content_type)
        .header(CACHE_CONTROL, cache)
        .header(ETAG, asset.etag.clone())
        .header(CONTENT_SECURITY_POLICY, CSP)
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(X_FRAME_OPTIONS, "DENY")
        .header(REFERRER_POLICY, "no-referrer")
        .body(Either::Left(Full::new(body)))
        .expect("valid response")
}

/// FNV-1a, 64 bits: names and tags a file by its content (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_by_its_hash() {
        let page = std::str::from_utf8(&CONSOLE.index.body).unwrap();
        assert!(!page.contains("{{"), "a placeholder is left: {page}");
        for (name, _) in &CONSOLE.files {
            assert!(page.contains(&format!("/console/{name}")), "{name}");
        }
        assert_eq!(CONSOLE.files.len(), SOURCES.len());
    }

    #[test]
    fn a_matching_etag_is_answered_304() {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, CONSOLE.index.etag.clone());
        assert_eq!(index(&h).status(), StatusCode::NOT_MODIFIED);
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(index(&h).status(), StatusCode::OK);
    }
}
