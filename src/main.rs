//! The `sluice` binary: parses the command line, sets up logging and runs the server until
//! SIGINT or SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use sluice::cli::{self, Command};
use sluice::config::Config;
use tokio_util::sync::CancellationToken;
use tracing::error;

/// How long shutdown waits for clients to take what is queued for them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let command = match cli::parse_args(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match command {
        Command::Serve(config) => serve(config),
        Command::Plugin(cmd) => sluice::plugin::cli::run(cmd),
        Command::Help(text) | Command::Version(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

fn serve(config: Config) -> ExitCode {
    init_logging(&config);
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
        tokio::spawn(wait_for_signal(
            signals,
            shutdown,
            running.lame_duck_token(),
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
}

impl Signals {
    /// Registers the handlers; `None` (logged) if the OS refuses.
    fn install() -> Option<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::user_defined2()),
        ) {
            (Ok(term), Ok(int), Ok(usr2)) => Some(Signals { term, int, usr2 }),
            _ => {
                error!("Cannot install signal handlers; stop the server with SIGKILL.");
                None
            }
        }
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM, and `lame_duck` on SIGUSR2 (nats-server's signal
/// for lame duck mode).
async fn wait_for_signal(
    signals: Option<Signals>,
    shutdown: CancellationToken,
    lame_duck: CancellationToken,
) {
    let Some(mut s) = signals else { return };
    loop {
        tokio::select! {
            _ = s.term.recv() => break,
            _ = s.int.recv() => break,
            _ = s.usr2.recv() => {
                tracing::info!("Trapped SIGUSR2, entering lame duck mode.");
                lame_duck.cancel();
            }
        }
    }
    tracing::info!("Trapped signal, shutting down.");
    shutdown.cancel();
}

/// Logs to stderr like nats-server; `-D` adds debug lines, `-V` trace lines.
/// `RUST_LOG` overrides both.
fn init_logging(config: &Config) {
    let level = if config.logging.trace {
        "trace"
    } else if config.logging.debug {
        "debug"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("sluice={level}")));
    // A closed stderr (the reading end of a pipe gone) must not matter: with internal error
    // logging on, tracing-subscriber reports the failed write with eprintln!, which panics
    // and takes down whichever task was logging (the signal handler, for one).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .log_internal_errors(false);
    match &config.logging.log_file {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(file) => builder.with_writer(std::sync::Mutex::new(file)).init(),
            Err(e) => {
                builder.with_writer(std::io::stderr).init();
                error!(
                    "Cannot open log file {}: {e}; logging to stderr.",
                    path.display()
                );
            }
        },
        None => builder.with_writer(std::io::stderr).init(),
    }
}
