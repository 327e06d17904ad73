//! Helpers for plugin tests: the example and hostile components built by `plugins/build.sh`
//! (which `.ci/run` runs before the tests), and uploads through the real API.

use std::path::PathBuf;

use super::Server;

/// The built component `name` (`redact_json`, `endless_loop`, ...).
pub fn wasm(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the plugins first with plugins/build.sh",
            path.display()
        )
    })
}

/// `PUT /v1/plugins/{name}?{query}` with the component; returns (status, JSON body).
pub async fn put(
    server: &Server,
    name: &str,
    component: &str,
    query: &str,
) -> (u16, serde_json::Value) {
    put_bytes(server, name, wasm(component), query).await
}

/// [`put`] with raw bytes.
pub async fn put_bytes(
    server: &Server,
    name: &str,
    bytes: Vec<u8>,
    query: &str,
) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/plugins/{name}?{query}", server.api_url()))
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .expect("PUT");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// `GET` a JSON document from the API.
pub async fn get(server: &Server, path: &str) -> serde_json::Value {
    reqwest::get(format!("{}{path}", server.api_url()))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}
