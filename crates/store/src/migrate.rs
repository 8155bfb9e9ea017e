//! Schema migrations: SQL files embedded in the binary, applied in version order inside one transaction each, and
//! recorded with a checksum so an edited, already-applied migration is refused rather than silently skipped.

/// `migration!("sqlite", "0005", 5, "payments")`: the embedded file `migrations/sqlite/0005_payments.sql`.
macro_rules! migration {
    ($engine:literal, $number:literal, $version:literal, $name:literal) => {
        crate::migrate::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                "../migrations/",
                $engine,
                "/",
                $number,
                "_",
                $name,
                ".sql"
            )),
        }
    };
}
pub(crate) use migration;

/// Every migration of one engine, in version order. Both engines have every version; where one has nothing to do,
/// its file says why (SQLite's 0010 and 0012).
macro_rules! migrations {
    ($engine:literal) => {
        &[
            crate::migrate::migration!($engine, "0001", 1, "partners_venues"),
            crate::migrate::migration!($engine, "0002", 2, "identity"),
            crate::migrate::migration!($engine, "0003", 3, "ordering"),
            crate::migrate::migration!($engine, "0004", 4, "table_sessions"),
            crate::migrate::migration!($engine, "0005", 5, "payments"),
            crate::migrate::migration!($engine, "0006", 6, "audit_chain"),
            crate::migrate::migration!($engine, "0007", 7, "field_keys"),
            crate::migrate::migration!($engine, "0008", 8, "backups"),
            crate::migrate::migration!($engine, "0009", 9, "guest_contacts"),
            crate::migrate::migration!($engine, "0010", 10, "venue_event_order"),
            crate::migrate::migration!($engine, "0011", 11, "credential_generation"),
            crate::migrate::migration!($engine, "0012", 12, "audit_retention_only"),
            crate::migrate::migration!($engine, "0013", 13, "partner_directory"),
            crate::migrate::migration!($engine, "0014", 14, "settlement_currency"),
            crate::migrate::migration!($engine, "0015", 15, "accepted_member"),
            crate::migrate::migration!($engine, "0016", 16, "audit_pending"),
            crate::migrate::migration!($engine, "0017", 17, "reservations"),
            crate::migrate::migration!($engine, "0018", 18, "reservation_deposits"),
            crate::migrate::migration!($engine, "0019", 19, "waitlist"),
            crate::migrate::migration!($engine, "0020", 20, "sales_rollups"),
            crate::migrate::migration!($engine, "0021", 21, "item_rollups"),
            crate::migrate::migration!($engine, "0022", 22, "business_day"),
            crate::migrate::migration!($engine, "0023", 23, "server_rollups"),
            crate::migrate::migration!($engine, "0024", 24, "checks"),
            crate::migrate::migration!($engine, "0025", 25, "alert_routing"),
            crate::migrate::migration!($engine, "0026", 26, "disclosure_reports"),
            crate::migrate::migration!($engine, "0027", 27, "incidents"),
            crate::migrate::migration!($engine, "0028", 28, "sign_in_places"),
            crate::migrate::migration!($engine, "0029", 29, "refund_idempotency"),
            crate::migrate::migration!($engine, "0030", 30, "idempotency_records"),
            crate::migrate::migration!($engine, "0031", 31, "waitlist_idempotency"),
            crate::migrate::migration!($engine, "0032", 32, "guest_lookup"),
            crate::migrate::migration!($engine, "0033", 33, "refund_tax"),
            crate::migrate::migration!($engine, "0034", 34, "cancelled_sales"),
            crate::migrate::migration!($engine, "0035", 35, "line_amounts"),
            crate::migrate::migration!($engine, "0036", 36, "refund_decliner"),
            crate::migrate::migration!($engine, "0037", 37, "cash_payments"),
            crate::migrate::migration!($engine, "0038", 38, "former_staff"),
            crate::migrate::migration!($engine, "0039", 39, "fixed_width_instants"),
            crate::migrate::migration!($engine, "0040", 40, "status_reason"),
            crate::migrate::migration!($engine, "0041", 41, "former_staff_contact"),
            crate::migrate::migration!($engine, "0042", 42, "reservations_by_session"),
            crate::migrate::migration!($engine, "0043", 43, "served_table"),
            crate::migrate::migration!($engine, "0044", 44, "retired_tables"),
            crate::migrate::migration!($engine, "0045", 45, "waitlist_channel"),
            crate::migrate::migration!($engine, "0046", 46, "lapsed_reservations"),
            crate::migrate::migration!($engine, "0047", 47, "breach_state_hours"),
            crate::migrate::migration!($engine, "0048", 48, "signing_key_revocation"),
            crate::migrate::migration!($engine, "0049", 49, "waitlist_declined_tables"),
            crate::migrate::migration!($engine, "0050", 50, "second_factor_failures"),
            crate::migrate::migration!($engine, "0051", 51, "staff_venues"),
            crate::migrate::migration!($engine, "0052", 52, "refund_outcomes"),
            crate::migrate::migration!($engine, "0053", 53, "deposit_refund_failure"),
            crate::migrate::migration!($engine, "0054", 54, "refund_reversal_backfill"),
        ]
    };
}
pub(crate) use migrations;

/// One migration file of one engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// FNV-1a over the SQL text: stable across builds and platforms, enough to notice an edited file.
    pub fn checksum(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.sql.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Migrations applied by this run, in order.
    pub applied: Vec<AppliedMigration>,
    /// The schema version after this run.
    pub version: i64,
}

/// Decides what to apply given what the database has recorded, refusing a database that is ahead of this build or
/// whose recorded checksums differ from the embedded files.
pub(crate) fn plan<'m>(
    migrations: &'m [Migration],
    recorded: &[(i64, String)],
) -> Result<Vec<&'m Migration>, crate::StoreError> {
    let newest_known = migrations.last().map_or(0, |m| m.version);
    for (version, checksum) in recorded {
        match migrations.iter().find(|m| m.version == *version) {
            None if *version > newest_known => {
                return Err(crate::StoreError::Migration(format!(
                    "the database is at schema version {version}, newer than this build ({newest_known}); \
                     run the newer release"
                )));
            }
            None => {
                return Err(crate::StoreError::Migration(format!(
                    "unknown migration {version} recorded"
                )));
            }
            Some(known) if known.checksum() != *checksum => {
                return Err(crate::StoreError::Migration(format!(
                    "migration {version} ({}) was changed after it was applied",
                    known.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(migrations
        .iter()
        .filter(|m| !recorded.iter().any(|(v, _)| *v == m.version))
        .collect())
}

/// The schema version a serving store requires: it refuses to serve an older database.
pub(crate) fn required_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// Refuses to serve a database older than this build: `recorded` is the highest applied version as read from
/// `comanda_migrations` (an error when that table does not exist yet).
pub(crate) fn require_current(
    recorded: Result<Option<i64>, sqlx::Error>,
    migrations: &[Migration],
) -> crate::StoreResult<()> {
    let version = recorded
        .map_err(|_| {
            crate::StoreError::Migration("the database has no schema yet: run `comanda migrate`".into())
        })?
        .unwrap_or(0);
    let required = required_version(migrations);
    if version < required {
        return Err(crate::StoreError::Migration(format!(
            "the database is at schema version {version}, this build needs {required}: run `comanda migrate`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: [Migration; 2] = [
        Migration {
            version: 1,
            name: "one",
            sql: "CREATE TABLE a (x int);",
        },
        Migration {
            version: 2,
            name: "two",
            sql: "CREATE TABLE b (x int);",
        },
    ];

    #[test]
    fn plans_only_pending_migrations() {
        let recorded = vec![(1, FILES[0].checksum())];
        let pending = plan(&FILES, &recorded).unwrap();
        assert_eq!(pending.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn refuses_edited_or_future_migrations() {
        assert!(plan(&FILES, &[(1, "0000".into())]).is_err());
        assert!(plan(&FILES, &[(3, "x".into())]).is_err());
    }

    #[test]
    fn serving_refuses_a_database_without_or_behind_this_builds_schema() {
        assert!(require_current(Ok(Some(2)), &FILES).is_ok());
        let behind = require_current(Ok(Some(1)), &FILES).unwrap_err().to_string();
        assert!(
            behind.contains("schema version 1, this build needs 2"),
            "{behind}"
        );
        let empty = require_current(Ok(None), &FILES).unwrap_err().to_string();
        assert!(empty.contains("schema version 0"), "{empty}");
        let missing = require_current(Err(sqlx::Error::RowNotFound), &FILES)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("no schema yet"), "{missing}");
    }
}
