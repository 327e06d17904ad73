//! A binding: which subjects a plugin sees, where it sits in the chain, its config, its
//! limits and what happens when it fails. Stored beside the plugin as JSON, given in the
//! upload's query string, changed with `PATCH`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::host::Limits;
use crate::config::{PluginsConfig, is_valid_on_error};
use crate::core::subject::is_valid_subject;

/// How a plugin is bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Subject patterns (`*`, `>` allowed) whose messages the plugin sees.
    #[schema(example = json!(["orders.>"]))]
    pub subjects: Vec<String>,
    /// Position in the chain: lower runs first, ties by name.
    #[serde(default)]
    pub order: i32,
    /// Pairs handed to the plugin's `init`.
    #[serde(default)]
    #[schema(example = json!({"fields": "email,ssn"}))]
    pub config: BTreeMap<String, String>,
    /// `drop` (default), `pass`, or `dead-letter:<subject>` (the original message goes there
    /// with the error in a `Sluice-Plugin-Error` header).
    #[serde(default = "default_on_error")]
    #[schema(example = "drop")]
    pub on_error: String,
    /// Limits per call; unset fields take the server's `[plugins]` defaults.
    #[serde(default)]
    pub limits: BindingLimits,
}

/// Per-binding limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingLimits {
    /// CPU time per call, in milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integral::deserialize"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    pub deadline_ms: Option<u64>,
    /// Memory per instance, in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integral::deserialize"
    )]
    #[schema(minimum = 1048576, maximum = 1073741824)]
    pub memory_bytes: Option<usize>,
    /// Messages one call may emit.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "integral::deserialize"
    )]
    #[schema(maximum = 100000)]
    pub max_emit: Option<usize>,
}

/// A `PATCH`: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingPatch {
    /// New subject patterns.
    pub subjects: Option<Vec<String>>,
    /// New position.
    #[serde(default, deserialize_with = "integral::deserialize")]
    pub order: Option<i32>,
    /// New config (replaces the whole map).
    pub config: Option<BTreeMap<String, String>>,
    /// New error policy.
    pub on_error: Option<String>,
    /// New limits (replaces all three).
    #[serde(default, deserialize_with = "limits_object")]
    pub limits: Option<BindingLimits>,
}

/// JSON numbers written with a zero fraction (`5.0`) are integers to JSON Schema, and to
/// JavaScript, which writes large integers that way; serde refuses them for integer fields,
/// so the binding's integer fields take both (found by schemathesis).
mod integral {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    /// An optional integer that may be written `5` or `5.0`; out of `T`'s range is an error.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i128>,
    {
        let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
            return Ok(None);
        };
        let whole = n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                // Beyond 2^64 no integer field of ours fits anyway.
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1.9e19)
                    .map(|f| f as i128)
            });
        match whole.map(T::try_from) {
            Some(Ok(v)) => Ok(Some(v)),
            _ => Err(D::Error::custom(format!("{n} is not an integer in range"))),
        }
    }
}

/// `limits` must be a JSON object: serde would also read the struct from an array
/// (`[null, null]`), which the schema does not allow (found by schemathesis).
fn limits_object<'de, D>(d: D) -> Result<Option<BindingLimits>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let Some(map) = Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)? else {
        return Ok(None);
    };
    BindingLimits::deserialize(serde_json::Value::Object(map))
        .map(Some)
        .map_err(D::Error::custom)
}

fn default_on_error() -> String {
    "drop".to_string()
}

/// What a binding does with a failed or rejected message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnError {
    /// Lose it.
    Drop,
    /// Deliver it unchanged.
    Pass,
    /// Publish the original to this subject, with the error in a header.
    DeadLetter(String),
}

/// Most subject patterns one binding may list.
const MAX_SUBJECTS: usize = 64;
/// Most config pairs, and the longest key or value.
const MAX_CONFIG: usize = 64;
const MAX_CONFIG_LEN: usize = 4096;

impl Binding {
    /// Checks everything a plugin call would otherwise trip over; the text names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.subjects.is_empty() {
            return Err("subjects: at least one subject pattern is required".into());
        }
        if self.subjects.len() > MAX_SUBJECTS {
            return Err(format!("subjects: at most {MAX_SUBJECTS} patterns"));
        }
        if let Some(s) = self
            .subjects
            .iter()
            .find(|s| !is_valid_subject(s.as_bytes()))
        {
            return Err(format!("subjects: invalid subject pattern {s:?}"));
        }
        if !is_valid_on_error(&self.on_error) {
            return Err(format!(
                "on_error: {:?} is not \"drop\", \"pass\" or \"dead-letter:<subject>\"",
                self.on_error
            ));
        }
        if self.config.len() > MAX_CONFIG
            || self
                .config
                .iter()
                .any(|(k, v)| k.len() > MAX_CONFIG_LEN || v.len() > MAX_CONFIG_LEN)
        {
            return Err(format!(
                "config: at most {MAX_CONFIG} pairs of at most {MAX_CONFIG_LEN} bytes each"
            ));
        }
        let l = &self.limits;
        if l.deadline_ms == Some(0) || l.deadline_ms.is_some_and(|d| d > 10_000) {
            return Err("limits.deadline_ms: must be 1..=10000".into());
        }
        if l.memory_bytes
            .is_some_and(|m| !(1 << 20..=1 << 30).contains(&m))
        {
            return Err("limits.memory_bytes: must be 1 MiB..=1 GiB".into());
        }
        if l.max_emit.is_some_and(|m| m > 100_000) {
            return Err("limits.max_emit: must be at most 100000".into());
        }
        Ok(())
    }

    /// The binding with a patch applied.
    pub fn patched(&self, p: BindingPatch) -> Binding {
        Binding {
            subjects: p.subjects.unwrap_or_else(|| self.subjects.clone()),
            order: p.order.unwrap_or(self.order),
            config: p.config.unwrap_or_else(|| self.config.clone()),
            on_error: p.on_error.unwrap_or_else(|| self.on_error.clone()),
            limits: p.limits.unwrap_or(self.limits),
        }
    }

    /// The parsed error policy (the binding is validated first).
    pub fn on_error(&self) -> OnError {
        match self.on_error.strip_prefix("dead-letter:") {
            Some(subject) => OnError::DeadLetter(subject.to_string()),
            None if self.on_error == "pass" => OnError::Pass,
            None => OnError::Drop,
        }
    }

    /// Limits with the server defaults filled in.
    pub fn limits(&self, defaults: &PluginsConfig) -> Limits {
        Limits {
            deadline: self
                .limits
                .deadline_ms
                .map_or(defaults.deadline, Duration::from_millis),
            memory: self.limits.memory_bytes.unwrap_or(defaults.memory),
            max_emit: self.limits.max_emit.unwrap_or(defaults.max_emit),
        }
    }

    /// The config as the ordered pairs `init` receives.
    pub fn config_pairs(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A binding from an upload's query string: `subjects=a.>,b` (or repeated), `order=10`,
    /// `on_error=drop`, `config.<key>=<value>`, `deadline_ms`, `memory_bytes`, `max_emit`.
    pub fn from_query(pairs: &[(String, String)]) -> Result<Binding, String> {
        let mut b = Binding {
            subjects: Vec::new(),
            order: 0,
            config: BTreeMap::new(),
            on_error: default_on_error(),
            limits: BindingLimits::default(),
        };
        let num = |k: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{k}: {v:?} is not a number"))
        };
        for (k, v) in pairs {
            match k.as_str() {
                // Trimmed of the whitespace a subject cannot hold (the schema says so).
                "subjects" | "subject" => b.subjects.extend(
                    v.split(',')
                        .map(str::trim_ascii)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                ),
                "order" => {
                    b.order = v
                        .parse()
                        .map_err(|_| format!("order: {v:?} is not an integer"))?
                }
                "on_error" => b.on_error = v.clone(),
                "deadline_ms" => b.limits.deadline_ms = Some(num(k, v)?),
                "memory_bytes" => b.limits.memory_bytes = Some(num(k, v)? as usize),
                "max_emit" => b.limits.max_emit = Some(num(k, v)? as usize),
                other => match other.strip_prefix("config.") {
                    Some(key) if !key.is_empty() => {
                        b.config.insert(key.to_string(), v.clone());
                    }
                    _ => return Err(format!("unknown query parameter {other:?}")),
                },
            }
        }
        b.validate()?;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn integer_fields_take_integral_json_numbers() {
        let p: BindingPatch =
            serde_json::from_str(r#"{"order":-3.0,"limits":{"max_emit":5415.0,"deadline_ms":15}}"#)
                .unwrap();
        assert_eq!(p.order, Some(-3));
        let l = p.limits.unwrap();
        assert_eq!(
            (l.max_emit, l.deadline_ms, l.memory_bytes),
            (Some(5415), Some(15), None)
        );
        for bad in [
            r#"{"order":1.5}"#,
            r#"{"order":3e10}"#,
            r#"{"limits":{"max_emit":-1}}"#,
            r#"{"limits":[null,null]}"#,
        ] {
            assert!(serde_json::from_str::<BindingPatch>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_upload_query_becomes_a_binding() {
        let b = Binding::from_query(&q(&[
            ("subjects", "orders.>,users.*"),
            ("order", "-5"),
            ("on_error", "dead-letter:dlq.orders"),
            ("config.fields", "email,ssn"),
            ("deadline_ms", "20"),
        ]))
        .unwrap();
        assert_eq!(b.subjects, vec!["orders.>", "users.*"]);
        assert_eq!(
            (b.order, b.on_error()),
            (-5, OnError::DeadLetter("dlq.orders".into()))
        );
        assert_eq!(
            b.config_pairs(),
            vec![("fields".to_string(), "email,ssn".to_string())]
        );
        assert_eq!(b.limits.deadline_ms, Some(20));
    }

    #[test]
    fn bad_bindings_name_the_field() {
        let cases = [
            (q(&[]), "subjects"),
            (q(&[("subjects", "a..b")]), "subjects"),
            (q(&[("subjects", "a"), ("order", "x")]), "order"),
            (q(&[("subjects", "a"), ("on_error", "ignore")]), "on_error"),
            (q(&[("subjects", "a"), ("deadline_ms", "0")]), "deadline_ms"),
            (q(&[("subjects", "a"), ("bogus", "1")]), "bogus"),
        ];
        for (query, field) in cases {
            let err = Binding::from_query(&query).unwrap_err();
            assert!(err.contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn patches_change_only_what_they_carry() {
        let b = Binding::from_query(&q(&[("subjects", "a"), ("config.k", "v")])).unwrap();
        let p = b.patched(BindingPatch {
            order: Some(3),
            ..Default::default()
        });
        assert_eq!(
            (p.order, p.config, p.subjects),
            (3, b.config.clone(), b.subjects.clone())
        );
    }
}
