// The reservation store's statements, written once for both engines and `include!`d by `sqlite_reservations` and
// `postgres_reservations` (docs/architecture.md, "Adding a query"). Nothing here differs by engine: the venue's lock
// is `locking!` (FOR UPDATE, or SQLite's write transaction), and a double booking is refused by the claim rows'
// primary key on both.

use crate::identity::AuditEntry;
use crate::reservations::{
    BookOutcome, BookedParty, BookingContext, DecideBooking, Deposit, DepositStatus, GuestBookings, Host,
    MoveOutcome, NewDeposit, NewReservation, NewWaitlistEntry, Reservation, ReservationStatus,
    ReservationStore, WaitingParty, WaitlistEntry, WaitlistStatus, WhenDue,
};
use crate::sealing::{KeyOwner, Place};
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use comanda_domain::reservation::{
    Assignment, BookableTable, BookingPolicy, CELL_SECONDS, DepositFate, Floor, Holding, Occupied, Refusal,
};
use comanda_domain::{Currency, Money, Page, PageRequest, PartnerId, Venue};
use comanda_security::TenantScope;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Statuses whose bookings hold their tables (`ReservationStatus::holds_tables`).
const HOLDING: &str = "('offered', 'awaiting_deposit', 'booked', 'confirmed', 'late', 'seated')";

fn reservation_from_row(row: &DbRow) -> StoreResult<Reservation> {
    let status: String = row.try_get("status")?;
    let tables: String = row.try_get("tables")?;
    Ok(Reservation {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        guest_id: uuid_col(row, "guest_id")?,
        party_size: u16::try_from(row.try_get::<i32, _>("party_size")?).unwrap_or(0),
        start: row.try_get("start_at")?,
        until: row.try_get("until_at")?,
        status: ReservationStatus::parse(&status)
            .ok_or_else(|| StoreError::Config(format!("unknown reservation status {status:?}")))?,
        channel: row.try_get("channel")?,
        tables: serde_json::from_str(&tables)
            .map_err(|e| StoreError::Config(format!("reservation tables: {e}")))?,
        note: row.try_get("note")?,
        status_reason: row.try_get("status_reason")?,
        session_id: opt_uuid_col(row, "session_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Where a booking's note is sealed. The note is what the guest wrote (an allergy, an occasion, sometimes a name): it
/// is sealed under the guest's own key with their contact (PRIV-1), so an erasure shreds it in backups too. Notes
/// written before they were sealed are read as they are until the upkeep seals them (`seal_clear_booking_notes`).
fn note_place(reservation: Uuid) -> Place<'static> {
    Place {
        table: "reservations",
        column: "note",
        row: reservation,
    }
}

/// Where the reason of a booking's last change is sealed: the host's words about the guest, under the guest's key.
fn reason_place(reservation: Uuid) -> Place<'static> {
    Place {
        table: "reservations",
        column: "status_reason",
        row: reservation,
    }
}

impl Engine {
    /// Keeps `reason` as the booking's last change's, sealed under its guest's key (blank when none was given, or
    /// when the guest is erased: no key is made again for them).
    async fn keep_reason(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        booking: &Reservation,
        reason: &str,
    ) -> StoreResult<()> {
        let sealed = match reason {
            "" => String::new(),
            reason => self
                .seal_unless_erased(
                    conn,
                    partner,
                    KeyOwner::Person(booking.guest_id),
                    reason_place(booking.id),
                    reason,
                )
                .await?
                .unwrap_or_default(),
        };
        sqlx::query("UPDATE reservations SET status_reason = $3 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(booking.id))
            .bind(sealed)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The booking as its transaction now holds it, opened.
    async fn reservation_by_id(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        id: Uuid,
    ) -> StoreResult<Reservation> {
        let row = sqlx::query("SELECT * FROM reservations WHERE partner_id = $1 AND id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .fetch_one(&mut *conn)
            .await?;
        self.reservation_opened(conn, partner, &row).await
    }

    /// A reservation row with its note opened by its guest's key (inside the caller's transaction).
    async fn reservation_opened(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        row: &DbRow,
    ) -> StoreResult<Reservation> {
        let mut booked = reservation_from_row(row)?;
        booked.note = self
            .open_field(
                conn,
                partner,
                KeyOwner::Person(booked.guest_id),
                note_place(booked.id),
                &booked.note,
            )
            .await?;
        if !booked.status_reason.is_empty() {
            booked.status_reason = self
                .open_field(
                    conn,
                    partner,
                    KeyOwner::Person(booked.guest_id),
                    reason_place(booked.id),
                    &booked.status_reason,
                )
                .await?;
        }
        Ok(booked)
    }
}

fn deposit_from_row(row: &DbRow) -> StoreResult<Deposit> {
    let status: String = row.try_get("status")?;
    let code: String = row.try_get("currency")?;
    let currency = Currency::from_code(&code).ok_or_else(|| crate::records::corrupt("currency", &code))?;
    Ok(Deposit {
        reservation_id: uuid_col(row, "reservation_id")?,
        venue_id: uuid_col(row, "venue_id")?,
        amount: Money::new(row.try_get("amount")?, currency)
            .map_err(|_| crate::records::corrupt("amount", "negative"))?,
        status: DepositStatus::parse(&status).ok_or_else(|| crate::records::corrupt("status", &status))?,
        payment_intent: row.try_get("payment_intent")?,
        charge: row.try_get("charge_id")?,
        settlement: row.try_get("settlement")?,
        refund_failure: row.try_get("refund_failure")?,
        hold_expires_at: row.try_get("hold_expires_at")?,
        refundable_until: row.try_get("refundable_until")?,
    })
}

fn entry_from_row(row: &DbRow) -> StoreResult<WaitlistEntry> {
    let status: String = row.try_get("status")?;
    Ok(WaitlistEntry {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        guest_id: uuid_col(row, "guest_id")?,
        party_size: u16::try_from(row.try_get::<i32, _>("party_size")?).unwrap_or(0),
        local_date: row.try_get("local_date")?,
        earliest: row.try_get("earliest_at")?,
        latest: row.try_get("latest_at")?,
        status: WaitlistStatus::parse(&status).ok_or_else(|| crate::records::corrupt("status", &status))?,
        reservation_id: opt_uuid_col(row, "reservation_id")?,
        offer_expires_at: row.try_get("offer_expires_at")?,
        created_at: row.try_get("created_at")?,
        channel: row.try_get("channel")?,
        declined_tables: serde_json::from_str(&row.try_get::<String, _>("declined_tables")?)
            .map_err(|e| StoreError::Config(format!("declined tables: {e}")))?,
    })
}

/// Calls off a reservation that is still `from` (`ReservationStatus::cancelled_as`: an offer or a deposit hold
/// lapses) and frees its tables in the caller's transaction; whether it was.
pub(crate) async fn cancel_if(
    conn: &mut Conn,
    partner: PartnerId,
    reservation: Uuid,
    from: ReservationStatus,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let cancelled = sqlx::query(
        "UPDATE reservations SET status = $5, updated_at = $3 WHERE partner_id = $1 AND id = $2 AND status = $4",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(reservation))
    .bind(ts(now))
    .bind(from.as_str())
    .bind(from.cancelled_as().as_str())
    .execute(&mut *conn)
    .await?;
    if cancelled.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM reservation_claims WHERE partner_id = $1 AND reservation_id = $2")
        .bind(h(partner.as_uuid()))
        .bind(h(reservation))
        .execute(&mut *conn)
        .await?;
    // A waitlist place whose booking never came about (its deposit hold lapsed) is over, not "booked".
    sqlx::query(
        "UPDATE waitlist_entries SET status = 'expired', updated_at = $3
          WHERE partner_id = $1 AND reservation_id = $2 AND status IN ('offered', 'booked')",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(reservation))
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

async fn insert_deposit(
    conn: &mut Conn,
    partner: PartnerId,
    reservation: Uuid,
    venue: Uuid,
    deposit: &NewDeposit,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO reservation_deposits (partner_id, reservation_id, venue_id, amount, currency, status,
                                           hold_expires_at, refundable_until, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'awaiting', $6, $7, $8, $8)",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(reservation))
    .bind(h(venue))
    .bind(deposit.amount.amount)
    .bind(deposit.amount.currency.code())
    .bind(ts(deposit.hold_expires_at))
    .bind(ts(deposit.refundable_until))
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO deposit_directory (reservation_id, partner_id) VALUES ($1, $2)")
        .bind(h(reservation))
        .bind(h(partner.as_uuid()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn policy_from_text(text: &str) -> StoreResult<BookingPolicy> {
    serde_json::from_str(text).map_err(|e| StoreError::Config(format!("booking policy: {e}")))
}

async fn read_floor(conn: &mut Conn, partner: PartnerId, venue: Uuid) -> StoreResult<Floor> {
    let tables = sqlx::query(
        "SELECT id, min_party, seats, bookable_online FROM venue_tables
          WHERE partner_id = $1 AND venue_id = $2 AND retired_at IS NULL",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(venue))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(BookableTable {
            id: uuid_col(row, "id")?,
            min_party: u16::try_from(row.try_get::<i32, _>("min_party")?).unwrap_or(1),
            max_party: u16::try_from(row.try_get::<i32, _>("seats")?).unwrap_or(1),
            online: row.try_get("bookable_online")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let combinations = read_combinations(conn, partner, venue)
        .await?
        .into_iter()
        .map(|(_, tables)| tables)
        .collect();
    // A live bill with orders, or one staff opened: a party is at the table (a guest who only scanned is not). A
    // party seated from a booking is already held by its booking, for the turn of its own size.
    let occupied = sqlx::query(
        "SELECT table_id, created_at FROM table_sessions s
          WHERE partner_id = $1 AND venue_id = $2 AND status <> 'closed'
            AND (status = 'open' OR EXISTS (SELECT 1 FROM orders o WHERE o.partner_id = $1 AND o.session_id = s.id))
            AND NOT EXISTS (SELECT 1 FROM reservations r
                             WHERE r.partner_id = $1 AND r.session_id = s.id AND r.status = 'seated')",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(venue))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(Occupied {
            table: uuid_col(row, "table_id")?,
            since: row.try_get("created_at")?,
            booked_until: None,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    // A party seated from a booking is at its tables too, as long as it stays: past its booking's end it holds them
    // until the next quarter hour, until the host marks it finished, so a walk-in or the next booking is not given a
    // table someone is still sitting at.
    let mut occupied = occupied;
    for row in sqlx::query(
        "SELECT tables, start_at, until_at FROM reservations
          WHERE partner_id = $1 AND venue_id = $2 AND status = 'seated'",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(venue))
    .fetch_all(&mut *conn)
    .await?
    {
        let seated: Vec<Uuid> = serde_json::from_str(&row.try_get::<String, _>("tables")?)
            .map_err(|e| StoreError::Config(format!("reservation tables: {e}")))?;
        let since: OffsetDateTime = row.try_get("start_at")?;
        let booked_until = Some(row.try_get("until_at")?);
        occupied.extend(seated.into_iter().map(|table| Occupied {
            table,
            since,
            booked_until,
        }));
    }
    Ok(Floor {
        tables,
        combinations,
        occupied,
    })
}

/// The venue's combinations with their ids, in the order they were declared.
async fn read_combinations(
    conn: &mut Conn,
    partner: PartnerId,
    venue: Uuid,
) -> StoreResult<Vec<(Uuid, Vec<Uuid>)>> {
    sqlx::query(
        "SELECT id, tables FROM table_combinations WHERE partner_id = $1 AND venue_id = $2 ORDER BY id",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(venue))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let tables: String = row.try_get("tables")?;
        let tables = serde_json::from_str(&tables)
            .map_err(|e| StoreError::Config(format!("table combination: {e}")))?;
        Ok((uuid_col(row, "id")?, tables))
    })
    .collect()
}

/// The bookings holding the venue's tables between `from` and `until`, leaving out `except` (a booking being moved).
async fn read_holdings(
    conn: &mut Conn,
    partner: PartnerId,
    venue: Uuid,
    (from, until): (OffsetDateTime, OffsetDateTime),
    except: Option<Uuid>,
) -> StoreResult<Vec<Holding>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM reservations
          WHERE partner_id = $1 AND venue_id = $2 AND status IN {HOLDING} AND start_at < $4 AND until_at > $3
            AND (CAST($5 AS UUID) IS NULL OR id <> $5)"
    )))
    .bind(h(partner.as_uuid()))
    .bind(h(venue))
    .bind(ts(from))
    .bind(ts(until))
    .bind(except.map(h))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let booked = reservation_from_row(row)?;
        Ok(Holding {
            online: booked.channel == "online",
            tables: booked.tables,
            start: booked.start,
            until: booked.until,
            party: booked.party_size,
        })
    })
    .collect()
}

async fn read_venue(conn: &mut Conn, partner: PartnerId, venue: Uuid) -> StoreResult<Option<Venue>> {
    sqlx::query("SELECT * FROM venues WHERE partner_id = $1 AND id = $2")
        .bind(h(partner.as_uuid()))
        .bind(h(venue))
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(venue_from_row)
        .transpose()
}

/// Claims every cell of the assignment on each of its tables; `false` when another booking holds one of them (the
/// database's own refusal of a double booking). Also how a seated party's bill, moved to another table, takes the
/// rest of its turn there (`OrderingStore::move_session`).
pub(crate) async fn claim(
    conn: &mut Conn,
    partner: PartnerId,
    reservation: Uuid,
    assignment: &Assignment,
) -> StoreResult<bool> {
    let cells = assignment.cells();
    let mut claims = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO reservation_claims (partner_id, table_id, cell, reservation_id) ",
    );
    claims.push_values(
        assignment
            .tables
            .iter()
            .flat_map(|table| cells.iter().map(move |cell| (table, cell))),
        |mut row, (table, cell)| {
            row.push_bind(h(partner.as_uuid()))
                .push_bind(h(*table))
                .push_bind(*cell)
                .push_bind(h(reservation));
        },
    );
    match claims.build().execute(&mut *conn).await {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Every hold that can overlap a start lies within a day before and two days after it (turns are at most 8 hours).
fn holding_window(start: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    // Saturating: a start at the calendar's edge is the rule's to refuse (beyond the horizon), not an overflow.
    (
        start.saturating_sub(time::Duration::days(1)),
        start.saturating_add(time::Duration::days(2)),
    )
}

#[async_trait]
impl ReservationStore for Engine {
    async fn booking_listing(&self, venue: Uuid) -> StoreResult<Option<PartnerId>> {
        let row = sqlx::query("SELECT partner_id FROM booking_directory WHERE venue_id = $1")
            .bind(h(venue))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| uuid_col(&row, "partner_id").map(PartnerId::from_uuid))
            .transpose()
    }

    async fn booking_policy(&self, scope: &TenantScope, venue: Uuid) -> StoreResult<Option<BookingPolicy>> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(venue))
                .fetch_optional(&mut *self.reading(scope).await?)
                .await?;
        text.as_deref().map(policy_from_text).transpose()
    }

    async fn put_booking_policy(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        policy: &BookingPolicy,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let text = serde_json::to_string(policy).map_err(|e| StoreError::Config(e.to_string()))?;
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "INSERT INTO booking_policies (partner_id, venue_id, policy, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (partner_id, venue_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(text)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        sqlx::query("INSERT INTO booking_directory (venue_id, partner_id) VALUES ($1, $2) ON CONFLICT (venue_id) DO NOTHING")
            .bind(h(venue))
            .bind(h(scope.partner().as_uuid()))
            .execute(&mut *tx)
            .await?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(venue), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_table_combination(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        tables: &[Uuid],
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Uuid> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        // Under the venue's row, so two requests joining the same tables at once are told apart.
        sqlx::query(locking!(
            "SELECT id FROM venues WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(venue))
        .fetch_optional(&mut *tx)
        .await?;
        let floor = read_floor(&mut tx, partner, venue).await?;
        if tables.iter().any(|id| !floor.tables.iter().any(|t| t.id == *id)) {
            return Err(StoreError::NotFound);
        }
        let asked: std::collections::BTreeSet<&Uuid> = tables.iter().collect();
        let declared = read_combinations(&mut tx, partner, venue).await?;
        if declared
            .iter()
            .any(|(_, joined)| joined.iter().collect::<std::collections::BTreeSet<_>>() == asked)
        {
            return Err(StoreError::Conflict(
                "the venue already joins these tables".into(),
            ));
        }
        let id = Uuid::now_v7();
        let text = serde_json::to_string(tables).map_err(|e| StoreError::Config(e.to_string()))?;
        sqlx::query(
            "INSERT INTO table_combinations (partner_id, venue_id, id, tables, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(venue))
        .bind(h(id))
        .bind(text)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, partner, &audit.targeting(id), now)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn table_combinations(
        &self,
        scope: &TenantScope,
        venue: Uuid,
    ) -> StoreResult<Vec<(Uuid, Vec<Uuid>)>> {
        read_combinations(&mut *self.reading(scope).await?, scope.partner(), venue).await
    }

    async fn remove_table_combination(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        combination: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let removed =
            sqlx::query("DELETE FROM table_combinations WHERE partner_id = $1 AND venue_id = $2 AND id = $3")
                .bind(h(scope.partner().as_uuid()))
                .bind(h(venue))
                .bind(h(combination))
                .execute(&mut *tx)
                .await?;
        if removed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(combination), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_table_booking(
        &self,
        scope: &TenantScope,
        table: Uuid,
        (min_party, seats): (u16, u32),
        bookable_online: bool,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let updated = sqlx::query(
            "UPDATE venue_tables SET min_party = $3, bookable_online = $4, seats = $5
              WHERE partner_id = $1 AND id = $2 AND retired_at IS NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(table))
        .bind(i32::from(min_party))
        .bind(bookable_online)
        .bind(i32::try_from(seats).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(table), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retire_table(
        &self,
        scope: &TenantScope,
        table: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Uuid>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(locking!(
            "SELECT venue_id, label FROM venue_tables WHERE partner_id = $1 AND id = $2 AND retired_at IS NULL"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(table))
        .fetch_one(&mut *tx)
        .await?;
        let venue = uuid_col(&row, "venue_id")?;
        let label: String = row.try_get("label")?;
        // Under the venue's booking lock (`book` takes it first): no booking can claim the table while it goes.
        sqlx::query(locking!(
            "SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(venue))
        .fetch_optional(&mut *tx)
        .await?;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM table_sessions s WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed'
               AND (status = 'open' OR EXISTS (SELECT 1 FROM orders o WHERE o.partner_id = $1 AND o.session_id = s.id))",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(table))
        .fetch_one(&mut *tx)
        .await?;
        if open > 0 {
            return Err(StoreError::Conflict(format!(
                "table {label:?} has a bill open: close it before retiring the table"
            )));
        }
        let current_cell = now.unix_timestamp().div_euclid(CELL_SECONDS) * CELL_SECONDS;
        let booked: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT reservation_id) FROM reservation_claims
              WHERE partner_id = $1 AND table_id = $2 AND cell >= $3",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(table))
        .bind(current_cell)
        .fetch_one(&mut *tx)
        .await?;
        if booked > 0 {
            return Err(StoreError::Conflict(format!(
                "{booked} upcoming booking(s) hold table {label:?}: move them to another table first"
            )));
        }
        let mut withdrawn = Vec::new();
        for (id, joined) in read_combinations(&mut tx, partner, venue).await? {
            if joined.contains(&table) {
                sqlx::query("DELETE FROM table_combinations WHERE partner_id = $1 AND id = $2")
                    .bind(h(partner.as_uuid()))
                    .bind(h(id))
                    .execute(&mut *tx)
                    .await?;
                withdrawn.push(id);
            }
        }
        sqlx::query("UPDATE venue_tables SET retired_at = $3 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(table))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM table_directory WHERE table_id = $1")
            .bind(h(table))
            .execute(&mut *tx)
            .await?;
        let detail = withdrawn
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let audit = audit.targeting(table).detail(format!(
            "venue={venue} label={label:?} combinations_withdrawn=[{detail}]"
        ));
        self.insert_audit(&mut tx, partner, &audit, now).await?;
        tx.commit().await?;
        Ok(withdrawn)
    }

    async fn booking_view(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        except: Option<Uuid>,
    ) -> StoreResult<Option<(Venue, BookingPolicy, Floor, Vec<Holding>)>> {
        let partner = scope.partner();
        let mut tx = self.reading(scope).await?;
        let Some(found) = read_venue(&mut tx, partner, venue).await? else {
            return Err(StoreError::NotFound);
        };
        let text: Option<String> =
            sqlx::query_scalar("SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(venue))
                .fetch_optional(&mut *tx)
                .await?;
        let Some(text) = text else {
            return Ok(None);
        };
        let floor = read_floor(&mut tx, partner, venue).await?;
        let holdings = read_holdings(&mut tx, partner, venue, (from, until), except).await?;
        Ok(Some((found, policy_from_text(&text)?, floor, holdings)))
    }

    async fn book(
        &self,
        scope: &TenantScope,
        booking: &NewReservation,
        decide: &DecideBooking<'_>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<BookOutcome> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        // The venue's policy row is its booking lock: bookings of one venue are decided one after another, on what
        // the previous one committed (pacing counts covers across tables, which no claim row can see).
        let text: Option<String> = sqlx::query_scalar(locking!(
            "SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(booking.venue_id))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(text) = text else {
            return Ok(BookOutcome::NotTaking);
        };
        if let Some(key) = &booking.idempotency_key {
            let first = sqlx::query(
                "SELECT * FROM reservations WHERE partner_id = $1 AND venue_id = $2 AND idempotency_key = $3",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(booking.venue_id))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(first) = first {
                let hash: Option<Vec<u8>> = first.try_get("request_hash")?;
                return Ok(if hash.as_deref() == Some(booking.request_hash.as_slice()) {
                    BookOutcome::Replayed(self.reservation_opened(&mut tx, partner, &first).await?)
                } else {
                    BookOutcome::KeyReused
                });
            }
        }
        let policy = policy_from_text(&text)?;
        let venue = read_venue(&mut tx, partner, booking.venue_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let floor = read_floor(&mut tx, partner, booking.venue_id).await?;
        let holdings = read_holdings(
            &mut tx,
            partner,
            booking.venue_id,
            holding_window(booking.start),
            None,
        )
        .await?;
        let assignment = match decide(&BookingContext {
            venue: &venue,
            policy: &policy,
            floor: &floor,
            holdings: &holdings,
        }) {
            Ok(assignment) => assignment,
            Err(refusal) => return Ok(BookOutcome::Refused(refusal)),
        };
        if booking.offer.is_none() {
            self.insert_guest_contact(&mut tx, partner, &booking.guest)
                .await?;
        }
        let tables =
            serde_json::to_string(&assignment.tables).map_err(|e| StoreError::Config(e.to_string()))?;
        let note = if booking.note.is_empty() {
            String::new()
        } else {
            self.seal_field(
                &mut tx,
                partner,
                KeyOwner::Person(booking.guest.id),
                note_place(booking.id),
                &booking.note,
            )
            .await?
        };
        let row = sqlx::query(
            "INSERT INTO reservations (partner_id, id, venue_id, guest_id, party_size, start_at, until_at, status,
                                       channel, tables, note, idempotency_key, request_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $14, $8, $9, $10, $11, $12, $13, $13)
             RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(booking.id))
        .bind(h(booking.venue_id))
        .bind(h(booking.guest.id))
        .bind(i32::from(booking.party_size))
        .bind(ts(assignment.start))
        .bind(ts(assignment.until))
        .bind(&booking.channel)
        .bind(tables)
        .bind(note)
        .bind(&booking.idempotency_key)
        .bind(&booking.request_hash)
        .bind(ts(now))
        .bind(match (&booking.offer, &booking.deposit) {
            (Some(_), _) => ReservationStatus::Offered.as_str(),
            (None, Some(_)) => ReservationStatus::AwaitingDeposit.as_str(),
            (None, None) => ReservationStatus::Booked.as_str(),
        })
        .fetch_one(&mut *tx)
        .await?;
        if !claim(&mut tx, partner, booking.id, &assignment).await? {
            return Ok(BookOutcome::Refused(Refusal::SlotTaken));
        }
        if let Some(deposit) = &booking.deposit {
            insert_deposit(&mut tx, partner, booking.id, booking.venue_id, deposit, now).await?;
        }
        if let Some(offer) = &booking.offer {
            let offered = sqlx::query(
                "UPDATE waitlist_entries SET status = 'offered', reservation_id = $3, offer_expires_at = $4,
                        updated_at = $5
                  WHERE partner_id = $1 AND id = $2 AND status = 'waiting'",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(offer.entry))
            .bind(h(booking.id))
            .bind(ts(offer.expires_at))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
            if offered.rows_affected() == 0 {
                // The party left (or was offered elsewhere) meanwhile: nothing of this offer is kept.
                return Ok(BookOutcome::Refused(Refusal::SlotTaken));
            }
        }
        if let Some(message) = &booking.confirmation {
            insert_message(self, &mut tx, message).await?;
        }
        self.insert_audit(&mut tx, partner, &audit.targeting(booking.id), now)
            .await?;
        let created = self.reservation_opened(&mut tx, partner, &row).await?;
        tx.commit().await?;
        Ok(BookOutcome::Created(created))
    }

    async fn resize_seated(
        &self,
        scope: &TenantScope,
        id: Uuid,
        party_size: u16,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Reservation>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let Some(row) = sqlx::query(
            "UPDATE reservations SET party_size = $3, updated_at = $4
             WHERE partner_id = $1 AND id = $2 AND status = 'seated' RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .bind(i32::from(party_size))
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let resized = reservation_from_row(&row)?;
        self.keep_reason(&mut tx, partner, &resized, reason).await?;
        self.insert_audit(&mut tx, partner, &audit.targeting(id), now)
            .await?;
        let resized = self.reservation_by_id(&mut tx, partner, id).await?;
        tx.commit().await?;
        Ok(Some(resized))
    }

    async fn move_reservation(
        &self,
        scope: &TenantScope,
        id: Uuid,
        party_size: u16,
        decide: &DecideBooking<'_>,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<MoveOutcome> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let venue: Uuid = {
            let row = sqlx::query("SELECT venue_id FROM reservations WHERE partner_id = $1 AND id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(id))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            uuid_col(&row, "venue_id")?
        };
        // The venue's lock first, as a booking takes it, then the reservation's row.
        let text: String = sqlx::query_scalar(locking!(
            "SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(venue))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let row = sqlx::query(locking!(
            "SELECT * FROM reservations WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .fetch_one(&mut *tx)
        .await?;
        let current = reservation_from_row(&row)?;
        if !matches!(
            current.status,
            ReservationStatus::Booked | ReservationStatus::Confirmed | ReservationStatus::Late
        ) {
            return Ok(MoveOutcome::NotMovable(current.status));
        }
        let policy = policy_from_text(&text)?;
        let found = read_venue(&mut tx, partner, venue)
            .await?
            .ok_or(StoreError::NotFound)?;
        let floor = read_floor(&mut tx, partner, venue).await?;
        // The new start is known only to the caller's rule, which accepts starts from now to the horizon: every
        // holding that can overlap one of those is read.
        let window = (
            current.start.min(now).saturating_sub(time::Duration::days(1)),
            now.saturating_add(time::Duration::days(i64::from(policy.horizon_days) + 2)),
        );
        let holdings = read_holdings(&mut tx, partner, venue, window, Some(id)).await?;
        let assignment = match decide(&BookingContext {
            venue: &found,
            policy: &policy,
            floor: &floor,
            holdings: &holdings,
        }) {
            Ok(assignment) => assignment,
            Err(refusal) => return Ok(MoveOutcome::Refused(refusal)),
        };
        if assignment.start == current.start
            && assignment.tables == current.tables
            && party_size == current.party_size
        {
            let opened = self.reservation_opened(&mut tx, partner, &row).await?;
            return Ok(MoveOutcome::Unchanged(Box::new(opened)));
        }
        sqlx::query("DELETE FROM reservation_claims WHERE partner_id = $1 AND reservation_id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .execute(&mut *tx)
            .await?;
        if !claim(&mut tx, partner, id, &assignment).await? {
            return Ok(MoveOutcome::Refused(Refusal::SlotTaken));
        }
        let tables =
            serde_json::to_string(&assignment.tables).map_err(|e| StoreError::Config(e.to_string()))?;
        // A late party the host moves to a new time is expected then: confirmed again, not late.
        sqlx::query(
            "UPDATE reservations SET start_at = $3, until_at = $4, tables = $5, party_size = $6, updated_at = $7,
                    status = CASE WHEN status = 'late' THEN 'confirmed' ELSE status END
              WHERE partner_id = $1 AND id = $2",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .bind(ts(assignment.start))
        .bind(ts(assignment.until))
        .bind(tables)
        .bind(i32::from(party_size))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        // The refund cut-off the guest was shown moves with the booking: as long before the new start as before the
        // old one.
        let shift = assignment.start - current.start;
        let cut_off: Option<OffsetDateTime> = sqlx::query_scalar(
            "SELECT refundable_until FROM reservation_deposits WHERE partner_id = $1 AND reservation_id = $2",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(cut_off) = cut_off.filter(|_| !shift.is_zero()) {
            sqlx::query(
                "UPDATE reservation_deposits SET refundable_until = $3, updated_at = $4
                  WHERE partner_id = $1 AND reservation_id = $2",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .bind(ts(cut_off.saturating_add(shift)))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        self.keep_reason(&mut tx, partner, &current, reason).await?;
        self.insert_audit(&mut tx, partner, &audit.targeting(id), now)
            .await?;
        let moved = self.reservation_by_id(&mut tx, partner, id).await?;
        tx.commit().await?;
        Ok(MoveOutcome::Moved(Box::new(moved)))
    }

    async fn reservation(&self, scope: &TenantScope, id: Uuid) -> StoreResult<Reservation> {
        let mut tx = self.reading(scope).await?;
        let row = sqlx::query("SELECT * FROM reservations WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(id))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.reservation_opened(&mut tx, scope.partner(), &row).await
    }

    async fn reservations_between(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        page: PageRequest,
    ) -> StoreResult<Page<BookedParty>> {
        // The page's reservations, and the deposits and contacts of those same reservations (the subquery), so the
        // page costs three statements rather than two more per booking. One more row than the page is read to know
        // whether another page follows.
        const DAY: &str = "SELECT id FROM reservations
                            WHERE partner_id = $1 AND venue_id = $2 AND start_at >= $3 AND start_at < $4
                              AND (CAST($5 AS TIMESTAMPTZ) IS NULL OR (start_at, id) > ($5, $6))
                            ORDER BY start_at, id LIMIT $7";
        let partner = scope.partner();
        let mut tx = self.reading(scope).await?;
        let (after_start, after_id) = page.after_timed().unzip();
        let day = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(h(partner.as_uuid()))
                .bind(h(venue))
                .bind(ts(from))
                .bind(ts(until))
                .bind(ts(after_start))
                .bind(after_id.map(h))
                .bind(i64::from(page.limit) + 1)
        };
        let reservations = day(format!(
            "SELECT * FROM reservations WHERE id IN ({DAY}) ORDER BY start_at, id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut deposits = std::collections::HashMap::new();
        for row in day(format!(
            "SELECT * FROM reservation_deposits WHERE partner_id = $1 AND reservation_id IN ({DAY})"
        ))
        .fetch_all(&mut *tx)
        .await?
        {
            let deposit = deposit_from_row(&row)?;
            deposits.insert(deposit.reservation_id, deposit);
        }
        let contacts = day(format!(
            "SELECT * FROM guest_contacts WHERE partner_id = $1
               AND id IN (SELECT guest_id FROM reservations WHERE id IN ({DAY}))"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let guests = self.contacts_by_guest(&mut tx, partner, &contacts).await?;
        let mut parties = Vec::with_capacity(reservations.len());
        for row in &reservations {
            let reservation = self.reservation_opened(&mut tx, partner, row).await?;
            parties.push(BookedParty {
                deposit: deposits.remove(&reservation.id),
                guest: guests.get(&reservation.guest_id).cloned(),
                reservation,
            });
        }
        Ok(Page::from_overfetch_timed(parties, page.limit, |p| {
            (p.reservation.start, p.reservation.id)
        }))
    }

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
    ) -> StoreResult<Option<Reservation>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(locking!(
            "SELECT * FROM reservations WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let current = reservation_from_row(&row)?;
        if !current.status.can_move_to(to) {
            return Ok(None);
        }
        if let Some(due) = due.filter(|due| current.start > due.latest_start) {
            return Err(StoreError::Refused(due.why.to_owned()));
        }
        if current.status == ReservationStatus::NoShow {
            // The party came after all: its tables are taken back, unless another party has them now.
            if let Some(why) = comanda_domain::reservation::no_show_undone_too_late(current.until, now) {
                return Err(StoreError::Refused(why.to_owned()));
            }
            let booked = Assignment {
                tables: current.tables.clone(),
                start: current.start,
                until: current.until,
            };
            if !claim(&mut tx, partner, id, &booked).await? {
                return Err(StoreError::Refused(
                    "its table was given to another party after the no-show: seat the party as a walk-in (a \
                     no-show is not moved)"
                        .into(),
                ));
            }
        }
        let stored = match to {
            ReservationStatus::Cancelled => current.status.cancelled_as(),
            _ => to,
        };
        sqlx::query("UPDATE reservations SET status = $3, updated_at = $4 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .bind(stored.as_str())
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        if let (ReservationStatus::Seated, Some(host)) = (to, host) {
            seat_at_table(&mut tx, partner, &current, host, now).await?;
        }
        if matches!(
            current.status,
            ReservationStatus::Offered | ReservationStatus::AwaitingDeposit
        ) && to == ReservationStatus::Cancelled
        {
            // A waitlist offer ended by its cancellation, or a booking from it cancelled before its deposit was
            // paid, ends its entry now (not when the offer's time runs out, and not as "booked" for a booking that
            // never came about): declined by the guest (left), or withdrawn by the venue (expired).
            sqlx::query(
                "UPDATE waitlist_entries SET status = $3, updated_at = $4
                  WHERE partner_id = $1 AND reservation_id = $2 AND status IN ('offered', 'booked')",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .bind(if host.is_some() { "expired" } else { "left" })
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        if to == ReservationStatus::Finished {
            let actor = host.map_or("upkeep", |host| host.actor.as_str());
            close_unused_session(&mut tx, partner, &current, actor, now).await?;
        }
        if !to.holds_tables() {
            // Cancelled, no-show or finished: the tables are free again from this commit on.
            sqlx::query("DELETE FROM reservation_claims WHERE partner_id = $1 AND reservation_id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(id))
                .execute(&mut *tx)
                .await?;
        }
        if let Some(fate) = deposit {
            sqlx::query(
                // `keep_due`: a no-show's deposit, not yet handed over, whose party came after all.
                "UPDATE reservation_deposits SET status = $3, updated_at = $4
                  WHERE partner_id = $1 AND reservation_id = $2 AND status IN ('paid', 'keep_due')",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .bind(DepositStatus::due(fate).as_str())
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        self.keep_reason(&mut tx, partner, &current, reason).await?;
        self.insert_audit(&mut tx, partner, &audit.targeting(id), now)
            .await?;
        let moved = self.reservation_by_id(&mut tx, partner, id).await?;
        tx.commit().await?;
        Ok(Some(moved))
    }

    async fn join_waitlist(
        &self,
        scope: &TenantScope,
        entry: &NewWaitlistEntry,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<WaitlistEntry> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        // Under the venue's policy row, as a booking is: two joins with one key, or of one guest, at once meet here,
        // and the second finds the first's entry.
        sqlx::query(locking!(
            "SELECT policy FROM booking_policies WHERE partner_id = $1 AND venue_id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(entry.venue_id))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(key) = &entry.idempotency_key {
            let first = sqlx::query(
                "SELECT * FROM waitlist_entries WHERE partner_id = $1 AND venue_id = $2 AND idempotency_key = $3",
            )
            .bind(h(partner.as_uuid()))
            .bind(h(entry.venue_id))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(first) = first {
                let asked: Option<Vec<u8>> = first.try_get("request_hash")?;
                return if asked.as_deref() == Some(entry.request_hash.as_slice()) {
                    entry_from_row(&first)
                } else {
                    Err(StoreError::Conflict(
                        "this Idempotency-Key was used for another waitlist entry".into(),
                    ))
                };
            }
        }
        // One place in the queue per guest and date: the same email and phone (their lookup digests) still waiting
        // or offered there. Both must match, so the refusal tells nothing to someone who knows only one of them.
        let waiting = sqlx::query(
            "SELECT w.id FROM waitlist_entries w
               JOIN guest_contacts g ON g.partner_id = w.partner_id AND g.id = w.guest_id
              WHERE w.partner_id = $1 AND w.venue_id = $2 AND w.local_date = $3 AND w.status IN ('waiting', 'offered')
                AND g.email_digest = $4 AND g.phone_digest = $5",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(entry.venue_id))
        .bind(&entry.local_date)
        .bind(&entry.guest.lookup.email)
        .bind(&entry.guest.lookup.phone)
        .fetch_optional(&mut *tx)
        .await?;
        if waiting.is_some() {
            return Err(StoreError::Conflict(
                "this guest already waits for a table on that date: leave the list by its link to join with \
                 another window"
                    .into(),
            ));
        }
        self.insert_guest_contact(&mut tx, partner, &entry.guest).await?;
        let row = sqlx::query(
            "INSERT INTO waitlist_entries (partner_id, id, venue_id, guest_id, party_size, local_date, earliest_at,
                                           latest_at, status, created_at, updated_at, idempotency_key, request_hash,
                                           channel)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $9, $9, $10, $11, $12) RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(entry.id))
        .bind(h(entry.venue_id))
        .bind(h(entry.guest.id))
        .bind(i32::from(entry.party_size))
        .bind(&entry.local_date)
        .bind(ts(entry.earliest))
        .bind(ts(entry.latest))
        .bind(ts(now))
        .bind(&entry.idempotency_key)
        .bind(&entry.request_hash)
        .bind(&entry.channel)
        .fetch_one(&mut *tx)
        .await
        .map_err(foreign_key_to_not_found)?;
        if let Some(message) = &entry.confirmation {
            insert_message(self, &mut tx, message).await?;
        }
        self.insert_audit(&mut tx, partner, &audit.targeting(entry.id), now)
            .await?;
        tx.commit().await?;
        entry_from_row(&row)
    }

    async fn waitlist(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        local_date: Option<&str>,
    ) -> StoreResult<Vec<WaitlistEntry>> {
        sqlx::query(
            "SELECT * FROM waitlist_entries WHERE partner_id = $1 AND venue_id = $2
               AND (CAST($3 AS TEXT) IS NULL AND status = 'waiting' OR local_date = $3)
             ORDER BY created_at, id LIMIT 1000",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(local_date)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    async fn waitlist_day(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        local_date: &str,
        page: PageRequest,
    ) -> StoreResult<Page<WaitingParty>> {
        // The page's entries, then the contacts of those same entries (the subquery), as the booking day list does;
        // one more entry than the page says whether another page follows.
        const PAGE: &str = "SELECT id FROM waitlist_entries
                             WHERE partner_id = $1 AND venue_id = $2 AND local_date = $3
                               AND (CAST($4 AS TIMESTAMPTZ) IS NULL OR (created_at, id) > ($4, $5))
                             ORDER BY created_at, id LIMIT $6";
        let partner = scope.partner();
        let mut tx = self.reading(scope).await?;
        let (after_at, after_id) = page.after_timed().unzip();
        let paged = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(h(partner.as_uuid()))
                .bind(h(venue))
                .bind(local_date)
                .bind(ts(after_at))
                .bind(after_id.map(h))
                .bind(i64::from(page.limit) + 1)
        };
        let entries = paged(format!(
            "SELECT * FROM waitlist_entries WHERE id IN ({PAGE}) ORDER BY created_at, id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let contacts = paged(format!(
            "SELECT * FROM guest_contacts WHERE partner_id = $1
               AND id IN (SELECT guest_id FROM waitlist_entries WHERE id IN ({PAGE}))"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let guests = self.contacts_by_guest(&mut tx, partner, &contacts).await?;
        entries
            .iter()
            .map(|row| {
                let entry = entry_from_row(row)?;
                Ok(WaitingParty {
                    guest: guests.get(&entry.guest_id).cloned(),
                    entry,
                })
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(|parties| {
                Page::from_overfetch_timed(parties, page.limit, |p| (p.entry.created_at, p.entry.id))
            })
    }

    async fn waitlist_entry(&self, scope: &TenantScope, id: Uuid) -> StoreResult<WaitlistEntry> {
        let row = sqlx::query("SELECT * FROM waitlist_entries WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(id))
            .fetch_optional(&mut *self.reading(scope).await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        entry_from_row(&row)
    }

    async fn leave_waitlist(
        &self,
        scope: &TenantScope,
        id: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<WaitlistEntry>> {
        let mut tx = self.scoped(scope).await?;
        // The offered booking's row first, as accepting the offer takes it, then the entry: a guest tapping "leave"
        // and "accept" at once has one wait for the other, never both wait on each other.
        sqlx::query(locking!(
            "SELECT id FROM reservations WHERE partner_id = $1
                AND id = (SELECT reservation_id FROM waitlist_entries WHERE partner_id = $1 AND id = $2)"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(id))
        .fetch_optional(&mut *tx)
        .await?;
        let row = sqlx::query(
            "UPDATE waitlist_entries SET status = 'left', updated_at = $3
              WHERE partner_id = $1 AND id = $2 AND status IN ('waiting', 'offered') RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(id))
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        // Leaving with an offer open declines it: its tables are free from this commit on.
        if let Some(offered) = opt_uuid_col(&row, "reservation_id")? {
            cancel_if(&mut tx, scope.partner(), offered, ReservationStatus::Offered, now).await?;
        }
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(id), now)
            .await?;
        tx.commit().await?;
        Ok(Some(entry_from_row(&row)?))
    }

    async fn decline_offer(
        &self,
        scope: &TenantScope,
        id: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<WaitlistEntry>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        // The offered booking's row first, in the order leaving and accepting take them.
        let offered = sqlx::query(locking!(
            "SELECT id, tables FROM reservations WHERE partner_id = $1 AND status = 'offered'
                AND id = (SELECT reservation_id FROM waitlist_entries WHERE partner_id = $1 AND id = $2)"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(offered) = offered else {
            return Ok(None);
        };
        let reservation = uuid_col(&offered, "id")?;
        let tables: Vec<Uuid> = serde_json::from_str(&offered.try_get::<String, _>("tables")?)
            .map_err(|e| StoreError::Config(format!("reservation tables: {e}")))?;
        let current = entry_from_row(
            &sqlx::query(locking!(
                "SELECT * FROM waitlist_entries WHERE partner_id = $1 AND id = $2"
            ))
            .bind(h(partner.as_uuid()))
            .bind(h(id))
            .fetch_one(&mut *tx)
            .await?,
        )?;
        let mut declined = current.declined_tables;
        declined.extend(
            tables
                .into_iter()
                .filter(|t| !declined.contains(t))
                .collect::<Vec<_>>(),
        );
        let row = sqlx::query(
            "UPDATE waitlist_entries SET status = 'waiting', reservation_id = NULL, offer_expires_at = NULL,
                    declined_tables = $4, updated_at = $3
              WHERE partner_id = $1 AND id = $2 AND status = 'offered' RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(id))
        .bind(ts(now))
        .bind(serde_json::to_string(&declined).map_err(|e| StoreError::Config(e.to_string()))?)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        cancel_if(&mut tx, partner, reservation, ReservationStatus::Offered, now).await?;
        self.insert_audit(&mut tx, partner, &audit.targeting(id), now)
            .await?;
        tx.commit().await?;
        Ok(Some(entry_from_row(&row)?))
    }

    async fn accept_offer(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        deposit: Option<&NewDeposit>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Reservation>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE reservations SET status = $3, updated_at = $4
              WHERE partner_id = $1 AND id = $2 AND status = 'offered' RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(reservation))
        .bind(match deposit {
            Some(_) => ReservationStatus::AwaitingDeposit.as_str(),
            None => ReservationStatus::Booked.as_str(),
        })
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let accepted = self.reservation_opened(&mut tx, partner, &row).await?;
        if let Some(deposit) = deposit {
            insert_deposit(&mut tx, partner, reservation, accepted.venue_id, deposit, now).await?;
        }
        sqlx::query(
            "UPDATE waitlist_entries SET status = 'booked', updated_at = $3 WHERE partner_id = $1 AND reservation_id = $2",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(reservation))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, partner, &audit.targeting(reservation), now)
            .await?;
        tx.commit().await?;
        Ok(Some(accepted))
    }

    async fn expire_offers(&self, scope: &TenantScope, now: OffsetDateTime) -> StoreResult<Vec<Uuid>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let expired = sqlx::query(
            "UPDATE waitlist_entries SET status = 'expired', updated_at = $2
              WHERE partner_id = $1 AND status = 'offered' AND offer_expires_at <= $2 RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(ts(now))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(entry_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let mut venues = Vec::new();
        for entry in &expired {
            let Some(reservation) = entry.reservation_id else {
                continue;
            };
            if cancel_if(&mut tx, partner, reservation, ReservationStatus::Offered, now).await? {
                venues.push(entry.venue_id);
            }
            if entry.channel == "staff" {
                // A party waiting at the venue is still there when the host was too busy to answer: it keeps its
                // place on the list, and the freed table is offered again from the top (to it, if nobody before it
                // fits). An online guest who let the offer lapse is off the list.
                sqlx::query(
                    "UPDATE waitlist_entries SET status = 'waiting', reservation_id = NULL, offer_expires_at = NULL
                      WHERE partner_id = $1 AND id = $2",
                )
                .bind(h(partner.as_uuid()))
                .bind(h(entry.id))
                .execute(&mut *tx)
                .await?;
            }
            self.insert_audit(
                &mut tx,
                partner,
                &AuditEntry::new("waitlist.offer_expired").target(reservation.to_string()),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        venues.dedup();
        Ok(venues)
    }

    async fn booking_partners(&self) -> StoreResult<Vec<PartnerId>> {
        sqlx::query("SELECT DISTINCT partner_id FROM booking_directory")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| uuid_col(row, "partner_id").map(PartnerId::from_uuid))
            .collect()
    }

    async fn deposit_partner(&self, reservation: Uuid) -> StoreResult<Option<PartnerId>> {
        let row = sqlx::query("SELECT partner_id FROM deposit_directory WHERE reservation_id = $1")
            .bind(h(reservation))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| uuid_col(&row, "partner_id").map(PartnerId::from_uuid))
            .transpose()
    }

    async fn deposit(&self, scope: &TenantScope, reservation: Uuid) -> StoreResult<Option<Deposit>> {
        sqlx::query("SELECT * FROM reservation_deposits WHERE partner_id = $1 AND reservation_id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(reservation))
            .fetch_optional(&mut *self.reading(scope).await?)
            .await?
            .as_ref()
            .map(deposit_from_row)
            .transpose()
    }

    async fn seal_clear_booking_notes(&self, scope: &TenantScope) -> StoreResult<u64> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT id, guest_id, note FROM reservations
              WHERE partner_id = $1 AND note <> '' AND note NOT LIKE 'enc1:%' LIMIT 1000",
        )
        .bind(h(partner.as_uuid()))
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let id = uuid_col(row, "id")?;
            let guest = uuid_col(row, "guest_id")?;
            let clear: String = row.try_get("note")?;
            let sealed = self
                .seal_unless_erased(&mut tx, partner, KeyOwner::Person(guest), note_place(id), &clear)
                .await?;
            sqlx::query("UPDATE reservations SET note = $3 WHERE partner_id = $1 AND id = $2")
                .bind(h(partner.as_uuid()))
                .bind(h(id))
                .bind(sealed.unwrap_or_default())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn guest_bookings(&self, scope: &TenantScope, guest: Uuid) -> StoreResult<GuestBookings> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.reading(scope).await?;
        let mut deposits: HashMap<Uuid, Deposit> = sqlx::query(
            "SELECT * FROM reservation_deposits WHERE partner_id = $1
               AND reservation_id IN (SELECT id FROM reservations WHERE partner_id = $1 AND guest_id = $2)",
        )
        .bind(h(partner))
        .bind(h(guest))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| deposit_from_row(row).map(|deposit| (deposit.reservation_id, deposit)))
        .collect::<StoreResult<_>>()?;
        let reservations = sqlx::query(
            "SELECT * FROM reservations WHERE partner_id = $1 AND guest_id = $2 ORDER BY created_at, id",
        )
        .bind(h(partner))
        .bind(h(guest))
        .fetch_all(&mut *tx)
        .await?;
        let mut booked = Vec::with_capacity(reservations.len());
        for row in &reservations {
            let reservation = self.reservation_opened(&mut tx, scope.partner(), row).await?;
            let deposit = deposits.remove(&reservation.id);
            booked.push((reservation, deposit));
        }
        let reservations = booked;
        let waitlist = sqlx::query(
            "SELECT * FROM waitlist_entries WHERE partner_id = $1 AND guest_id = $2 ORDER BY created_at, id",
        )
        .bind(h(partner))
        .bind(h(guest))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(entry_from_row)
        .collect::<StoreResult<_>>()?;
        Ok(GuestBookings {
            reservations,
            waitlist,
        })
    }

    async fn attach_deposit_intent(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        intent: &str,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "UPDATE reservation_deposits SET payment_intent = $3 WHERE partner_id = $1 AND reservation_id = $2",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(reservation))
        .bind(intent)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unsettled_deposits(
        &self,
        scope: &TenantScope,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Deposit>> {
        sqlx::query(
            "SELECT * FROM reservation_deposits WHERE partner_id = $1
               AND (status = 'refund_due' OR (status = 'awaiting' AND hold_expires_at <= $2)
                    OR (status = 'keep_due' AND reservation_id NOT IN (
                        SELECT id FROM reservations WHERE partner_id = $1 AND status = 'no_show' AND until_at > $3)))
             ORDER BY updated_at LIMIT 500",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(now))
        // A no-show's deposit waits until its booked time is over, and a margin more (the party may still come).
        .bind(ts(now.saturating_sub(comanda_domain::reservation::NO_SHOW_HANDOVER_MARGIN)))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?
        .iter()
        .map(deposit_from_row)
        .collect()
    }

    async fn settle_deposit(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        from: DepositStatus,
        to: DepositStatus,
        settlement: Option<&str>,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Deposit>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE reservation_deposits SET status = $4, settlement = COALESCE($5, settlement), updated_at = $6
              WHERE partner_id = $1 AND reservation_id = $2 AND status = $3 RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(reservation))
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(settlement)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if to == DepositStatus::Released {
            // Never paid: a booking still awaiting it is cancelled, and its tables are free from this commit on.
            cancel_if(
                &mut tx,
                partner,
                reservation,
                ReservationStatus::AwaitingDeposit,
                now,
            )
            .await?;
        }
        self.insert_audit(&mut tx, partner, &audit.targeting(reservation), now)
            .await?;
        tx.commit().await?;
        Ok(Some(deposit_from_row(&row)?))
    }

    async fn deposit_refund_failed(
        &self,
        scope: &TenantScope,
        reservation: Uuid,
        stripe_refund: &str,
        reason: &str,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Deposit>> {
        let partner = scope.partner();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE reservation_deposits SET refund_failure = $4, updated_at = $5
              WHERE partner_id = $1 AND reservation_id = $2 AND status = 'refunded' AND settlement = $3
                AND refund_failure IS NULL RETURNING *",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(reservation))
        .bind(stripe_refund)
        .bind(reason)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        self.insert_audit(&mut tx, partner, &audit.targeting(reservation), now)
            .await?;
        tx.commit().await?;
        Ok(Some(deposit_from_row(&row)?))
    }
}

/// Opens the table's session as accepted by the host, or joins the live one (a guest's QR order may have opened
/// it, pending until staff accept it the usual way), and links the reservation to it. Every table of the booking is
/// locked first (in id order, so two seatings never wait on each other in opposite order): a table seats one party
/// at a time, and two hosts seating two parties at one table at once must meet here, the second refused.
async fn seat_at_table(
    conn: &mut Conn,
    partner: PartnerId,
    reservation: &Reservation,
    host: &Host,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let Some(&first) = reservation.tables.first() else {
        return Ok(());
    };
    let mut tables = reservation.tables.clone();
    tables.sort();
    tables.dedup();
    for table in &tables {
        sqlx::query(locking!(
            "SELECT id FROM venue_tables WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner.as_uuid()))
        .bind(h(*table))
        .fetch_optional(&mut *conn)
        .await?;
    }
    // Another party still seated at any of these tables: the table is not free, bill or no bill.
    let seated = sqlx::query(
        "SELECT * FROM reservations WHERE partner_id = $1 AND venue_id = $2 AND status = 'seated' AND id <> $3",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(reservation.venue_id))
    .bind(h(reservation.id))
    .fetch_all(&mut *conn)
    .await?;
    for row in &seated {
        if reservation_from_row(row)?
            .tables
            .iter()
            .any(|t| tables.contains(t))
        {
            return Err(StoreError::Refused(
                "another party is still seated at this table: mark it finished, or move this booking (a move to the \
                 same time gives it a free table, when one is)"
                    .into(),
            ));
        }
    }
    for table in &tables {
        // Staff accepted another party at this table and it has ordered: its bill is not this party's to join.
        let occupied = sqlx::query(
            "SELECT s.id FROM table_sessions s
              WHERE s.partner_id = $1 AND s.table_id = $2 AND s.status <> 'closed' AND s.accepted_at IS NOT NULL
                AND EXISTS (SELECT 1 FROM orders o WHERE o.partner_id = s.partner_id AND o.session_id = s.id)",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(*table))
        .fetch_optional(&mut *conn)
        .await?;
        if occupied.is_some() {
            return Err(StoreError::Refused(
                "the table still has another party's open bill: close it once it is settled, or move this booking \
                 to another table"
                    .into(),
            ));
        }
        // A party that left without ordering before its session was closed at its finish left an empty session
        // behind: closed, so this party's bill starts on its own.
        sqlx::query(
            "UPDATE table_sessions SET status = 'closed', closed_at = $3, closed_by = $4
              WHERE partner_id = $1 AND table_id = $2 AND status <> 'closed'
                AND EXISTS (SELECT 1 FROM reservations r WHERE r.partner_id = $1 AND r.session_id = table_sessions.id)
                AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.partner_id = $1 AND o.session_id = table_sessions.id)",
        )
        .bind(h(partner.as_uuid()))
        .bind(h(*table))
        .bind(ts(now))
        .bind(&host.actor)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO table_sessions (partner_id, id, venue_id, table_id, status, created_at, accepted_at, accepted_by,
                                     accepted_member)
         VALUES ($1, $2, $3, $4, 'open', $5, $5, $6, $7)
         ON CONFLICT (partner_id, table_id) WHERE status <> 'closed' DO NOTHING",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(Uuid::now_v7()))
    .bind(h(reservation.venue_id))
    .bind(h(first))
    .bind(ts(now))
    .bind(&host.actor)
    .bind(h(host.member))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE reservations SET session_id =
             (SELECT id FROM table_sessions WHERE partner_id = $1 AND table_id = $3 AND status <> 'closed')
          WHERE partner_id = $1 AND id = $2",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(reservation.id))
    .bind(h(first))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A party leaves (finished): a bill it never ordered on is closed with it, so the table's next party starts its
/// own and the table's turn ends when the party left. A bill with orders stays for staff to close once settled.
async fn close_unused_session(
    conn: &mut Conn,
    partner: PartnerId,
    reservation: &Reservation,
    actor: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let Some(session) = reservation.session_id else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE table_sessions SET status = 'closed', closed_at = $3, closed_by = $4
          WHERE partner_id = $1 AND id = $2 AND status <> 'closed'
            AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.partner_id = $1 AND o.session_id = $2)
            AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.partner_id = $1 AND p.session_id = $2)",
    )
    .bind(h(partner.as_uuid()))
    .bind(h(session))
    .bind(ts(now))
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
