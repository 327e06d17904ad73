//! The `sluice` binary: parses the command line, sets up logging and runs the server until
//! SIGINT or SIGTERM; SIGUSR2 enters lame duck mode and SIGHUP reloads the config file.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sluice::cli::{self, Command};
use sluice::config::{Config, LoggingConfig};
use sluice::server::Shared;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// How long shutdown waits for clients to take what is queued for them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let command = match cli::parse_args(argv.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match command {
        Command::Serve(config) => serve(config, argv),
        Command::Signal { signal, pid } => send_signal(&signal, &pid),
        Command::Plugin(cmd) => sluice::plugin::cli::run(cmd),
        Command::Help(text) | Command::Version(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

fn serve(config: Config, argv: Vec<OsString>) -> ExitCode {
    let set_log_level = init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sluice")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        if let Some(path) = &config.logging.pid_file
            && let Err(e) = std::fs::write(path, std::process::id().to_string())
        {
            eprintln!("error: cannot write pid file {}: {e}", path.display());
            return ExitCode::from(1);
        }
        let pid_file = config.logging.pid_file.clone();
        let shutdown = CancellationToken::new();
        // Installed before the server says it is ready, so a SIGTERM sent right after
        // "Server is ready" is a clean shutdown, not the default (abrupt) termination.
        let signals = Signals::install();
        let running = match sluice::server::start(config, shutdown.clone()).await {
            Ok(r) => r,
            Err(e) => {
                error!("{e:#}");
                eprintln!("error: {e:#}");
                return ExitCode::from(1);
            }
        };
        let reloader = Reloader {
            shared: running.shared.clone(),
            argv,
            set_log_level,
        };
        tokio::spawn(wait_for_signal(
            signals,
            shutdown,
            running.lame_duck_token(),
            reloader,
        ));
        running.wait(SHUTDOWN_GRACE).await;
        if let Some(path) = pid_file {
            let _ = std::fs::remove_file(path);
        }
        ExitCode::SUCCESS
    })
}

/// The signals the server reacts to, registered with the OS.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers; `None` (logged) if the OS refuses.
    fn install() -> Option<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::user_defined2()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(term), Ok(int), Ok(usr2), Ok(hup)) => Some(Signals {
                term,
                int,
                usr2,
                hup,
            }),
            _ => {
                error!("Cannot install signal handlers; stop the server with SIGKILL.");
                None
            }
        }
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM, `lame_duck` on SIGUSR2 (nats-server's signal
/// for lame duck mode), and reloads the configuration on SIGHUP.
async fn wait_for_signal(
    signals: Option<Signals>,
    shutdown: CancellationToken,
    lame_duck: CancellationToken,
    reloader: Reloader,
) {
    let Some(mut s) = signals else { return };
    let reloader = Arc::new(reloader);
    loop {
        tokio::select! {
            _ = s.term.recv() => break,
            _ = s.int.recv() => break,
            _ = s.usr2.recv() => {
                tracing::info!("Trapped SIGUSR2, entering lame duck mode.");
                lame_duck.cancel();
            }
            _ = s.hup.recv() => {
                info!("Trapped SIGHUP, reloading the configuration.");
                // Compiling plugins and checking bcrypt passwords block; one reload at a time.
                let reloader = reloader.clone();
                let _ = tokio::task::spawn_blocking(move || reloader.reload()).await;
            }
        }
    }
    tracing::info!("Trapped signal, shutting down.");
    shutdown.cancel();
}

/// What a SIGHUP needs: the server, the command line it started with, the log level.
struct Reloader {
    shared: Arc<Shared>,
    argv: Vec<OsString>,
    set_log_level: Option<SetLogLevel>,
}

impl Reloader {
    /// Reads the config file again under the same flags and applies it, or logs why not
    /// and changes nothing (nats-server's `Failed to reload server configuration`).
    fn reload(&self) {
        let old = self.shared.config().logging.clone();
        let name = self.shared.config().server_name.clone();
        let result = cli::reload_config(self.argv.iter().cloned(), &name)
            .map_err(sluice::reload::ReloadError::from)
            .and_then(|config| sluice::reload::reload(&self.shared, config));
        let changes = match result {
            Ok(changes) => changes,
            Err(e) => {
                error!("Failed to reload server configuration: {e}");
                return;
            }
        };
        let new = self.shared.config().logging.clone();
        if (old.debug, old.trace) != (new.debug, new.trace) {
            match &self.set_log_level {
                Some(set) => {
                    if let Err(e) = set(level_filter(&new)) {
                        error!("Cannot change the log level: {e}");
                    }
                }
                None => info!("RUST_LOG is set: the log level stays as it says"),
            }
        }
        for change in &changes {
            info!("Reloaded: {change}");
        }
        info!("Reloaded server configuration");
    }
}

/// `--signal <command>=<pid>`, as nats-server: sends the signal that asks a running server
/// to `reload` (SIGHUP), enter lame duck mode (`ldm`, SIGUSR2), `quit` (SIGINT), `term`
/// (SIGTERM) or `stop` (SIGKILL). `pid` is a process id or a pid file (`-P`).
fn send_signal(command: &str, pid: &str) -> ExitCode {
    let signum = match command {
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        "quit" => libc::SIGINT,
        "term" => libc::SIGTERM,
        "stop" => libc::SIGKILL,
        other => {
            eprintln!("error: unknown signal \"{other}\" (reload, ldm, quit, term, stop)");
            return ExitCode::from(1);
        }
    };
    let text = match pid.parse::<i32>() {
        Ok(_) => pid.to_string(),
        Err(_) => match std::fs::read_to_string(pid) {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                eprintln!("error: \"{pid}\" is neither a pid nor a readable pid file: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let Some(pid) = text.parse::<i32>().ok().filter(|p| *p > 0) else {
        eprintln!("error: invalid pid: {text}");
        return ExitCode::from(1);
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signum) } != 0 {
        let e = std::io::Error::last_os_error();
        eprintln!("error: signal \"{command}\" {pid}: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Changes the log level of the running process (a reload changed `[logging]`).
type SetLogLevel = Box<dyn Fn(tracing_subscriber::EnvFilter) -> Result<(), String> + Send + Sync>;

/// The filter for `-D` (debug lines) and `-V` (trace lines).
fn level_filter(logging: &LoggingConfig) -> tracing_subscriber::EnvFilter {
    let level = if logging.trace {
        "trace"
    } else if logging.debug {
        "debug"
    } else {
        "info"
    };
    tracing_subscriber::EnvFilter::new(format!("sluice={level}"))
}

/// Logs to stderr like nats-server; `-D` adds debug lines, `-V` trace lines. `RUST_LOG`
/// overrides both (and then a reload leaves the level alone: `None` is returned).
fn init_logging(config: &Config) -> Option<SetLogLevel> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let fixed = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| level_filter(&config.logging));
    let (writer, file_error) = match &config.logging.log_file {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(file) => (BoxMakeWriter::new(std::sync::Mutex::new(file)), None),
            Err(e) => (BoxMakeWriter::new(std::io::stderr), Some((path, e))),
        },
        None => (BoxMakeWriter::new(std::io::stderr), None),
    };
    // A closed stderr (the reading end of a pipe gone) must not matter: with internal error
    // logging on, tracing-subscriber reports the failed write with eprintln!, which panics
    // and takes down whichever task was logging (the signal handler, for one).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .log_internal_errors(false)
        .with_writer(writer)
        .with_filter_reloading();
    let handle = builder.reload_handle();
    builder.init();
    if let Some((path, e)) = file_error {
        error!(
            "Cannot open log file {}: {e}; logging to stderr.",
            path.display()
        );
    }
    (!fixed)
        .then(|| -> SetLogLevel { Box::new(move |f| handle.reload(f).map_err(|e| e.to_string())) })
}
