//! Reservations in the store: booking policies, table combinations, bookings and the claim rows that make the
//! database refuse two bookings of one table at the same time (migration 0017). The rules (which start is offered,
//! which tables a party gets, pacing, notice) are `comanda_domain::reservation`'s: a booking's transaction reads the
//! policy, the floor and the bookings that hold tables under the venue's lock and hands them to the caller's
//! [`DecideBooking`], so every path — public booking, staff booking, a move — runs the same check on fresh data.

use async_trait::async_trait;
use comanda_domain::Venue;
use comanda_domain::reservation::{Assignment, BookingPolicy, DepositFate, Floor, Holding, Refusal};
use comanda_domain::{Money, Page, PageRequest};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::identity::AuditEntry;
use crate::privacy::GuestContact;

stored_enum! {
    /// Where a reservation is in its life. Holding states keep their tables claimed; the others have released them.
    pub enum ReservationStatus {
        /// A freed time offered to a waiting party: the table is held until the offer expires or the guest accepts.
        Offered = "offered",
        /// Held for its deposit: the tables are claimed until the hold expires; paying confirms it.
        AwaitingDeposit = "awaiting_deposit",
        Booked = "booked",
        Confirmed = "confirmed",
        Late = "late",
        Seated = "seated",
        Finished = "finished",
        Cancelled = "cancelled",
        NoShow = "no_show",
        /// An offer or a deposit hold that ended without becoming a booking: the guest declined or let the offer
        /// expire, the venue withdrew it, or the deposit was never paid. Not a booking, so not a cancellation either
        /// (migration 0046).
        Lapsed = "lapsed",
    }
}

impl ReservationStatus {
    /// How the reservation figures of a report count a booking in this status (docs/analytics.md).
    pub fn booking_state(self) -> comanda_domain::analytics::BookingState {
        use comanda_domain::analytics::BookingState;
        match self {
            Self::Offered | Self::AwaitingDeposit | Self::Lapsed => BookingState::NotBooked,
            Self::Booked | Self::Confirmed | Self::Late => BookingState::Upcoming,
            Self::Seated | Self::Finished => BookingState::Came,
            Self::NoShow => BookingState::NoShow,
            Self::Cancelled => BookingState::Cancelled,
        }
    }

    /// The status a cancellation leaves: a booking is cancelled; an offer or a deposit hold, never a booking, lapses.
    pub fn cancelled_as(self) -> Self {
        match self {
            Self::Offered | Self::AwaitingDeposit => Self::Lapsed,
            _ => Self::Cancelled,
        }
    }

    /// Cancelled or lapsed: called off before the party came, by the guest, the venue or the clock.
    pub fn called_off(self) -> bool {
        matches!(self, Self::Cancelled | Self::Lapsed)
    }

    /// Offers, parties awaiting their deposit, booked, confirmed, late and seated hold their tables.
    pub fn holds_tables(self) -> bool {
        matches!(
            self,
            Self::Offered
                | Self::AwaitingDeposit
                | Self::Booked
                | Self::Confirmed
                | Self::Late
                | Self::Seated
        )
    }

    /// The host's moves: confirm, mark late (15 minutes past the start), seat, finish, cancel, no-show. A booking
    /// awaiting its deposit can only be cancelled: paying it is what confirms it. A no-show whose party comes after
    /// all is seated while its booked time lasts (`reservation::no_show_undone_too_late`, checked by the store).
    pub fn can_move_to(self, to: Self) -> bool {
        use ReservationStatus::*;
        matches!(
            (self, to),
            (Offered | AwaitingDeposit, Cancelled)
                | (Booked, Confirmed | Late | Seated | Cancelled | NoShow)
                | (Confirmed, Late | Seated | Cancelled | NoShow)
                | (Late, Seated | Cancelled | NoShow)
                | (NoShow, Seated)
                | (Seated, Finished)
        )
    }
}

/// A host's move that waits for the party's time (`comanda_domain::reservation::latest_start`): refused with
/// `StoreError::Refused(why)` while the reservation starts after `latest_start`.
#[derive(Debug, Clone, Copy)]
pub struct WhenDue {
    pub latest_start: OffsetDateTime,
    pub why: &'static str,
}

/// A stored reservation (the guest's contact data is read separately, through the privacy layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub guest_id: Uuid,
    pub party_size: u16,
    pub start: OffsetDateTime,
    pub until: OffsetDateTime,
    pub status: ReservationStatus,
    /// `online` (the public widget) or `staff`.
    pub channel: String,
    pub tables: Vec<Uuid>,
    pub note: String,
    /// The reason the host gave for its last change (a cancellation, a no-show, a move), empty when none: staff's
    /// words about the guest, sealed under the guest's key like the note and blanked when the guest is erased.
    pub status_reason: String,
    pub session_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A booking request, validated; the guest's contact is sealed under the guest's own key in the same transaction.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub guest: GuestContact,
    pub party_size: u16,
    pub start: OffsetDateTime,
    pub channel: String,
    pub note: String,
    pub idempotency_key: Option<String>,
    pub request_hash: Vec<u8>,
    /// The guest's confirmation with the link to view or cancel, queued in the booking's transaction (so a
    /// booking that commits always sends it, and a refused one never does).
    pub confirmation: Option<crate::identity::OutboxMessage>,
    /// The deposit the venue's policy asks: the booking then awaits it, holding its tables until the hold expires.
    pub deposit: Option<NewDeposit>,
    /// A freed time offered to a waiting party (whose guest contact is already stored): the reservation starts
    /// `offered`, and the entry moves to `offered` in the same transaction.
    pub offer: Option<Offer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub entry: Uuid,
    pub expires_at: OffsetDateTime,
}

stored_enum! {
    /// Where a waiting party is.
    pub enum WaitlistStatus {
        Waiting = "waiting",
        Offered = "offered",
        Booked = "booked",
        Expired = "expired",
        Left = "left",
    }
}

/// A party on the waitlist: a size, a local date and a window of acceptable starts (instants in UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub guest_id: Uuid,
    pub party_size: u16,
    /// `YYYY-MM-DD` in the venue's zone.
    pub local_date: String,
    pub earliest: OffsetDateTime,
    pub latest: OffsetDateTime,
    pub status: WaitlistStatus,
    /// The offered (then booked) reservation.
    pub reservation_id: Option<Uuid>,
    pub offer_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// `online` (the public widget) or `staff` (the host, for a party waiting at the venue).
    pub channel: String,
    /// Tables the party turned down while keeping its place ([`ReservationStore::decline_offer`]): never offered
    /// to it again.
    pub declined_tables: Vec<Uuid>,
}

/// One guest record's bookings (`ReservationStore::guest_bookings`).
#[derive(Debug, Clone, Default)]
pub struct GuestBookings {
    pub reservations: Vec<(Reservation, Option<Deposit>)>,
    pub waitlist: Vec<WaitlistEntry>,
}

#[derive(Debug, Clone)]
pub struct NewWaitlistEntry {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub guest: GuestContact,
    pub party_size: u16,
    pub local_date: String,
    pub earliest: OffsetDateTime,
    pub latest: OffsetDateTime,
    /// `online` or `staff` ([`WaitlistEntry::channel`]).
    pub channel: String,
    /// The join's `Idempotency-Key`: an entry already made with it is answered instead of a second one.
    pub idempotency_key: Option<String>,
    /// A digest of what was asked: the same key with another request is refused.
    pub request_hash: Vec<u8>,
    /// The guest's mail saying they are on the list, with the link that takes them off it, queued in the join's
    /// transaction (a retried join answers the first entry and queues nothing more).
    pub confirmation: Option<crate::identity::OutboxMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeposit {
    pub amount: Money,
    pub hold_expires_at: OffsetDateTime,
    /// `comanda_domain::reservation::refundable_until`: recorded so the rule shown before paying is the one applied.
    pub refundable_until: OffsetDateTime,
}

stored_enum! {
    /// Where a deposit's money is (migration 0018 says what each means).
    pub enum DepositStatus {
        Awaiting = "awaiting",
        Paid = "paid",
        RefundDue = "refund_due",
        KeepDue = "keep_due",
        Refunded = "refunded",
        Kept = "kept",
        Released = "released",
    }
}

impl DepositStatus {
    /// The status a paid deposit takes when its booking ends, by the fate the venue's rule gave it.
    pub fn due(fate: DepositFate) -> Self {
        match fate {
            DepositFate::Refund => Self::RefundDue,
            DepositFate::Keep => Self::KeepDue,
        }
    }
}

/// A reservation as the host's list shows it: with its deposit and its guest's contact (opened).
#[derive(Debug, Clone)]
pub struct BookedParty {
    pub reservation: Reservation,
    pub deposit: Option<Deposit>,
    pub guest: Option<GuestContact>,
}

/// A waitlist entry with its guest's contact, as the host's day list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingParty {
    pub entry: WaitlistEntry,
    pub guest: Option<GuestContact>,
}

/// A reservation's deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    pub reservation_id: Uuid,
    pub venue_id: Uuid,
    pub amount: Money,
    pub status: DepositStatus,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    /// The Stripe refund or transfer that settled it.
    pub settlement: Option<String>,
    /// Why its refund did not reach the guest's card (Stripe's `failure_reason`): it stays `Refunded`, and the
    /// venue gives it back another way.
    pub refund_failure: Option<String>,
    pub hold_expires_at: OffsetDateTime,
    pub refundable_until: OffsetDateTime,
}

/// The member moving a reservation: recorded as who accepted the table's session when they seat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `role:member`, as table sessions record who accepted them.
    pub actor: String,
    pub member: Uuid,
}

/// What the booking's transaction read under the venue's lock.
#[derive(Debug)]
pub struct BookingContext<'a> {
    pub venue: &'a Venue,
    pub policy: &'a BookingPolicy,
    pub floor: &'a Floor,
    /// Bookings holding tables from a day before to two days after the start (every hold that can overlap it).
    pub holdings: &'a [Holding],
}

/// The booking rule run inside the transaction (`comanda_domain::reservation::check_booking`).
pub type DecideBooking<'a> = dyn Fn(&BookingContext<'_>) -> Result<Assignment, Refusal> + Send + Sync + 'a;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    Created(Reservation),
    /// The same Idempotency-Key with the same body: the first booking.
    Replayed(Reservation),
    /// The same Idempotency-Key with another body.
    KeyReused,
    Refused(Refusal),
    /// The venue has no booking policy: it takes no reservations.
    NotTaking,
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveOutcome {
    Moved(Box<Reservation>),
    /// The move decided what the booking already has (same start, party and tables: a double tap): nothing written.
    Unchanged(Box<Reservation>),
    /// Only a booked, confirmed or late reservation moves (a seated party has its table; a finished one is done).
    NotMovable(ReservationStatus),
    Refused(Refusal),
}

#[async_trait]
pub trait ReservationStore: Send + Sync {
    /// The partner that listed `venue` for public booking, from the platform's booking directory.
    async fn booking_listing(&self, venue: Uuid) -> StoreResult<Option<comanda_domain::PartnerId>>;

    async fn booking_policy(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<Option<BookingPolicy>>;

    async fn put_booking_policy(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        policy: &BookingPolicy,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Declares tables of the venue that may be joined; `NotFound` when one is not the venue's, `Conflict` when
    /// the venue joins the same tables already.
    async fn add_table_combination(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        tables: &[Uuid],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Uuid>;

    /// The venue's declared combinations, `(id, tables)` in the order they were declared.
    async fn table_combinations(
        &self,
        scope: &TenantScope,
        venue: Uuid,
    ) -> StoreResult<Vec<(Uuid, Vec<Uuid>)>>;

    /// Withdraws a declared combination: later bookings are no longer offered it (bookings that hold it keep their
    /// tables). `NotFound` when the venue has no such combination.
    async fn remove_table_combination(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        combination: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Takes a table off the floor, keeping its history: its QR code stops opening, it leaves every list, the
    /// booking engine's floor and the combinations it was in (their ids are returned; audited with them). Its label
    /// is free again. [`crate::StoreError::Conflict`] while a bill is open on it or a booking holds it from now on
    /// (the host moves the booking first); [`crate::StoreError::NotFound`] for a retired or another tenant's table.
    async fn retire_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Uuid>>;

    /// A table's reservation settings: the smallest and the largest party it is given to (its seats), and whether
    /// the public widget offers it. `NotFound` for another tenant's table.
    async fn set_table_booking(
        &self,
        scope: &TenantScope,
        table: Uuid,
        parties: (u16, u32),
        bookable_online: bool,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// The venue, its policy, floor and the holdings between `from` and `until`, in one snapshot (availability);
    /// `except` leaves out one booking's holding (the times a booking being moved can take, its own included).
    async fn booking_view(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        except: Option<Uuid>,
    ) -> StoreResult<Option<(Venue, BookingPolicy, Floor, Vec<Holding>)>>;

    /// Books under the venue's lock: `decide` sees fresh data, and the claim rows are the database's own refusal
    /// of a double booking (`Refused(SlotTaken)` when a claim collides).
    async fn book(
        &self,
        scope: &TenantScope,
        booking: &NewReservation,
        decide: &DecideBooking<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<BookOutcome>;

    /// A seated party's new size (it grew, or some left): its covers change, its tables and time stay, appending
    /// `audit` in the same transaction. `None` when the booking is not seated (any more).
    async fn resize_seated(
        &self,
        scope: &TenantScope,
        id: Uuid,
        party_size: u16,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Reservation>>;

    /// Moves a booking to another start and/or party size under the venue's lock: `decide` sees every other
    /// holding (not this booking's), and the old claims are released and the new ones taken in one transaction, so
    /// a move never leaves the party with no table or with two.
    #[allow(clippy::too_many_arguments)]
    async fn move_reservation(
        &self,
        scope: &TenantScope,
        id: Uuid,
        party_size: u16,
        decide: &DecideBooking<'_>,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MoveOutcome>;

    async fn reservation(&self, scope: &TenantScope, id: Uuid) -> StoreResult<Reservation>;

    /// The host's list: one page of the venue's reservations starting in `[from, until)`, by start then id
    /// (keyset: the page after `page.after_timed()`), each with its deposit and its guest's contact (`None` when
    /// there is none), read in one transaction by three statements however full the page is (plus a read of each
    /// guest's data key not already in memory).
    async fn reservations_between(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        page: PageRequest,
    ) -> StoreResult<Page<BookedParty>>;

    /// Moves a reservation to `to`; leaving a holding state releases its claims in the same transaction. Seating
    /// (by `host`, a member) opens the first table's session, or joins the live one a guest's QR order opened, so
    /// the party's orders and bill belong to the reservation; it is refused (`StoreError::Refused`) while staff have
    /// accepted another party at the table who has ordered. `Ok(None)` when the move is not allowed from the
    /// current status.
    /// `deposit` is what the venue's rule decided for a paid deposit when this move ends the booking: the deposit
    /// becomes refund- or keep-due in the same transaction (a deposit still awaited is left for its hold's expiry).
    /// `due`: a move that waits for the party's time, refused while the reservation starts later (read under the
    /// row's lock, so a concurrent move to a later start cannot slip between).
    #[allow(clippy::too_many_arguments)]
    async fn transition_reservation(
        &self,
        scope: &TenantScope,
        id: Uuid,
        to: ReservationStatus,
        host: Option<&Host>,
        deposit: Option<DepositFate>,
        due: Option<WhenDue>,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Reservation>>;

    /// Adds a party to the venue's waitlist (its guest contact sealed in the same transaction).
    async fn join_waitlist(
        &self,
        scope: &TenantScope,
        entry: &NewWaitlistEntry,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<WaitlistEntry>;

    /// The venue's waitlist in arrival order: one local date's, or (`None`) every party still waiting.
    async fn waitlist(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        local_date: Option<&str>,
    ) -> StoreResult<Vec<WaitlistEntry>>;

    /// One page of a local date's waitlist for the host, in arrival order (keyset by joining time then id), each
    /// party with its guest's contact (opened): two statements whatever the page's length, plus a read of each
    /// guest's data key not already in memory.
    async fn waitlist_day(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        local_date: &str,
        page: PageRequest,
    ) -> StoreResult<Page<WaitingParty>>;

    async fn waitlist_entry(&self, scope: &TenantScope, id: Uuid) -> StoreResult<WaitlistEntry>;

    /// The party leaves the waitlist, declining an offer it has open (the offered booking is cancelled, its tables
    /// free); `Ok(None)` when it no longer waits (booked or gone).
    async fn leave_waitlist(
        &self,
        scope: &TenantScope,
        id: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<WaitlistEntry>>;

    /// The party turns down the table it was offered but keeps waiting (a party at the bar that wants another
    /// table): the offer lapses, its tables join the entry's `declined_tables` and the entry is `waiting` again in
    /// its place; `Ok(None)` when it has no offer open.
    async fn decline_offer(
        &self,
        scope: &TenantScope,
        id: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<WaitlistEntry>>;

    /// The guest accepts an offer: `offered` → `booked` (or `awaiting_deposit` with the venue's deposit), and the
    /// entry is booked. `Ok(None)` when the reservation is no longer offered (the offer expired).
    async fn accept_offer(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        deposit: Option<&NewDeposit>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Reservation>>;

    /// Offers not accepted by `now`: each reservation lapses (its tables free); an online entry expires, a party the
    /// host put on the list (channel `staff`, waiting at the venue) is waiting again in its place. Answers the venues
    /// that got tables back, for their tables to be offered on.
    async fn expire_offers(&self, scope: &TenantScope, now: OffsetDateTime) -> StoreResult<Vec<Uuid>>;

    /// Partners that take reservations (the booking directory), for the waitlist's upkeep.
    async fn booking_partners(&self) -> StoreResult<Vec<comanda_domain::PartnerId>>;

    /// The partner whose reservation a deposit's PaymentIntent names, from the platform's deposit directory.
    async fn deposit_partner(&self, reservation: Uuid) -> StoreResult<Option<comanda_domain::PartnerId>>;

    async fn deposit(&self, scope: &TenantScope, reservation: Uuid) -> StoreResult<Option<Deposit>>;

    /// What one guest record booked, for the data-subject export (GDPR art. 15, Ley 1581 art. 8): its reservations
    /// with their deposits, and its waitlist entries, each oldest first.
    async fn guest_bookings(&self, scope: &TenantScope, guest: Uuid) -> StoreResult<GuestBookings>;

    /// Seals the booking notes an older version wrote in clear (PRIV-1), each under its guest's own key, at most
    /// 1,000 a call; a note whose guest was erased is blanked. Returns how many it rewrote (0 once none is left).
    async fn seal_clear_booking_notes(&self, scope: &TenantScope) -> StoreResult<u64>;

    async fn attach_deposit_intent(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        intent: &str,
    ) -> StoreResult<()>;

    /// Deposits whose money must still move at Stripe: refund-due, keep-due (a no-show's only once its booked time
    /// and `reservation::NO_SHOW_HANDOVER_MARGIN` are over: the party may still come), and awaited ones whose hold
    /// expired.
    async fn unsettled_deposits(&self, scope: &TenantScope, now: OffsetDateTime)
    -> StoreResult<Vec<Deposit>>;

    /// Records a deposit's settlement: `from` → `to` (refunded or kept with the Stripe object that moved it, or
    /// released once its PaymentIntent is cancelled, which also cancels a booking still awaiting it and frees its
    /// tables). `Ok(None)` when the deposit is no longer `from` (another instance settled it).
    #[allow(clippy::too_many_arguments)]
    async fn settle_deposit(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        from: DepositStatus,
        to: DepositStatus,
        settlement: Option<&str>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Deposit>>;

    /// The refund `stripe_refund` that settled a `refunded` deposit did not reach the guest's card (`reason`:
    /// Stripe's `failure_reason`): recorded once, with its audit entry. `Ok(None)` when it is not that deposit's
    /// refund or its failure was recorded already (a repeated event), so the venue is told once.
    async fn deposit_refund_failed(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        stripe_refund: &str,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Deposit>>;
}
