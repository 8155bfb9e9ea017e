//! SQLite side of field encryption and of the privacy store: the statements are `privacy_sql.rs`, shared with
//! PostgreSQL.

use crate::sqlite::kit::*;

include!("privacy_sql.rs");
