//! Plugins shared by every gateway replica: in upstream mode the components live in the
//! cluster's Object Store and their bindings in its Key-Value store (bucket
//! [`BUCKET`] in both), so they are replicated like the rest of the cluster's data.
//!
//! Every replica watches the Key-Value bucket from its beginning: at start-up that loads
//! what exists, afterwards it applies every upload, binding change and removal made through
//! any replica (its own included; those are recognised and skipped). An upload writes the
//! component first and the record second, so a record never names a component that is not
//! there yet; the record carries the component's digest, and a component that no longer
//! matches it (replaced again meanwhile) is skipped until its own record arrives.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store};
use futures_util::StreamExt;
use parking_lot::RwLock;
use tokio::io::AsyncReadExt;
use tracing::{info, warn};

use crate::plugin::registry::{PluginError, SharedStore, Stored};
use crate::server::Shared;

/// The Key-Value and Object Store bucket name.
pub const BUCKET: &str = "sluice_plugins";
/// How long one write to the cluster may take before the API answers 503.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before opening the buckets or the watch again after a failure; doubles up to
/// [`MAX_RETRY`] while failures go on (a cluster without JetStream never has the buckets).
const RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// The two buckets, once opened.
#[derive(Clone)]
struct Buckets {
    records: kv::Store,
    components: object_store::ObjectStore,
}

/// The cluster as the plugins' [`SharedStore`].
pub struct ClusterPlugins {
    runtime: tokio::runtime::Handle,
    buckets: RwLock<Option<Buckets>>,
    /// Why the buckets could not be opened, for the API's answer.
    last_error: RwLock<Option<String>>,
}

impl ClusterPlugins {
    /// A store that is usable once [`watch`] has opened the buckets.
    pub fn new(runtime: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(ClusterPlugins {
            runtime,
            buckets: RwLock::new(None),
            last_error: RwLock::new(None),
        })
    }

    fn buckets(&self) -> Result<Buckets, PluginError> {
        self.buckets.read().clone().ok_or_else(|| {
            PluginError::Shared(match self.last_error.read().clone() {
                Some(e) => format!("the plugin buckets are not available: {e}"),
                None => "the upstream cluster has not been reached yet".into(),
            })
        })
    }

    fn block_on<T>(&self, work: impl Future<Output = Result<T, String>>) -> Result<T, PluginError> {
        let timed = tokio::time::timeout(WRITE_TIMEOUT, work);
        match self.runtime.block_on(timed) {
            Ok(result) => result.map_err(PluginError::Shared),
            Err(_) => Err(PluginError::Shared(format!(
                "no answer within {} s",
                WRITE_TIMEOUT.as_secs()
            ))),
        }
    }
}

impl SharedStore for ClusterPlugins {
    fn save(&self, name: &str, wasm: Option<&[u8]>, record: &[u8]) -> Result<(), PluginError> {
        let b = self.buckets()?;
        self.block_on(async {
            if let Some(mut wasm) = wasm {
                b.components
                    .put(name, &mut wasm)
                    .await
                    .map_err(|e| format!("component: {e}"))?;
            }
            b.records
                .put(name, record.to_vec().into())
                .await
                .map_err(|e| format!("binding: {e}"))?;
            Ok(())
        })
    }

    fn delete(&self, name: &str) -> Result<(), PluginError> {
        let b = self.buckets()?;
        self.block_on(async {
            b.records
                .delete(name)
                .await
                .map_err(|e| format!("binding: {e}"))?;
            // The record is gone, so no replica loads the component any more; a component
            // left behind by a failed delete is only unused bytes.
            if let Err(e) = b.components.delete(name).await {
                warn!(plugin = %name, "component not deleted from the cluster: {e}");
            }
            Ok(())
        })
    }
}

/// Opens (or creates) the buckets once the cluster is reachable, then applies every record
/// the cluster announces, reopening the watch whenever it ends. Runs for the life of the
/// process.
pub async fn watch(client: async_nats::Client, shared: Arc<Shared>, store: Arc<ClusterPlugins>) {
    let js = jetstream::new(client.clone());
    let mut retry = RETRY;
    loop {
        if client.connection_state() != async_nats::connection::State::Connected {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let buckets = match open(&js).await {
            Ok(b) => b,
            Err(e) => {
                warn!("plugin buckets in the upstream cluster (JetStream needed): {e}");
                *store.last_error.write() = Some(e);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
        };
        retry = RETRY;
        *store.last_error.write() = None;
        *store.buckets.write() = Some(buckets.clone());
        match buckets.records.watch_with_history(">").await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next().await {
                    match entry {
                        Ok(entry) => apply(&shared, &buckets, entry).await,
                        Err(e) => {
                            warn!("plugin watch: {e}");
                            break;
                        }
                    }
                }
            }
            Err(e) => warn!("plugin watch: {e}"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn open(js: &jetstream::Context) -> Result<Buckets, String> {
    let records = match js.get_key_value(BUCKET).await {
        Ok(store) => store,
        Err(_) => create_replicated(|replicas| {
            js.create_key_value(kv::Config {
                bucket: BUCKET.into(),
                description: "sluice plugin bindings (one record per plugin)".into(),
                history: 1,
                num_replicas: replicas,
                ..Default::default()
            })
        })
        .await
        .map_err(|e| format!("key-value bucket {BUCKET}: {e}"))?,
    };
    let components = match js.get_object_store(BUCKET).await {
        Ok(store) => store,
        Err(_) => create_replicated(|replicas| {
            js.create_object_store(object_store::Config {
                bucket: BUCKET.into(),
                description: Some("sluice plugin components (WebAssembly)".into()),
                num_replicas: replicas,
                ..Default::default()
            })
        })
        .await
        .map_err(|e| format!("object store {BUCKET}: {e}"))?,
    };
    Ok(Buckets {
        records,
        components,
    })
}

/// Creates a bucket with three replicas, or one when the cluster is a single server (it
/// refuses replicas then).
async fn create_replicated<T, E: std::fmt::Display, F>(create: impl Fn(usize) -> F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    match create(3).await {
        Ok(created) => {
            info!("created {BUCKET} in the upstream cluster with 3 replicas");
            Ok(created)
        }
        Err(e) => {
            warn!("{BUCKET} with 3 replicas refused ({e}); creating it with 1");
            create(1).await
        }
    }
}

/// Applies one announcement: loads, replaces or removes the plugin on this replica.
async fn apply(shared: &Arc<Shared>, buckets: &Buckets, entry: kv::Entry) {
    let name = entry.key.clone();
    match entry.operation {
        kv::Operation::Delete | kv::Operation::Purge => {
            let sh = shared.clone();
            let _ = tokio::task::spawn_blocking(move || sh.plugins.remove_shared(&name)).await;
        }
        kv::Operation::Put => {
            let record = entry.value;
            let digest = serde_json::from_slice::<Stored>(&record)
                .ok()
                .and_then(|s| s.digest);
            let running = shared.plugins.running_digest(&name);
            let wasm = if digest.is_some() && digest == running {
                None
            } else {
                match fetch(&buckets.components, &name, shared.config().plugins.max_size).await {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        warn!(plugin = %name, "component not fetched from the cluster: {e}");
                        return;
                    }
                }
            };
            let sh = shared.clone();
            let result = tokio::task::spawn_blocking(move || {
                sh.plugins.apply_shared(&name, wasm.as_deref(), &record)
            })
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!(plugin = %entry.key, "not loaded from the cluster: {e}"),
                Err(e) => warn!(plugin = %entry.key, "not loaded from the cluster: {e}"),
            }
        }
    }
}

async fn fetch(
    components: &object_store::ObjectStore,
    name: &str,
    max_size: usize,
) -> Result<Vec<u8>, String> {
    let mut object = components.get(name).await.map_err(|e| e.to_string())?;
    if object.info.size > max_size {
        return Err(format!(
            "{} bytes, more than plugins.max_size ({max_size})",
            object.info.size
        ));
    }
    let mut bytes = Vec::new();
    object
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}
