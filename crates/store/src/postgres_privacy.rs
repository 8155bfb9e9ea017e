//! PostgreSQL side of field encryption and of the privacy store: the statements are `sealing_sql.rs`, shared with
//! SQLite.

use std::sync::Arc;

use comanda_domain::PartnerId;
use comanda_security::envelope::DataKey;
use sqlx::Row;
use uuid::Uuid;

use crate::identity::{IdentityStore, Invitation, StaffMember};
use crate::sealing::{self, KeyOwner, Place, StoredKey};
use crate::{StoreError, StoreResult};
use sqlx::PgConnection as Conn;

use crate::postgres::PgStore as Engine;
use crate::postgres_audit::insert_audit;

/// PostgreSQL binds identifiers as `uuid`.
fn h(id: Uuid) -> Uuid {
    id
}

fn uuid_col(row: &sqlx::postgres::PgRow, column: &str) -> StoreResult<Uuid> {
    Ok(row.try_get(column)?)
}

include!("privacy_sql.rs");
