use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Identifiers are UUIDv7: opaque to clients, unique without coordination, and ordered by creation so that keyset
/// pagination and B-tree inserts stay cheap.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh identifier, ordered after every identifier minted before it.
            pub fn mint() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .description(Some("Opaque identifier"))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// A partner: one restaurant business, the unit of tenancy.
    PartnerId
);
id_type!(
    /// A venue (one physical restaurant) of a partner.
    VenueId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_ordered_and_round_trip_through_text() {
        let first = VenueId::mint();
        let second = VenueId::mint();
        assert!(first < second);
        assert_eq!(first.to_string().parse::<VenueId>().unwrap(), first);
        assert!("not-an-id".parse::<VenueId>().is_err());
    }
}
