//! The HTTPS edge, tested through a real server on loopback with real TLS handshakes. All edge tests live in this
//! one binary (each test file would be a separately linked binary).

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

mod support;

mod errors;
mod identity;
mod ordering;
mod payments;
mod platform;
mod tls_handshakes;
