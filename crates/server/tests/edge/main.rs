//! The HTTPS edge, tested through a real server on loopback with real TLS handshakes. All edge tests live in this
//! one binary (each test file would be a separately linked binary).

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

mod support;

/// Runs each named `async fn case(engine: Engine)` of the module on SQLite and on PostgreSQL.
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $case() { super::$case(super::Engine::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $case() { super::$case(super::Engine::Postgres).await } )*
        }
    };
}

mod analytics;
mod audit;
mod errors;
mod identity;
mod ordering;
mod payments;
mod platform;
mod privacy;
mod reservations;
mod revocation;
mod tls_handshakes;
