//! SQLite engine of [`PaymentStore`]: the statements and rules are `payments_sql.rs`, shared with PostgreSQL; this
//! file holds only what SQLite does differently. Writes are serialised by `BEGIN IMMEDIATE` (the single writer is the
//! lock parallel payers queue on), so rows need no `FOR UPDATE`; identifiers are stored as hyphenated text.

use async_trait::async_trait;
use comanda_domain::payment::{
    ChargeModel, RefundSplit, Refundable, SettledAmounts, dispute_debt, net_against_debt, split_refund,
};
use comanda_domain::{Currency, Money, Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use sqlx::Row;
use sqlx::SqliteConnection as Conn;
use sqlx::sqlite::SqliteRow as DbRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::AuditEntry;
use crate::ordering::{json_from, json_text};
use crate::payments::{
    Alert, Approval, ApprovalKind, ConnectedAccount, Dispute, EventEffect, EventOutcome, NewPayment,
    NewRefund, Payment, PaymentStatus, PaymentStore, PayoutRecord, Refund, RefundStatus, ReserveOutcome,
    SessionBalance, SettledMoney, TipEntry, TransferOrder, TransferStatus, settlement,
};
use crate::records::corrupt;
use crate::sealing::{KeyOwner, account_digest, account_place, destination_place};
use crate::sqlite::SqliteStore as Engine;
use crate::sqlite_identity::{insert_audit, opt_uuid_col, uuid_col};
use crate::{StoreError, StoreResult};

/// SQLite keeps identifiers as hyphenated text.
fn u<U: std::borrow::Borrow<Uuid>>(id: U) -> uuid::fmt::Hyphenated {
    id.borrow().hyphenated()
}

fn ou(id: Option<Uuid>) -> Option<uuid::fmt::Hyphenated> {
    id.map(u)
}

/// No row lock: the write transaction already holds the database's only write lock.
macro_rules! locking {
    ($sql:literal) => {
        $sql
    };
}

/// Each session's bill against its payments, in the order of a JSON array of session ids.
const BALANCES: &str = "SELECT (SELECT COALESCE(sum(subtotal), 0) FROM orders
                  WHERE partner_id = $1 AND session_id = s.value AND status <> 'cancelled') AS total,
                (SELECT min(currency) FROM orders WHERE partner_id = $1 AND session_id = s.value) AS currency,
                (SELECT COALESCE(sum(share), 0) FROM payments
                  WHERE partner_id = $1 AND session_id = s.value AND status = 'succeeded') AS paid,
                (SELECT COALESCE(sum(share), 0) FROM payments
                  WHERE partner_id = $1 AND session_id = s.value AND status = 'pending') AS held
         FROM json_each($2) AS s
         ORDER BY s.key";

/// A JSON array of hyphenated ids, the form ids are stored in.
fn session_list(sessions: &[Uuid]) -> String {
    let ids: Vec<String> = sessions.iter().map(|id| format!("\"{}\"", u(id))).collect();
    format!("[{}]", ids.join(","))
}

impl Engine {
    /// A webhook event is a write either way (it is recorded): through the write gate.
    async fn event_tx(&self, _scope: Option<&TenantScope>) -> StoreResult<crate::sqlite::WriteTx<'_>> {
        self.write_tx().await
    }
}

include!("payments_sql.rs");
