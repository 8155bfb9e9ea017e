//! Server-rendered pages. They load only same-origin assets, so the default strict CSP (no inline script or style)
//! holds for them.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

const STYLESHEET: &str = include_str!("../../assets/site.css");

/// Spanish unless the browser prefers English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    /// Picks the first of Spanish or English in the `Accept-Language` list, by quality then order.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let Some(accept) = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return Lang::Es;
        };
        let mut best: Option<(u16, usize, Lang)> = None;
        for (position, entry) in accept.split(',').enumerate() {
            let mut parts = entry.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            let lang = if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else if tag == "es" || tag.starts_with("es-") {
                Lang::Es
            } else {
                continue;
            };
            let q = (quality.clamp(0.0, 1.0) * 1000.0) as u16;
            if q > 0 && best.is_none_or(|(bq, _, _)| q > bq) {
                best = Some((q, position, lang));
            }
        }
        best.map_or(Lang::Es, |(_, _, lang)| lang)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }
}

struct Copy {
    title: &'static str,
    tagline: &'static str,
    guests: &'static str,
    guests_text: &'static str,
    partners: &'static str,
    partners_text: &'static str,
    security: &'static str,
    security_text: &'static str,
    disclosure: &'static str,
    trust: &'static str,
}

const ES: Copy = Copy {
    title: "comanda — pide y paga desde la mesa",
    tagline: "Pide y paga desde la mesa. Cocina en vivo, cuenta dividida y propinas para tu restaurante.",
    guests: "Para tus comensales",
    guests_text: "Escanean el código QR de la mesa, piden desde el celular, dividen la cuenta y pagan con propina \
                  voluntaria.",
    partners: "Para tu restaurante",
    partners_text: "Menú bilingüe, código QR por mesa, pantalla de cocina en vivo, equipo con roles y el registro mensual de \
                    propinas.",
    security: "Seguridad",
    security_text: "TLS 1.2 o superior (1.3 por defecto), HSTS y separación estricta entre restaurantes. Los datos de tarjeta \
                    nunca llegan a nuestros servidores.",
    disclosure: "Reportar una vulnerabilidad",
    trust: "Cada promesa de seguridad, con las pruebas que la demuestran",
};

const EN: Copy = Copy {
    title: "comanda — order and pay at the table",
    tagline: "Order and pay at the table. A live kitchen display, split bills and tips for your restaurant.",
    guests: "For your guests",
    guests_text: "Scan the table's QR code, order from the phone, split the bill and pay with a voluntary tip.",
    partners: "For your restaurant",
    partners_text: "A bilingual menu, a QR code per table, a live kitchen display, staff roles and a monthly tip ledger.",
    security: "Security",
    security_text: "TLS 1.2 or later (1.3 by default), HSTS and strict separation between restaurants. Card data never \
                    reaches our servers.",
    disclosure: "Report a vulnerability",
    trust: "Every security promise, with the tests that prove it",
};

/// The landing page, in Spanish or English by `Accept-Language`.
#[utoipa::path(get, path = "/", tag = "pages", responses(
    (status = 200, content_type = "text/html; charset=utf-8", body = String)
))]
pub async fn landing(headers: HeaderMap) -> Response {
    let lang = Lang::negotiate(&headers);
    let copy = match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    };
    let page = format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/assets/site.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
<header><h1 class="brand">comanda</h1><p class="tagline">{tagline}</p></header>
<main>
<section><h2>{guests}</h2><p>{guests_text}</p></section>
<section><h2>{partners}</h2><p>{partners_text}</p></section>
<section id="security"><h2>{security}</h2><p>{security_text}</p><p><a href="/trust">{trust}</a></p></section>
</main>
<footer><a href="/.well-known/security.txt">{disclosure}</a> · <a href="/openapi.json">API</a></footer>
</body>
</html>
"#,
        lang = lang.code(),
        title = copy.title,
        tagline = copy.tagline,
        guests = copy.guests,
        guests_text = copy.guests_text,
        partners = copy.partners,
        partners_text = copy.partners_text,
        security = copy.security,
        security_text = copy.security_text,
        disclosure = copy.disclosure,
        trust = copy.trust,
    );
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    response
}

/// The site's icon: a plate and fork in the brand's colours, as SVG (every browser the pages support draws one).
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#1d1b16"/><circle cx="16" cy="16" r="9" fill="none" stroke="#f3b27a" stroke-width="2"/><path d="M15 9v14M13 9v4a2 2 0 0 0 4 0V9" stroke="#f3b27a" stroke-width="1.5" fill="none" stroke-linecap="round"/></svg>"##;

/// The site's icon. Browsers ask `/favicon.ico` of any page (and of the JSON API opened in a tab) before reading
/// the page's `<link rel="icon">`; both answer the same SVG rather than a 404 in every access log.
#[utoipa::path(get, path = "/favicon.ico", tag = "pages", responses(
    (status = 200, content_type = "image/svg+xml", body = String)
))]
pub async fn favicon() -> Response {
    icon()
}

/// The site's icon, as the pages link it.
#[utoipa::path(get, path = "/favicon.svg", tag = "pages", responses(
    (status = 200, content_type = "image/svg+xml", body = String)
))]
pub async fn favicon_svg() -> Response {
    icon()
}

fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        ICON,
    )
        .into_response()
}

/// The site's stylesheet.
#[utoipa::path(get, path = "/assets/site.css", tag = "pages", responses(
    (status = 200, content_type = "text/css", body = String)
))]
pub async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn language_follows_accept_language() {
        assert_eq!(Lang::negotiate(&HeaderMap::new()), Lang::Es);
        assert_eq!(Lang::negotiate(&accept("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(&accept("fr, en;q=0.5, es;q=0.8")), Lang::Es);
        assert_eq!(Lang::negotiate(&accept("de")), Lang::Es);
        assert_eq!(Lang::negotiate(&accept("es-CO, en")), Lang::Es);
    }
}
