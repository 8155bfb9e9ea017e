//! Structured logs through `tracing`, every line passing the one redaction layer
//! ([`comanda_security::redact::RedactingMakeWriter`]) on its way to stdout. With `errors.sentry_dsn` set, every
//! error-level event is also reported to a Sentry-compatible service (MON-7), through the same redaction
//! ([`redacted`]): what may not reach a log line may not reach the error service either. With
//! `traces.otlp_endpoint` set, each request's span is exported with OpenTelemetry (MON-1, [`REQUEST_SPANS`]); no
//! event and no other span reaches the exporter, so no log text leaves that way.

use comanda_security::redact::{RedactingMakeWriter, redact_line};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use sentry::integrations::tracing::ErrorLayer;
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{ErrorsConfig, LogConfig, LogFormat, TracesConfig};

/// The `tracing` target of the one span per HTTP request (see `middleware::observe`): the only spans exported.
pub const REQUEST_SPANS: &str = "comanda::request";

/// Keeps error reporting and trace export running while the process serves; dropping it sends what is still
/// queued (errors for at most two seconds; spans by the exporter's own timeout).
pub struct Telemetry {
    _errors: Option<sentry::ClientInitGuard>,
    traces: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "the last request traces could not be exported");
        }
    }
}

/// Installs the global subscriber; a second call (tests starting several servers) keeps the first.
pub fn init(config: &LogConfig, errors: &ErrorsConfig, traces: &TracesConfig) -> Telemetry {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = RedactingMakeWriter::new(std::io::stdout);
    let lines = match config.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .boxed(),
    };
    let client = errors.sentry_dsn.as_ref().and_then(|dsn| {
        // Checked by `Config::validate`; an unparsable DSN reports nothing rather than failing here.
        let dsn = dsn.expose().parse::<sentry::types::Dsn>().ok()?;
        let mut options = sentry::ClientOptions::new()
            .release(concat!("comanda@", env!("CARGO_PKG_VERSION")))
            .environment(errors.environment.clone())
            .send_default_pii(false)
            .before_send(redacted)
            // Only error events leave the process: no trail of the requests before them.
            .before_breadcrumb(|_| None);
        options.dsn = Some(dsn);
        Some(sentry::init(options))
    });
    // Errors the configured level silences stay silent in error reporting too; so does a failed trace export,
    // which would otherwise be reported with every batch while the collector is away (it stays a log line).
    let reporting = client.as_ref().map(|_| {
        let level = silenced(
            EnvFilter::try_new(&config.level).unwrap_or_default(),
            "opentelemetry",
        );
        ErrorLayer::new().with_filter(LevelFilter::ERROR.and(level))
    });
    let provider = traces.otlp_endpoint.as_ref().and_then(|_| {
        tracer_provider(&traces_url(traces), traces)
            .inspect_err(
                |error| tracing::error!(%error, "request traces are off: the exporter failed to start"),
            )
            .ok()
    });
    // The request spans go to the exporter whatever the log level, and never to the log lines (whose filter is
    // the configured level), so turning traces on changes no log line.
    let exported = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("comanda"))
            .with_location(false)
            .with_target(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(filter_fn(|meta| meta.is_span() && meta.target() == REQUEST_SPANS))
    });
    let lines = lines.with_filter(silenced(filter, REQUEST_SPANS));
    let installed = tracing_subscriber::registry()
        .with(lines)
        .with(reporting)
        .with(exported)
        .try_init();
    if installed.is_ok() {
        log_panics();
    }
    Telemetry {
        _errors: client,
        traces: provider,
    }
}

/// `filter` with everything of `target` (and the targets it prefixes) turned off.
fn silenced(filter: EnvFilter, target: &str) -> EnvFilter {
    match format!("{target}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// Where spans are sent: `traces.otlp_endpoint` when its path already ends in `/v1/traces`, else that endpoint
/// as a base with `/v1/traces` added to its path (`https://collector:4318`, Grafana's `…/otlp`), as
/// OpenTelemetry's exporters treat a base endpoint (OTLP specification, "OTLP/HTTP Request"); a query string
/// stays where it was. Empty when traces are off.
pub fn traces_url(config: &TracesConfig) -> String {
    let Some(endpoint) = config.otlp_endpoint.as_deref() else {
        return String::new();
    };
    match reqwest::Url::parse(endpoint) {
        Ok(mut url) if !url.path().ends_with("/v1/traces") => {
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url.to_string()
        }
        _ => endpoint.to_owned(),
    }
}

/// The traces URL for the start banner: scheme, host, port and path only, since credentials can ride in the
/// URL's user part or query string and the banner is printed as it is.
pub fn traces_destination(config: &TracesConfig) -> String {
    match reqwest::Url::parse(&traces_url(config)) {
        Ok(url) => format!(
            "{}://{}{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|port| format!(":{port}")).unwrap_or_default(),
            url.path()
        ),
        Err(_) => "(unparsable endpoint)".to_owned(),
    }
}

/// The OTLP/HTTP exporter (protobuf) behind a batch processor, with the service's resource and the sampler.
fn tracer_provider(endpoint: &str, config: &TracesConfig) -> Result<SdkTracerProvider, String> {
    let headers = config
        .otlp_headers
        .iter()
        .map(|(name, value)| (name.clone(), value.expose().clone()))
        .collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_headers(headers)
        .with_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|error| error.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("comanda")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

/// A panic anywhere (a background task included, whose panic nobody awaits) becomes an error log line, so it
/// passes the redaction, reaches the log and, when configured, error reporting; the previous hook still runs.
fn log_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(panic = %info, "panicked");
        previous(info);
    }));
}

/// The one redaction ([`redact_line`]) applied to a whole Sentry event as JSON: sensitive keys, card-like
/// numbers, bearer credentials and Stripe secrets are masked wherever they stand (message, fields, tags). An event
/// that does not survive the round trip is dropped, never sent unredacted.
pub fn redacted(event: sentry::protocol::Event<'static>) -> Option<sentry::protocol::Event<'static>> {
    let json = serde_json::to_string(&event).ok()?;
    serde_json::from_str(&redact_line(&json)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_endpoint_gets_the_traces_path() {
        let url = |endpoint: &str| {
            traces_url(&TracesConfig {
                otlp_endpoint: Some(endpoint.into()),
                ..TracesConfig::default()
            })
        };
        assert_eq!(url("https://collector:4318"), "https://collector:4318/v1/traces");
        assert_eq!(url("https://collector:4318/"), "https://collector:4318/v1/traces");
        assert_eq!(
            url("https://api.example/otlp/v1/traces"),
            "https://api.example/otlp/v1/traces"
        );
        assert_eq!(
            url("https://grafana.example/otlp"),
            "https://grafana.example/otlp/v1/traces"
        );
        assert_eq!(
            url("https://collector:4318?tenant=a"),
            "https://collector:4318/v1/traces?tenant=a"
        );
        assert_eq!(traces_url(&TracesConfig::default()), "");
        let shown = traces_destination(&TracesConfig {
            otlp_endpoint: Some("https://user:s3cret@collector:4318/otlp?api_key=k3y".into()),
            ..TracesConfig::default()
        });
        assert_eq!(shown, "https://collector:4318/otlp/v1/traces");
    }

    #[test]
    fn an_event_leaves_redacted_as_a_log_line_would() {
        let mut event = sentry::protocol::Event {
            message: Some(
                "refund failed for card 4242 4242 4242 4242, password=hunter2hunter2, Bearer eyJhbGciOi.x.y"
                    .into(),
            ),
            level: sentry::Level::Error,
            ..Default::default()
        };
        event
            .extra
            .insert("refresh_token".into(), "rt_abcdefabcdef".into());
        event.tags.insert("stripe".into(), "sk_live_51Habcdef".into());
        let kept = redacted(event.clone()).expect("an event survives redaction");
        let text = serde_json::to_string(&kept).unwrap();
        for secret in [
            "4242 4242 4242 4242",
            "hunter2hunter2",
            "eyJhbGciOi",
            "rt_abcdefabcdef",
            "sk_live_51Habcdef",
        ] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(kept.event_id, event.event_id);
        assert_eq!(kept.level, sentry::Level::Error);
        assert!(kept.message.unwrap().starts_with("refund failed for card"));
    }
}
