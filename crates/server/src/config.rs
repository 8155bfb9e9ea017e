//! One typed, validated configuration. Sources, later ones winning: built-in defaults (the embedded default), a
//! TOML file (`--config` or `COMANDA_CONFIG`), `COMANDA_*` environment variables (`__` separates nesting:
//! `COMANDA_SERVER__LISTEN`), `DATABASE_URL`, and command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use comanda_security::Secret;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded default keeps its SQLite database, key file and self-signed certificate.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub database: DatabaseConfig,
    pub kms: KmsConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub security_txt: SecurityTxtConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub payments: PaymentsConfig,
    pub audit: AuditConfig,
    pub backup: comanda_backup::BackupConfig,
    pub alerts: AlertsConfig,
    pub errors: ErrorsConfig,
    pub traces: TracesConfig,
    pub incidents: IncidentsConfig,
    /// Lets a demo or a test run with settings that break a promise of the security page (see
    /// [`Config::broken_promises`]); without it such settings refuse to start. Every promise broken shows as
    /// failing on `comanda controls` and in the start banner.
    pub insecure_demo: bool,
}

/// A promise of the security page (../shared/SECURITY-PROMISES.md) that a configuration does not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenPromise {
    /// The control (`AUTH-2`, `BAK-3`, …).
    pub control: &'static str,
    pub field: &'static str,
    pub why: String,
    /// Refused at start unless `insecure_demo` is set; the embedded default's single-machine backups are not
    /// refused (it starts with no configuration) but still reported.
    pub refused: bool,
}

/// Where alerts go besides the `alerts` table and the error log (MON-4): an on-call destination that takes a signed
/// webhook (PagerDuty's or Opsgenie's generic webhook, a chat bridge, an incident tool).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// `https://…` (plain `http://` only to a loopback address); unset: alerts are not routed.
    #[serde(serialize_with = "url_without_credentials")]
    pub webhook_url: Option<String>,
    /// The endpoint's signing secret in Standard Webhooks form, `whsec_` and base64 of 24 to 64 random bytes.
    pub webhook_secret: Option<Secret<String>>,
    /// How often the unrouted alerts are sent (and a refused delivery retried), in seconds.
    pub route_every_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret: None,
            route_every_secs: 10,
        }
    }
}

/// Error reporting to a Sentry-compatible service (MON-7): Sentry itself, a self-hosted Sentry or GlitchTip.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorsConfig {
    /// The project's DSN (`https://<public key>@<host>/<project id>`; plain `http://` only to a loopback address).
    /// Every error-level event is reported there, redacted as log lines are. Unset: nothing is reported.
    pub sentry_dsn: Option<Secret<String>>,
    /// The environment the events are filed under.
    pub environment: String,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        Self {
            sentry_dsn: None,
            environment: "production".into(),
        }
    }
}

/// Request traces exported with OpenTelemetry (MON-1): one server span per request, named and labelled after the
/// OpenTelemetry HTTP conventions by route template (never the raw path, which may carry a table token), continuing
/// the W3C `traceparent` of a trusted proxy. Only those spans leave: no log line and no span event, so nothing passes by the
/// redaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// The collector's OTLP/HTTP endpoint, spans sent as protobuf: its traces URL (`…/v1/traces`) or its base
    /// (`https://collector:4318`, `https://…/otlp`), to which `/v1/traces` is added; plain `http://` only to a
    /// loopback address. Unset: no traces.
    #[serde(serialize_with = "url_without_credentials")]
    pub otlp_endpoint: Option<String>,
    /// Headers sent with every export, such as a vendor's API key; secret (never printed).
    pub otlp_headers: std::collections::BTreeMap<String, Secret<String>>,
    /// The share of traces started here that are recorded, from 0 to 1; a request whose trusted proxy
    /// (`server.trusted_proxies`) sent a `traceparent` is recorded as the proxy's trace decided.
    pub sample_ratio: f64,
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_headers: Default::default(),
            sample_ratio: 1.0,
        }
    }
}

/// Incident response (IR-2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// US states whose breach law requires notice sooner than 72 hours: state code to hours (`{ XX = 24 }`). Their
    /// deadlines join the GDPR's and Law 1581's on every breach.
    pub us_state_notice_hours: std::collections::BTreeMap<String, u32>,
}

/// The audit trail (MON-5, MON-6).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// How often every chain's head is signed and months past retention are pruned.
    pub checkpoint_every_secs: u64,
    /// How often queued access records (one per authenticated request) are appended to the chains.
    pub access_flush_millis: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every_secs: 300,
            access_flush_millis: 250,
        }
    }
}

/// Where guests' card payments go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProvider {
    /// Demo mode: a local Stripe stand-in in this process (Stripe's wire format, test cards, no real money).
    #[default]
    Standin,
    /// Stripe itself (or any endpoint speaking its API) at `api_base`, with the keys below.
    Stripe,
    /// No card payments.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    pub provider: PaymentProvider,
    pub api_base: String,
    /// Stripe.js, loaded by the payment page (the page's CSP allows this origin and no other third party).
    pub js_url: String,
    pub secret_key: Option<Secret<String>>,
    pub publishable_key: Option<String>,
    /// The platform endpoint's signing secret (`whsec_…`, events of the platform account at
    /// `/api/v1/webhooks/stripe`), and the previous one while rolling it.
    pub webhook_secret: Option<Secret<String>>,
    pub previous_webhook_secret: Option<Secret<String>>,
    /// The Connect endpoint's signing secret (events of connected accounts at `/api/v1/webhooks/stripe/connect`),
    /// and the previous one while rolling it. Stripe gives each endpoint its own secret.
    pub connect_webhook_secret: Option<Secret<String>>,
    pub previous_connect_webhook_secret: Option<Secret<String>>,
    /// The platform's fee on each share (tips excluded), in basis points.
    pub platform_fee_bp: u32,
    /// Refunds above this many minor units need a second person with payout authority.
    pub refund_approval_threshold: i64,
    /// How long an unfinished payment holds its part of the bill before it is cancelled at Stripe.
    pub hold_minutes: u64,
    /// How often due transfers are retried and expired holds released.
    pub upkeep_secs: u64,
    /// How often payments are reconciled with Stripe (MON-3), and how far back.
    pub reconcile_every_secs: u64,
    pub reconcile_window_hours: u64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            provider: PaymentProvider::default(),
            api_base: "https://api.stripe.com".into(),
            js_url: "https://js.stripe.com/v3".into(),
            secret_key: None,
            publishable_key: None,
            webhook_secret: None,
            previous_webhook_secret: None,
            connect_webhook_secret: None,
            previous_connect_webhook_secret: None,
            platform_fee_bp: 300,
            refund_approval_threshold: 20_000_000,
            hold_minutes: 15,
            upkeep_secs: 30,
            reconcile_every_secs: 3_600,
            reconcile_window_hours: 48,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The `iss` of issued tokens; defaults to `server.public_url`, else `https://localhost`.
    pub issuer: Option<String>,
    pub audience: String,
    /// Access-token lifetime; at most 900 (AUTH-6).
    pub access_ttl_secs: u64,
    /// Absolute lifetime of a session (refresh-token family).
    pub session_days: u64,
    /// How long after a refresh token was spent a retry (lost response) still gets a fresh pair.
    pub refresh_grace_secs: u64,
    /// Signing keys rotate after this many days (AUTH-7).
    pub key_rotation_days: u64,
    /// How often each instance checks whether its signing key is due (the first to find it due rotates it, the
    /// others load the new key), in seconds.
    pub key_check_secs: u64,
    /// bcrypt work factor; 12 in production (AUTH-2). Lower values only for tests.
    pub bcrypt_cost: u32,
    /// Invitations expire after this many hours.
    pub invitation_ttl_hours: u64,
    /// A GeoIP database in the MaxMind DB format (GeoLite2-City, GeoIP2-City, DB-IP City Lite; a Country edition
    /// gives countries only). With it a sign-in from a new country, or too far from the previous one for the time
    /// between them, is recorded, mailed to the account and alerted on call (MON-2). Unset: places are not known.
    pub geoip_database: Option<PathBuf>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: "comanda-api".into(),
            access_ttl_secs: 900,
            session_days: 30,
            refresh_grace_secs: 10,
            key_rotation_days: 30,
            key_check_secs: 60,
            bcrypt_cost: comanda_security::password::PRODUCTION_COST,
            invitation_ttl_hours: 72,
            geoip_database: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSink {
    /// One `.eml` file per message under `<data_dir>/outbox/` (the embedded default).
    #[default]
    File,
    /// Only that a message was sent reaches the log (its id): recipients are personal data and bodies carry tokens.
    Log,
    /// Delivered over SMTP to `mail.smtp_url`.
    Smtp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub sink: MailSink,
    /// The `file` sink's `.eml` files (personal data outside the sealed store) are deleted this many days after
    /// they were written (1–30).
    pub file_retention_days: u32,
    /// From address of outgoing mail.
    pub from: Option<String>,
    /// `smtps://user:password@host:465`, or `smtp://user:password@host:587?tls=required`; plain `smtp://` only to
    /// a relay on this machine.
    pub smtp_url: Option<Secret<String>>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            sink: MailSink::default(),
            file_retention_days: 7,
            from: None,
            smtp_url: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./comanda-data"),
            server: ServerConfig::default(),
            tls: TlsConfig::default(),
            database: DatabaseConfig::default(),
            kms: KmsConfig::default(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            security_txt: SecurityTxtConfig::default(),
            auth: AuthConfig::default(),
            mail: MailConfig::default(),
            payments: PaymentsConfig::default(),
            audit: AuditConfig::default(),
            backup: comanda_backup::BackupConfig::default(),
            alerts: AlertsConfig::default(),
            errors: ErrorsConfig::default(),
            traces: TracesConfig::default(),
            incidents: IncidentsConfig::default(),
            insecure_demo: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The HTTPS listener.
    pub listen: SocketAddr,
    /// An optional plain-HTTP listener that only redirects to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// The public origin (`https://comanda.example`) used in redirects and links; defaults to the listener.
    pub public_url: Option<String>,
    /// Largest request body accepted; larger bodies answer 413.
    pub body_limit_bytes: usize,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Peers whose `X-Forwarded-For` is believed (load balancers): addresses or CIDR ranges. Empty: the TCP peer
    /// is the client.
    pub trusted_proxies: Vec<crate::middleware::ProxyRange>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            http_redirect_listen: None,
            public_url: None,
            body_limit_bytes: 1024 * 1024,
            shutdown_grace_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key_file`. Without both, a self-signed certificate for localhost is made in
    /// the data directory.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// How often the files are checked for changes (they are also reloaded on SIGHUP).
    pub reload_check_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            reload_check_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` (production) or `sqlite://…`; unset: SQLite in the data directory. `DATABASE_URL` sets it.
    pub url: Option<Secret<String>>,
    /// PostgreSQL: the schema owner's connection for migrations when the serving role is a separate one.
    pub migration_url: Option<Secret<String>>,
    /// Pool size; 0 picks a default for the engine.
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KmsBackend {
    /// A key file in the data directory (mode 0600): the embedded single-machine default only.
    #[default]
    LocalFile,
    /// A PKCS#11 token (`kms.pkcs11`): the key-encryption key never leaves it (production).
    Pkcs11,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KmsConfig {
    pub backend: KmsBackend,
    /// Defaults to `<data_dir>/kms.key`.
    pub key_file: Option<PathBuf>,
    pub pkcs11: Pkcs11Config,
}

/// How data keys are encrypted under the PKCS#11 key-encryption key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pkcs11Mechanism {
    /// Standard `CKM_AES_GCM` with a random caller IV (SoftHSM2 and most HSMs).
    #[default]
    AesGcm,
    /// Google Cloud KMS's `CKM_CLOUDKMS_AES_GCM` (kmsp11), the IV chosen by the KMS.
    CloudkmsAesGcm,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pkcs11Config {
    /// The PKCS#11 library.
    pub module: PathBuf,
    pub token_label: String,
    /// The token's user PIN (`COMANDA_KMS__PKCS11__PIN`).
    pub pin: Option<Secret<String>>,
    /// The key-encryption key's label; versions are `<key_label>-v<n>` (on Cloud KMS: the crypto key's name).
    pub key_label: String,
    pub mechanism: Pkcs11Mechanism,
}

impl Default for Pkcs11Config {
    fn default() -> Self {
        Self {
            module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
            token_label: "comanda".into(),
            pin: None,
            key_label: "comanda-kek".into(),
            mechanism: Pkcs11Mechanism::AesGcm,
        }
    }
}

impl Pkcs11Config {
    /// The settings of the PKCS#11 KMS (after [`Config::validate`], which requires the PIN).
    pub fn settings(&self) -> comanda_security::kms::Pkcs11Settings {
        comanda_security::kms::Pkcs11Settings {
            module: self.module.clone(),
            token_label: self.token_label.clone(),
            pin: self.pin.clone().unwrap_or_default(),
            key_label: self.key_label.clone(),
            mechanism: match self.mechanism {
                Pkcs11Mechanism::AesGcm => comanda_security::kms::KekMechanism::AesGcm,
                Pkcs11Mechanism::CloudkmsAesGcm => comanda_security::kms::KekMechanism::CloudkmsAesGcm,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `comanda_server=debug,info`, …
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Bearer token that lets a scraper outside this machine read `/metrics`; loopback peers need none.
    pub token: Option<Secret<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityTxtConfig {
    pub contact: String,
    pub policy: String,
    pub preferred_languages: String,
}

impl Default for SecurityTxtConfig {
    fn default() -> Self {
        Self {
            contact: "mailto:security@comanda.dev".into(),
            policy: "https://comanda.dev/security/disclosure".into(),
            preferred_languages: "es, en".into(),
        }
    }
}

/// Values given on the command line, which beat every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0}: not found")]
    MissingFile(PathBuf),
    /// Figment's errors, each said without the value it found (the value may be a secret).
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration: {field}: {message}")]
    Invalid { field: &'static str, message: String },
}

/// A value from a `COMANDA_*` variable that read as a number or boolean where the setting wants text: the setting's
/// path and the variable's text as written.
fn text_wanted_from_env(error: &figment::Error) -> Option<(String, String)> {
    error.clone().into_iter().find_map(|error| {
        let figment::error::Kind::InvalidType(_, expected) = &error.kind else {
            return None;
        };
        let from_env = error
            .metadata
            .as_ref()
            .is_some_and(|source| source.name.contains("environment variable"));
        if !from_env || !expected.contains("string") || error.path.is_empty() {
            return None;
        }
        let text = Env::var(&format!("COMANDA_{}", error.path.join("__")))?;
        Some((error.path.join("."), text))
    })
}

/// Figment's errors without the values they found: a setting given the wrong type may be a secret (a PIN, a token).
fn without_values(error: figment::Error) -> String {
    use figment::error::{Actual, Kind};
    let shape = |actual: &Actual| {
        Actual::Other(
            match actual {
                Actual::Bool(_) => "a boolean",
                Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
                Actual::Char(_) | Actual::Str(_) => "text",
                Actual::Bytes(_) => "bytes",
                Actual::Seq => "a list",
                Actual::Map => "a table",
                _ => "another kind of value",
            }
            .to_owned(),
        )
    };
    error
        .into_iter()
        .map(|mut error| {
            error.kind = match error.kind {
                Kind::InvalidType(actual, expected) => Kind::InvalidType(shape(&actual), expected),
                Kind::InvalidValue(actual, expected) => Kind::InvalidValue(shape(&actual), expected),
                // A TOML syntax error quotes the line it stopped on (`3 | secret_key = "sk_live_…" x`): the
                // position and the reason stay, the quoted line does not.
                Kind::Message(message) => Kind::Message(
                    message
                        .lines()
                        .filter(|line| {
                            !line
                                .trim_start()
                                .trim_start_matches(|c: char| c.is_ascii_digit())
                                .trim_start()
                                .starts_with('|')
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                kind => kind,
            };
            error.to_string()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The US jurisdictions with a breach-notification law: the 50 states, DC, Puerto Rico, Guam and the US Virgin
/// Islands, by their USPS codes.
const US_JURISDICTIONS: [&str; 54] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
    "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC",
    "PR", "GU", "VI",
];

impl Config {
    /// Reads every source and validates the result.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let file = overrides
            .config_file
            .clone()
            .or_else(|| std::env::var_os("COMANDA_CONFIG").map(PathBuf::from));
        let mut figment = Figment::new();
        if let Some(file) = &file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.clone()));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("COMANDA_").split("__").ignore(&["config"]));
        // An environment value reads as TOML, so a PIN or token of digits arrived as a number (`0123` as 123) and
        // was refused where text is wanted: such a value is taken again as the text it was written as.
        let mut as_written: Vec<(String, String)> = Vec::new();
        let config: Config = loop {
            let mut sources = figment.clone();
            for (path, text) in &as_written {
                sources = sources.merge(Serialized::default(path, text));
            }
            if let Ok(url) = std::env::var("DATABASE_URL") {
                sources = sources.merge(Serialized::default("database.url", url));
            }
            if let Some(dir) = &overrides.data_dir {
                sources = sources.merge(Serialized::default("data_dir", dir));
            }
            if let Some(listen) = overrides.listen {
                sources = sources.merge(Serialized::default("server.listen", listen.to_string()));
            }
            match sources.extract() {
                Ok(config) => break config,
                Err(error) => match text_wanted_from_env(&error) {
                    Some(found) if !as_written.iter().any(|(path, _)| *path == found.0) => {
                        as_written.push(found)
                    }
                    _ => return Err(ConfigError::Parse(without_values(error))),
                },
            }
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| {
            Err(ConfigError::Invalid {
                field,
                message: message.to_owned(),
            })
        };
        if !(1024..=64 * 1024 * 1024).contains(&self.server.body_limit_bytes) {
            return invalid("server.body_limit_bytes", "must be between 1 KiB and 64 MiB");
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return invalid("tls", "cert_file and key_file go together");
        }
        if self.tls.reload_check_secs == 0 {
            return invalid("tls.reload_check_secs", "must be at least 1");
        }
        if let Some(url) = &self.database.url
            && let Err(error) = comanda_store::engine_of(url.expose())
        {
            return invalid("database.url", &error.to_string());
        }
        if let Some(public) = &self.server.public_url
            && (!public.starts_with("https://") || public.ends_with('/'))
        {
            return invalid(
                "server.public_url",
                "must be an https:// origin without a trailing slash",
            );
        }
        let states = &self.incidents.us_state_notice_hours;
        let unique: std::collections::BTreeSet<String> =
            states.keys().map(|s| s.to_ascii_uppercase()).collect();
        if unique.len() != states.len()
            || states.iter().any(|(state, hours)| {
                *hours == 0 || !US_JURISDICTIONS.contains(&state.to_ascii_uppercase().as_str())
            })
        {
            return invalid(
                "incidents.us_state_notice_hours",
                "maps US state codes (USPS: CA, NY, …, DC, PR, GU, VI), each once, to a positive number of hours",
            );
        }
        if let Err(message) = crate::alert_routing::check_settings(&self.alerts) {
            return invalid("alerts", &message);
        }
        if let Some(dsn) = &self.errors.sentry_dsn {
            let parsed = dsn
                .expose()
                .parse::<sentry::types::Dsn>()
                .map_err(|_| "is not a Sentry DSN (https://<public key>@<host>/<project id>)".to_owned())
                .and_then(|_| crate::alert_routing::https_or_loopback(dsn.expose()));
            if let Err(message) = parsed {
                return invalid("errors.sentry_dsn", &message);
            }
        }
        if let Some(endpoint) = &self.traces.otlp_endpoint
            && let Err(message) = crate::alert_routing::https_or_loopback(endpoint)
        {
            return invalid("traces.otlp_endpoint", &message);
        }
        if !(0.0..=1.0).contains(&self.traces.sample_ratio) {
            return invalid("traces.sample_ratio", "must be between 0 and 1");
        }
        if let Some((name, _)) = self.traces.otlp_headers.iter().find(|(name, value)| {
            axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || axum::http::HeaderValue::from_str(value.expose()).is_err()
        }) {
            // The value is secret: only the name is told.
            return invalid(
                "traces.otlp_headers",
                &format!("`{name}` is not a header name, or its value is not a header value"),
            );
        }
        if self.server.http_redirect_listen == Some(self.server.listen) {
            return invalid("server.http_redirect_listen", "must differ from server.listen");
        }
        if self.payments.provider == PaymentProvider::Stripe
            && (self.payments.secret_key.is_none() || self.payments.publishable_key.is_none())
        {
            // The webhook secrets are checked when serving: `comanda payments webhooks setup` runs before they exist.
            return invalid(
                "payments",
                "provider \"stripe\" needs secret_key and publishable_key",
            );
        }
        if self.payments.platform_fee_bp > 5_000 {
            return invalid("payments.platform_fee_bp", "must be at most 5000 (50 %)");
        }
        if !(1..=60).contains(&self.payments.hold_minutes) || self.payments.upkeep_secs == 0 {
            return invalid(
                "payments.hold_minutes",
                "must be 1–60 (and upkeep_secs at least 1)",
            );
        }
        // Intervals of the server's own jobs: zero would spin (or stop a timer outright), and a value silently raised
        // to a floor would not be what the operator wrote.
        if !(1..=86_400).contains(&self.audit.checkpoint_every_secs) {
            return invalid(
                "audit.checkpoint_every_secs",
                "must be between 1 and 86400 (a day)",
            );
        }
        if !(10..=60_000).contains(&self.audit.access_flush_millis) {
            return invalid("audit.access_flush_millis", "must be between 10 and 60000");
        }
        if !(60..=86_400).contains(&self.payments.reconcile_every_secs) {
            return invalid(
                "payments.reconcile_every_secs",
                "must be between 60 and 86400 (a day)",
            );
        }
        if !(1..=24 * 31).contains(&self.payments.reconcile_window_hours) {
            return invalid(
                "payments.reconcile_window_hours",
                "must be between 1 and 744 (31 days)",
            );
        }
        // Each run looks back over the window: a window shorter than the time between runs leaves payments no run
        // ever reconciles.
        if self.payments.reconcile_window_hours * 3_600 < self.payments.reconcile_every_secs {
            return invalid(
                "payments.reconcile_window_hours",
                "must cover at least the time between runs (payments.reconcile_every_secs)",
            );
        }
        if !(60..=900).contains(&self.auth.access_ttl_secs) {
            return invalid("auth.access_ttl_secs", "must be between 60 and 900 (15 minutes)");
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return invalid("auth.bcrypt_cost", "must be between 4 and 31 (12 in production)");
        }
        if self.auth.key_rotation_days == 0 || self.auth.key_rotation_days > 90 {
            return invalid("auth.key_rotation_days", "must be between 1 and 90");
        }
        if !(1..=3600).contains(&self.auth.key_check_secs) {
            return invalid("auth.key_check_secs", "must be between 1 and 3600");
        }
        if self.auth.session_days == 0 || self.auth.invitation_ttl_hours == 0 {
            return invalid("auth", "session_days and invitation_ttl_hours must be positive");
        }
        if !(1..=30).contains(&self.mail.file_retention_days) {
            return invalid("mail.file_retention_days", "must be between 1 and 30");
        }
        match (&self.mail.sink, &self.mail.smtp_url) {
            (MailSink::Smtp, None) => return invalid("mail.smtp_url", "is required when mail.sink is smtp"),
            (MailSink::Smtp, Some(url)) if !smtp_url_is_private(url.expose()) => {
                return invalid(
                    "mail.smtp_url",
                    "must use TLS (smtps:// or ?tls=required) unless the relay is on loopback",
                );
            }
            _ => {}
        }
        if self.kms.backend == KmsBackend::Pkcs11 {
            let pkcs11 = &self.kms.pkcs11;
            if pkcs11.pin.is_none() {
                return invalid("kms.pkcs11.pin", "is required when kms.backend is pkcs11");
            }
            if pkcs11.token_label.is_empty() || pkcs11.token_label.len() > 32 {
                return invalid("kms.pkcs11.token_label", "must have 1 to 32 bytes");
            }
            if pkcs11.key_label.is_empty() || pkcs11.key_label.len() > 64 {
                return invalid("kms.pkcs11.key_label", "must have 1 to 64 bytes");
            }
        }
        if let Err((field, message)) = self.backup.validate() {
            return Err(ConfigError::Invalid { field, message });
        }
        if !self.insecure_demo
            && let Some(broken) = self.broken_promises().into_iter().find(|b| b.refused)
        {
            return Err(ConfigError::Invalid {
                field: broken.field,
                message: format!(
                    "{}: it breaks {} of the security page (set insecure_demo = true only for a demo or a test)",
                    broken.why, broken.control
                ),
            });
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(
                "log.level",
                "is not a valid filter (try `info` or `comanda_server=debug,info`)",
            );
        }
        Ok(())
    }

    /// The promises of the security page this configuration does not keep, each with its control.
    pub fn broken_promises(&self) -> Vec<BrokenPromise> {
        let mut broken = Vec::new();
        let mut add = |control, field, why: String, refused| {
            broken.push(BrokenPromise {
                control,
                field,
                why,
                refused,
            })
        };
        let cost = self.auth.bcrypt_cost;
        if cost < comanda_security::password::PRODUCTION_COST {
            add(
                "AUTH-2",
                "auth.bcrypt_cost",
                format!("bcrypt cost {cost} is below 12"),
                true,
            );
        }
        let grace = self.auth.refresh_grace_secs;
        if grace > 30 {
            add(
                "AUTH-6",
                "auth.refresh_grace_secs",
                format!("a spent refresh token stays usable {grace} s (at most 30)"),
                true,
            );
        }
        let rotation = self.auth.key_rotation_days;
        if rotation > 31 {
            add(
                "AUTH-7",
                "auth.key_rotation_days",
                format!("signing keys rotate every {rotation} days, not monthly (at most 31)"),
                true,
            );
        }
        let retention = self.backup.retention_days;
        if retention < 30 {
            add(
                "BAK-2",
                "backup.retention_days",
                format!("backups are kept {retention} days, not 30"),
                true,
            );
        }
        if let Some((a, b)) = self.backup.targets_sharing_storage() {
            add(
                "BAK-3",
                "backup.targets",
                format!("{a} and {b} share one filesystem or bucket, so they are not independent"),
                true,
            );
        }
        if self.backup.targets.is_empty() {
            add(
                "BAK-3",
                "backup.targets",
                "the embedded default keeps both backup copies in folders of one data directory, on one machine"
                    .into(),
                false,
            );
        }
        let stale = self.backup.restore_test_max_age_days;
        if stale > 31 {
            add(
                "BAK-4",
                "backup.restore_test_max_age_days",
                format!("a restore test is called stale after {stale} days, not 31"),
                true,
            );
        }
        // Reported, not refused: a deployment may run `comanda backup` from its own scheduler instead (the promise
        // is then kept outside this server), and alerts still reach the table and the error log.
        if !self.backup.enabled {
            add(
                "BAK-2",
                "backup.enabled",
                "this server runs no scheduled backup or pruning".into(),
                false,
            );
            add(
                "BAK-4",
                "backup.enabled",
                "this server runs no scheduled restore test and raises no stale-test alert".into(),
                false,
            );
        }
        // Reported, not refused: the embedded default delivers mail as files, for a demo or a machine without SMTP.
        if self.mail.sink == MailSink::File {
            add(
                "REST-1",
                "mail.sink",
                format!(
                    "queued mail is written in clear to {}/*.eml (names, addresses, invitation and booking links) and \
                     kept {} days; the database's copy is sealed, these files are not",
                    self.data_dir.join("outbox").display(),
                    self.mail.file_retention_days
                ),
                false,
            );
        }
        if self.alerts.webhook_url.is_none() {
            add(
                "MON-4",
                "alerts.webhook_url",
                "alerts reach the alerts table and the error log, but no on-call destination".into(),
                false,
            );
        }
        broken
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("comanda.db")
    }

    pub fn kms_key_path(&self) -> PathBuf {
        self.kms
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("kms.key"))
    }

    /// The platform data key, wrapped by the KMS (until it moves into the database).
    pub fn platform_key_path(&self) -> PathBuf {
        self.data_dir.join("platform.key.wrapped")
    }

    /// What backups need: the `[backup]` section, the data directory and the database.
    pub fn backup_setup(&self) -> comanda_backup::BackupSetup {
        comanda_backup::BackupSetup {
            config: self.backup.clone(),
            data_dir: self.data_dir.clone(),
            database: self.database_target(),
        }
    }

    /// The database as configured (the embedded default's SQLite file when none is); the serving store adds its
    /// KMS when it opens it.
    pub fn database_target(&self) -> comanda_store::DatabaseTarget {
        match &self.database.url {
            Some(url) => comanda_store::DatabaseTarget {
                url: url.expose().clone(),
                migration_url: self.database.migration_url.as_ref().map(|u| u.expose().clone()),
                max_connections: pool_size(self.database.max_connections, 16),
                kms: None,
            },
            None => comanda_store::DatabaseTarget {
                url: format!("sqlite://{}", self.sqlite_path().display()),
                migration_url: None,
                max_connections: pool_size(self.database.max_connections, 8),
                kms: None,
            },
        }
    }

    pub fn self_signed_paths(&self) -> (PathBuf, PathBuf) {
        let dir = self.data_dir.join("tls");
        (dir.join("cert.pem"), dir.join("key.pem"))
    }

    /// The configuration as TOML with every secret shown as `[redacted]` (`comanda config`).
    pub fn to_redacted_toml(&self) -> String {
        toml_string(self)
    }

    /// What the settings resolve to where they were left to their defaults (`comanda config`, after the settings):
    /// TOML comments, so the whole output still reads back as a configuration file.
    pub fn derived_comments(&self) -> String {
        let backup = self.backup_setup();
        let database = match &self.database.url {
            Some(_) => "PostgreSQL at database.url (shown redacted above)".to_owned(),
            None => format!("SQLite {}", self.sqlite_path().display()),
        };
        let kms = match self.kms.backend {
            KmsBackend::LocalFile => format!("key file {}", self.kms_key_path().display()),
            KmsBackend::Pkcs11 => format!(
                "PKCS#11 token {:?} through {}",
                self.kms.pkcs11.token_label,
                self.kms.pkcs11.module.display()
            ),
        };
        let tls = match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(cert), Some(key)) => format!("{} and {}", cert.display(), key.display()),
            _ => {
                let (cert, key) = self.self_signed_paths();
                format!("self-signed, {} and {}", cert.display(), key.display())
            }
        };
        let origin = self.server.public_url.clone().unwrap_or_else(|| {
            format!(
                "https://localhost:{} (server.public_url unset)",
                self.server.listen.port()
            )
        });
        let mut lines = vec![
            ("database", database),
            ("key-encryption key", kms),
            ("platform key", self.platform_key_path().display().to_string()),
            ("TLS certificate", tls),
            ("links and QR codes", origin),
            ("backup targets", backup.target_urls().join(", ")),
            ("backup key", backup.key_path().display().to_string()),
            (
                "key-store backup key",
                backup.keystore_key_path().display().to_string(),
            ),
        ];
        if self.mail.sink == MailSink::File {
            lines.push(("mail files", self.data_dir.join("outbox").display().to_string()));
        }
        let mut out = String::from("\n# What the settings above resolve to (derived, not settings):\n");
        for (what, value) in lines {
            out.push_str(&format!("#   {what:<22} {value}\n"));
        }
        out
    }

    pub fn is_embedded_database(&self) -> bool {
        self.database.url.is_none()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn issuer(&self) -> String {
        self.auth
            .issuer
            .clone()
            .or_else(|| self.server.public_url.clone())
            .unwrap_or_else(|| "https://localhost".into())
    }
}

/// Whether mail to this URL travels encrypted, or stays on this machine.
fn smtp_url_is_private(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let host_part = rest.rsplit('@').next().unwrap_or(rest);
    let host = host_part.split(['/', '?']).next().unwrap_or("");
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .trim_matches(['[', ']']);
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    scheme == "smtps" || (scheme == "smtp" && (rest.contains("tls=required") || loopback))
}

/// A URL as `comanda config` prints it: its scheme, host and port, so the operator still sees where it points; its
/// user part, path and query shown as `[redacted]` (services put keys in each: `user:key@`, a Slack-style
/// `/services/T…/B…/secret`, `?apikey=`).
fn url_without_credentials<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(url) = url else {
        return serializer.serialize_none();
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url.as_str()));
    // The user part ends at the last `@` (a password may hold a `/` or `?` written unencoded).
    let (user, rest) = match rest.rsplit_once('@') {
        Some((_, after)) => ("[redacted]@", after),
        None => ("", rest),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((before, _)) => (before, "?[redacted]"),
        None => (rest, ""),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() || path == "/" {
        path
    } else {
        "/[redacted]"
    };
    let host = format!("{user}{authority}");
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    serializer.serialize_some(&format!("{scheme}{host}{path}{query}"))
}

fn toml_string(config: &Config) -> String {
    // Through JSON first: TOML cannot express `None`, so unset options are dropped rather than failing.
    let value = strip_nulls(serde_json::to_value(config).unwrap_or_default());
    toml::to_string(&value).unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
}

fn strip_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The configured pool size, or the engine's default when it is 0.
fn pool_size(configured: u32, default: u32) -> u32 {
    if configured == 0 { default } else { configured }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_bcrypt_cost_is_the_default() {
        assert_eq!(Config::default().auth.bcrypt_cost, 12);
        assert_eq!(Config::default().auth.access_ttl_secs, 900);
        let mut config = Config::default();
        config.auth.access_ttl_secs = 3600;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("auth.access_ttl_secs")
        );
    }

    /// Issue 15: a setting that breaks a promise refuses to start unless the insecure demo switch is set, and then
    /// the promise is reported as not kept. The embedded default starts, its single-machine backups reported.
    #[test]
    fn settings_that_break_a_promise_need_the_insecure_demo_switch() {
        let defaults = Config::default();
        defaults.validate().unwrap();
        let reported: Vec<_> = defaults
            .broken_promises()
            .into_iter()
            .map(|b| (b.control, b.refused))
            .collect();
        assert_eq!(
            reported,
            vec![("BAK-3", false), ("REST-1", false), ("MON-4", false)],
            "one machine holds both default backup folders, mail files are in clear, and no on-call destination is \
             configured"
        );
        type Breaks = fn(&mut Config);
        let cases: [(&str, &str, Breaks); 6] = [
            ("auth.bcrypt_cost", "AUTH-2", |c| c.auth.bcrypt_cost = 10),
            ("auth.refresh_grace_secs", "AUTH-6", |c| {
                c.auth.refresh_grace_secs = 31
            }),
            ("auth.key_rotation_days", "AUTH-7", |c| {
                c.auth.key_rotation_days = 32
            }),
            ("backup.retention_days", "BAK-2", |c| c.backup.retention_days = 29),
            ("backup.restore_test_max_age_days", "BAK-4", |c| {
                c.backup.restore_test_max_age_days = 32
            }),
            ("backup.targets", "BAK-3", |c| {
                c.backup.targets = vec!["s3://one-bucket/eu".into(), "s3://one-bucket/us".into()]
            }),
        ];
        for (field, control, breaks) in cases {
            let mut config = Config::default();
            breaks(&mut config);
            let refused = config.validate().unwrap_err().to_string();
            assert!(refused.contains(field) && refused.contains(control), "{refused}");
            assert!(
                refused.contains("insecure_demo"),
                "the message names the switch: {refused}"
            );
            config.insecure_demo = true;
            config.validate().unwrap();
            assert!(
                config
                    .broken_promises()
                    .iter()
                    .any(|b| b.control == control && b.refused),
                "{control} is reported as not kept"
            );
        }
        let mut kept = Config::default();
        kept.auth.refresh_grace_secs = 30;
        kept.auth.key_rotation_days = 31;
        kept.backup.retention_days = 30;
        kept.backup.restore_test_max_age_days = 31;
        kept.validate().unwrap();
        let mut unscheduled = Config::default();
        unscheduled.backup.enabled = false;
        unscheduled.validate().unwrap();
        assert!(
            unscheduled
                .broken_promises()
                .iter()
                .any(|b| b.field == "backup.enabled" && !b.refused),
            "a server without the scheduler says so"
        );
    }

    #[test]
    fn defaults_are_the_embedded_default() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.data_dir, PathBuf::from("./comanda-data"));
        assert!(config.is_embedded_database());
    }

    #[test]
    fn redacted_config_never_shows_secrets() {
        let mut config = Config::default();
        config.database.url = Some(Secret::new("postgres://app:s3cr3t-pw@db.internal/comanda".into()));
        config.metrics.token = Some(Secret::new("metrics-token-value".into()));
        config.kms.pkcs11.pin = Some(Secret::new("hsm-pin-value".into()));
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("s3cr3t-pw"), "{printed}");
        assert!(!printed.contains("metrics-token-value"), "{printed}");
        assert!(!printed.contains("hsm-pin-value"), "{printed}");
        config.backup.s3.secret_access_key = Some(Secret::new("s3-secret-key-value".into()));
        config.backup.database_url = Some(Secret::new("postgres://backup:bk-pw@db/comanda".into()));
        let printed = config.to_redacted_toml();
        assert!(
            !printed.contains("s3-secret-key-value") && !printed.contains("bk-pw"),
            "{printed}"
        );
        assert!(printed.contains("retention_days = 30"), "{printed}");
        assert!(printed.contains("url = \"[redacted]\""), "{printed}");
        assert!(printed.contains("listen = \"127.0.0.1:8443\""), "{printed}");
        toml::from_str::<toml::Value>(&printed).expect("the printed configuration is TOML");
    }

    #[test]
    fn trace_settings_are_checked_and_their_headers_never_printed() {
        let refused = |config: &Config| config.validate().unwrap_err().to_string();
        let mut config = Config::default();
        config.traces.otlp_endpoint = Some("http://collector.internal:4318/v1/traces".into());
        assert!(refused(&config).contains("traces.otlp_endpoint"));
        config.traces.otlp_endpoint = Some("https://collector.internal:4318/v1/traces".into());
        config.traces.sample_ratio = 1.5;
        assert!(refused(&config).contains("traces.sample_ratio"));
        config.traces.sample_ratio = 0.25;
        config
            .traces
            .otlp_headers
            .insert("bad header".into(), Secret::new("x".into()));
        assert!(refused(&config).contains("traces.otlp_headers"));
        config.traces.otlp_headers.clear();
        config
            .traces
            .otlp_headers
            .insert("x-api-key".into(), Secret::new("line\nbreak-secret".into()));
        let message = refused(&config);
        assert!(
            message.contains("traces.otlp_headers") && !message.contains("break-secret"),
            "{message}"
        );
        config.traces.otlp_headers.clear();
        config
            .traces
            .otlp_headers
            .insert("x-honeycomb-team".into(), Secret::new("collector-api-key".into()));
        config.validate().unwrap();
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("collector-api-key"), "{printed}");
        // Credentials written into a URL (user part, query) are not printed either; where it points is.
        config.traces.otlp_endpoint = Some("https://tuser:TPASS@collector:4318/v1?key=QK".into());
        config.alerts.webhook_url =
            Some("https://user:PASSWORDINURL@hooks.example/hook?apikey=QUERYSECRET".into());
        let printed = config.to_redacted_toml();
        for secret in ["TPASS", "tuser", "QK", "PASSWORDINURL", "QUERYSECRET"] {
            assert!(!printed.contains(secret), "{secret}: {printed}");
        }
        assert!(
            printed.contains("https://[redacted]@collector:4318/[redacted]?[redacted]"),
            "{printed}"
        );
        assert!(
            printed.contains("https://[redacted]@hooks.example/[redacted]?[redacted]"),
            "{printed}"
        );
        assert!(printed.contains("sample_ratio = 0.25"), "{printed}");
        // A Slack-style key in the path, a password with an unencoded `/` and `?`.
        config.alerts.webhook_url = Some("https://hooks.slack.example/services/T000/B000/XXXXSECRET".into());
        config.traces.otlp_endpoint = Some("https://u:pa/ss?wd@collector.example:4318".into());
        let printed = config.to_redacted_toml();
        assert!(
            !printed.contains("XXXXSECRET") && !printed.contains("pa/ss"),
            "{printed}"
        );
        assert!(
            printed.contains("\"https://hooks.slack.example/[redacted]\""),
            "{printed}"
        );
        assert!(
            printed.contains("\"https://[redacted]@collector.example:4318\""),
            "{printed}"
        );
    }

    #[test]
    fn smtp_needs_tls_unless_the_relay_is_local() {
        assert!(smtp_url_is_private("smtps://u:p@smtp.example.com:465"));
        assert!(smtp_url_is_private(
            "smtp://u:p@smtp.example.com:587?tls=required"
        ));
        assert!(smtp_url_is_private("smtp://127.0.0.1:2525"));
        assert!(smtp_url_is_private("smtp://localhost:25"));
        assert!(!smtp_url_is_private("smtp://u:p@smtp.example.com:25"));
        assert!(!smtp_url_is_private(
            "smtp://u:p@smtp.example.com:587?tls=opportunistic"
        ));
        let mut config = Config::default();
        config.mail.sink = MailSink::Smtp;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("mail.smtp_url")
        );
    }

    #[test]
    fn a_sentry_dsn_is_checked_and_never_printed() {
        let mut config = Config::default();
        for (dsn, ok) in [
            ("https://0123456789abcdef@o1.ingest.sentry.io/42", true),
            ("http://0123456789abcdef@127.0.0.1:9000/42", true),
            ("http://0123456789abcdef@errors.example.co/42", false),
            ("https://errors.example.co/42", false),
            ("not a dsn", false),
        ] {
            config.errors.sentry_dsn = Some(Secret::new(dsn.into()));
            match config.validate() {
                Ok(()) => assert!(ok, "{dsn} accepted"),
                Err(ConfigError::Invalid { field, .. }) => {
                    assert!(!ok, "{dsn} refused");
                    assert_eq!(field, "errors.sentry_dsn");
                }
                Err(other) => panic!("{other}"),
            }
        }
        config.errors.sentry_dsn = Some(Secret::new(
            "https://0123456789abcdef@o1.ingest.sentry.io/42".into(),
        ));
        assert!(!config.to_redacted_toml().contains("0123456789abcdef"));
    }

    #[test]
    fn invalid_values_name_their_field() {
        let mut config = Config::default();
        config.server.body_limit_bytes = 10;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("server.body_limit_bytes")
        );
        let mut config = Config::default();
        config.database.url = Some(Secret::new("mysql://x".into()));
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("database.url")
        );
        let mut config = Config::default();
        config.tls.cert_file = Some("cert.pem".into());
        assert!(config.validate().unwrap_err().to_string().contains("tls"));
        // A state breach law's deadline is kept for a real US jurisdiction, once (`ca` and `CA` gave two clocks).
        for states in [&[("XX", 24)][..], &[("ca", 24), ("CA", 48)], &[("NY", 0)]] {
            let mut config = Config::default();
            config.incidents.us_state_notice_hours =
                states.iter().map(|(s, h)| ((*s).to_owned(), *h)).collect();
            let refused = config.validate().unwrap_err().to_string();
            assert!(
                refused.contains("incidents.us_state_notice_hours"),
                "{states:?}: {refused}"
            );
        }
        let mut config = Config::default();
        config.incidents.us_state_notice_hours = [("pr".to_owned(), 24), ("NY".to_owned(), 72)].into();
        assert!(config.validate().is_ok());
        // A job's interval of zero is refused, not raised to a floor behind the operator's back.
        type Zero = fn(&mut Config);
        let zeroed: [(&str, Zero); 4] = [
            ("audit.checkpoint_every_secs", |c| {
                c.audit.checkpoint_every_secs = 0
            }),
            ("audit.access_flush_millis", |c| c.audit.access_flush_millis = 0),
            ("payments.reconcile_every_secs", |c| {
                c.payments.reconcile_every_secs = 0
            }),
            ("payments.reconcile_window_hours", |c| {
                c.payments.reconcile_window_hours = 0
            }),
        ];
        for (field, zero) in zeroed {
            let mut config = Config::default();
            zero(&mut config);
            assert!(
                config.validate().unwrap_err().to_string().contains(field),
                "{field}"
            );
        }
        let mut config = Config::default();
        config.payments.reconcile_every_secs = 86_400;
        config.payments.reconcile_window_hours = 1;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("reconcile_window_hours"),
            "a window shorter than the time between runs"
        );
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let read = |toml: &str| {
            Figment::new()
                .merge(Toml::string(&format!("[server]\ntrusted_proxies = {toml}")))
                .extract::<Config>()
                .map_err(|e| e.to_string())
        };
        let config = read(r#"["10.0.0.5", "35.191.0.0/16", "2600:2d00:1:b029::/64"]"#).unwrap();
        assert_eq!(config.server.trusted_proxies.len(), 3);
        let printed = config.to_redacted_toml();
        assert!(
            printed.contains(r#"trusted_proxies = ["10.0.0.5", "35.191.0.0/16", "2600:2d00:1:b029::/64"]"#),
            "{printed}"
        );
        let refused = read(r#"["10.0.0.0/33"]"#).unwrap_err();
        assert!(
            refused.contains("trusted_proxies") && refused.contains("CIDR range"),
            "{refused}"
        );
    }

    #[test]
    fn pkcs11_kms_needs_a_pin_and_reads_its_mechanism() {
        let mut config = Config::default();
        config.kms.backend = KmsBackend::Pkcs11;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("kms.pkcs11.pin")
        );
        config.kms.pkcs11.pin = Some(Secret::new("1234".into()));
        config.validate().unwrap();
        let parsed: KmsConfig = toml::from_str(
            "backend = \"pkcs11\"\n[pkcs11]\nmodule = \"/opt/libkmsp11.so\"\ntoken_label = \"t\"\npin = \"x\"\n\
             key_label = \"comanda-kek\"\nmechanism = \"cloudkms-aes-gcm\"\n",
        )
        .unwrap();
        assert_eq!(parsed.backend, KmsBackend::Pkcs11);
        assert_eq!(
            parsed.pkcs11.settings().mechanism,
            comanda_security::kms::KekMechanism::CloudkmsAesGcm
        );
        assert_eq!(parsed.pkcs11.settings().pin.expose(), "x");
    }
}
