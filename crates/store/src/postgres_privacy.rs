//! PostgreSQL side of field encryption and of the privacy store: the statements are `privacy_sql.rs`, shared with
//! SQLite.

use crate::postgres::kit::*;

include!("privacy_sql.rs");
