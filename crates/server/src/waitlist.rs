//! The waitlist's offers: when a venue's tables come free (a cancellation, a no-show, a party leaving, an offer that
//! expired), each party still waiting, in the order it joined, is offered the first time in its window that the same
//! booking rule allows for whoever put it on the list (the widget: online; the host: the host's rules, and from now
//! for a party already waiting at the venue): a reservation in status `offered` holds the table for [`OFFER_HOLD`]
//! while the guest accepts by the link in the mail, or the host, who called them, accepts or declines for them (a
//! party that turns the table down but keeps waiting is not offered that table again).
//! Offers not accepted in time are expired by [`upkeep`], which frees the table and offers it on.

use comanda_domain::PartnerId;
use comanda_domain::reservation::{self, Channel, Refusal};
use comanda_security::TenantScope;
use comanda_security::tenancy::JobAuthority;
use comanda_store::identity::{AuditEntry, OutboxMessage};
use comanda_store::reservations::{BookOutcome, NewReservation, Offer, WaitlistEntry, WaitlistStatus};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::AppState;

/// How long an offered table waits for the guest's answer.
pub const OFFER_HOLD: time::Duration = time::Duration::minutes(10);

/// Offers the venue's freed times to its waiting parties, in arrival order. Each offer is a booking under the
/// venue's lock with the same check as any other, so it never takes a table twice or breaks pacing.
pub async fn offer_freed(state: &AppState, scope: &TenantScope, venue: Uuid) {
    let now = state.clock.now();
    let Ok(entries) = state.store.waitlist(scope, venue, None).await else {
        return;
    };
    for entry in entries
        .into_iter()
        .filter(|e| e.status == WaitlistStatus::Waiting && e.latest > now)
    {
        match offer(state, scope, &entry, now).await {
            Ok(true) => state.availability.changed(venue),
            Ok(false) => {}
            Err(error) => tracing::warn!(entry = %entry.id, %error, "waitlist offer not made"),
        }
    }
}

/// Offers `entry` the first time in its window the booking rule allows now; `Ok(false)` when none is free. A party
/// the guest put on the list is offered by the online rules (online tables, notice, the online pacing cap) and
/// mailed; one the host put on the list (`staff`) by the host's, and only mailed when it left an email (the host
/// calls it and answers the offer). Such a party whose window has begun is waiting at the venue: a table free now
/// for its turn is offered from now, as a walk-in, not from the next slot of the grid.
async fn offer(
    state: &AppState,
    scope: &TenantScope,
    entry: &WaitlistEntry,
    now: OffsetDateTime,
) -> Result<bool, comanda_store::StoreError> {
    let window = (
        entry.earliest.saturating_sub(time::Duration::days(1)),
        entry.latest.saturating_add(time::Duration::days(2)),
    );
    let Some((venue, policy, floor, holdings)) = state
        .store
        .booking_view(scope, entry.venue_id, window.0, window.1, None)
        .await?
    else {
        return Ok(false);
    };
    // Tables the party turned down while keeping its place are not offered to it again.
    let floor = floor.without(&entry.declined_tables);
    let (Some(zone), Ok(date)) = (
        reservation::zone(&venue.timezone),
        time::Date::parse(
            &entry.local_date,
            time::macros::format_description!("[year]-[month]-[day]"),
        ),
    ) else {
        return Ok(false);
    };
    let by_host = entry.channel == "staff";
    let channel = if by_host { Channel::Staff } else { Channel::Online };
    let party = entry.party_size;
    let at_the_door = by_host
        && entry.earliest <= now
        && reservation::check_walk_in(&policy, &floor, &holdings, party, now).is_ok();
    let start = if at_the_door {
        now
    } else {
        let slots = reservation::availability(
            &policy,
            &zone,
            venue.day_start_hour,
            &floor,
            &holdings,
            date,
            party,
            channel,
            now,
        );
        let Some(slot) = slots
            .into_iter()
            .find(|s| s.start >= entry.earliest && s.start <= entry.latest)
        else {
            return Ok(false);
        };
        slot.start
    };
    let guest = state.store.guest_contact(scope, entry.guest_id).await?;
    let id = Uuid::now_v7();
    let local = crate::routes::reservations::local_rfc3339(&zone, start);
    let mail = Some(&guest.email)
        .filter(|email| !email.is_empty())
        .map(|email| offer_mail(state, scope.partner(), &venue, id, email, &local, party));
    let booking = NewReservation {
        id,
        venue_id: entry.venue_id,
        guest,
        party_size: party,
        start,
        channel: match (at_the_door, by_host) {
            (true, _) => "walk_in",
            (false, true) => "staff",
            (false, false) => "online",
        }
        .into(),
        note: String::new(),
        idempotency_key: None,
        request_hash: Vec::new(),
        confirmation: mail,
        deposit: None,
        offer: Some(Offer {
            entry: entry.id,
            expires_at: now + OFFER_HOLD,
        }),
    };
    let decide = |ctx: &comanda_store::reservations::BookingContext<'_>| {
        let floor = ctx.floor.without(&entry.declined_tables);
        if at_the_door {
            return reservation::check_walk_in(ctx.policy, &floor, ctx.holdings, party, now);
        }
        let zone = reservation::zone(&ctx.venue.timezone).ok_or(Refusal::NotASlot)?;
        reservation::check_booking(
            ctx.policy,
            &zone,
            ctx.venue.day_start_hour,
            &floor,
            ctx.holdings,
            start,
            party,
            channel,
            now,
        )
    };
    let audit = AuditEntry::new("waitlist.offered").detail(format!("entry={} party={party}", entry.id));
    Ok(matches!(
        state.store.book(scope, &booking, &decide, &audit, now).await?,
        BookOutcome::Created(_)
    ))
}

/// The offer (in Spanish and English: the guest's language is not kept with the entry), with the link that accepts
/// or declines it.
fn offer_mail(
    state: &AppState,
    partner: PartnerId,
    venue: &comanda_domain::Venue,
    reservation: Uuid,
    recipient: &str,
    local: &str,
    party: u16,
) -> OutboxMessage {
    let link = crate::guest_notices::manage_link(state, partner, venue.id.as_uuid(), reservation);
    let place = crate::guest_notices::venue_place(venue);
    let ((date_es, time), (date_en, _)) = (
        crate::guest_notices::date_and_time(local, true),
        crate::guest_notices::date_and_time(local, false),
    );
    let minutes = OFFER_HOLD.whole_minutes();
    OutboxMessage {
        id: Uuid::now_v7(),
        partner: Some(partner),
        recipient: recipient.to_owned(),
        subject: format!("Se liberó una mesa en {0} / A table is free at {0}", venue.name),
        body: format!(
            "Se liberó una mesa en {place} para {party_es} el {date_es} a las {time}. La guardamos {minutes} minutos: \
             acéptala aquí {link}\n\nA table came free at {place} for {party_en} on {date_en} at {time}. It is held for \
             you for {minutes} minutes: accept it here {link}\n",
            party_es = crate::guest_notices::party_words(party, true),
            party_en = crate::guest_notices::party_words(party, false),
        ),
        created_at: state.clock.now(),
    }
}

/// The guest's mail that they are on the list (in the language of their request), with what they asked and the link
/// that takes them off it: a guest who finds a table elsewhere frees the venue's, and one who hears nothing for an
/// hour knows they are still waiting.
pub(crate) fn joined_mail(
    state: &AppState,
    lang: crate::routes::pages::Lang,
    partner: PartnerId,
    venue: &comanda_domain::Venue,
    entry: &comanda_store::reservations::NewWaitlistEntry,
    zone: &jiff::tz::TimeZone,
) -> OutboxMessage {
    let spanish = lang == crate::routes::pages::Lang::Es;
    let token = comanda_security::booking_link::issue(&state.booking_key, partner, entry.id);
    let link = format!(
        "{}/book/{}?waitlist={}&token={token}",
        state.identity.public_origin(),
        venue.id.as_uuid(),
        entry.id
    );
    let place = crate::guest_notices::venue_place(venue);
    let earliest = crate::routes::reservations::local_rfc3339(zone, entry.earliest);
    let latest = crate::routes::reservations::local_rfc3339(zone, entry.latest);
    let (date, from) = crate::guest_notices::date_and_time(&earliest, spanish);
    let (_, until) = crate::guest_notices::date_and_time(&latest, spanish);
    let party = crate::guest_notices::party_words(entry.party_size, spanish);
    let minutes = OFFER_HOLD.whole_minutes();
    let (subject, body) = if spanish {
        (
            format!("Estás en la lista de espera de {}", venue.name),
            format!(
                "Estás en la lista de espera de {place} para {party} el {date}, entre las {from} y las {until}. Si se \
                 libera una mesa en esa franja te escribimos, y la guardamos {minutes} minutos para que la aceptes.\n\n\
                 Si ya no la necesitas, sal de la lista aquí: {link}\n"
            ),
        )
    } else {
        (
            format!("You are on the waitlist at {}", venue.name),
            format!(
                "You are on the waitlist at {place} for {party} on {date}, between {from} and {until}. If a table comes \
                 free in that window we will write to you, and hold it {minutes} minutes for you to accept.\n\n\
                 If you no longer need it, leave the list here: {link}\n"
            ),
        )
    };
    OutboxMessage {
        id: Uuid::now_v7(),
        partner: Some(partner),
        recipient: entry.guest.email.clone(),
        subject,
        body,
        created_at: state.clock.now(),
    }
}

/// After the payments upkeep released `bookings` whose deposit was not paid in time: their guests are told, and
/// their tables are offered to the parties waiting.
pub async fn holds_lapsed(
    state: &AppState,
    scope: &TenantScope,
    bookings: &[comanda_store::reservations::Reservation],
) {
    let mut venues = Vec::new();
    for booking in bookings {
        crate::guest_notices::tell_guest(
            state,
            scope,
            booking,
            crate::guest_notices::BookingNotice::HoldLapsed,
        )
        .await;
        if !venues.contains(&booking.venue_id) {
            venues.push(booking.venue_id);
        }
    }
    for venue in venues {
        state.availability.changed(venue);
        offer_freed(state, scope, venue).await;
    }
}

/// Expires the offers not accepted in time (their tables come free) and offers those tables on; every partner that
/// takes reservations, every [`crate::serve`] tick.
pub async fn upkeep(state: &AppState) {
    let Ok(partners) = state.store.booking_partners().await else {
        return;
    };
    for partner in partners {
        let scope = TenantScope::from_proof(&JobAuthority::new("waitlist-upkeep", partner));
        match state.store.expire_offers(&scope, state.clock.now()).await {
            Ok(venues) => {
                for venue in venues {
                    state.availability.changed(venue);
                    offer_freed(state, &scope, venue).await;
                }
            }
            Err(error) => tracing::warn!(%partner, %error, "waitlist offers not expired"),
        }
    }
}
