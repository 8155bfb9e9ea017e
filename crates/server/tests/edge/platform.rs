//! Platform routes, security headers, metrics, request ids, the OpenAPI document and the HTTP redirect listener.

use crate::support::TestServer;

const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains; preload",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

fn assert_security_headers(response: &reqwest::Response) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.headers().get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let permissions = response.headers()["permissions-policy"].to_str().unwrap();
    assert!(permissions.contains("camera=()"), "{permissions}");
}

#[tokio::test]
async fn every_response_carries_hsts_and_security_headers() {
    let server = TestServer::start().await;
    for path in [
        "/healthz",
        "/",
        "/assets/site.css",
        "/openapi.json",
        "/.well-known/security.txt",
        "/missing",
    ] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_security_headers(&response);
    }
    server.stop().await;
}

/// Browsers ask `/favicon.ico` of every page: an icon, not a 404 in each access log; the pages link the same icon.
#[tokio::test]
async fn the_site_icon_is_served_where_browsers_ask() {
    let server = TestServer::start().await;
    for path in ["/favicon.ico", "/favicon.svg"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.text().await.unwrap().starts_with("<svg"));
    }
    let landing = server.client.get(server.url("/")).send().await.unwrap();
    assert!(
        landing
            .text()
            .await
            .unwrap()
            .contains(r#"<link rel="icon" href="/favicon.svg""#)
    );
    server.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    let health: serde_json::Value = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: serde_json::Value = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready,
        serde_json::json!({"status": "ready", "database": "sqlite"})
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_with_latency_histograms() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        server.client.get(server.url("/healthz")).send().await.unwrap();
    }
    server.client.get(server.url("/nope")).send().await.unwrap();
    let response = server.client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let healthz_count = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no healthz counter in\n{text}"));
    let count: f64 = healthz_count.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{healthz_count}");
    assert!(
        text.contains("route=\"unmatched\""),
        "unknown paths are one label, not one per path"
    );
    assert!(!text.contains("/nope"), "raw paths never become labels");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "histogram buckets:\n{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_minted_or_kept() {
    let server = TestServer::start().await;
    let minted = server.client.get(server.url("/healthz")).send().await.unwrap();
    let id = minted.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36);
    let kept = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "lb-1234_abc")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234_abc");
    let replaced = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "evil\"value")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "evil\"value");
    server.stop().await;
}

#[tokio::test]
async fn security_txt_follows_rfc_9116() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(text.lines().any(|l| l.starts_with("Contact: mailto:")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("Expires: ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("Policy: https://")), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let server = TestServer::start().await;
    let doc: serde_json::Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    for expected in [
        "/",
        "/.well-known/jwks.json",
        "/.well-known/security.txt",
        "/api/v1/audit",
        "/api/v1/auth/login",
        "/api/v1/csp-reports",
        "/api/v1/me",
        "/api/v1/orders/{order}/transitions",
        "/api/v1/signup",
        "/api/v1/staff/{id}",
        "/api/v1/t/{token}/orders",
        "/api/v1/tables/{table}/qr.svg",
        "/api/v1/venues/{venue}/orders/stream",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/readyz",
    ] {
        assert!(
            documented.contains(&expected),
            "{expected} is not documented: {documented:?}"
        );
    }
    // Every documented operation is served (none falls through to the "no such route" fallback). The event stream
    // is left out here: it stays open by design.
    for (path, operations) in paths.iter().filter(|(p, _)| !p.ends_with("/stream")) {
        for method in operations.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = server
                .client
                .request(method.clone(), server.url(path))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("no such route"),
                "{method} {path} is documented but not routed"
            );
            assert!(status < 500, "{method} {path} → {status}");
        }
    }
    server.stop().await;
}

/// The document tells the truth about what every route can answer (issue 14): the shared problem responses are
/// declared from each operation's shape, query parameters sit in the query and are required when the handler needs
/// them, and every JSON request body refuses fields it does not declare.
#[tokio::test]
async fn openapi_document_declares_what_every_route_can_answer() {
    let server = TestServer::start().await;
    let doc: serde_json::Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let label = format!("{} {path}", method.to_uppercase());
            let responses = operation["responses"].as_object().unwrap();
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|r| !r.is_empty())));
            let body = &operation["requestBody"]["content"];
            let mut expected = vec!["400", "413", "500", "503"];
            if secured {
                expected.extend(["401", "403", "429"]);
            }
            if path.contains('{') {
                expected.push("404");
            }
            if method != "get" {
                expected.extend(["409", "422"]);
            }
            if body.get("application/json").is_some() {
                expected.push("415");
            }
            for status in expected {
                let response = &responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{label} does not declare {status}"));
                if response["content"].get("application/problem+json").is_none() {
                    // A route may declare its own answer for the status (e.g. 404 as a page); then it is its own.
                    assert!(response["content"].is_object(), "{label} {status}: {response}");
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                if parameter["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{label}: `{name}` is not in the path"
                    );
                    assert_eq!(parameter["required"], true, "{label}: `{name}`");
                }
            }
            if let Some(schema) = body.get("application/json").map(|c| &c["schema"]) {
                assert_closed(&doc, schema, &label, &mut Vec::new());
            }
        }
    }
    let month = doc["paths"]["/api/v1/tips"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "month")
        .unwrap();
    assert_eq!(month["in"], "query");
    assert_eq!(month["required"], true);
    server.stop().await;
}

/// Every object schema reachable from a request body refuses undeclared properties.
fn assert_closed(doc: &serde_json::Value, schema: &serde_json::Value, label: &str, seen: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        if seen.iter().any(|s| s == reference) {
            return;
        }
        seen.push(reference.to_owned());
        let name = reference.trim_start_matches("#/components/schemas/");
        return assert_closed(doc, &doc["components"]["schemas"][name], label, seen);
    }
    if let Some(properties) = schema["properties"].as_object() {
        assert_eq!(
            schema["additionalProperties"], false,
            "{label}: an object of its body accepts unknown fields: {schema}"
        );
        for property in properties.values() {
            assert_closed(doc, property, label, seen);
        }
    }
    for key in ["oneOf", "anyOf", "allOf", "prefixItems"] {
        for branch in schema[key].as_array().into_iter().flatten() {
            assert_closed(doc, branch, label, seen);
        }
    }
    if schema["items"].is_object() {
        assert_closed(doc, &schema["items"], label, seen);
    }
}

/// The router alone, over a given store, for requests a loopback client cannot make (a remote peer).
async fn router_over(
    store: std::sync::Arc<dyn comanda_store::Store>,
    config: &comanda_server::Config,
) -> axum::Router {
    let kms = std::sync::Arc::new(comanda_security::kms::PlatformKeys::from_bytes(&[5; 32]).unwrap());
    let clock = std::sync::Arc::new(comanda_server::SystemClock);
    let state =
        comanda_server::app::AppState::assemble(config, store, clock, kms, "https://localhost".into())
            .await
            .unwrap();
    comanda_server::app::build(state)
}

#[tokio::test]
async fn metrics_are_hidden_from_remote_peers_without_the_token() {
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    let db = comanda_store::testing::SqliteTestDatabase::create();
    let mut config = comanda_server::Config::default();
    config.metrics.token = Some(comanda_security::Secret::new("scrape-token".to_owned()));
    let router = router_over(db.store().await, &config).await;
    let remote: std::net::SocketAddr = "203.0.113.9:4000".parse().unwrap();
    let request = |token: Option<&str>| {
        let mut builder = axum::http::Request::get("/metrics");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let mut request = builder.body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(remote));
        request
    };
    let hidden = router.clone().oneshot(request(None)).await.unwrap();
    assert_eq!(hidden.status().as_u16(), 404);
    let wrong = router.clone().oneshot(request(Some("guess"))).await.unwrap();
    assert_eq!(wrong.status().as_u16(), 404);
    let allowed = router
        .clone()
        .oneshot(request(Some("scrape-token")))
        .await
        .unwrap();
    assert_eq!(allowed.status().as_u16(), 200);

    // A reverse proxy on the same machine connects from loopback; what it forwards is not local.
    let local: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let through_proxy = {
        let mut request = axum::http::Request::get("/metrics")
            .header("x-forwarded-for", "198.51.100.4")
            .body(axum::body::Body::empty())
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(local));
        request
    };
    assert_eq!(
        router
            .clone()
            .oneshot(through_proxy)
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let really_local = {
        let mut request = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(local));
        request
    };
    assert_eq!(router.oneshot(really_local).await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn readiness_fails_as_problem_when_the_database_is_gone() {
    use tower::ServiceExt;
    let db = comanda_store::testing::SqliteTestDatabase::create();
    let store = db.store().await;
    let router = router_over(store.clone(), &comanda_server::Config::default()).await;
    let ready = |router: axum::Router| async move {
        router
            .oneshot(
                axum::http::Request::get("/readyz")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    };
    assert_eq!(ready(router.clone()).await.status().as_u16(), 200);
    store.close().await;
    let response = ready(router).await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn plain_http_listener_only_redirects_to_https() {
    let server = TestServer::start_with(|config| {
        config.server.http_redirect_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let http = server.server().http_redirect_addr.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in [
        ("GET", "/healthz?x=1"),
        ("POST", "/api/v1/csp-reports"),
        ("GET", "/"),
    ] {
        let response = client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("http://localhost:{}{path}", http.port()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 308, "{method} {path}");
        assert_eq!(
            response.headers()["location"],
            format!("https://localhost:{}{path}", server.addr.port()).as_str()
        );
        assert!(
            response.text().await.unwrap().is_empty(),
            "nothing is served over plain HTTP"
        );
    }
    let forged = client
        .get(format!("http://127.0.0.1:{}/", http.port()))
        .header("host", "evil.example/phish?")
        .send()
        .await
        .unwrap();
    expect_problem_plain(forged).await;
    server.stop().await;
}

/// The trust page is generated: every promise of the map, the configuration's broken ones, and the live checks the
/// server ran against its own listener a second after it started. The same probes against a listener that does not
/// speak TLS (the plain-HTTP redirect) fail, all three.
#[tokio::test]
async fn the_trust_page_shows_the_map_and_the_live_checks_of_this_server() {
    let server = TestServer::start_with(|config| {
        config.server.http_redirect_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let mut page = String::new();
    for _ in 0..100 {
        page = server
            .client
            .get(server.url("/trust"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("3 of 3 passed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(page.contains("3 of 3 passed"), "{page}");
    for shown in [
        "<h2>TLS-1: proven by tests</h2>",
        "Live check <code>tls-versions</code>: passed — offering 1.3 and 1.2: TLSv1_3",
        "Live check <code>hsts-header</code>: passed — GET /healthz: max-age=31536000; includeSubDomains; preload",
        "<h2>AUTH-1: not built yet</h2>",
        "<h2>BAK-3: not kept by this deployment</h2>",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    let plain = server.server().http_redirect_addr.unwrap();
    let probed =
        comanda_server::live_checks::run(plain, "localhost", comanda_domain::Clock::now(&server.clock)).await;
    assert!(probed.checks.iter().all(|c| !c.passed), "{probed:?}");
    server.stop().await;
}

async fn expect_problem_plain(response: reqwest::Response) {
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn landing_page_speaks_spanish_or_english() {
    let server = TestServer::start().await;
    let es = server
        .client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(es.contains("<html lang=\"es\">") && es.contains("Pide y paga desde la mesa"));
    let en = server
        .client
        .get(server.url("/"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Order and pay at the table"));
    assert!(
        !es.contains("<script") && !es.contains("style="),
        "no inline script or style under the strict CSP"
    );
    // A manager whose browser says Spanish switches the staff pages to English: the choice is kept in a cookie and
    // beats the browser's language on the next page, until switched back.
    let switched = server
        .client
        .get(server.url("/host?venue=x&lang=en"))
        .header("accept-language", "es-CO")
        .send()
        .await
        .unwrap();
    let cookie = switched.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("comanda_lang=en;")
            && cookie.contains("Secure")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let switched = switched.text().await.unwrap();
    assert!(switched.contains("<html lang=\"en\">") && switched.contains("hreflang=\"es\">Español</a>"));
    let next_page = |cookie: &'static str| {
        server
            .client
            .get(server.url("/analytics"))
            .header("accept-language", "es-CO")
            .header("cookie", cookie)
            .send()
    };
    let kept = next_page("device=abc; comanda_lang=en").await.unwrap();
    assert!(kept.headers().get("set-cookie").is_none());
    assert!(kept.text().await.unwrap().contains("<html lang=\"en\">"));
    let ignored = next_page("comanda_lang=fr").await.unwrap().text().await.unwrap();
    assert!(
        ignored.contains("<html lang=\"es\">"),
        "an unknown choice falls back to the browser's"
    );
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_closes_the_listener() {
    let server = TestServer::start().await;
    let addr = server.addr;
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener still open after shutdown"
    );
}

/// MON-4: an alert raised while the server runs reaches the on-call webhook signed as Standard Webhooks says —
/// checked with the specification's reference library, not our signer — and is sent again until the destination
/// accepts it, then never again. Here the destination first answers 503.
#[tokio::test]
async fn alerts_reach_the_on_call_webhook_signed_and_retried_until_accepted() {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use comanda_domain::Clock as _;
    use std::sync::{Arc, Mutex};

    type Deliveries = Arc<Mutex<Vec<(HeaderMap, Bytes, u16)>>>;
    let deliveries: Deliveries = Arc::default();
    let page = axum::Router::new()
        .route(
            "/page",
            axum::routing::post(
                |State(seen): State<Deliveries>, headers: HeaderMap, body: Bytes| async move {
                    let mut seen = seen.lock().unwrap();
                    let status = if seen.is_empty() { 503 } else { 200 };
                    seen.push((headers, body, status));
                    StatusCode::from_u16(status).unwrap()
                },
            ),
        )
        .with_state(deliveries.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, page).await });
    let secret = "whsec_9xQ2b7vLk3mP0sT5wY8zA1cE4gH6jN0r";
    let server = TestServer::start_with(|config| {
        config.alerts.webhook_url = Some(format!("http://127.0.0.1:{port}/page"));
        config.alerts.webhook_secret = Some(comanda_security::Secret::new(secret.into()));
        config.alerts.route_every_secs = 1;
    })
    .await;
    let store = server.store().await;
    let raised = store
        .raise_alert(
            None,
            "payments.mismatch",
            "payment 0190: Stripe received 43800, the payment asked 40000 (token=tok_sEcReT123)",
            server.clock.now(),
        )
        .await
        .unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while deliveries.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the alert was not sent twice"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Two more rounds: an accepted alert is not sent again.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let seen = deliveries.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(_, _, status)| *status).collect::<Vec<_>>(),
        [503, 200]
    );
    let reference = standardwebhooks::Webhook::new(secret).unwrap();
    for (headers, body, _) in &seen {
        assert_eq!(headers["webhook-id"], raised.id.to_string().as_str());
        reference
            .verify(body, headers)
            .expect("signed as Standard Webhooks says");
        let mut forged = body.to_vec();
        forged.extend_from_slice(b" ");
        assert!(
            reference.verify(&forged, headers).is_err(),
            "the signature covers the body"
        );
        let sent: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(sent["type"], "alert.raised");
        assert_eq!(sent["data"]["id"], raised.id.to_string());
        assert_eq!(sent["data"]["kind"], "payments.mismatch");
        assert_eq!(
            sent["data"]["severity"], "critical",
            "PagerDuty's terms: this one pages"
        );
        let detail = sent["data"]["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("payment 0190: Stripe received 43800") && !detail.contains("tok_sEcReT123"),
            "the detail leaves through the log redaction: {detail}"
        );
    }
    assert!(
        standardwebhooks::Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
            .unwrap()
            .verify(&seen[1].1, &seen[1].0)
            .is_err(),
        "another secret does not verify"
    );
    let now = server.clock.now();
    assert!(
        store
            .unrouted_alerts(now - time::Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}

/// BAK-2 and BAK-4 in the running server: nothing here runs a backup command. Its scheduler (looking every second
/// here, every ten minutes by default) backs up and tests the restore at once. A month later on its clock it backs
/// up again, prunes the backup past 30 days and tests the restore again; that test fails, because the audit log was
/// tampered with in between, and the server raises by itself the failure and the stale restore-test alert.
#[tokio::test]
async fn the_running_servers_scheduler_backs_up_prunes_and_tests_the_restore_monthly() {
    use comanda_domain::Clock as _;
    use comanda_store::backup_runs::BackupRunKind;
    use sqlx::Connection as _;

    let server = TestServer::start_with(|config| config.backup.schedule_check_secs = 1).await;
    crate::identity::sign_up(&server, "respaldo@example.co").await;
    let store = server.store().await;
    let target = server.dir.path().join("data").join("backups").join("a");
    let objects = || {
        let mut names = Vec::new();
        let mut dirs = vec![target.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path
                    .to_string_lossy()
                    .ends_with(comanda_backup::manifest::OBJECT_SUFFIX)
                {
                    names.push(path.file_name().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        names
    };
    let wait_for = |what: &'static str| {
        let store = store.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let done = match what {
                    "first restore test" => store
                        .last_backup_run(BackupRunKind::RestoreTest, true)
                        .await
                        .unwrap()
                        .is_some(),
                    _ => store
                        .alerts(time::OffsetDateTime::UNIX_EPOCH)
                        .await
                        .unwrap()
                        .iter()
                        .any(|a| a.kind == comanda_backup::ALERT_RESTORE_TEST_STALE),
                };
                if done {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "waited in vain for the {what}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    wait_for("first restore test").await;
    let first = objects();
    assert_eq!(first.len(), 1, "{first:?}");

    // Someone edits the audit log behind the application's back.
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        server.dir.path().join("data").join("comanda.db").display()
    ))
    .await
    .unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER audit_events_no_update;
         UPDATE audit_events SET detail = 'nothing happened'
          WHERE rowid = (SELECT min(rowid) FROM audit_events);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;

    server.clock.advance(time::Duration::days(32));
    wait_for("stale restore-test alert").await;
    let now = server.clock.now();
    let kept = objects();
    assert_eq!(kept.len(), 1, "the month-old backup is pruned: {kept:?}");
    assert_ne!(kept, first, "and a new one taken");
    let tested = store
        .last_backup_run(BackupRunKind::RestoreTest, false)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !tested.ok && tested.finished_at > now - time::Duration::days(1),
        "{tested:?}"
    );
    assert!(
        tested.detail.contains("audit"),
        "failed on the tampered chain: {}",
        tested.detail
    );
    let kinds: Vec<String> = store
        .alerts(now - time::Duration::days(1))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert!(
        kinds
            .iter()
            .any(|k| k == comanda_backup::ALERT_RESTORE_TEST_FAILED),
        "{kinds:?}"
    );
    server.stop().await;
}
