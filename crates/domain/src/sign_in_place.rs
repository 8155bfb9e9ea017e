//! Anomalous sign-ins by place (MON-2): a sign-in from a country the account has not signed in from before, and
//! impossible travel, a sign-in too far from the account's previous one for the time between them.
//!
//! Places come from a GeoIP database (MaxMind DB format: GeoLite2/GeoIP2 City, DB-IP City Lite), which locates an
//! address only to within an accuracy radius; the travel rule gives both sign-ins the benefit of their radii. The
//! speed limit is 1,000 km/h, above an airliner's cruising speed (about 900 km/h), so a real flight between two
//! sign-ins is not flagged, while two continents an ocean apart within a few hours are.

use time::OffsetDateTime;

/// The fastest a person can travel between two sign-ins, in km/h.
pub const MAX_TRAVEL_KMH: f64 = 1_000.0;

/// The mean radius of the Earth (IUGG), in km.
const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// Coordinates as a GeoIP database gives them, in ten-thousandths of a degree (about 11 m), with the database's
/// accuracy radius in km.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coordinates {
    pub latitude_e4: i32,
    pub longitude_e4: i32,
    pub radius_km: u32,
}

impl Coordinates {
    /// From degrees; `None` outside [-90, 90] × [-180, 180] or not finite.
    pub fn from_degrees(latitude: f64, longitude: f64, radius_km: u32) -> Option<Self> {
        let valid = latitude.is_finite()
            && longitude.is_finite()
            && (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude);
        // In range, so the products fit an i32 (at most 1.8 million).
        #[allow(clippy::cast_possible_truncation)]
        valid.then(|| Self {
            latitude_e4: (latitude * 1e4).round() as i32,
            longitude_e4: (longitude * 1e4).round() as i32,
            radius_km,
        })
    }

    /// Great-circle distance in km (haversine on a sphere of the Earth's mean radius; the spheroid differs by under
    /// 0.5 %, far inside any GeoIP radius).
    pub fn distance_km(&self, other: &Self) -> f64 {
        let radians = |e4: i32| (f64::from(e4) / 1e4).to_radians();
        let (lat1, lat2) = (radians(self.latitude_e4), radians(other.latitude_e4));
        let d_lat = lat2 - lat1;
        let d_lon = radians(other.longitude_e4) - radians(self.longitude_e4);
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// Where a sign-in came from: its country (ISO 3166-1 alpha-2) and coordinates, each when the database knows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Whereabouts {
    pub country: Option<String>,
    pub coordinates: Option<Coordinates>,
}

/// A previous sign-in of the account: where, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastSignIn {
    pub whereabouts: Whereabouts,
    pub at: OffsetDateTime,
}

/// What is anomalous about a sign-in.
#[derive(Debug, Clone, PartialEq)]
pub enum Anomaly {
    /// The first sign-in from `country`, after sign-ins from `known` only.
    NewCountry { country: String, known: Vec<String> },
    /// `km` from the previous sign-in (at the nearest points of both accuracy radii) in `hours`.
    ImpossibleTravel {
        from: Option<String>,
        km: f64,
        hours: f64,
    },
}

impl Anomaly {
    /// The security event's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NewCountry { .. } => "sign_in.new_country",
            Self::ImpossibleTravel { .. } => "sign_in.impossible_travel",
        }
    }

    /// What happened, for the account's mail and the on-call alert (no address, no name).
    pub fn describe(&self, to: &Whereabouts) -> String {
        let country = to.country.as_deref().unwrap_or("an unknown country");
        match self {
            Self::NewCountry { country, known } => {
                format!("first sign-in from {country} (before: {})", known.join(", "))
            }
            Self::ImpossibleTravel { from, km, hours } => format!(
                "sign-in from {country} {km:.0} km from the previous one ({}) {:.1} h later",
                from.as_deref().unwrap_or("unknown country"),
                hours
            ),
        }
    }
}

/// The anomalies of a sign-in from `now` at `at`, given the countries the account has signed in from and its
/// previous sign-in. The account's first sign-in is the baseline and has none; an unknown country or position
/// claims nothing.
pub fn anomalies(
    known_countries: &[String],
    previous: Option<&PastSignIn>,
    now: &Whereabouts,
    at: OffsetDateTime,
) -> Vec<Anomaly> {
    let mut found = Vec::new();
    if let Some(country) = &now.country
        && !known_countries.is_empty()
        && !known_countries.contains(country)
    {
        found.push(Anomaly::NewCountry {
            country: country.clone(),
            known: known_countries.to_vec(),
        });
    }
    if let Some(previous) = previous
        && let (Some(from), Some(to)) = (previous.whereabouts.coordinates, now.coordinates)
    {
        let km = (from.distance_km(&to) - f64::from(from.radius_km) - f64::from(to.radius_km)).max(0.0);
        let hours = (at - previous.at).as_seconds_f64().max(0.0) / 3_600.0;
        if km > MAX_TRAVEL_KMH * hours {
            found.push(Anomaly::ImpossibleTravel {
                from: previous.whereabouts.country.clone(),
                km,
                hours,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn place(country: &str, latitude: f64, longitude: f64, radius_km: u32) -> Whereabouts {
        Whereabouts {
            country: Some(country.into()),
            coordinates: Coordinates::from_degrees(latitude, longitude, radius_km),
        }
    }

    fn bogota() -> Whereabouts {
        place("CO", 4.711, -74.0721, 20)
    }

    fn medellin() -> Whereabouts {
        place("CO", 6.2442, -75.5812, 20)
    }

    fn madrid() -> Whereabouts {
        place("ES", 40.4168, -3.7038, 20)
    }

    fn before(whereabouts: Whereabouts, hours: i64) -> PastSignIn {
        PastSignIn {
            whereabouts,
            at: AT - time::Duration::hours(hours),
        }
    }

    #[test]
    fn known_distances() {
        // London to Paris is 344 km as the crow flies; Bogotá to Madrid about 8,030 km.
        let london = Coordinates::from_degrees(51.5074, -0.1278, 0).unwrap();
        let paris = Coordinates::from_degrees(48.8566, 2.3522, 0).unwrap();
        assert!(
            (london.distance_km(&paris) - 343.5).abs() < 2.0,
            "{}",
            london.distance_km(&paris)
        );
        let km = bogota()
            .coordinates
            .unwrap()
            .distance_km(&madrid().coordinates.unwrap());
        assert!((km - 8_030.0).abs() < 40.0, "{km}");
    }

    #[test]
    fn the_first_sign_in_is_the_baseline() {
        assert!(anomalies(&[], None, &madrid(), AT).is_empty());
    }

    #[test]
    fn a_new_country_is_told_once_it_is_new() {
        let known = vec!["CO".to_owned()];
        assert_eq!(
            anomalies(&known, Some(&before(bogota(), 24)), &madrid(), AT),
            vec![Anomaly::NewCountry {
                country: "ES".into(),
                known: known.clone()
            }],
            "a day is enough to fly to Madrid: a new country, not impossible travel"
        );
        assert!(anomalies(&known, Some(&before(bogota(), 1)), &medellin(), AT).is_empty());
        let unknown = Whereabouts::default();
        assert!(anomalies(&known, Some(&before(bogota(), 1)), &unknown, AT).is_empty());
    }

    #[test]
    fn two_continents_within_hours_is_impossible_travel() {
        let known = vec!["CO".to_owned(), "ES".to_owned()];
        let found = anomalies(&known, Some(&before(bogota(), 2)), &madrid(), AT);
        assert!(
            matches!(found.as_slice(), [Anomaly::ImpossibleTravel { from: Some(from), km, hours }]
                if from == "CO" && *km > 7_900.0 && (*hours - 2.0).abs() < 1e-9),
            "{found:?}"
        );
        // Seven hours is not enough for 8,000 km either; nine is, at the rule's 1,000 km/h (a direct flight takes
        // about ten).
        assert_eq!(
            anomalies(&known, Some(&before(bogota(), 7)), &madrid(), AT).len(),
            1
        );
        assert!(anomalies(&known, Some(&before(bogota(), 9)), &madrid(), AT).is_empty());
    }

    #[test]
    fn the_accuracy_radii_are_given_the_benefit_of_the_doubt() {
        // 240 km apart within one minute, but each placed only to within 150 km: they may be the same place.
        let known = vec!["CO".to_owned()];
        let vague = |w: Whereabouts| Whereabouts {
            coordinates: w.coordinates.map(|c| Coordinates { radius_km: 150, ..c }),
            ..w
        };
        let previous = PastSignIn {
            whereabouts: vague(bogota()),
            at: AT - time::Duration::MINUTE,
        };
        assert!(anomalies(&known, Some(&previous), &vague(medellin()), AT).is_empty());
        let precise = PastSignIn {
            whereabouts: bogota(),
            at: AT - time::Duration::MINUTE,
        };
        assert_eq!(anomalies(&known, Some(&precise), &medellin(), AT).len(), 1);
    }

    #[test]
    fn coordinates_outside_the_globe_are_refused() {
        assert!(Coordinates::from_degrees(91.0, 0.0, 0).is_none());
        assert!(Coordinates::from_degrees(0.0, -180.5, 0).is_none());
        assert!(Coordinates::from_degrees(f64::NAN, 0.0, 0).is_none());
    }

    proptest! {
        #[test]
        fn distance_is_a_symmetric_bounded_measure(
            a in (-900_000i32..=900_000, -1_800_000i32..=1_800_000),
            b in (-900_000i32..=900_000, -1_800_000i32..=1_800_000),
        ) {
            let p = Coordinates { latitude_e4: a.0, longitude_e4: a.1, radius_km: 0 };
            let q = Coordinates { latitude_e4: b.0, longitude_e4: b.1, radius_km: 0 };
            let d = p.distance_km(&q);
            prop_assert!((0.0..=std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6).contains(&d));
            prop_assert!((d - q.distance_km(&p)).abs() < 1e-6);
            prop_assert!(p.distance_km(&p) < 1e-6);
        }

        #[test]
        fn more_time_never_makes_travel_impossible(
            minutes in 0i64..10_000,
            more in 0i64..10_000,
            lat in -900_000i32..=900_000,
            lon in -1_800_000i32..=1_800_000,
        ) {
            let to = Whereabouts {
                country: Some("ES".into()),
                coordinates: Some(Coordinates { latitude_e4: lat, longitude_e4: lon, radius_km: 10 }),
            };
            let at = |m: i64| PastSignIn { whereabouts: bogota(), at: AT - time::Duration::minutes(m) };
            let known = ["CO".to_owned(), "ES".to_owned()];
            let sooner = anomalies(&known, Some(&at(minutes)), &to, AT).len();
            let later = anomalies(&known, Some(&at(minutes + more)), &to, AT).len();
            prop_assert!(later <= sooner);
        }
    }
}
