//! The HTTPS edge, tested through a real server on loopback with real TLS handshakes. All edge tests live in this
//! one binary (each test file would be a separately linked binary).

mod support;

mod errors;
mod platform;
mod tls_handshakes;
