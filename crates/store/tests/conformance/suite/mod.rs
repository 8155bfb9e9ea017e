//! The storage conformance suite's cases, one module per aggregate; every public case runs on both engines (the
//! `conformance!` list in `main.rs`). Helpers are public so an aggregate's cases can build on another's.

use super::change;
use comanda_domain::menu::{
    Localized, MenuItem, ModifierGroup, ModifierOption, PricedLine, RequestedLine, price_order,
};
use comanda_domain::payment::{ChargeModel, Split, settle};
use comanda_domain::{Currency, NewPartner, NewVenue, PageRequest, TaxKind, TaxRegime};
use comanda_domain::{Money, OrderStatus};
use comanda_domain::{Role, Standing};
use comanda_security::TenantScope;
use comanda_store::identity::{
    AuditEntry, NewInvitation, NewStaff, OutboxMessage, RefreshOutcome, SecondFactorChange, StoredSigningKey,
};
use comanda_store::ordering::{NewOrder, OrderDraft, PlaceOutcome};
use comanda_store::payments::{
    CashOutcome, ConnectedAccount, EventEffect, EventOutcome, NewCashPayment, NewPayment, NewRefund,
    PaymentStatus, RefundStatus, ReserveOutcome, Tender, TransferStatus,
};
use comanda_store::{Store, StoreError};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

mod analytics;
mod audit;
mod idempotency;
mod identity;
mod ordering;
mod partners;
mod payments;
mod privacy;
mod reservations;
mod security_response;

pub use analytics::*;
pub use audit::*;
pub use idempotency::*;
pub use identity::*;
pub use ordering::*;
pub use partners::*;
pub use payments::*;
pub use privacy::*;
pub use reservations::*;
pub use security_response::*;
