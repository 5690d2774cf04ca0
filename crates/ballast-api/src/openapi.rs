//! `/openapi.json`: the OpenAPI 3.0.3 document of the application, built from the same
//! [`RouteDoc`]s that registered its routes — so the router and the document cannot drift
//! (a test checks both ways, and that every documented path answers).

use axum::Json;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::routes::{Access, RouteDoc, Routes};

/// The document's path.
pub const PATH: &str = "/openapi.json";

/// `routes` with `/openapi.json` added, serving the document of every route (itself too).
pub fn add(routes: Routes) -> Routes {
    let mut doc = RouteDoc::new(
        "GET",
        PATH,
        "This document: every route of the API (OpenAPI 3.0.3).",
    );
    doc.access = Access::Open;
    let mut docs = routes.docs.clone();
    docs.push(doc.clone());
    let document = std::sync::Arc::new(document(&docs));
    routes.add(
        doc,
        get(move || {
            let d = std::sync::Arc::clone(&document);
            async move { Json((*d).clone()) }
        }),
    )
}

/// The error shape every route answers with.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A stable machine code (not_found, invalid, unauthorized, …)."},
                "message": {"type": "string", "description": "What went wrong and what to do, in words."},
                "field": {"type": "string", "description": "The request field at fault (validation errors)."}
            }
        }}
    })
}

/// The OpenAPI 3.0.3 document of `docs`.
pub fn document(docs: &[RouteDoc]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for d in docs {
        let entry = paths
            .entry(d.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(d.method.to_ascii_lowercase(), operation(d));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Ballast",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Ballast's operator API: health, control, engine state, signals. Reads need the viewer's or the operator's bearer token, control the operator's; /livez, /readyz, /metrics and the dashboard are open."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": error_schema()},
            "responses": {"Error": {
                "description": "An error, in the one shape.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }}
        }
    })
}

fn operation(d: &RouteDoc) -> Value {
    let mut params: Vec<Value> = path_params(d.path)
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();
    params.extend(d.query.iter().map(|p| {
        json!({"name": p.name, "in": "query", "required": false,
               "description": p.description, "schema": {"type": "string"}})
    }));
    let answer = d.answer.map(|f| f()).unwrap_or_else(|| json!({}));
    let mut op = json!({
        "summary": d.summary,
        "operationId": operation_id(d),
        "parameters": params,
        "responses": {
            "200": {"description": "The answer.", "content": {"application/json": {"schema": answer}}},
            "default": {"$ref": "#/components/responses/Error"}
        }
    });
    if let Value::Object(o) = &mut op {
        match d.access {
            Access::Open => {
                o.insert("security".into(), json!([]));
            }
            Access::Viewer => {
                o.insert("security".into(), json!([{"bearer": []}]));
                o.insert(
                    "description".into(),
                    json!("The viewer's or the operator's token."),
                );
            }
            Access::Operator => {
                o.insert("security".into(), json!([{"bearer": []}]));
                o.insert("description".into(), json!("The operator's token (a control action, journaled with the role and the remote address)."));
            }
        }
        if let Some(body) = d.body {
            o.insert(
                "requestBody".into(),
                json!({"required": false, "content": {"application/json": {"schema": body()}}}),
            );
        }
    }
    op
}

/// The `{name}` parameters of an axum path.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
}

/// `get_v1_services_name_restart`: unique per method and path.
fn operation_id(d: &RouteDoc) -> String {
    let path: String = d
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut id = format!("{}_{}", d.method.to_ascii_lowercase(), path);
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    id.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_one_operation_with_its_parameters_and_security() {
        let mut restart = RouteDoc::new("POST", "/v1/services/{name}/restart", "Restart.");
        restart.access = Access::Operator;
        let mut live = RouteDoc::new("GET", "/livez", "Alive.");
        live.access = Access::Open;
        let d = document(&[restart, live]);
        let op = &d["paths"]["/v1/services/{name}/restart"]["post"];
        assert_eq!(op["parameters"][0]["name"], "name");
        assert_eq!(op["parameters"][0]["in"], "path");
        assert_eq!(op["security"], json!([{"bearer": []}]));
        assert_eq!(op["operationId"], "post_v1_services_name_restart");
        assert_eq!(d["paths"]["/livez"]["get"]["security"], json!([]));
    }
}
