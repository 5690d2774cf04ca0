//! The dashboard's page and assets over real HTTP on 127.0.0.1: each with its content type,
//! the strict Content-Security-Policy and no token anywhere in what is served.

use ballast_api::dashboard;

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = dashboard::routes().router;
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types_and_a_strict_policy() {
    let base = serve().await;
    let client = reqwest::Client::new();
    for (path, kind, needle) in [
        ("/", "text/html; charset=utf-8", "<title>Ballast</title>"),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "/v1/events",
        ),
        (
            "/assets/view.js",
            "text/javascript; charset=utf-8",
            "textContent",
        ),
        ("/assets/app.css", "text/css; charset=utf-8", ".badge"),
        ("/assets/icon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], kind, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        // Open: no token asked, and no CORS header offered.
        assert!(h.get("access-control-allow-origin").is_none(), "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path} does not hold {needle}");
        assert!(!body.to_lowercase().contains("bearer ey"), "{path}");
    }
}

#[tokio::test]
async fn an_unknown_asset_is_not_the_page() {
    let base = serve().await;
    let r = reqwest::get(format!("{base}/assets/nope.js"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Behind the app's role check (`finish`), the page and its assets need no token — the data
/// routes beside them do.
#[tokio::test]
async fn the_page_is_open_behind_the_role_check_and_the_data_is_not() {
    use ballast_api::auth::{Origin, Token, Tokens};
    use ballast_api::{Access, RouteDoc};
    let mut read = RouteDoc::new("GET", "/v1/health", "test");
    read.access = Access::Viewer;
    let routes = dashboard::routes()
        .merge(ballast_api::Routes::default().add(read, axum::routing::get(|| async { "{}" })));
    let tokens = std::sync::Arc::new(Tokens {
        operator: Token::new(
            "operator-token-0123456789abcdef0123",
            Origin::Kept("op".into()),
        ),
        viewer: Token::new(
            "viewer-token-0123456789abcdef012345",
            Origin::Kept("v".into()),
        ),
    });
    let app = ballast_api::finish(routes, tokens);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ballast_api::serve::serve(listener, app));
    for path in ["/", "/assets/app.js", "/assets/view.js", "/assets/app.css"] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = reqwest::get(format!("{base}/v1/health")).await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Every family of the engine journal's record types has its row in the dashboard's table of
/// what an event refreshes (`ENGINE_EVENTS` in app.js): a record that moves positions, orders
/// or the account (`venue.fills`, `order.venue`) refreshes those panels, and a new record type
/// fails here until it is placed.
#[tokio::test]
async fn every_engine_record_family_says_which_panels_its_events_refresh() {
    let base = serve().await;
    let js = reqwest::get(format!("{base}/assets/app.js"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let table = js
        .split_once("const ENGINE_EVENTS = {")
        .and_then(|(_, rest)| rest.split_once("};"))
        .map(|(t, _)| t)
        .expect("app.js has the ENGINE_EVENTS table");
    let row = |family: &str| {
        table
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(&format!("{family}: [")))
            .map(|l| l.to_owned())
    };
    for kind in ballast_core::engine::kinds::ALL {
        let family = kind.split('.').next().unwrap();
        assert!(
            row(family).is_some(),
            "{kind}: family {family} has no row in app.js's ENGINE_EVENTS"
        );
    }
    for moving in ["venue", "order", "market", "reconcile"] {
        let r = row(moving).unwrap();
        for panel in ["\"positions\"", "\"orders\"", "\"account\""] {
            assert!(r.contains(panel), "{moving} refreshes {panel}: {r}");
        }
    }
}
