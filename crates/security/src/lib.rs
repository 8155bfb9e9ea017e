//! Security controls shared by every layer: the tenant scope that gates partner data, secret values that never
//! print, the log redaction layer, and card-number (PAN) detection.

pub mod kms;
pub mod pan;
pub mod password;
pub mod redact;
pub mod secret;
pub mod secrets;
pub mod tenancy;
pub mod tokens;
pub mod totp;

pub use secret::Secret;
pub use tenancy::TenantScope;
