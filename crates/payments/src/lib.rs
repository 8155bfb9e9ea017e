//! Stripe Connect for comanda: [`stripe`], a small typed client for the calls we make, and [`standin`], a local
//! Stripe that speaks the same wire format, for the test suites and the embedded default's demo mode.

pub mod contract;
pub mod standin;
pub mod stripe;

pub use stripe::{StripeClient, StripeError};
