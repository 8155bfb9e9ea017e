//! Paying at the table (guests, by table token), Stripe's webhooks, and the partner's side: onboarding of its
//! connected account, payouts, refunds with a second approver above a threshold, disputes and the tip ledger.
//! Card data never passes through here: guests type it into Stripe Elements, and the PAN guard refuses any request
//! that carries a card number.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use comanda_domain::payment::{ChargeModel, Settlement, Split};
use comanda_domain::{Money, OrderStatus, PageRequest, ValidationErrors, collect_all};
use comanda_payments::stripe::{API_VERSION, Event, LinkKind};
use comanda_security::TenantScope;
use comanda_store::StoreError;
use comanda_store::payments::{ApprovalKind, EventOutcome, NewRefund, Payment, PaymentStatus, Refund};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Caller, RequestContext};
use crate::extract::{ApiJson, ApiQuery};
use crate::payments::{
    PaymentService, WebhookEndpoint, cancel_payment, execute_refund, interpret, read_back_account,
    send_due_transfers,
};
use crate::problem::{ApiError, Problem, ProblemType};
use crate::routes::guest::{guest_device, idempotency_key, resolve};
use crate::routes::ordering::{TimedListQuery, path_id};

pub(crate) fn service(state: &AppState) -> Result<&Arc<PaymentService>, ApiError> {
    state.payments.as_ref().ok_or_else(|| {
        Problem::new(ProblemType::PaymentsUnavailable)
            .detail("card payments are switched off on this server")
            .into()
    })
}

pub(crate) use crate::problem::provider_error;

mod cash;
mod guest_payments;
mod partner_money;
mod webhooks;

pub use cash::*;
pub use guest_payments::*;
pub use partner_money::*;
pub use webhooks::*;
