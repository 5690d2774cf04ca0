//! The one table of routes: every module adds its routes through [`Routes`], which registers
//! each on the axum router *and* records its documentation — so the router and
//! `/openapi.json` are built from the same list and cannot drift apart.

use axum::Router;
use axum::routing::MethodRouter;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (probes, metrics, the dashboard's page).
    Open,
    /// The viewer's or the operator's token.
    Viewer,
    /// The operator's token only.
    Operator,
}

/// One query parameter of a route, for the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
}

/// A route's documentation.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    /// `GET`, `POST`, `DELETE`, … (upper case).
    pub method: &'static str,
    /// The axum path (`/v1/services/{name}/restart`), which is also OpenAPI's.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [Param],
    /// The JSON schema of the request body, if it takes one.
    pub body: Option<fn() -> serde_json::Value>,
    /// The JSON schema of the success answer.
    pub answer: Option<fn() -> serde_json::Value>,
}

impl RouteDoc {
    pub const fn new(method: &'static str, path: &'static str, summary: &'static str) -> RouteDoc {
        RouteDoc {
            method,
            path,
            summary,
            access: Access::Viewer,
            query: &[],
            body: None,
            answer: None,
        }
    }
}

/// A router under construction and the documentation of every route in it.
pub struct Routes<S = ()> {
    pub router: Router<S>,
    pub docs: Vec<RouteDoc>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            docs: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Add `handler` (e.g. `axum::routing::get(f)`) for `doc.method` at `doc.path`.
    pub fn add(mut self, doc: RouteDoc, handler: MethodRouter<S>) -> Self {
        self.router = self.router.route(doc.path, handler);
        self.docs.push(doc);
        self
    }

    /// Apply the state: a router every module's can be merged with.
    pub fn with_state(self, state: S) -> Routes<()> {
        Routes {
            router: self.router.with_state(state),
            docs: self.docs,
        }
    }
}

impl Routes<()> {
    /// Both routers and both lists.
    pub fn merge(mut self, other: Routes<()>) -> Routes<()> {
        self.router = self.router.merge(other.router);
        self.docs.extend(other.docs);
        self
    }
}
