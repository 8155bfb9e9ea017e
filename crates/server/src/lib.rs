//! The HTTPS edge of comanda: configuration, TLS, the router with its layers, problem+json errors, logs and
//! metrics. Handlers stay thin: parse, authorize, call the domain, store, answer.

pub mod alert_routing;
pub mod app;
pub mod audit;
pub mod auth;
pub mod availability_cache;
pub mod config;
pub mod contract;
pub mod controls;
pub mod csv_export;
pub mod deposits;
pub mod disclosure;
pub mod embedded;
pub mod events;
pub mod extract;
mod files;
pub mod guest_notices;
pub mod idempotency;
pub mod incidents;
pub mod live_checks;
pub mod logging;
pub mod middleware;
pub mod pan_guard;
pub mod payments;
pub mod problem;
pub mod qr;
pub mod routes;
pub mod seed;
pub mod serve;
pub mod tls;
pub mod waitlist;

pub use comanda_domain::{Clock, SystemClock};
pub use config::{Config, Overrides};
pub use serve::{Server, start};

/// Installs the process's TLS crypto provider (ring). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
