//! `[[plugins.preload]]`: plugins the config file names. They are loaded at start (see
//! [`Plugins::start`]) and again when a reload changes them, through the same steps as an
//! upload or a PATCH: validated and instantiated first, then swapped in atomically.
//!
//! A reload runs in two steps so that nothing changes unless everything can: [`plan`]
//! reads, compiles and initialises what is new or changed, and fails on the first problem
//! (the reload is then refused); [`apply`] swaps the prepared plugins in, removes the ones
//! whose entries are gone, and persists, as an upload would.
//!
//! [`plan`]: Plugins::plan_preloads
//! [`apply`]: Plugins::apply_preloads

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::binding::Binding;
use super::chain::Loaded;
use super::registry::{PluginError, Plugins, replace};
use crate::config::{PluginsConfig, PreloadConfig};
use crate::jetstream::now_nanos;

/// What a reload will change among the preloaded plugins, prepared and ready to swap in.
pub struct PreloadPlan {
    config: PluginsConfig,
    load: Vec<(Arc<Loaded>, Vec<u8>)>,
    remove: Vec<String>,
}

impl PreloadPlan {
    /// Whether applying it changes any plugin.
    pub fn is_empty(&self) -> bool {
        self.load.is_empty() && self.remove.is_empty()
    }
}

/// The binding a preload entry declares.
pub fn binding_of(p: &PreloadConfig) -> Binding {
    Binding {
        subjects: p.subjects.clone(),
        order: p.order,
        config: p.config.clone(),
        on_error: p.on_error.clone(),
        limits: Default::default(),
    }
}

impl Plugins {
    /// Prepares the preloads of `new`: entries that are new, whose binding changed, or whose
    /// file now holds another component are compiled and initialised (blocking); entries
    /// that left the file are noted for removal. Nothing running changes.
    /// The error names the entry and says what is wrong with it.
    pub fn plan_preloads(&self, new: &PluginsConfig) -> Result<PreloadPlan, String> {
        let old = self.config.load_full();
        let mut load = Vec::new();
        for p in &new.preload {
            let wasm = std::fs::read(&p.file).map_err(|e| {
                format!(
                    "plugins.preload {}: cannot read {}: {e}",
                    p.name,
                    p.file.display()
                )
            })?;
            let binding = binding_of(p);
            let digest = format!("sha256:{:x}", Sha256::digest(&wasm));
            let current = self.current(&p.name);
            // The file is the source of a preload: anything else running under its name (an
            // upload, an older build of the file) is replaced, as at start.
            let unchanged = current
                .as_ref()
                .is_some_and(|cur| cur.binding == binding && cur.module.digest() == digest);
            if unchanged {
                continue;
            }
            let metrics = current.map(|c| c.metrics.clone());
            let loaded = self
                .prepare_with(new, &p.name, &wasm, binding, now_nanos(), metrics)
                .map_err(|e: PluginError| format!("plugins.preload {}: {e}", p.name))?;
            load.push((loaded, wasm));
        }
        let remove = old
            .preload
            .iter()
            .filter(|o| !new.preload.iter().any(|p| p.name == o.name))
            .map(|o| o.name.clone())
            .collect();
        Ok(PreloadPlan {
            config: new.clone(),
            load,
            remove,
        })
    }

    /// Swaps a prepared plan in and persists it, as uploads and deletions do (a preload
    /// removed from the file is deleted, so a restart does not bring it back). Returns what
    /// changed, for the log.
    pub fn apply_preloads(&self, plan: PreloadPlan) -> Vec<String> {
        let _guard = self.changes.lock();
        self.config.store(Arc::new(plan.config));
        // In upstream mode preloads stay local to this replica: never written to the cluster.
        let local = self.shared.get().is_none();
        let mut changed = Vec::new();
        for (loaded, wasm) in plan.load {
            let name = loaded.name.clone();
            if local && let Err(e) = self.persist(&name, Some(&wasm), &loaded) {
                warn!(plugin = %name, "preload applied but not persisted: {e}");
            }
            self.swap(|plugins| replace(plugins, loaded));
            info!(plugin = %name, "Reloaded: preloaded plugin");
            changed.push(name);
        }
        for name in plan.remove {
            if self.current(&name).is_none() {
                continue;
            }
            self.swap(|plugins| plugins.retain(|p| p.name != name));
            if local
                && let Err(e) = std::fs::remove_dir_all(self.dir().join(&name))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                warn!(plugin = %name, "preload removed but its files remain: {e}");
            }
            info!(plugin = %name, "Reloaded: preloaded plugin removed");
            changed.push(name);
        }
        changed
    }
}
