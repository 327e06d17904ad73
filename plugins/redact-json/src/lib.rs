//! A Sluice plugin that masks the values of chosen top-level JSON fields.
//!
//! Config: `fields=email,ssn` (required), `mask=***` (optional, the replacement string).
//! A JSON object payload holding any of the fields gets those values replaced by the mask
//! (a JSON string); every other field keeps its exact bytes and the keys keep their order.
//! Payloads that are not a JSON object, or hold none of the fields, pass unchanged.

use sluice_plugin_sdk::json::JsonObject;
use sluice_plugin_sdk::{
    Config, Context, Edit, Level, Message, Plugin, Verdict, export_plugin, log,
};

/// Masks the configured top-level fields of JSON object payloads.
pub struct RedactJson {
    fields: Vec<String>,
    mask: String,
}

impl Plugin for RedactJson {
    fn init(config: &Config) -> Result<Self, String> {
        config.reject_unknown(&["fields", "mask"])?;
        let fields = config.required_list("fields")?;
        log(
            Level::Debug,
            &format!("redacting fields {}", fields.join(", ")),
        );
        Ok(RedactJson {
            fields,
            mask: config.get_or("mask", "***").to_string(),
        })
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        let Ok(mut obj) = JsonObject::parse(&msg.payload) else {
            return Verdict::Pass;
        };
        let mut changed = false;
        for field in &self.fields {
            if obj.contains_key(field) {
                obj.set(field, &self.mask);
                changed = true;
            }
        }
        if !changed {
            return Verdict::Pass;
        }
        Verdict::Modify(Edit::new().payload(obj.to_vec()))
    }
}

export_plugin!(RedactJson);

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(pairs: &[(&str, &str)]) -> RedactJson {
        RedactJson::init(&Config::from_pairs(pairs)).unwrap()
    }

    fn run(p: &RedactJson, payload: &str) -> Verdict {
        p.on_message(&Context::default(), Message::new("users.new", payload))
    }

    #[test]
    fn masks_listed_fields_only() {
        let p = plugin(&[("fields", "email, ssn")]);
        let v = run(
            &p,
            r#"{"name":"Ann","email":"a@x.io","ssn":"123","n":{"email":"kept"}}"#,
        );
        assert_eq!(
            v,
            Verdict::Modify(
                Edit::new()
                    .payload(r#"{"name":"Ann","email":"***","ssn":"***","n":{"email":"kept"}}"#)
            )
        );
    }

    #[test]
    fn masks_any_value_type_and_custom_mask() {
        let p = plugin(&[("fields", "ssn"), ("mask", "[redacted]")]);
        assert_eq!(
            run(&p, r#"{"ssn":{"a":1},"x":1.50}"#),
            Verdict::Modify(Edit::new().payload(r#"{"ssn":"[redacted]","x":1.50}"#))
        );
    }

    #[test]
    fn passes_non_json_and_payloads_without_fields() {
        let p = plugin(&[("fields", "email")]);
        assert_eq!(run(&p, "hello"), Verdict::Pass);
        assert_eq!(run(&p, r#"["email"]"#), Verdict::Pass);
        assert_eq!(run(&p, r#"{"name":"Ann"}"#), Verdict::Pass);
        assert_eq!(run(&p, ""), Verdict::Pass);
    }

    #[test]
    fn config_errors() {
        assert!(RedactJson::init(&Config::default()).is_err());
        assert!(RedactJson::init(&Config::from_pairs(&[("fields", " , ")])).is_err());
        assert!(RedactJson::init(&Config::from_pairs(&[("field", "a")])).is_err());
    }
}
