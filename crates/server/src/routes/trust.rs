//! The public trust page (`GET /trust`, API.md): generated from the controls map this build embeds, the promises the
//! running configuration does not keep, and the live checks this server last ran against its own listener — never
//! written by hand (SECURITY-PROMISES.md).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppState;
use crate::controls::{Control, ControlsMap, Status};
use crate::live_checks::LiveReport;
use crate::routes::app_pages::escape;

/// The trust page: every promise with its clauses and the tests that prove them, what this deployment does not
/// keep, and the live checks' last results.
#[utoipa::path(get, path = "/trust", tag = "pages", responses(
    (status = 200, content_type = "text/html; charset=utf-8", body = String)
))]
pub async fn trust(State(state): State<AppState>) -> Response {
    let live = state.live_checks.load_full();
    let page = match crate::controls::load() {
        Ok(map) => render(&map, &state.settings.broken_promises, live.as_deref()),
        // The map is embedded and parsed by the suite, so this is a build fault, said as such.
        Err(error) => {
            tracing::error!(%error, "the embedded controls map does not parse");
            render(&ControlsMap { control: Vec::new() }, &[], None)
        }
    };
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The page's HTML. `broken`: control id and why, for each promise the configuration does not keep.
pub fn render(map: &ControlsMap, broken: &[(&'static str, String)], live: Option<&LiveReport>) -> String {
    let count = |status| map.control.iter().filter(|c| c.status == status).count();
    let mut summary = format!(
        "{} proven by tests, {} partly proven, {} not built yet, {} kept by process (documents, not software); {} \
         promises in all.",
        count(Status::Proven),
        count(Status::Partial),
        count(Status::Missing),
        count(Status::Process),
        map.control.len()
    );
    let not_kept: std::collections::BTreeSet<&str> = broken.iter().map(|(id, _)| *id).collect();
    if !not_kept.is_empty() {
        summary.push_str(&format!(
            " Not kept by this deployment's configuration: {}.",
            not_kept.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let live_summary = match live {
        Some(report) => format!(
            "Live checks against this server ({}), {}: {} of {} passed.",
            escape(&report.endpoint),
            report
                .checked_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            report.checks.iter().filter(|c| c.passed).count(),
            report.checks.len()
        ),
        None => {
            "Live checks have not run on this server yet: they run a few seconds after it starts, then every \
                 hour."
                .to_owned()
        }
    };
    let sections: String = map
        .control
        .iter()
        .map(|control| section(control, broken, live))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>comanda — trust</title>
<link rel="stylesheet" href="/assets/site.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
<header><h1 class="brand">comanda</h1><p class="tagline">Every promise of our security page, the tests that prove it, and what this server shows live.</p></header>
<main>
<section id="summary"><h2>Summary</h2><p>{summary}</p><p>{live_summary}</p><p>Generated from the controls map this build was tested against (security/controls.toml) and from checks run against this server; nothing here is written by hand. <a href="/.well-known/security.txt">Report a vulnerability</a>.</p></section>
{sections}</main>
</body>
</html>
"#,
        summary = escape(&summary),
    )
}

fn section(control: &Control, broken: &[(&'static str, String)], live: Option<&LiveReport>) -> String {
    let id = escape(&control.id);
    let not_kept: Vec<String> = broken
        .iter()
        .filter(|(b, _)| *b == control.id)
        .map(|(_, why)| escape(why))
        .collect();
    let live_check = control
        .live
        .as_deref()
        .map(|name| (name, live.and_then(|report| report.check(name))));
    let live_failed = matches!(live_check, Some((_, Some(check))) if !check.passed);
    let status = if !not_kept.is_empty() {
        "not kept by this deployment".to_owned()
    } else if live_failed {
        "failing its live check".to_owned()
    } else {
        match control.status {
            Status::Proven => "proven by tests",
            Status::Partial => "partly proven",
            Status::Missing => "not built yet",
            Status::Process => "kept by process",
        }
        .to_owned()
    };
    let mut html = format!("<section id=\"{id}\"><h2>{id}: {status}</h2>\n");
    for why in &not_kept {
        html.push_str(&format!("<p>This deployment's configuration: {why}.</p>\n"));
    }
    if let Some((name, check)) = live_check {
        let name = escape(name);
        html.push_str(&match check {
            Some(check) => format!(
                "<p>Live check <code>{name}</code>: {} — {}</p>\n",
                if check.passed { "passed" } else { "FAILED" },
                escape(&check.observed)
            ),
            None => format!("<p>Live check <code>{name}</code>: not run yet.</p>\n"),
        });
    }
    if !control.clauses.is_empty() {
        html.push_str("<ul>\n");
        for clause in &control.clauses {
            let proof = if clause.is_open() {
                format!(
                    "open{}",
                    clause
                        .note
                        .as_deref()
                        .map(|n| format!(": {}", escape(n)))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "proven by {}",
                    clause
                        .tests
                        .iter()
                        .map(|t| format!("<code>{}</code>", escape(t)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            html.push_str(&format!("<li>{} — {proof}</li>\n", escape(&clause.clause)));
        }
        html.push_str("</ul>\n");
    }
    if let Some(note) = &control.note {
        html.push_str(&format!("<p>{}</p>\n", escape(note)));
    }
    html.push_str("</section>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live_checks::LiveCheck;

    #[test]
    fn the_page_says_what_the_map_the_configuration_and_the_live_checks_say() {
        let map = crate::controls::load().unwrap();
        let live = LiveReport {
            endpoint: "localhost (127.0.0.1:8443)".into(),
            checked_at: time::macros::datetime!(2026-12-01 10:00 UTC),
            checks: vec![
                LiveCheck {
                    name: "tls-versions",
                    passed: true,
                    observed: "TLSv1_3".into(),
                },
                LiveCheck {
                    name: "hsts-header",
                    passed: false,
                    observed: "GET /healthz: <none>".into(),
                },
            ],
        };
        let page = render(&map, &[("BAK-3", "one machine".into())], Some(&live));
        assert!(page.contains("<h2>TLS-1: proven by tests</h2>"), "{page}");
        assert!(page.contains("<h2>TLS-2: failing its live check</h2>"));
        assert!(page.contains("Live check <code>hsts-header</code>: FAILED — GET /healthz: &lt;none&gt;"));
        assert!(page.contains("<h2>BAK-3: not kept by this deployment</h2>"));
        assert!(page.contains("<h2>AUTH-1: not built yet</h2>"));
        assert!(page.contains("1 of 2 passed"));
        for control in &map.control {
            assert!(page.contains(&format!("id=\"{}\"", control.id)), "{}", control.id);
        }
    }
}
