//! SQLite engine of [`ReservationStore`]: every statement is `reservations_sql.rs`, shared with PostgreSQL. A
//! booking's write transaction (`BEGIN IMMEDIATE`) is already the venue's lock.

use crate::sqlite::kit::*;

include!("reservations_sql.rs");
