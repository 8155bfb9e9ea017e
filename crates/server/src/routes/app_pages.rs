//! The staff pages: sign-up, sign-in, second-factor enrolment, dashboard, staff, invitation acceptance. Each is a
//! server-rendered shell in the visitor's language; `/assets/app.js` (same origin, so the strict CSP holds) drives
//! the JSON API from it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::pages::Lang;

const APP_JS: &str = include_str!("../../assets/app.js");
/// The payment page's own script: small, separate from app.js, and pinned by Subresource Integrity (PAY-3).
const PAY_JS: &str = include_str!("../../assets/pay.js");

/// `sha384-…` of [`PAY_JS`], as the page's `integrity` attribute and the script inventory carry it.
pub fn pay_script_integrity() -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA384, PAY_JS.as_bytes());
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

fn tr(lang: Lang, es: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Es => es,
        Lang::En => en,
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML every page shares: language, title, the stylesheet, the page's scripts (same origin unless the page's
/// own CSP says otherwise), the bar, and the error box the scripts fill.
fn shell(lang: Lang, name: &str, title: &str, scripts: &str, main: &str, home: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · comanda</title>
<link rel="stylesheet" href="/assets/site.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
{scripts}
</head>
<body data-page="{name}" data-lang="{lang}">
<header class="bar"><a class="brand small" href="{home}">comanda</a></header>
<main {main}>
<h1>{title}</h1>
<p class="error" id="error-box" role="alert" hidden></p>
{body}
</main>
</body>
</html>
"#,
        lang = lang.code(),
    );
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    response
}

fn page(lang: Lang, name: &str, title: &str, body: &str) -> Response {
    shell(
        lang,
        name,
        title,
        r#"<script src="/assets/app.js" defer></script>"#,
        r#"class="narrow""#,
        "/",
        body,
    )
}

/// A staff page: the app script, and the brand leading back to the dashboard. `main` is its layout class
/// (`class="narrow"` or `class="wide"`).
fn staff_page(lang: Lang, name: &str, title: &str, main: &str, body: &str) -> Response {
    shell(
        lang,
        name,
        title,
        r#"<script src="/assets/app.js" defer></script>"#,
        main,
        "/dashboard",
        &format!("{}\n{body}", switch_line(lang)),
    )
}

/// A page of the partner's people that is not a staff tool (sign-up, sign-in, the dashboard, the team): [`page`]
/// with the language switch.
fn account_page(lang: Lang, name: &str, title: &str, body: &str) -> Response {
    page(lang, name, title, &format!("{}\n{body}", switch_line(lang)))
}

/// The link to the other language on the partner's pages, kept from page to page by a cookie
/// (`middleware::chosen_language`); the script keeps the page's own query (`?venue=…`) on it.
fn switch_line(lang: Lang) -> &'static str {
    match lang {
        Lang::Es => {
            r#"<p class="switch-line"><a class="switch" data-keep-query href="?lang=en" hreflang="en">English</a></p>"#
        }
        Lang::En => {
            r#"<p class="switch-line"><a class="switch" data-keep-query href="?lang=es" hreflang="es">Español</a></p>"#
        }
    }
}

/// Registers a restaurant and its owner.
#[utoipa::path(get, path = "/signup", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn signup(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<form id="signup-form" method="post">
<label>{business}<input name="business_name" required maxlength="200" autocomplete="organization"></label>
<label>{country}<select name="country"><option value="CO" selected>Colombia</option><option value="MX">México</option><option value="PE">Perú</option><option value="CL">Chile</option><option value="US">United States</option></select></label>
<label>{name}<input name="name" required maxlength="200" autocomplete="name"></label>
<label>{email}<input name="email" type="email" required autocomplete="username"></label>
<label>{password}<input name="password" type="password" required minlength="12" maxlength="128" autocomplete="new-password"></label>
<p class="hint">{hint}</p>
<button type="submit">{submit}</button>
</form>
<p><a href="/signin">{have}</a></p>"#,
        business = tr(l, "Nombre del restaurante", "Restaurant name"),
        country = tr(l, "País", "Country"),
        name = tr(l, "Tu nombre", "Your name"),
        email = tr(l, "Correo", "Email"),
        password = tr(l, "Contraseña", "Password"),
        hint = tr(
            l,
            "Al menos 12 caracteres; una frase larga es lo mejor. Después activarás la verificación en dos pasos.",
            "At least 12 characters; a long phrase is best. Next you will turn on two-step verification."
        ),
        submit = tr(l, "Crear cuenta", "Create account"),
        have = tr(
            l,
            "¿Ya tienes cuenta? Inicia sesión",
            "Already registered? Sign in"
        ),
    );
    account_page(
        l,
        "signup",
        tr(l, "Registra tu restaurante", "Register your restaurant"),
        &body,
    )
}

/// Sign-in, with the second step when 2FA is on.
#[utoipa::path(get, path = "/signin", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn signin(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<form id="signin-form" method="post">
<label>{email}<input name="email" type="email" required autocomplete="username"></label>
<label>{password}<input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit">{submit}</button>
</form>
<form id="code-form" method="post" hidden>
<label>{code}<input name="code" required autocomplete="one-time-code" inputmode="numeric"></label>
<button type="submit">{verify}</button>
</form>
<p><a href="/signup">{new}</a></p>"#,
        email = tr(l, "Correo", "Email"),
        password = tr(l, "Contraseña", "Password"),
        submit = tr(l, "Entrar", "Sign in"),
        code = tr(
            l,
            "Código de tu app o código de recuperación",
            "Code from your app, or a recovery code"
        ),
        verify = tr(l, "Verificar", "Verify"),
        new = tr(l, "Registrar un restaurante", "Register a restaurant"),
    );
    account_page(l, "signin", tr(l, "Iniciar sesión", "Sign in"), &body)
}

/// Second-factor enrolment: QR code, secret, first code, recovery codes.
#[utoipa::path(get, path = "/enroll", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn enroll(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<section id="password-step" hidden>
<p>{reauth}</p>
<form id="password-form" method="post">
<label>{password}<input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit">{next}</button>
</form>
</section>
<section id="enroll-step">
<p>{intro}</p>
<img id="totp-qr" alt="{qr}" width="220" height="220">
<p>{manual} <code id="totp-secret"></code></p>
<form id="confirm-form" method="post">
<label>{code}<input name="code" required autocomplete="one-time-code" inputmode="numeric" maxlength="6"></label>
<button type="submit">{confirm}</button>
</form>
</section>
<section id="recovery-step" hidden>
<p>{save}</p>
<ol id="recovery-codes" class="codes"></ol>
<button id="continue" type="button">{next}</button>
</section>"#,
        intro = tr(
            l,
            "Tu rol exige verificación en dos pasos. Escanea el código con tu app de autenticación.",
            "Your role requires two-step verification. Scan the code with your authenticator app."
        ),
        reauth = tr(
            l,
            "Para activar la verificación en dos pasos, confirma tu contraseña.",
            "To turn on two-step verification, confirm your password."
        ),
        password = tr(l, "Contraseña actual", "Current password"),
        qr = tr(l, "Código QR para tu app", "QR code for your app"),
        manual = tr(
            l,
            "¿No puedes escanear? Escribe esta clave:",
            "Cannot scan? Type this key:"
        ),
        code = tr(l, "Código de 6 dígitos", "6-digit code"),
        confirm = tr(l, "Activar", "Turn on"),
        save = tr(
            l,
            "Guarda estos códigos de recuperación en un lugar seguro. Cada uno sirve una sola vez.",
            "Keep these recovery codes somewhere safe. Each works once."
        ),
        next = tr(l, "Continuar", "Continue"),
    );
    account_page(
        l,
        "enroll",
        tr(l, "Verificación en dos pasos", "Two-step verification"),
        &body,
    )
}

/// The signed-in member's home.
#[utoipa::path(get, path = "/dashboard", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn dashboard(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<section id="me" class="card">
<p>{hello} <strong id="me-name"></strong> · <span id="me-role"></span></p>
<p id="me-mfa"></p>
</section>
<ul id="venues" class="venues"></ul>
<section id="setup" class="card" hidden>
<h2>{new_venue}</h2>
<form id="venue-form">
<label>{venue_name}<input name="name" required maxlength="200" autocomplete="organization"></label>
<label>{address}<input name="address" maxlength="500" autocomplete="street-address"></label>
<label>{zone}<input name="timezone" required list="zones" value="America/Bogota" autocomplete="off" spellcheck="false"></label>
<datalist id="zones"></datalist>
<button type="submit">{add_venue}</button>
</form>
</section>
<section id="payouts" class="card" hidden>
<h2>{payouts}</h2>
<p id="payouts-state"></p>
<button id="payouts-connect" type="button">{connect}</button>
</section>
<nav class="actions"><a id="staff-link" href="/staff">{staff}</a> <button id="signout" type="button">{out}</button> <button id="signout-all" type="button">{all}</button></nav>"#,
        new_venue = tr(l, "Nueva sede", "New venue"),
        venue_name = tr(l, "Nombre de la sede", "Venue name"),
        address = tr(l, "Dirección", "Address"),
        zone = tr(l, "Zona horaria", "Time zone"),
        add_venue = tr(l, "Crear sede", "Create venue"),
        payouts = tr(l, "Cobros con tarjeta", "Card payments"),
        connect = tr(l, "Conectar cobros con Stripe", "Connect payments with Stripe"),
        hello = tr(l, "Hola,", "Hello,"),
        staff = tr(l, "Equipo", "Staff"),
        out = tr(l, "Cerrar sesión", "Sign out"),
        all = tr(l, "Cerrar todas las sesiones", "Sign out everywhere"),
    );
    account_page(l, "dashboard", tr(l, "Panel", "Dashboard"), &body)
}

/// Staff list, invitations and roles.
#[utoipa::path(get, path = "/staff", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn staff(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<div class="table-scroll"><table id="staff-table" tabindex="-1"><thead><tr><th>{name}</th><th>{email}</th><th>{role}</th><th>{venues}</th><th>{payout}</th><th>2FA</th><th><span class="visually-hidden">{actions}</span></th></tr></thead><tbody></tbody></table></div>
<p id="staff-status" class="visually-hidden" role="status"></p>
<section id="pending-invitations" hidden>
<h2>{pending}</h2>
<ul id="invitation-list" class="day-list"></ul>
</section>
<h2>{invite}</h2>
<form id="invite-form" method="post">
<label>{name}<input name="name" required maxlength="200"></label>
<label>{email}<input name="email" type="email" required></label>
<label>{role}<select name="role"><option value="server">{server}</option><option value="kitchen">{kitchen}</option><option value="host">{host}</option><option value="analyst">{analyst}</option><option value="manager">{manager}</option><option value="owner">{owner}</option></select></label>
<label class="inline"><input name="payout_authority" type="checkbox"> {payout}</label>
<fieldset id="invite-venues" hidden><legend>{venues}</legend><p id="invite-venues-hint" class="hint"></p><div class="venue-choices"></div></fieldset>
<button type="submit">{send}</button>
</form>
<p id="invite-sent" class="ok" hidden>{sent}</p>"#,
        name = tr(l, "Nombre", "Name"),
        email = tr(l, "Correo", "Email"),
        role = tr(l, "Rol", "Role"),
        invite = tr(l, "Invitar", "Invite"),
        server = tr(l, "Mesero", "Server"),
        kitchen = tr(l, "Cocina", "Kitchen"),
        host = tr(l, "Anfitrión", "Host"),
        analyst = tr(l, "Analista", "Analyst"),
        manager = tr(l, "Gerente", "Manager"),
        owner = tr(l, "Propietario", "Owner"),
        payout = tr(l, "Autoridad sobre pagos", "Payout authority"),
        send = tr(l, "Enviar invitación", "Send invitation"),
        sent = tr(l, "Invitación enviada.", "Invitation sent."),
        actions = tr(l, "Acciones", "Actions"),
        pending = tr(l, "Invitaciones pendientes", "Pending invitations"),
        venues = tr(l, "Sedes", "Venues"),
    );
    // Wide: the team's table (name, email, role, venues, payout authority, 2FA, removal) does not fit a card.
    staff_page(l, "staff", tr(l, "Equipo", "Staff"), r#"class="wide""#, &body)
}

/// Accepting an invitation: choose a password.
#[utoipa::path(get, path = "/invitations/{token}", tag = "pages",
    params(("token" = String, Path, description = "Invitation token")),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn invitation(
    State(state): State<crate::app::AppState>,
    ctx: crate::auth::RequestContext,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    use crate::auth::staff::InvitationClosed;
    let l = Lang::negotiate(&headers);
    // Whose team, as what and for which address, said before a password is chosen; a link that opens nothing
    // says so at once (it was refused only after the password was typed).
    let body = match state.identity.invitation_preview(&token, &ctx).await {
        Ok((business, standing, email, venues)) => format!(
            r#"<p id="invited-as">{invited}</p>
<form id="accept-form" method="post" data-token="{token}" data-email="{email}">
<label>{password}<input name="password" type="password" required minlength="12" maxlength="128" autocomplete="new-password"></label>
<button type="submit">{join}</button>
</form>"#,
            invited = match l {
                Lang::Es => format!(
                    "<strong>{}</strong> te invitó a su equipo en comanda como <strong>{}</strong>{}, con el correo {}.",
                    escape(&business),
                    standing.role.spoken(true),
                    at_venues(&venues, " en "),
                    escape(&email)
                ),
                Lang::En => format!(
                    "<strong>{}</strong> invited you to their team on comanda as <strong>{}</strong>{}, with the email {}.",
                    escape(&business),
                    standing.role.spoken(false),
                    at_venues(&venues, " at "),
                    escape(&email)
                ),
            },
            token = escape(&token),
            email = escape(&email),
            password = tr(l, "Elige una contraseña", "Choose a password"),
            join = tr(l, "Unirme al equipo", "Join the team"),
        ),
        Err(closed) => format!(
            r#"<p class="error" id="invitation-closed">{}</p>"#,
            match (closed, l) {
                (InvitationClosed::UsedOrExpired, Lang::Es) =>
                    "Esta invitación ya se usó o venció: si ya te uniste, entra con tu correo; si no, pide una nueva a quien te invitó.",
                (InvitationClosed::UsedOrExpired, Lang::En) =>
                    "This invitation was used already or has expired: if you joined, sign in with your email; if not, ask whoever invited you for a new one.",
                (InvitationClosed::Unknown, Lang::Es) =>
                    "Este enlace de invitación no lleva a ninguna: revisa que esté completo, o pide una nueva a quien te invitó.",
                (InvitationClosed::Unknown, Lang::En) =>
                    "This invitation link leads nowhere: check it is complete, or ask whoever invited you for a new one.",
            }
        ),
    };
    account_page(l, "invitation", tr(l, "Únete al equipo", "Join the team"), &body)
}

/// The pages' script.
#[utoipa::path(get, path = "/assets/app.js", tag = "pages", responses((status = 200, content_type = "text/javascript", body = String)))]
pub async fn script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        APP_JS,
    )
        .into_response()
}

/// `?lang=en|es` overrides the browser's language (the guest page's switch).
fn language(headers: &HeaderMap, query: Option<&str>) -> Lang {
    match query {
        Some(q) if q.split('&').any(|p| p == "lang=en") => Lang::En,
        Some(q) if q.split('&').any(|p| p == "lang=es") => Lang::Es,
        _ => Lang::negotiate(headers),
    }
}

/// The link to the same page in the other language (`?lang=`), on the pages a guest opens.
fn language_switch(l: Lang) -> &'static str {
    match l {
        Lang::Es => r#"<a class="switch" href="?lang=en" hreflang="en">English</a>"#,
        Lang::En => r#"<a class="switch" href="?lang=es" hreflang="es">Español</a>"#,
    }
}

/// The guest page a table's QR code opens: menu, cart, orders and their status. Mobile first; Spanish by default.
#[utoipa::path(get, path = "/t/{token}", tag = "pages", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn guest(headers: HeaderMap, Path(token): Path<String>, uri: axum::http::Uri) -> Response {
    let l = language(&headers, uri.query());
    let other = language_switch(l);
    let body = format!(
        r#"<div id="guest" data-token="{token}">
<p class="table-name"><span id="venue-name"></span><span id="where-separator" hidden> · </span><span id="table-label"></span> {other}</p>
<section id="menu"></section>
<p id="cart-status" class="visually-hidden" role="status"></p>
<section id="cart" class="card" hidden>
<h2>{cart}</h2>
<ul id="cart-lines"></ul>
<p class="total">{total} <strong id="cart-total"></strong></p>
<button id="place-order" type="button">{place}</button>
</section>
<p id="waiting" class="hint" hidden>{waiting}</p>
<p id="bill-at" class="hint" role="status"></p>
<section id="orders" class="card" hidden>
<h2>{orders}</h2>
<ul id="order-list"></ul>
<p id="order-said" class="visually-hidden" role="status"></p>
<div id="bill"></div>
<p><a id="pay-link" class="button" href="/t/{token}/pay?lang={lang}" hidden>{pay}</a></p>
</section>
</div>"#,
        pay = tr(l, "Pagar la cuenta", "Pay the bill"),
        lang = l.code(),
        token = escape(&token),
        cart = tr(l, "Tu pedido", "Your order"),
        total = tr(l, "Total:", "Total:"),
        place = tr(l, "Enviar pedido", "Send order"),
        orders = tr(l, "Pedidos de la mesa", "Table orders"),
        waiting = tr(
            l,
            "Tu pedido espera que el personal confirme la mesa.",
            "Your order waits for the staff to confirm the table."
        ),
    );
    page(l, "guest", tr(l, "Menú", "Menu"), &body)
}

/// The venue a public page's link names, with the tenant scope it is read in; otherwise the answer to give: a link
/// to no bookable venue is a 404 page saying so (in the page's language, as page `name` titled `title`), and a
/// database that fails answers its 5xx, never "no restaurant".
async fn bookable_venue(
    state: &crate::app::AppState,
    venue: &str,
    l: Lang,
    name: &str,
    title: &str,
) -> Result<(comanda_security::TenantScope, comanda_domain::Venue), Response> {
    let found = match crate::routes::reservations::listed(state, venue).await {
        Ok((scope, id)) => match state
            .store
            .venue(&scope, comanda_domain::VenueId::from_uuid(id))
            .await
        {
            Ok(found) => Some((scope, found)),
            Err(comanda_store::StoreError::NotFound) => None,
            Err(other) => return Err(crate::problem::ApiError::from(other).into_response()),
        },
        Err(crate::problem::ApiError::NotFound) => None,
        Err(other) => return Err(other.into_response()),
    };
    found.ok_or_else(|| {
        let gone = tr(
            l,
            "Este enlace no lleva a ningún restaurante que reciba reservas aquí: revísalo con el restaurante.",
            "This link leads to no restaurant taking bookings here: check it with the restaurant.",
        );
        let mut response = page(l, name, title, &format!(r#"<p class="card">{gone}</p>"#));
        *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
        response
    })
}

/// A venue's public booking widget: a date and a party size, the free times, the guest's details with consent to
/// the privacy notice, and the confirmation with the link to view or cancel. Opened with `?reservation=ID&token=T`
/// (the confirmation's link) it shows that reservation and lets the guest cancel it. Mobile first; Spanish by
/// default.
#[utoipa::path(get, path = "/book/{venue}", tag = "pages", params(("venue" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 404, description = "No venue takes bookings at this address", content_type = "text/html",
            body = String)))]
pub async fn booking_widget(
    State(state): State<crate::app::AppState>,
    headers: HeaderMap,
    Path(venue): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let l = language(&headers, uri.query());
    // The guest sees whose table they book, by name and address.
    let (found_scope, found) =
        match bookable_venue(&state, &venue, l, "booking", tr(l, "Reservas", "Reservations")).await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let address = match found.address.trim() {
        "" => String::new(),
        address => format!(r#"<p id="venue-address" class="hint">{}</p>"#, escape(address)),
    };
    // A deposit is told before the guest books, not after the table is held for it: its amount per person, how it
    // is paid and the venue's refund rule (what the deposit page repeats before the card).
    let view = state
        .store
        .booking_view(
            &found_scope,
            found.id.as_uuid(),
            state.clock.now(),
            state.clock.now(),
            None,
        )
        .await;
    // The number a party too large to book online is told to call (the booking settings' contact).
    let contact_phone = match &view {
        Ok(Some((_, policy, _, _))) => escape(policy.contact_phone.as_deref().unwrap_or_default()),
        _ => String::new(),
    };
    let deposit_rule = match view {
        Ok(Some((_, policy, _, _))) => policy.deposit_per_cover.map(|per_cover| {
            let hours = policy.cancellation_cutoff_hours;
            let text = match l {
                Lang::Es => format!(
                    "Este restaurante pide un depósito de {} por persona, con tarjeta, al reservar. Te lo devolvemos \
                     cuando llegas, o si cancelas hasta {hours} horas antes; si no llegas o cancelas después, \
                     queda para el restaurante.",
                    comanda_domain::money::spoken_text(per_cover, true)
                ),
                Lang::En => format!(
                    "This restaurant asks a deposit of {} per guest, by card, when you book. It is refunded when \
                     you come, or if you cancel up to {hours} hours before; if you do not come or cancel later, the \
                     restaurant keeps it.",
                    comanda_domain::money::spoken_text(per_cover, false)
                ),
            };
            format!(r#"<p id="deposit-rule" class="hint">{}</p>"#, escape(&text))
        }),
        _ => None,
    }
    .unwrap_or_default();
    let other = language_switch(l);
    // A venue in Colombia takes its guests' phones as they write them there (no +57): the widget adds it.
    let (calling_code, phone_example) = if found.timezone == "America/Bogota" {
        ("57", "300 123 4567")
    } else {
        ("", "+573001234567")
    };
    let body = format!(
        r#"{address}<div id="booking" data-venue="{venue}" data-calling-code="{calling_code}" data-timezone="{timezone}" data-day-start="{day_start}" data-contact-phone="{contact_phone}">
<p class="hint">{intro} {other}</p>
<form id="search-form" class="card">
<label>{date}<input type="date" name="date" required></label>
<label>{party}<input type="number" name="party_size" min="1" max="100" value="2" required></label>
<button type="submit">{search}</button>
</form>
<section id="slots" class="card" hidden>
<h2>{times}</h2>
<div id="slot-list" class="slots"></div>
<p id="no-slots" class="hint" hidden>{none}</p>
</section>
<form id="details-form" class="card" hidden>
<h2>{details}</h2>
<p id="chosen"></p>
{deposit_rule}
<label>{name}<input name="name" autocomplete="name" required maxlength="200"></label>
<label>{phone}<input name="phone" type="tel" autocomplete="tel" required placeholder="{phone_example}"></label>
<label>{email}<input name="email" type="email" autocomplete="email" required maxlength="254"></label>
<label>{note}<textarea name="note" maxlength="500"></textarea></label>
<p class="hint">{notice_link}</p>
<label class="check"><input type="checkbox" name="consent" required> {consent}</label>
<button type="submit">{book}</button>
</form>
<form id="waitlist-form" class="card" hidden>
<h2>{waitlist}</h2>
<p class="hint">{waitlist_hint}</p>
<p class="turn"><label class="inline">{from} <input type="time" name="earliest" step="900" value="19:00" required></label>
<label class="inline">{until} <input type="time" name="latest" step="900" value="21:00" required></label></p>
<label>{name}<input name="name" autocomplete="name" required maxlength="200"></label>
<label>{phone}<input name="phone" type="tel" autocomplete="tel" required placeholder="{phone_example}"></label>
<label>{email}<input name="email" type="email" autocomplete="email" required maxlength="254"></label>
<p class="hint">{notice_link}</p>
<label class="check"><input type="checkbox" name="consent" required> {consent}</label>
<button type="submit">{join}</button>
</form>
<p id="waitlist-joined" class="ok" hidden>{joined}</p>
<p><button id="leave-waitlist" type="button" class="secondary" hidden>{leave_waitlist}</button></p>
<section id="confirmed" class="card" hidden>
<h2 id="confirmed-title">{done}</h2>
<p id="confirmed-text"></p>
<p id="deposit-text" hidden></p>
<p><a id="pay-deposit-link" class="button" href="" hidden>{pay_deposit}</a></p>
<p class="hint" id="keep-link">{keep}</p>
<p id="manage-line"><a id="manage-link" href="">{manage}</a></p>
<button id="accept-offer" type="button" hidden>{accept}</button>
<button id="cancel-booking" type="button" class="secondary" hidden>{cancel}</button>
</section>
</div>"#,
        venue = escape(&venue),
        leave_waitlist = tr(l, "Salir de la lista de espera", "Leave the waitlist"),
        timezone = escape(&found.timezone),
        day_start = found.day_start_hour,
        intro = tr(l, "Reserva tu mesa.", "Book your table."),
        date = tr(l, "Fecha", "Date"),
        party = tr(l, "Personas", "Guests"),
        search = tr(l, "Ver horarios", "See times"),
        times = tr(l, "Horarios disponibles", "Available times"),
        none = tr(
            l,
            "No quedan horarios ese día para ese grupo.",
            "No times left that day for that party."
        ),
        details = tr(l, "Tus datos", "Your details"),
        name = tr(l, "Nombre", "Name"),
        phone = if calling_code.is_empty() {
            tr(
                l,
                "Celular (con indicativo, +57…)",
                "Mobile (with country code, +57…)",
            )
        } else {
            tr(l, "Celular", "Mobile")
        },
        email = tr(l, "Correo", "Email"),
        note = tr(l, "Nota (opcional)", "Note (optional)"),
        consent = tr(
            l,
            "Autorizo el tratamiento de mis datos para gestionar esta reserva (Ley 1581 de 2012).",
            "I consent to my data being processed to manage this booking (Colombia's Law 1581 of 2012)."
        ),
        notice_link = format!(
            r#"<a href="/book/{venue}/privacy?lang={lang}" target="_blank" rel="noopener">{read}</a>"#,
            venue = escape(&venue),
            lang = l.code(),
            read = tr(
                l,
                "Lee el aviso de privacidad: quién trata tus datos, para qué y tus derechos (se abre en otra pestaña)",
                "Read the privacy notice: who processes your data, what for, and your rights (opens in a new tab)"
            )
        ),
        book = tr(l, "Reservar", "Book"),
        done = tr(l, "Reserva confirmada", "Booking confirmed"),
        keep = tr(
            l,
            "Guarda este enlace: con él ves o cancelas tu reserva.",
            "Keep this link: it lets you see or cancel your booking."
        ),
        manage = tr(l, "Ver o cancelar mi reserva", "See or cancel my booking"),
        pay_deposit = tr(l, "Pagar el depósito", "Pay the deposit"),
        accept = tr(l, "Aceptar la mesa", "Accept the table"),
        waitlist = tr(l, "Lista de espera", "Waitlist"),
        waitlist_hint = tr(
            l,
            "Si se libera una mesa en ese horario te escribimos y la guardamos unos minutos para ti.",
            "If a table comes free in that window we write to you and hold it for you for a few minutes."
        ),
        from = tr(l, "Desde", "From"),
        until = tr(l, "Hasta", "Until"),
        join = tr(l, "Avísame", "Let me know"),
        joined = tr(
            l,
            "Estás en la lista de espera. Te escribiremos si se libera una mesa.",
            "You are on the waitlist. We will write to you if a table comes free."
        ),
        cancel = tr(l, "Cancelar la reserva", "Cancel the booking"),
    );
    page(l, "booking", &escape(&found.name), &body)
}

/// A venue's privacy notice (Law 1581 of 2012 art. 12, Decree 1377 of 2013 art. 14–15, now Decree 1074 of 2015;
/// GDPR Art. 13): who is responsible for the guest's data and who processes it, what is kept and what for, how long,
/// the guest's rights and where to exercise them, and the notice's version (the one consent records). The booking
/// widget links it beside its consent box.
#[utoipa::path(get, path = "/book/{venue}/privacy", tag = "pages", params(("venue" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 404, description = "No venue takes bookings at this address", content_type = "text/html",
            body = String)))]
pub async fn privacy_notice(
    State(state): State<crate::app::AppState>,
    headers: HeaderMap,
    Path(venue): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let l = language(&headers, uri.query());
    let title = tr(l, "Aviso de privacidad", "Privacy notice");
    let (scope, venue) = match bookable_venue(&state, &venue, l, "privacy", title).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let partner = match state.store.partner(&scope).await {
        Ok(partner) => partner,
        Err(other) => return crate::problem::ApiError::from(other).into_response(),
    };
    let business = escape(&partner.business_name);
    let name = escape(&venue.name);
    let place = match venue.address.trim() {
        "" => String::new(),
        address => format!(", {}", escape(address)),
    };
    let version = crate::routes::privacy::NOTICE_VERSION;
    let keystore_days = state.settings.keystore_retention_days;
    // The channel for the guest's rights (Decree 1377 of 2013, art. 15): the contact the venue gave in its booking
    // settings, else the restaurant itself (a guest abroad then has none but the address: the settings say so).
    let policy = state
        .store
        .booking_policy(&scope, venue.id.as_uuid())
        .await
        .ok()
        .flatten();
    let (phone, email) = policy.map_or((None, None), |p| (p.contact_phone, p.contact_email));
    let mail_link = |email: &str| format!(r#"<a href="mailto:{0}">{0}</a>"#, escape(email));
    let phone_link = |phone: &str| format!(r#"<a href="tel:{0}">{0}</a>"#, escape(phone));
    let channel = match (l, email.as_deref(), phone.as_deref()) {
        (Lang::Es, Some(email), Some(phone)) => format!(
            " escribiendo a {} o llamando al {}",
            mail_link(email),
            phone_link(phone)
        ),
        (Lang::Es, Some(email), None) => format!(" escribiendo a {}", mail_link(email)),
        (Lang::Es, None, Some(phone)) => format!(" llamando al {}", phone_link(phone)),
        (Lang::En, Some(email), Some(phone)) => format!(
            " by email to {} or by phone at {}",
            mail_link(email),
            phone_link(phone)
        ),
        (Lang::En, Some(email), None) => format!(" by email to {}", mail_link(email)),
        (Lang::En, None, Some(phone)) => format!(" by phone at {}", phone_link(phone)),
        (Lang::Es, None, None) => format!(", en {name}{place}"),
        (Lang::En, None, None) => format!(", at {name}{place}"),
    };
    let body = match l {
        Lang::Es => format!(
            r#"<section class="card">
<h2>Responsable</h2>
<p><strong>{business}</strong>, que atiende <strong>{name}</strong>{place}, decide sobre tus datos (responsable del
tratamiento). comanda los trata por su cuenta, como encargado, y solo para lo que aquí se dice.</p>
<h2>Qué datos y para qué</h2>
<p>Tu nombre, tu celular, tu correo, la nota que escribas y lo que el restaurante anote al cambiar tu reserva (el
motivo de una cancelación, por ejemplo), para gestionar tu reserva o tu lugar en la lista de espera:
confirmarla, avisarte de cambios o de una mesa que se libera, y reconocerte al llegar. Si el restaurante pide un
depósito, lo pagas con tarjeta en Stripe: los datos de la tarjeta nunca llegan a comanda ni al restaurante. No se usan
para publicidad ni se venden.</p>
<h2>Cuánto tiempo</h2>
<p>Mientras el restaurante conserve la reserva, o hasta que pidas suprimirlos. Tus datos se guardan cifrados con una
llave propia; al suprimirlos esa llave se destruye y no se pueden leer más. Las copias de seguridad de las llaves, que
solo sirven para restaurar el sistema, la guardan a lo sumo {keystore_days} días más; luego tampoco ellas. Los montos
pagados se conservan sin tu identidad, por obligación contable.</p>
<h2>Tus derechos</h2>
<p>Conocer, actualizar y rectificar tus datos; pedir prueba de tu autorización; saber cómo se han usado; revocar la
autorización y pedir que se supriman; y presentar quejas ante la Superintendencia de Industria y Comercio (Ley 1581 de
2012, art. 8). Pídelo al restaurante{channel}: responde las consultas en diez días hábiles y los reclamos en
quince (arts. 14 y 15).</p>
<p class="hint">Versión {version} del aviso: la que aceptas al marcar la casilla.</p>
</section>"#
        ),
        Lang::En => format!(
            r#"<section class="card">
<h2>Who is responsible</h2>
<p><strong>{business}</strong>, which runs <strong>{name}</strong>{place}, decides about your data (the controller).
comanda processes it on their behalf, and only for what this notice says.</p>
<h2>What data, and what for</h2>
<p>Your name, mobile number, email, the note you write and what the restaurant notes when it changes your booking
(the reason for a cancellation, say), to manage your booking or your place on the waitlist: to
confirm it, tell you about changes or about a table that frees up, and to know you when you arrive. When the restaurant
asks a deposit, you pay it by card at Stripe: your card details never reach comanda or the restaurant. Nothing is used
for advertising or sold.</p>
<h2>How long</h2>
<p>As long as the restaurant keeps the booking, or until you ask for its erasure. Your data is stored encrypted under a
key of its own; erasure destroys that key, so it can no longer be read. The backups of keys, kept only to restore the
system, hold it at most {keystore_days} days more; after that, not even they. Amounts paid are kept without your
identity, as accounting law requires.</p>
<h2>Your rights</h2>
<p>To know, update and correct your data; to ask for proof of your consent; to know how it was used; to withdraw your
consent and have it erased; and to complain to Colombia's Superintendencia de Industria y Comercio (Law 1581 of 2012,
art. 8), or to your own data protection authority. Ask the restaurant{channel}: queries are answered within ten
business days and claims within fifteen (arts. 14 and 15).</p>
<p class="hint">Notice version {version}: the one you accept by ticking the box.</p>
</section>"#
        ),
    };
    page(l, "privacy", title, &body)
}

/// The host's day view: the venue's tables against the evening's time, each booking placed where it holds its
/// table, the day's list with the moves a host makes (confirm, seat, late, no-show, cancel, finish, move to another
/// time or party size), and the form for a booking by phone or a walk-in seated at once. The times offered are the
/// host's (`availability` with the host's token: every table, no notice).
#[utoipa::path(get, path = "/host", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn host(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<form id="day-form" class="inline">
<label>{date}<input type="date" name="date" required></label>
<button type="submit">{show}</button>
</form>
<p><a id="settings-link" href="/booking-settings">{settings}</a></p>
<details id="new-booking" class="card"><summary>{new_booking}</summary>
<form id="booking-form">
<p class="turn"><label class="inline">{party}<input name="party_size" type="number" min="1" max="100" value="2" required inputmode="numeric"></label>
<label class="inline">{time}<select name="start"></select></label></p>
<p id="no-times" class="hint" hidden>{no_times}</p>
<label>{name}<input name="name" required maxlength="200" autocomplete="off"></label>
<label>{phone}<input name="phone" type="tel" placeholder="+573001234567" autocomplete="off"></label>
<label>{email}<input name="email" type="email" maxlength="254" autocomplete="off"></label>
<label>{note}<input name="note" maxlength="500" autocomplete="off"></label>
<label class="check"><input type="checkbox" name="consent" required> {consent}</label>
<p><button type="submit" name="book" value="book">{book}</button> <button type="submit" name="walk_in" value="walk_in" class="secondary">{walk_in}</button></p>
</form>
</details>
<div id="timeline" class="timeline" role="region" tabindex="0" aria-label="{timeline}"></div>
<p class="legend"><span class="key"><span class="swatch" data-status="booked"></span>{legend_booked}</span> <span class="key"><span class="swatch" data-status="confirmed"></span>{legend_confirmed}</span> <span class="key"><span class="swatch" data-status="offered"></span>{legend_pending}</span> <span class="key"><span class="swatch" data-status="late"></span>{legend_late}</span> <span class="key"><span class="swatch" data-status="seated"></span>{legend_seated}</span> <span class="key"><span class="swatch" data-status="finished"></span>{legend_finished}</span> <span class="key"><span class="swatch now"></span>{legend_now}</span></p>
<ul id="day-list" class="day-list"></ul>
<p id="day-said" class="visually-hidden" role="status"></p>
<p id="empty-day" class="hint" hidden>{empty}</p>
<h2>{waitlist}</h2>
<details id="new-wait" class="card"><summary>{new_wait}</summary>
<form id="wait-form">
<p class="hint">{wait_hint}</p>
<p class="turn"><label class="inline">{party}<input name="party_size" type="number" min="1" max="100" value="2" required inputmode="numeric"></label>
<label class="inline">{wait_from}<input name="earliest" type="time" required></label>
<label class="inline">{wait_until}<input name="latest" type="time" required></label></p>
<label>{name}<input name="name" required maxlength="200" autocomplete="off"></label>
<label>{wait_phone}<input name="phone" type="tel" required placeholder="+573001234567" autocomplete="off"></label>
<label class="check"><input type="checkbox" name="consent" required> {wait_consent}</label>
<p><button type="submit">{wait_add}</button></p>
</form>
</details>
<ul id="waitlist" class="day-list"></ul>"#,
        date = tr(l, "Día", "Day"),
        show = tr(l, "Ver", "Show"),
        timeline = tr(l, "Mesas y horas", "Tables and times"),
        legend_booked = tr(l, "Reservada", "Booked"),
        legend_confirmed = tr(l, "Confirmada", "Confirmed"),
        legend_pending = tr(l, "Ofrecida o por depósito", "Offered or awaiting deposit"),
        legend_late = tr(l, "Tarde", "Late"),
        legend_seated = tr(l, "En la mesa", "Seated"),
        legend_finished = tr(l, "Terminada (mesa libre)", "Finished (table free)"),
        legend_now = tr(l, "Ahora", "Now"),
        settings = tr(l, "Ajustes de reservas", "Reservation settings"),
        waitlist = tr(l, "Lista de espera", "Waitlist"),
        new_wait = tr(l, "Añadir a la lista de espera", "Add to the waitlist"),
        wait_hint = tr(
            l,
            "Cuando se libere una mesa para el grupo en esa franja, se le ofrece aquí (desde ya, si está esperando en el local): llámalo y marca si la acepta.",
            "When a table comes free for the party in that window, it is offered here (from now, if they are waiting at the venue): call them and mark whether they take it."
        ),
        wait_from = tr(l, "Desde", "From"),
        wait_until = tr(l, "Hasta", "Until"),
        wait_phone = tr(l, "Teléfono (para llamarlo)", "Phone (to call them)"),
        wait_consent = tr(
            l,
            "El cliente aceptó el aviso de privacidad para que lo llamemos (Ley 1581 de 2012).",
            "The guest agreed to the privacy notice for being called (Colombia's Law 1581 of 2012)."
        ),
        wait_add = tr(l, "Añadir a la espera", "Add to the waitlist"),
        empty = tr(l, "Sin reservas ese día.", "No bookings that day."),
        new_booking = tr(l, "Nueva reserva o cliente sin reserva", "New booking or walk-in"),
        party = tr(l, "Personas", "Guests"),
        time = tr(l, "Hora", "Time"),
        no_times = tr(
            l,
            "No queda hora libre para ese grupo ese día.",
            "No time is free for that party that day."
        ),
        name = tr(l, "Nombre", "Name"),
        phone = tr(
            l,
            "Teléfono (para reservar; un cliente sin reserva que se sienta ya puede no darlo)",
            "Phone (to book; a walk-in seated now may leave it out)"
        ),
        email = tr(
            l,
            "Correo (opcional: sin él no se envía confirmación)",
            "Email (optional: without it no confirmation is sent)"
        ),
        note = tr(l, "Nota", "Note"),
        consent = tr(
            l,
            "El cliente aceptó el aviso de privacidad para gestionar su reserva (Ley 1581 de 2012).",
            "The guest agreed to the privacy notice for managing the booking (Colombia's Law 1581 of 2012)."
        ),
        book = tr(l, "Reservar", "Book"),
        walk_in = tr(l, "Sentar ahora (sin reserva)", "Seat now (walk-in)"),
    );
    staff_page(
        l,
        "host",
        tr(l, "Reservas del día", "Today's bookings"),
        r#"class="wide""#,
        &body,
    )
}

/// A venue's sales dashboard (owners, managers and analysts; issue 19): the summary with each figure's definition
/// (a tooltip, and all of them in words under "what each figure means"), the series of a metric as a bar chart, the
/// hour × weekday heat map and the product mix (SVG drawn by our own script from the JSON API, each with its values
/// as a table for screen readers and keyboards), a date-range picker and CSV downloads. Figures are defined in docs/analytics.md.
#[utoipa::path(get, path = "/analytics", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn analytics(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let option = |value: &str, es: &'static str, en: &'static str| {
        format!(r#"<option value="{value}">{}</option>"#, tr(l, es, en))
    };
    let metrics = [
        option("gross", "Ventas brutas", "Gross sales"),
        option("net", "Ventas netas", "Net sales"),
        option("orders", "Pedidos", "Orders"),
        option("tips", "Propinas", "Tips"),
        option("collected", "Cobrado con tarjeta", "Collected by card"),
        option("cash", "Efectivo", "Cash"),
        option("refunds", "Reembolsos", "Refunds"),
        option("tax", "Impuesto", "Tax"),
    ]
    .concat();
    let granularities = [
        option("day", "Por día", "By day"),
        option("hour", "Por hora", "By hour"),
        option("week", "Por semana", "By week"),
    ]
    .concat();
    let body = format!(
        r#"<form id="range-form" class="inline">
<label>{from}<input type="date" name="from" required></label>
<label>{to}<input type="date" name="to" required></label>
<label>{metric}<select name="metric">{metrics}</select></label>
<label>{granularity}<select name="granularity">{granularities}</select></label>
<button type="submit">{show}</button>
</form>
<p class="hint" id="zone-note"></p>
<dl id="summary" class="figures"></dl>
<details id="figure-help"><summary>{meanings}</summary><dl id="definitions"></dl></details>
<figure class="card"><figcaption id="series-caption">{series}</figcaption>
<svg id="series-chart" class="chart" role="img" aria-labelledby="series-caption" viewBox="0 0 640 240"></svg>
<details class="chart-data"><summary>{data}</summary><div class="table-scroll" tabindex="0" role="region" aria-labelledby="series-caption"><table id="series-data" aria-labelledby="series-caption"></table></div></details></figure>
<figure class="card"><figcaption id="heat-caption">{heat}</figcaption>
<svg id="heat-chart" class="chart" role="img" aria-labelledby="heat-caption" viewBox="0 0 640 200"></svg>
<details class="chart-data"><summary>{data_nonzero}</summary><div class="table-scroll" tabindex="0" role="region" aria-labelledby="heat-caption"><table id="heat-data" aria-labelledby="heat-caption"></table></div></details></figure>
<figure class="card"><figcaption id="mix-caption">{mix}</figcaption>
<svg id="mix-chart" class="chart" role="img" aria-labelledby="mix-caption" viewBox="0 0 640 286"></svg>
<p class="hint" id="mix-bottom"></p>
<p class="hint">{mix_note}</p>
<details class="chart-data"><summary>{data_items}</summary><div class="table-scroll" tabindex="0" role="region" aria-labelledby="mix-caption"><table id="mix-data" aria-labelledby="mix-caption"></table></div></details></figure>
<figure class="card"><figcaption id="servers-caption">{servers}</figcaption>
<p class="hint">{servers_definition} {cash_hint}.</p>
<div class="table-scroll" tabindex="0" role="region" aria-labelledby="servers-caption"><table id="servers-table" aria-labelledby="servers-caption"><thead><tr><th scope="col">{server}</th><th scope="col" class="amount">{orders}</th><th scope="col" class="amount">{sales}</th><th scope="col" class="amount">{average}</th><th scope="col" class="amount">{tips}</th><th scope="col" class="amount">{cash}</th></tr></thead><tbody></tbody></table></div></figure>
<p><button type="button" id="csv-summary">{csv_summary}</button> <button type="button" id="csv-series">{csv_series}</button> <button type="button" id="csv-heat">{csv_heat}</button> <button type="button" id="csv-mix">{csv_mix}</button> <button type="button" id="csv-servers">{csv_servers}</button> <button type="button" id="csv-cash">{csv_cash}</button> <button type="button" id="csv-tips">{csv_tips}</button></p>"#,
        cash = tr(l, "Efectivo recibido", "Cash taken"),
        cash_hint = tr(
            l,
            "Efectivo recibido: el que cada uno registró (parte de la cuenta más propina, menos lo anulado), sea de quien sea la mesa; lo que debe tener su caja",
            "Cash taken: what each member recorded (bill part plus tip, less voids), whoever's table it was; what their drawer should hold"
        ),
        meanings = tr(l, "Qué significa cada cifra", "What each figure means"),
        data = tr(l, "Ver los datos en una tabla", "Show the data as a table"),
        data_nonzero = tr(
            l,
            "Ver los datos en una tabla (las horas con movimiento)",
            "Show the data as a table (the hours with activity)"
        ),
        data_items = tr(
            l,
            "Ver todos los platos en una tabla",
            "Show every item as a table"
        ),
        csv_cash = tr(
            l,
            "CSV del efectivo, registro por registro",
            "Cash journal CSV, record by record"
        ),
        from = tr(l, "Desde", "From"),
        to = tr(l, "Hasta", "To"),
        metric = tr(l, "Cifra", "Figure"),
        granularity = tr(l, "Agrupar", "Group"),
        show = tr(l, "Ver", "Show"),
        series = tr(l, "En el tiempo", "Over time"),
        heat = tr(l, "Hora × día de la semana", "Hour × weekday"),
        csv_summary = tr(l, "Resumen en CSV", "Summary as CSV"),
        csv_tips = tr(
            l,
            "Libro de propinas del mes en CSV (todas las sedes, para la nómina)",
            "The month's tip ledger as CSV (every venue, for payroll)"
        ),
        csv_series = tr(l, "Serie en CSV", "Series as CSV"),
        csv_heat = tr(l, "Mapa de calor en CSV", "Heat map as CSV"),
        mix = tr(
            l,
            "Platos más vendidos (ventas con impuesto)",
            "Best sellers (sales, tax included)"
        ),
        csv_mix = tr(l, "Platos en CSV", "Product mix as CSV"),
        mix_note = tr(
            l,
            "Las ventas por plato pueden sumar menos que las ventas brutas: un pedido cancelado después de que sus clientes pagaron y recibieron el reembolso conserva en las ventas brutas la parte pagada, sin platos (no se sirvieron).",
            "Sales by dish can add up to less than gross sales: an order cancelled after its guests paid and were refunded keeps the part paid in gross sales, without dishes (none was served)."
        ),
        servers = tr(l, "Por mesero", "By server"),
        servers_definition = tr(
            l,
            "Pedidos de las mesas que cada quien aceptó, ya cerradas, y las propinas que se le acreditaron (Ley 1935 de 2018).",
            "Orders of the tables each member accepted, closed since, and the tips credited to them (Law 1935 of 2018)."
        ),
        server = tr(l, "Mesero", "Server"),
        orders = tr(l, "Pedidos", "Orders"),
        sales = tr(l, "Ventas", "Sales"),
        average = tr(l, "Pedido promedio", "Average order"),
        tips = tr(l, "Propinas", "Tips"),
        csv_servers = tr(l, "Meseros en CSV", "Servers as CSV"),
    );
    staff_page(l, "analytics", tr(l, "Ventas", "Sales"), r#"class="wide""#, &body)
}

/// The venue's reservation settings (owners and managers): services per weekday, slot interval, turn times, buffer,
/// pacing, notice, horizon, largest party, deposit and cut-off, and each table's smallest party and online flag.
/// Every rule is checked by the API, which names the field it refuses.
#[utoipa::path(get, path = "/booking-settings", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn booking_settings(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let days: [(&str, &str); 7] = [
        ("Lu", "Mo"),
        ("Ma", "Tu"),
        ("Mi", "We"),
        ("Ju", "Th"),
        ("Vi", "Fr"),
        ("Sá", "Sa"),
        ("Do", "Su"),
    ];
    let mut services = String::new();
    for i in 0..3 {
        services.push_str(&format!(
            r#"<div class="service" data-service="{i}"><p class="days">"#
        ));
        for (d, (es, en)) in days.iter().enumerate() {
            services.push_str(&format!(
                r#"<label class="inline"><input type="checkbox" name="s{i}d{}"> {}</label> "#,
                d + 1,
                tr(l, es, en)
            ));
        }
        services.push_str(&format!(
            r#"</p><label class="inline">{first} <input type="time" name="s{i}first" step="900"></label>
<label class="inline">{last} <input type="time" name="s{i}last" step="900"></label></div>
"#,
            first = tr(l, "Primera mesa", "First seating"),
            last = tr(l, "Última mesa", "Last seating"),
        ));
    }
    let mut turns = String::new();
    for i in 0..3 {
        turns.push_str(&format!(
            r#"<p class="turn"><label class="inline">{up_to} <input type="number" name="t{i}party" min="1" max="100" inputmode="numeric"></label>
<label class="inline">{minutes} <input type="number" name="t{i}minutes" min="15" max="480" step="15" inputmode="numeric"></label></p>
"#,
            up_to = tr(l, "Grupos de hasta", "Parties of up to"),
            minutes = tr(l, "minutos", "minutes"),
        ));
    }
    let number = |name: &str, label: &str, min: u32| {
        format!(
            r#"<label>{label}<input type="number" name="{name}" min="{min}" inputmode="numeric" required></label>"#
        )
    };
    // Only a deposit has a refund cut-off: the field is asked for with one (the page enables it then).
    let cutoff = format!(
        r#"<label>{}<input type="number" name="cancellation_cutoff_hours" min="0" inputmode="numeric" disabled></label>"#,
        tr(
            l,
            "Horas antes en que cancelar aún devuelve el depósito (solo con depósito)",
            "Hours before the start a cancellation still refunds the deposit (only with a deposit)"
        )
    );
    let body = format!(
        r#"<p id="booking-link" class="hint" hidden>{share} <a id="public-booking" href=""></a></p>
<form id="policy-form" class="card">
<fieldset><legend>{services_legend}</legend>
<p class="hint">{services_hint}</p>
{services}<button type="button" id="add-service" class="secondary">{add_service}</button></fieldset>
<label>{slot}<select name="slot_minutes"><option>15</option><option>30</option><option>45</option><option>60</option></select></label>
<fieldset><legend>{turns_legend}</legend>
{turns}<button type="button" id="add-turn" class="secondary">{add_turn}</button></fieldset>
{buffer}
{covers}
{online}
{notice}
{horizon}
{largest}
<label>{deposit}<input name="deposit" inputmode="decimal" autocomplete="off" placeholder="20.000"></label>
{cutoff}
<fieldset><legend>{contact_legend}</legend>
<p class="hint" id="contact-hint">{contact_hint}</p>
<label>{contact_phone}<input name="contact_phone" type="tel" autocomplete="off" placeholder="+57 300 123 4567" aria-describedby="contact-hint"></label>
<label>{contact_email}<input name="contact_email" type="email" autocomplete="off" placeholder="reservas@turestaurante.co" aria-describedby="contact-hint"></label>
</fieldset>
<button type="submit">{save}</button>
<p id="policy-saved" class="ok" hidden>{saved}</p>
</form>
<section class="card">
<h2>{tables}</h2>
<p class="hint">{tables_hint}</p>
<ul id="table-settings" class="day-list"></ul>
</section>
<section class="card">
<h2>{combinations}</h2>
<p class="hint">{combinations_hint}</p>
<ul id="combinations" class="day-list"></ul>
<form id="combination-form">
<p id="combination-tables" class="days"></p>
<button type="submit" class="secondary">{combine}</button>
</form>
</section>"#,
        services_legend = tr(l, "Servicios", "Services"),
        services_hint = tr(
            l,
            "Hasta 14 servicios; uno sin días queda sin usar. Una última mesa después de medianoche pertenece al servicio de la noche anterior.",
            "Up to 14 services; one without days is unused. A last seating after midnight belongs to the service that started the evening before."
        ),
        add_service = tr(l, "Añadir un servicio", "Add a service"),
        add_turn = tr(l, "Añadir una regla", "Add a rule"),
        slot = tr(l, "Intervalo entre horarios (minutos)", "Minutes between times"),
        turns_legend = tr(
            l,
            "Tiempo de mesa por tamaño del grupo",
            "Turn time by party size"
        ),
        buffer = number(
            "buffer_minutes",
            tr(
                l,
                "Minutos para preparar la mesa después",
                "Minutes to reset a table after"
            ),
            0
        ),
        covers = number(
            "covers",
            tr(
                l,
                "Máximo de personas que llegan cada 15 minutos",
                "Most covers arriving per 15 minutes"
            ),
            1
        ),
        online = number(
            "online_covers",
            tr(l, "De ellas, reservadas en línea", "Of them, booked online"),
            0
        ),
        notice = number(
            "min_notice_minutes",
            tr(l, "Anticipación mínima (minutos)", "Minimum notice (minutes)"),
            0
        ),
        horizon = number(
            "horizon_days",
            tr(
                l,
                "Días que se puede reservar con anticipación",
                "Days ahead bookings open"
            ),
            1
        ),
        largest = number("max_party_size", tr(l, "Grupo más grande", "Largest party"), 1),
        share = tr(
            l,
            "Tus clientes reservan en este enlace (compártelo en tu web, redes o WhatsApp):",
            "Guests book at this link (share it on your website, social media or WhatsApp):"
        ),
        contact_legend = tr(l, "Contacto para los clientes", "Contact for guests"),
        contact_hint = tr(
            l,
            "El aviso de privacidad lo da como el canal para que los clientes consulten, corrijan o borren sus datos (Ley 1581 de 2012; Decreto 1377 de 2013, art. 15), y la página de reservas para un grupo demasiado grande. Sin él, el aviso solo da la dirección del restaurante.",
            "The privacy notice gives it as the channel for guests to see, correct or erase their data (Colombian Law 1581 of 2012; Decree 1377 of 2013, art. 15), and the booking page for a party too large to book online. Without it, the notice gives only the restaurant's address."
        ),
        contact_phone = tr(l, "Teléfono (con indicativo)", "Phone (with country code)"),
        contact_email = tr(l, "Correo", "Email"),
        deposit = tr(
            l,
            "Depósito por persona en pesos (vacío: sin depósito)",
            "Deposit per guest in pesos (empty: none)"
        ),
        cutoff = cutoff,
        save = tr(l, "Guardar", "Save"),
        saved = tr(
            l,
            "Guardado. Las reservas en línea siguen estas reglas desde ya.",
            "Saved. Online bookings follow these rules from now on."
        ),
        tables = tr(l, "Mesas", "Tables"),
        combinations = tr(l, "Mesas que se juntan", "Tables that join"),
        combinations_hint = tr(
            l,
            "Para grupos grandes: se ofrece la combinación cuando ninguna mesa sola alcanza.",
            "For large parties: a combination is offered when no single table fits."
        ),
        combine = tr(l, "Juntar las mesas marcadas", "Join the ticked tables"),
        tables_hint = tr(
            l,
            "El grupo más pequeño que recibe cada mesa, y si se ofrece en línea (si no, la reservas tú por teléfono o queda para quien llega).",
            "The smallest party each table takes, and whether guests can book it online (otherwise you book it by phone, or keep it for walk-ins)."
        ),
    );
    staff_page(
        l,
        "bookingSettings",
        tr(l, "Ajustes de reservas", "Reservation settings"),
        r#"class="narrow""#,
        &body,
    )
}

/// The kitchen display (a wall screen, so the wide layout): tables waiting to be accepted; open orders, live, each
/// ticket naming its table, the time it was placed and how long it has waited (late after 20 minutes), with one
/// button to move it along; then each open table's bill, with the button that closes the table once its party has
/// gone (the next party then starts a bill of its own). The tickets come before the bills: on a tablet in a rush
/// the first screen held only bills.
#[utoipa::path(get, path = "/kitchen", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn kitchen(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<p id="live" class="hint">{waiting}</p>
<p id="kitchen-status" role="status"></p>
<section id="cash-desk" class="card" hidden aria-labelledby="cash-title">
<h2 id="cash-title" tabindex="-1"></h2>
<p id="cash-bill" class="hint"></p>
<form id="cash-form">
<label>{cash_amount}<input name="amount" inputmode="decimal" autocomplete="off" required placeholder="{cash_tip_alone}"></label>
<button type="button" class="secondary" id="cash-rest">{cash_rest}</button>
<label>{cash_tip}<input name="tip" inputmode="decimal" autocomplete="off" value="0"></label>
<label id="cash-cancel-card" class="inline" hidden><input type="checkbox" name="cancel_payments"> {cash_cancel}</label>
<button type="submit">{cash_record}</button>
<button type="button" class="secondary" id="cash-done">{cash_done}</button>
</form>
<ul id="cash-records"></ul>
</section>
<div id="pending-tables" class="board"></div>
<h2>{orders}</h2>
<div id="kitchen-orders" class="board"></div>
<h2>{bills}</h2>
<div id="table-balances" class="board"></div>
<details id="sold-out">
<summary>{sold_out}</summary>
<p class="hint">{sold_out_hint}</p>
<div id="sold-out-dishes"></div>
</details>"#,
        sold_out = tr(l, "Platos agotados", "Sold-out dishes"),
        sold_out_hint = tr(
            l,
            "Un plato marcado sale del menú de los clientes al momento; desmárcalo cuando vuelva a haber.",
            "A dish ticked leaves the guests' menu at once; untick it when there is more."
        ),
        orders = tr(l, "Pedidos en curso", "Orders in progress"),
        bills = tr(l, "Cuentas de las mesas", "Tables' bills"),
        waiting = tr(l, "Conectando…", "Connecting…"),
        cash_amount = tr(
            l,
            "Parte de la cuenta pagada en efectivo (sin el cambio)",
            "Part of the bill paid in cash (change left out)"
        ),
        cash_tip = tr(l, "Propina en efectivo", "Cash tip"),
        cash_rest = tr(l, "Todo lo que falta", "All that is left"),
        cash_tip_alone = tr(l, "0 si solo deja propina", "0 for a tip alone"),
        cash_cancel = tr(
            l,
            "Cancelar primero el pago con tarjeta en curso (tarjeta rechazada, o el cliente paga en efectivo)",
            "First cancel the card payment in progress (card declined, or the guest pays in cash)"
        ),
        cash_record = tr(l, "Registrar efectivo", "Record cash"),
        cash_done = tr(l, "Listo", "Done"),
    );
    staff_page(l, "kitchen", tr(l, "Cocina", "Kitchen"), r#"class="wide""#, &body)
}

/// A venue's card payments, newest first, each with what was refunded and a button to refund what is left; above
/// them, the refunds that wait for a second person with payout authority (approve, decline, or withdraw one's own)
/// and the latest refunds the guest's bank refused.
#[utoipa::path(get, path = "/payments", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn payments(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<section id="awaiting" class="card" hidden>
<h2>{awaiting}</h2>
<p class="hint">{awaiting_hint}</p>
<ul id="awaiting-list"></ul>
</section>
<section id="bank-failed" class="card" hidden>
<h2>{bank_failed}</h2>
<p class="hint">{bank_failed_hint}</p>
<ul id="bank-failed-list"></ul>
</section>
<section id="refund-step" class="card" hidden>
<h2 id="refund-title" tabindex="-1"></h2>
<form id="refund-form" method="post">
<p id="refund-left"></p>
<label>{amount}<input name="amount" required inputmode="decimal" autocomplete="off" aria-describedby="refund-left"></label>
<label>{reason}<input name="reason" required maxlength="500" autocomplete="off" placeholder="{reason_example}"></label>
<p class="hint">{refund_hint}</p>
<button type="submit">{refund}</button> <button type="button" class="secondary" id="refund-cancel">{cancel}</button>
</form>
</section>
<p id="payments-said" role="status" tabindex="-1"></p>
<form id="day-form" class="inline"><label>{day}<input type="date" name="day" aria-describedby="payments-day-hint"></label><button type="button" class="secondary" id="payments-every-day" hidden>{every_day}</button></form>
<p id="payments-day-hint" class="hint">{day_hint}</p>
<label class="inline"><input type="checkbox" id="show-unfinished"> <span class="choice">{unfinished}</span></label>
<div class="table-scroll" tabindex="0" role="region" aria-labelledby="payments-caption"><table id="payments-table"><caption id="payments-caption">{caption}</caption><thead><tr><th scope="col">{when}</th><th scope="col">{table}</th><th scope="col">{charged}</th><th scope="col">{tip}</th><th scope="col">{refunded}</th><th scope="col">{status}</th><th scope="col">{actions}</th></tr></thead><tbody></tbody></table></div>
<p id="no-payments" class="hint" hidden></p>
<p><button type="button" id="more-payments" class="secondary" hidden>{more}</button></p>"#,
        awaiting = tr(l, "Devoluciones por aprobar", "Refunds awaiting approval"),
        awaiting_hint = tr(
            l,
            "Una devolución grande espera a una segunda persona con autoridad de pagos: nada vuelve a la tarjeta hasta que la aprueba.",
            "A large refund waits for a second person with payout authority: nothing goes back to the card until they approve it."
        ),
        bank_failed = tr(
            l,
            "Devoluciones que no llegaron a la tarjeta",
            "Refunds that did not reach the card"
        ),
        bank_failed_hint = tr(
            l,
            "El banco del cliente las rechazó (tarjeta vencida, cancelada o perdida): el dinero volvió y el pago ya no las cuenta. Si aún se le debe, devuélvelo de otra forma, por ejemplo en efectivo.",
            "The guest's bank refused them (card expired, closed or lost): the money came back and the payment no longer counts them. If it is still owed, give it back another way, in cash say."
        ),
        amount = tr(l, "Valor a devolver", "Amount to refund"),
        reason = tr(l, "Motivo", "Reason"),
        reason_example = tr(
            l,
            "Plato equivocado, cobro repetido…",
            "Wrong dish, charged twice…"
        ),
        refund_hint = tr(
            l,
            "Vuelve a la tarjeta con la que se pagó, con su parte de la propina. Una devolución grande espera la aprobación de otra persona con autoridad de pagos.",
            "It goes back to the card that paid, with its part of the tip. A large refund waits for another person with payout authority to approve it."
        ),
        refund = tr(l, "Devolver", "Refund"),
        cancel = tr(l, "Cancelar", "Cancel"),
        unfinished = tr(
            l,
            "Mostrar también los pagos no completados (cancelados, rechazados o en curso)",
            "Also show payments that did not complete (cancelled, declined or in progress)"
        ),
        caption = tr(
            l,
            "Pagos con tarjeta, los más recientes primero",
            "Card payments, newest first"
        ),
        day = tr(l, "Día", "Day"),
        day_hint = tr(
            l,
            "Vacío: todos los días. Un día va de la hora en que empieza la jornada a la misma hora del día siguiente, como en los informes.",
            "Empty: every day. A day runs from the hour the business day starts to the same hour the next day, as in the reports."
        ),
        every_day = tr(l, "Ver todos los días", "Show every day"),
        when = tr(l, "Cuándo", "When"),
        table = tr(l, "Mesa", "Table"),
        charged = tr(l, "Cobrado", "Charged"),
        tip = tr(l, "Propina", "Tip"),
        refunded = tr(l, "Devuelto", "Refunded"),
        status = tr(l, "Estado", "Status"),
        actions = tr(l, "Devolución", "Refund"),
        more = tr(l, "Ver pagos anteriores", "Show earlier payments"),
    );
    staff_page(
        l,
        "payments",
        tr(l, "Pagos y devoluciones", "Payments and refunds"),
        r#"class="wide""#,
        &body,
    )
}

/// A venue's tables: each with its seats, the link its QR code opens and buttons to rename or retire it, the form
/// that adds one, and the PDF of every table's QR code to print.
#[utoipa::path(get, path = "/tables", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn tables(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<div class="table-scroll" tabindex="0" role="region" aria-labelledby="tables-caption"><table id="tables-table"><caption id="tables-caption">{tables}</caption><thead><tr><th scope="col">{table}</th><th scope="col">{seats}</th><th scope="col">{link}</th><th scope="col">{changes}</th></tr></thead><tbody></tbody></table></div>
<p id="no-tables" class="hint" hidden>{none}</p>
<p><button type="button" id="qr-pdf">{qr}</button></p>
<h2>{new_table}</h2>
<form id="table-form" method="post">
<label>{table}<input name="label" required maxlength="40" placeholder="Mesa 1"></label>
<label>{seats}<input name="seats" type="number" min="1" max="100" value="4" required inputmode="numeric"></label>
<button type="submit">{add}</button>
</form>"#,
        tables = tr(l, "Mesas de la sede", "The venue's tables"),
        table = tr(l, "Mesa", "Table"),
        seats = tr(l, "Puestos", "Seats"),
        link = tr(l, "Enlace del código QR", "QR code link"),
        changes = tr(l, "Cambios", "Changes"),
        none = tr(l, "Aún no hay mesas.", "No tables yet."),
        qr = tr(
            l,
            "Descargar los códigos QR (PDF para imprimir)",
            "Download the QR codes (PDF to print)"
        ),
        new_table = tr(l, "Nueva mesa", "New table"),
        add = tr(l, "Agregar mesa", "Add table"),
    );
    account_page(
        l,
        "tables",
        tr(l, "Mesas y códigos QR", "Tables and QR codes"),
        &body,
    )
}

/// The menu editor: categories, items, prices and availability of one venue.
#[utoipa::path(get, path = "/menu", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn menu_editor(headers: HeaderMap) -> Response {
    let l = Lang::negotiate(&headers);
    let body = format!(
        r#"<section id="menu-editor"></section>
<h2>{new_category}</h2>
<form id="category-form" method="post">
<label>{name_es}<input name="es" required maxlength="200"></label>
<label>{name_en}<input name="en" maxlength="200"></label>
<button type="submit">{add}</button>
</form>
<h2>{new_item}</h2>
<form id="item-form" method="post">
<label>{category}<select name="category_id" required></select></label>
<label>{name_es}<input name="es" required maxlength="200"></label>
<label>{name_en}<input name="en" maxlength="200"></label>
<label>{price}<input name="price" required inputmode="decimal" autocomplete="off" placeholder="7.500"></label>
<label class="inline"><input name="tax_included" type="checkbox" checked> {tax}</label>
<button type="submit">{add}</button>
</form>"#,
        new_category = tr(l, "Nueva categoría", "New category"),
        new_item = tr(l, "Nuevo plato", "New dish"),
        category = tr(l, "Categoría", "Category"),
        name_es = tr(l, "Nombre (español)", "Name (Spanish)"),
        name_en = tr(l, "Nombre (inglés)", "Name (English)"),
        price = tr(
            l,
            "Precio en pesos, impuesto incluido",
            "Price in pesos, tax included"
        ),
        tax = tr(l, "Lleva el impuesto del restaurante", "Carries the venue's tax"),
        add = tr(l, "Agregar", "Add"),
    );
    account_page(l, "menu", tr(l, "Menú", "Menu"), &body)
}

/// The payment page: the live balance, the guest's choice of share and voluntary tip, and Stripe Elements for the
/// card (typed into Stripe, never into comanda). Its Content-Security-Policy allows scripts only from our origin and
/// Stripe, and its own script carries Subresource Integrity; `security/payment-page-scripts.toml` lists every script
/// it loads and a test fails when they change.
#[utoipa::path(get, path = "/t/{token}/pay", tag = "pages", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn pay_page(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let l = language(&headers, uri.query());
    let token = escape(&token);
    let title = tr(l, "Pagar la cuenta", "Pay the bill");
    let switch = language_switch(l);
    let body = format!(
        r#"<section class="card">
<p><span id="venue-name"></span><span id="where-separator" hidden> · </span><span id="table-label"></span> {switch}</p>
<dl class="balance">
<dt>{total}</dt><dd id="bill-total"></dd>
<dt>{paid}</dt><dd id="bill-paid"></dd>
<dt>{progress}</dt><dd id="bill-progress"></dd>
<dt>{left}</dt><dd id="bill-remaining"></dd>
<dt class="bill-refunded" hidden>{refunded}</dt><dd id="bill-refunded" class="bill-refunded" hidden></dd>
</dl>
<p id="settled" class="ok" role="status" tabindex="-1" hidden>{settled}</p>
<p id="all-in-progress" class="hint" role="status" tabindex="-1" hidden>{all_in_progress}</p>
<p id="nothing-to-pay" class="hint" role="status" tabindex="-1" hidden>{nothing_to_pay}</p>
<p id="unfinished" class="hint" hidden><span id="unfinished-text"></span> <button id="cancel-unfinished" type="button" class="link">{cancel_unfinished}</button></p>
</section>
<form id="share-form" class="card" autocomplete="off">
<fieldset><legend>{how}</legend>
<label class="inline"><input type="radio" name="split" value="full" checked> <span class="choice">{full}</span></label>
<label class="inline"><input type="radio" name="split" value="equal"> <span class="choice">{equal}</span> <input name="parts" type="number" min="2" max="20" value="2" inputmode="numeric" aria-label="{parts}"></label>
<label class="inline"><input type="radio" name="split" value="items"> <span class="choice">{items}</span></label>
<p id="items-unmarked" class="hint" hidden></p>
<ul id="item-choices" hidden></ul>
<label class="inline"><input type="radio" name="split" value="remaining"> <span class="choice">{remaining}</span></label>
</fieldset>
<fieldset><legend>{tip}</legend>
<p class="hint">{tip_hint}</p>
<label class="inline"><input type="radio" name="tip" value="none"> <span class="choice">{no_tip}</span></label>
<label class="inline"><input type="radio" name="tip" value="suggested"> <span id="tip-suggested" class="choice"></span></label>
<label class="inline"><input type="radio" name="tip" value="custom"> <span class="choice">{other}</span> <input name="tip_amount" inputmode="numeric" autocomplete="off" placeholder="{tip_example}" aria-label="{tip_amount}"></label>
</fieldset>
<p id="summary" class="total"></p>
<p class="hint">{no_fee}</p>
<button id="continue" type="submit">{cont}</button>
</form>
<section id="card-step" class="card" tabindex="-1" aria-label="{card_step}" hidden>
<div id="payment-element"></div>
<button id="pay-now" type="button"></button>
<button id="cancel-payment" type="button" class="link">{cancel}</button>
</section>
<p id="confirming" class="hint" role="status" hidden>{confirming}</p>
<div id="paid-message" role="status" tabindex="-1" hidden><p class="ok">{thanks}</p><p id="receipt"></p></div>"#,
        confirming = tr(l, CONFIRMING_ES, CONFIRMING_EN),
        cancel_unfinished = tr(l, "Cancelar ese pago", "Cancel that payment"),
        total = tr(l, "Total de la cuenta", "Bill total"),
        paid = tr(l, "Pagado", "Paid"),
        progress = tr(l, "Pagos en curso", "Being paid"),
        left = tr(l, "Falta", "Left to pay"),
        refunded = tr(
            l,
            "Devuelto a las tarjetas (propinas incluidas)",
            "Refunded to cards (tips included)"
        ),
        settled = tr(
            l,
            "La cuenta está pagada. ¡Gracias!",
            "The bill is paid. Thank you!"
        ),
        how = tr(l, "¿Cuánto pagas?", "What do you pay?"),
        full = tr(l, "Toda la cuenta", "The whole bill"),
        equal = tr(
            l,
            "Partes iguales del total, entre",
            "Equal parts of the total, split in"
        ),
        parts = tr(l, "Número de partes", "Number of parts"),
        tip_amount = tr(l, "Otra propina", "Another tip"),
        tip_example = tr(l, "p. ej. 5.000", "e.g. 5,000"),
        nothing_to_pay = tr(
            l,
            "Esta cuenta no tiene nada por pagar todavía.",
            "This bill has nothing to pay yet."
        ),
        all_in_progress = tr(
            l,
            "Lo que falta lo están pagando otras personas de la mesa. Si no terminan, podrás pagarlo aquí en unos \
             minutos; también puedes pedirle ayuda al personal.",
            "What is left is being paid by others at the table. If they do not finish, you can pay it here in a few \
             minutes, or ask the staff."
        ),
        items = tr(l, "Lo que consumí", "What I had"),
        remaining = tr(l, "Lo que falta", "What is left"),
        tip = tr(l, "Propina (voluntaria)", "Tip (voluntary)"),
        tip_hint = tr(
            l,
            "La propina es voluntaria (Ley 1935 de 2018) y va al personal de tu mesa.",
            "The tip is voluntary and goes to the staff who served your table."
        ),
        no_tip = tr(l, "Sin propina", "No tip"),
        other = tr(l, "Otra", "Other"),
        no_fee = tr(
            l,
            "No se cobra ningún cargo adicional: pagas exactamente lo que ves.",
            "No extra fee is added: you pay exactly what you see."
        ),
        cont = tr(l, "Continuar al pago", "Continue to payment"),
        cancel = tr(l, "Cancelar este pago", "Cancel this payment"),
        card_step = tr(l, "Datos de la tarjeta", "Card details"),
        thanks = tr(l, "¡Pago recibido! Gracias.", "Payment received. Thank you!"),
    );
    payment_page(
        &state,
        l,
        "pay",
        title,
        &format!(r#"class="narrow" id="pay" data-token="{token}""#),
        // Back to the menu in the language the guest chose there.
        &format!("/t/{token}?lang={}", l.code()),
        &body,
    )
}

/// A page that takes a card (the table's payment page, a booking's deposit page): Stripe.js and our own `pay.js`
/// with its integrity hash (security/payment-page-scripts.toml), under the payment pages' CSP (PAY-3); 422 when card
/// payments are switched off.
fn payment_page(
    state: &crate::app::AppState,
    l: Lang,
    name: &str,
    title: &str,
    main: &str,
    home: &str,
    body: &str,
) -> Response {
    let Some(payments) = state.payments.as_ref() else {
        return crate::problem::Problem::new(crate::problem::ProblemType::PaymentsUnavailable)
            .detail("card payments are switched off on this server")
            .into_response();
    };
    let scripts = format!(
        r#"<script src="{}"></script>
<script src="/assets/pay.js" integrity="{}" defer></script>"#,
        escape(&payments.js_url),
        state.pay_script_integrity
    );
    let mut response = shell(l, name, title, &scripts, main, home, body);
    if let Ok(csp) = HeaderValue::from_str(&payments.payment_page_csp()) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// A booking's deposit: the venue's rule (refundable up to the cut-off, kept on a late cancellation or a no-show,
/// released unpaid when the hold expires) shown before the card is asked, then Stripe Elements. Opened with
/// `?reservation=ID&token=T` (the booking's manage link); served like the payment page (its CSP, the same
/// inventoried scripts).
#[utoipa::path(get, path = "/book/{venue}/deposit", tag = "pages", params(("venue" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn deposit_page(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    headers: HeaderMap,
    Path(venue): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let l = language(&headers, uri.query());
    let venue = escape(&venue);
    let body = format!(
        r#"<section class="card">
<h2>{heading}</h2>
<p id="deposit-booking"></p>
<p id="deposit-amount" class="total"></p>
<p id="deposit-rule"></p>
<p id="deposit-hold" class="hint"></p>
</section>
<section id="deposit-card" class="card" hidden>
<div id="payment-element"></div>
<button id="pay-deposit" type="button"></button>
</section>
<p id="confirming" class="hint" role="status" hidden>{confirming}</p>
<p id="deposit-paid" class="ok" hidden>{paid}</p>
<p id="deposit-closed" class="hint" hidden>{closed}</p>
<p><a id="deposit-manage" href="">{manage}</a></p>"#,
        heading = tr(l, "Depósito de tu reserva", "Your booking's deposit"),
        paid = tr(
            l,
            "¡Depósito recibido! Tu reserva está confirmada.",
            "Deposit received. Your booking is confirmed."
        ),
        closed = tr(
            l,
            "Este depósito ya no se puede pagar.",
            "This deposit can no longer be paid."
        ),
        confirming = tr(l, CONFIRMING_ES, CONFIRMING_EN),
        manage = tr(l, "Ver o cancelar mi reserva", "See or cancel my booking"),
    );
    payment_page(
        &state,
        l,
        "deposit",
        tr(l, "Depósito", "Deposit"),
        &format!(r#"class="narrow" id="deposit" data-venue="{venue}""#),
        &format!("/book/{venue}"),
        &body,
    )
}

/// What a payment page says while the card was accepted but Stripe's confirmation has not reached comanda yet (a slow
/// webhook, a dropped connection): wait, do not pay again.
const CONFIRMING_ES: &str =
    "Tu banco ya respondió; estamos confirmando el pago. No lo repitas: esta página se actualizará sola.";
const CONFIRMING_EN: &str = "Your bank has answered; we are confirming the payment. Do not pay again: this page will update by itself.";

/// The payment page's script.
#[utoipa::path(get, path = "/assets/pay.js", tag = "pages", responses((status = 200, content_type = "text/javascript", body = String)))]
pub async fn pay_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAY_JS,
    )
        .into_response()
}

/// " en <strong>Sede Norte</strong>" for an invitation to some venues; nothing for every venue.
fn at_venues(venues: &[String], word: &str) -> String {
    if venues.is_empty() {
        return String::new();
    }
    let names: Vec<String> = venues.iter().map(|name| escape(name)).collect();
    format!("{word}<strong>{}</strong>", names.join(", "))
}
