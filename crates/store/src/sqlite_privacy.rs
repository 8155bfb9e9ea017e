//! SQLite side of field encryption and of the privacy store: the statements are `sealing_sql.rs`, shared with
//! PostgreSQL.

use std::sync::Arc;

use comanda_domain::PartnerId;
use comanda_security::envelope::DataKey;
use sqlx::Row;
use uuid::Uuid;

use crate::identity::{IdentityStore, Invitation, StaffMember};
use crate::sealing::{self, KeyOwner, Place, StoredKey};
use crate::{StoreError, StoreResult};
use sqlx::SqliteConnection as Conn;

use crate::sqlite::SqliteStore as Engine;
use crate::sqlite_audit::insert_audit;
use crate::sqlite_identity::{h, uuid_col};

include!("privacy_sql.rs");
