//! Sluice's configuration: the runtime [`Config`] the server is built from and the TOML file
//! format that produces it.
//!
//! The file is deserialized into crate-private "file" structs (every field optional, every
//! table `deny_unknown_fields`); `cli` lays command-line flags over them; then one validation
//! pass turns the result into a [`Config`], collecting every problem, each naming its key, so
//! an operator fixes a broken file in one go. Defaults and limits follow nats-server
//! (`const.go`, `opts.go`): port 4222, 1 MiB payloads, 64 MiB pending, 2-minute pings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod api;
mod auth;
mod limits;
mod plugins;
mod tls;
mod upstream;
mod websocket;
pub use api::ApiConfig;
pub(crate) use auth::UserFile;
pub use auth::{
    AuthConfig, NkeyUserConfig, Permissions, ResponsePermission, SubjectRule, UserConfig,
};
pub use limits::RateLimit;
pub use plugins::{PluginsConfig, PreloadConfig, is_valid_on_error, is_valid_plugin_name};
pub use tls::TlsConfig;
pub use upstream::{UpstreamConfig, UpstreamTls};
pub use websocket::{WebSocketConfig, WebSocketListener};

const DEFAULT_HOST: &str = "0.0.0.0";
const DEFAULT_PORT: u16 = 4222;
/// nats-server's default `sync_interval` for file streams.
const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(120);
const DEFAULT_MAX_PAYLOAD: u64 = 1024 * 1024;
/// nats-server refuses a max_payload above max_pending, whose default is 64 MiB; we make that
/// a hard cap so a single message can never exceed a client's default outbound buffer.
pub(crate) const MAX_PAYLOAD_CAP: u64 = 64 * 1024 * 1024;
const DEFAULT_MAX_CONTROL_LINE: u64 = 4096;
const DEFAULT_MAX_PENDING: u64 = 64 * 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS: u64 = 64 * 1024;
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
const PING_INTERVAL: Duration = Duration::from_secs(120);
const DEFAULT_MAX_PINGS_OUT: u32 = 2;
const AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server's DEFAULT_LAME_DUCK_DURATION and DEFAULT_LAME_DUCK_GRACE_PERIOD.
const LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
const LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// nats-server's DEFAULT_ALLOW_RESPONSE_MAX_MSGS and DEFAULT_ALLOW_RESPONSE_EXPIRATION.
const RESPONSE_MAX: usize = 1;
const RESPONSE_EXPIRES: Duration = Duration::from_secs(120);

/// Everything the server needs to start, after defaults, the file and the flags were merged
/// and validated; the server never sees an invalid value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Name reported in INFO and monitoring; generated when not configured.
    pub server_name: String,
    /// The NATS client listener and its per-connection limits.
    pub nats: NatsConfig,
    /// The monitoring listener; `None` when monitoring is off (no `-m`, no `[monitor] port`).
    pub monitor: Option<MonitorConfig>,
    /// The NATS protocol over WebSocket.
    pub websocket: WebSocketConfig,
    /// The HTTP gateway API listener; `None` when turned off (`--api_port 0`).
    pub api: Option<ApiConfig>,
    /// JetStream persistence.
    pub jetstream: JetStreamConfig,
    /// Client authentication and authorization.
    pub auth: AuthConfig,
    /// WebAssembly plugins: storage, default limits, preloads.
    pub plugins: PluginsConfig,
    /// Upstream mode: the NATS cluster this gateway fronts; `None` runs everything embedded.
    pub upstream: Option<UpstreamConfig>,
    /// Log verbosity and files written at start-up.
    pub logging: LoggingConfig,
}

/// The NATS client listener and the limits applied to every client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// Address to bind.
    pub host: String,
    /// Port to bind; 0 asks the OS for a free port (`-p -1`).
    pub port: u16,
    /// Largest message payload accepted, advertised in INFO.
    pub max_payload: usize,
    /// Longest protocol control line before the client is disconnected.
    pub max_control_line: usize,
    /// Outbound bytes buffered per client before it is a slow consumer.
    pub max_pending: usize,
    /// Concurrent client connections accepted.
    pub max_connections: usize,
    /// Subscriptions per connection; 0 means unlimited.
    pub max_subscriptions: usize,
    /// How long a write to a client may block before it is a slow consumer.
    pub write_deadline: Duration,
    /// Interval between server PINGs to each client.
    pub ping_interval: Duration,
    /// Unanswered PINGs after which the connection is stale.
    pub max_pings_out: u32,
    /// Time a client has to send CONNECT when auth is required.
    pub auth_timeout: Duration,
    /// Lame duck mode (SIGUSR2): how long closing every client may take in all.
    pub lame_duck_duration: Duration,
    /// Lame duck mode: how long clients get to leave by themselves before the server starts
    /// closing them.
    pub lame_duck_grace_period: Duration,
    /// Never make publishers wait for subscribers whose backlog is high (nats-server's
    /// `no_fast_producer_stall`): such subscribers then reach `max_pending` sooner.
    pub no_fast_producer_stall: bool,
    /// TLS on the client port (`[nats.tls]`, `--tls`); `None` serves plain TCP.
    pub tls: Option<TlsConfig>,
}

/// The monitoring HTTP listener (`/varz`, `/healthz`, ...), kept apart from public ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Address to bind; defaults to the NATS host, as nats-server does.
    pub host: String,
    /// Port to bind; 0 asks the OS for a free port (`-m -1`).
    pub port: u16,
    /// HTTPS (`[monitor.tls]`); plain HTTP when `None`.
    pub tls: Option<TlsConfig>,
}

/// Whether JetStream runs and where it keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// Serve the `$JS.API` and capture subjects into streams.
    pub enabled: bool,
    /// Directory for stream data.
    pub store_dir: PathBuf,
    /// When file streams fsync: `None` syncs every write before the publisher is acked
    /// (`sync_interval = "always"`), `Some(d)` in the background every `d` (default 2 min,
    /// as nats-server). Either way an acked message has been written to the OS, so it
    /// survives a crash of the process.
    pub sync_interval: Option<Duration>,
}

/// Log verbosity and files written at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoggingConfig {
    /// Debug-level logging (`-D`).
    pub debug: bool,
    /// Protocol tracing (`-V`).
    pub trace: bool,
    /// File to write the process id to (`-P`).
    pub pid_file: Option<PathBuf>,
    /// File to log to instead of stderr (`-l`).
    pub log_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        // One source of truth for defaults: an empty file, resolved.
        FileConfig::default().resolve().0
    }
}

/// Why a configuration could not be built; `Display` is always one line, ready to be printed
/// after `error: ` by the binary, which then exits 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line is malformed (unknown flag, bad value, missing value...).
    #[error("{}", .0.join("; "))]
    Usage(Vec<String>),
    /// The config file could not be read.
    #[error("config file \"{}\": {error}", path.display())]
    Io {
        /// The file named by `-c`.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The config file is not valid TOML or does not fit the schema (unknown key, bad type...).
    #[error("{}: {message}", origin(path.as_deref()))]
    Parse {
        /// The file, or `None` when parsing a string.
        path: Option<PathBuf>,
        /// Position and problem, on one line.
        message: String,
    },
    /// The merged configuration breaks one or more rules; each entry names its key.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

fn origin(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("config file \"{}\"", p.display()),
        None => "config".to_string(),
    }
}

impl Config {
    /// Builds a config from TOML text (defaults for what it leaves out), for tests and
    /// embedders that keep their configuration elsewhere.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        FileConfig::parse(s, None)?.build()
    }

    /// Loads and validates a config file, as `-c` does without any other flag.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        FileConfig::read(path)?.build()
    }
}

fn generated_server_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded randomly per process; mixing in the time and pid keeps names
    // distinct across calls and processes without pulling in a RNG crate.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("sluice-{:012x}", h.finish() & 0xffff_ffff_ffff)
}

fn default_store_dir() -> PathBuf {
    std::env::temp_dir().join("sluice")
}

// ---------------------------------------------------------------------------------------------
// The file format: every field optional so "absent" differs from "default" and flags can be
// laid over it (see `cli`).

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) server_name: Option<String>,
    pub(crate) nats: NatsFile,
    pub(crate) monitor: MonitorFile,
    pub(crate) websocket: websocket::WebSocketFile,
    pub(crate) plugins: plugins::PluginsFile,
    pub(crate) upstream: upstream::UpstreamFile,
    pub(crate) api: api::ApiFile,
    pub(crate) jetstream: JetStreamFile,
    pub(crate) auth: auth::AuthFile,
    pub(crate) logging: LoggingFile,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NatsFile {
    pub(crate) host: Option<String>,
    pub(crate) port: Option<i64>,
    pub(crate) max_payload: Option<SizeFile>,
    max_control_line: Option<SizeFile>,
    max_pending: Option<SizeFile>,
    max_connections: Option<u64>,
    max_subscriptions: Option<u64>,
    write_deadline: Option<DurationFile>,
    ping_interval: Option<DurationFile>,
    max_pings_out: Option<u32>,
    auth_timeout: Option<DurationFile>,
    lame_duck_duration: Option<DurationFile>,
    lame_duck_grace_period: Option<DurationFile>,
    no_fast_producer_stall: Option<bool>,
    pub(crate) tls: tls::TlsFile,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MonitorFile {
    host: Option<String>,
    pub(crate) port: Option<i64>,
    tls: tls::TlsFile,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct JetStreamFile {
    pub(crate) enabled: Option<bool>,
    pub(crate) store_dir: Option<PathBuf>,
    sync_interval: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LoggingFile {
    pub(crate) debug: Option<bool>,
    pub(crate) trace: Option<bool>,
    pub(crate) pid_file: Option<PathBuf>,
    pub(crate) log_file: Option<PathBuf>,
}

/// A byte count: integer bytes or a string with a unit, parsed during validation so the
/// error names its key.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "invalid size: expected integer bytes or a string like \"64KiB\" or \"1MB\""
)]
pub(crate) enum SizeFile {
    Bytes(u64),
    Text(String),
}

/// A duration: integer seconds or a humantime string ("10s", "2m", "1h 30m").
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "invalid duration: expected integer seconds or a string like \"10s\""
)]
pub(crate) enum DurationFile {
    Secs(u64),
    Text(String),
}

/// Parses a byte size with nats-server's units: K/M/G/T are powers of 1000, KB/KiB/Ki (and
/// so on) powers of 1024, case-insensitive, so "1MB" = 1048576.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let bad = || format!("invalid size \"{s}\": expected bytes with an optional unit like \"1MB\"");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" | "ki" | "kib" => 1 << 10,
        "m" => 1_000_000,
        "mb" | "mi" | "mib" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" | "gi" | "gib" => 1 << 30,
        "t" => 1_000_000_000_000,
        "tb" | "ti" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size \"{s}\": too large"))
}

impl FileConfig {
    /// Reads and parses the file named by `-c`.
    pub(crate) fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        FileConfig::parse(&text, Some(path))
    }

    fn parse(text: &str, path: Option<&Path>) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| {
            // toml's Display is a multi-line snippet; we want "line L, column C: message".
            let mut message = e.message().replace('\n', " ");
            if let Some(before) = e.span().and_then(|s| text.get(..s.start)) {
                let line = before.matches('\n').count() + 1;
                let here = before.rsplit('\n').next().unwrap_or_default();
                let column = here.chars().count() + 1;
                // Type errors point at the value; name its key, e.g. "nats.port".
                if let Some((key, _)) = here.split_once('=') {
                    let header = before
                        .lines()
                        .rev()
                        .map(str::trim)
                        .find(|l| l.starts_with('['));
                    let table = header.and_then(|h| h.trim_start_matches('[').split(']').next());
                    let key = key.trim();
                    let key = table.map_or(key.to_string(), |t| format!("{}.{key}", t.trim()));
                    message = format!("{key}: {message}");
                }
                message = format!("line {line}, column {column}: {message}");
            }
            ConfigError::Parse {
                path: path.map(Path::to_path_buf),
                message,
            }
        })
    }

    /// Applies defaults and validates, reporting every problem at once.
    pub(crate) fn build(self) -> Result<Config, ConfigError> {
        let (config, problems) = self.resolve();
        if problems.0.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems.0))
        }
    }

    /// Fills in defaults, noting what is invalid instead of stopping at the first problem.
    fn resolve(self) -> (Config, Problems) {
        let mut p = Problems::default();
        let server_name = self.server_name.unwrap_or_else(generated_server_name);
        if server_name.is_empty() || server_name.contains(char::is_whitespace) {
            p.add("server_name", "must not be empty or contain spaces");
        }
        let nats = build_nats(&mut p, self.nats);
        let mon = self.monitor;
        if let Some(host) = &mon.host {
            p.host("monitor.host", host);
        }
        // Like nats-server's http_port: 0 leaves monitoring off, and the monitor binds to the
        // client host unless told otherwise.
        let monitor = match mon.port {
            None | Some(0) => None,
            Some(n) => p.port("monitor.port", n).map(|port| MonitorConfig {
                tls: tls::build(&mut p, "monitor.tls", mon.tls),
                host: mon.host.unwrap_or_else(|| nats.host.clone()),
                port,
            }),
        };
        let websocket = websocket::build(&mut p, self.websocket, &nats);
        let plugins = plugins::build(&mut p, self.plugins);
        let upstream = upstream::build(&mut p, self.upstream, &server_name);
        let api = api::build(&mut p, self.api, &nats.host);
        let store_dir = self.jetstream.store_dir.unwrap_or_else(default_store_dir);
        if store_dir.as_os_str().is_empty() {
            p.add("jetstream.store_dir", "must not be empty");
        }
        let sync_interval = match self.jetstream.sync_interval.as_deref() {
            None => Some(DEFAULT_SYNC_INTERVAL),
            Some("always") => None,
            Some(text) => match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => Some(d),
                _ => {
                    p.add(
                        "jetstream.sync_interval",
                        "must be \"always\" or a duration such as \"2m\" or \"500ms\"",
                    );
                    None
                }
            },
        };
        let jetstream = JetStreamConfig {
            enabled: self.jetstream.enabled.unwrap_or(false),
            store_dir,
            sync_interval,
        };
        if upstream.is_some() && jetstream.enabled {
            p.add(
                "jetstream.enabled",
                "JetStream is the upstream cluster's in upstream mode; turn one of them off",
            );
        }
        let certificate_users = nats.tls.as_ref().is_some_and(|t| t.verify_and_map);
        let auth = auth::build(&mut p, self.auth, certificate_users);
        let log = self.logging;
        let logging = LoggingConfig {
            debug: log.debug.unwrap_or(false),
            trace: log.trace.unwrap_or(false),
            pid_file: log.pid_file,
            log_file: log.log_file,
        };
        let config = Config {
            server_name,
            nats,
            monitor,
            websocket,
            plugins,
            upstream,
            api,
            jetstream,
            auth,
            logging,
        };
        (config, p)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers.

/// Problems found so far; each reads "key: what is wrong".
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    pub(crate) fn add(&mut self, key: &str, msg: impl fmt::Display) {
        self.0.push(format!("{key}: {msg}"));
    }

    pub(crate) fn host(&mut self, key: &str, host: &str) {
        if host.is_empty() || host.contains(char::is_whitespace) {
            self.add(key, "must not be empty or contain whitespace");
        }
    }

    /// nats-server's -1 asks for a random port, stored as 0; callers handle 0 themselves.
    pub(crate) fn port(&mut self, key: &str, n: i64) -> Option<u16> {
        match n {
            -1 => Some(0),
            _ => u16::try_from(n).ok().filter(|p| *p > 0).or_else(|| {
                self.add(key, "must be -1..=65535");
                None
            }),
        }
    }

    /// A string that must be present and non-empty; "" stands in for it when it is not.
    fn required(&mut self, key: &str, v: Option<String>) -> String {
        match v {
            None => self.add(key, "required"),
            Some(ref s) if s.is_empty() => self.add(key, "must not be empty"),
            Some(_) => {}
        }
        v.unwrap_or_default()
    }

    fn nonzero<T: Default + PartialEq>(&mut self, key: &str, v: T) -> T {
        if v == T::default() {
            self.add(key, "must be greater than 0");
        }
        v
    }

    fn size(&mut self, key: &str, v: Option<SizeFile>, default: u64) -> u64 {
        let v = match v {
            None => default,
            Some(SizeFile::Bytes(n)) => n,
            Some(SizeFile::Text(t)) => parse_size(&t).unwrap_or_else(|e| {
                self.add(key, e);
                default
            }),
        };
        self.nonzero(key, v)
    }

    fn duration(&mut self, key: &str, v: Option<DurationFile>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(DurationFile::Secs(n)) => Duration::from_secs(n),
            Some(DurationFile::Text(t)) => {
                humantime::parse_duration(t.trim()).unwrap_or_else(|e| {
                    self.add(key, format!("invalid duration \"{t}\": {e}"));
                    default
                })
            }
        }
    }

    fn positive(&mut self, key: &str, v: Option<DurationFile>, default: Duration) -> Duration {
        let v = self.duration(key, v, default);
        self.nonzero(key, v)
    }
}

/// Limits are capped far below usize::MAX, so saturating on 32-bit targets loses nothing.
fn us(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn build_nats(p: &mut Problems, n: NatsFile) -> NatsConfig {
    let host = n.host.unwrap_or_else(|| DEFAULT_HOST.to_string());
    p.host("nats.host", &host);
    // Like nats-server, port 0 means "the default" and -1 "any free port".
    let port = match n.port {
        None | Some(0) => DEFAULT_PORT,
        Some(v) => p.port("nats.port", v).unwrap_or(DEFAULT_PORT),
    };
    let max_pending = p.size("nats.max_pending", n.max_pending, DEFAULT_MAX_PENDING);
    let max_payload = p.size("nats.max_payload", n.max_payload, DEFAULT_MAX_PAYLOAD);
    if max_payload > MAX_PAYLOAD_CAP {
        let msg = format!("must be at most {MAX_PAYLOAD_CAP} (64 MiB)");
        p.add("nats.max_payload", msg);
    } else if max_pending > 0 && max_payload > max_pending {
        let msg = format!("must not exceed nats.max_pending ({max_pending})");
        p.add("nats.max_payload", msg);
    }
    let max_control_line = p.size(
        "nats.max_control_line",
        n.max_control_line,
        DEFAULT_MAX_CONTROL_LINE,
    );
    let max_connections = n.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let max_pings_out = n.max_pings_out.unwrap_or(DEFAULT_MAX_PINGS_OUT);
    let lame_duck_duration = p.positive(
        "nats.lame_duck_duration",
        n.lame_duck_duration,
        LAME_DUCK_DURATION,
    );
    let lame_duck_grace_period = p.positive(
        "nats.lame_duck_grace_period",
        n.lame_duck_grace_period,
        LAME_DUCK_GRACE_PERIOD,
    );
    if lame_duck_grace_period >= lame_duck_duration {
        p.add(
            "nats.lame_duck_grace_period",
            "must be shorter than nats.lame_duck_duration",
        );
    }
    NatsConfig {
        host,
        port,
        max_payload: us(max_payload),
        max_control_line: us(max_control_line),
        max_pending: us(max_pending),
        max_connections: us(p.nonzero("nats.max_connections", max_connections)),
        max_subscriptions: us(n.max_subscriptions.unwrap_or(0)),
        write_deadline: p.positive("nats.write_deadline", n.write_deadline, WRITE_DEADLINE),
        ping_interval: p.positive("nats.ping_interval", n.ping_interval, PING_INTERVAL),
        max_pings_out: p.nonzero("nats.max_pings_out", max_pings_out),
        auth_timeout: p.positive("nats.auth_timeout", n.auth_timeout, AUTH_TIMEOUT),
        lame_duck_duration,
        lame_duck_grace_period,
        no_fast_producer_stall: n.no_fast_producer_stall.unwrap_or(false),
        tls: tls::build(p, "nats.tls", n.tls),
    }
}

#[cfg(test)]
mod tests;
