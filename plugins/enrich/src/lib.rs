//! A Sluice plugin that adds fixed headers, a protocol header, and the time Sluice received
//! the message into JSON object payloads. See README.md for the config keys.

use sluice_plugin_sdk::json::JsonObject;
use sluice_plugin_sdk::{Config, Context, Edit, Message, Plugin, Verdict, export_plugin};

/// How the receive time is written into the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeFormat {
    /// A JSON string, RFC 3339 in UTC with nanoseconds: `2023-11-14T22:13:20.000000000Z`.
    Rfc3339,
    /// A JSON number: nanoseconds since the Unix epoch.
    UnixNanos,
}

/// Adds headers and a receive timestamp.
pub struct Enrich {
    headers: Vec<(String, String)>,
    protocol_header: Option<String>,
    timestamp_field: Option<String>,
    format: TimeFormat,
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

fn header_name(key: &str, value: &str) -> Result<String, String> {
    if valid_header_name(value) {
        Ok(value.to_string())
    } else {
        Err(format!("config key `{key}`: invalid header name `{value}`"))
    }
}

/// Empty string = disabled; absent = the default.
fn optional(config: &Config, key: &str, default: &str) -> Option<String> {
    let v = config.get_or(key, default).trim();
    (!v.is_empty()).then(|| v.to_string())
}

impl Plugin for Enrich {
    fn init(config: &Config) -> Result<Self, String> {
        config.reject_unknown(&[
            "headers",
            "protocol_header",
            "timestamp_field",
            "timestamp_format",
        ])?;
        let mut headers = Vec::new();
        for item in config.list("headers") {
            let Some((name, value)) = item.split_once(':') else {
                return Err(format!(
                    "config key `headers`: `{item}` is not `Name:value`"
                ));
            };
            let value = value.trim();
            if value.contains(['\r', '\n']) {
                return Err(format!("config key `headers`: bad value for `{name}`"));
            }
            headers.push((header_name("headers", name.trim())?, value.to_string()));
        }
        let protocol_header = optional(config, "protocol_header", "X-Sluice-Protocol")
            .map(|h| header_name("protocol_header", &h))
            .transpose()?;
        let format = match config.get_or("timestamp_format", "rfc3339").trim() {
            "rfc3339" => TimeFormat::Rfc3339,
            "unix_nanos" => TimeFormat::UnixNanos,
            other => {
                return Err(format!(
                    "config key `timestamp_format`: `{other}` is not `rfc3339` or `unix_nanos`"
                ));
            }
        };
        Ok(Enrich {
            headers,
            protocol_header,
            timestamp_field: optional(config, "timestamp_field", "received_at"),
            format,
        })
    }

    fn on_message(&self, ctx: &Context, msg: Message) -> Verdict {
        let mut edit = Edit::new();
        edit.set_headers.extend(self.headers.iter().cloned());
        if let Some(h) = &self.protocol_header {
            edit = edit.set_header(h, ctx.protocol.as_str());
        }
        if let Some(field) = &self.timestamp_field
            && let Ok(mut obj) = JsonObject::parse(&msg.payload)
        {
            let t = ctx.received_at_unix_nanos;
            match self.format {
                TimeFormat::Rfc3339 => obj.set(field, &rfc3339(t)),
                TimeFormat::UnixNanos => obj.set(field, &t),
            }
            edit = edit.payload(obj.to_vec());
        }
        Verdict::modify(edit)
    }
}

export_plugin!(Enrich);

/// Formats nanoseconds since the Unix epoch as RFC 3339 in UTC with 9 fractional digits.
pub fn rfc3339(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let frac = unix_nanos % 1_000_000_000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_sdk::Protocol;

    const T: u64 = 1_700_000_000_123_456_789;

    fn ctx(protocol: Protocol) -> Context {
        Context {
            protocol,
            received_at_unix_nanos: T,
            ..Context::default()
        }
    }

    fn plugin(pairs: &[(&str, &str)]) -> Enrich {
        Enrich::init(&Config::from_pairs(pairs)).unwrap()
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(T), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(
            rfc3339(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(rfc3339(u64::MAX), "2554-07-21T23:34:33.709551615Z");
    }

    #[test]
    fn enriches_json_objects() {
        let p = plugin(&[("headers", "X-Env:prod, X-Team: core")]);
        let v = p.on_message(&ctx(Protocol::Http), Message::new("s", r#"{"a":1}"#));
        assert_eq!(
            v,
            Verdict::Modify(
                Edit::new()
                    .set_header("X-Env", "prod")
                    .set_header("X-Team", "core")
                    .set_header("X-Sluice-Protocol", "http")
                    .payload(r#"{"a":1,"received_at":"2023-11-14T22:13:20.123456789Z"}"#)
            )
        );
    }

    #[test]
    fn unix_nanos_and_renamed_field_overwrite() {
        let p = plugin(&[
            ("timestamp_format", "unix_nanos"),
            ("timestamp_field", "ts"),
            ("protocol_header", ""),
        ]);
        let v = p.on_message(
            &ctx(Protocol::Nats),
            Message::new("s", r#"{"ts":"old","b":2}"#),
        );
        assert_eq!(
            v,
            Verdict::Modify(Edit::new().payload(format!(r#"{{"ts":{T},"b":2}}"#)))
        );
    }

    #[test]
    fn non_objects_get_headers_only() {
        let p = plugin(&[]);
        let v = p.on_message(&ctx(Protocol::Websocket), Message::new("s", "[1,2]"));
        assert_eq!(
            v,
            Verdict::Modify(Edit::new().set_header("X-Sluice-Protocol", "websocket"))
        );
    }

    #[test]
    fn everything_disabled_passes() {
        let p = plugin(&[("protocol_header", ""), ("timestamp_field", "")]);
        let v = p.on_message(&ctx(Protocol::Nats), Message::new("s", "{}"));
        assert_eq!(v, Verdict::Pass);
    }

    #[test]
    fn config_errors() {
        for pairs in [
            &[("headers", "novalue")][..],
            &[("headers", "bad name:v")],
            &[("headers", ":v")],
            &[("protocol_header", "a:b")],
            &[("timestamp_format", "iso")],
            &[("bogus", "1")],
        ] {
            assert!(
                Enrich::init(&Config::from_pairs(pairs)).is_err(),
                "{pairs:?}"
            );
        }
    }
}
