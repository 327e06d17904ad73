//! The `[plugins]` table: where uploaded plugins live, the limits a binding gets when it
//! names none, and plugins to load at start-up (`[[plugins.preload]]`), so a deployment can
//! ship its transforms in its config file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{DurationFile, Problems, SizeFile, us};
use crate::core::subject::is_valid_subject;

/// Largest accepted plugin upload unless configured (a typical plugin is ~40-200 KB).
const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
/// CPU time a plugin call may take unless its binding says otherwise.
const DEFAULT_DEADLINE: Duration = Duration::from_millis(10);
/// Memory a plugin instance may use unless its binding says otherwise.
const DEFAULT_MEMORY: u64 = 16 * 1024 * 1024;
/// Messages one call may emit unless its binding says otherwise.
const DEFAULT_MAX_EMIT: usize = 100;

/// `[plugins]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginsConfig {
    /// Where plugins, bindings and compiled code are kept; `None` = `<store_dir>/plugins`.
    pub dir: Option<PathBuf>,
    /// Largest upload accepted.
    pub max_size: usize,
    /// Per-call CPU deadline for bindings that name none.
    pub deadline: Duration,
    /// Per-instance memory cap for bindings that name none.
    pub memory: usize,
    /// Most messages a call may emit, for bindings that name none.
    pub max_emit: usize,
    /// Plugins loaded (or replaced) at start-up.
    pub preload: Vec<PreloadConfig>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: None,
            max_size: us(DEFAULT_MAX_SIZE),
            deadline: DEFAULT_DEADLINE,
            memory: us(DEFAULT_MEMORY),
            max_emit: DEFAULT_MAX_EMIT,
            preload: Vec::new(),
        }
    }
}

/// One `[[plugins.preload]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadConfig {
    /// The plugin's name (letters, digits, `-`, `_`; at most 64).
    pub name: String,
    /// The component file (`.wasm`).
    pub file: PathBuf,
    /// Subject patterns the plugin sees.
    pub subjects: Vec<String>,
    /// Position in the chain (lower runs first; ties by name).
    pub order: i32,
    /// Pairs handed to the plugin's `init`.
    pub config: BTreeMap<String, String>,
    /// `drop`, `pass` or `dead-letter:<subject>`.
    pub on_error: String,
}

/// The file form of `[plugins]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PluginsFile {
    dir: Option<PathBuf>,
    max_size: Option<SizeFile>,
    deadline: Option<DurationFile>,
    memory: Option<SizeFile>,
    max_emit: Option<usize>,
    preload: Vec<PreloadFile>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PreloadFile {
    name: Option<String>,
    file: Option<PathBuf>,
    subjects: Vec<String>,
    order: i32,
    config: BTreeMap<String, String>,
    on_error: Option<String>,
}

/// Plugin names become file names: a small alphabet keeps them inside the plugin dir.
pub fn is_valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `drop`, `pass` or `dead-letter:<literal subject>`.
pub fn is_valid_on_error(v: &str) -> bool {
    match v.strip_prefix("dead-letter:") {
        Some(subject) => crate::core::subject::is_valid_literal_subject(subject.as_bytes()),
        None => v == "drop" || v == "pass",
    }
}

/// Validates `[plugins]`.
pub(super) fn build(p: &mut Problems, f: PluginsFile) -> PluginsConfig {
    let max_size = us(p.size("plugins.max_size", f.max_size, DEFAULT_MAX_SIZE));
    let deadline = p.positive("plugins.deadline", f.deadline, DEFAULT_DEADLINE);
    let memory = us(p.size("plugins.memory", f.memory, DEFAULT_MEMORY));
    let max_emit = f.max_emit.unwrap_or(DEFAULT_MAX_EMIT);
    let mut preload = Vec::new();
    for (i, e) in f.preload.into_iter().enumerate() {
        let key = |k: &str| format!("plugins.preload[{i}].{k}");
        let name = p.required(&key("name"), e.name);
        if !name.is_empty() && !is_valid_plugin_name(&name) {
            p.add(&key("name"), "use 1-64 letters, digits, '-' or '_'");
        }
        let file = e.file.unwrap_or_default();
        if file.as_os_str().is_empty() {
            p.add(&key("file"), "required");
        }
        if e.subjects.is_empty() {
            p.add(&key("subjects"), "at least one subject pattern is required");
        }
        for (j, s) in e.subjects.iter().enumerate() {
            if !is_valid_subject(s.as_bytes()) {
                p.add(
                    &format!("{}[{j}]", key("subjects")),
                    format!("invalid subject {s:?}"),
                );
            }
        }
        let on_error = e.on_error.unwrap_or_else(|| "drop".to_string());
        if !is_valid_on_error(&on_error) {
            p.add(
                &key("on_error"),
                "must be \"drop\", \"pass\" or \"dead-letter:<subject>\"",
            );
        }
        preload.push(PreloadConfig {
            name,
            file,
            subjects: e.subjects,
            order: e.order,
            config: e.config,
            on_error,
        });
    }
    PluginsConfig {
        dir: f.dir,
        max_size,
        deadline,
        memory,
        max_emit,
        preload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_plugin_dir() {
        assert!(is_valid_plugin_name("redact-json_2"));
        for bad in ["", "../x", "a/b", "a.b", "a b", &"x".repeat(65)] {
            assert!(!is_valid_plugin_name(bad), "{bad}");
        }
    }

    #[test]
    fn error_policies() {
        for ok in ["drop", "pass", "dead-letter:dlq.orders"] {
            assert!(is_valid_on_error(ok), "{ok}");
        }
        for bad in ["", "ignore", "dead-letter:", "dead-letter:a.*"] {
            assert!(!is_valid_on_error(bad), "{bad}");
        }
    }
}
