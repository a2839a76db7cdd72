//! Shared vocabulary types: closed sets of names (`string_enum!`), bilingual text, points, photos.
//!
//! A closed set is written once here and has one spelling everywhere: in fixture JSON, in SQLite
//! columns and inside automerge documents (as a scalar string replaced whole). Nothing here does I/O.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Declares an enum of unit variants spelled as snake_case strings everywhere: `as_str`,
/// `FromStr`, `Display`, serde and autosurgeon all use the same spelling.
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's one spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::Error::Invalid {
                        field: stringify!($name),
                        reason: format!(
                            "unknown value {other:?}; expected one of {}",
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(|e: $crate::Error| ::serde::de::Error::custom(e))
            }
        }

        impl ::autosurgeon::Reconcile for $name {
            type Key<'a> = ::autosurgeon::reconcile::NoKey;
            fn reconcile<R: ::autosurgeon::Reconciler>(&self, reconciler: R) -> ::std::result::Result<(), R::Error> {
                self.as_str().reconcile(reconciler)
            }
        }

        impl ::autosurgeon::Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> ::std::result::Result<Self, ::autosurgeon::HydrateError> {
                s.parse().map_err(|_| ::autosurgeon::HydrateError::unexpected(
                    concat!("a ", stringify!($name)),
                    s.to_string(),
                ))
            }
        }

        impl $crate::hydrate::FromDoc for $name {
            fn from_found<D: ::automerge::ReadDoc>(
                _doc: &D,
                found: $crate::hydrate::Found<'_>,
            ) -> ::std::result::Result<Self, $crate::hydrate::Problem> {
                $crate::hydrate::from_string(found, concat!("a ", stringify!($name)), |s| {
                    s.parse().ok()
                })
            }
        }
    };
}
pub(crate) use string_enum;

/// A text every user sees, in zh-CN (primary) and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// Simplified Chinese, the primary language.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Localized {
    /// The text in the given language (`"zh…"` gives Chinese, anything else English).
    pub fn get(&self, lang: &str) -> &str {
        if lang.starts_with("zh") {
            &self.zh
        } else {
            &self.en
        }
    }

    /// Whether both languages have text.
    pub fn is_complete(&self) -> bool {
        !self.zh.trim().is_empty() && !self.en.trim().is_empty()
    }
}

/// A WGS-84 position, as a phone reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct GeoPoint {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
    /// Horizontal accuracy in metres, when known.
    #[serde(default)]
    pub accuracy_m: Option<f64>,
}

impl GeoPoint {
    /// Checks the coordinates are finite and in range.
    pub fn validate(&self) -> Result<()> {
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            return Err(Error::invalid("location.lat", "must be between -90 and 90"));
        }
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            return Err(Error::invalid(
                "location.lon",
                "must be between -180 and 180",
            ));
        }
        if let Some(a) = self.accuracy_m
            && !(a.is_finite() && a >= 0.0)
        {
            return Err(Error::invalid(
                "location.accuracy_m",
                "must be a non-negative number",
            ));
        }
        Ok(())
    }

    /// Great-circle distance in metres (haversine).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_M: f64 = 6_371_008.8;
        let (la1, la2) = (self.lat.to_radians(), other.lat.to_radians());
        let dla = la2 - la1;
        let dlo = (other.lon - self.lon).to_radians();
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().asin()
    }
}

/// A reference to a photo stored outside the documents, addressed by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct PhotoRef {
    /// Lower-case hex SHA-256 of the stored (processed) image bytes.
    #[key]
    pub sha256: String,
    /// Capture time in milliseconds since the Unix epoch (device clock), when known.
    pub captured_at_ms: Option<i64>,
    /// Where the photo was taken, when the worker allowed location.
    pub location: Option<GeoPoint>,
}

impl PhotoRef {
    /// Checks the hash is 64 lower-case hex digits and the location is valid.
    pub fn validate(&self) -> Result<()> {
        let ok = self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(Error::invalid(
                "photo.sha256",
                "must be 64 lower-case hexadecimal digits",
            ));
        }
        if let Some(loc) = &self.location {
            loc.validate()?;
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch by this device's clock (display only: never used to order
/// history, which comes from the documents' causal order and, after sync, the server's clock).
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Checks an id given by a caller: 1–128 characters of `[A-Za-z0-9._:-]`.
pub fn validate_id(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 128 {
        return Err(Error::invalid(field, "must be 1 to 128 characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
    {
        return Err(Error::invalid(
            field,
            "may contain only letters, digits and . _ - :",
        ));
    }
    Ok(())
}

/// Makes a new random record id with a kind prefix, e.g. `insp.3f2a…`.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazard::Severity;

    #[test]
    fn closed_sets_have_one_spelling_everywhere() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            let mut doc = automerge::AutoCommit::new();
            #[derive(Reconcile, Hydrate, PartialEq, Debug)]
            struct W {
                s: Severity,
            }
            autosurgeon::reconcile(&mut doc, &W { s: *s }).unwrap();
            assert_eq!(autosurgeon::hydrate::<_, W>(&doc).unwrap(), W { s: *s });
        }
        let e = "catastrophic".parse::<Severity>().unwrap_err().to_string();
        assert!(e.contains("general, serious, major_candidate"), "{e}");
    }

    #[test]
    fn ids_and_hashes_are_checked() {
        assert!(validate_id("id", "prem.0001").is_ok());
        assert!(validate_id("id", "").is_err());
        assert!(validate_id("id", "a b").is_err());
        assert!(validate_id("id", &"x".repeat(129)).is_err());
        let ok = PhotoRef {
            sha256: "0".repeat(64),
            captured_at_ms: None,
            location: None,
        };
        assert!(ok.validate().is_ok());
        let upper = PhotoRef {
            sha256: "A".repeat(64),
            ..ok
        };
        assert!(upper.validate().is_err());
        let bad_loc = PhotoRef {
            location: Some(GeoPoint {
                lat: 0.0,
                lon: f64::NAN,
                accuracy_m: None,
            }),
            ..ok
        };
        assert!(bad_loc.validate().is_err());
    }

    #[test]
    fn distances_are_in_metres() {
        let a = GeoPoint {
            lat: 31.25,
            lon: 121.40,
            accuracy_m: None,
        };
        let b = GeoPoint {
            lat: 31.25,
            lon: 121.41,
            accuracy_m: Some(5.0),
        };
        let d = a.distance_m(&b);
        assert!((940.0..960.0).contains(&d), "{d}");
        assert_eq!(a.distance_m(&a), 0.0);
    }

    #[test]
    fn localized_text_falls_back_to_english_for_other_languages() {
        let t = Localized {
            zh: "消防".into(),
            en: "fire".into(),
        };
        assert_eq!(t.get("zh-CN"), "消防");
        assert_eq!(t.get("en"), "fire");
        assert_eq!(t.get("fr"), "fire");
    }
}
