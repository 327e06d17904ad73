//! A Sluice plugin that republishes a JSON message on a subject built from one of its
//! fields: `field=user_id,prefix=events.by-user` sends `{"user_id":42}` to
//! `events.by-user.42`. See README.md for the rules.

use sluice_plugin_sdk::json::JsonObject;
use sluice_plugin_sdk::json::serde_json::Value;
use sluice_plugin_sdk::{Config, Context, Edit, Message, Plugin, Verdict, export_plugin};

/// Routes by a top-level JSON field.
pub struct RouteByField {
    field: String,
    prefix: String,
    drop_invalid: bool,
}

/// Why a token cannot be a subject token, or `None` when it can.
fn token_problem(token: &str) -> Option<&'static str> {
    if token.is_empty() {
        Some("is empty")
    } else if token.contains('.') {
        Some("contains a dot")
    } else if token.contains(['*', '>']) {
        Some("contains a wildcard (`*` or `>`)")
    } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains whitespace or a control character")
    } else {
        None
    }
}

impl Plugin for RouteByField {
    fn init(config: &Config) -> Result<Self, String> {
        config.reject_unknown(&["field", "prefix", "on_invalid"])?;
        let field = config.required("field")?.to_string();
        let prefix = config.required("prefix")?.trim().to_string();
        for token in prefix.split('.') {
            if let Some(problem) = token_problem(token) {
                return Err(format!(
                    "config key `prefix`: `{prefix}` is not a literal subject (a token {problem})"
                ));
            }
        }
        let drop_invalid = match config.get_or("on_invalid", "reject").trim() {
            "reject" => false,
            "drop" => true,
            other => {
                return Err(format!(
                    "config key `on_invalid`: `{other}` is not `reject` or `drop`"
                ));
            }
        };
        Ok(RouteByField {
            field,
            prefix,
            drop_invalid,
        })
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        let Ok(obj) = JsonObject::parse(&msg.payload) else {
            return Verdict::Pass;
        };
        let Some(value) = obj.get(&self.field) else {
            return Verdict::Pass;
        };
        let token = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return self.invalid("is not a string or a number"),
        };
        if let Some(problem) = token_problem(&token) {
            return self.invalid(problem);
        }
        Verdict::Modify(Edit::new().subject(format!("{}.{token}", self.prefix)))
    }
}

impl RouteByField {
    fn invalid(&self, problem: &str) -> Verdict {
        let reason = format!(
            "field `{}` cannot be a subject token: it {problem}",
            self.field
        );
        if self.drop_invalid {
            Verdict::Drop(reason)
        } else {
            Verdict::reject(reason)
        }
    }
}

export_plugin!(RouteByField);

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(extra: &[(&str, &str)]) -> RouteByField {
        let mut pairs = vec![("field", "user_id"), ("prefix", "events.by-user")];
        pairs.extend_from_slice(extra);
        RouteByField::init(&Config::from_pairs(&pairs)).unwrap()
    }

    fn run(p: &RouteByField, payload: &str) -> Verdict {
        p.on_message(
            &Context::default(),
            Message::new("events.in", payload).with_reply_to("_INBOX.1"),
        )
    }

    fn routed(subject: &str) -> Verdict {
        Verdict::Modify(Edit::new().subject(subject))
    }

    #[test]
    fn routes_numbers_and_strings() {
        let p = plugin(&[]);
        assert_eq!(run(&p, r#"{"user_id":42}"#), routed("events.by-user.42"));
        assert_eq!(
            run(&p, r#"{"a":1,"user_id":"ann-7"}"#),
            routed("events.by-user.ann-7")
        );
        assert_eq!(run(&p, r#"{"user_id":-3}"#), routed("events.by-user.-3"));
    }

    #[test]
    fn passes_without_the_field() {
        let p = plugin(&[]);
        assert_eq!(run(&p, r#"{"other":1}"#), Verdict::Pass);
        assert_eq!(run(&p, "not json"), Verdict::Pass);
        assert_eq!(run(&p, r#"[{"user_id":1}]"#), Verdict::Pass);
    }

    #[test]
    fn rejects_bad_tokens() {
        let p = plugin(&[]);
        for bad in [
            r#"{"user_id":"a.b"}"#,
            r#"{"user_id":"a b"}"#,
            r#"{"user_id":"*"}"#,
            r#"{"user_id":">"}"#,
            r#"{"user_id":""}"#,
            r#"{"user_id":1.5}"#,
            r#"{"user_id":null}"#,
            r#"{"user_id":{"id":1}}"#,
            r#"{"user_id":"tab\there"}"#,
        ] {
            let v = run(&p, bad);
            assert!(
                matches!(&v, Verdict::Reject(r) if r.reason.contains("user_id") && !r.retryable),
                "{bad}: {v:?}"
            );
        }
    }

    #[test]
    fn drops_bad_tokens_when_asked() {
        let p = plugin(&[("on_invalid", "drop")]);
        assert!(matches!(run(&p, r#"{"user_id":"a.b"}"#), Verdict::Drop(_)));
    }

    #[test]
    fn config_errors() {
        for pairs in [
            &[("field", "x")][..],
            &[("prefix", "a")],
            &[("field", "x"), ("prefix", "a..b")],
            &[("field", "x"), ("prefix", "a.*")],
            &[("field", "x"), ("prefix", "a.>")],
            &[("field", "x"), ("prefix", "a"), ("on_invalid", "pass")],
        ] {
            assert!(
                RouteByField::init(&Config::from_pairs(pairs)).is_err(),
                "{pairs:?}"
            );
        }
    }
}
