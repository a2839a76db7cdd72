//! Shared vocabulary across the FFI: points, photo references, bilingual text, and the macro
//! that mirrors the core's closed sets as uniffi enums. Plain data and conversions only.

use firegrid_core::vocab as domain;

/// Declares a uniffi enum mirroring a unit-variant enum of the core, with conversions both
/// ways. The matches are exhaustive on purpose: a value added to the core fails this build
/// until the surface mirrors it.
macro_rules! mirror_enum {
    (
        $(#[$meta:meta])*
        $name:ident = $core:path {
            $($(#[$vmeta:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                type Core = $core;
                match v {
                    $(Core::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                type Core = $core;
                match v {
                    $($name::$variant => Core::$variant),+
                }
            }
        }
    };
}
pub(crate) use mirror_enum;

/// Converts every element of a list (core → FFI or FFI → core).
pub(crate) fn map_all<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

/// A WGS-84 position, as the phone reports it.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoPoint {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
    /// Horizontal accuracy in metres, when known.
    #[uniffi(default = None)]
    pub accuracy_m: Option<f64>,
}

impl From<domain::GeoPoint> for GeoPoint {
    fn from(p: domain::GeoPoint) -> Self {
        GeoPoint {
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.accuracy_m,
        }
    }
}

impl From<GeoPoint> for domain::GeoPoint {
    fn from(p: GeoPoint) -> Self {
        domain::GeoPoint {
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.accuracy_m,
        }
    }
}

/// A reference to a photo stored outside the records, addressed by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoRef {
    /// Lower-case hex SHA-256 (64 digits) of the stored image bytes.
    pub sha256: String,
    /// Capture time in ms since the Unix epoch (device clock), when known.
    #[uniffi(default = None)]
    pub captured_at_ms: Option<i64>,
    /// Where the photo was taken, when the worker allowed location.
    #[uniffi(default = None)]
    pub location: Option<GeoPoint>,
}

impl From<domain::PhotoRef> for PhotoRef {
    fn from(p: domain::PhotoRef) -> Self {
        PhotoRef {
            sha256: p.sha256,
            captured_at_ms: p.captured_at_ms,
            location: p.location.map(Into::into),
        }
    }
}

impl From<PhotoRef> for domain::PhotoRef {
    fn from(p: PhotoRef) -> Self {
        domain::PhotoRef {
            sha256: p.sha256,
            captured_at_ms: p.captured_at_ms,
            location: p.location.map(Into::into),
        }
    }
}

/// A text every user sees, in zh-CN (primary) and English.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Localized {
    /// Simplified Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl From<domain::Localized> for Localized {
    fn from(t: domain::Localized) -> Self {
        Localized { zh: t.zh, en: t.en }
    }
}
