//! Logging through `tracing`: to stderr or Redis' `logfile`, at Redis' `loglevel`, changeable at run time.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The tracing filter for a Redis `loglevel`.
fn filter_for(level: &str) -> EnvFilter {
    // openraft narrates every election and snapshot at info: below `verbose` only its warnings show.
    let directive = match level {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info,openraft=warn",
    };
    EnvFilter::new(directive)
}

/// Installs the process-wide subscriber; `RUST_LOG`, when set, takes precedence over `level`.
pub fn init(level: &str, logfile: &str) -> std::io::Result<()> {
    let env = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok());
    let from_env = env.is_some();
    let (filter, handle) = reload::Layer::new(env.unwrap_or_else(|| filter_for(level)));
    let registry = tracing_subscriber::registry().with(filter);
    if logfile.is_empty() {
        registry
            // Colours only on a terminal: `docker logs`, journald and pipes get plain text.
            .with(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)?;
        registry
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .init();
    }
    if !from_env {
        let _ = FILTER.set(handle);
    }
    Ok(())
}

/// Applies a new `loglevel` (after `CONFIG SET`); no effect when `RUST_LOG` chose the filter.
pub fn set_level(level: &str) {
    if let Some(h) = FILTER.get() {
        let _ = h.reload(filter_for(level));
    }
}
