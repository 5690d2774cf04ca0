//! The dashboard (issue 13 item 5): one page and its script and style, embedded in the binary
//! (no CDN, no build step: it works offline and cannot drift from the binary it ships with).
//! The page is open — it holds no data; everything it shows it asks of the API with the token
//! the operator enters, which it keeps in the browser session and never puts in a URL.
//!
//! Every asset is answered with its content type, `nosniff`, no caching (a new binary's page
//! is seen at once) and a strict Content-Security-Policy: only this origin's script, style and
//! connections, no inline script, no framing — so a page of Ballast cannot be made to run
//! someone else's code or be embedded to trick a click on the kill switch.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::routes::{Access, RouteDoc, Routes};

/// The policy every asset is served with.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const VIEW_JS: &str = include_str!("../assets/view.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const ICON: &str = include_str!("../assets/icon.svg");

/// One embedded asset: its path, content type and bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// Every asset the page needs.
pub const ASSETS: [Asset; 5] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: INDEX,
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: APP_JS,
    },
    Asset {
        path: "/assets/view.js",
        content_type: "text/javascript; charset=utf-8",
        body: VIEW_JS,
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: APP_CSS,
    },
    Asset {
        path: "/assets/icon.svg",
        content_type: "image/svg+xml",
        body: ICON,
    },
];

fn answer(asset: Asset) -> Response {
    let mut response = asset.body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The page and its assets, all [`Access::Open`].
pub fn routes() -> Routes {
    let docs = [
        "The dashboard: the page (its data needs the token, entered on the page)",
        "The dashboard's script: state, API calls, the event stream, actions",
        "The dashboard's script: the cards, tables and charts it draws",
        "The dashboard's style",
        "The dashboard's icon",
    ];
    ASSETS
        .iter()
        .zip(docs)
        .fold(Routes::default(), |routes, (asset, summary)| {
            let asset = *asset;
            let doc = RouteDoc {
                access: Access::Open,
                ..RouteDoc::new("GET", asset.path, summary)
            };
            routes.add(doc, get(move || async move { answer(asset) }))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets_and_never_carries_a_token() {
        for src in [
            "/assets/app.js",
            "/assets/view.js",
            "/assets/app.css",
            "/assets/icon.svg",
        ] {
            assert!(
                INDEX.contains(&format!("\"{src}\"")),
                "{src} not in the page"
            );
        }
        // No inline script or style (the CSP forbids them) and nothing from elsewhere.
        assert!(!INDEX.contains("<script>") && !INDEX.contains("style="));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
        let svg_ns = "http://www.w3.org/2000/svg";
        let elsewhere = format!("{APP_JS}{VIEW_JS}").replace(svg_ns, "");
        assert!(!elsewhere.contains("http://") && !elsewhere.contains("https://"));
        // The token is only ever sent as a header.
        assert!(!APP_JS.contains("?token") && !APP_JS.contains("&token"));
        assert!(APP_JS.contains("sessionStorage"));
    }

    #[test]
    fn every_asset_is_documented_open() {
        let r = routes();
        assert_eq!(r.docs.len(), ASSETS.len());
        assert!(r.docs.iter().all(|d| d.access == Access::Open));
    }
}
