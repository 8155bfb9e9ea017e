//! Mail to a booking's guest when the venue changes the booking: moved to another time, or cancelled by the venue.
//! The guest booked online or by phone and would otherwise find out at the door. The guest's language is not kept
//! with a booking, so a notice speaks Spanish, then English.
//!
//! Sent after the change commits, as the account notices are: a notice lost to a crash between the two is the cost
//! of not holding the booking's row lock across the sealed contact's opening. A guest whose contact was erased, or
//! who left no email (a phone booking), is told nothing.

use comanda_domain::money::spoken_text;
use comanda_domain::{Money, PartnerId};
use comanda_security::TenantScope;
use comanda_security::booking_link;
use comanda_store::reservations::{DepositStatus, Reservation};
use uuid::Uuid;

use crate::app::AppState;
use crate::routes::reservations::local_rfc3339;

/// What the venue did to the booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueChange {
    /// To the booking's current start and party size.
    Moved,
    Cancelled,
    /// Confirmed once the guest did their part: the deposit paid, or the waitlist's offer accepted.
    Confirmed,
}

/// Tells the booking's guest what the venue changed, with the refund of a deposit the change gives back.
pub async fn tell_guest(state: &AppState, scope: &TenantScope, booking: &Reservation, change: VenueChange) {
    let store = &state.store;
    let Ok(contact) = store.guest_contact(scope, booking.guest_id).await else {
        return;
    };
    if contact.erased_at.is_some() || !contact.email.contains('@') {
        return;
    }
    let Ok(venue) = store
        .venue(scope, comanda_domain::VenueId::from_uuid(booking.venue_id))
        .await
    else {
        return;
    };
    let zone = comanda_domain::reservation::zone(&venue.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    // The money the notice speaks of: a deposit given back (moved, cancelled), or the one just paid (confirmed).
    let deposit = match store.deposit(scope, booking.id).await {
        Ok(Some(deposit)) => match (change, deposit.status) {
            (VenueChange::Confirmed, DepositStatus::Paid) => Some(deposit.amount),
            (
                VenueChange::Moved | VenueChange::Cancelled,
                DepositStatus::RefundDue | DepositStatus::Refunded,
            ) => Some(deposit.amount),
            _ => None,
        },
        _ => None,
    };
    let link = manage_link(state, scope.partner(), booking.venue_id, booking.id);
    let local = local_rfc3339(&zone, booking.start);
    let (subject, body) = venue_change_text(change, &venue.name, &local, booking.party_size, deposit, &link);
    let message = comanda_store::identity::OutboxMessage {
        id: Uuid::now_v7(),
        partner: Some(scope.partner()),
        recipient: contact.email,
        subject,
        body,
        created_at: state.clock.now(),
    };
    if let Err(error) = store.enqueue_message(&message).await {
        tracing::warn!(reservation = %booking.id, %error, "the guest's notice was not queued");
    }
}

/// The signed link a booking's guest views or cancels it by (its confirmation, an offer, a notice): the booking
/// widget's page with the reservation and its manage token.
pub(crate) fn manage_link(state: &AppState, partner: PartnerId, venue: Uuid, reservation: Uuid) -> String {
    let token = booking_link::issue(&state.booking_key, partner, reservation);
    format!(
        "{}/book/{venue}?reservation={reservation}&token={token}",
        state.identity.public_origin()
    )
}

/// Where the booking is, as a guest's mail names it: the venue's name, and its address when it has one (a guest who
/// booked several places must know which one wrote).
pub(crate) fn venue_place(venue: &comanda_domain::Venue) -> String {
    match venue.address.trim() {
        "" => venue.name.clone(),
        address => format!("{} ({address})", venue.name),
    }
}

/// The local date (`YYYY-MM-DD`) and time (`HH:MM`) a mail names, from an RFC 3339 start at the venue's offset.
pub(crate) fn date_and_time(local: &str) -> (&str, &str) {
    (local.get(..10).unwrap_or(local), local.get(11..16).unwrap_or(""))
}

/// The notice's subject and body, Spanish then English. `local` is the start at the venue's offset (RFC 3339);
/// `deposit` is the deposit refunded (moved, cancelled) or paid (confirmed).
fn venue_change_text(
    change: VenueChange,
    venue: &str,
    local: &str,
    party: u16,
    deposit: Option<Money>,
    link: &str,
) -> (String, String) {
    let (date, time) = date_and_time(local);
    let refund = |spanish: bool| {
        deposit.map_or(String::new(), |amount| {
            if spanish {
                format!(
                    " Te devolvemos el depósito de {} a tu tarjeta.",
                    spoken_text(amount, true)
                )
            } else {
                format!(
                    " Your deposit of {} is refunded to your card.",
                    spoken_text(amount, false)
                )
            }
        })
    };
    match change {
        VenueChange::Moved => (
            format!("{venue}: tu reserva cambió / your booking was moved"),
            format!(
                "{venue} movió tu reserva: ahora es para {party} el {date} a las {time}.{}\n\
                 Para verla o cancelarla: {link}\n\n\
                 {venue} moved your booking: it is now for {party} on {date} at {time}.{}\n\
                 To see or cancel it: {link}\n",
                refund(true),
                refund(false),
            ),
        ),
        VenueChange::Confirmed => {
            let paid = |spanish: bool| {
                deposit.map_or(String::new(), |amount| {
                    if spanish {
                        format!(
                            " Recibimos tu depósito de {}: cuando llegas, te lo devolvemos a tu tarjeta.",
                            spoken_text(amount, true)
                        )
                    } else {
                        format!(
                            " We received your deposit of {}: when you come, it is refunded to your card.",
                            spoken_text(amount, false)
                        )
                    }
                })
            };
            (
                format!("{venue}: reserva confirmada / booking confirmed"),
                format!(
                    "Tu reserva en {venue} para {party} el {date} a las {time} está confirmada.{}\n\
                     Para verla o cancelarla: {link}\n\n\
                     Your booking at {venue} for {party} on {date} at {time} is confirmed.{}\n\
                     To see or cancel it: {link}\n",
                    paid(true),
                    paid(false),
                ),
            )
        }
        VenueChange::Cancelled => (
            format!("{venue}: reserva cancelada / booking cancelled"),
            format!(
                "{venue} canceló tu reserva para {party} el {date} a las {time}.{}\n\n\
                 {venue} cancelled your booking for {party} on {date} at {time}.{}\n",
                refund(true),
                refund(false),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_names_the_deposit_received() {
        let deposit = Money::new(4_000_000, comanda_domain::Currency::COP).unwrap();
        let (subject, body) = venue_change_text(
            VenueChange::Confirmed,
            "La Cazuela",
            "2026-12-04T19:00:00-05:00",
            2,
            Some(deposit),
            "https://example.co/book?x",
        );
        assert_eq!(subject, "La Cazuela: reserva confirmada / booking confirmed");
        assert!(body.contains("Tu reserva en La Cazuela para 2 el 2026-12-04 a las 19:00 está confirmada. Recibimos tu depósito de"), "{body}");
        assert!(
            body.contains("We received your deposit of") && body.contains("https://example.co/book?x"),
            "{body}"
        );
    }

    #[test]
    fn a_cancellation_says_when_and_the_refund_in_both_languages() {
        let deposit = Money::new(4_000_000, comanda_domain::Currency::COP).unwrap();
        let (subject, body) = venue_change_text(
            VenueChange::Cancelled,
            "La Cazuela",
            "2026-12-04T19:00:00-05:00",
            4,
            Some(deposit),
            "https://example.co/book",
        );
        assert_eq!(subject, "La Cazuela: reserva cancelada / booking cancelled");
        assert!(
            body.contains("canceló tu reserva para 4 el 2026-12-04 a las 19:00"),
            "{body}"
        );
        assert!(
            body.contains("cancelled your booking for 4 on 2026-12-04 at 19:00"),
            "{body}"
        );
        assert!(body.contains(&spoken_text(deposit, true)) && body.contains(&spoken_text(deposit, false)));
        assert!(
            !body.contains("https://"),
            "a cancelled booking has nothing left to manage"
        );
    }
}
