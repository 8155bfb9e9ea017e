//! PostgreSQL side of field encryption and of the privacy store: the statements are `sealing_sql.rs`, shared with
//! SQLite.

use crate::postgres::kit::*;

include!("privacy_sql.rs");
