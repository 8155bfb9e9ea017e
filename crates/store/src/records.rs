//! Turning stored columns back into domain values, shared by both engines so that a corrupt value is refused the
//! same way whichever engine read it.

use comanda_domain::{Country, Currency, Partner, PartnerId, TaxKind, TaxRegime, Venue, VenueId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{StoreError, StoreResult};

/// A status or kind stored as text: the enum with each variant's stored spelling, `as_str` to write it, `parse` to
/// read it back (`None` for a spelling this build does not know, which the decoders report as corrupt) and `ALL`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|s| s.as_str() == text)
            }
        }
    };
}

pub(crate) struct PartnerColumns {
    pub id: Uuid,
    pub business_name: String,
    pub country: String,
    pub created_at: OffsetDateTime,
}

impl PartnerColumns {
    pub fn into_partner(self) -> StoreResult<Partner> {
        let country = self.country.trim();
        Ok(Partner {
            id: PartnerId::from_uuid(self.id),
            business_name: self.business_name,
            country: Country::parse(country).ok_or_else(|| corrupt("country", country))?,
            created_at: self.created_at,
        })
    }
}

pub(crate) struct VenueColumns {
    pub partner_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub address: String,
    pub currency: String,
    pub tax_kind: String,
    pub tax_rate_bp: i64,
    pub created_at: OffsetDateTime,
}

impl VenueColumns {
    pub fn into_venue(self) -> StoreResult<Venue> {
        let currency = self.currency.trim();
        Ok(Venue {
            id: VenueId::from_uuid(self.id),
            partner_id: PartnerId::from_uuid(self.partner_id),
            name: self.name,
            timezone: self.timezone,
            address: self.address,
            currency: Currency::from_code(currency).ok_or_else(|| corrupt("currency", currency))?,
            tax: TaxRegime {
                kind: TaxKind::parse(&self.tax_kind).ok_or_else(|| corrupt("tax_kind", &self.tax_kind))?,
                rate_bp: u16::try_from(self.tax_rate_bp)
                    .map_err(|_| corrupt("tax_rate_bp", &self.tax_rate_bp.to_string()))?,
            },
            created_at: self.created_at,
        })
    }
}

pub(crate) fn corrupt(column: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{column} = {value:?}"))
}

pub(crate) fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("id", text))
}
