//! The plugins a server runs: uploaded through the API (or preloaded from the config file),
//! validated before they replace anything, persisted under the plugin directory so a restart
//! keeps them, and swapped in atomically.
//!
//! Layout: `<dir>/<name>/plugin.wasm` (the component as uploaded), `<dir>/<name>/binding.json`
//! and `<dir>/.cache/` (compiled code, keyed by the component's digest and the engine).
//!
//! Hot swap: the chain is an immutable value behind a lock; a change builds a new chain and
//! replaces the pointer. A message is processed by exactly one chain, the one current when
//! it arrived, so a swap under load loses no message and processes none twice.
//!
//! In upstream mode a [`SharedStore`] replaces the directory: changes are written to the
//! cluster, and every replica applies what the cluster announces ([`Plugins::apply_shared`],
//! [`Plugins::remove_shared`]), its own changes included.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use utoipa::ToSchema;

use super::binding::{Binding, BindingPatch};
use super::chain::{Chain, Chained, Loaded};
use super::host::{CallError, Context, Engine, LoadError, PluginMessage, Verdict};
use super::metrics::{MetricsSnapshot, PluginMetrics};
use crate::config::{Config, PluginsConfig, is_valid_plugin_name};
use crate::core::message::Message;
use crate::jetstream::api::types::format_time;
use crate::jetstream::{now_nanos, write_atomic};

/// Why a plugin operation failed; each maps to an HTTP status in the API.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The name would not make a safe file name.
    #[error("invalid plugin name {0:?}: use 1-64 letters, digits, '-' or '_'")]
    BadName(String),
    /// No plugin by that name.
    #[error("no plugin named {0:?}")]
    NotFound(String),
    /// The binding is invalid.
    #[error("invalid binding: {0}")]
    BadBinding(String),
    /// The upload is not a usable component.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The plugin's `init` refused its config, or it could not be instantiated.
    #[error("the plugin cannot start: {0}")]
    Init(CallError),
    /// The plugin directory could not be written.
    #[error("cannot store the plugin: {0}")]
    Io(#[from] std::io::Error),
    /// The engine could not be started.
    #[error("the plugin engine is not available: {0}")]
    Engine(String),
    /// Upstream mode: the cluster that keeps the plugins could not be written.
    #[error("cannot store the plugin in the upstream cluster: {0}")]
    Shared(String),
}

/// Where plugins are kept when it is not the local directory: the upstream cluster, shared
/// by every gateway replica. Calls block (they are made from blocking threads).
pub trait SharedStore: Send + Sync {
    /// Stores the record of `name` (and its component, when it changed).
    fn save(&self, name: &str, wasm: Option<&[u8]>, record: &[u8]) -> Result<(), PluginError>;
    /// Removes `name`.
    fn delete(&self, name: &str) -> Result<(), PluginError>;
}

/// What the API reports about a plugin.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginInfo {
    /// Its name.
    #[schema(example = "redact")]
    pub name: String,
    /// `sha256:<hex>` of the uploaded component.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: usize,
    /// When it was uploaded (RFC 3339).
    pub uploaded: String,
    /// How it is bound.
    pub binding: Binding,
    /// Its counters.
    pub metrics: MetricsSnapshot,
}

/// `binding.json` (and the record in the cluster's key-value bucket in upstream mode): the
/// binding, when the component was uploaded, and its digest.
#[derive(Serialize, Deserialize)]
pub struct Stored {
    /// How the plugin is bound.
    pub binding: Binding,
    /// Upload time, nanoseconds since the epoch.
    pub uploaded: i64,
    /// `sha256:<hex>` of the component (absent in files written before it was recorded).
    #[serde(default)]
    pub digest: Option<String>,
}

/// The result of a dry run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestResult {
    /// `pass`, `drop`, `modify`, `emit`, `reject` or `error`.
    #[schema(example = "modify")]
    pub verdict: String,
    /// The plugin's reason (drop, reject) or the error.
    pub reason: Option<String>,
    /// What would be routed: the message as changed, the emitted ones, or none.
    pub messages: Vec<TestMessage>,
}

/// A message in a dry run (its input, and the messages in its answer).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessage {
    /// Subject.
    #[schema(example = "orders.new")]
    pub subject: String,
    /// Reply subject.
    #[serde(default)]
    pub reply: Option<String>,
    /// Headers, in order, as `["Name", "value"]` pairs.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Payload as UTF-8 text (binary payloads are replaced lossily).
    #[serde(default)]
    pub data: String,
}

impl From<PluginMessage> for TestMessage {
    fn from(m: PluginMessage) -> Self {
        TestMessage {
            subject: m.subject,
            reply: m.reply_to,
            headers: m.headers,
            data: String::from_utf8_lossy(&m.payload).into_owned(),
        }
    }
}

/// The plugins of a server; see the module docs.
pub struct Plugins {
    /// Replaced by a reload (preloads, `max_size`; see `preload.rs`).
    pub(super) config: ArcSwap<PluginsConfig>,
    dir: PathBuf,
    engine: Mutex<Option<Arc<Engine>>>,
    chain: RwLock<Arc<Chain>>,
    active: AtomicBool,
    /// Serialises changes so two uploads of one name cannot interleave their files.
    pub(super) changes: Mutex<()>,
    /// Upstream mode: the cluster keeps the plugins instead of `dir`.
    pub(super) shared: std::sync::OnceLock<Arc<dyn SharedStore>>,
}

impl Plugins {
    /// The plugin set for `config` (nothing loaded yet; see [`Plugins::start`]).
    pub fn new(config: &Config) -> Plugins {
        let dir = config
            .plugins
            .dir
            .clone()
            .unwrap_or_else(|| config.jetstream.store_dir.join("plugins"));
        Plugins {
            config: ArcSwap::from_pointee(config.plugins.clone()),
            dir,
            engine: Mutex::new(None),
            chain: RwLock::new(Arc::new(Chain::default())),
            active: AtomicBool::new(false),
            changes: Mutex::new(()),
            shared: std::sync::OnceLock::new(),
        }
    }

    /// Upstream mode: keeps plugins in `store` rather than in the directory. Set before
    /// [`Plugins::start`], which then loads no files (the cluster announces what exists).
    pub fn set_shared_store(&self, store: Arc<dyn SharedStore>) {
        let _ = self.shared.set(store);
    }

    /// Applies a plugin the shared store announced (an upload through any replica, or one
    /// that existed when this replica started). `wasm` may be left out when the running
    /// component already has the record's digest (a binding change). Nothing happens when
    /// the plugin already runs as announced. Blocking (compiles).
    pub fn apply_shared(
        &self,
        name: &str,
        wasm: Option<&[u8]>,
        record: &[u8],
    ) -> Result<(), PluginError> {
        check_name(name)?;
        let stored: Stored =
            serde_json::from_slice(record).map_err(|e| PluginError::BadBinding(e.to_string()))?;
        let _guard = self.changes.lock();
        if self.is_preloaded(name) {
            warn!(plugin = %name, "ignoring the cluster's copy: preloaded from the config file");
            return Ok(());
        }
        let current = self.current(name);
        let same_module = current
            .as_ref()
            .is_some_and(|cur| stored.digest.as_deref() == Some(cur.module.digest()));
        if let Some(cur) = &current
            && same_module
            && cur.uploaded == stored.uploaded
            && cur.binding == stored.binding
        {
            return Ok(());
        }
        let metrics = current.as_ref().map(|p| p.metrics.clone());
        let loaded = match (wasm, &current) {
            (Some(wasm), _) => {
                self.prepare(name, wasm, stored.binding, stored.uploaded, metrics)?
            }
            (None, Some(cur)) if same_module => {
                stored.binding.validate().map_err(PluginError::BadBinding)?;
                let limits = stored.binding.limits(&self.config.load());
                let loaded = Loaded::new(
                    name.to_string(),
                    stored.binding,
                    cur.module.clone(),
                    limits,
                    cur.size,
                    stored.uploaded,
                    cur.metrics.clone(),
                )
                .map_err(PluginError::Init)?;
                Arc::new(loaded)
            }
            (None, _) => {
                return Err(PluginError::Shared(format!(
                    "the component of {name} is not running here and was not given"
                )));
            }
        };
        if let Some(digest) = &stored.digest
            && digest != loaded.module.digest()
        {
            // The component was replaced again meanwhile; its own announcement follows.
            return Ok(());
        }
        self.swap(|plugins| replace(plugins, loaded));
        info!(plugin = %name, "plugin loaded from the upstream cluster");
        Ok(())
    }

    /// Removes a plugin the shared store announced as deleted.
    pub fn remove_shared(&self, name: &str) {
        let _guard = self.changes.lock();
        if self.current(name).is_some() && !self.is_preloaded(name) {
            self.swap(|plugins| plugins.retain(|p| p.name != name));
            info!(plugin = %name, "plugin removed through the upstream cluster");
        }
    }

    /// The digest and record of a running plugin, to compare with the shared store's.
    pub fn running_digest(&self, name: &str) -> Option<String> {
        self.current(name).map(|p| p.module.digest().to_string())
    }

    fn is_preloaded(&self, name: &str) -> bool {
        self.shared.get().is_some() && self.config.load().preload.iter().any(|p| p.name == name)
    }

    /// Loads the persisted plugins, then the config file's preloads (which replace
    /// persisted ones of the same name). A persisted plugin that no longer loads is logged
    /// and skipped; a preload that fails stops the server, as a bad config does.
    pub fn start(&self) -> anyhow::Result<()> {
        let mut loaded = 0;
        let files = if self.shared.get().is_some() {
            None
        } else {
            std::fs::read_dir(&self.dir).ok()
        };
        if let Some(entries) = files {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !is_valid_plugin_name(&name) {
                    continue;
                }
                match self.load_persisted(&name) {
                    Ok(()) => loaded += 1,
                    Err(e) => warn!(plugin = %name, "not loaded: {e}"),
                }
            }
        }
        for p in &self.config.load_full().preload {
            let wasm = std::fs::read(&p.file).map_err(|e| {
                anyhow::anyhow!(
                    "plugins.preload {}: cannot read {}: {e}",
                    p.name,
                    p.file.display()
                )
            })?;
            self.put_local(&p.name, wasm, super::preload::binding_of(p))
                .map_err(|e| anyhow::anyhow!("plugins.preload {}: {e}", p.name))?;
            loaded += 1;
        }
        if loaded > 0 {
            info!("Loaded {loaded} plugins from {}", self.dir.display());
        }
        Ok(())
    }

    fn load_persisted(&self, name: &str) -> Result<(), PluginError> {
        let dir = self.dir.join(name);
        let wasm = std::fs::read(dir.join("plugin.wasm"))?;
        let stored: Stored = serde_json::from_slice(&std::fs::read(dir.join("binding.json"))?)
            .map_err(|e| PluginError::BadBinding(e.to_string()))?;
        let loaded = self.prepare(name, &wasm, stored.binding, stored.uploaded, None)?;
        self.swap(|plugins| replace(plugins, loaded));
        Ok(())
    }

    fn engine(&self) -> Result<Arc<Engine>, PluginError> {
        let mut slot = self.engine.lock();
        if let Some(e) = &*slot {
            return Ok(e.clone());
        }
        let engine = Engine::new(Some(self.dir.join(".cache")))
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let engine = Arc::new(engine);
        *slot = Some(engine.clone());
        Ok(engine)
    }

    /// Validates and instantiates without touching the running chain.
    fn prepare(
        &self,
        name: &str,
        wasm: &[u8],
        binding: Binding,
        uploaded: i64,
        metrics: Option<Arc<PluginMetrics>>,
    ) -> Result<Arc<Loaded>, PluginError> {
        let config = self.config.load_full();
        self.prepare_with(&config, name, wasm, binding, uploaded, metrics)
    }

    /// [`Plugins::prepare`] under `config` (a reload prepares under the new one).
    pub(super) fn prepare_with(
        &self,
        config: &PluginsConfig,
        name: &str,
        wasm: &[u8],
        binding: Binding,
        uploaded: i64,
        metrics: Option<Arc<PluginMetrics>>,
    ) -> Result<Arc<Loaded>, PluginError> {
        binding.validate().map_err(PluginError::BadBinding)?;
        let module = self.engine()?.load(wasm, config.max_size)?;
        let limits = binding.limits(config);
        let metrics = metrics.unwrap_or_default();
        let loaded = Loaded::new(
            name.to_string(),
            binding,
            module,
            limits,
            wasm.len(),
            uploaded,
            metrics,
        )
        .map_err(PluginError::Init)?;
        Ok(Arc::new(loaded))
    }

    pub(super) fn swap(&self, change: impl FnOnce(&mut Vec<Arc<Loaded>>)) {
        let mut slot = self.chain.write();
        let mut plugins = slot.plugins.clone();
        change(&mut plugins);
        self.active.store(!plugins.is_empty(), Ordering::Release);
        *slot = Arc::new(Chain::new(plugins));
    }

    pub(super) fn current(&self, name: &str) -> Option<Arc<Loaded>> {
        self.chain
            .read()
            .plugins
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }

    /// Uploads or replaces a plugin. Nothing changes unless the component loads, `init`
    /// accepts the config and the files are written. Blocking (compiles): call it off the
    /// I/O threads.
    pub fn put(
        &self,
        name: &str,
        wasm: Vec<u8>,
        binding: Binding,
    ) -> Result<PluginInfo, PluginError> {
        check_name(name)?;
        if self.is_preloaded(name) {
            return Err(PluginError::BadName(format!(
                "{name} (preloaded from this replica's config file; change it there)"
            )));
        }
        self.put_local(name, wasm, binding)
    }

    /// [`Plugins::put`] without the preload check (preloads themselves go through here; in
    /// upstream mode they stay local to the replica whose config names them).
    fn put_local(
        &self,
        name: &str,
        wasm: Vec<u8>,
        binding: Binding,
    ) -> Result<PluginInfo, PluginError> {
        check_name(name)?;
        let _guard = self.changes.lock();
        let metrics = self.current(name).map(|p| p.metrics.clone());
        let loaded = self.prepare(name, &wasm, binding, now_nanos(), metrics)?;
        let preload = self.config.load().preload.iter().any(|p| p.name == name);
        if !(preload && self.shared.get().is_some()) {
            self.persist(name, Some(&wasm), &loaded)?;
        }
        let info = info_of(&loaded);
        self.swap(|plugins| replace(plugins, loaded));
        info!(plugin = %name, digest = %info.digest, "plugin loaded");
        Ok(info)
    }

    /// Changes a plugin's binding (a new config runs `init` again first).
    pub fn patch(&self, name: &str, patch: BindingPatch) -> Result<PluginInfo, PluginError> {
        check_name(name)?;
        let _guard = self.changes.lock();
        let old = self
            .current(name)
            .ok_or_else(|| PluginError::NotFound(name.to_string()))?;
        let binding = old.binding.patched(patch);
        binding.validate().map_err(PluginError::BadBinding)?;
        let limits = binding.limits(&self.config.load());
        let loaded = Loaded::new(
            name.to_string(),
            binding,
            old.module.clone(),
            limits,
            old.size,
            old.uploaded,
            old.metrics.clone(),
        )
        .map_err(PluginError::Init)?;
        let loaded = Arc::new(loaded);
        self.persist(name, None, &loaded)?;
        let info = info_of(&loaded);
        self.swap(|plugins| replace(plugins, loaded));
        Ok(info)
    }

    /// Removes a plugin and its files.
    pub fn remove(&self, name: &str) -> Result<(), PluginError> {
        check_name(name)?;
        let _guard = self.changes.lock();
        if self.current(name).is_none() {
            return Err(PluginError::NotFound(name.to_string()));
        }
        if let Some(shared) = self.shared.get() {
            if self.is_preloaded(name) {
                return Err(PluginError::BadName(format!(
                    "{name} (preloaded from this replica's config file; change it there)"
                )));
            }
            shared.delete(name)?;
            self.swap(|plugins| plugins.retain(|p| p.name != name));
            info!(plugin = %name, "plugin removed");
            return Ok(());
        }
        self.swap(|plugins| plugins.retain(|p| p.name != name));
        match std::fs::remove_dir_all(self.dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        info!(plugin = %name, "plugin removed");
        Ok(())
    }

    /// Every plugin, in chain order.
    pub fn list(&self) -> Vec<PluginInfo> {
        self.chain
            .read()
            .plugins
            .iter()
            .map(|p| info_of(p))
            .collect()
    }

    /// One plugin.
    pub fn get(&self, name: &str) -> Option<PluginInfo> {
        self.current(name).map(|p| info_of(&p))
    }

    /// Runs one plugin on one message without routing anything (a dry run).
    pub fn test(
        &self,
        name: &str,
        ctx: &Context,
        msg: PluginMessage,
    ) -> Result<TestResult, PluginError> {
        let plugin = self
            .current(name)
            .ok_or_else(|| PluginError::NotFound(name.to_string()))?;
        let (verdict, reason, messages) = match plugin.call(ctx, &msg) {
            Ok(Verdict::Pass) => ("pass", None, vec![msg.into()]),
            Ok(Verdict::Drop(why)) => ("drop", Some(why), vec![]),
            Ok(Verdict::Modify(edit)) => {
                let original =
                    super::convert::from_plugin(msg.clone()).map_err(PluginError::BadBinding)?;
                match super::convert::apply_edit(original, edit) {
                    Ok(m) => ("modify", None, vec![super::convert::to_plugin(&m).into()]),
                    Err(e) => ("error", Some(e), vec![]),
                }
            }
            // Checked as the chain checks them: one invalid message fails the verdict.
            Ok(Verdict::Emit(list)) => match list
                .iter()
                .cloned()
                .try_for_each(|m| super::convert::from_plugin(m).map(drop))
            {
                Ok(()) => ("emit", None, list.into_iter().map(Into::into).collect()),
                Err(e) => ("error", Some(e), vec![]),
            },
            Ok(Verdict::Reject { reason, .. }) => ("reject", Some(reason), vec![]),
            Err(e) => ("error", Some(e.to_string()), vec![]),
        };
        Ok(TestResult {
            verdict: verdict.to_string(),
            reason,
            messages,
        })
    }

    /// Runs the chain on a message (see [`Chain::process`]); free when nothing is loaded.
    pub fn process(&self, ctx: impl FnOnce() -> Context, msg: Message) -> Chained {
        if !self.active.load(Ordering::Acquire) {
            return Chained::Untouched(msg);
        }
        let chain = self.chain.read().clone();
        chain.process(&ctx(), msg)
    }

    /// [`Plugins::process`] for several messages of one publisher, in order, each plugin
    /// called once per batch (`on-batch`); one result per message.
    pub fn process_batch(&self, ctx: impl FnOnce() -> Context, msgs: Vec<Message>) -> Vec<Chained> {
        if !self.active.load(Ordering::Acquire) {
            return msgs.into_iter().map(Chained::Untouched).collect();
        }
        let chain = self.chain.read().clone();
        chain.process_batch(&ctx(), msgs)
    }

    /// Whether any plugin is loaded (front-ends batch messages for the chain only then).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Where plugins are kept.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn persist(
        &self,
        name: &str,
        wasm: Option<&[u8]>,
        loaded: &Loaded,
    ) -> Result<(), PluginError> {
        let stored = Stored {
            binding: loaded.binding.clone(),
            uploaded: loaded.uploaded,
            digest: Some(loaded.module.digest().to_string()),
        };
        let json = serde_json::to_vec_pretty(&stored)
            .map_err(|e| PluginError::BadBinding(e.to_string()))?;
        if let Some(shared) = self.shared.get() {
            return shared.save(name, wasm, &json);
        }
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        if let Some(wasm) = wasm {
            write_atomic(&dir.join("plugin.wasm"), wasm)?;
        }
        write_atomic(&dir.join("binding.json"), &json)?;
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), PluginError> {
    if is_valid_plugin_name(name) {
        Ok(())
    } else {
        Err(PluginError::BadName(name.to_string()))
    }
}

pub(super) fn replace(plugins: &mut Vec<Arc<Loaded>>, loaded: Arc<Loaded>) {
    plugins.retain(|p| p.name != loaded.name);
    plugins.push(loaded);
}

fn info_of(p: &Loaded) -> PluginInfo {
    PluginInfo {
        name: p.name.clone(),
        digest: p.module.digest().to_string(),
        size: p.size,
        uploaded: format_time(p.uploaded),
        binding: p.binding.clone(),
        metrics: p.metrics.snapshot(),
    }
}
