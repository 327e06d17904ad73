//! A Sluice plugin that rejects payloads that are not valid JSON, or (with `required=a,b`)
//! JSON objects that lack any of the required top-level fields.

use serde_json::value::RawValue;
use sluice_plugin_sdk::json::JsonObject;
use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Validates JSON payloads.
pub struct ValidateJson {
    required: Vec<String>,
}

impl Plugin for ValidateJson {
    fn init(config: &Config) -> Result<Self, String> {
        config.reject_unknown(&["required"])?;
        Ok(ValidateJson {
            required: config.list("required"),
        })
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        if self.required.is_empty() {
            return match serde_json::from_slice::<&RawValue>(&msg.payload) {
                Ok(_) => Verdict::Pass,
                Err(e) => Verdict::reject(format!("payload is not valid JSON: {e}")),
            };
        }
        let obj = match JsonObject::parse(&msg.payload) {
            Ok(obj) => obj,
            Err(e) if e.is_data() => {
                return Verdict::reject("payload must be a JSON object");
            }
            Err(e) => return Verdict::reject(format!("payload is not valid JSON: {e}")),
        };
        let missing: Vec<&str> = self
            .required
            .iter()
            .filter(|f| !obj.contains_key(f))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Verdict::Pass
        } else {
            Verdict::reject(format!(
                "payload lacks required field{}: {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ))
        }
    }
}

export_plugin!(ValidateJson);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(required: &str, payload: &str) -> Verdict {
        let config = if required.is_empty() {
            Config::default()
        } else {
            Config::from_pairs(&[("required", required)])
        };
        ValidateJson::init(&config)
            .unwrap()
            .on_message(&Context::default(), Message::new("s", payload))
    }

    fn reason(v: Verdict) -> String {
        match v {
            Verdict::Reject(r) if !r.retryable => r.reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn any_json_passes_without_required() {
        for ok in ["1", " \"s\" ", "[1,{}]", "{\"a\":null}", "null"] {
            assert_eq!(run("", ok), Verdict::Pass, "{ok}");
        }
    }

    #[test]
    fn invalid_json_is_rejected() {
        for bad in ["", "{", "hello", "{\"a\":1} trailing", "\u{0}"] {
            assert!(
                reason(run("", bad)).starts_with("payload is not valid JSON"),
                "{bad}"
            );
        }
        assert!(reason(run("a", "{")).starts_with("payload is not valid JSON"));
    }

    #[test]
    fn required_fields() {
        assert_eq!(run("a,b", r#"{"b":null,"a":1,"c":2}"#), Verdict::Pass);
        assert_eq!(
            reason(run("a,b,c", r#"{"b":1}"#)),
            "payload lacks required fields: a, c"
        );
        assert_eq!(
            reason(run("a", r#"{"b":1}"#)),
            "payload lacks required field: a"
        );
        assert_eq!(reason(run("a", "[1]")), "payload must be a JSON object");
    }

    #[test]
    fn unknown_config_is_refused() {
        assert!(ValidateJson::init(&Config::from_pairs(&[("requird", "a")])).is_err());
    }
}
