//! Pure rules of comanda. Nothing in this crate performs IO, reads the clock or draws randomness on its own:
//! time comes from a [`Clock`] and identifiers are minted by the caller, so every rule is testable as a function.

pub mod access;
pub mod analytics;
pub mod bill;
pub mod clock;
pub mod currency;
pub mod disclosure;
pub mod email;
pub mod ids;
pub mod incident;
pub mod menu;
pub mod money;
pub mod order;
pub mod page;
pub mod partner;
pub mod password;
pub mod payment;
pub mod reservation;
pub mod sign_in_place;
pub mod validation;
pub mod venue;

pub use access::{Permission, Role, Standing, Venues, VenuesError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use currency::Currency;
pub use ids::{PartnerId, VenueId};
pub use money::Money;
pub use order::OrderStatus;
pub use page::{Cursor, Page, PageRequest, collect_all, narrowed};
pub use partner::{Country, NewPartner, Partner};
pub use validation::{FieldError, ValidationErrors};
pub use venue::{NewVenue, TaxKind, TaxRegime, Venue};
