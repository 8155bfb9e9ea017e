//! Structured logs through `tracing`, every line passing the one redaction layer
//! ([`comanda_security::redact::RedactingMakeWriter`]) on its way to stdout.

use comanda_security::redact::RedactingMakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber; a second call (tests starting several servers) keeps the first.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = RedactingMakeWriter::new(std::io::stdout);
    let result = match config.format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init(),
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(false)
            .try_init(),
    };
    let _ = result;
}
