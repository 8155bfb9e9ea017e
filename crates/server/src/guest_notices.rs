//! Mail to a booking's guest when the booking changes other than by their own hand on the page they are looking at:
//! moved or cancelled by the venue, confirmed once the deposit is paid or the waitlist's offer accepted, released
//! because its deposit was not paid in time, and — for their records, with what became of their deposit — cancelled
//! by themselves. The guest booked online or by phone and would otherwise find out at the door. The guest's language
//! is not kept with a booking, so a notice speaks Spanish, then English.
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

/// What became of the booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingNotice {
    /// Moved by the venue to the booking's current start and party size.
    Moved,
    /// Cancelled by the venue.
    Cancelled,
    /// Confirmed once the guest did their part: the deposit paid, or the waitlist's offer accepted.
    Confirmed,
    /// Cancelled by the guest by their link: what became of the deposit (refunded before the cut-off, kept after).
    GuestCancelled,
    /// Released because its deposit was not paid before the hold ran out: nothing was charged.
    HoldLapsed,
}

/// Tells the booking's guest what the venue changed, with the refund of a deposit the change gives back.
pub async fn tell_guest(state: &AppState, scope: &TenantScope, booking: &Reservation, change: BookingNotice) {
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
    // The money the notice speaks of: a deposit given back (moved, cancelled), the one just paid (confirmed), or
    // the one kept (a guest's cancellation after the cut-off).
    let deposit = match store.deposit(scope, booking.id).await {
        Ok(Some(deposit)) => match (change, deposit.status) {
            (BookingNotice::Confirmed | BookingNotice::Moved, DepositStatus::Paid) => Some(Deposit::Paid(
                deposit.amount,
                CutOff::at(&zone, deposit.refundable_until, state.clock.now()),
            )),
            (
                BookingNotice::Moved | BookingNotice::Cancelled | BookingNotice::GuestCancelled,
                DepositStatus::RefundDue | DepositStatus::Refunded,
            ) => Some(Deposit::Refunded(deposit.amount)),
            (BookingNotice::GuestCancelled, DepositStatus::KeepDue | DepositStatus::Kept) => {
                Some(Deposit::Kept(deposit.amount))
            }
            _ => None,
        },
        _ => None,
    };
    let link = match change {
        BookingNotice::Moved | BookingNotice::Confirmed => {
            manage_link(state, scope.partner(), booking.venue_id, booking.id)
        }
        // Nothing left to manage: where to book again.
        BookingNotice::Cancelled | BookingNotice::GuestCancelled | BookingNotice::HoldLapsed => {
            format!("{}/book/{}", state.identity.public_origin(), booking.venue_id)
        }
    };
    let local = local_rfc3339(&zone, booking.start);
    let (subject, body) = notice_text(change, &venue.name, &local, booking.party_size, deposit, &link);
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

/// The local date a mail names, in words ("viernes 4 de diciembre de 2026", "Friday 4 December 2026": a guest reads
/// "2026-12-04" as a form's field, and 04-12 is read both ways), and the time (`HH:MM`, 24-hour), from an RFC 3339
/// start at the venue's offset. A start that is not one is named as written.
pub(crate) fn date_and_time(local: &str, spanish: bool) -> (String, &str) {
    let time = local.get(11..16).unwrap_or("");
    let Some(date) = local.get(..10).and_then(|d| d.parse::<jiff::civil::Date>().ok()) else {
        return (local.get(..10).unwrap_or(local).to_owned(), time);
    };
    const MESES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let weekday = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
    let month = usize::from(date.month().unsigned_abs()) - 1;
    let words = if spanish {
        let days = [
            "lunes",
            "martes",
            "miércoles",
            "jueves",
            "viernes",
            "sábado",
            "domingo",
        ];
        format!(
            "{} {} de {} de {}",
            days[weekday],
            date.day(),
            MESES[month],
            date.year()
        )
    } else {
        let days = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        format!(
            "{} {} {} {}",
            days[weekday],
            date.day(),
            MONTHS[month],
            date.year()
        )
    };
    (words, time)
}

/// A deposit's refund cut-off as a mail states it: the local instant (RFC 3339 at the venue's offset), and whether it
/// has already passed — a booking made, or moved by the venue, inside the venue's cancellation period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CutOff {
    local: String,
    passed: bool,
}

impl CutOff {
    pub(crate) fn at(
        zone: &jiff::tz::TimeZone,
        cut_off: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Self {
        Self {
            local: local_rfc3339(zone, cut_off),
            passed: cut_off <= now,
        }
    }

    /// The venue's rule for the deposit (`comanda_domain::reservation::deposit_fate`), in the guest's words: refunded
    /// in full when cancelled up to the cut-off, kept after it or on a no-show. A booking already inside the period
    /// is told so plainly, since it has no refundable time left: the guest is owed clear information on what they
    /// pay before and after paying (Estatuto del Consumidor, Ley 1480 de 2011, art. 23). The deposit page
    /// (`assets/pay.js`) says it in the same words. Starts with a space.
    pub(crate) fn rule(&self, spanish: bool) -> String {
        let (date, time) = date_and_time(&self.local, spanish);
        match (self.passed, spanish) {
            (false, true) => format!(
                " Si cancelas hasta el {date} a las {time}, te lo devolvemos completo; si cancelas después o no llegas, \
                 el restaurante lo conserva."
            ),
            (false, false) => format!(
                " Cancel by {time} on {date} and it is refunded in full; cancel later, or do not come, and the \
                 restaurant keeps it."
            ),
            (true, true) => {
                " Esta reserva ya está dentro del plazo de cancelación del restaurante: si cancelas o no \
                              llegas, el restaurante lo conserva."
                    .into()
            }
            (true, false) => {
                " This booking is already inside the restaurant's cancellation period: if you cancel or do \
                               not come, the restaurant keeps it."
                    .into()
            }
        }
    }
}

/// A party's size in words: "1 persona", "4 personas" ("1 guest", "4 guests").
pub(crate) fn party_words(party: u16, spanish: bool) -> String {
    match (spanish, party) {
        (true, 1) => "1 persona".into(),
        (true, n) => format!("{n} personas"),
        (false, 1) => "1 guest".into(),
        (false, n) => format!("{n} guests"),
    }
}

/// The deposit a notice speaks of, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Deposit {
    /// Paid and still held for the booking, under the cut-off the guest was shown (moved with the booking).
    Paid(Money, CutOff),
    Refunded(Money),
    Kept(Money),
}

/// The notice's subject and body, Spanish then English. `local` is the start at the venue's offset (RFC 3339);
/// `link` manages the booking (moved, confirmed) or books again (cancelled, released).
fn notice_text(
    change: BookingNotice,
    venue: &str,
    local: &str,
    party: u16,
    deposit: Option<Deposit>,
    link: &str,
) -> (String, String) {
    let ((date_es, time), (date_en, _)) = (date_and_time(local, true), date_and_time(local, false));
    let (party_es, party_en) = (party_words(party, true), party_words(party, false));
    let refund = |spanish: bool| match &deposit {
        Some(Deposit::Refunded(amount)) if spanish => format!(
            " Te devolvemos el depósito de {} a tu tarjeta.",
            spoken_text(*amount, true)
        ),
        Some(Deposit::Refunded(amount)) => format!(
            " Your deposit of {} is refunded to your card.",
            spoken_text(*amount, false)
        ),
        Some(Deposit::Kept(amount)) if spanish => format!(
            " Cancelaste después del plazo de la política del local, así que el depósito de {} queda para el local.",
            spoken_text(*amount, true)
        ),
        Some(Deposit::Kept(amount)) => format!(
            " You cancelled after the venue's cut-off, so the deposit of {} is kept by the venue.",
            spoken_text(*amount, false)
        ),
        // Moved with the deposit still held: its cut-off moved with the booking.
        Some(Deposit::Paid(amount, cut_off)) if spanish => format!(
            " Tu depósito de {} sigue pagado.{}",
            spoken_text(*amount, true),
            cut_off.rule(true)
        ),
        Some(Deposit::Paid(amount, cut_off)) => format!(
            " Your deposit of {} stays paid.{}",
            spoken_text(*amount, false),
            cut_off.rule(false)
        ),
        _ => String::new(),
    };
    match change {
        BookingNotice::Moved => (
            format!("{venue}: tu reserva cambió / your booking was moved"),
            format!(
                "{venue} movió tu reserva: ahora es para {party_es} el {date_es} a las {time}.{}\n\
                 Para verla o cancelarla: {link}\n\n\
                 {venue} moved your booking: it is now for {party_en} on {date_en} at {time}.{}\n\
                 To see or cancel it: {link}\n",
                refund(true),
                refund(false),
            ),
        ),
        BookingNotice::Confirmed => {
            let paid = |spanish: bool| match &deposit {
                Some(Deposit::Paid(amount, cut_off)) if spanish => format!(
                    " Recibimos tu depósito de {}: cuando llegas, te lo devolvemos a tu tarjeta.{}",
                    spoken_text(*amount, true),
                    cut_off.rule(true)
                ),
                Some(Deposit::Paid(amount, cut_off)) => format!(
                    " We received your deposit of {}: when you come, it is refunded to your card.{}",
                    spoken_text(*amount, false),
                    cut_off.rule(false)
                ),
                _ => String::new(),
            };
            (
                format!("{venue}: reserva confirmada / booking confirmed"),
                format!(
                    "Tu reserva en {venue} para {party_es} el {date_es} a las {time} está confirmada.{}\n\
                     Para verla o cancelarla: {link}\n\n\
                     Your booking at {venue} for {party_en} on {date_en} at {time} is confirmed.{}\n\
                     To see or cancel it: {link}\n",
                    paid(true),
                    paid(false),
                ),
            )
        }
        BookingNotice::Cancelled => (
            format!("{venue}: reserva cancelada / booking cancelled"),
            format!(
                "{venue} canceló tu reserva para {party_es} el {date_es} a las {time}.{}\n\
                 Para reservar de nuevo: {link}\n\n\
                 {venue} cancelled your booking for {party_en} on {date_en} at {time}.{}\n\
                 To book again: {link}\n",
                refund(true),
                refund(false),
            ),
        ),
        BookingNotice::GuestCancelled => (
            format!("{venue}: cancelaste tu reserva / you cancelled your booking"),
            format!(
                "Cancelaste tu reserva en {venue} para {party_es} el {date_es} a las {time}.{}\n\
                 Para reservar de nuevo: {link}\n\n\
                 You cancelled your booking at {venue} for {party_en} on {date_en} at {time}.{}\n\
                 To book again: {link}\n",
                refund(true),
                refund(false),
            ),
        ),
        BookingNotice::HoldLapsed => (
            format!("{venue}: reserva no confirmada / booking not confirmed"),
            format!(
                "Tu reserva en {venue} para {party_es} el {date_es} a las {time} no se confirmó: el depósito no se pagó \
                 a tiempo, así que la mesa quedó libre. No se cobró nada.\n\
                 Para reservar de nuevo: {link}\n\n\
                 Your booking at {venue} for {party_en} on {date_en} at {time} was not confirmed: its deposit was not paid \
                 in time, so the table was released. Nothing was charged.\n\
                 To book again: {link}\n"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_names_the_day_in_words() {
        assert_eq!(
            date_and_time("2026-12-04T19:30:00-05:00", true),
            ("viernes 4 de diciembre de 2026".to_owned(), "19:30")
        );
        assert_eq!(
            date_and_time("2027-01-01T00:15:00-05:00", false),
            ("Friday 1 January 2027".to_owned(), "00:15")
        );
        assert_eq!(date_and_time("not a date", true), ("not a date".to_owned(), ""));
    }

    #[test]
    fn a_confirmation_names_the_deposit_received_and_its_cut_off() {
        let deposit = Money::new(4_000_000, comanda_domain::Currency::COP).unwrap();
        let bogota = jiff::tz::TimeZone::get("America/Bogota").unwrap();
        let start = time::macros::datetime!(2026-12-05 00:00 UTC);
        let cut_off = start - time::Duration::DAY;
        let confirmed = |now| {
            notice_text(
                BookingNotice::Confirmed,
                "La Cazuela",
                "2026-12-04T19:00:00-05:00",
                2,
                Some(Deposit::Paid(deposit, CutOff::at(&bogota, cut_off, now))),
                "https://example.co/book?x",
            )
        };
        let (subject, body) = confirmed(cut_off - time::Duration::DAY);
        assert_eq!(subject, "La Cazuela: reserva confirmada / booking confirmed");
        assert!(body.contains("Tu reserva en La Cazuela para 2 personas el viernes 4 de diciembre de 2026 a las 19:00 está confirmada. Recibimos tu depósito de"), "{body}");
        assert!(
            body.contains("We received your deposit of") && body.contains("https://example.co/book?x"),
            "{body}"
        );
        // The cut-off in the venue's words and zone: a day before 19:00 Bogotá.
        assert!(
            body.contains(
                "Si cancelas hasta el jueves 3 de diciembre de 2026 a las 19:00, te lo devolvemos completo"
            ) && body.contains("Cancel by 19:00 on Thursday 3 December 2026 and it is refunded in full"),
            "{body}"
        );
        // Booked, or paid, inside the cancellation period: no refundable time is promised.
        let (_, late) = confirmed(cut_off + time::Duration::HOUR);
        assert!(
            late.contains("ya está dentro del plazo de cancelación del restaurante")
                && late.contains("already inside the restaurant's cancellation period")
                && !late.contains("refunded in full"),
            "{late}"
        );
        // A move keeps a paid deposit and says its (moved) rule.
        let (_, moved) = notice_text(
            BookingNotice::Moved,
            "La Cazuela",
            "2026-12-04T19:00:00-05:00",
            2,
            Some(Deposit::Paid(
                deposit,
                CutOff::at(&bogota, cut_off, cut_off - time::Duration::DAY),
            )),
            "https://example.co/book?x",
        );
        assert!(
            moved.contains("Your deposit of") && moved.contains("stays paid. Cancel by 19:00 on Thursday"),
            "{moved}"
        );
    }

    #[test]
    fn a_cancellation_says_when_and_the_refund_in_both_languages() {
        let deposit = Money::new(4_000_000, comanda_domain::Currency::COP).unwrap();
        let (subject, body) = notice_text(
            BookingNotice::Cancelled,
            "La Cazuela",
            "2026-12-04T19:00:00-05:00",
            4,
            Some(Deposit::Refunded(deposit)),
            "https://example.co/book/venue",
        );
        assert_eq!(subject, "La Cazuela: reserva cancelada / booking cancelled");
        assert!(
            body.contains("canceló tu reserva para 4 personas el viernes 4 de diciembre de 2026 a las 19:00"),
            "{body}"
        );
        assert!(
            body.contains("cancelled your booking for 4 guests on Friday 4 December 2026 at 19:00"),
            "{body}"
        );
        assert!(body.contains(&spoken_text(deposit, true)) && body.contains(&spoken_text(deposit, false)));
        assert!(
            body.contains("Para reservar de nuevo: https://example.co/book/venue"),
            "a cancelled booking has nothing left to manage, only a new booking to make: {body}"
        );
    }

    #[test]
    fn a_guest_who_cancelled_late_is_told_the_deposit_is_kept_and_a_lapsed_hold_that_nothing_was_charged() {
        let deposit = Money::new(4_000_000, comanda_domain::Currency::COP).unwrap();
        let late = |kept| {
            notice_text(
                BookingNotice::GuestCancelled,
                "La Cazuela",
                "2026-12-04T19:00:00-05:00",
                2,
                kept,
                "https://example.co/book/venue",
            )
        };
        let (subject, body) = late(Some(Deposit::Kept(deposit)));
        assert_eq!(
            subject,
            "La Cazuela: cancelaste tu reserva / you cancelled your booking"
        );
        assert!(
            body.contains("queda para el local") && body.contains("is kept by the venue"),
            "{body}"
        );
        assert!(body.contains(&spoken_text(deposit, true)), "{body}");
        let (_, early) = late(Some(Deposit::Refunded(deposit)));
        assert!(
            early.contains("Te devolvemos el depósito") && !early.contains("kept"),
            "{early}"
        );
        let (subject, body) = notice_text(
            BookingNotice::HoldLapsed,
            "La Cazuela",
            "2026-12-04T19:00:00-05:00",
            2,
            None,
            "https://example.co/book/venue",
        );
        assert_eq!(
            subject,
            "La Cazuela: reserva no confirmada / booking not confirmed"
        );
        assert!(
            body.contains("No se cobró nada") && body.contains("Nothing was charged"),
            "{body}"
        );
    }
}
