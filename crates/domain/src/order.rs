//! The order lifecycle: placed → accepted → preparing → ready → served, or cancelled (with a reason) at any point
//! before served. Served and cancelled are final.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Placed,
    Accepted,
    Preparing,
    Ready,
    Served,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("an order cannot go from {} to {}", from.as_str(), to.as_str())]
    Illegal { from: OrderStatus, to: OrderStatus },
    #[error("cancelling needs a reason")]
    ReasonRequired,
    /// A reason sent with a step that is not a cancellation would be dropped: refused rather than ignored.
    #[error("only a cancellation takes a reason")]
    ReasonNotTaken,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Placed,
        OrderStatus::Accepted,
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::Served,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Accepted => "accepted",
            OrderStatus::Preparing => "preparing",
            OrderStatus::Ready => "ready",
            OrderStatus::Served => "served",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Served | OrderStatus::Cancelled)
    }

    /// The one step forward from here, if any.
    pub fn next(self) -> Option<Self> {
        match self {
            OrderStatus::Placed => Some(OrderStatus::Accepted),
            OrderStatus::Accepted => Some(OrderStatus::Preparing),
            OrderStatus::Preparing => Some(OrderStatus::Ready),
            OrderStatus::Ready => Some(OrderStatus::Served),
            OrderStatus::Served | OrderStatus::Cancelled => None,
        }
    }

    /// Checks a transition; cancelling needs a non-empty reason.
    pub fn transition(self, to: OrderStatus, reason: Option<&str>) -> Result<OrderStatus, TransitionError> {
        let allowed = match to {
            OrderStatus::Cancelled => !self.is_final(),
            _ => self.next() == Some(to),
        };
        if !allowed {
            return Err(TransitionError::Illegal { from: self, to });
        }
        if to == OrderStatus::Cancelled && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(TransitionError::ReasonRequired);
        }
        if to != OrderStatus::Cancelled && reason.is_some() {
            return Err(TransitionError::ReasonNotTaken);
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_happy_path_and_cancellation() {
        let mut status = OrderStatus::Placed;
        for to in [
            OrderStatus::Accepted,
            OrderStatus::Preparing,
            OrderStatus::Ready,
            OrderStatus::Served,
        ] {
            status = status.transition(to, None).unwrap();
        }
        assert!(status.is_final());
        assert!(
            OrderStatus::Ready
                .transition(OrderStatus::Cancelled, Some("guest left"))
                .is_ok()
        );
        assert_eq!(
            OrderStatus::Ready.transition(OrderStatus::Cancelled, Some("  ")),
            Err(TransitionError::ReasonRequired)
        );
        assert!(
            OrderStatus::Served
                .transition(OrderStatus::Cancelled, Some("late"))
                .is_err()
        );
        assert!(
            OrderStatus::Placed.transition(OrderStatus::Ready, None).is_err(),
            "no skipping"
        );
        assert_eq!(
            OrderStatus::Placed.transition(OrderStatus::Accepted, Some("why")),
            Err(TransitionError::ReasonNotTaken),
            "a reason is never silently dropped"
        );
        assert!(
            OrderStatus::Preparing
                .transition(OrderStatus::Accepted, None)
                .is_err(),
            "no going back"
        );
    }

    proptest! {
        #[test]
        fn any_sequence_keeps_the_machine_sound(steps in proptest::collection::vec(0usize..6, 0..30)) {
            let mut status = OrderStatus::Placed;
            let mut served_or_cancelled = false;
            for step in steps {
                let to = OrderStatus::ALL[step];
                let reason = (to == OrderStatus::Cancelled).then_some("reason");
                match status.transition(to, reason) {
                    Ok(next) => {
                        prop_assert!(!served_or_cancelled, "nothing moves after a final state");
                        prop_assert!(to == OrderStatus::Cancelled || status.next() == Some(to));
                        status = next;
                        served_or_cancelled = status.is_final();
                    }
                    Err(_) => prop_assert!(served_or_cancelled || (to != OrderStatus::Cancelled && status.next() != Some(to))),
                }
            }
        }
    }
}
