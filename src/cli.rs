//! The command line: `sluice [serve] [FLAGS]`, parsed the way nats-server parses its flags so
//! tools and test harnesses that launch nats-server can launch sluice unchanged.
//!
//! Go's `flag` package accepts every flag with one or two dashes (`-port`, `--port`), values
//! as `-p v` or `-p=v`, and takes the next argument as a value even when it starts with a
//! dash (`-p -1`). clap does not, so argv is first normalized: every accepted spelling of a
//! `serve` flag becomes `--long=value`, then clap parses it (and renders `--help`). The flags
//! are laid over the `-c` file (flags win) and the result is validated by `config`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::{
    Config, ConfigError, FileConfig, MAX_PAYLOAD_CAP, SizeFile, UserFile, parse_size,
};

/// What the binary should do, decided from argv.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per process; boxing Config would only complicate matching"
)]
pub enum Command {
    /// Run the broker with this configuration.
    Serve(Config),
    /// `--help` was asked for: print this text to stdout and exit 0.
    Help(String),
    /// `--version` was asked for: print this text to stdout and exit 0.
    Version(String),
    /// `sluice plugin ...`: manage the plugins of a running server through its API.
    Plugin(PluginCommand),
    /// `--signal <signal>=<pid>`: send a running server a signal (nats-server's `--signal`):
    /// `reload`, `ldm`, `quit`, `term` or `stop`; `pid` is a process id or a pid file.
    Signal {
        /// The command (`reload`, ...).
        signal: String,
        /// The process id, or the pid file to read it from.
        pid: String,
    },
}

/// `sluice plugin` subcommands; each is one request to a running server's `/v1/plugins`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum PluginCommand {
    /// Upload a plugin, or replace the one with this name
    Put {
        /// Plugin name (letters, digits, '-', '_')
        name: String,
        /// The component (.wasm) to upload
        file: PathBuf,
        /// Subject patterns it sees, comma-separated (e.g. 'orders.>')
        #[arg(long, value_delimiter = ',', required = true)]
        subjects: Vec<String>,
        /// Position in the chain, lower runs first [default: 0]
        #[arg(long, allow_hyphen_values = true)]
        order: Option<i32>,
        /// A config pair for the plugin's init; repeat for more
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// drop, pass or dead-letter:<subject> [default: drop]
        #[arg(long)]
        on_error: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List plugins with their bindings and counters
    Ls {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove a plugin
    Rm {
        /// Plugin name
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run a plugin on one message and print the verdict (nothing is published)
    Test {
        /// Plugin name
        name: String,
        /// Subject of the test message
        #[arg(long)]
        subject: String,
        /// Payload of the test message
        #[arg(long, default_value = "")]
        data: String,
        /// A header NAME:VALUE; repeat for more
        #[arg(long = "header", value_name = "NAME:VALUE")]
        headers: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Where the server's API is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ApiArgs {
    /// Base URL of the server's HTTP API
    #[arg(long, env = "SLUICE_API", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// Token (with token auth)
    #[arg(long, env = "SLUICE_TOKEN")]
    pub token: Option<String>,
    /// User name of an admin user
    #[arg(long, env = "SLUICE_USER")]
    pub user: Option<String>,
    /// Password of that user
    #[arg(long, env = "SLUICE_PASS")]
    pub pass: Option<String>,
}

/// Parses argv (including argv[0]), loads the `-c` file if given, applies flags over it and
/// validates; the binary prints an `Err` as `error: {err}` and exits 1.
pub fn parse_args<I, T>(args: I) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv = normalize(args.into_iter().map(Into::into).collect())?;
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Command::Help(e.to_string()))
                }
                ErrorKind::DisplayVersion => Ok(Command::Version(e.to_string())),
                _ => Err(usage(first_line(&e.to_string()))),
            };
        }
    };
    let args = match cli.command {
        Some(Sub::Serve(args)) => args,
        Some(Sub::Plugin(cmd)) => return Ok(Command::Plugin(cmd)),
        None => cli.serve,
    };
    if let Some(signal) = &args.signal {
        return match signal.split_once('=') {
            Some((signal, pid)) if !pid.is_empty() => Ok(Command::Signal {
                signal: signal.to_string(),
                pid: pid.to_string(),
            }),
            _ => Err(usage(format!(
                "invalid value '{signal}' for --signal: expected <signal>=<pid or pid file>"
            ))),
        };
    }
    serve(args).map(Command::Serve)
}

fn usage(msg: impl Into<String>) -> ConfigError {
    ConfigError::Usage(vec![msg.into()])
}

/// clap's errors carry tips and usage on later lines; we promise one line.
fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

// ---------------------------------------------------------------------------------------------
// Go-style normalization.

/// One `serve` flag: every spelling nats-server accepts, and clap's canonical long name.
struct Flag {
    long: &'static str,
    names: &'static [&'static str],
    takes_value: bool,
}

const fn flag(long: &'static str, names: &'static [&'static str], takes_value: bool) -> Flag {
    Flag {
        long,
        names,
        takes_value,
    }
}

/// nats-server's spellings (opts.go, ConfigureOptions); names are case-sensitive, as in Go:
/// `-V` is trace and `-v` version. `-VV` and `-DVV` (verbose trace) map to `-V` and `-DV`.
const FLAGS: &[Flag] = &[
    flag("port", &["p", "port"], true),
    flag("addr", &["a", "addr", "net"], true),
    flag("http_port", &["m", "http_port"], true),
    flag("api_port", &["api_port"], true),
    flag("config", &["c", "config"], true),
    flag("jetstream", &["js", "jetstream"], false),
    flag("store_dir", &["sd", "store_dir"], true),
    flag("server_name", &["n", "server_name", "name"], true),
    flag("user", &["user"], true),
    flag("pass", &["pass"], true),
    flag("auth", &["auth"], true),
    flag("debug", &["D", "debug"], false),
    flag("trace", &["V", "trace", "VV"], false),
    flag("DV", &["DV", "DVV"], false),
    flag("pid", &["P", "pid"], true),
    flag("signal", &["sl", "signal"], true),
    flag("log", &["l", "log"], true),
    flag("max_payload", &["max_payload"], true),
    flag("upstream", &["upstream"], true),
    flag("tls", &["tls"], false),
    flag("tlscert", &["tlscert"], true),
    flag("tlskey", &["tlskey"], true),
    flag("tlsverify", &["tlsverify"], false),
    flag("tlscacert", &["tlscacert"], true),
    flag("help", &["h", "help"], false),
    flag("version", &["v", "version"], false),
];

/// Rewrites Go-style `serve` flags to `--long=value` so clap sees one unambiguous form.
fn normalize(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    out.extend(it.next()); // argv[0]
    let mut it = it.peekable();
    match it.peek().and_then(|a| a.to_str()) {
        Some("serve") => out.extend(it.next()),
        // Another subcommand (none yet): its arguments are clap's business, not Go's.
        Some(a) if !a.starts_with('-') => {
            out.extend(it);
            return Ok(out);
        }
        _ => {}
    }
    while let Some(arg) = it.next() {
        // Non-UTF-8 or positional arguments go through untouched; clap reports them.
        let Some(s) = arg.to_str().filter(|s| s.starts_with('-') && s.len() > 1) else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            out.push(arg);
            out.extend(it);
            break;
        }
        let dashes = if s.starts_with("--") { "--" } else { "-" };
        let body = &s[dashes.len()..];
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        if name.is_empty() || name.starts_with('-') {
            return Err(usage(format!("bad flag syntax: {s}")));
        }
        let Some(flag) = FLAGS.iter().find(|f| f.names.contains(&name)) else {
            return Err(usage(format!("unknown flag '{dashes}{name}'")));
        };
        let mut long = OsString::from(format!("--{}", flag.long));
        if flag.takes_value {
            // Like Go, the next argument is the value even if it starts with '-'.
            let value = match inline {
                Some(v) => OsString::from(v),
                None => it
                    .next()
                    .ok_or_else(|| usage(format!("missing value for --{}", flag.long)))?,
            };
            long.push("=");
            long.push(value);
        } else if let Some(v) = inline.filter(|_| !matches!(flag.long, "help" | "version")) {
            long.push("=");
            long.push(v);
        }
        out.push(long);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// clap's view: canonical long names only (normalize always passes values after '='), kept as
// strings so that value errors are ours and fit on one line.

const AFTER_HELP: &str = "\
Flags follow nats-server and Go conventions: one or two dashes (-port, --port), values as \
'-p 4222' or '-p=4222', booleans as '-js' or '-js=false'. Flags override the config file.";

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "A NATS-compatible broker and gateway.",
    after_help = AFTER_HELP,
    disable_version_flag = true,
    propagate_version = true,
    args_conflicts_with_subcommands = true,
    args_override_self = true,
    color = clap::ColorChoice::Never
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at start-up; boxing would only add noise"
)]
enum Sub {
    /// Run the broker (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Manage the plugins of a running server (put, ls, rm, test)
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Port for client connections; -1 picks a free port [default: 4222]
    #[arg(short = 'p', long, value_name = "PORT")]
    port: Option<String>,
    /// Host to listen on [default: 0.0.0.0]
    #[arg(short = 'a', long, visible_alias = "net", value_name = "HOST")]
    addr: Option<String>,
    /// Monitoring port (/varz, /healthz...); -1 picks a free port, 0 turns monitoring off
    #[arg(short = 'm', long = "http_port", value_name = "PORT")]
    http_port: Option<String>,
    /// Gateway API port (HTTP publish, request, SSE); -1 picks a free port, 0 turns it off [default: 8080]
    #[arg(long = "api_port", value_name = "PORT")]
    api_port: Option<String>,
    /// TOML configuration file
    #[arg(short = 'c', long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Enable JetStream
    #[arg(long, visible_alias = "js", value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    jetstream: Option<String>,
    /// JetStream storage directory
    #[arg(long = "store_dir", visible_alias = "sd", value_name = "DIR")]
    store_dir: Option<PathBuf>,
    /// Server name [default: generated]
    #[arg(
        short = 'n',
        long = "server_name",
        visible_alias = "name",
        value_name = "NAME"
    )]
    server_name: Option<String>,
    /// Username required for connections (needs --pass)
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Password required for connections (needs --user)
    #[arg(long, value_name = "PASSWORD")]
    pass: Option<String>,
    /// Authorization token required for connections
    #[arg(long, value_name = "TOKEN")]
    auth: Option<String>,
    /// Enable debug logging
    #[arg(short = 'D', long, value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    debug: Option<String>,
    /// Enable protocol trace logging
    #[arg(short = 'V', long, value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    trace: Option<String>,
    /// Enable debug and trace logging (-DV)
    #[arg(long = "DV", value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    debug_and_trace: Option<String>,
    /// File to write the process id to
    #[arg(short = 'P', long, value_name = "FILE")]
    pid: Option<PathBuf>,
    /// Send a running server a signal: reload, ldm, quit, term or stop, with its pid or pid file (e.g. reload=1234)
    #[arg(long, visible_alias = "sl", value_name = "SIGNAL=PID")]
    signal: Option<String>,
    /// File to write the log to
    #[arg(short = 'l', long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Maximum message payload, in bytes or with a unit (1MB, 64KiB) [default: 1MB]
    #[arg(long = "max_payload", value_name = "BYTES")]
    max_payload: Option<String>,
    /// Enable TLS on the client port (needs --tlscert and --tlskey)
    #[arg(long, value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls: Option<String>,
    /// Server certificate chain (PEM)
    #[arg(long, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// Server private key (PEM)
    #[arg(long, value_name = "FILE")]
    tlskey: Option<PathBuf>,
    /// Require and verify client certificates (mutual TLS; implies --tls)
    #[arg(long, value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tlsverify: Option<String>,
    /// CA bundle (PEM) to verify client certificates with
    #[arg(long, value_name = "FILE")]
    tlscacert: Option<PathBuf>,
    /// Upstream mode: run as a gateway in front of these NATS servers (comma-separated URLs)
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    upstream: Option<Vec<String>>,
    /// Print version information
    #[arg(short = 'v', long, action = ArgAction::Version)]
    version: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// From flags to a Config.

fn serve(args: ServeArgs) -> Result<Config, ConfigError> {
    merge(args)?.build()
}

/// The configuration a reload (SIGHUP) applies: `args`, the command line the server was
/// started with, parsed again, so the `-c` file is read anew and the same flags still
/// override it. When neither names the server it keeps `server_name` (the name generated at
/// start). Without a `-c` file there is nothing to reload, as with nats-server.
pub fn reload_config<I, T>(args: I, server_name: &str) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv = normalize(args.into_iter().map(Into::into).collect())?;
    let cli = Cli::try_parse_from(argv).map_err(|e| usage(first_line(&e.to_string())))?;
    let args = match cli.command {
        Some(Sub::Serve(args)) => args,
        Some(Sub::Plugin(_)) => return Err(usage("not a server command line")),
        None => cli.serve,
    };
    if args.config.is_none() {
        return Err(usage(
            "can only reload config when a file is provided using -c or --config",
        ));
    }
    let mut file = merge(args)?;
    file.server_name
        .get_or_insert_with(|| server_name.to_string());
    file.build()
}

/// Lays the flags over the `-c` file (flags win), before validation.
fn merge(args: ServeArgs) -> Result<FileConfig, ConfigError> {
    let mut errs = Vec::new();
    let port = args.port.map(|v| port_flag(&mut errs, "--port", &v));
    let http_port = args
        .http_port
        .map(|v| port_flag(&mut errs, "--http_port", &v));
    let api_port = args
        .api_port
        .map(|v| port_flag(&mut errs, "--api_port", &v));
    let max_payload = args.max_payload.map(|v| match parse_size(&v) {
        Ok(n) if n > 0 && n <= MAX_PAYLOAD_CAP => n,
        _ => {
            errs.push(invalid(
                &v,
                "--max_payload",
                "expected 1 byte to 64MiB, like 1MB",
            ));
            0
        }
    });
    let jetstream = args
        .jetstream
        .map(|v| bool_flag(&mut errs, "--jetstream", &v));
    let tls = args.tls.map(|v| bool_flag(&mut errs, "--tls", &v));
    let tlsverify = args
        .tlsverify
        .map(|v| bool_flag(&mut errs, "--tlsverify", &v));
    let debug = args.debug.map(|v| bool_flag(&mut errs, "--debug", &v));
    let trace = args.trace.map(|v| bool_flag(&mut errs, "--trace", &v));
    let both = args
        .debug_and_trace
        .map(|v| bool_flag(&mut errs, "--DV", &v));
    for (name, value) in [
        ("--user", &args.user),
        ("--pass", &args.pass),
        ("--auth", &args.auth),
        ("--server_name", &args.server_name),
        ("--addr", &args.addr),
    ] {
        if value.as_deref() == Some("") {
            errs.push(invalid("", name, "must not be empty"));
        }
    }
    match (&args.user, &args.pass, &args.auth) {
        (Some(_), None, _) => errs.push("--user requires --pass".to_string()),
        (None, Some(_), _) => errs.push("--pass requires --user".to_string()),
        (Some(_), Some(_), Some(_)) => {
            errs.push("--auth cannot be combined with --user/--pass".to_string());
        }
        _ => {}
    }
    if !errs.is_empty() {
        return Err(ConfigError::Usage(errs));
    }

    let mut file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    set(&mut file.server_name, args.server_name);
    set(&mut file.nats.host, args.addr);
    set(&mut file.nats.port, port);
    set(&mut file.nats.max_payload, max_payload.map(SizeFile::Bytes));
    set(&mut file.monitor.port, http_port);
    set(&mut file.api.port, api_port);
    set(&mut file.jetstream.enabled, jetstream);
    set(&mut file.jetstream.store_dir, args.store_dir);
    set(&mut file.nats.tls.enabled, tls);
    set(&mut file.nats.tls.cert_file, args.tlscert);
    set(&mut file.nats.tls.key_file, args.tlskey);
    set(&mut file.nats.tls.verify, tlsverify);
    set(&mut file.nats.tls.ca_file, args.tlscacert);
    if let Some(servers) = args.upstream {
        file.upstream.servers = servers.into_iter().filter(|s| !s.is_empty()).collect();
    }
    set(&mut file.logging.debug, debug);
    set(&mut file.logging.trace, trace);
    if both == Some(true) {
        file.logging.debug = Some(true);
        file.logging.trace = Some(true);
    }
    set(&mut file.logging.pid_file, args.pid);
    set(&mut file.logging.log_file, args.log);
    // Credentials on the command line replace the file's, whichever kind it had.
    if let (Some(user), Some(password)) = (args.user, args.pass) {
        file.auth.token = None;
        file.auth.users = vec![UserFile {
            user: Some(user),
            password: Some(password),
            nkey: None,
            permissions: None,
            // The one user of the command line is the operator.
            admin: Some(true),
        }];
    } else if let Some(token) = args.auth {
        file.auth.token = Some(token);
        file.auth.users.clear();
    }
    Ok(file)
}

fn set<T>(slot: &mut Option<T>, flag: Option<T>) {
    if flag.is_some() {
        *slot = flag;
    }
}

fn invalid(value: &str, flag: &str, expected: &str) -> String {
    format!("invalid value '{value}' for {flag}: {expected}")
}

fn port_flag(errs: &mut Vec<String>, flag: &str, v: &str) -> i64 {
    match v.parse::<i64>() {
        Ok(n) if (-1..=65535).contains(&n) => n,
        _ => {
            errs.push(invalid(v, flag, "expected an integer from -1 to 65535"));
            0
        }
    }
}

/// Go's strconv.ParseBool, which nats-server's boolean flags use.
fn bool_flag(errs: &mut Vec<String>, flag: &str, v: &str) -> bool {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
        "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
        _ => {
            errs.push(invalid(v, flag, "expected true or false"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use std::time::Duration;

    const HASH: &str = "$2a$11$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234";
    const SECS: fn(u64) -> Duration = Duration::from_secs;

    fn rule(allow: &[&str], deny: &[&str]) -> SubjectRule {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        SubjectRule {
            allow: strings(allow),
            deny: strings(deny),
        }
    }

    fn run(args: &[&str]) -> Result<Command, ConfigError> {
        parse_args(std::iter::once("sluice").chain(args.iter().copied()))
    }

    fn serve(args: &[&str]) -> Config {
        match run(args) {
            Ok(Command::Serve(c)) => c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn fail(args: &[&str]) -> String {
        let e = run(args).err().map(|e| e.to_string());
        let e = e.unwrap_or_else(|| panic!("{args:?} should fail"));
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    /// Runs `check` on every Go-style spelling: -name v, -name=v, --name v, --name=v.
    fn each_spelling(names: &[&str], value: &str, check: impl Fn(&Config)) {
        for name in names {
            for dashes in ["-", "--"] {
                let flag = format!("{dashes}{name}");
                check(&serve(&[&flag, value]));
                check(&serve(&[&format!("{flag}={value}")]));
            }
        }
    }

    /// Same for boolean flags: -name, --name, -name=true; and -name=false turns it off.
    fn each_bool(names: &[&str], get: impl Fn(&Config) -> bool) {
        for name in names {
            for dashes in ["-", "--"] {
                let flag = format!("{dashes}{name}");
                assert!(get(&serve(&[&flag])), "{flag}");
                assert!(get(&serve(&[&format!("{flag}=true")])), "{flag}=true");
                assert!(!get(&serve(&[&format!("{flag}=false")])), "{flag}=false");
            }
        }
    }

    #[test]
    #[rustfmt::skip]
    fn every_value_flag_in_every_spelling() {
        each_spelling(&["p", "port"], "1", |c| assert_eq!(c.nats.port, 1));
        each_spelling(&["p", "port"], "-1", |c| assert_eq!(c.nats.port, 0));
        each_spelling(&["a", "addr", "net"], "127.0.0.1", |c| assert_eq!(c.nats.host, "127.0.0.1"));
        each_spelling(&["m", "http_port"], "8222", |c| {
            assert_eq!(c.monitor, Some(MonitorConfig { host: "0.0.0.0".into(), port: 8222, tls: None }));
        });
        each_spelling(&["api_port"], "9090", |c| {
            assert_eq!(c.api, Some(ApiConfig { host: "0.0.0.0".into(), port: 9090, tls: None, max_connections_per_ip: 0, rate_limit: None }));
        });
        each_spelling(&["api_port"], "-1", |c| assert_eq!(c.api.as_ref().map(|a| a.port), Some(0)));
        each_spelling(&["api_port"], "0", |c| assert_eq!(c.api, None));
        each_spelling(&["sd", "store_dir"], "/d", |c| assert_eq!(c.jetstream.store_dir, PathBuf::from("/d")));
        each_spelling(&["n", "server_name", "name"], "x1", |c| assert_eq!(c.server_name, "x1"));
        each_spelling(&["auth"], "tok", |c| assert_eq!(c.auth.token.as_deref(), Some("tok")));
        each_spelling(&["P", "pid"], "/p", |c| assert_eq!(c.logging.pid_file, Some("/p".into())));
        each_spelling(&["l", "log"], "/l", |c| assert_eq!(c.logging.log_file, Some("/l".into())));
        each_spelling(&["max_payload"], "2MB", |c| assert_eq!(c.nats.max_payload, 2 << 20));
        assert!(fail(&["-tlscert", "/c"]).contains("cert_file and key_file"), "a key is needed too");
        for flags in [&["--tls", "--tlscert", "/c", "--tlskey", "/k"][..], &["-tlscert=/c", "-tlskey=/k"]] {
            let tls = serve(flags).nats.tls.expect("tls on");
            assert_eq!((tls.cert_file.to_str(), tls.key_file.to_str(), tls.verify), (Some("/c"), Some("/k"), false));
        }
        let tls = serve(&["-tlsverify", "-tlscert", "/c", "-tlskey", "/k", "-tlscacert", "/ca"]).nats.tls.unwrap();
        assert!(tls.verify && tls.ca_file.is_some());
        each_spelling(&["upstream"], "nats://a:1,nats://b:2", |c| {
            let servers = c.upstream.as_ref().map(|u| u.servers.clone());
            assert_eq!(servers, Some(vec!["nats://a:1".to_string(), "nats://b:2".to_string()]));
        });
        for user in ["-user", "--user", "-user=u", "--user=u"] {
            let args: &[&str] = if user.ends_with("=u") { &[user] } else { &[user, "u"] };
            for pass in [&["-pass", "p"][..], &["--pass", "p"], &["-pass=p"], &["--pass=p"]] {
                let c = serve(&[args, pass].concat());
                let users: Vec<_> = c.auth.users.iter().map(|u| (&u.user[..], &u.password[..])).collect();
                assert_eq!(users, [("u", "p")], "{args:?} {pass:?}");
            }
        }
    }

    #[test]
    #[rustfmt::skip]
    fn full_example_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.toml");
        std::fs::write(&path, format!(
            r#"server_name = "sluice-1"
            [nats]
            host = "127.0.0.1"
            port = 4333
            max_payload = "64KiB"
            max_control_line = 1024
            max_pending = "2MB"
            max_connections = 100
            max_subscriptions = 10
            write_deadline = 5
            ping_interval = "1m 30s"
            max_pings_out = 3
            auth_timeout = "500ms"
            no_fast_producer_stall = true
            [monitor] # comment
            host = "127.0.0.2"
            port = 8222
            [api]
            host = "127.0.0.3"
            port = 8081
            [jetstream]
            enabled = true
            store_dir = "/tmp/sluice"
            [auth]
            [[auth.users]]
            user = "alice"
            password = "{HASH}"
            [auth.users.permissions]
            publish = {{ allow = ["orders.>"], deny = ["orders.secret"] }}
            subscribe = {{ allow = ["_INBOX.>"], deny = [] }}
            allow_responses = true
            [[auth.users]]
            user = "bob"
            password = "plain"
            [auth.users.permissions]
            pub = ["a.*"]
            sub = "b.>"
            allow_responses = {{ max = 0, expires = "0s" }}
            [auth.default_permissions]
            publish = ["x"]
            allow_responses = {{ max = 5 }}
            [logging]
            debug = true
            trace = false
            pid_file = "/var/run/sluice.pid"
            log_file = "/var/log/sluice.log""#
        )).unwrap();
        let c = serve(&["-c", path.to_str().unwrap()]);
        let perms = |publish, subscribe, allow_responses| {
            Some(Permissions { publish, subscribe, allow_responses })
        };
        let responses = |max, expires| Some(ResponsePermission { max, expires });
        let want = Config {
            server_name: "sluice-1".into(),
            nats: NatsConfig {
                host: "127.0.0.1".into(),
                port: 4333,
                max_payload: 65536,
                max_control_line: 1024,
                max_pending: 2 << 20,
                max_connections: 100,
                max_subscriptions: 10,
                write_deadline: SECS(5),
                ping_interval: SECS(90),
                max_pings_out: 3,
                auth_timeout: Duration::from_millis(500),
                lame_duck_duration: SECS(120),
                lame_duck_grace_period: SECS(10),
                no_fast_producer_stall: true,
                tls: None,
            },
            monitor: Some(MonitorConfig { host: "127.0.0.2".into(), port: 8222, tls: None }),
            // Frames and messages up to twice max_payload plus 64 KiB.
            websocket: crate::config::WebSocketConfig {
                max_frame_size: 196_608,
                max_message_size: 196_608,
                ..Default::default()
            },
            plugins: Default::default(),
            upstream: None,
            api: Some(ApiConfig { host: "127.0.0.3".into(), port: 8081, tls: None, max_connections_per_ip: 0, rate_limit: None }),
            jetstream: JetStreamConfig { enabled: true, store_dir: "/tmp/sluice".into(), sync_interval: Some(Duration::from_secs(120)) },
            auth: AuthConfig {
                token: None,
                users: vec![
                    UserConfig {
                        user: "alice".into(),
                        password: HASH.into(),
                        admin: false,
                        permissions: perms(
                            rule(&["orders.>"], &["orders.secret"]),
                            rule(&["_INBOX.>"], &[]),
                            responses(1, SECS(120)), // nats-server's defaults for `true`
                        ),
                    },
                    UserConfig {
                        user: "bob".into(),
                        password: "plain".into(),
                        admin: false,
                        permissions: perms(
                            rule(&["a.*"], &[]),
                            rule(&["b.>"], &[]),
                            responses(0, Duration::ZERO),
                        ),
                    },
                ],
                nkeys: vec![],
                default_permissions: perms(rule(&["x"], &[]), rule(&[], &[]), responses(5, SECS(120))),
            },
            logging: LoggingConfig {
                debug: true,
                trace: false,
                pid_file: Some("/var/run/sluice.pid".into()),
                log_file: Some("/var/log/sluice.log".into()),
            },
        };
        assert_eq!(c, want);
    }

    #[test]
    fn files_are_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        let e = Config::from_file(&path).unwrap_err().to_string();
        let named = format!("config file \"{}\": ", path.display());
        assert!(e.starts_with(&named) && e.contains("No such file"), "{e}");
        std::fs::write(&path, "[nats]\nprot = 1\n").unwrap();
        let e = Config::from_file(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{named}line 2, column 1: unknown field `prot`")));
        std::fs::write(&path, "[jetstream]\nenabled = true\n").unwrap();
        assert!(Config::from_file(&path).unwrap().jetstream.enabled);
    }

    #[test]
    fn config_flag_in_every_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[nats]\nport = 5000\n").unwrap();
        let path = path.to_str().unwrap();
        each_spelling(&["c", "config"], path, |c| assert_eq!(c.nats.port, 5000));
    }

    #[test]
    fn boolean_flags_in_every_spelling() {
        each_bool(&["js", "jetstream"], |c| c.jetstream.enabled);
        each_bool(&["D", "debug"], |c| c.logging.debug);
        each_bool(&["V", "trace", "VV"], |c| c.logging.trace);
        each_bool(&["DV", "DVV"], |c| c.logging.debug && c.logging.trace);
        let c = serve(&["-js", "-sd", "/data", "-D"]);
        assert!(c.jetstream.enabled && c.logging.debug && !c.logging.trace);
        assert_eq!(c.jetstream.store_dir, PathBuf::from("/data"));
    }

    #[test]
    #[rustfmt::skip]
    fn ports_follow_nats_server() {
        assert_eq!(serve(&[]).nats.port, 4222);
        assert_eq!(serve(&["-p", "0"]).nats.port, 4222, "0 = default, as in nats-server");
        assert_eq!(serve(&["-p", "-1", "-m", "-1"]).monitor.map(|m| m.port), Some(0));
        assert_eq!(serve(&["-m", "0"]).monitor, None, "0 = monitoring off");
        assert_eq!(serve(&[]).api.map(|a| a.port), Some(8080), "the API is on by default");
        assert_eq!(serve(&["--http_port", "9000"]).api.map(|a| a.port), Some(8080), "--http_port is monitoring");
        let host = serve(&["-a", "127.0.0.1"]).api.map(|a| a.host);
        assert_eq!(host, Some("127.0.0.1".into()), "the API follows -a like the monitor");
        let host = serve(&["-a", "127.0.0.1", "-m", "8222"]).monitor.map(|m| m.host);
        assert_eq!(host, Some("127.0.0.1".into()), "monitor follows -a like nats-server");
        assert_eq!(serve(&["-p", "2", "--port=3", "-port", "4"]).nats.port, 4, "last wins");
    }

    #[test]
    fn serve_is_the_default_subcommand() {
        let args = ["-p", "1234", "-n", "same", "-js"];
        assert_eq!(serve(&args), serve(&[&["serve"][..], &args].concat()));
        assert_eq!(serve(&["serve"]).nats.port, 4222);
    }

    #[test]
    #[rustfmt::skip]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluice.toml");
        let file = "server_name = \"from-file\"\n[nats]\nport = 5000\nhost = \"10.0.0.1\"\n\
                    max_payload = \"2MB\"\n[monitor]\nport = 8222\n[jetstream]\nenabled = true\n\
                    [auth]\ntoken = \"file-token\"\n[logging]\ndebug = true\ntrace = true\n";
        std::fs::write(&path, file).unwrap();
        let path = path.to_str().unwrap();
        let c = serve(&["-c", path]);
        assert_eq!((c.server_name.as_str(), c.nats.port, c.nats.max_payload), ("from-file", 5000, 2 << 20));
        assert_eq!(c.auth.token.as_deref(), Some("file-token"));
        let c = serve(&["-c", path, "-p", "6000", "-a", "::", "-js=false", "-D=false", "-m", "0",
                        "--user", "u", "--pass", "p", "--max_payload", "1KB", "-n", "cli"]);
        assert_eq!((c.server_name.as_str(), c.nats.port, c.nats.host.as_str()), ("cli", 6000, "::"));
        assert_eq!((c.nats.max_payload, c.monitor, c.jetstream.enabled), (1024, None, false));
        assert!(!c.logging.debug && c.logging.trace, "-D=false overrides, trace kept");
        assert_eq!((c.auth.token, c.auth.users.len()), (None, 1), "--user replaces the token");
        let c = serve(&["-c", path, "--auth", "cli-token", "-sd", "/x"]);
        assert_eq!(c.auth.token.as_deref(), Some("cli-token"));
        assert_eq!((c.jetstream.enabled, c.jetstream.store_dir), (true, "/x".into()));
        assert_eq!(c.nats.write_deadline, Duration::from_secs(10), "defaults still apply");
        let users = dir.path().join("users.toml");
        std::fs::write(&users, "[[auth.users]]\nuser = \"a\"\npassword = \"b\"\n").unwrap();
        let c = serve(&["-c", users.to_str().unwrap(), "--auth", "t"]);
        assert_eq!((c.auth.token.as_deref(), c.auth.users.len()), (Some("t"), 0), "--auth replaces users");
    }

    #[test]
    #[rustfmt::skip]
    fn errors_are_one_line_and_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["-p", "abc"], "invalid value 'abc' for --port: expected an integer from -1 to 65535"),
            (&["--port=70000"], "invalid value '70000' for --port: expected an integer from -1 to 65535"),
            (&["-p", "-2"], "invalid value '-2' for --port: expected an integer from -1 to 65535"),
            (&["-m", "x"], "invalid value 'x' for --http_port: expected an integer from -1 to 65535"),
            (&["--api_port", "65536"], "invalid value '65536' for --api_port: expected an integer from -1 to 65535"),
            (&["--api_port"], "missing value for --api_port"),
            (&["-p"], "missing value for --port"),
            (&["-c"], "missing value for --config"),
            (&["--foo"], "unknown flag '--foo'"),
            (&["-foo=1"], "unknown flag '-foo'"),
            (&["-d"], "unknown flag '-d'"),
            (&["---p", "1"], "bad flag syntax: ---p"),
            (&["-js=maybe"], "invalid value 'maybe' for --jetstream: expected true or false"),
            (&["-D=2"], "invalid value '2' for --debug: expected true or false"),
            (&["--max_payload", "lots"], "invalid value 'lots' for --max_payload: expected 1 byte to 64MiB"),
            (&["--max_payload", "65MiB"], "invalid value '65MiB' for --max_payload: expected 1 byte to 64MiB"),
            (&["--user", "u"], "--user requires --pass"),
            (&["--pass", "p"], "--pass requires --user"),
            (&["--user", "u", "--pass", "p", "--auth", "t"], "--auth cannot be combined with --user/--pass"),
            (&["--user", "", "--pass", "p"], "invalid value '' for --user: must not be empty"),
            (&["-n", "a b"], "server_name: must not be empty or contain spaces"),
            (&["-c", "/nonexistent/sluice.toml"], "config file \"/nonexistent/sluice.toml\": No such file"),
            (&["-p", "x", "-js=2"], "invalid value 'x' for --port: expected an integer from -1 to 65535; invalid value '2' for --jetstream"),
            (&["stray"], "unrecognized subcommand 'stray'"),
            (&["serve", "stray"], "unexpected argument 'stray'"),
            (&["-p", "1", "serve"], "the subcommand 'serve' cannot be used with '--port <PORT>'"),
        ];
        for (args, want) in cases {
            let e = fail(args);
            assert!(e.starts_with(want), "{args:?}\n  gave: {e}\n  want: {want}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn help_and_version_are_commands_not_errors() {
        for args in [&["--help"][..], &["-h"], &["-help"], &["help"], &["serve", "--help"], &["-p", "1", "-h"]] {
            let Ok(Command::Help(text)) = run(args) else { panic!("{args:?}") };
            for flag in ["--port", "--addr", "--http_port", "--api_port", "--config", "--jetstream", "--store_dir",
                         "--server_name", "--user", "--pass", "--auth", "--debug", "--trace", "--DV", "--pid"] {
                assert!(text.contains(flag), "{args:?} help lacks {flag}:\n{text}");
            }
        }
        for args in [&["--version"][..], &["-v"], &["-version"], &["serve", "--version"]] {
            let Ok(Command::Version(text)) = run(args) else { panic!("{args:?}") };
            assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
        }
    }

    #[test]
    fn signal_is_a_command() {
        for args in [
            &["--signal", "reload=12"][..],
            &["-sl=reload=12"],
            &["serve", "--signal", "reload=12"],
        ] {
            let Ok(Command::Signal { signal, pid }) = run(args) else {
                panic!("{args:?}")
            };
            assert_eq!((signal.as_str(), pid.as_str()), ("reload", "12"));
        }
        let e = fail(&["--signal", "reload"]);
        assert!(e.starts_with("invalid value 'reload' for --signal"), "{e}");
    }

    #[test]
    fn reload_reads_the_file_again_under_the_same_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, "[nats]\nmax_payload = 1024\nport = 5000\n").unwrap();
        let path = path.to_str().unwrap();
        let args = ["sluice", "-c", path, "-p", "6000"];
        let first = match parse_args(args) {
            Ok(Command::Serve(c)) => c,
            other => panic!("{other:?}"),
        };
        std::fs::write(
            dir.path().join("sluice.toml"),
            "[nats]\nmax_payload = 2048\n",
        )
        .unwrap();
        let again = reload_config(args, &first.server_name).unwrap();
        assert_eq!(
            (again.nats.max_payload, again.nats.port),
            (2048, 6000),
            "flags still win"
        );
        assert_eq!(
            again.server_name, first.server_name,
            "the generated name is kept"
        );
        let named = reload_config(["sluice", "-c", path, "-n", "x"], "kept").unwrap();
        assert_eq!(named.server_name, "x");
        let e = reload_config(["sluice", "-p", "1"], "s")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("can only reload config when a file is provided"),
            "{e}"
        );
        std::fs::write(dir.path().join("sluice.toml"), "[nats]\nport = \"x\"\n").unwrap();
        assert!(reload_config(args, "s").is_err());
    }

    #[test]
    fn flag_table_matches_clap() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        for flag in FLAGS.iter().filter(|f| f.long != "help") {
            let known = cmd.get_arguments().any(|a| a.get_long() == Some(flag.long));
            assert!(
                known,
                "--{} is produced by normalize but unknown to clap",
                flag.long
            );
        }
    }
}
