//! The application: shared state and the router with every layer, built once for the server and for tests.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use comanda_domain::Clock;
use comanda_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::keys::KeyManager;
use crate::auth::{AuthSettings, Identity};
use crate::config::Config;
use crate::middleware::{self, TrustedProxies};
use crate::pan_guard::{BodyLimit, pan_guard};
use crate::problem::{Problem, ProblemType};
use crate::routes::{
    analytics, app_pages, auth, guest, ordering, pages, payments, platform, privacy, reservations, staff,
    stream, trust, waitlist,
};
use comanda_security::kms::PlatformKeys;
use comanda_security::password::PasswordHasher;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: PrometheusHandle,
    pub settings: Arc<Settings>,
    pub openapi_json: Arc<OnceLock<String>>,
    pub identity: Arc<Identity>,
    /// Signs and checks table tokens (the guests' credential).
    pub table_key: comanda_security::Secret<[u8; 32]>,
    /// Signs the guest's link to view or cancel a reservation (`comanda_security::booking_link`).
    pub booking_key: comanda_security::Secret<[u8; 32]>,
    /// Keys the digest an idempotency record keeps of its request (`crate::idempotency`): a body can hold a password
    /// (a step-up), and a plain SHA-256 of it at rest could be tried against a dictionary.
    pub request_digest_key: comanda_security::Secret<[u8; 32]>,
    /// Public availability answers, kept for two seconds and dropped when this instance changes a venue's bookings.
    pub availability: Arc<crate::availability_cache::AvailabilityCache>,
    pub order_events: crate::events::OrderEvents,
    /// Card payments (`None` when switched off).
    pub payments: Option<Arc<crate::payments::PaymentService>>,
    /// `integrity` of the payment page's own script (PAY-3).
    pub pay_script_integrity: Arc<str>,
    /// The tamper-evident audit trail: access records, checkpoints, retention, verification.
    pub audit: Arc<crate::audit::AuditTrail>,
    /// The `file` mail sink's messages at rest (`None` with another sink).
    pub mail_files: Option<crate::auth::mail::MailFiles>,
    /// The last live checks this server ran against its own listener (the trust page shows them).
    pub live_checks: Arc<arc_swap::ArcSwapOption<crate::live_checks::LiveReport>>,
}

impl AppState {
    /// Everything the routes share, from the configuration and the resources it resolved to.
    pub async fn assemble(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        kms: Arc<PlatformKeys>,
        public_origin: String,
    ) -> anyhow::Result<Self> {
        let hasher = PasswordHasher::new(kms.derive("password-pepper"), config.auth.bcrypt_cost);
        let keys = KeyManager::start(
            store.clone(),
            kms.clone(),
            clock.clone(),
            config.issuer(),
            config.auth.audience.clone(),
            time::Duration::days(i64::try_from(config.auth.key_rotation_days).unwrap_or(30)),
        )
        .await?;
        let seconds = |s: u64| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        let auth = AuthSettings {
            access_ttl: seconds(config.auth.access_ttl_secs),
            second_factor_ttl: time::Duration::minutes(5),
            session: time::Duration::days(i64::try_from(config.auth.session_days).unwrap_or(30)),
            refresh_grace: seconds(config.auth.refresh_grace_secs),
            invitation_ttl: time::Duration::hours(
                i64::try_from(config.auth.invitation_ttl_hours).unwrap_or(72),
            ),
            public_origin,
            geoip: match &config.auth.geoip_database {
                Some(path) => Some(Arc::new(
                    crate::auth::geoip::GeoIp::open(path)
                        .map_err(|error| anyhow::anyhow!("auth.geoip_database: {error}"))?,
                )),
                None => None,
            },
        };
        let table_key = kms.derive("table-token");
        let booking_key = kms.derive("reservation-manage-link");
        let request_digest_key = kms.derive("idempotency-request-digest");
        let audit = Arc::new(
            crate::audit::AuditTrail::new(store.clone(), clock.clone(), &kms)?
                .checkpointed_every(std::time::Duration::from_secs(config.audit.checkpoint_every_secs)),
        );
        let identity = Identity::new(store.clone(), clock.clone(), kms, hasher, keys, auth);
        let payments = crate::payments::PaymentService::from_config(&config.payments, clock.clone())
            .await?
            .map(Arc::new);
        Ok(Self {
            settings: Arc::new(Settings::from_config(config, clock.now())),
            store,
            clock,
            metrics: metrics_handle(),
            openapi_json: Arc::new(OnceLock::new()),
            identity: Arc::new(identity),
            table_key,
            booking_key,
            request_digest_key,
            availability: Arc::default(),
            order_events: crate::events::OrderEvents::default(),
            payments,
            pay_script_integrity: crate::routes::app_pages::pay_script_integrity().into(),
            audit,
            mail_files: crate::auth::mail::MailFiles::configured(config),
            live_checks: Arc::default(),
        })
    }
}

/// The parts of the configuration that handlers read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub security_txt: String,
    pub metrics_token: Option<comanda_security::Secret<String>>,
    pub body_limit_bytes: usize,
    pub trusted_proxies: TrustedProxies,
    /// The promises of the security page this configuration does not keep: control and why (the trust page).
    pub broken_promises: Vec<(&'static str, String)>,
    /// How long a destroyed person key survives in key-store backups (`backup.keystore_retention_days`): the
    /// privacy notice tells guests.
    pub keystore_retention_days: u64,
}

impl Settings {
    pub fn from_config(config: &Config, now: time::OffsetDateTime) -> Self {
        Self {
            security_txt: platform::security_txt(
                &config.security_txt,
                config.server.public_url.as_deref(),
                now,
            ),
            metrics_token: config.metrics.token.clone(),
            body_limit_bytes: config.server.body_limit_bytes,
            trusted_proxies: TrustedProxies(config.server.trusted_proxies.clone()),
            broken_promises: config
                .broken_promises()
                .into_iter()
                .map(|b| (b.control, format!("{} ({})", b.why, b.field)))
                .collect(),
            keystore_retention_days: config.backup.keystore_retention_days,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "comanda",
        description = "Order and pay at the table for restaurants: menus, orders, the kitchen feed, split payments and \
                       tips. Errors are RFC 9457 \
                       problem documents (application/problem+json) with a stable `type`.",
        license(name = "Proprietary")
    ),
    tags(
        (name = "platform", description = "Health, metrics, discovery"),
        (name = "pages", description = "Server-rendered pages"),
        (name = "identity", description = "Sign-up, sign-in, second factor, sessions"),
        (name = "staff", description = "Staff, roles and the audit trail"),
        (name = "privacy", description = "Data-subject requests: export, rectification, erasure"),
        (name = "venues", description = "Venues and tables with their QR codes"),
        (name = "menu", description = "Bilingual menus"),
        (name = "orders", description = "The order queue and the kitchen feed"),
        (name = "guests", description = "What a guest at a table can do with its table token"),
        (name = "payments", description = "Paying at the table, Stripe webhooks, payouts, refunds, disputes, tips"),
        (name = "analytics", description = "Sales reports on each venue's business days (docs/analytics.md)"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Builds the router and the OpenAPI document describing exactly its routes.
pub fn build(state: AppState) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(platform::healthz))
        .routes(routes!(platform::readyz))
        .routes(routes!(platform::metrics))
        .routes(routes!(platform::openapi))
        .routes(routes!(platform::security_txt_route))
        .routes(routes!(platform::csp_report))
        .routes(routes!(pages::landing))
        .routes(routes!(pages::stylesheet))
        .routes(routes!(pages::favicon))
        .routes(routes!(pages::favicon_svg))
        .routes(routes!(trust::trust))
        .routes(routes!(app_pages::signup))
        .routes(routes!(app_pages::signin))
        .routes(routes!(app_pages::enroll))
        .routes(routes!(app_pages::dashboard))
        .routes(routes!(app_pages::staff))
        .routes(routes!(app_pages::invitation))
        .routes(routes!(app_pages::script))
        .routes(routes!(app_pages::guest))
        .routes(routes!(app_pages::kitchen))
        .routes(routes!(app_pages::booking_widget))
        .routes(routes!(app_pages::privacy_notice))
        .routes(routes!(app_pages::host))
        .routes(routes!(app_pages::booking_settings))
        .routes(routes!(app_pages::menu_editor))
        .routes(routes!(app_pages::tables))
        .routes(routes!(app_pages::payments))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::enroll))
        .routes(routes!(auth::confirm))
        .routes(routes!(auth::verify))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::compromised))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::reenroll))
        .routes(routes!(auth::confirm_reenroll))
        .routes(routes!(auth::recovery_codes))
        .routes(routes!(auth::disable_mfa))
        .routes(routes!(auth::me))
        .routes(routes!(auth::jwks))
        .routes(routes!(staff::invite, staff::list))
        .routes(routes!(staff::update, staff::remove))
        .routes(routes!(staff::accept_invitation))
        .routes(routes!(staff::invitations))
        .routes(routes!(staff::revoke_invitation))
        .routes(routes!(staff::audit))
        .routes(routes!(staff::audit_csv))
        .routes(routes!(staff::verify_audit))
        .routes(routes!(privacy::request))
        .routes(routes!(privacy::leave_contact))
        .routes(routes!(ordering::create_venue, ordering::list_venues))
        .routes(routes!(ordering::set_business_day))
        .routes(routes!(ordering::update_venue))
        .routes(routes!(ordering::create_table, ordering::list_tables))
        .routes(routes!(ordering::rename_table, ordering::retire_table))
        .routes(routes!(ordering::rotate_table_token))
        .routes(routes!(ordering::table_qr))
        .routes(routes!(ordering::table_qr_png))
        .routes(routes!(ordering::tables_qr_pdf))
        .routes(routes!(ordering::create_category))
        .routes(routes!(ordering::create_item))
        .routes(routes!(ordering::update_item, ordering::delete_item))
        .routes(routes!(ordering::set_item_availability))
        .routes(routes!(ordering::update_category, ordering::delete_category))
        .routes(routes!(ordering::menu))
        .routes(routes!(ordering::venue_orders))
        .routes(routes!(ordering::transition))
        .routes(routes!(stream::order_stream))
        .routes(routes!(ordering::table_sessions))
        .routes(routes!(ordering::accept_session))
        .routes(routes!(ordering::move_session))
        .routes(routes!(ordering::close_table))
        .routes(routes!(payments::table_cash, payments::record_cash))
        .routes(routes!(payments::void_cash))
        .routes(routes!(payments::release_card_holds))
        .routes(routes!(guest::cancel_order))
        .routes(routes!(guest::table))
        .routes(routes!(guest::place_order))
        .routes(routes!(guest::bill))
        .routes(routes!(app_pages::pay_page))
        .routes(routes!(app_pages::deposit_page))
        .routes(routes!(app_pages::pay_script))
        .routes(routes!(payments::create_payment))
        .routes(routes!(payments::payment_status))
        .routes(routes!(payments::cancel_guest_payment))
        .routes(routes!(payments::stripe_webhook))
        .routes(routes!(payments::stripe_connect_webhook))
        .routes(routes!(payments::onboarding))
        .routes(routes!(payments::payouts))
        .routes(routes!(payments::bank_details))
        .routes(routes!(payments::approve))
        .routes(routes!(payments::venue_payments))
        .routes(routes!(payments::venue_refunds))
        .routes(routes!(payments::refund))
        .routes(routes!(payments::approve_refund))
        .routes(routes!(payments::decline_refund))
        .routes(routes!(payments::disputes))
        .routes(routes!(payments::tips))
        .routes(routes!(analytics::venue_summary))
        .routes(routes!(analytics::venue_series))
        .routes(routes!(analytics::venue_heat_map))
        .routes(routes!(analytics::venue_product_mix))
        .routes(routes!(analytics::partner_summary))
        .routes(routes!(analytics::venue_top_items))
        .routes(routes!(analytics::partner_series))
        .routes(routes!(analytics::partner_heat_map))
        .routes(routes!(analytics::partner_top_items))
        .routes(routes!(analytics::venue_servers))
        .routes(routes!(analytics::venue_cash_journal))
        .routes(routes!(analytics::venue_turnover))
        .routes(routes!(analytics::partner_servers))
        .routes(routes!(app_pages::analytics))
        .routes(routes!(reservations::put_policy, reservations::get_policy))
        .routes(routes!(reservations::add_combination))
        .routes(routes!(reservations::remove_combination))
        .routes(routes!(reservations::put_table_booking))
        .routes(routes!(waitlist::join, waitlist::day))
        .routes(routes!(waitlist::leave))
        .routes(routes!(waitlist::decline))
        .routes(routes!(waitlist::accept))
        .routes(routes!(reservations::availability))
        .routes(routes!(reservations::book, reservations::day_list))
        .routes(routes!(reservations::guest_view))
        .routes(routes!(reservations::guest_deposit_payment))
        .routes(routes!(reservations::guest_cancel))
        .routes(routes!(reservations::transition))
        .split_for_parts();
    let _ = state.openapi_json.set(crate::contract::document(api));
    let trusted = state.settings.trusted_proxies.clone();
    let body_limit = state.settings.body_limit_bytes;
    let recorder = state.clone();

    router
        .route_layer(from_fn_with_state(state.clone(), crate::auth::access::authorize))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
        .layer(from_fn_with_state(BodyLimit(body_limit), pan_guard))
        .layer(from_fn_with_state(recorder, crate::auth::access::record_unrouted))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(from_fn(middleware::problem_for_bare_errors))
        .layer(from_fn(middleware::security_headers))
        .layer(from_fn(middleware::chosen_language))
        .layer(from_fn_with_state(trusted, middleware::observe))
        .layer(from_fn(middleware::request_id))
}

async fn not_found() -> Problem {
    Problem::new(ProblemType::NotFound).detail("no such route")
}

/// The process-wide Prometheus recorder (a process has one global recorder; every server in it shares it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let builder = metrics_exporter_prometheus::PrometheusBuilder::new();
            let builder = builder
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("http_request_duration_seconds".into()),
                    &buckets,
                )
                .unwrap_or_else(|_| metrics_exporter_prometheus::PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
