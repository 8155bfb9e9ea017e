//! Where a sign-in comes from (MON-2): a GeoIP database in the MaxMind DB format (MaxMind's GeoLite2/GeoIP2 City
//! or Country, DB-IP's City Lite), read with the `maxminddb` crate. A City database gives the country and the
//! coordinates with their accuracy radius; a Country database the country alone (new countries are then noticed,
//! impossible travel is not).

use std::net::IpAddr;
use std::path::Path;

use comanda_domain::sign_in_place::{Coordinates, Whereabouts};
use maxminddb::geoip2;

/// The accuracy radius assumed when the database gives none (DB-IP's City Lite has none): its places are city
/// centroids, and a mobile address is often placed in a city hundreds of km from the phone, so a small radius would
/// page on a member moving between two cities' networks.
const UNKNOWN_ACCURACY_KM: u32 = 250;

/// An opened GeoIP database, read whole into memory (a City database is about 70 MB).
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database", &self.reader.metadata().database_type)
            .finish()
    }
}

impl GeoIp {
    /// Opens `path`; an unreadable or malformed file is an error (the server refuses to start rather than
    /// silently noticing nothing).
    pub fn open(path: &Path) -> Result<Self, String> {
        let reader =
            maxminddb::Reader::open_readfile(path).map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(Self { reader })
    }

    /// Where the database places `address`; `None` for an address it does not know (private, loopback, or a
    /// gap), or a record it cannot read, which is logged: a sign-in never fails over its place.
    pub fn whereabouts(&self, address: IpAddr) -> Option<Whereabouts> {
        let record = self
            .reader
            .lookup(address)
            .and_then(|found| found.decode::<geoip2::City>())
            .inspect_err(|error| tracing::warn!(%error, "the GeoIP database could not place a sign-in"))
            .ok()
            .flatten()?;
        let location = &record.location;
        let whereabouts = Whereabouts {
            country: record.country.iso_code.map(str::to_owned),
            coordinates: location
                .latitude
                .zip(location.longitude)
                .and_then(|(latitude, longitude)| {
                    Coordinates::from_degrees(
                        latitude,
                        longitude,
                        location.accuracy_radius.map_or(UNKNOWN_ACCURACY_KM, u32::from),
                    )
                }),
        };
        (whereabouts != Whereabouts::default()).then_some(whereabouts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MaxMind's own test database (MaxMind-DB's test-data, Apache-2.0 or MIT), whose records its source JSON
    /// lists: 81.2.69.142 is London, 89.160.20.112 Linköping, 2001:218::1 Japan (no city), 10.0.0.1 nowhere.
    fn test_database() -> GeoIp {
        GeoIp::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/GeoLite2-City-Test.mmdb"))
            .unwrap()
    }

    #[test]
    fn the_reference_database_places_known_addresses() {
        let geoip = test_database();
        let london = geoip.whereabouts("81.2.69.142".parse().unwrap()).unwrap();
        assert_eq!(london.country.as_deref(), Some("GB"));
        let c = london.coordinates.unwrap();
        assert_eq!((c.latitude_e4, c.longitude_e4), (515_142, -931));
        let sweden = geoip.whereabouts("89.160.20.112".parse().unwrap()).unwrap();
        assert_eq!(sweden.country.as_deref(), Some("SE"));
        let km = c.distance_km(&sweden.coordinates.unwrap());
        assert!((km - 1_257.0).abs() < 15.0, "London to Linköping: {km} km");
        let japan = geoip.whereabouts("2001:218::1".parse().unwrap()).unwrap();
        assert_eq!(japan.country.as_deref(), Some("JP"));
        assert_eq!(geoip.whereabouts("10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"not a MaxMind DB").unwrap();
        assert!(GeoIp::open(file.path()).is_err());
        assert!(GeoIp::open(Path::new("/nonexistent/GeoLite2-City.mmdb")).is_err());
    }
}
