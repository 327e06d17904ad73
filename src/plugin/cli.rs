//! `sluice plugin put|ls|rm|test`: a thin client of a running server's `/v1/plugins` API, so
//! operators script plugins the same way the API documents them.

use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{ApiArgs, PluginCommand};

/// Runs one plugin command; prints the result (or the server's problem) and returns the
/// exit code.
pub fn run(cmd: PluginCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(cmd)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn request(api: &ApiArgs, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", api.api.trim_end_matches('/'));
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(token) = &api.token {
        req = req.bearer_auth(token);
    } else if let Some(user) = &api.user {
        req = req.basic_auth(user, api.pass.as_deref());
    }
    req
}

/// Sends the request; a non-2xx answer becomes an error carrying the problem's detail.
async fn send(req: reqwest::RequestBuilder) -> Result<Option<Value>, String> {
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach the server: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if !status.is_success() {
        let detail = json
            .as_ref()
            .and_then(|j| j["detail"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(format!("{status}: {detail}"));
    }
    Ok(json)
}

async fn execute(cmd: PluginCommand) -> Result<String, String> {
    match cmd {
        PluginCommand::Put {
            name,
            file,
            subjects,
            order,
            config,
            on_error,
            api,
        } => {
            let wasm =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let mut query = vec![("subjects".to_string(), subjects.join(","))];
            if let Some(o) = order {
                query.push(("order".into(), o.to_string()));
            }
            if let Some(e) = on_error {
                query.push(("on_error".into(), e));
            }
            for pair in config {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--config {pair:?}: expected KEY=VALUE"))?;
                query.push((format!("config.{k}"), v.to_string()));
            }
            let req = request(&api, reqwest::Method::PUT, &format!("/v1/plugins/{name}"))
                .query(&query)
                .header("content-type", "application/wasm")
                .body(wasm);
            let info = send(req).await?.unwrap_or_default();
            Ok(format!(
                "loaded {name} ({})\n",
                info["digest"].as_str().unwrap_or("?")
            ))
        }
        PluginCommand::Ls { api } => {
            let list = send(request(&api, reqwest::Method::GET, "/v1/plugins"))
                .await?
                .unwrap_or_default();
            Ok(table(&list))
        }
        PluginCommand::Rm { name, api } => {
            send(request(
                &api,
                reqwest::Method::DELETE,
                &format!("/v1/plugins/{name}"),
            ))
            .await?;
            Ok(format!("removed {name}\n"))
        }
        PluginCommand::Test {
            name,
            subject,
            data,
            headers,
            api,
        } => {
            let headers = headers
                .iter()
                .map(|h| {
                    h.split_once(':')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        .ok_or_else(|| format!("--header {h:?}: expected NAME:VALUE"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let body = serde_json::json!({"subject": subject, "data": data, "headers": headers});
            let req = request(
                &api,
                reqwest::Method::POST,
                &format!("/v1/plugins/{name}/test"),
            )
            .json(&body);
            let result = send(req).await?.unwrap_or_default();
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(&result).unwrap_or_default()
            ))
        }
    }
}

/// `sluice plugin ls` output: one line per plugin, in chain order.
fn table(list: &Value) -> String {
    let mut out = String::from("NAME\tORDER\tSUBJECTS\tON_ERROR\tCALLS\tERRORS\tDIGEST\n");
    for p in list["plugins"].as_array().into_iter().flatten() {
        let b = &p["binding"];
        let subjects: Vec<&str> = b["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            p["name"].as_str().unwrap_or("?"),
            b["order"],
            subjects.join(","),
            b["on_error"].as_str().unwrap_or("?"),
            p["metrics"]["calls"],
            p["metrics"]["errors"],
            p["digest"].as_str().unwrap_or("?"),
        ));
    }
    out
}
