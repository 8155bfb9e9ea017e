//! PostgreSQL engine of [`ReservationStore`]: every statement is `reservations_sql.rs`, shared with SQLite. A
//! booking locks its venue's policy row (`FOR UPDATE`); row-level security scopes every statement to the tenant.

use async_trait::async_trait;
use comanda_domain::reservation::{
    Assignment, BookableTable, BookingPolicy, DepositFate, Floor, Holding, Refusal,
};
use comanda_domain::{Currency, Money, PartnerId, Venue};
use comanda_security::TenantScope;
use sqlx::PgConnection as Conn;
use sqlx::Row;
use sqlx::postgres::PgRow as DbRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::AuditEntry;
use crate::postgres::{PgStore as Engine, venue_from_row};
use crate::postgres_identity::{h, insert_audit, insert_message, opt_uuid_col, uuid_col};
use crate::postgres_ordering::foreign_key_to_not_found;
use crate::reservations::{
    BookOutcome, BookingContext, DecideBooking, Deposit, DepositStatus, Host, MoveOutcome, NewDeposit,
    NewReservation, NewWaitlistEntry, Reservation, ReservationStatus, ReservationStore, WaitlistEntry,
    WaitlistStatus,
};
use crate::{StoreError, StoreResult};

type Db = sqlx::Postgres;

macro_rules! locking {
    ($sql:literal) => {
        concat!($sql, " FOR UPDATE")
    };
}

include!("reservations_sql.rs");
