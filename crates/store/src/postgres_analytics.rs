//! PostgreSQL engine of [`AnalyticsStore`](crate::analytics::AnalyticsStore): every statement is `analytics_sql.rs`,
//! shared with SQLite.

use crate::postgres::kit::*;

include!("analytics_sql.rs");
