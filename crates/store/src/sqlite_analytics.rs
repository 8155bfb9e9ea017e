//! SQLite engine of [`AnalyticsStore`](crate::analytics::AnalyticsStore): every statement is `analytics_sql.rs`,
//! shared with PostgreSQL.

use crate::sqlite::kit::*;

include!("analytics_sql.rs");
