//! Layers every request passes through: request ids, the access log and metrics, security headers, and the
//! guarantee that no error leaves without a problem document.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use uuid::Uuid;

use crate::problem::{PROBLEM_JSON, Problem, ProblemType};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request's extensions for handlers and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Keeps a caller's `X-Request-Id` when it is a sane token (so a load balancer's id follows the request through),
/// otherwise mints one; echoes it on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Peers whose forwarding header is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ProxyRange>);

impl TrustedProxies {
    /// Whether `ip` is one of the proxies (an IPv4 address a dual-stack listener sees as `::ffff:a.b.c.d` counts as
    /// itself).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|range| range.0.contains(&ip))
    }
}

/// One entry of `server.trusted_proxies`: an address (`10.0.0.5`) or a CIDR range (`35.191.0.0/16`,
/// `2600:2d00:1:b029::/64`), as managed load balancers are published: their nodes come and go within a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProxyRange(ipnet::IpNet);

impl std::str::FromStr for ProxyRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let net = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| match text.split_once('/') {
                Some(_) => format!(
                    "{text:?} is not a CIDR range: an address, a slash and a prefix length of at most 32 (IPv4) or \
                     128 (IPv6), such as 10.0.0.0/8"
                ),
                None => format!("{text:?} is neither an IP address nor a CIDR range such as 10.0.0.0/8"),
            })?;
        // `::ffff:10.0.0.5` is the IPv4 address a dual-stack listener reports; peers are compared as IPv4.
        let net = match net {
            ipnet::IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => ipnet::IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
                    .map_err(|_| format!("{text:?} is not a valid range"))?,
                Some(_) => return Err(format!("{text:?} reaches past the IPv4-mapped addresses")),
                None => net,
            },
            ipnet::IpNet::V4(_) => net,
        };
        // Trusting a peer means believing what it says the client's address is; a range wider than a large
        // provider's block would let clients choose their own address (rate limits, audit, sign-in places).
        let widest = match net {
            ipnet::IpNet::V4(_) => 8,
            ipnet::IpNet::V6(_) => 32,
        };
        if net.prefix_len() < widest {
            return Err(format!(
                "{text:?} is wider than /{widest}: that would trust almost any peer's X-Forwarded-For"
            ));
        }
        Ok(Self(net.trunc()))
    }
}

impl TryFrom<String> for ProxyRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<ProxyRange> for String {
    fn from(range: ProxyRange) -> String {
        range.to_string()
    }
}

impl std::fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are client-controlled).
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        warn_of_an_untrusted_proxy(peer, headers);
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // From the right, each entry was added by the hop after it; the first that is not a trusted proxy is the
    // client. An entry that is not an address stops the walk: anything left of it may be the client's own text.
    let mut origin = peer;
    for entry in forwarded.iter().rev() {
        let Some(ip) = forwarded_address(entry) else {
            return peer;
        };
        if !trusted.contains(ip) {
            return ip;
        }
        origin = ip;
    }
    // Every hop is a trusted proxy: the left-most is where the request began.
    origin
}

/// An `X-Forwarded-For` entry's address: `203.0.113.7`, or with a port as some balancers write it
/// (`203.0.113.7:4711`, `[2001:db8::1]:443`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// A forwarding header from a private or loopback peer that is not a trusted proxy is most likely a load balancer
/// missing from `server.trusted_proxies`: every guest behind it would share one address's rate limits (INF-1).
/// Said once per process, at warning level, so the operator sees it at the first such request.
fn warn_of_an_untrusted_proxy(peer: IpAddr, headers: &HeaderMap) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let private = match peer {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    };
    if private
        && headers.contains_key("x-forwarded-for")
        && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(%peer, "X-Forwarded-For from a peer that is not in server.trusted_proxies: its clients \
            are counted as this one address for rate limits; add the proxy to server.trusted_proxies");
    }
}

/// Access log line and Prometheus metrics, labelled by route template (never the raw path, which may carry
/// table tokens, and whose cardinality is unbounded).
pub async fn observe(State(trusted): State<TrustedProxies>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let client = peer
        .map(|peer| client_addr(peer, request.headers(), &trusted).to_string())
        .unwrap_or_default();

    let from_trusted_proxy = peer.is_some_and(|peer| trusted.contains(peer));
    let span = request_span(&method, &route, request.headers(), from_trusted_proxy);
    let response = next.run(request).instrument(span.clone()).await;

    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if status >= 500 {
        // A server span's status is an error for a 5xx only: a 4xx is the client's (OpenTelemetry HTTP conventions).
        span.record("otel.status_code", "error");
        span.record("error.type", status);
    }
    let elapsed = started.elapsed();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(),
        "status" => status.to_string())
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        target: "access",
        request_id,
        method,
        route,
        status,
        // Whole microseconds: a float's full expansion (157.89809699999998) can pass for a card number, and the
        // redaction layer then blanks it.
        latency_ms = elapsed.as_micros() as f64 / 1000.0,
        client,
        "request"
    );
    response
}

/// The request's server span, exported with OpenTelemetry when traces are on (MON-1; disabled, and nearly free,
/// when they are off). Named and labelled per the OpenTelemetry HTTP server conventions (`{method} {route}`, a
/// method outside the standard ones as `_OTHER` and the span then `HTTP`), by route template only: the raw path
/// (`url.path`, a required attribute) is left out on purpose, because a guest's path carries its table token. A W3C
/// `traceparent` makes the span a child of the caller's only from a trusted proxy (`server.trusted_proxies`, the
/// balancer that starts the trace): anyone else could otherwise force sampling or choose the trace.
fn request_span(method: &str, route: &str, headers: &HeaderMap, from_trusted_proxy: bool) -> tracing::Span {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    let method = if KNOWN.contains(&method) { method } else { "_OTHER" };
    let matched = route != "unmatched";
    let name = match (method, matched) {
        ("_OTHER", _) => "HTTP".to_owned(),
        (_, true) => format!("{method} {route}"),
        (_, false) => method.to_owned(),
    };
    let span = tracing::info_span!(
        target: crate::logging::REQUEST_SPANS,
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.route = matched.then_some(route),
        http.response.status_code = tracing::field::Empty,
        url.scheme = "https",
        error.type = tracing::field::Empty,
    );
    if from_trusted_proxy && !span.is_disabled() {
        let parent =
            opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&HeaderText(headers));
        // Fails only when no OpenTelemetry layer holds the span, and then nothing is exported anyway.
        let _ = span.set_parent(parent);
    }
    span
}

/// Request headers as OpenTelemetry's propagators read them.
struct HeaderText<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderText<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// The cookie that keeps the language a person chose with a page's switch (`?lang=en` or `?lang=es`).
pub const LANGUAGE_COOKIE: &str = "comanda_lang";

/// A language chosen on a page beats the one the browser sends: a request with `?lang=en|es` (a page's language
/// switch) is answered in it and the choice is kept in a cookie for a year; a later request carrying the cookie (a
/// page, or the API call a page makes, whose mails follow it) is answered in it too. Both work by setting the request's `Accept-Language` to the choice, so every page and mail
/// that negotiates its language (`Lang::negotiate`) follows it. A staff member whose browser says Spanish can read
/// the staff pages in English and stay there from page to page.
pub async fn chosen_language(mut request: Request, next: Next) -> Response {
    // Only a page takes `?lang=` (an API route refuses a query it does not declare, 400 naming it).
    let page = !request.uri().path().starts_with("/api/");
    let asked = request.uri().query().filter(|_| page).and_then(|query| {
        query.split('&').find_map(|pair| match pair {
            "lang=en" => Some("en"),
            "lang=es" => Some("es"),
            _ => None,
        })
    });
    let kept = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(
            |pair| match pair.trim().strip_prefix(LANGUAGE_COOKIE)?.strip_prefix('=')? {
                "en" => Some("en"),
                "es" => Some("es"),
                _ => None,
            },
        );
    if let Some(chosen) = asked.or(kept) {
        request
            .headers_mut()
            .insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(chosen));
    }
    let mut response = next.run(request).await;
    if let Some(chosen) = asked.filter(|asked| Some(*asked) != kept) {
        let cookie =
            format!("{LANGUAGE_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax; Secure; HttpOnly");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    if response.headers().contains_key(header::VARY) {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Cookie"));
    }
    response
}

/// The security headers every response carries. CSP and cache policy are defaults a page may replace (the payment
/// page adds Stripe's origin); the rest are fixed.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in FIXED_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub const HSTS: &str = "max-age=31536000; includeSubDomains; preload";

pub const DEFAULT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'; object-src 'none'; upgrade-insecure-requests; report-uri /api/v1/csp-reports";

const FIXED_HEADERS: [(HeaderName, &str); 7] = [
    (header::STRICT_TRANSPORT_SECURITY, HSTS),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("permissions-policy"),
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
         payment=(self), usb=()",
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
];

/// Any error response that is not already a problem document (a 405 from the router, a layer's bare status)
/// becomes one, keeping its status and headers such as `Allow` and `Retry-After`. A page that answers its own error
/// in HTML (a booking link to no venue) is a document for a person and stays one.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.starts_with("text/html"));
    if is_problem {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut problem = Problem::new(ProblemType::for_status(status)).into_response();
    *problem.status_mut() = status;
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    let (mut new_parts, body) = problem.into_parts();
    new_parts.extensions = parts.extensions;
    Response::from_parts(new_parts, body)
}

/// A panic in a handler answers 500 problem+json; the panic message goes to the log only.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "handler panicked");
    Problem::new(ProblemType::Internal).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = TrustedProxies(vec!["10.0.0.5".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
        );
        assert_eq!(
            client_addr(proxy, &headers, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(client_addr(stranger, &headers, &trusted), stranger);
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &trusted), proxy);
        let from = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", HeaderValue::from_static(value));
            client_addr(proxy, &headers, &trusted)
        };
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        // With the port some balancers append.
        assert_eq!(from("203.0.113.7:4711"), ip("203.0.113.7"));
        assert_eq!(from("[2001:db8::1]:443"), ip("2001:db8::1"));
        // Text that is not an address stops the walk: what stands left of it may be the client's own.
        assert_eq!(from("198.51.100.1, unknown"), proxy);
        // Only trusted hops: the left-most began the request.
        assert_eq!(from("10.0.0.5"), proxy);
    }

    #[test]
    fn a_range_of_proxies_is_trusted_as_a_whole() {
        let trusted = TrustedProxies(vec![
            "35.191.0.0/16".parse().unwrap(),
            "2600:2d00:1:b029::/64".parse().unwrap(),
            " 10.0.0.5 ".parse().unwrap(),
        ]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.7, 35.191.9.9"),
        );
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        for node in [
            "35.191.200.1",
            "::ffff:35.191.3.4",
            "2600:2d00:1:b029::17",
            "10.0.0.5",
        ] {
            let node: IpAddr = node.parse().unwrap();
            assert_eq!(client_addr(node, &headers, &trusted), client, "{node}");
        }
        for outside in ["35.192.0.1", "10.0.0.6", "2600:2d00:1:b030::1"] {
            let outside: IpAddr = outside.parse().unwrap();
            assert_eq!(client_addr(outside, &headers, &trusted), outside);
        }
        // Every hop trusted: the left-most began the request (a balancer's own health check, say).
        let mut inner = HeaderMap::new();
        inner.insert("x-forwarded-for", HeaderValue::from_static("35.191.4.4"));
        assert_eq!(
            client_addr("10.0.0.5".parse().unwrap(), &inner, &trusted),
            "35.191.4.4".parse::<IpAddr>().unwrap()
        );
        // Host bits are dropped, and an address prints as itself.
        let range: ProxyRange = "35.191.7.7/16".parse().unwrap();
        assert_eq!(range.to_string(), "35.191.0.0/16");
        assert_eq!("10.0.0.5".parse::<ProxyRange>().unwrap().to_string(), "10.0.0.5");
        for bad in [
            "10.0.0.0/33",
            "load-balancer",
            "",
            "10.0.0.0/",
            "0.0.0.0/0",
            "::/0",
            "8.0.0.0/7",
            "2000::/16",
        ] {
            assert!(bad.parse::<ProxyRange>().is_err(), "{bad}");
        }
        // An IPv4-mapped entry is its IPv4 address; a dual-stack peer and client are reported as IPv4.
        let mapped = TrustedProxies(vec!["::ffff:10.0.0.5".parse().unwrap()]);
        assert_eq!(mapped.0[0].to_string(), "10.0.0.5");
        let peer: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        let mut forwarded = HeaderMap::new();
        forwarded.insert("x-forwarded-for", HeaderValue::from_static("::ffff:203.0.113.7"));
        assert_eq!(client_addr(peer, &forwarded, &mapped), client);
        let lone: IpAddr = "::ffff:198.51.100.9".parse().unwrap();
        assert_eq!(
            client_addr(lone, &HeaderMap::new(), &mapped),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
    }
}
