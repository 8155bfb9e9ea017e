//! RFC 9457 problem details: the only shape an error leaves the server in, and the one place where an error
//! becomes an HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comanda_domain::payment::ShareError;
use comanda_domain::{FieldError, ValidationErrors};
use comanda_payments::StripeError;
use comanda_store::StoreError;
use serde::Serialize;

use crate::payments::checkout::StartPaymentError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The stable `type` of a problem. Clients branch on it; the URIs never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    MalformedJson,
    Validation,
    UnsupportedMediaType,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    Unauthorized,
    Forbidden,
    MfaEnrollmentRequired,
    /// A signed-in member's step-up failed: the current password or the second-factor code is wrong. 403, not 401,
    /// so a client does not take it for an expired session (and refresh, and send the wrong password again).
    StepUpFailed,
    Conflict,
    BusinessRule,
    RateLimited,
    CardDataRefused,
    /// The bill has no more left to pay than this (another guest paid or is paying it).
    BillCovered,
    /// The share the guest was shown is not what the bill now comes to for their split: nothing was charged, and the
    /// detail gives the new share to confirm.
    ShareChanged,
    /// The reservation slot was taken by another booking (or pacing is full) while the guest chose it.
    SlotTaken,
    /// The table has no open bill to pay: staff have not accepted it yet (its first order waits for them), or it was
    /// closed.
    NoOpenBill,
    /// Staff closing a table whose bill is not paid in full, without saying it may close unpaid (`unpaid=true`).
    BillNotSettled,
    /// The restaurant cannot take card payments (not onboarded, or payments are off).
    PaymentsUnavailable,
    /// The payment provider refused or could not be reached.
    PaymentProvider,
    /// A webhook whose signature, timestamp or body does not verify.
    WebhookSignature,
    /// A verified event rendered at another API version than the client is pinned to, or sent to the other endpoint.
    WebhookEvent,
    Unavailable,
    Internal,
}

impl ProblemType {
    pub fn slug(self) -> &'static str {
        match self {
            ProblemType::MalformedJson => "malformed-json",
            ProblemType::Validation => "validation",
            ProblemType::UnsupportedMediaType => "unsupported-media-type",
            ProblemType::PayloadTooLarge => "payload-too-large",
            ProblemType::NotFound => "not-found",
            ProblemType::MethodNotAllowed => "method-not-allowed",
            ProblemType::Unauthorized => "unauthorized",
            ProblemType::StepUpFailed => "step-up-failed",
            ProblemType::Forbidden => "forbidden",
            ProblemType::MfaEnrollmentRequired => "mfa-enrollment-required",
            ProblemType::Conflict => "conflict",
            ProblemType::BusinessRule => "business-rule",
            ProblemType::RateLimited => "rate-limited",
            ProblemType::CardDataRefused => "card-data-refused",
            ProblemType::BillCovered => "bill-covered",
            ProblemType::ShareChanged => "share-changed",
            ProblemType::SlotTaken => "slot-taken",
            ProblemType::NoOpenBill => "no-open-bill",
            ProblemType::BillNotSettled => "bill-not-settled",
            ProblemType::PaymentsUnavailable => "payments-unavailable",
            ProblemType::PaymentProvider => "payment-provider",
            ProblemType::WebhookSignature => "webhook-signature",
            ProblemType::WebhookEvent => "webhook-event",
            ProblemType::Unavailable => "unavailable",
            ProblemType::Internal => "internal",
        }
    }

    pub fn uri(self) -> String {
        format!("https://comanda.dev/problems/{}", self.slug())
    }

    pub fn status(self) -> StatusCode {
        match self {
            ProblemType::MalformedJson
            | ProblemType::Validation
            | ProblemType::CardDataRefused
            | ProblemType::WebhookSignature
            | ProblemType::WebhookEvent => StatusCode::BAD_REQUEST,
            ProblemType::BillCovered
            | ProblemType::ShareChanged
            | ProblemType::SlotTaken
            | ProblemType::BillNotSettled => StatusCode::CONFLICT,
            ProblemType::PaymentsUnavailable | ProblemType::NoOpenBill => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::PaymentProvider => StatusCode::BAD_GATEWAY,
            ProblemType::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemType::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemType::NotFound => StatusCode::NOT_FOUND,
            ProblemType::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemType::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemType::Forbidden | ProblemType::MfaEnrollmentRequired | ProblemType::StepUpFailed => {
                StatusCode::FORBIDDEN
            }
            ProblemType::Conflict => StatusCode::CONFLICT,
            ProblemType::BusinessRule => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(self) -> &'static str {
        match self {
            ProblemType::MalformedJson => "The request body is not valid JSON for this route",
            ProblemType::Validation => "Some fields are not valid",
            ProblemType::UnsupportedMediaType => "Unsupported media type",
            ProblemType::PayloadTooLarge => "Request body too large",
            ProblemType::NotFound => "Not found",
            ProblemType::MethodNotAllowed => "Method not allowed",
            ProblemType::Unauthorized => "Sign-in required",
            ProblemType::StepUpFailed => "The current password or code is wrong",
            ProblemType::Forbidden => "Not allowed",
            ProblemType::MfaEnrollmentRequired => "Two-factor enrolment required",
            ProblemType::Conflict => "Conflict",
            ProblemType::BusinessRule => "Refused by a business rule",
            ProblemType::RateLimited => "Too many requests",
            ProblemType::CardDataRefused => "Card data is never accepted",
            ProblemType::BillCovered => "The bill is already covered",
            ProblemType::ShareChanged => "The share to pay changed",
            ProblemType::SlotTaken => "That time is no longer available",
            ProblemType::NoOpenBill => "The table has no open bill to pay",
            ProblemType::BillNotSettled => "The bill is not paid in full",
            ProblemType::PaymentsUnavailable => "Card payments are not available here",
            ProblemType::PaymentProvider => "The payment provider did not accept the request",
            ProblemType::WebhookSignature => "Webhook signature not valid",
            ProblemType::WebhookEvent => "Webhook event not accepted at this endpoint",
            ProblemType::Unavailable => "Temporarily unavailable",
            ProblemType::Internal => "Internal error",
        }
    }

    /// The problem type a bare status stands for, when something below the handlers answered with no body.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => ProblemType::Validation,
            StatusCode::UNAUTHORIZED => ProblemType::Unauthorized,
            StatusCode::FORBIDDEN => ProblemType::Forbidden,
            StatusCode::NOT_FOUND => ProblemType::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ProblemType::MethodNotAllowed,
            StatusCode::CONFLICT => ProblemType::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => ProblemType::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemType::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ProblemType::BusinessRule,
            StatusCode::TOO_MANY_REQUESTS => ProblemType::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => ProblemType::Unavailable,
            s if s.is_client_error() => ProblemType::Validation,
            _ => ProblemType::Internal,
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(kind: ProblemType) -> Self {
        Self {
            kind: kind.uri(),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            detail: None,
            errors: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        // API.md: every problem has a `detail`. One that names fields says the first (and how many more).
        if self.detail.is_none() {
            self.detail = Some(match self.errors.as_slice() {
                [] => self.title.clone(),
                [one] => format!("{}: {}", one.field, one.message),
                [first, rest @ ..] => format!("{}: {} (and {} more)", first.field, first.message, rest.len()),
            });
        }
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status_code(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What a handler can fail with. Each variant maps to exactly one problem type, here and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Problem(Box<Problem>),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Refused(why) => Problem::new(ProblemType::BusinessRule).detail(why).into(),
            StoreError::Unsettled { left } => Problem::new(ProblemType::BillNotSettled)
                .detail(format!(
                    "{left} (minor units) of this bill is not paid: close with unpaid=true once it was paid another \
                     way or will not be"
                ))
                .into(),
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    /// A well-formed request refused by a rule the document cannot state because it depends on the stored state
    /// (the venue's currency, a category that must exist) or on lists and policies outside the request's shape (a
    /// breached password): 422 `business-rule`, naming each field. 400 stays for what the document's schemas say.
    pub fn rule(errors: ValidationErrors) -> Self {
        let mut problem = Problem::new(ProblemType::BusinessRule);
        problem.errors = errors.0;
        problem.into()
    }

    /// A request that collides with what exists (an email that already has an account): 409, naming the field.
    pub fn conflict_on(field: &str, message: &str) -> Self {
        Problem::new(ProblemType::Conflict).field(field, message).into()
    }

    /// A new password refused by `check_new_password`: 400 when its length is outside what the document declares
    /// (12–128 characters), else 422 — the password is well-formed and a policy refuses it (a breached or patterned
    /// password, one containing the account's name or email, or under 15 characters for an account without a
    /// second factor).
    pub fn password(errors: ValidationErrors, password: &str) -> Self {
        let length = password.chars().count();
        if (comanda_domain::password::MIN_WITH_SECOND_FACTOR..=comanda_domain::password::MAX_LENGTH)
            .contains(&length)
        {
            ApiError::rule(errors)
        } else {
            ApiError::Validation(errors)
        }
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Problem(Box::new(problem))
    }
}

/// A share the bill cannot give: 409 `bill-covered` when it is (or is being) paid, 400 naming `tip` or `split`.
impl From<ShareError> for ApiError {
    fn from(error: ShareError) -> Self {
        match error {
            ShareError::BillCovered
            | ShareError::PartlyPaid
            | ShareError::ExceedsRemaining
            | ShareError::LineTaken(_) => Problem::new(ProblemType::BillCovered)
                .detail(error.to_string())
                .into(),
            ShareError::Tip => ValidationErrors::single("tip", error.to_string()).into(),
            ShareError::UnpayableTip => ApiError::rule(ValidationErrors::single("tip", error.to_string())),
            // Named by the item of the request it is about (the index in `split.items`, not the line's own).
            ShareError::UnknownLine(item) => {
                ValidationErrors::single(format!("split.items[{item}].line"), error.to_string()).into()
            }
            ShareError::Fraction(item) => {
                ValidationErrors::single(format!("split.items[{item}].denominator"), error.to_string()).into()
            }
            ShareError::LineChosenTwice(item) => {
                ValidationErrors::single(format!("split.items[{item}]"), error.to_string()).into()
            }
            _ => ValidationErrors::single("split", error.to_string()).into(),
        }
    }
}

/// Stripe refused or did not answer: 502 `payment-provider`, with Stripe's own message for a card error (written
/// for the cardholder) and a generic one otherwise.
pub fn provider_error(error: &StripeError) -> ApiError {
    tracing::warn!(%error, "payment provider refused");
    let detail = match error {
        StripeError::Api { message, .. } if error.is_card_error() => message.clone(),
        _ => "the payment provider could not take this request; nothing was charged, try again".into(),
    };
    Problem::new(ProblemType::PaymentProvider).detail(detail).into()
}

impl From<StartPaymentError> for ApiError {
    fn from(error: StartPaymentError) -> Self {
        use StartPaymentError as E;
        let detail = error.to_string();
        match error {
            E::AccountNotReady => Problem::new(ProblemType::PaymentsUnavailable)
                .detail(detail)
                .into(),
            E::NoOpenBill | E::SessionGone => Problem::new(ProblemType::NoOpenBill).detail(detail).into(),
            E::Share(share) => share.into(),
            E::AmountChanged(_) => Problem::new(ProblemType::ShareChanged).detail(detail).into(),
            E::Covered(_) => Problem::new(ProblemType::BillCovered).detail(detail).into(),
            E::NegativeTip | E::Unsettled(_) => ValidationErrors::single("tip", detail).into(),
            E::KeyReused | E::NeverStarted | E::Replaced => {
                Problem::new(ProblemType::Conflict).detail(detail).into()
            }
            E::Provider(stripe) => provider_error(&stripe),
            E::Store(store) => store.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title, self.status)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Validation(errors) => {
                let mut problem = Problem::new(ProblemType::Validation);
                problem.errors = errors.0;
                problem.into_response()
            }
            ApiError::NotFound => Problem::new(ProblemType::NotFound).into_response(),
            ApiError::Conflict(what) => Problem::new(ProblemType::Conflict).detail(what).into_response(),
            ApiError::Store(StoreError::Unavailable(reason)) => {
                tracing::warn!(%reason, "database unavailable");
                Problem::new(ProblemType::Unavailable)
                    .retry_after(5)
                    .into_response()
            }
            ApiError::Store(error) => {
                // The cause goes to the log, never to the client.
                tracing::error!(error = %error, "storage failure");
                Problem::new(ProblemType::Internal).into_response()
            }
            ApiError::Problem(problem) => problem.into_response(),
        }
    }
}
