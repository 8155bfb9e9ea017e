//! Bad input gets a problem document with a stable type, never a 500.

use crate::support::{TestServer, expect_problem};

const CSP_REPORTS: &str = "/api/v1/csp-reports";

#[tokio::test]
async fn malformed_json_is_400_problem_naming_the_position() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(server.url(CSP_REPORTS))
        .header("content-type", "application/json")
        .body(r#"{"csp-report": {"document-uri": "#)
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 400, "malformed-json").await;
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("line 1"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn wrongly_typed_field_is_400_naming_the_field() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(server.url(CSP_REPORTS))
        .header("content-type", "application/csp-report")
        .body(r#"{"csp-report": {"document-uri": 42}}"#)
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 400, "validation").await;
    assert_eq!(body["errors"][0]["field"], "csp-report.document-uri", "{body}");
    server.stop().await;
}

#[tokio::test]
async fn two_mebibyte_body_is_413_problem() {
    let server = TestServer::start().await;
    let huge = format!(
        "{{\"csp-report\": {{\"document-uri\": \"{}\"}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let response = server
        .client
        .post(server.url(CSP_REPORTS))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    // Over HTTP/2 the server answers before reading the rest and then resets the stream with NO_ERROR, which RFC 9113
    // §8.1 tells a client not to read as a failure; curl 7.88 (Debian 12) still reports its error 92 there.
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    expect_problem(response, 413, "payload-too-large").await;
    server.stop().await;
}

#[tokio::test]
async fn text_plain_body_is_415_problem() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(server.url(CSP_REPORTS))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    expect_problem(response, 415, "unsupported-media-type").await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_path_is_404_problem() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    expect_problem(response, 404, "not-found").await;
    server.stop().await;
}

/// A route that takes no query or no body refuses one sent, naming it: a client that thinks it asked for something
/// learns it did not (an ignored `?lang=en` or `{"reason": ...}` looks like a server that forgot it).
#[tokio::test]
async fn a_query_or_body_a_route_does_not_take_is_400_naming_it() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/api/v1/t/some-table?lang=en"))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 400, "validation").await;
    assert_eq!(body["errors"][0]["field"], "lang", "{body}");
    let response = server
        .client
        .post(server.url("/api/v1/t/some-table/orders/some-order/cancel"))
        .json(&serde_json::json!({"reason": "lo pedí dos veces"}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 400, "validation").await;
    assert_eq!(body["errors"][0]["field"], "reason", "{body}");
    // Whatever its media type: the route declares no body, so it answers no 415 either.
    let response = server
        .client
        .post(server.url("/api/v1/t/some-table/orders/some-order/cancel"))
        .header("content-type", "text/plain")
        .body("por favor")
        .send()
        .await
        .unwrap();
    expect_problem(response, 400, "malformed-json").await;
    server.stop().await;
}

#[tokio::test]
async fn wrong_method_is_405_problem_with_allow() {
    let server = TestServer::start().await;
    let response = server.client.delete(server.url("/healthz")).send().await.unwrap();
    assert!(
        response.headers().contains_key("allow"),
        "{:?}",
        response.headers()
    );
    expect_problem(response, 405, "method-not-allowed").await;
    server.stop().await;
}

#[tokio::test]
async fn valid_csp_report_is_accepted() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(server.url(CSP_REPORTS))
        .header("content-type", "application/csp-report")
        .body(r#"{"csp-report": {"document-uri": "https://x/", "violated-directive": "script-src", "blocked-uri": "https://evil.example/x.js"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    server.stop().await;
}

#[tokio::test]
async fn hostile_bodies_never_cause_a_500() {
    let server = TestServer::start().await;
    let bodies: [(&str, &[u8]); 8] = [
        ("application/json", b""),
        ("application/json", b"null"),
        ("application/json", b"[]"),
        ("application/json", b"{\"csp-report\": []}"),
        ("application/json", b"\xff\xfe\x00garbage"),
        ("application/json", b"{\"csp-report\": {}} trailing"),
        ("application/json; charset=latin1", b"{}"),
        ("application/x-www-form-urlencoded", b"a=b"),
    ];
    for (content_type, body) in bodies {
        let response = server
            .client
            .post(server.url(CSP_REPORTS))
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            (400..500).contains(&status) || status == 204,
            "{content_type} {body:?} → {status}"
        );
        if status != 204 {
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/problem+json")
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn card_numbers_are_refused_wherever_they_appear() {
    let server = TestServer::start().await;
    let report = |uri: &str| format!(r#"{{"csp-report": {{"document-uri": "{uri}"}}}}"#);
    let attempts = [
        server
            .client
            .post(server.url(CSP_REPORTS))
            .header("content-type", "application/json")
            .body(report("4242424242424242")),
        server
            .client
            .post(server.url(CSP_REPORTS))
            .header("content-type", "application/json")
            .body(report("4242 4242 4242 4242")),
        server
            .client
            .post(server.url(CSP_REPORTS))
            .header("content-type", "application/json")
            .body(r#"{"csp-report": {}, "pan": 5555555555554444}"#.to_owned()),
        server.client.get(server.url("/healthz?card=4000-0566-5566-5556")),
        server
            .client
            .get(server.url("/healthz?card=4000%200566%205566%205556")),
        server
            .client
            .get(server.url("/healthz"))
            .header("x-card", "378282246310005"),
        server.client.get(server.url("/t/4242424242424242")),
    ];
    // Typed into a note the ways an outside tester got past the single-separator rule (session 22).
    let typed = [
        "4242+4242+4242+4242",
        "4242  4242  4242  4242",
        "(4242) 4242 4242 4242",
        "\u{2463}\u{2461}\u{2463}\u{2461}\u{2463}\u{2461}\u{2463}\u{2461}\u{2463}\u{2461}\u{2463}\u{2461}\u{2463}\u{2461}\u{2463}\u{2461}",
    ]
    .map(|note| {
        server
            .client
            .post(server.url(CSP_REPORTS))
            .header("content-type", "application/json")
            .body(serde_json::json!({"csp-report": {}, "note": note}).to_string())
    });
    // Typed with other separators in the path and in the headers comanda keeps (found from outside, session 31: an
    // audit entry's path and an order's idempotency key and device held them).
    let in_path = [
        "4242.4242.4242.4242",
        "5200--8282--8282--8210",
        "4000%20-%200566%20-%205566%20-%205556",
        "\u{ff14}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff12}",
        "4242%C2%A04242%C2%A04242%C2%A04242",
        "4242/4242/4242/4242",
    ]
    .map(|pan| server.client.get(server.url(&format!("/api/v1/notes/{pan}"))));
    let in_kept_headers = [
        ("idempotency-key", "4242.4242.4242.4242"),
        ("idempotency-key", "4000/0566/5566/5556"),
        ("x-guest-device", "4242_4242_4242_4242"),
        ("x-request-id", "5200--8282--8282--8210"),
    ]
    .map(|(name, pan)| server.client.get(server.url("/healthz")).header(name, pan));
    for attempt in attempts
        .into_iter()
        .chain(typed)
        .chain(in_path)
        .chain(in_kept_headers)
    {
        let body = expect_problem(attempt.send().await.unwrap(), 400, "card-data-refused").await;
        let text = body.to_string();
        for digits in ["4242", "5555555555554444", "0566", "378282246310005"] {
            assert!(!text.contains(digits), "the number is never echoed: {text}");
        }
    }
    // Look-alikes pass: an identifier whose tail is Luhn-valid digits, an amount, a timestamp.
    let fine = server
        .client
        .post(server.url(CSP_REPORTS))
        .header("content-type", "application/json")
        .body(report(
            "https://x/v/01936b5e-2c4f-7a1b-4242-424242424242?amount=4500000&at=2026-11-23T06:44:03Z",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status().as_u16(), 204);
    server.stop().await;
}

/// PAY-1, issue 15: a card number glued to a letter or an underscore is still a card number. Each request below is
/// refused with 400 card-data-refused before any handler runs (a signup that would otherwise be stored among
/// them), and no log line the server writes, through the production redaction layer, holds the digits.
#[tokio::test]
async fn a_glued_card_number_is_refused_and_reaches_no_log_line() {
    use comanda_security::redact::RedactingMakeWriter;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The server runs on this test's single-threaded runtime, so this thread's subscriber sees its events.
    let capture = Capture::default();
    let sink = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(RedactingMakeWriter::new(move || sink.clone()))
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    // With one subscriber registered, tracing caches each event site's interest as judged by the thread that reaches
    // it first (another test's, which has none); a second registered subscriber makes it ask every one of them.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());

    let server = TestServer::start().await;
    let json = |path: &str, body: serde_json::Value| server.client.post(server.url(path)).json(&body);
    let attempts = [
        json(CSP_REPORTS, serde_json::json!({"name": "x4242424242424242"})),
        json(
            "/api/v1/signup",
            serde_json::json!({"business_name": "x4242424242424242", "country": "CO",
                "owner": {"name": "Ana", "email": "ana@glued.example",
                          "password": "violet kettle forty two"}}),
        ),
        json(
            "/api/v1/signup",
            serde_json::json!({"business_name": "Bistro", "country": "CO",
                "owner": {"name": "_4242424242424242", "email": "b@glued.example",
                          "password": "violet kettle forty two"}}),
        ),
        // Typed to get past a filter, in a field a person fills in (found by an outside audit).
        json(
            "/api/v1/signup",
            serde_json::json!({"business_name": "my card 4242.4242.4242.4242 exp 12/29", "country": "CO",
                "owner": {"name": "Ana", "email": "c@typed.example",
                          "password": "violet kettle forty two"}}),
        ),
        json(
            CSP_REPORTS,
            serde_json::json!({"name": "\u{FF14}\u{FF12}\u{FF14}\u{FF12} 4242 4242/42\u{200B}42"}),
        ),
        server
            .client
            .get(server.url("/healthz?ref=card4242424242424242end")),
        server
            .client
            .get(server.url("/healthz"))
            .header("x-note", "4242424242424242x"),
    ];
    for attempt in attempts {
        let body = expect_problem(attempt.send().await.unwrap(), 400, "card-data-refused").await;
        assert!(
            !body.to_string().contains("4242"),
            "the number is never echoed: {body}"
        );
    }
    server.stop().await;
    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("card-like number refused"),
        "the guard's own lines were captured:\n{logged}"
    );
    let leaks: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("4242424242424242"))
        .collect();
    assert!(leaks.is_empty(), "the digits reached the log: {leaks:#?}");
}

/// A client that misspells a field is told so (400 naming it), never silently given the default: every request body
/// refuses fields it does not have, at the top, nested, and in each variant of a tagged union.
#[tokio::test]
async fn a_misspelled_field_is_400_naming_it() {
    let server = TestServer::start().await;
    let signup = |extra: serde_json::Value| {
        let mut body = serde_json::json!({
            "business_name": "Bistro",
            "country": "CO",
            "owner": {"name": "Ana", "email": "ana@bistro.example", "password": "correct horse battery staple"},
        });
        merge(&mut body, extra);
        server.client.post(server.url("/api/v1/signup")).json(&body)
    };
    let cases = [
        (signup(serde_json::json!({"plan": "pro"})), "plan"),
        (
            signup(serde_json::json!({"owner": {"nmae": "Ana"}})),
            "owner.nmae",
        ),
        // The JSON extractor refuses the body before the table token is even looked at.
        (
            server
                .client
                .post(server.url("/api/v1/t/some-table/payments"))
                .json(&serde_json::json!({"split": {"kind": "full"}, "tips": 5000})),
            "tips",
        ),
        (
            server
                .client
                .post(server.url("/api/v1/t/some-table/payments"))
                .json(&serde_json::json!({"split": {"kind": "full", "parts": 2}})),
            "split.parts",
        ),
        (
            server
                .client
                .post(server.url("/api/v1/t/some-table/orders"))
                .json(&serde_json::json!({"items": [{"item_id": "x", "quantity": 1, "notes": "no onion"}]})),
            "items[0].notes",
        ),
    ];
    for (request, field) in cases {
        let body = expect_problem(request.send().await.unwrap(), 400, "validation").await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert_eq!(body["detail"], format!("unknown field `{field}`"), "{body}");
    }
    server.stop().await;
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
            for (key, value) in from {
                merge(into.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (into, from) => *into = from,
    }
}
