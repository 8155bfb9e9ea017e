//! Running the server: resources, migrations, the HTTPS listener with reloadable TLS, the optional HTTP→HTTPS
//! redirect listener, and graceful shutdown on SIGTERM or Ctrl-C.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_server::tls_rustls::RustlsConfig;
use comanda_domain::Clock;
use comanda_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{self, AppState};
use crate::auth::mail::Mailer;
use crate::config::Config;
use crate::embedded;
use crate::problem::{Problem, ProblemType};
use crate::tls;
use comanda_security::kms::{Kms, PlatformKeys};

/// A running server.
pub struct Server {
    pub https_addr: SocketAddr,
    pub http_redirect_addr: Option<SocketAddr>,
    /// What the server chose (database, key file, certificate), for the start banner.
    pub choices: Vec<String>,
    pub cert_resolver: Arc<tls::ReloadingCertResolver>,
    handle: axum_server::Handle<SocketAddr>,
    https_task: JoinHandle<std::io::Result<()>>,
    redirect_task: Option<JoinHandle<std::io::Result<()>>>,
    stop: watch::Sender<bool>,
    store: Arc<dyn Store>,
    grace: Duration,
    identity: Arc<crate::auth::Identity>,
    order_events: crate::events::OrderEvents,
    payments: Option<Arc<crate::payments::PaymentService>>,
    /// The application's state, for the upkeep tests run on demand.
    state: AppState,
}

/// Prepares everything, migrates the database and starts listening. Returns once the sockets are bound.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    let (resources, store, kms) = open_store(config, clock.as_ref()).await?;

    let resolver = Arc::new(tls::ReloadingCertResolver::load(
        &resources.cert_file,
        &resources.key_file,
    )?);
    let tls_config = RustlsConfig::from_config(tls::server_config(resolver.clone())?);

    let listener = TcpListener::bind(config.server.listen)
        .with_context(|| format!("binding the HTTPS listener {}", config.server.listen))?;
    listener.set_nonblocking(true)?;
    let https_addr = listener.local_addr()?;

    let platform_keys = platform_keys_under(config, &resources, kms).await?;
    let public_origin = config.server.public_url.clone().unwrap_or_else(|| {
        let local = format!("https://localhost:{}", https_addr.port());
        // Printed QR codes and mailed links carry this origin: said at start, before any is printed or sent.
        tracing::warn!(
            origin = %local,
            "server.public_url is not set: table QR codes, staff invitations and booking links point to this \
             machine; set it to the address guests and staff reach"
        );
        local
    });
    let state = AppState::assemble(
        config,
        store.clone(),
        clock.clone(),
        platform_keys.clone(),
        public_origin,
    )
    .await?;
    let identity = state.identity.clone();
    let order_events = state.order_events.clone();
    let payments = state.payments.clone();
    let audit = state.audit.clone();
    let mail_files = state.mail_files.clone();
    if let Some(standin) = payments.as_ref().and_then(|p| p.standin.as_ref()) {
        // Demo mode: the stand-in delivers its events to this server, trusting its certificate.
        let pem = std::fs::read(&resources.cert_file).unwrap_or_default();
        let url = |endpoint: crate::payments::WebhookEndpoint| {
            format!("https://localhost:{}{}", https_addr.port(), endpoint.path())
        };
        standin.set_webhooks(
            &url(crate::payments::WebhookEndpoint::Platform),
            &url(crate::payments::WebhookEndpoint::Connect),
            &pem,
        );
    }
    if let Some(mut notices) = store
        .order_event_notices()
        .await
        .context("listening for order events")?
    {
        let events = state.order_events.clone();
        tokio::spawn(async move {
            while let Some((partner, venue)) = notices.recv().await {
                events.announce(partner, venue);
            }
        });
    }
    let waitlist_state = state.clone();
    let live_checks = state.live_checks.clone();
    let router = app::build(state);
    let identity_for_server = identity.clone();
    let handle = axum_server::Handle::new();
    let mut server = axum_server::from_tcp_rustls(listener, tls_config)?.handle(handle.clone());
    server
        .http_builder()
        .http1()
        .header_read_timeout(Duration::from_secs(10));
    let https_task = tokio::spawn(server.serve(router.into_make_service_with_connect_info::<SocketAddr>()));

    let (stop, stop_rx) = watch::channel(false);
    spawn_live_checks(live_checks, https_addr, clock.clone(), stop_rx.clone());
    tls::spawn_reloader(
        resolver.clone(),
        Duration::from_secs(config.tls.reload_check_secs),
        stop_rx.clone(),
    );
    spawn_metrics_upkeep(stop_rx.clone());
    spawn_waitlist_upkeep(waitlist_state.clone(), stop_rx.clone());
    spawn_throttle_upkeep(identity.clone(), stop_rx.clone());
    spawn_key_rotation(
        identity,
        Duration::from_secs(config.auth.key_check_secs),
        stop_rx.clone(),
    );
    audit.spawn_flusher(
        Duration::from_millis(config.audit.access_flush_millis),
        stop_rx.clone(),
    );
    audit.spawn_upkeep(
        Duration::from_secs(config.audit.checkpoint_every_secs),
        stop_rx.clone(),
    );
    if let Some(service) = payments.clone() {
        spawn_payments_upkeep(waitlist_state.clone(), service, &config.payments, stop_rx.clone());
    }
    crate::incidents::spawn_clock_checks(
        store.clone(),
        clock.clone(),
        config.incidents.us_state_notice_hours.clone(),
        stop_rx.clone(),
    );
    if let Some(router) = crate::alert_routing::AlertRouter::from_config(&config.alerts)? {
        router.spawn(
            store.clone(),
            clock.clone(),
            Duration::from_secs(config.alerts.route_every_secs),
            stop_rx.clone(),
        );
    }
    if config.backup.enabled {
        let backups = comanda_backup::Backups::open(&config.backup_setup(), clock.clone(), false)
            .context("opening the backup targets")?;
        Arc::new(backups).spawn_scheduler(
            store.clone(),
            crate::audit::restore_checks(&platform_keys)?,
            stop_rx.clone(),
        );
    }
    Mailer::new(
        config.mail.sink,
        config.data_dir.join("outbox"),
        config
            .mail
            .from
            .clone()
            .unwrap_or_else(|| "comanda <no-reply@comanda.dev>".into()),
        config.mail.smtp_url.as_ref().map(|u| u.expose().as_str()),
    )
    .map_err(anyhow::Error::msg)?
    .spawn(store.clone(), clock.clone(), mail_files, stop_rx.clone());

    let (redirect_task, http_redirect_addr) = match config.server.http_redirect_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the HTTP redirect listener {addr}"))?;
            let bound = listener.local_addr()?;
            let target = RedirectTarget {
                public_url: config.server.public_url.clone(),
                https_port: https_addr.port(),
            };
            let router = Router::new()
                .fallback(redirect_to_https)
                .with_state(Arc::new(target));
            let mut stop_rx = stop_rx.clone();
            let task = tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.changed().await;
                    })
                    .await
            });
            (Some(task), Some(bound))
        }
        None => (None, None),
    };

    let mut choices = resources.choices;
    choices.insert(0, format!("listening on https://{https_addr}"));
    if let Some(addr) = http_redirect_addr {
        choices.push(format!("plain HTTP on http://{addr} redirects to HTTPS"));
    }
    choices.push(match payments.as_ref() {
        None => "card payments: off".to_owned(),
        Some(p) if p.standin.is_some() => format!(
            "card payments: DEMO MODE — a local Stripe stand-in at {} (test cards, no real money); set payments.provider = \"stripe\" for real payments",
            p.api_base
        ),
        Some(p) => format!("card payments: Stripe at {}", p.api_base),
    });
    choices.push(match &config.traces.otlp_endpoint {
        Some(_) => format!(
            "request traces: to {}",
            crate::logging::traces_destination(&config.traces)
        ),
        None => "request traces: off".to_owned(),
    });
    choices.push(match &config.auth.geoip_database {
        Some(path) => format!("sign-in places: {}", path.display()),
        None => "sign-in places: off (no auth.geoip_database)".to_owned(),
    });
    choices.push(match config.server.trusted_proxies.as_slice() {
        [] => "trusted proxies: none (the TCP peer is the client; X-Forwarded-For is ignored)".to_owned(),
        proxies => format!(
            "trusted proxies: {}",
            proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    // Only the scheme and host: a webhook's path often carries its own credential.
    choices.push(
        match config
            .alerts
            .webhook_url
            .as_deref()
            .and_then(|url| reqwest::Url::parse(url).ok())
        {
            Some(url) => format!(
                "alerts: on call via webhook to {}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or(""),
                url.port().map(|port| format!(":{port}")).unwrap_or_default()
            ),
            None => "alerts: the alerts table and the error log only (no alerts.webhook_url)".to_owned(),
        },
    );
    // The start banner says which promises of the security page this configuration does not keep.
    for broken in config.broken_promises() {
        let switch = if broken.refused { " (insecure_demo)" } else { "" };
        choices.push(format!(
            "NOT KEPT {}{switch}: {} — {}",
            broken.control, broken.field, broken.why
        ));
        tracing::warn!(control = broken.control, field = broken.field, why = %broken.why, "a security promise is not kept");
    }
    Ok(Server {
        https_addr,
        http_redirect_addr,
        choices,
        cert_resolver: resolver,
        handle,
        https_task,
        redirect_task,
        stop,
        store,
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
        identity: identity_for_server,
        order_events,
        payments,
        state: waitlist_state,
    })
}

/// Owed transfers retried and abandoned holds released every `upkeep_secs`; payments reconciled with Stripe every
/// `reconcile_every_secs` over the last `reconcile_window_hours` (MON-3).
fn spawn_payments_upkeep(
    state: AppState,
    service: Arc<crate::payments::PaymentService>,
    config: &crate::config::PaymentsConfig,
    mut stop: watch::Receiver<bool>,
) {
    let upkeep_every = Duration::from_secs(config.upkeep_secs);
    let reconcile_every = Duration::from_secs(config.reconcile_every_secs);
    let window = time::Duration::hours(i64::try_from(config.reconcile_window_hours).unwrap_or(48));
    tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(upkeep_every);
        let mut reconcile = tokio::time::interval(reconcile_every);
        upkeep.tick().await;
        reconcile.tick().await;
        loop {
            tokio::select! {
                _ = upkeep.tick() => run_payments_upkeep(&state, &service).await,
                _ = reconcile.tick() => {
                    let now = state.clock.now();
                    if let Err(error) = crate::payments::reconcile(&state.store, &service, now - window, now).await {
                        tracing::error!(%error, "payment reconciliation could not run");
                    }
                }
                _ = stop.changed() => return,
            }
        }
    });
}

/// Runs the controls map's live checks against this server's own listener a second after it starts, then every
/// hour, for the trust page; a failure is also a warning in the log.
fn spawn_live_checks(
    report: Arc<arc_swap::ArcSwapOption<crate::live_checks::LiveReport>>,
    listening: SocketAddr,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    // A listener on every address is probed on the loopback of its family.
    let target = match listening.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], listening.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, listening.port()))
        }
        _ => listening,
    };
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(3600),
        );
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let checked = crate::live_checks::run(target, "localhost", clock.now()).await;
                    for failed in checked.checks.iter().filter(|c| !c.passed) {
                        tracing::warn!(check = failed.name, observed = %failed.observed, "a live check failed");
                    }
                    report.store(Some(Arc::new(checked)));
                }
                _ = stop.changed() => return,
            }
        }
    });
}

/// Expires waitlist offers not accepted in time and offers their tables on, every 30 seconds.
fn spawn_waitlist_upkeep(state: AppState, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(30));
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => crate::waitlist::upkeep(&state).await,
                _ = stop.changed() => return,
            }
        }
    });
}

fn spawn_metrics_upkeep(mut stop: watch::Receiver<bool>) {
    let handle = app::metrics_handle();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = ticker.tick() => handle.run_upkeep(),
                _ = stop.changed() => return,
            }
        }
    });
}

/// Every minute the throttle forgets the addresses and accounts whose budgets have refilled (INF-1: an address scan
/// cannot grow memory without bound).
fn spawn_throttle_upkeep(identity: Arc<crate::auth::Identity>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = ticker.tick() => identity.throttle.forget_idle(),
                _ = stop.changed() => return,
            }
        }
    });
}

/// Checks every `period` (`auth.key_check_secs`, a minute by default) whether the signing key is due for rotation
/// (the instance that wins rotates; the others reload), and picks up keys rotated elsewhere.
fn spawn_key_rotation(
    identity: Arc<crate::auth::Identity>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Err(error) = identity.keys.rotate_if_due().await {
                        tracing::error!(%error, "signing key rotation check failed");
                    }
                }
                _ = stop.changed() => return,
            }
        }
    });
}

/// The payments upkeep, then what a released deposit hold leaves to do: its guest told, its tables offered on.
async fn run_payments_upkeep(state: &AppState, service: &crate::payments::PaymentService) {
    for (scope, released) in crate::payments::upkeep(&state.store, service, &state.clock).await {
        crate::waitlist::holds_lapsed(state, &scope, &released).await;
    }
}

impl Server {
    /// The payments upkeep now, with what it leaves to the waitlist (tests run it after moving the clock).
    pub async fn run_payments_upkeep(&self) {
        if let Some(service) = &self.payments {
            run_payments_upkeep(&self.state, service).await;
        }
    }

    /// The waitlist's upkeep now (tests run it after moving the clock instead of waiting for its tick).
    pub async fn run_waitlist_upkeep(&self) {
        crate::waitlist::upkeep(&self.state).await;
    }

    /// The audit trail (an operator's anchoring after review, in tests).
    pub fn audit(&self) -> &Arc<crate::audit::AuditTrail> {
        &self.state.audit
    }

    /// The audit trail's checkpoints and retention now (tests run it after moving the clock).
    pub async fn run_audit_upkeep(&self) -> comanda_store::StoreResult<crate::audit::UpkeepReport> {
        self.state.audit.upkeep().await
    }

    /// Card payments as this server runs them (tests reach the demo mode's Stripe stand-in through it).
    pub fn payments(&self) -> Option<&Arc<crate::payments::PaymentService>> {
        self.payments.as_ref()
    }

    pub fn identity(&self) -> &crate::auth::Identity {
        &self.identity
    }

    /// The key under which login emails are indexed (tests read what was stored).
    pub fn identity_email_index(&self) -> comanda_security::Secret<[u8; 32]> {
        self.identity.email_index()
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, then closes the database pool.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!(grace_secs = self.grace.as_secs(), "shutting down");
        let _ = self.stop.send(true);
        self.order_events.close();
        self.handle.graceful_shutdown(Some(self.grace));
        self.https_task.await.context("HTTPS server task")??;
        if let Some(task) = self.redirect_task {
            task.await.context("redirect server task")??;
        }
        // What this server wrote since its last checkpoint is signed before the database closes, so it is anchored
        // while the server is down (MON-5).
        match self.state.audit.checkpoint_all().await {
            Ok(signed) => tracing::info!(signed, "audit checkpoints at shutdown"),
            Err(error) => tracing::warn!(%error, "audit checkpoints at shutdown failed"),
        }
        self.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
        self.shutdown().await
    }
}

#[derive(Debug)]
struct RedirectTarget {
    public_url: Option<String>,
    https_port: u16,
}

/// Plain HTTP does nothing but send the client to the same path over HTTPS.
async fn redirect_to_https(State(target): State<Arc<RedirectTarget>>, request: Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let origin = match &target.public_url {
        Some(origin) => origin.clone(),
        None => {
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(host_without_port);
            let Some(host) = host else {
                return Problem::new(ProblemType::Validation)
                    .detail("a valid Host header is required")
                    .into_response();
            };
            if target.https_port == 443 {
                format!("https://{host}")
            } else {
                format!("https://{host}:{}", target.https_port)
            }
        }
    };
    match HeaderValue::from_str(&format!("{origin}{path}")) {
        Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
        Err(_) => Problem::new(ProblemType::Validation)
            .detail("the request target is not valid")
            .into_response(),
    }
}

/// The host part of a `Host` header, accepted only when it is a plain DNS name, IPv4 or bracketed IPv6 literal, so
/// a forged header cannot smuggle a different URL into the redirect.
fn host_without_port(value: &str) -> Option<&str> {
    let host = if value.starts_with('[') {
        &value[..=value.find(']')?]
    } else {
        value.split(':').next()?
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
    valid.then_some(host)
}

/// The configured KMS and the platform key it unwraps, off the async threads (PKCS#11 calls block).
/// The platform key under the configured KMS, made (and stored wrapped) when this run made the key file: `comanda
/// migrate` calls it too, so a first `migrate` then `serve` (the documented PostgreSQL order) makes a new platform
/// key instead of taking the next run for a data directory from before envelope encryption.
pub async fn open_platform_keys(
    config: &Config,
    resources: &embedded::Resources,
) -> anyhow::Result<Arc<PlatformKeys>> {
    let kms = open_kms(config).await?;
    platform_keys_under(config, resources, kms).await
}

/// The resources, the migrated store with the KMS that seals its personal data (REST-1), and that KMS.
async fn open_store(
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<(embedded::Resources, Arc<dyn Store>, Arc<dyn Kms>)> {
    let resources = embedded::prepare(config, clock)?;
    let report = comanda_store::migrate(&resources.database)
        .await
        .context("migrating the database")?;
    for applied in &report.applied {
        tracing::info!(version = applied.version, name = %applied.name, "migration applied");
    }
    let kms = open_kms(config).await?;
    let database = comanda_store::DatabaseTarget {
        kms: Some(kms.clone()),
        ..resources.database.clone()
    };
    let store = comanda_store::connect(&database)
        .await
        .context("opening the database")?;
    Ok((resources, store, kms))
}

/// What the server would serve with, without listening: for commands that act as it does (`comanda seed`).
pub async fn offline_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let (resources, store, kms) = open_store(config, clock.as_ref()).await?;
    let platform_keys = platform_keys_under(config, &resources, kms).await?;
    let origin = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| "https://localhost".into());
    AppState::assemble(config, store, clock, platform_keys, origin).await
}

/// The configured KMS, opened off the async threads (a PKCS#11 module may block).
async fn open_kms(config: &Config) -> anyhow::Result<Arc<dyn Kms>> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || embedded::open_kms(&config))
        .await
        .context("opening the KMS")?
        .context("opening the KMS")
}

/// The platform key, unwrapped by `kms` (made on a first start).
async fn platform_keys_under(
    config: &Config,
    resources: &embedded::Resources,
    kms: Arc<dyn Kms>,
) -> anyhow::Result<Arc<PlatformKeys>> {
    let config = config.clone();
    let created = resources.kms_key_created;
    let keys = tokio::task::spawn_blocking(move || embedded::platform_keys(&config, kms.as_ref(), created))
        .await
        .context("opening the KMS")??;
    Ok(Arc::new(keys))
}

/// `comanda keys rotate-kek` and `comanda keys rewrap` (REST-3): optionally a new key-encryption-key version, then
/// the platform key re-encrypted under the newest version. Returns the platform key's KEK version before and after.
pub async fn rewrap_platform_key(
    config: &Config,
    clock: Arc<dyn Clock>,
    new_version: bool,
) -> anyhow::Result<(u32, u32)> {
    embedded::prepare(config, clock.as_ref())?;
    let config = config.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<(u32, u32)> {
        let kms: Arc<dyn Kms> = embedded::open_kms(&config)?;
        // A first run makes the platform key, so there is something to rewrap.
        embedded::platform_keys(&config, kms.as_ref(), false)?;
        if new_version {
            let version = kms.create_new_version()?;
            tracing::info!(version, "new key-encryption-key version");
        }
        Ok(embedded::rewrap_platform_key(&config, kms.as_ref())?)
    })
    .await
    .context("rewrapping the platform key")?
}

/// `comanda keys rewrap` (REST-3): every partner's and person's data key in the database moved to the KMS's newest
/// key-encryption-key version, without downtime (the data keys themselves do not change). Returns how many moved.
pub async fn rewrap_data_keys(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<u64> {
    let resources = embedded::prepare(config, clock.as_ref())?;
    comanda_store::migrate(&resources.database)
        .await
        .context("migrating the database")?;
    let kms = open_kms(config).await?;
    let store = comanda_store::connect(&comanda_store::DatabaseTarget {
        kms: Some(kms),
        ..resources.database.clone()
    })
    .await
    .context("opening the database")?;
    let mut moved = 0;
    for partner in store.audited_partners().await? {
        let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
            "keys-rewrap",
            partner,
        ));
        moved += store.rewrap_data_keys(&scope).await?;
    }
    store.close().await;
    Ok(moved)
}

/// `comanda keys …`: the key manager over the configured database and KMS, without serving.
pub async fn key_manager(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<crate::auth::keys::KeyManager> {
    let resources = embedded::prepare(config, clock.as_ref())?;
    comanda_store::migrate(&resources.database)
        .await
        .context("migrating the database")?;
    let store = comanda_store::connect(&resources.database)
        .await
        .context("opening the database")?;
    let kms = open_platform_keys(config, &resources).await?;
    let rotation = time::Duration::days(i64::try_from(config.auth.key_rotation_days).unwrap_or(30));
    Ok(crate::auth::keys::KeyManager::open(
        store,
        kms,
        clock,
        config.issuer(),
        config.auth.audience.clone(),
        rotation,
    )
    .await?)
}

/// Signs a checkpoint over every audit chain a command appended to, as `comanda serve` does every few minutes, so
/// entries written while no server runs are anchored too (MON-5: `verify` requires old entries to be covered).
/// Run by the commands that append (`backup verify`, `partners offboard`, `seed`), never by `audit verify`, which
/// must not anchor what it is checking.
pub async fn checkpoint_audit_chains(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<usize> {
    let (store, trail) = offline_trail(config, clock).await?;
    let signed = trail.checkpoint_all().await?;
    store.close().await;
    Ok(signed)
}

/// `comanda seed`: signs the chains of the partners it created (histories of past instants; see
/// [`crate::audit::AuditTrail::sign_new_partner`]), then every other chain as the server would.
pub async fn checkpoint_seeded_chains(
    config: &Config,
    clock: Arc<dyn Clock>,
    partners: &[comanda_domain::PartnerId],
) -> anyhow::Result<usize> {
    let (store, trail) = offline_trail(config, clock).await?;
    let mut signed = 0;
    for partner in partners {
        let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
            "seed-checkpoint",
            *partner,
        ));
        signed += trail.sign_new_partner(&scope).await?;
    }
    signed += trail.checkpoint_all().await?;
    store.close().await;
    Ok(signed)
}

/// The configured database and the audit trail over it, for a command (the caller closes the store).
async fn offline_trail(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<dyn Store>, crate::audit::AuditTrail)> {
    let resources = embedded::prepare(config, clock.as_ref())?;
    let store = comanda_store::open(&resources.database).await?;
    let keys = open_platform_keys(config, &resources).await?;
    let trail = crate::audit::AuditTrail::new(store.clone(), clock, &keys)?
        .checkpointed_every(Duration::from_secs(config.audit.checkpoint_every_secs));
    Ok((store, trail))
}

/// `comanda audit anchor`: an operator signs a partner's chain after looking into `audit.unanchored` (see
/// [`crate::audit::AuditTrail::anchor_after_review`]).
pub async fn anchor_audit_chain(
    config: &Config,
    clock: Arc<dyn Clock>,
    partner: comanda_domain::PartnerId,
    reason: &str,
) -> anyhow::Result<usize> {
    let (store, trail) = offline_trail(config, clock).await?;
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "audit-anchor",
        partner,
    ));
    let signed = trail.anchor_after_review(&scope, reason).await?;
    store.close().await;
    Ok(signed)
}

/// One partner's verification, as `comanda audit verify` prints it.
#[derive(Debug)]
pub struct ChainStatus {
    pub partner: comanda_domain::PartnerId,
    pub outcome:
        Result<comanda_security::audit_chain::VerifiedChain, comanda_security::audit_chain::ChainBreak>,
}

/// `comanda audit verify`: every partner's chain (or one), verified against the configured database and KMS.
pub async fn verify_audit_chains(
    config: &Config,
    clock: Arc<dyn Clock>,
    only: Option<comanda_domain::PartnerId>,
) -> anyhow::Result<(Vec<ChainStatus>, Vec<&'static str>)> {
    let (store, trail) = offline_trail(config, clock).await?;
    let missing_guards = store.missing_audit_guards().await?;
    let partners = match only {
        Some(partner) => vec![partner],
        None => store.audited_partners().await?,
    };
    let mut statuses = Vec::with_capacity(partners.len());
    for partner in partners {
        let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
            "audit-verify",
            partner,
        ));
        statuses.push(ChainStatus {
            partner,
            outcome: trail.verify(&scope).await?,
        });
    }
    store.close().await;
    Ok((statuses, missing_guards))
}

/// `comanda partners offboard`: destroys the partner's data keys and every way in (PRIV-1), audited in the same
/// transaction. Backups: neither key table is in the ordinary backups, so the keys survive only in the key-store
/// backups, for `backup.keystore_retention_days`.
pub async fn offboard_partner(
    config: &Config,
    clock: Arc<dyn Clock>,
    partner: comanda_domain::PartnerId,
) -> anyhow::Result<comanda_store::privacy::Offboarding> {
    let resources = embedded::prepare(config, clock.as_ref())?;
    let store = comanda_store::open(&resources.database).await?;
    let scope = comanda_security::TenantScope::from_proof(&comanda_security::tenancy::JobAuthority::new(
        "partner-offboarding",
        partner,
    ));
    if !store.audited_partners().await?.contains(&partner) {
        store.close().await;
        anyhow::bail!("no partner {partner}");
    }
    let audit = comanda_store::identity::AuditEntry::new("partner.offboarded")
        .target(partner.to_string())
        .detail("by=operator via comanda partners offboard");
    let done = store.offboard_partner(&scope, &audit, clock.now()).await;
    store.close().await;
    let done = done?;
    // The mail files are personal data outside the sealed store (docs/privacy.md): they go with the partner.
    if let Some(files) = crate::auth::mail::MailFiles::configured(config) {
        let removed = files.erase_partner(partner).await;
        tracing::info!(removed, "the offboarded partner's mail files deleted");
    }
    Ok(done)
}

/// A partner as `comanda partners list` shows it to the operator.
#[derive(Debug)]
pub struct PartnerListing {
    pub partner: comanda_domain::Partner,
    pub venues: Vec<comanda_domain::Venue>,
    pub offboarded: bool,
}

/// `comanda partners list`: every partner in the platform's directory, oldest first, with its venues (the ids the
/// other commands take: `partners offboard --partner`, `incidents breach --partner`).
pub async fn list_partners(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Vec<PartnerListing>> {
    let resources = embedded::prepare(config, clock.as_ref())?;
    let store = comanda_store::open(&resources.database).await?;
    let listed = async {
        let offboarded = store.offboarded_partners().await?;
        let mut listed = Vec::new();
        for id in store.audited_partners().await? {
            let scope = comanda_security::TenantScope::from_proof(
                &comanda_security::tenancy::JobAuthority::new("partners-list", id),
            );
            let partner = store.partner(&scope).await?;
            let venues = comanda_domain::collect_all(|page| store.list_venues(&scope, page)).await?;
            listed.push(PartnerListing {
                partner,
                venues,
                offboarded: offboarded.contains(&id),
            });
        }
        listed.sort_by_key(|l| l.partner.created_at);
        anyhow::Ok(listed)
    }
    .await;
    store.close().await;
    listed
}

/// The checks of `comanda backup verify`: the backup crate's own and the audit chain's (BAK-4).
pub async fn restore_checks(config: &Config) -> anyhow::Result<Vec<Arc<dyn comanda_backup::ScratchCheck>>> {
    let resources = embedded::prepare(config, &crate::SystemClock)?;
    let keys = open_platform_keys(config, &resources).await?;
    crate::audit::restore_checks(&keys)
}

/// `comanda backup …`: the backups of the configured database, and the store their runs and alerts go to (None
/// for a restore, which must not open the database it replaces).
pub async fn backups(
    config: &Config,
    clock: Arc<dyn Clock>,
    open_store: bool,
) -> anyhow::Result<(comanda_backup::Backups, Option<Arc<dyn Store>>)> {
    let resources = embedded::prepare(config, clock.as_ref())?;
    let backups = comanda_backup::Backups::open(&config.backup_setup(), clock, true)?;
    let store = if open_store {
        Some(
            comanda_store::open(&resources.database)
                .await
                .context("opening the database")?,
        )
    } else {
        None
    };
    Ok((backups, store))
}

/// `comanda payments reconcile`: the reconciliation job, run once by hand against the configured Stripe.
pub async fn reconcile_payments(
    config: &Config,
    clock: Arc<dyn Clock>,
    hours: u64,
) -> anyhow::Result<Vec<String>> {
    if config.payments.provider != crate::config::PaymentProvider::Stripe {
        anyhow::bail!(
            "payments.provider is not \"stripe\": demo mode's stand-in lives inside `comanda serve`"
        );
    }
    let resources = embedded::prepare(config, clock.as_ref())?;
    let store = comanda_store::open(&resources.database).await?;
    let service = crate::payments::PaymentService::from_config(&config.payments, clock.clone())
        .await?
        .context("payments are off")?;
    let now = clock.now();
    let window = time::Duration::hours(i64::try_from(hours).unwrap_or(48));
    let mismatches = crate::payments::reconcile(&store, &service, now - window, now).await?;
    store.close().await;
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_is_reduced_to_a_safe_host() {
        assert_eq!(host_without_port("example.com:80"), Some("example.com"));
        assert_eq!(host_without_port("[::1]:8080"), Some("[::1]"));
        assert_eq!(host_without_port("evil.com/x?"), None);
        assert_eq!(host_without_port("a@b"), None);
        assert_eq!(host_without_port(""), None);
    }
}
