//! The API's own forms of what the store records and the API shows: statuses and a session's balance. The public
//! contract is defined here and converted at the edge, so a change in storage cannot change it (issue 17); names
//! and spellings are the OpenAPI document's.

use comanda_domain::Money;
use comanda_store::{ordering, payments};
use serde::{Deserialize, Serialize};

/// Converts a store enum into its wire twin and back, variant by variant (a new store variant fails to compile
/// here); the wire form is also what a query parameter names (`?status=awaiting_approval`).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident from $store:path { $($(#[$vmeta:meta])* $variant:ident),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl From<$store> for $name {
            fn from(status: $store) -> Self {
                use $store as Store;
                match status {
                    $(Store::$variant => Self::$variant),*
                }
            }
        }

        impl From<$name> for $store {
            fn from(status: $name) -> Self {
                use $store as Store;
                match status {
                    $($name::$variant => Store::$variant),*
                }
            }
        }
    };
}

wire_enum! {
    /// A table's session: pending until staff accept it, open while guests order, closed when the table is closed.
    #[serde(rename_all = "lowercase")]
    SessionStatus from ordering::SessionStatus { Pending, Open, Closed }
}

wire_enum! {
    #[serde(rename_all = "snake_case")]
    PaymentStatus from payments::PaymentStatus {
        /// Created; holds its amount of the bill until it succeeds, or is cancelled (at Stripe first).
        Pending,
        Succeeded,
        Failed,
        Cancelled,
    }
}

wire_enum! {
    #[serde(rename_all = "snake_case")]
    RefundStatus from payments::RefundStatus { AwaitingApproval, Pending, Succeeded, Failed }
}

wire_enum! {
    #[serde(rename_all = "snake_case")]
    ApprovalKind from payments::ApprovalKind { Refund, PayoutDetails }
}

/// A session's bill against its payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionBalance {
    /// What the orders come to (tax included, tips excluded).
    pub total: Money,
    /// Covered by succeeded card payments and cash servers recorded (tips excluded), less what cancelled orders kept
    /// of the card payments: a refund followed by its order's cancellation no longer pays for the rest of the bill.
    pub paid: Money,
    /// Of `paid`, the cash servers recorded at the table (records voided left out).
    pub cash: Money,
    /// Held by payments in progress.
    pub in_progress: Money,
    /// Neither paid nor held.
    pub remaining: Money,
    pub settled: bool,
    /// Returned, or being returned, to the guests' cards by refunds of this bill's payments (tips included, as
    /// returned). A refund alone does not reopen the bill (a goodwill refund stays given): `paid` and `remaining`
    /// change only once an order it paid for is cancelled.
    pub refunded: Money,
}

impl From<payments::SessionBalance> for SessionBalance {
    fn from(b: payments::SessionBalance) -> Self {
        Self {
            total: b.total,
            paid: b.paid,
            cash: b.cash,
            in_progress: b.in_progress,
            remaining: b.remaining,
            settled: b.settled,
            refunded: b.refunded,
        }
    }
}
