//! Payments storage: connected accounts, guests' payments holding part of a bill, the transfer each succeeded payment
//! owes the partner, refunds, disputes and the debts they leave, the tip ledger, payouts, second-person approvals,
//! processed webhook events and alerts.
//!
//! Two rules carry the money's safety: a payment *holds* its amount of the bill from the moment it is created
//! (checked against the bill in the same transaction, under a lock of the table session), so parallel payers can
//! never cover more than the bill; and a webhook event's id is recorded in the same transaction as its effect, so
//! any number of deliveries has one effect.

use async_trait::async_trait;
use comanda_domain::payment::{ChargeModel, RefundSplit, Settlement, Split};
use comanda_domain::{Money, Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;
use crate::identity::AuditEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    pub stripe_account: String,
    pub charge_model: ChargeModel,
    pub country: String,
    pub details_submitted: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub transfers_active: bool,
    pub updated_at: OffsetDateTime,
}

impl ConnectedAccount {
    /// Whether guests may pay: the account can receive what the charge model sends it.
    pub fn accepts_payments(&self) -> bool {
        match self.charge_model {
            ChargeModel::SeparateChargesAndTransfers => self.transfers_active,
            ChargeModel::DestinationCharges => self.charges_enabled && self.transfers_active,
        }
    }
}

stored_enum! {
    pub enum PaymentStatus {
        /// Created; holds its amount of the bill until it succeeds, or is cancelled (at Stripe first).
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub session_id: Uuid,
    pub split: Split,
    pub settlement: Settlement,
    pub charge_model: ChargeModel,
    pub status: PaymentStatus,
    pub payment_intent: Option<String>,
    pub charge_id: Option<String>,
    pub device: Option<String>,
    /// The last failed attempt's reason (a declined card); the hold stays so the guest can retry.
    pub failure: Option<String>,
    /// Refunded or being refunded.
    pub refunded: Money,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub succeeded_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub session_id: Uuid,
    pub split: Split,
    pub settlement: Settlement,
    pub charge_model: ChargeModel,
    pub device: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Vec<u8>,
    /// Who the tip is credited to (the member who accepted the table).
    pub tip_member: Option<Uuid>,
    /// The whole bill: refused unless nothing is paid or held.
    pub whole_bill: bool,
    /// For a split by lines: each chosen line's total and what its part pays (`payment::split_share`), in the order
    /// of the split's items; empty otherwise. The amounts are recomputed under the bill's lock against the claims
    /// then current (`payment::line_part_amounts`) and the payment refused as changed if they differ.
    pub line_totals: Vec<Money>,
    pub line_amounts: Vec<i64>,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    Reserved(Payment),
    /// The same Idempotency-Key with the same body: the first payment.
    Replayed(Payment),
    KeyReused,
    /// The bill no longer has this much left (another guest paid or is paying it).
    Covered {
        remaining: Money,
    },
    /// The session is not the table's live one any more (closed meanwhile).
    SessionGone,
    /// A chosen line is already paid or being paid by the bill's other item splits
    /// (`comanda_domain::payment::check_line_claims`, decided under the session's lock).
    LineTaken(comanda_domain::payment::ShareError),
    /// The parts of lines chosen now come to `share` (other parts of the same lines were paid, or lapsed, since the
    /// amount was computed).
    ShareChanged {
        share: Money,
    },
}

/// Cash a server took at the table for a bill (docs/payments.md, "Cash at the table").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashPayment {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub session_id: Uuid,
    /// The part of the bill it paid, counted in the bill's `paid` as a card payment's share is.
    pub amount: Money,
    /// Credited to the table's server in the tip ledger (tender `cash`).
    pub tip: Money,
    pub recorded_by: Uuid,
    pub created_at: OffsetDateTime,
    /// Who voided it (entered by mistake) and when: it then pays nothing and its tip leaves the ledger.
    pub voided: Option<(Uuid, OffsetDateTime)>,
}

/// Cash to record against the bill `session_id` of `table_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCashPayment {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub table_id: Uuid,
    pub session_id: Uuid,
    pub amount: Money,
    pub tip: Money,
    pub recorded_by: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CashOutcome {
    Recorded(CashPayment),
    /// Refused by [`comanda_domain::payment::check_cash`] against the bill as it stood under its lock.
    Refused(comanda_domain::payment::CashError),
    /// The bill is not the table's open one (closed meanwhile, or not accepted yet).
    BillClosed,
}

/// A session's bill against its payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBalance {
    /// What the orders come to (tax included, tips excluded).
    pub total: Money,
    /// Covered by succeeded payments (tips excluded), less what cancelled orders kept of them: a refund followed
    /// by its order's cancellation no longer pays for the rest of the bill (`comanda_domain::bill::kept_on_cancel`).
    pub paid: Money,
    /// Held by payments in progress.
    pub in_progress: Money,
    /// Neither paid nor held.
    pub remaining: Money,
    pub settled: bool,
    /// Returned, or being returned, to the guests' cards by refunds of this bill's payments, tips included as
    /// returned. A refund alone never reopens the bill (a goodwill refund stays given): `paid` and `remaining` stay
    /// as they were until an order it paid for is cancelled.
    pub refunded: Money,
    /// Of `paid`, what servers recorded as cash taken at the table (records voided left out).
    pub cash: Money,
}

impl SessionBalance {
    /// A bill of `total` against `paid` and `held` (minor units of its currency, tips excluded).
    pub fn new(total: Money, paid: i64, held: i64) -> Self {
        let currency = total.currency;
        let money = |n: i64| Money::new(n.max(0), currency).unwrap_or(Money::zero(currency));
        Self {
            total,
            paid: money(paid),
            in_progress: money(held),
            remaining: money(total.amount - paid - held),
            settled: total.amount > 0 && paid >= total.amount,
            refunded: Money::zero(currency),
            cash: Money::zero(currency),
        }
    }

    /// The same bill saying that `cash` minor units of `paid` were cash.
    pub fn with_cash(self, cash: i64) -> Self {
        let cash = Money::new(cash.max(0), self.total.currency).unwrap_or(self.cash);
        Self { cash, ..self }
    }

    /// The same bill with `held` minor units of its payments in progress counted as free: as a guest's device sees
    /// it, whose own unfinished payment its next payment replaces.
    pub fn releasing(self, held: i64) -> Self {
        let currency = self.total.currency;
        let held = held.clamp(0, self.in_progress.amount);
        let money = |n: i64| Money::new(n.max(0), currency).unwrap_or(Money::zero(currency));
        Self {
            in_progress: money(self.in_progress.amount - held),
            remaining: money(self.remaining.amount + held),
            ..self
        }
    }

    /// The same bill with `refunded` minor units returned to cards.
    pub fn with_refunded(self, refunded: i64) -> Self {
        let refunded = Money::new(refunded.max(0), self.total.currency).unwrap_or(self.refunded);
        Self { refunded, ..self }
    }
}

/// A transfer the platform owes a partner for one succeeded payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOrder {
    pub payment_id: Uuid,
    pub amount: Money,
    pub destination: String,
    pub transfer_group: String,
    pub source_charge: Option<String>,
    pub status: TransferStatus,
    pub stripe_transfer: Option<String>,
    pub reversed: Money,
    /// Debt recovered by netting it against this transfer.
    pub recovered: Money,
    /// What the transfer sent in the platform's settlement currency (set when it is sent).
    pub settled: Option<SettledMoney>,
}

/// An amount in the platform's settlement currency: minor units of a lowercase ISO code Stripe reported (which need
/// not be a currency comanda prices in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledMoney {
    pub amount: i64,
    pub currency: String,
}

stored_enum! {
    pub enum TransferStatus {
        /// Owed, not yet sent to Stripe.
        Pending = "pending",
        Sent = "sent",
        /// Nothing to send (all netted against debt).
        None = "none",
        /// Part of a destination charge: Stripe moved the money with the charge.
        Included = "included",
    }
}

/// A verified webhook event's effect on our records.
#[derive(Debug, Clone)]
pub enum EventEffect {
    PaymentSucceeded {
        payment: Uuid,
        charge: Option<String>,
        amount_received: i64,
    },
    PaymentFailed {
        payment: Uuid,
        reason: String,
    },
    ChargeRefunded {
        payment: Uuid,
        amount_refunded: i64,
    },
    DisputeCreated {
        payment: Uuid,
        stripe_dispute: String,
        amount: i64,
        reason: String,
        status: String,
        evidence_due: Option<OffsetDateTime>,
    },
    AccountUpdated {
        stripe_account: String,
        details_submitted: bool,
        charges_enabled: bool,
        payouts_enabled: bool,
        transfers_active: bool,
    },
    Payout {
        stripe_payout: String,
        amount: i64,
        currency: String,
        status: String,
        arrival_date: Option<OffsetDateTime>,
        failure: Option<String>,
    },
    /// A reservation's deposit was paid (its PaymentIntent's metadata names the reservation).
    DepositPaid {
        reservation: Uuid,
        payment_intent: String,
        charge: Option<String>,
        amount_received: i64,
    },
    /// A refund Stripe settled, or that failed (`refund.updated`, `refund.failed`): `status` is Stripe's, `refund`
    /// ours (its `metadata[refund_id]`). Its money moves before the event is recorded (a transfer reversal or one
    /// given back): the store only records the event.
    RefundUpdated {
        payment: Uuid,
        refund: Uuid,
        stripe_refund: String,
        status: String,
        failure_reason: Option<String>,
    },
    /// A reservation deposit's refund did not reach the guest's card (`refund.updated`, `refund.failed` with
    /// Stripe's `failure_reason`, its metadata naming the reservation): recorded on the deposit before the event is
    /// (`ReservationStore::deposit_refund_failed`); the store only records the event.
    DepositRefundFailed {
        reservation: Uuid,
        stripe_refund: String,
        reason: String,
    },
    /// Recorded as processed, nothing else to do.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Already processed: nothing changed.
    Duplicate,
    Applied {
        /// A succeeded payment now owes a transfer.
        transfer_due: Option<Uuid>,
        /// The payment's session is now fully paid.
        settled: Option<(Uuid, Uuid)>,
        /// What does not add up (e.g. Stripe received another amount than we asked for), for an alert.
        mismatch: Option<String>,
    },
}

stored_enum! {
    pub enum RefundStatus {
        AwaitingApproval = "awaiting_approval",
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub split: RefundSplit,
    pub reason: String,
    pub status: RefundStatus,
    pub requested_by: Uuid,
    pub approved_by: Option<Uuid>,
    /// Who declined it while it awaited approval (its requester, withdrawing it, or someone with payout authority):
    /// it then ends `Failed` with nothing moved.
    pub declined_by: Option<Uuid>,
    pub stripe_refund: Option<String>,
    /// Why it failed: Stripe's `failure_reason` (`expired_or_canceled_card` …) or error, or `declined`.
    pub failure: Option<String>,
    /// The transfer reversal that took the partner's share back, and what it moved in Stripe's currency.
    pub reversal: Option<(String, SettledMoney)>,
    /// The transfer that gave that share back after the refund failed.
    pub restored_transfer: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A refund as a venue's list shows it: with the table whose bill its payment paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueRefund {
    pub refund: Refund,
    pub table_id: Uuid,
}

#[derive(Debug, Clone)]
pub struct NewRefund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub reason: String,
    pub requested_by: Uuid,
    /// The payment's refunds that add up to more than this (minor units; this one and those done, under way or
    /// waiting) wait for a second person with payout authority before any money moves
    /// (`comanda_domain::payment::refund_needs_approval`, decided under the payment's lock); `None`: never. A refund
    /// that waits is audited as `refund.requested` whatever action its entry names.
    pub approval_threshold: Option<i64>,
    /// The request's `Idempotency-Key`: a refund already asked with it is answered instead of a second one.
    pub idempotency_key: Option<String>,
    /// A digest of what was asked (payment, amount, reason): the same key with another request is refused.
    pub request_hash: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub id: Uuid,
    pub stripe_dispute: String,
    pub payment_id: Uuid,
    pub amount: Money,
    pub reason: String,
    pub status: String,
    /// The partner's share of the loss, netted against its next transfers.
    pub debt: Money,
    pub evidence_due: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

stored_enum! {
    /// How a tip (or a payment) was given: by card through Stripe, or in cash to the server at the table.
    pub enum Tender {
        Card = "card",
        Cash = "cash",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipEntry {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub member: Option<Uuid>,
    /// The card payment that carried the tip, or with [`Tender::Cash`] the cash record.
    pub payment_id: Uuid,
    pub tender: Tender,
    /// For a cash tip: the member who took the cash and recorded it (their drawer holds it until tips are paid out),
    /// who need not be the member it is credited to (`member`, the table's server).
    pub taken_by: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    /// The tip as the partner's transfer carried it, in the platform's settlement currency (once sent).
    pub settled: Option<SettledMoney>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRecord {
    pub stripe_payout: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub arrival_date: Option<OffsetDateTime>,
    pub failure: Option<String>,
    pub updated_at: OffsetDateTime,
}

stored_enum! {
    pub enum ApprovalKind {
        Refund = "refund",
        PayoutDetails = "payout_details",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub id: Uuid,
    pub kind: ApprovalKind,
    pub subject: Option<Uuid>,
    pub requested_by: Uuid,
    pub approved_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: Uuid,
    pub partner: Option<PartnerId>,
    pub kind: String,
    pub detail: String,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    async fn connected_account(&self, scope: &TenantScope) -> StoreResult<Option<ConnectedAccount>>;
    /// Records the partner's connected account (once; [`crate::StoreError::Conflict`] if it has another).
    async fn save_connected_account(
        &self,
        scope: &TenantScope,
        account: &ConnectedAccount,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<ConnectedAccount>;
    /// The platform directory: which partner a connected account belongs to.
    async fn account_partner(&self, stripe_account: &str) -> StoreResult<Option<PartnerId>>;
    /// The platform directory: which partner a payment belongs to.
    async fn payment_partner(&self, payment: Uuid) -> StoreResult<Option<PartnerId>>;
    /// Partners with a connected account or payments (for the platform's upkeep and reconciliation jobs).
    async fn payment_partners(&self) -> StoreResult<Vec<PartnerId>>;
    /// Partners offboarded: their connected account's id was sealed under their destroyed key, so nothing that needs
    /// it (reading the account back, sending a transfer) can be done for them; the rest of the upkeep still is.
    async fn offboarded_partners(&self) -> StoreResult<Vec<PartnerId>>;

    async fn session_balance(&self, scope: &TenantScope, session: Uuid) -> StoreResult<SessionBalance>;
    /// The line claims (`Split::Items`) of a session's payments paid or being paid, with what each part was
    /// charged: which parts of which lines are taken, which claim completes a line and what it pays
    /// (`comanda_domain::payment::line_claim_amount`). `except_device`
    /// leaves out that device's payments in progress that a new payment of it replaces (those with a
    /// PaymentIntent), as the guest's own page must.
    async fn line_claims(
        &self,
        scope: &TenantScope,
        session: Uuid,
        except_device: Option<&str>,
    ) -> StoreResult<Vec<comanda_domain::payment::LineClaim>>;
    /// Records cash a server took at the table against the bill, under the bill's lock
    /// ([`comanda_domain::payment::check_cash`] against what is left then), credits its tip to the member who accepted
    /// the table (tip ledger, tender `cash`), adds it to the reports and appends `audit`, in one transaction.
    async fn record_cash(
        &self,
        scope: &TenantScope,
        cash: &NewCashPayment,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<CashOutcome>;
    /// Voids a cash record of `table`'s bill while the bill is open: it pays nothing from then on, its tip leaves the
    /// ledger (a negative entry) and the reports take it back at `now`, with `audit`, in one transaction.
    /// [`StoreError::NotFound`] when the table has no such record; [`StoreError::Conflict`] when it was voided
    /// already or its bill is closed.
    async fn void_cash(
        &self,
        scope: &TenantScope,
        table: Uuid,
        cash: Uuid,
        voided_by: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<CashPayment>;
    /// The venue's cash records taken or voided in `[start, end)`, oldest first (voided ones included, with their
    /// void; one taken earlier and voided in the range too, since the void takes its cash out of that range's
    /// drawers), keyset-paginated by `(created_at, id)`: the night's cash journal.
    async fn venue_cash(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
        page: PageRequest,
    ) -> StoreResult<Page<CashPayment>>;
    /// A bill's cash records, oldest first, voided ones included.
    async fn session_cash(&self, scope: &TenantScope, session: Uuid) -> StoreResult<Vec<CashPayment>>;
    /// The balances of many sessions in one read, in the order given (a staff view of a venue's live tables).
    async fn session_balances(
        &self,
        scope: &TenantScope,
        sessions: &[Uuid],
    ) -> StoreResult<Vec<SessionBalance>>;
    /// What a guest's Idempotency-Key already made on this bill (`Replayed` for the same request hash from the same
    /// device, `KeyReused` otherwise), read before the share is computed: a retry must find its payment even when
    /// that payment left nothing to pay. `None` for a new key. `request` is the request hash and the device (no
    /// device on either request counts as the same one, as for orders: a page always sends one).
    async fn keyed_payment(
        &self,
        scope: &TenantScope,
        session: Uuid,
        key: &str,
        request: (&[u8], Option<&str>),
    ) -> StoreResult<Option<ReserveOutcome>>;
    /// Holds the payment's share of the bill if that much is left, under a lock of the session.
    async fn reserve_payment(
        &self,
        scope: &TenantScope,
        payment: &NewPayment,
        now: OffsetDateTime,
    ) -> StoreResult<ReserveOutcome>;
    /// Records the payment's PaymentIntent while the payment is still pending; `false` when it no longer is
    /// (released meanwhile), and the intent must then be cancelled at Stripe.
    async fn attach_intent(&self, scope: &TenantScope, payment: Uuid, intent: &str) -> StoreResult<bool>;
    /// Ends a pending payment's hold (`Failed` when Stripe refused to create it, `Cancelled` after cancelling it at
    /// Stripe). A payment no longer pending is left as it is.
    async fn release_payment(
        &self,
        scope: &TenantScope,
        payment: Uuid,
        status: PaymentStatus,
        reason: &str,
    ) -> StoreResult<Payment>;
    async fn payment(&self, scope: &TenantScope, payment: Uuid) -> StoreResult<Payment>;
    /// The venue's payments, newest first, keyset-paginated by `(created_at, id)` descending.
    async fn venue_payments(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<Payment>>;
    /// Pending payments whose hold has expired (to be cancelled at Stripe, then released).
    async fn expired_holds(&self, scope: &TenantScope, now: OffsetDateTime) -> StoreResult<Vec<Payment>>;
    /// The pending payments of a bill: those a guest's device (`X-Guest-Device`) started, or with `None` all of them.
    async fn session_holds(
        &self,
        scope: &TenantScope,
        session: Uuid,
        device: Option<&str>,
    ) -> StoreResult<Vec<Payment>>;
    /// Succeeded payments since `since` (reconciliation).
    async fn succeeded_payments(
        &self,
        scope: &TenantScope,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<Payment>>;

    /// Records the event id and applies its effect in one transaction; a second delivery is a [`EventOutcome::Duplicate`].
    /// `scope` is the partner the signed event names (`None` when it names none we know).
    async fn apply_event(
        &self,
        scope: Option<&TenantScope>,
        event_id: &str,
        kind: &str,
        effect: &EventEffect,
        now: OffsetDateTime,
    ) -> StoreResult<EventOutcome>;
    async fn event_processed(&self, event_id: &str) -> StoreResult<bool>;

    async fn transfer(&self, scope: &TenantScope, payment: Uuid) -> StoreResult<Option<TransferOrder>>;
    async fn due_transfers(&self, scope: &TenantScope) -> StoreResult<Vec<TransferOrder>>;
    /// Records the transfer Stripe made and what it sent in the settlement currency (also on the payment's tip).
    async fn mark_transfer_sent(
        &self,
        scope: &TenantScope,
        payment: Uuid,
        stripe_transfer: &str,
        settled: Option<&comanda_domain::payment::SettledAmounts>,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Reserves the refund against what is left of the payment and splits it between partner and platform;
    /// [`crate::StoreError::Conflict`] when it exceeds what is left or the transfer is still being sent.
    async fn request_refund(
        &self,
        scope: &TenantScope,
        refund: &NewRefund,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Refund>;
    /// A refund awaiting approval is declined (or withdrawn by its requester) by `declined_by`: it ends `failed`
    /// with `declined_by` kept, and what it reserved of its payment is free for another refund. `Conflict` once it is
    /// no longer awaiting approval.
    async fn decline_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        declined_by: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Refund>;
    /// A second person with payout authority approves a refund awaiting approval (never its requester).
    async fn approve_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        approver: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Refund>;
    /// A pending refund Stripe settled (`succeeded`): the partner's share comes off its transfer (`reversal`: the
    /// Stripe transfer reversal and what it moved, in Stripe's currency), the tip leaves the server's ledger and the
    /// refund counts in the day's sales. A refund no longer pending is answered as it is, with nothing written.
    async fn complete_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        stripe_refund: &str,
        reversal: Option<(&str, &SettledMoney)>,
        now: OffsetDateTime,
    ) -> StoreResult<Refund>;
    /// Stripe took the refund but has not settled it (`pending` or `requires_action`): its Stripe id is kept and it
    /// stays pending, its part of the payment still reserved, until Stripe's `refund.updated` says how it ended.
    async fn submit_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        stripe_refund: &str,
    ) -> StoreResult<Refund>;
    /// A pending (or awaiting) refund ends `failed` with `reason` (Stripe's `failure_reason`, or its error): what it
    /// reserved of the payment is free again. `Conflict` once it succeeded or failed.
    async fn fail_refund(&self, scope: &TenantScope, refund: Uuid, reason: &str) -> StoreResult<Refund>;
    /// A refund Stripe first reported `succeeded` failed afterwards (the card was closed: docs.stripe.com/refunds,
    /// "Failed refunds"), and its money came back to the platform: it ends `failed` with `reason`, the bill no longer
    /// counts it as returned, the tip is the server's again, the transfer's `reversed` no longer counts its share and
    /// the day of the failure takes it out of the refunds. The partner's share it reversed is owed back ([`PaymentStore::refunds_to_restore`]). `None` when it was not
    /// `succeeded` (already failed: a repeated event); `NotFound` for no such refund.
    async fn refund_returned(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        reason: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Refund>>;
    /// Refunds that failed after their transfer reversal took the partner's share back, whose share has not been
    /// transferred back yet, oldest first.
    async fn refunds_to_restore(&self, scope: &TenantScope) -> StoreResult<Vec<Refund>>;
    /// Refunds still `pending` (asked of Stripe, or taken by it and not settled) that were requested before
    /// `created_before`, oldest first: what the upkeep asks Stripe about when no event has ended them.
    async fn refunds_in_flight(
        &self,
        scope: &TenantScope,
        created_before: OffsetDateTime,
    ) -> StoreResult<Vec<Refund>>;
    /// The transfer that gave a failed refund's reversed share back to the partner.
    async fn record_restored_transfer(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        stripe_transfer: &str,
    ) -> StoreResult<()>;
    async fn refund(&self, scope: &TenantScope, refund: Uuid) -> StoreResult<Refund>;
    /// The refunds of `venue`'s payments, newest first, keyset-paginated by `(created_at, id)` descending; only those
    /// in `status` when one is given (the ones awaiting a second person, say).
    async fn venue_refunds(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        status: Option<RefundStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<VenueRefund>>;

    /// The partner's disputes, newest first, keyset-paginated by `(created_at, id)` descending.
    async fn disputes(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<Dispute>>;
    /// What the partner still owes (disputes lost minus what transfers recovered).
    async fn outstanding_debt(&self, scope: &TenantScope) -> StoreResult<i64>;
    /// The tip ledger between `from` (inclusive) and `to`, oldest first, keyset-paginated by `(at, id)`.
    async fn tips(
        &self,
        scope: &TenantScope,
        from: OffsetDateTime,
        to: OffsetDateTime,
        page: PageRequest,
    ) -> StoreResult<Page<TipEntry>>;
    async fn payouts(&self, scope: &TenantScope) -> StoreResult<Vec<PayoutRecord>>;

    async fn request_approval(
        &self,
        scope: &TenantScope,
        kind: ApprovalKind,
        subject: Option<Uuid>,
        requested_by: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Approval>;
    /// [`crate::StoreError::Conflict`] when the approver is the requester or it is already decided.
    async fn approve(
        &self,
        scope: &TenantScope,
        approval: Uuid,
        approver: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Approval>;

    async fn raise_alert(
        &self,
        partner: Option<PartnerId>,
        kind: &str,
        detail: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Alert>;
    async fn alerts(&self, since: OffsetDateTime) -> StoreResult<Vec<Alert>>;
    /// Deletes the alerts raised before `before` (retention: an alert may name an attacking client address, which
    /// is personal data); answers how many went.
    async fn prune_alerts(&self, before: OffsetDateTime) -> StoreResult<u64>;
    /// Alerts raised at or after `since` that no on-call destination has accepted yet, oldest first, at most
    /// `limit` (MON-4).
    async fn unrouted_alerts(&self, since: OffsetDateTime, limit: i64) -> StoreResult<Vec<Alert>>;
    /// Records that the on-call destination accepted the alert.
    async fn mark_alert_routed(&self, alert: Uuid, at: OffsetDateTime) -> StoreResult<()>;
    /// Gives up routing the alerts raised before `before` that were never accepted, recording `at`; answers them
    /// (each once), so the router can say so.
    async fn abandon_unrouted_alerts(
        &self,
        before: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Alert>>;
}

pub(crate) fn settlement(
    currency: comanda_domain::Currency,
    share: i64,
    tip: i64,
    fee: i64,
) -> StoreResult<Settlement> {
    let money = |n: i64| Money::new(n, currency).map_err(|_| crate::records::corrupt("amount", "negative"));
    let charged = money(share + tip)?;
    Ok(Settlement {
        charged,
        share: money(share)?,
        tip: money(tip)?,
        platform_fee: money(fee)?,
        partner_part: money(share + tip - fee)?,
    })
}

/// The line claims a payment row holds: its split's parts of lines (none unless it is `Split::Items`), each with
/// what it was charged from its `line_amounts` column (JSON minor units in the split's order; `None` for a payment
/// made before the column was kept). One reading for the bill's claims and for what a cancelled order was paid.
pub(crate) fn line_claims_of(
    split: &str,
    line_amounts: Option<&str>,
) -> StoreResult<Vec<comanda_domain::payment::LineClaim>> {
    use crate::ordering::json_from;
    let comanda_domain::payment::Split::Items { items } = json_from("split", split)? else {
        return Ok(Vec::new());
    };
    let amounts: Vec<i64> = match line_amounts {
        Some(text) => json_from("line_amounts", text)?,
        None => Vec::new(),
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, share)| comanda_domain::payment::LineClaim {
            share,
            amount: amounts.get(index).copied(),
        })
        .collect())
}
