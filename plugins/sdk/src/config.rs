//! A binding's config: the `(key, value)` string pairs given at upload or bind time.

use std::str::FromStr;

/// A binding's config: `config.fields=email` in the upload query becomes the pair
/// `("fields", "email")`. When a key is given more than once, the last value wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// A config holding these pairs, in order.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Config { pairs }
    }

    /// A config from borrowed pairs (handy in tests): `Config::from_pairs(&[("fields", "a,b")])`.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// All the pairs, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The value of `key` (the last one when repeated), or `None`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default` when it is absent.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// The value of `key`, or an error naming the missing key.
    pub fn required(&self, key: &str) -> Result<&str, String> {
        match self.get(key) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            Some(_) => Err(format!("config key `{key}` must not be empty")),
            None => Err(format!("missing required config key `{key}`")),
        }
    }

    /// The value of `key` split on commas, each item trimmed, empty items skipped; empty
    /// when the key is absent. `fields=email, ssn` gives `["email", "ssn"]`.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Like [`Config::list`], but an error when the key is absent or the list is empty.
    pub fn required_list(&self, key: &str) -> Result<Vec<String>, String> {
        let items = self.list(key);
        if items.is_empty() {
            self.required(key)?;
            return Err(format!("config key `{key}` must list at least one item"));
        }
        Ok(items)
    }

    /// The value of `key` parsed as a `T`: `Ok(None)` when absent, an error naming the key
    /// and the value when it does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| format!("config key `{key}`: invalid value `{v}`: {e}")),
        }
    }

    /// An error naming the first key that is not in `known` (catches typos such as
    /// `feilds=`); `Ok` when every key is known.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), String> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) if known.is_empty() => {
                Err(format!("unknown config key `{k}` (this plugin takes none)"))
            }
            Some((k, _)) => Err(format!(
                "unknown config key `{k}` (known: {})",
                known.join(", ")
            )),
        }
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Config::new(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_last_wins() {
        let c = Config::from_pairs(&[("a", "1"), ("b", "2"), ("a", "3")]);
        assert_eq!(c.get("a"), Some("3"));
        assert_eq!(c.get("z"), None);
        assert_eq!(c.get_or("z", "d"), "d");
    }

    #[test]
    fn list_splits_and_trims() {
        let c = Config::from_pairs(&[("f", " email, ssn,,  "), ("e", "")]);
        assert_eq!(c.list("f"), ["email", "ssn"]);
        assert!(c.list("e").is_empty());
        assert!(c.list("missing").is_empty());
        assert_eq!(c.required_list("f").unwrap(), ["email", "ssn"]);
        assert!(c.required_list("e").unwrap_err().contains("`e`"));
        assert!(
            c.required_list("missing")
                .unwrap_err()
                .contains("missing required")
        );
    }

    #[test]
    fn required_and_parse() {
        let c = Config::from_pairs(&[("n", "12"), ("bad", "x"), ("blank", " ")]);
        assert_eq!(c.required("n"), Ok("12"));
        assert!(c.required("nope").unwrap_err().contains("`nope`"));
        assert!(c.required("blank").is_err());
        assert_eq!(c.parse::<u32>("n"), Ok(Some(12)));
        assert_eq!(c.parse::<u32>("nope"), Ok(None));
        assert!(c.parse::<u32>("bad").unwrap_err().contains("`bad`"));
    }

    #[test]
    fn unknown_keys() {
        let c = Config::from_pairs(&[("fields", "a"), ("feilds", "b")]);
        assert!(
            c.reject_unknown(&["fields"])
                .unwrap_err()
                .contains("feilds")
        );
        assert!(c.reject_unknown(&["fields", "feilds"]).is_ok());
        assert!(Config::default().reject_unknown(&[]).is_ok());
    }
}
