//! SQLite engine of [`ReservationStore`]: every statement is `reservations_sql.rs`, shared with PostgreSQL. A
//! booking's write transaction (`BEGIN IMMEDIATE`) is already the venue's lock.

use async_trait::async_trait;
use comanda_domain::reservation::{
    Assignment, BookableTable, BookingPolicy, DepositFate, Floor, Holding, Refusal,
};
use comanda_domain::{Currency, Money, PartnerId, Venue};
use comanda_security::TenantScope;
use sqlx::Row;
use sqlx::SqliteConnection as Conn;
use sqlx::sqlite::SqliteRow as DbRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::AuditEntry;
use crate::reservations::{
    BookOutcome, BookingContext, DecideBooking, Deposit, DepositStatus, Host, MoveOutcome, NewDeposit,
    NewReservation, NewWaitlistEntry, Reservation, ReservationStatus, ReservationStore, WaitlistEntry,
    WaitlistStatus,
};
use crate::sqlite::{SqliteStore as Engine, venue_from_row};
use crate::sqlite_identity::{h, insert_audit, insert_message, opt_uuid_col, uuid_col};
use crate::sqlite_ordering::foreign_key_to_not_found;
use crate::{StoreError, StoreResult};

type Db = sqlx::Sqlite;

macro_rules! locking {
    ($sql:literal) => {
        $sql
    };
}

include!("reservations_sql.rs");
