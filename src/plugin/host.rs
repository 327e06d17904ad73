//! The wasmtime host for message plugins (WebAssembly components of world
//! `sluice:plugin/message-filter@0.1.0`, see `wit/plugin.wit` and DESIGN.md section 4).
//!
//! One [`Engine`] per process compiles uploads into [`Module`]s (validated against the
//! world, cached on disk as precompiled artifacts we wrote ourselves); each worker keeps
//! its own [`Instance`] per plugin and calls it for every message. Every call runs under
//! the binding's [`Limits`]: a CPU deadline (epoch interruption), a memory cap (a
//! `ResourceLimiter`) and an emit cap. A failed call poisons its instance: the caller drops
//! it and instantiates afresh, so a hostile plugin costs only its own messages.
//!
//! Guests get WASI p2 with an empty context (no preopens, env, args or network; stdin
//! closed, stdout/stderr discarded) and frozen clocks: wall clock at 0, monotonic clock at
//! 0 with every timer ready at once, so a guest can neither read the time nor block the
//! host thread by sleeping. The only time a plugin sees is `context.received-at-unix-nanos`.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::io::{Read as _, Write as _};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasData, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline};
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::types::check_emit;
pub use super::types::{
    CallError, Context, Edit, INIT_DEADLINE_FACTOR, Limits, LoadError, PluginMessage, Protocol,
    Verdict,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "message-filter",
        // Parameters borrow the caller's message instead of cloning payload and headers.
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

use bindings::sluice::plugin::host::Level;
use bindings::sluice::plugin::types as wit;

/// The epoch tick: deadlines are counted in these.
const TICK: Duration = Duration::from_millis(1);
/// Longest plugin log line forwarded (bytes, before escaping); the rest is cut.
const MAX_LOG_LINE: usize = 2048;
/// Log lines a plugin instance may write in a burst, and per second after that.
const LOG_BURST: f64 = 20.0;
const LOG_PER_SEC: f64 = 10.0;
/// Host-side resources (WASI streams, pollables) one instance may hold at once.
const MAX_RESOURCES: usize = 1024;
/// Longest error text taken from a guest (init error, trap message).
const MAX_ERROR_TEXT: usize = 1024;
/// The export every plugin must have, for error messages.
const FILTER_EXPORT: &str = "sluice:plugin/filter@0.1.0";

/// Counters of what [`Engine::load`] did, so tests and `/varz`-style monitoring can see
/// whether the artifact cache works.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Components compiled from wasm bytes (cache misses, or no cache).
    pub compiled: u64,
    /// Components deserialized from the on-disk cache.
    pub cache_hits: u64,
    /// Failed cache reads or writes (the load still succeeded by compiling).
    pub cache_errors: u64,
}

/// The plugin runtime, one per process: owns the wasmtime engine, the linker with the
/// host's imports, the artifact cache and the epoch ticker thread that enforces deadlines.
/// Modules keep what they need alive, so dropping the `Engine` early is safe; the ticker
/// stops when the last of them is gone.
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    engine: wasmtime::Engine,
    linker: Linker<StoreData>,
    cache_dir: Option<PathBuf>,
    compat: String,
    compiled: AtomicU64,
    cache_hits: AtomicU64,
    cache_errors: AtomicU64,
    _ticker: Ticker,
}

/// Increments the engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Engine {
    /// Builds the engine (epoch interruption on), links WASI p2 with frozen clocks and the
    /// `host` interface, and starts the ticker. `cache_dir` (created if missing) holds our
    /// own precompiled artifacts; it must not be writable by plugin uploaders, since its
    /// files are loaded as native code.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Engine> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).map_err(anyhow_err)?;

        let mut linker = Linker::<StoreData>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow_err)?;
        // Replace wasi:clocks/monotonic-clock so timers never block the host thread.
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::clocks::monotonic_clock::add_to_linker::<_, FrozenClock>(
            &mut linker,
            |d| FrozenClockView(&mut d.table),
        )
        .map_err(anyhow_err)?;
        linker.allow_shadowing(false);
        bindings::MessageFilter::add_to_linker::<_, HasSelf<StoreData>>(&mut linker, |d| d)
            .map_err(anyhow_err)?;

        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat = hex(&hasher.0.finalize()[..8]);

        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir)?;
        }

        let (stop, stop_rx) = mpsc::channel::<()>();
        let ticking = engine.clone();
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(TICK) {
                    ticking.increment_epoch();
                }
            })?;

        Ok(Engine {
            shared: Arc::new(Shared {
                engine,
                linker,
                cache_dir,
                compat,
                compiled: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
                cache_errors: AtomicU64::new(0),
                _ticker: Ticker {
                    stop: Some(stop),
                    thread: Some(thread),
                },
            }),
        })
    }

    /// Validates and compiles an upload: refuses it when over `max_size`, not a component,
    /// or not of our world. A cached artifact for the same sha256 and engine is used when
    /// present (it is only ever written by us, after a successful compile); a fresh compile
    /// is written to the cache through a temp file and a rename.
    pub fn load(&self, wasm: &[u8], max_size: usize) -> Result<Module, LoadError> {
        if wasm.len() > max_size {
            return Err(LoadError::TooLarge {
                size: wasm.len(),
                max: max_size,
            });
        }
        check_header(wasm)?;
        let sha = hex(&Sha256::digest(wasm));
        let shared = &self.shared;
        let cache_path = shared
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha}-{}.cwasm", shared.compat)));

        let mut cached = None;
        if let Some(path) = cache_path.as_deref().filter(|p| p.is_file()) {
            // Read into memory rather than `deserialize_file`, which mmaps the file: a
            // cache file truncated or rewritten in place while mapped would SIGBUS the
            // broker. The copy costs well under a millisecond.
            let read = std::fs::read(path).map_err(wasmtime::Error::from);
            // SAFETY: the file is named by the wasm's digest and the engine's hash and was
            // written by `write_cache` from `Component::serialize`; the cache directory is
            // the operator's and never takes user-supplied bytes. wasmtime still checks
            // the header and the engine compatibility of what it reads.
            match read.and_then(|bytes| unsafe { Component::deserialize(&shared.engine, bytes) }) {
                Ok(component) => {
                    shared.cache_hits.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(digest = %sha, "plugin loaded from the artifact cache");
                    cached = Some(component);
                }
                Err(e) => {
                    shared.cache_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "unusable plugin cache entry, recompiling"
                    );
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let from_cache = cached.is_some();
        let component = match cached {
            Some(component) => component,
            None => {
                let started = StdInstant::now();
                let component = Component::new(&shared.engine, wasm)
                    .map_err(|e| LoadError::Compile(short_error(&e)))?;
                shared.compiled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(digest = %sha, elapsed = ?started.elapsed(), "plugin compiled");
                component
            }
        };

        let pre = shared
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::WrongWorld(short_error(&e)))?;
        let pre = bindings::MessageFilterPre::new(pre).map_err(|e| {
            let exports: Vec<String> = component
                .component_type()
                .exports(&shared.engine)
                .map(|(name, _)| name.to_string())
                .collect();
            LoadError::WrongWorld(format!(
                "it must export {FILTER_EXPORT} but exports [{}] ({})",
                exports.join(", "),
                short_error(&e)
            ))
        })?;

        if !from_cache
            && let Some(path) = &cache_path
            && let Err(e) = write_cache(path, &component)
        {
            shared.cache_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                path = %path.display(),
                error = %e,
                "could not write plugin cache entry"
            );
        }
        Ok(Module {
            inner: Arc::new(ModuleInner {
                shared: self.shared.clone(),
                pre,
                digest: format!("sha256:{sha}"),
            }),
        })
    }

    /// Reads a stored plugin (e.g. at startup, from the plugin store) and loads it; reads at
    /// most `max_size + 1` bytes so an oversized file is refused without reading it whole.
    pub fn load_file(&self, path: &Path, max_size: usize) -> Result<Module, LoadError> {
        let mut wasm = Vec::new();
        std::fs::File::open(path)?
            .take(max_size as u64 + 1)
            .read_to_end(&mut wasm)?;
        self.load(&wasm, max_size)
    }

    /// What `load` has done so far (compiles, cache hits, cache errors).
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            compiled: self.shared.compiled.load(Ordering::Relaxed),
            cache_hits: self.shared.cache_hits.load(Ordering::Relaxed),
            cache_errors: self.shared.cache_errors.load(Ordering::Relaxed),
        }
    }
}

/// A compiled, validated plugin; cheap to clone and share across workers, each of which
/// makes its own [`Instance`]s from it.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    shared: Arc<Shared>,
    pre: bindings::MessageFilterPre<StoreData>,
    digest: String,
}

impl Module {
    /// `sha256:<hex>` of the uploaded bytes: identifies a plugin version in the API and in
    /// logs, and keys the artifact cache.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// A fresh instance under `limits`, with `init(config)` already run (with
    /// [`INIT_DEADLINE_FACTOR`] times the deadline). `name` tags the plugin's log lines.
    pub fn instantiate(
        &self,
        name: &str,
        config: &[(String, String)],
        limits: Limits,
    ) -> Result<Instance, CallError> {
        let mut wasi = WasiCtx::builder();
        wasi.wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let data = StoreData {
            name: name.into(),
            wasi: wasi.build(),
            table,
            limiter: MemoryLimiter::new(limits.memory),
            log: LogBudget::new(),
            clock: CallClock::start(limits.deadline.saturating_mul(INIT_DEADLINE_FACTOR)),
        };
        let mut store = Store::new(&self.inner.shared.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().clock.check()));
        store.set_epoch_deadline(1);

        let init_error = |store: &Store<StoreData>, e: wasmtime::Error| match classify(store, e) {
            CallError::Trap(msg) => CallError::Init(msg),
            other => other,
        };
        let filter = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| init_error(&store, e))?;
        let pairs: Vec<(&str, &str)> = config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match filter.sluice_plugin_filter().call_init(&mut store, &pairs) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => return Err(CallError::Init(truncate(&msg, MAX_ERROR_TEXT))),
            Err(e) => return Err(init_error(&store, e)),
        }
        Ok(Instance {
            store,
            filter,
            deadline: limits.deadline,
            max_emit: limits.max_emit,
            poisoned: false,
            _not_sync: PhantomData,
        })
    }
}

/// One live plugin instance with its own store (memory, WASI state); used by one worker
/// at a time (`Send`, not `Sync`) and reused across messages, since instantiating costs
/// ~50x a call.
pub struct Instance {
    store: Store<StoreData>,
    filter: bindings::MessageFilter,
    deadline: Duration,
    max_emit: usize,
    poisoned: bool,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl Instance {
    /// Runs `on-message` under the limits. After `Deadline`, `Memory` or `Trap` the
    /// instance is poisoned (see [`Instance::is_poisoned`]); `TooManyEmits` leaves it usable.
    pub fn on_message(&mut self, ctx: &Context, msg: &PluginMessage) -> Result<Verdict, CallError> {
        self.enter(1)?;
        let headers = header_refs(&msg.headers);
        let result = self.filter.sluice_plugin_filter().call_on_message(
            &mut self.store,
            wit_context(ctx),
            message_param(msg, &headers),
        );
        let verdict = result.map_err(|e| self.fail(e))?;
        convert_verdict(verdict, self.max_emit)
    }

    /// Runs `on-batch` under the limits (the deadline times the number of messages, for the
    /// whole batch) and checks that it answered one verdict per message. Poisoning as for
    /// [`Instance::on_message`].
    pub fn on_batch(
        &mut self,
        ctx: &Context,
        msgs: &[MessageView<'_>],
    ) -> Result<Vec<Verdict>, CallError> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        self.enter(msgs.len())?;
        let headers: Vec<Vec<(&str, &str)>> =
            msgs.iter().map(|m| header_refs(&m.headers)).collect();
        let params: Vec<wit::MessageParam<'_>> = msgs
            .iter()
            .zip(&headers)
            .map(|(m, h)| wit::MessageParam {
                subject: &m.subject,
                reply_to: m.reply_to.as_deref(),
                headers: h,
                payload: m.payload,
            })
            .collect();
        let result = self.filter.sluice_plugin_filter().call_on_batch(
            &mut self.store,
            wit_context(ctx),
            &params,
        );
        let verdicts = result.map_err(|e| self.fail(e))?;
        if verdicts.len() != msgs.len() {
            return Err(CallError::Trap(format!(
                "on-batch returned {} verdicts for {} messages",
                verdicts.len(),
                msgs.len()
            )));
        }
        verdicts
            .into_iter()
            .map(|v| convert_verdict(v, self.max_emit))
            .collect()
    }

    /// True after a call failed with `Deadline`, `Memory` or `Trap`: wasmtime refuses
    /// further calls into a trapped instance, so the caller must drop it and instantiate
    /// afresh (further calls here answer `Trap` without entering the guest).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Arms the limits for a call covering `messages` messages: the deadline is per
    /// message, so a batch gets the sum of its messages' budgets.
    fn enter(&mut self, messages: usize) -> Result<(), CallError> {
        if self.poisoned {
            return Err(CallError::Trap(
                "instance is poisoned by an earlier failure; instantiate afresh".into(),
            ));
        }
        let n = u32::try_from(messages.max(1)).unwrap_or(u32::MAX);
        let budget = self.deadline.saturating_mul(n);
        self.store.data_mut().clock = CallClock::start(budget);
        // The first check comes at the next tick, where the clock reads its CPU baseline.
        self.store.set_epoch_deadline(1);
        Ok(())
    }

    fn fail(&mut self, e: wasmtime::Error) -> CallError {
        self.poisoned = true;
        let err = classify(&self.store, e);
        tracing::debug!(plugin = %self.store.data().name, error = %err, "plugin call failed");
        err
    }
}

/// Maps a failed call to its cause: the limiter's flag for memory, the interrupt trap for
/// the deadline, anything else is a trap with its (shortened) message.
fn classify(store: &Store<StoreData>, e: wasmtime::Error) -> CallError {
    if store.data().limiter.hit {
        return CallError::Memory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Deadline,
        Some(trap) => CallError::Trap(trap.to_string()),
        None => CallError::Trap(short_error(&e)),
    }
}

fn ticks(deadline: Duration) -> u64 {
    // +1: the first tick can come at once, so N+1 ticks last at least N tick periods.
    let n = deadline.as_nanos().div_ceil(TICK.as_nanos()).max(1);
    u64::try_from(n).unwrap_or(u64::MAX - 1) + 1
}

fn check_header(wasm: &[u8]) -> Result<(), LoadError> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(LoadError::NotAComponent(
            "no WebAssembly header (\\0asm); upload the .wasm file built for wasm32-wasip2".into(),
        ));
    }
    match &wasm[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(LoadError::NotAComponent(
            "this is a core WebAssembly module; build the plugin with \
             `cargo build --release --target wasm32-wasip2` (or wrap it with \
             `wasm-tools component new`)"
                .into(),
        )),
        other => Err(LoadError::NotAComponent(format!(
            "unsupported WebAssembly version/layer {other:02x?}"
        ))),
    }
}

fn write_cache(path: &Path, component: &Component) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!(
        "tmp.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The wasmtime error's message chain on one line, capped.
fn short_error(e: &wasmtime::Error) -> String {
    let mut text = String::new();
    for (i, cause) in e.chain().enumerate() {
        if i > 0 {
            text.push_str(": ");
        }
        let _ = write!(text, "{cause}");
    }
    truncate(&text, MAX_ERROR_TEXT)
}

fn anyhow_err(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", short_error(&e))
}

/// `s` cut to at most `max` bytes on a char boundary, with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Feeds `Hash` output into sha256, giving a hash that is stable across runs and builds
/// (unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only finalized as sha256")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

// ---- conversions at the boundary -------------------------------------------------------

/// A message as a batch call hands it to the guest, borrowing the broker's bytes: the
/// canonical ABI copies subject and payload into the guest anyway, so the batch path does
/// not first copy them into an owned [`PluginMessage`] (subjects are UTF-8 in practice; a
/// subject that is not is passed lossily, as in [`PluginMessage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// The subject.
    pub subject: std::borrow::Cow<'a, str>,
    /// The reply subject, if any.
    pub reply_to: Option<std::borrow::Cow<'a, str>>,
    /// Header pairs in order (owned: the raw block needs parsing anyway).
    pub headers: Vec<(String, String)>,
    /// The payload, borrowed.
    pub payload: &'a [u8],
}

impl<'a> From<&'a PluginMessage> for MessageView<'a> {
    fn from(m: &'a PluginMessage) -> Self {
        MessageView {
            subject: std::borrow::Cow::Borrowed(&m.subject),
            reply_to: m.reply_to.as_deref().map(std::borrow::Cow::Borrowed),
            headers: m.headers.clone(),
            payload: &m.payload,
        }
    }
}

fn header_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn message_param<'a>(
    m: &'a PluginMessage,
    headers: &'a [(&'a str, &'a str)],
) -> wit::MessageParam<'a> {
    wit::MessageParam {
        subject: &m.subject,
        reply_to: m.reply_to.as_deref(),
        headers,
        payload: &m.payload,
    }
}

fn wit_context(ctx: &Context) -> wit::Context<'_> {
    wit::Context {
        protocol: match ctx.protocol {
            Protocol::Nats => wit::Protocol::Nats,
            Protocol::Websocket => wit::Protocol::Websocket,
            Protocol::Http => wit::Protocol::Http,
        },
        client_id: ctx.client_id,
        user: ctx.user.as_deref(),
        received_at_unix_nanos: ctx.received_at_unix_nanos,
    }
}

fn convert_verdict(v: wit::Verdict, max_emit: usize) -> Result<Verdict, CallError> {
    Ok(match v {
        wit::Verdict::Pass => Verdict::Pass,
        wit::Verdict::Drop(why) => Verdict::Drop(why),
        wit::Verdict::Modify(e) => Verdict::Modify(Edit {
            subject: e.subject,
            set_headers: e.set_headers,
            remove_headers: e.remove_headers,
            payload: e.payload,
        }),
        wit::Verdict::Emit(msgs) => {
            check_emit(msgs.len(), max_emit)?;
            Verdict::Emit(
                msgs.into_iter()
                    .map(|m| PluginMessage {
                        subject: m.subject,
                        reply_to: m.reply_to,
                        headers: m.headers,
                        payload: m.payload,
                    })
                    .collect(),
            )
        }
        wit::Verdict::Reject(r) => Verdict::Reject {
            reason: r.reason,
            retryable: r.retryable,
        },
    })
}

// ---- store data: WASI, limits, logging -------------------------------------------------

/// What each store carries: the plugin's name for its logs, the empty WASI context, and
/// the memory limiter and log budget of this instance.
struct StoreData {
    name: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    log: LogBudget,
    clock: CallClock,
}

/// The CPU budget of the call in progress. Epoch ticks measure wall-clock time, which on a
/// busy machine includes time the thread spent descheduled; at each deadline tick the store
/// checks the thread's own CPU time and lets the call go on if its budget is not used up.
/// A call is stopped anyway once it has taken [`WALL_FACTOR`] times its budget in real
/// time, so a plugin cannot hold its publisher up for long either way.
struct CallClock {
    budget: Duration,
    /// The thread's CPU time when the call started, read at the first tick rather than at
    /// the start: reading it is a system call (no vDSO for thread clocks), and most calls
    /// end long before a tick.
    cpu_start: Option<Duration>,
    wall_start: StdInstant,
}

/// Real time a call may take, as a multiple of its CPU budget.
const WALL_FACTOR: u32 = 20;

impl CallClock {
    fn start(budget: Duration) -> CallClock {
        CallClock {
            budget,
            cpu_start: None,
            wall_start: StdInstant::now(),
        }
    }

    /// At a deadline tick: stop the call, or the ticks it may still run. At the first
    /// tick (one tick after the start at most) the call is assumed to have had the CPU for
    /// all the time since it started (a thread cannot use more CPU time than real time),
    /// which can only end it early by the part of that one tick it was descheduled.
    fn check(&mut self) -> UpdateDeadline {
        let now = thread_cpu_time();
        let start = *self
            .cpu_start
            .get_or_insert_with(|| now.saturating_sub(self.wall_start.elapsed()));
        let used = now.saturating_sub(start);
        let wall_left = self
            .budget
            .saturating_mul(WALL_FACTOR)
            .saturating_sub(self.wall_start.elapsed());
        if used >= self.budget || wall_left.is_zero() {
            return UpdateDeadline::Interrupt;
        }
        let left = self.budget.saturating_sub(used).min(wall_left);
        UpdateDeadline::Continue(ticks(left))
    }
}

/// CPU time consumed by the calling thread (plugins run on the thread that called them).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass; CLOCK_THREAD_CPUTIME_ID is
    // always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for StoreData {}

impl bindings::sluice::plugin::host::Host for StoreData {
    fn log(&mut self, level: Level, message: String) {
        let Some(suppressed) = self.log.admit() else {
            return;
        };
        let line = sanitize(&message);
        let plugin = &*self.name;
        match level {
            Level::Trace => tracing::trace!(target: "sluice::plugin", plugin, suppressed, "{line}"),
            Level::Debug => tracing::debug!(target: "sluice::plugin", plugin, suppressed, "{line}"),
            Level::Info => tracing::info!(target: "sluice::plugin", plugin, suppressed, "{line}"),
            Level::Warn => tracing::warn!(target: "sluice::plugin", plugin, suppressed, "{line}"),
            Level::Error => tracing::error!(target: "sluice::plugin", plugin, suppressed, "{line}"),
        }
    }
}

/// A log line cut to [`MAX_LOG_LINE`] with control characters escaped, so a plugin can
/// neither flood the log nor forge lines with embedded newlines.
fn sanitize(message: &str) -> String {
    let cut = truncate(message, MAX_LOG_LINE);
    if !cut.chars().any(char::is_control) {
        return cut;
    }
    let mut out = String::with_capacity(cut.len() + 8);
    for c in cut.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A token bucket of log lines per instance ([`LOG_BURST`], then [`LOG_PER_SEC`]).
struct LogBudget {
    tokens: f64,
    last: StdInstant,
    suppressed: u64,
}

impl LogBudget {
    fn new() -> Self {
        LogBudget {
            tokens: LOG_BURST,
            last: StdInstant::now(),
            suppressed: 0,
        }
    }

    /// `Some(lines suppressed since the last admitted one)` when this line may be written.
    fn admit(&mut self) -> Option<u64> {
        let now = StdInstant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * LOG_PER_SEC;
        self.last = now;
        self.tokens = (self.tokens + refill).min(LOG_BURST);
        if self.tokens < 1.0 {
            self.suppressed += 1;
            return None;
        }
        self.tokens -= 1.0;
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Caps the total linear memory of an instance and remembers that the cap was hit, so the
/// resulting failure (the trap we raise, or a guest abort after a failed grow) is reported
/// as `CallError::Memory`. Tables and instance counts use wasmtime's `StoreLimits`.
struct MemoryLimiter {
    max: usize,
    total: usize,
    hit: bool,
    others: StoreLimits,
}

impl MemoryLimiter {
    fn new(max: usize) -> Self {
        MemoryLimiter {
            max,
            total: 0,
            hit: false,
            others: StoreLimitsBuilder::new()
                .table_elements(100_000)
                .instances(64)
                .tables(64)
                .memories(8)
                .trap_on_grow_failure(true)
                .build(),
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.max {
            self.hit = true;
            wasmtime::bail!("plugin memory limit of {} bytes reached", self.max);
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.others.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.others.instances()
    }

    fn tables(&self) -> usize {
        self.others.tables()
    }

    fn memories(&self) -> usize {
        self.others.memories()
    }
}

// ---- frozen clocks -----------------------------------------------------------------------

/// Both WASI clocks, stopped at 0: plugins get no time source beyond the message context.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl HasData for FrozenClock {
    type Data<'a> = FrozenClockView<'a>;
}

/// The store's resource table, for creating the always-ready pollables of timers.
struct FrozenClockView<'a>(&'a mut ResourceTable);

impl wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host for FrozenClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(0)
    }
    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1_000_000_000)
    }
    fn subscribe_instant(&mut self, _when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        ready_pollable(self.0)
    }
    fn subscribe_duration(&mut self, _duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        ready_pollable(self.0)
    }
}

/// A timer that has already fired: `poll` and `block` return at once, so a sleeping guest
/// spins under its CPU deadline instead of parking the host thread.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

fn ready_pollable(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let timer = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, timer)
}
