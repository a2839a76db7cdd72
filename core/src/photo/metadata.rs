//! What the pipeline reads from a photo's Exif block: orientation, capture time, position.
//!
//! Owns the interpretation of those tags. It must not fail a photo: Exif is written by
//! hundreds of camera apps, often wrongly, and a broken tag only means "unknown" here. Nothing
//! read here is copied into the output image.

use exif::{Exif, In, Tag, Value};

use crate::vocab::GeoPoint;

/// The Exif facts the pipeline uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ExifFacts {
    /// Exif orientation 1–8 (1 when absent or invalid).
    pub(crate) orientation: u8,
    /// Capture time in ms since the Unix epoch.
    pub(crate) captured_at_ms: Option<i64>,
    /// Where the photo was taken (WGS-84 as written by the phone).
    pub(crate) location: Option<GeoPoint>,
}

/// Reads the facts from a raw Exif block (TIFF structure, with or without the `Exif\0\0`
/// prefix of a JPEG APP1 segment). `assumed_offset_min` is the UTC offset used when the photo
/// tells no time zone (neither `OffsetTimeOriginal` nor a GPS time to infer it from).
pub(crate) fn read(raw: &[u8], assumed_offset_min: i16) -> ExifFacts {
    let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let exif = match reader.read_raw(raw.to_vec()) {
        Ok(exif) => exif,
        // With continue_on_error, a partly broken block still yields what could be read.
        Err(e) => match e.distill_partial_result(|_| ()) {
            Ok(exif) => exif,
            Err(_) => return ExifFacts::none(),
        },
    };
    ExifFacts {
        orientation: orientation(&exif),
        captured_at_ms: captured_at_ms(&exif, assumed_offset_min),
        location: location(&exif),
    }
}

impl ExifFacts {
    /// No Exif: upright, time and place unknown.
    pub(crate) fn none() -> Self {
        ExifFacts {
            orientation: 1,
            captured_at_ms: None,
            location: None,
        }
    }
}

fn orientation(exif: &Exif) -> u8 {
    exif.get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1)
}

fn ascii(exif: &Exif, tag: Tag) -> Option<&[u8]> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => parts.first().map(Vec::as_slice),
        _ => None,
    }
}

fn rationals(exif: &Exif, tag: Tag) -> Option<Vec<f64>> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Rational(v) => Some(v.iter().map(exif::Rational::to_f64).collect()),
        _ => None,
    }
}

/// `DateTimeOriginal` (+ `SubSecTimeOriginal`) in the zone of `OffsetTimeOriginal`; without
/// it, in the zone inferred from the GPS time (UTC) when the photo has one; else in the
/// assumed zone.
fn captured_at_ms(exif: &Exif, assumed_offset_min: i16) -> Option<i64> {
    let mut dt = exif::DateTime::from_ascii(ascii(exif, Tag::DateTimeOriginal)?).ok()?;
    if let Some(sub) = ascii(exif, Tag::SubSecTimeOriginal) {
        // A malformed sub-second field only loses the milliseconds.
        if dt.parse_subsec(sub).is_err() {
            dt.nanosecond = None;
        }
    }
    let local_ms = local_ms(
        i64::from(dt.year),
        i64::from(dt.month),
        i64::from(dt.day),
        i64::from(dt.hour),
        i64::from(dt.minute),
        i64::from(dt.second),
    )? + i64::from(dt.nanosecond.unwrap_or(0) / 1_000_000);

    let offset_min = ascii(exif, Tag::OffsetTimeOriginal)
        .and_then(|o| dt.parse_offset(o).ok().and(dt.offset))
        .filter(|o| o.abs() <= 14 * 60)
        .or_else(|| gps_offset_min(exif, local_ms))
        .unwrap_or(assumed_offset_min);
    Some(local_ms - i64::from(offset_min) * 60_000)
}

/// The zone offset implied by the GPS time stamp (always UTC), rounded to 15 minutes, when it
/// is plausible (within ±14 h of the local capture time).
fn gps_offset_min(exif: &Exif, local_ms: i64) -> Option<i16> {
    let date = ascii(exif, Tag::GPSDateStamp)?;
    let time = rationals(exif, Tag::GPSTimeStamp)?;
    if date.len() < 10 || time.len() < 3 {
        return None;
    }
    let num = |s: &[u8]| -> Option<i64> { std::str::from_utf8(s).ok()?.parse().ok() };
    let (y, mo, d) = (num(&date[0..4])?, num(&date[5..7])?, num(&date[8..10])?);
    if !time.iter().all(|t| t.is_finite() && *t >= 0.0) {
        return None;
    }
    // Whole seconds: the clamped values fit, and the fraction is irrelevant to a zone.
    let (h, mi, s) = (time[0].min(24.0), time[1].min(60.0), time[2].min(61.0));
    #[allow(
        clippy::cast_possible_truncation,
        reason = "clamped to small ranges above"
    )]
    let utc_ms = local_ms_unchecked(y, mo, d, h as i64, mi as i64, s as i64)?;
    let diff_min = (local_ms - utc_ms) / 60_000;
    let quarter = 15 * ((diff_min + diff_min.signum() * 7) / 15);
    if quarter.abs() > 14 * 60 {
        return None;
    }
    i16::try_from(quarter).ok()
}

/// Milliseconds since the epoch of a civil date-time read as UTC, `None` when a field is out of
/// range or the year is implausible for a photo (before 1970 or after 2200).
fn local_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1970..=2200).contains(&y) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    local_ms_unchecked(y, mo, d, h, mi, s.min(59))
}

/// Like [`local_ms`] with only the date checked (for GPS times, whose fields were clamped).
fn local_ms_unchecked(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || !(1900..=2200).contains(&y) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The GPS position, when both coordinates are present, valid, and not the (0, 0) that some
/// cameras write when they have no fix.
fn location(exif: &Exif) -> Option<GeoPoint> {
    let coord = |value: Tag, reference: Tag, negative: u8| -> Option<f64> {
        let parts = rationals(exif, value)?;
        let deg = parts.first()?
            + parts.get(1).unwrap_or(&0.0) / 60.0
            + parts.get(2).unwrap_or(&0.0) / 3600.0;
        let sign = match ascii(exif, reference)?.first()? {
            c if c.eq_ignore_ascii_case(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg)
    };
    let lat = coord(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let lon = coord(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    let accuracy_m = rationals(exif, Tag::GPSHPositioningError)
        .and_then(|v| v.first().copied())
        .filter(|a| a.is_finite() && *a >= 0.0);
    let point = GeoPoint {
        lat,
        lon,
        accuracy_m,
    };
    if point.validate().is_err() || (lat == 0.0 && lon == 0.0) {
        return None;
    }
    Some(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2024-05-06 07:08:09 UTC = 1714979289 s.
        assert_eq!(local_ms(2024, 5, 6, 7, 8, 9), Some(1_714_979_289_000));
        assert!(local_ms(2024, 2, 29, 0, 0, 0).is_some());
        assert_eq!(local_ms(2023, 2, 29, 0, 0, 0), None);
        assert_eq!(local_ms(2023, 13, 1, 0, 0, 0), None);
        assert_eq!(local_ms(2023, 1, 1, 24, 0, 0), None);
        assert_eq!(local_ms(1969, 12, 31, 0, 0, 0), None);
    }

    #[test]
    fn garbage_exif_is_no_exif() {
        for raw in [
            &b""[..],
            b"Exif\0\0",
            b"II*\0\xff\xff\xff\xff",
            b"MM\0*\0\0\0\x08\xff\xff",
        ] {
            assert_eq!(read(raw, 480), ExifFacts::none());
        }
    }
}
