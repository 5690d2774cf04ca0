//! The application's frame over real HTTP on 127.0.0.1: each route's role check, the one
//! error shape for every refusal (axum's own included), the limits, no CORS.

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Json};
use ballast_api::auth::{Origin, Token, Tokens};
use ballast_api::{Access, Caller, RouteDoc, Routes};
use serde_json::{Value, json};

const OP: &str = "operator-token-0123456789abcdef0123456789";
const VIEW: &str = "viewer-token-0123456789abcdef0123456789ab";

fn doc(method: &'static str, path: &'static str, access: Access) -> RouteDoc {
    let mut d = RouteDoc::new(method, path, "test");
    d.access = access;
    d
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Body {
    reason: String,
}

async fn start() -> String {
    let routes = Routes::default()
        .add(doc("GET", "/open", Access::Open), get(|| async { "open" }))
        .add(
            doc("GET", "/read", Access::Viewer),
            get(|Extension(c): Extension<Caller>| async move {
                Json(json!({"role": c.role.map(|r| r.as_str()), "remote": c.remote.map(|r| r.ip().to_string())}))
            }),
        )
        .add(
            doc("POST", "/act", Access::Operator),
            post(|Json(_b): Json<Body>| async { Json(json!({"done": true})) }),
        );
    let tokens = Arc::new(Tokens {
        operator: Token::new(OP, Origin::Kept("op".into())),
        viewer: Token::new(VIEW, Origin::Kept("view".into())),
    });
    let app = ballast_api::finish(routes, tokens);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ballast_api::serve::serve(listener, app));
    format!("http://{addr}")
}

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/json"), "status {status}");
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, body)
}

#[tokio::test]
async fn each_route_answers_its_roles_and_refuses_the_others_in_the_one_shape() {
    let base = start().await;
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(format!("{base}/open")).send().await.unwrap().status(),
        200
    );

    let none = c.get(format!("{base}/read")).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_of(none).await.0, 401);
    let wrong = c
        .get(format!("{base}/read"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(wrong).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    let viewer: Value = c
        .get(format!("{base}/read"))
        .bearer_auth(VIEW)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(viewer, json!({"role": "viewer", "remote": "127.0.0.1"}));

    let act = |token: &'static str| {
        c.post(format!("{base}/act"))
            .bearer_auth(token)
            .json(&json!({"reason": "x"}))
            .send()
    };
    let (status, body) = error_of(act(VIEW).await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(act(OP).await.unwrap().status(), 200);
    // No token at all on a control route: 401, not 403.
    let anon = c.post(format!("{base}/act")).send().await.unwrap();
    assert_eq!(error_of(anon).await.0, 401);
}

#[tokio::test]
async fn axum_refusals_404_405_and_413_are_in_the_one_shape_and_no_cors_header_is_sent() {
    let base = start().await;
    let c = reqwest::Client::new();
    let (s, body) = error_of(c.get(format!("{base}/nothing")).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nothing")
    );
    let r = c
        .delete(format!("{base}/read"))
        .bearer_auth(VIEW)
        .send()
        .await
        .unwrap();
    let (s, body) = error_of(r).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    // Without a token too: the paths and their methods are public (/openapi.json).
    let r = c.delete(format!("{base}/read")).send().await.unwrap();
    assert_eq!(error_of(r).await.0, 405);

    let post = |body: String| {
        c.post(format!("{base}/act"))
            .bearer_auth(OP)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, _) = error_of(post("{not json".into()).await.unwrap()).await;
    assert_eq!(s, 400);
    let (s, body) = error_of(post("{}".into()).await.unwrap()).await;
    assert_eq!(s, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reason"),
        "{body}"
    );
    let big = format!(
        "{{\"reason\": \"{}\"}}",
        "x".repeat(ballast_api::MAX_BODY_BYTES)
    );
    let (s, body) = error_of(post(big).await.unwrap()).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (413, Some("too_large"))
    );

    let r = c
        .get(format!("{base}/read"))
        .bearer_auth(VIEW)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers()
    );
}

#[tokio::test]
async fn the_openapi_document_is_open_and_lists_every_route() {
    let base = start().await;
    let d: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["openapi"], "3.0.3");
    for (path, method) in [
        ("/open", "get"),
        ("/read", "get"),
        ("/act", "post"),
        ("/openapi.json", "get"),
    ] {
        assert!(d["paths"][path][method].is_object(), "{path} {method}: {d}");
    }
}

/// The whole application (every module's routes, a supervisor-less surface): each route of
/// its table is in `/openapi.json` and each documented operation is a route of the router —
/// over real HTTP it answers something other than "no such route" or "not this method".
#[tokio::test]
async fn every_route_of_the_app_is_documented_and_every_documented_one_is_routed() {
    use ballast_supervisor::surface::{Published, Surface};
    let dir = tempfile::tempdir().unwrap();
    let tokens = Arc::new(Tokens {
        operator: Token::new(OP, Origin::Kept("op".into())),
        viewer: Token::new(VIEW, Origin::Kept("view".into())),
    });
    let ctx = ballast_api::Context {
        surface: Surface::without_loop(Arc::new(Published::default())),
        layout: ballast_store::Layout::new(dir.path()),
        tokens: Arc::clone(&tokens),
        config: Arc::new(|| json!({"settings": []})),
        cycle: std::time::Duration::from_secs(1),
        metrics: Some(ballast_api::metrics::Metrics::engine(dir.path())),
        follower: Arc::new(
            ballast_api::follow::Follower::start(ballast_api::follow::FollowOptions::new(
                dir.path(),
                Arc::new(ballast_core::config::load(None, &[]).unwrap()),
            ))
            .unwrap(),
        ),
        signals: Some(
            ballast_api::signals::SignalsState::open(
                &ballast_store::Layout::new(dir.path()),
                &ballast_core::config::builtin().unwrap(),
                Arc::new(ballast_store::RealStorage),
                Arc::new(ballast_store::SystemClock),
            )
            .unwrap(),
        ),
    };
    let table: std::collections::BTreeSet<(String, String)> = ballast_api::app_routes(&ctx)
        .docs
        .iter()
        .map(|d| (d.method.to_ascii_lowercase(), d.path.to_owned()))
        .chain([("get".to_owned(), "/openapi.json".to_owned())])
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ballast_api::serve::serve(listener, ballast_api::app(&ctx)));
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ms)| {
            ms.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.clone(), p.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(table, documented);
    assert!(table.len() >= 20, "{table:?}");
    let c = reqwest::Client::new();
    for (method, path) in &documented {
        let url = format!("{base}{}", path.replace("{name}", "x").replace("{id}", "x"));
        let r = c
            .request(method.to_ascii_uppercase().parse().unwrap(), url)
            .bearer_auth(OP)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        // An event stream does not end: its status says enough.
        let stream = r
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let body = if stream {
            String::new()
        } else {
            r.text().await.unwrap()
        };
        let routed = status != 405 && !(status == 404 && body.contains("no route"));
        assert!(routed, "{method} {path}: {status} {body}");
    }
}

/// At the connection bound the next client waits (nothing is refused or lost), and an idle
/// connection is closed after the idle limit — so idle clients cannot hold the API.
#[tokio::test]
async fn an_idle_connection_holds_its_slot_only_until_the_idle_limit() {
    use tokio::io::AsyncReadExt;
    let tokens = Arc::new(Tokens {
        operator: Token::new(OP, Origin::Kept("op".into())),
        viewer: Token::new(VIEW, Origin::Kept("view".into())),
    });
    let routes = Routes::default().add(doc("GET", "/open", Access::Open), get(|| async { "open" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let idle = std::time::Duration::from_millis(300);
    let limits = ballast_api::serve::Limits {
        connections: 1,
        idle,
        pressed_idle: idle,
    };
    tokio::spawn(ballast_api::serve::serve_within(
        listener,
        ballast_api::finish(routes, tokens),
        limits,
    ));
    // One client takes the only slot and says nothing.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let t = std::time::Instant::now();
    let r = reqwest::get(format!("http://{addr}/open")).await.unwrap();
    assert_eq!(r.text().await.unwrap(), "open");
    // Served only once the silent one was closed for idleness.
    assert!(t.elapsed() >= idle, "served after {:?}", t.elapsed());
    let mut buf = [0u8; 16];
    assert_eq!(
        silent.read(&mut buf).await.unwrap(),
        0,
        "closed by the server"
    );
}

/// A slowloris — every slot taken by a connection that says nothing — does not keep a real
/// client out for the idle limit: while the slots run out, silent connections are closed after
/// the short limit, and the client is served.
#[tokio::test]
async fn silent_connections_holding_every_slot_do_not_lock_out_a_real_client() {
    use tokio::io::AsyncReadExt;
    let tokens = Arc::new(Tokens {
        operator: Token::new(OP, Origin::Kept("op".into())),
        viewer: Token::new(VIEW, Origin::Kept("view".into())),
    });
    let routes = Routes::default().add(doc("GET", "/open", Access::Open), get(|| async { "open" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = ballast_api::serve::Limits {
        connections: 8,
        // Far beyond the client's patience below: only the pressed limit can serve it.
        idle: std::time::Duration::from_secs(600),
        pressed_idle: std::time::Duration::from_millis(200),
    };
    tokio::spawn(ballast_api::serve::serve_within(
        listener,
        ballast_api::finish(routes, tokens),
        limits,
    ));
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let r = client
        .get(format!("http://{addr}/open"))
        .send()
        .await
        .expect("served while silent connections held every slot");
    assert_eq!(r.text().await.unwrap(), "open");
    let mut buf = [0u8; 16];
    assert_eq!(
        silent[0].read(&mut buf).await.unwrap(),
        0,
        "the silent one was closed by the server"
    );
}
