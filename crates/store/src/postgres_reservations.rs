//! PostgreSQL engine of [`ReservationStore`]: every statement is `reservations_sql.rs`, shared with SQLite. A
//! booking locks its venue's policy row (`FOR UPDATE`); row-level security scopes every statement to the tenant.

use crate::postgres::kit::*;

include!("reservations_sql.rs");
