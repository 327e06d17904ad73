//! Helpers for JSON object payloads (feature `json`).
//!
//! [`JsonObject`] parses only the top level of an object: every value stays the exact text
//! it had in the payload, and the keys keep their order, so a plugin that changes one field
//! leaves the others byte-for-byte as the publisher wrote them.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

pub use serde_json;

/// The top level of a JSON object: its keys in order, each with its value's raw JSON text.
/// Repeated keys are kept (lookups see the first; [`JsonObject::set`] and
/// [`JsonObject::remove`] act on every occurrence).
#[derive(Debug, Clone, Default)]
pub struct JsonObject {
    entries: Vec<(String, Box<RawValue>)>,
}

impl JsonObject {
    /// Parses a payload that must be exactly one JSON object (surrounding whitespace
    /// allowed); any other JSON value, or invalid JSON, is an error.
    pub fn parse(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    /// The number of entries (repeated keys counted each time).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the object has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// True when `key` is present (whatever its value, `null` included).
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// The raw JSON text of the first value of `key`.
    pub fn get_raw(&self, key: &str) -> Option<&RawValue> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The first value of `key`, parsed.
    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        self.get_raw(key)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Sets `key` to `value` (serialized to JSON): replaces the first occurrence in place
    /// and removes any later ones, or appends the key when it is absent.
    pub fn set<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        let raw = serde_json::value::to_raw_value(value).expect("serializing to JSON");
        self.set_raw(key, raw);
    }

    /// Like [`JsonObject::set`] with a value that is already JSON text.
    pub fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        match self.entries.iter().position(|(k, _)| k == key) {
            Some(i) => {
                self.entries[i].1 = value;
                let mut n = 0;
                self.entries.retain(|(k, _)| {
                    n += usize::from(k == key);
                    k != key || n == 1
                });
            }
            None => self.entries.push((key.to_string(), value)),
        }
    }

    /// Removes every occurrence of `key`; true when there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        self.entries.len() != before
    }

    /// The object as compact JSON text (values as they were parsed or set).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            2 + self
                .entries
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>(),
        );
        out.push(b'{');
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, k).expect("writing to a Vec");
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

impl<'de> serde::Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = JsonObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(JsonObject { entries })
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_values_and_order() {
        let src = br#" {"b": 1.50, "a": {"x" : [1, 2]}, "c": "\u00e9"} "#;
        let o = JsonObject::parse(src).unwrap();
        assert_eq!(o.keys().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(
            String::from_utf8(o.to_vec()).unwrap(),
            r#"{"b":1.50,"a":{"x" : [1, 2]},"c":"\u00e9"}"#
        );
    }

    #[test]
    fn set_replaces_in_place_and_dedups() {
        let mut o = JsonObject::parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        o.set("a", "x");
        o.set("z", &true);
        assert_eq!(o.to_vec(), br#"{"a":"x","b":2,"z":true}"#);
        assert!(o.remove("b"));
        assert!(!o.remove("b"));
        assert_eq!(o.get("z"), Some(serde_json::Value::Bool(true)));
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn non_objects_are_errors() {
        assert!(JsonObject::parse(b"[1]").is_err());
        assert!(JsonObject::parse(b"\"s\"").is_err());
        assert!(JsonObject::parse(b"{").is_err());
        assert!(JsonObject::parse(b"{} x").is_err());
        assert!(JsonObject::parse(b"{}").unwrap().is_empty());
    }

    #[test]
    fn keys_with_escapes_are_reescaped() {
        let o = JsonObject::parse(br#"{"q\"k":1}"#).unwrap();
        assert!(o.contains_key("q\"k"));
        assert_eq!(o.to_vec(), br#"{"q\"k":1}"#);
    }
}
