//! The chain: the bound plugins in order, run on every message before routing.
//!
//! Each message goes through the plugins whose binding matches its subject, in binding order;
//! a plugin's output (one message, none, or several) is what the next plugin sees. System
//! subjects (`$JS.>`, `$SYS.>`, which include JetStream API requests and acks) reach only
//! plugins bound to them explicitly. A failing or rejecting plugin costs only the message at
//! hand: its binding's `on_error` decides whether that message is dropped, passed on
//! unchanged or sent to a dead-letter subject.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use smallvec::SmallVec;
use tracing::warn;

use super::binding::{Binding, OnError};
use super::convert::{apply_edit, from_plugin, header_block, header_pairs, to_plugin, view};
use super::host::{
    CallError, Context, Instance, Limits, MessageView, Module, PluginMessage, Verdict,
};
use super::metrics::{Outcome, PluginMetrics};
use crate::core::message::Message;
use crate::core::subject::subject_matches;

/// Idle instances kept per plugin (one per thread that calls it at once is enough).
const POOL_MAX: usize = 16;
/// Header a dead-lettered message carries: which plugin failed, and how.
pub const ERROR_HEADER: &str = "Sluice-Plugin-Error";
/// Header a dead-lettered message carries: the subject it was published to.
pub const ORIGINAL_SUBJECT_HEADER: &str = "Sluice-Original-Subject";

/// A plugin ready to run: its module, binding, limits, warm instances and counters.
pub struct Loaded {
    /// Its name.
    pub name: String,
    /// How it is bound.
    pub binding: Binding,
    /// The compiled component.
    pub module: Module,
    /// Size of the uploaded component in bytes.
    pub size: usize,
    /// When the component was uploaded, unix nanos.
    pub uploaded: i64,
    /// Counters, kept across binding changes and swaps of the same name.
    pub metrics: Arc<PluginMetrics>,
    limits: Limits,
    on_error: OnError,
    config: Vec<(String, String)>,
    pool: Mutex<Vec<Instance>>,
    /// Set once the plugin used a WASI stream (stdout, stderr): wasmtime-wasi serves those
    /// by blocking on the async runtime, which a runtime worker thread may not do, so this
    /// plugin's calls run in `block_in_place` from then on.
    needs_blocking: AtomicBool,
}

impl Loaded {
    /// Prepares a plugin: instantiates it once, which runs `init` with the binding's config,
    /// so a config the plugin refuses is reported before the plugin goes live.
    pub fn new(
        name: String,
        binding: Binding,
        module: Module,
        limits: Limits,
        size: usize,
        uploaded: i64,
        metrics: Arc<PluginMetrics>,
    ) -> Result<Loaded, CallError> {
        let config = binding.config_pairs();
        let first = module.instantiate(&name, &config, limits)?;
        Ok(Loaded {
            on_error: binding.on_error(),
            name,
            binding,
            module,
            size,
            uploaded,
            metrics,
            limits,
            config,
            pool: Mutex::new(vec![first]),
            needs_blocking: AtomicBool::new(false),
        })
    }

    /// Whether the plugin sees messages on `subject`.
    pub fn applies(&self, subject: &[u8]) -> bool {
        let system = subject.starts_with(b"$JS.") || subject.starts_with(b"$SYS.");
        self.binding
            .subjects
            .iter()
            .any(|p| subject_matches(p.as_bytes(), subject) && (!system || p.starts_with('$')))
    }

    /// Runs the plugin on one message with a pooled instance (a fresh one when none is idle,
    /// a poisoned one is dropped), counting the outcome.
    pub fn call(&self, ctx: &Context, msg: &PluginMessage) -> Result<Verdict, CallError> {
        self.guarded(|| self.call_here(ctx, msg))
    }

    /// Runs the plugin's `on-batch` on several messages in one call (the per-call cost of
    /// entering the sandbox is paid once). `None` when the batch call failed: the caller
    /// then runs the messages one by one, so a failure costs only the message that caused
    /// it, as with single calls. Outcomes are counted only for a successful batch.
    pub fn call_batch(&self, ctx: &Context, msgs: &[MessageView<'_>]) -> Option<Vec<Verdict>> {
        self.guarded(|| self.call_batch_here(ctx, msgs))
    }

    /// Makes a call where it can run: here, or where blocking is allowed once the plugin
    /// was seen to use a WASI stream. Such a call panics on a runtime worker ("cannot start
    /// a runtime from within a runtime"); wasmtime carries the panic out of the guest. The
    /// instance it was in is dropped with the unwinding stack, and the call is made again
    /// where blocking is allowed.
    fn guarded<T>(&self, call: impl Fn() -> T) -> T {
        if self.needs_blocking.load(Ordering::Relaxed) {
            return blocking(call);
        }
        match std::panic::catch_unwind(AssertUnwindSafe(&call)) {
            Ok(result) => result,
            Err(_) => {
                self.needs_blocking.store(true, Ordering::Relaxed);
                warn!(plugin = %self.name, "the plugin writes to stdout or stderr; its calls now run off the async workers");
                blocking(call)
            }
        }
    }

    fn call_batch_here(&self, ctx: &Context, msgs: &[MessageView<'_>]) -> Option<Vec<Verdict>> {
        let started = Instant::now();
        let mut instance = self.instance().ok()?;
        let result = instance.on_batch(ctx, msgs);
        self.give_back(instance);
        let verdicts = result.ok()?;
        let each = started.elapsed() / u32::try_from(msgs.len().max(1)).unwrap_or(u32::MAX);
        // Runs of equal outcomes (a whole batch of `pass`, typically) are counted at once.
        let mut run: Option<(Outcome, u64)> = None;
        for v in &verdicts {
            let outcome = outcome_of(&Ok(v));
            match &mut run {
                Some((o, n)) if *o == outcome => *n += 1,
                _ => {
                    if let Some((o, n)) = run.replace((outcome, 1)) {
                        self.metrics.record_many(o, n, each);
                    }
                }
            }
        }
        if let Some((o, n)) = run {
            self.metrics.record_many(o, n, each);
        }
        Some(verdicts)
    }

    fn call_here(&self, ctx: &Context, msg: &PluginMessage) -> Result<Verdict, CallError> {
        let started = Instant::now();
        let mut instance = match self.instance() {
            Ok(i) => i,
            Err(e) => {
                self.metrics.record(Outcome::Error, started.elapsed());
                return Err(e);
            }
        };
        let result = instance.on_message(ctx, msg);
        self.metrics
            .record(outcome_of(&result.as_ref()), started.elapsed());
        self.give_back(instance);
        result
    }

    /// A warm instance from the pool, or a fresh one.
    fn instance(&self) -> Result<Instance, CallError> {
        let pooled = self.pool.lock().pop();
        match pooled {
            Some(i) => Ok(i),
            None => self
                .module
                .instantiate(&self.name, &self.config, self.limits),
        }
    }

    /// Returns an instance to the pool unless a failure poisoned it.
    fn give_back(&self, instance: Instance) {
        if !instance.is_poisoned() {
            let mut pool = self.pool.lock();
            if pool.len() < POOL_MAX {
                pool.push(instance);
            }
        }
    }
}

fn outcome_of(result: &Result<&Verdict, &CallError>) -> Outcome {
    match result {
        Ok(Verdict::Pass) => Outcome::Pass,
        Ok(Verdict::Drop(_)) => Outcome::Drop,
        Ok(Verdict::Modify(_)) => Outcome::Modify,
        Ok(Verdict::Emit(_)) => Outcome::Emit,
        Ok(Verdict::Reject { .. }) => Outcome::Reject,
        Err(CallError::Trap(_)) => Outcome::Trap,
        Err(CallError::Deadline) => Outcome::Deadline,
        Err(CallError::Memory) => Outcome::Memory,
        Err(_) => Outcome::Error,
    }
}

/// Runs `f` where it may block on the async runtime: through `block_in_place` on a runtime
/// worker thread, directly anywhere else.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Why a publisher's message was refused, for protocols that can tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The plugin that refused it.
    pub plugin: String,
    /// Its reason.
    pub reason: String,
}

/// What the chain made of one message.
#[derive(Debug, Default)]
pub struct Processed {
    /// Messages to route, in order: almost always exactly one, kept inline.
    pub deliver: SmallVec<[Message; 1]>,
    /// Originals to publish on dead-letter subjects (routed without the chain).
    pub dead_letters: Vec<Message>,
    /// Set when a plugin rejected the message.
    pub rejected: Option<Rejection>,
}

/// What the chain did with a message.
pub enum Chained {
    /// No plugin applies: the message goes on as it was.
    Untouched(Message),
    /// Plugins ran: what to route, dead letters, a rejection.
    Processed(Processed),
}

/// The plugins in the order they run.
#[derive(Default)]
pub struct Chain {
    /// Sorted by `(order, name)`.
    pub plugins: Vec<Arc<Loaded>>,
}

impl Chain {
    /// A chain of `plugins`, put in running order.
    pub fn new(mut plugins: Vec<Arc<Loaded>>) -> Chain {
        plugins.sort_by(|a, b| (a.binding.order, &a.name).cmp(&(b.binding.order, &b.name)));
        Chain { plugins }
    }

    /// Runs the chain. A message no plugin applies to comes back untouched, so the common
    /// case costs one subject match per plugin and no copy.
    pub fn process(&self, ctx: &Context, msg: Message) -> Chained {
        if !self.plugins.iter().any(|p| p.applies(&msg.subject)) {
            return Chained::Untouched(msg);
        }
        let mut out = Processed::default();
        let mut current = vec![msg];
        for plugin in &self.plugins {
            let mut next = Vec::with_capacity(current.len());
            for m in current {
                if plugin.applies(&m.subject) {
                    run_one(plugin, ctx, m, &mut next, &mut out);
                } else {
                    next.push(m);
                }
            }
            current = next;
        }
        out.deliver = current.into();
        Chained::Processed(out)
    }
}

/// Most messages one `on-batch` call gets.
pub const MAX_BATCH: usize = 256;

impl Chain {
    /// Runs the chain on a batch of messages from one publisher, in order: each plugin gets
    /// the messages it applies to in one `on-batch` call. The result has one entry per
    /// input message, as [`Chain::process`] would have given for it alone.
    pub fn process_batch(&self, ctx: &Context, msgs: Vec<Message>) -> Vec<Chained> {
        let mut results = Vec::with_capacity(msgs.len());
        // The messages still in the chain, tagged with the input they came from, in order.
        let mut current: Vec<(usize, Message)> = Vec::with_capacity(msgs.len());
        for (i, m) in msgs.into_iter().enumerate() {
            if self.plugins.iter().any(|p| p.applies(&m.subject)) {
                results.push(Chained::Processed(Processed::default()));
                current.push((i, m));
            } else {
                results.push(Chained::Untouched(m));
            }
        }
        for plugin in &self.plugins {
            if current.is_empty() {
                break;
            }
            current = run_batch(plugin, ctx, current, &mut results);
        }
        for (i, m) in current {
            if let Some(Chained::Processed(out)) = results.get_mut(i) {
                out.deliver.push(m);
            }
        }
        results
    }
}

/// One plugin over the messages still in the chain: those it applies to go to it in
/// batches of at most [`MAX_BATCH`] (a failed batch is run again message by message), the
/// others pass by. What comes out takes the place its message had, tagged with the same
/// input, so the order per publisher is kept.
fn run_batch(
    plugin: &Loaded,
    ctx: &Context,
    current: Vec<(usize, Message)>,
    results: &mut [Chained],
) -> Vec<(usize, Message)> {
    let mut next = Vec::with_capacity(current.len());
    let mut produced = Vec::new();
    let mut rest = current.into_iter();
    loop {
        // A run of messages holding at most MAX_BATCH that the plugin applies to.
        let mut run: Vec<(usize, Message, bool)> = Vec::new();
        let mut applying = 0;
        while applying < MAX_BATCH {
            let Some((i, m)) = rest.next() else {
                break;
            };
            let applies = plugin.applies(&m.subject);
            applying += usize::from(applies);
            run.push((i, m, applies));
        }
        if run.is_empty() {
            return next;
        }
        let verdicts = if applying == 0 {
            None
        } else {
            let views: Vec<MessageView<'_>> = run
                .iter()
                .filter(|(_, _, applies)| *applies)
                .map(|(_, m, _)| view(m))
                .collect();
            // One verdict per message (checked by the host), or None: one by one.
            plugin.call_batch(ctx, &views)
        };
        let mut verdicts = verdicts.map(Vec::into_iter);
        for (i, m, applies) in run {
            let Some(Chained::Processed(out)) = results.get_mut(i).filter(|_| applies) else {
                next.push((i, m));
                continue;
            };
            match verdicts.as_mut().and_then(Iterator::next) {
                Some(v) => {
                    apply_verdict(&plugin.name, &plugin.on_error, Ok(v), m, &mut produced, out)
                }
                None => run_one(plugin, ctx, m, &mut produced, out),
            }
            next.extend(produced.drain(..).map(|m| (i, m)));
        }
    }
}

/// One plugin on one message: its verdict applied, or its binding's error policy.
fn run_one(
    plugin: &Loaded,
    ctx: &Context,
    m: Message,
    next: &mut Vec<Message>,
    out: &mut Processed,
) {
    let verdict = plugin.call(ctx, &to_plugin(&m));
    apply_verdict(&plugin.name, &plugin.on_error, verdict, m, next, out);
}

/// The verdict of plugin `name` on `m` applied: what goes on to `next`, or the binding's
/// error policy `on_error` (an edit or emitted message with an invalid subject or header is a
/// failure like a trap). Public so the `plugin_verdicts` fuzz target can drive it without a
/// WebAssembly component.
pub fn apply_verdict(
    name: &str,
    on_error: &OnError,
    verdict: Result<Verdict, CallError>,
    m: Message,
    next: &mut Vec<Message>,
    out: &mut Processed,
) {
    let failure = match verdict {
        Ok(Verdict::Pass) => {
            next.push(m);
            return;
        }
        Ok(Verdict::Drop(_)) => return,
        Ok(Verdict::Modify(edit)) => match apply_edit(m.clone(), edit) {
            Ok(edited) => {
                next.push(edited);
                return;
            }
            Err(e) => e,
        },
        Ok(Verdict::Emit(list)) => match list
            .into_iter()
            .map(from_plugin)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(msgs) => {
                next.extend(msgs);
                return;
            }
            Err(e) => e,
        },
        Ok(Verdict::Reject { reason, .. }) => {
            out.rejected = Some(Rejection {
                plugin: name.to_string(),
                reason: reason.clone(),
            });
            format!("rejected: {reason}")
        }
        Err(e) => e.to_string(),
    };
    match on_error {
        OnError::Drop => {}
        OnError::Pass => next.push(m),
        OnError::DeadLetter(subject) => out
            .dead_letters
            .push(dead_letter(m, subject, name, &failure)),
    }
}

/// The original message readdressed to the dead-letter subject, with why in its headers.
fn dead_letter(m: Message, subject: &str, plugin: &str, error: &str) -> Message {
    let mut pairs = m.headers.as_ref().map(header_pairs).unwrap_or_default();
    pairs.push((ERROR_HEADER.to_string(), format!("{plugin}: {error}")));
    pairs.push((
        ORIGINAL_SUBJECT_HEADER.to_string(),
        String::from_utf8_lossy(&m.subject).into_owned(),
    ));
    Message {
        subject: Bytes::copy_from_slice(subject.as_bytes()),
        reply: None,
        headers: header_block(&pairs),
        payload: m.payload,
    }
}
