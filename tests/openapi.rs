//! The OpenAPI document lists every REST route the router registers, and the docs page is
//! served by the app itself.
mod common;

use common::{json, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every `(path, method)` that `src/server/http/mod.rs` registers, read from its
/// `.route("PATH", get(a).put(b).layer(...))` lines, so a route added there without a
/// `#[utoipa::path]` fails here.
fn registered_routes() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/server/http/mod.rs")).expect("the router's source");
    let mut routes = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix(".route(\"") else { continue };
        let (path, handlers) = rest.split_once('"').expect("a quoted path");
        routes.extend(chained_calls(handlers).into_iter().filter(|m| METHODS.contains(&m.as_str())).map(|m| (path.to_string(), m)));
    }
    routes
}

/// The names called at the top level of `, get(a).put(b).layer(x(y)))`: `get`, `put`, `layer`.
fn chained_calls(handlers: &str) -> Vec<String> {
    let (mut calls, mut name, mut depth) = (Vec::new(), String::new(), 0);
    for c in handlers.chars() {
        match c {
            '(' if depth == 0 => {
                calls.push(std::mem::take(&mut name));
                depth = 1;
            }
            '(' => depth += 1,
            ')' if depth == 0 => break,
            ')' => depth -= 1,
            c if depth == 0 && (c.is_alphanumeric() || c == '_') => name.push(c),
            _ if depth == 0 => name.clear(),
            _ => {}
        }
    }
    calls
}

/// The schema names of every `$ref` in the document.
fn schema_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
                out.push(name.to_string());
            }
            map.values().for_each(|v| schema_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| schema_refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_route_parser_reads_chained_methods_and_layers() {
    assert_eq!(chained_calls(r#", get(a::b).put(c::d))"#), ["get", "put"]);
    assert_eq!(chained_calls(r#", post(x).layer(DefaultBodyLimit::max(1 << 30)))"#), ["post", "layer"]);
}

#[sqlx::test]
async fn every_rest_route_is_in_the_openapi_document(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, doc) = json(reqwest::get(app.url("/api/openapi.json")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "Turnout");

    let routes = registered_routes();
    assert!(routes.len() > 70, "the parser found only {} routes", routes.len());
    let missing: Vec<String> = routes
        .iter()
        .filter(|(path, _)| path != "/api/{*rest}" && !path.starts_with("/api/fn/"))
        .filter(|(path, method)| doc["paths"][path][method].is_null())
        .map(|(path, method)| format!("{} {path}", method.to_uppercase()))
        .collect();
    assert!(missing.is_empty(), "routes missing from the OpenAPI document: {missing:?}");

    // Clients generate one function per operation id: each must be unique.
    let ids: Vec<&str> = doc["paths"].as_object().unwrap().values().flat_map(|item| item.as_object().unwrap().values()).map(|op| op["operationId"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate operation ids");

    let mut refs = Vec::new();
    schema_refs(&doc, &mut refs);
    let dangling: Vec<&String> = refs.iter().filter(|name| doc["components"]["schemas"][name.as_str()].is_null()).collect();
    assert!(dangling.is_empty(), "schemas referred to but not in the document: {dangling:?}");
}

#[sqlx::test]
async fn the_docs_page_is_served_without_sign_in(pool: PgPool) {
    let app = spawn_app(pool).await;
    let res = reqwest::get(app.url("/api/docs")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("/api/openapi.json"));
}
