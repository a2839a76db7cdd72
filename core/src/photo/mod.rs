//! Evidence photos on the device: from the camera's file to a small, upright, metadata-free
//! JPEG stored by its SHA-256 (issue #5, device side).
//!
//! [`process`] takes the bytes the camera wrote (JPEG or PNG) and returns a [`Processed`]
//! photo: decoded, turned upright by its Exif orientation, scaled to at most
//! [`PhotoLimits::long_side`] on the long side, re-encoded as JPEG at the highest quality of a
//! short ladder (82, 75, 68, 60) that fits [`PhotoLimits::target_bytes`], plus a thumbnail.
//! [`BlobStore`] keeps the results on disk, content-addressed. A hazard or inspection
//! document only holds a [`PhotoRef`] (hash, capture time, place); the bytes travel apart.
//!
//! Design choices:
//! - **No Exif in the output, ever.** The output is a fresh encode of the pixels, so nothing
//!   of the original's metadata survives: not the phone's serial number, owner name or
//!   software, not the embedded full-size thumbnail (which would show the photo before any
//!   crop), and not the GPS position. The facts the product needs — capture time and, only if
//!   the worker allows it (`keep_location`), the position — are read once and returned as
//!   typed fields, which the app puts in the [`PhotoRef`] where the access rules apply. The
//!   orientation is applied to the pixels, so no viewer needs a tag to show it upright. Only
//!   the ICC colour profile is carried over (when under 64 KiB): it holds no personal data,
//!   and without it the wide-gamut (Display P3) photos of recent phones look washed out.
//! - **Content addressing.** A photo's name is the SHA-256 of its processed bytes: storing
//!   is idempotent (the same photo attached twice, or received twice by sync, is one file),
//!   every read re-checks the hash so a corrupt file is never shown as evidence, and the hash
//!   in a synced document pins exactly which bytes it refers to.
//! - **Thumbnails** are derived data: [`BlobStore`] keeps them under `thumbs/`, keyed by the
//!   photo's hash (so a [`PhotoRef`] is enough to find one), and rebuilds a missing or
//!   damaged one from the photo. They are never evidence and need not be synced.
//! - **Untrusted input.** A photo may come from the gallery or another app. The file size and
//!   the pixel count read from the header are checked before any pixel is decoded (a 100 kB
//!   PNG can claim 100 000 × 100 000 pixels), the decoder gets an allocation limit, a JPEG
//!   cut short is refused instead of being filled with grey, and a panic inside a decoder is
//!   turned into an error. HEIC, which the pure-Rust decoders cannot read, is refused with
//!   [`Error::UnsupportedFormat`] so the app can convert it with the platform's codec.
//! - **Pure Rust.** `image` with only its JPEG (zune-jpeg) and PNG codecs, `kamadak-exif`,
//!   `sha2`, `fs4`: no C library, so the core cross-compiles to Android and iOS unchanged.
//!
//! It must not know about documents or the network: attaching a [`PhotoRef`] is the store's
//! job, uploading the bytes is sync's.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageReader, RgbImage};
use sha2::{Digest, Sha256};

use crate::vocab::{GeoPoint, PhotoRef};
use crate::{Error, Result};

mod blob;
mod format;
mod metadata;

pub use blob::BlobStore;

/// The JPEG qualities tried in turn, best first, until the photo fits the target size.
pub const QUALITY_LADDER: [u8; 4] = [82, 75, 68, 60];
/// The JPEG quality of thumbnails.
pub const THUMB_QUALITY: u8 = 75;
/// The resampling filter for the last step of scaling down, after a whole-factor box average
/// (see [`downscale`]): linear, free of the ringing of sharper kernels, and the fastest
/// proper filter measured (`core/examples/photo_bench.rs`).
const FILTER: FilterType = FilterType::Triangle;
/// ICC profiles larger than this are dropped (a phone's profile is well under 4 KiB).
const MAX_ICC_BYTES: usize = 64 * 1024;
/// When even the lowest quality is over the target, the photo is scaled down again, at most
/// this many times.
const MAX_SHRINKS: u32 = 3;
/// Never scale below this long side to meet the byte target.
const MIN_LONG_SIDE: u32 = 480;

/// The bounds of the pipeline: what it accepts and what it produces.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoLimits {
    /// The largest input file accepted, in bytes (default 40 MiB).
    pub max_input_bytes: u64,
    /// The most pixels (width × height, from the header) an input may have (default
    /// 50 megapixels). Checked before decoding: refuses decompression bombs.
    pub max_pixels: u64,
    /// The output's long side in pixels, at most (default 1600). Smaller photos are never
    /// scaled up.
    pub long_side: u32,
    /// The thumbnail's long side in pixels, at most (default 256).
    pub thumb_side: u32,
    /// The output JPEG's size goal in bytes (default 400 000): the quality steps down, and as
    /// a last resort the size, until the photo fits.
    pub target_bytes: usize,
    /// The UTC offset, in minutes, of a capture time that carries no time zone (no
    /// `OffsetTimeOriginal`, no GPS time to infer it from). Default +480: China Standard Time
    /// (UTC+8, no daylight saving), where the product is used.
    pub assumed_utc_offset_min: i16,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits {
            max_input_bytes: 40 * 1024 * 1024,
            max_pixels: 50_000_000,
            long_side: 1600,
            thumb_side: 256,
            target_bytes: 400_000,
            assumed_utc_offset_min: 8 * 60,
        }
    }
}

impl PhotoLimits {
    /// Checks the limits make sense (every size positive, the offset within ±14 h).
    pub fn validate(&self) -> Result<()> {
        if self.max_input_bytes == 0 || self.max_pixels == 0 {
            return Err(Error::invalid(
                "photo_limits",
                "max_input_bytes and max_pixels must be positive",
            ));
        }
        if self.long_side == 0 || self.thumb_side == 0 || self.target_bytes == 0 {
            return Err(Error::invalid(
                "photo_limits",
                "long_side, thumb_side and target_bytes must be positive",
            ));
        }
        if self.assumed_utc_offset_min.abs() > 14 * 60 {
            return Err(Error::invalid(
                "photo_limits.assumed_utc_offset_min",
                "must be within ±14 hours",
            ));
        }
        Ok(())
    }

    /// The decoder's allocation budget: the decoded pixels at 4 bytes each (RGBA8), plus room
    /// for the decoder's own tables.
    fn decoder_budget(&self) -> u64 {
        self.max_pixels.saturating_mul(4).saturating_add(16 << 20)
    }
}

/// A photo ready to store and attach: the processed JPEG, its thumbnail, their hashes, and
/// the facts read from the original's Exif.
#[derive(Clone, PartialEq)]
pub struct Processed {
    /// The processed photo: JPEG, upright, long side ≤ [`PhotoLimits::long_side`], no Exif.
    pub image: Vec<u8>,
    /// The thumbnail: JPEG, long side ≤ [`PhotoLimits::thumb_side`], no Exif.
    pub thumbnail: Vec<u8>,
    /// Lower-case hex SHA-256 of `image`: the photo's name everywhere.
    pub sha256: String,
    /// Lower-case hex SHA-256 of `thumbnail`.
    pub thumb_sha256: String,
    /// Width of `image` in pixels.
    pub width: u32,
    /// Height of `image` in pixels.
    pub height: u32,
    /// The JPEG quality `image` was encoded with (one of [`QUALITY_LADDER`]).
    pub quality: u8,
    /// When the photo was taken (ms since the Unix epoch, device clock: display only), from
    /// `DateTimeOriginal` and its zone; `None` when the photo does not say.
    pub captured_at_ms: Option<i64>,
    /// Where the photo was taken, from its GPS tags; always `None` unless `keep_location`.
    pub location: Option<GeoPoint>,
}

impl std::fmt::Debug for Processed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes are summarised: a photo in a log line helps nobody.
        f.debug_struct("Processed")
            .field("image_bytes", &self.image.len())
            .field("thumbnail_bytes", &self.thumbnail.len())
            .field("sha256", &self.sha256)
            .field("thumb_sha256", &self.thumb_sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("quality", &self.quality)
            .field("captured_at_ms", &self.captured_at_ms)
            .field("has_location", &self.location.is_some())
            .finish()
    }
}

impl Processed {
    /// The reference to put in a document (inspection answer, hazard).
    pub fn photo_ref(&self) -> PhotoRef {
        PhotoRef {
            sha256: self.sha256.clone(),
            captured_at_ms: self.captured_at_ms,
            location: self.location,
        }
    }
}

/// Processes a photo as the camera (or the gallery) gave it. See the module documentation.
///
/// `keep_location`: whether the worker allows the photo's GPS position to be kept; when
/// `false` the position is not even returned.
///
/// Errors: [`Error::UnsupportedFormat`] for HEIC/HEIF, AVIF, WebP, GIF, TIFF, BMP;
/// [`Error::Invalid`] (field `photo`) for anything that is not an image, a file or a pixel
/// count over the limits, and a file that cannot be decoded (truncated, corrupt); field
/// `photo_limits` for nonsensical limits. Never panics.
pub fn process(input: &[u8], limits: &PhotoLimits, keep_location: bool) -> Result<Processed> {
    limits.validate()?;
    match catch_unwind(AssertUnwindSafe(|| {
        process_checked(input, limits, keep_location)
    })) {
        Ok(result) => result,
        // A decoder bug met by a crafted file: refuse the file, keep the app alive.
        Err(_) => Err(Error::invalid(
            "photo",
            "the image cannot be decoded (the decoder failed on this file)",
        )),
    }
}

fn process_checked(input: &[u8], limits: &PhotoLimits, keep_location: bool) -> Result<Processed> {
    if input.len() as u64 > limits.max_input_bytes {
        return Err(Error::invalid(
            "photo",
            format!(
                "the file is {} bytes; at most {} bytes are accepted",
                input.len(),
                limits.max_input_bytes
            ),
        ));
    }
    let format = format::sniff(input)?;
    if format == format::Format::Jpeg {
        format::check_jpeg_complete(input)?;
    }

    // Only the header is read here: the pixel count is checked before any pixel is decoded.
    let mut reader = ImageReader::with_format(Cursor::new(input), format.image_format());
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.decoder_budget());
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h, limits)?;
    if decoder.total_bytes() > limits.decoder_budget() {
        return Err(Error::invalid(
            "photo",
            "the image needs more memory to decode than allowed (too many pixels at this depth)",
        ));
    }

    // Exif and ICC are read from the header; a broken block only means "unknown".
    let facts = match decoder.exif_metadata() {
        Ok(Some(raw)) => metadata::read(&raw, limits.assumed_utc_offset_min),
        _ => metadata::ExifFacts::none(),
    };
    let icc = match decoder.icc_profile() {
        Ok(Some(p)) if !p.is_empty() && p.len() <= MAX_ICC_BYTES => Some(p),
        _ => None,
    };

    let decoded = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let rgb = into_rgb8(decoded);

    // Scale first, then turn upright: rotating the small image is cheaper, and the result is
    // the same (the long side does not depend on the orientation).
    let (tw, th) = fit(rgb.width(), rgb.height(), limits.long_side);
    let mut img = downscale(DynamicImage::ImageRgb8(rgb), tw, th);
    if let Some(o) = Orientation::from_exif(facts.orientation) {
        img.apply_orientation(o);
    }

    let (image, quality, img) = encode_to_target(img, limits.target_bytes, icc.as_deref())?;
    let thumbnail = make_thumbnail(&img, limits.thumb_side, icc.as_deref())?;
    Ok(Processed {
        sha256: sha256_hex(&image),
        thumb_sha256: sha256_hex(&thumbnail),
        width: img.width(),
        height: img.height(),
        image,
        thumbnail,
        quality,
        captured_at_ms: facts.captured_at_ms,
        location: if keep_location { facts.location } else { None },
    })
}

fn check_pixels(w: u32, h: u32, limits: &PhotoLimits) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(Error::invalid("photo", "the image has no pixels"));
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(Error::invalid(
            "photo",
            format!(
                "the image is {w} × {h} pixels ({} megapixels); at most {} megapixels are accepted",
                pixels / 1_000_000,
                limits.max_pixels / 1_000_000
            ),
        ));
    }
    Ok(())
}

fn decode_error(e: ImageError) -> Error {
    match e {
        ImageError::Limits(_) => Error::invalid(
            "photo",
            "the image needs more memory to decode than allowed",
        ),
        e => Error::invalid("photo", format!("the image cannot be decoded: {e}")),
    }
}

/// 8-bit RGB; transparent pixels (PNG screenshots) are laid on white, not black.
fn into_rgb8(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other if other.color().has_alpha() => {
            let rgba = other.into_rgba8();
            let (w, h) = rgba.dimensions();
            let mut raw = rgba.into_raw();
            let mut out = 0;
            for i in (0..raw.len()).step_by(4) {
                let a = u32::from(raw[i + 3]);
                for c in 0..3 {
                    let v = (u32::from(raw[i + c]) * a + 255 * (255 - a) + 127) / 255;
                    // v ≤ 255 by construction.
                    raw[out + c] = u8::try_from(v).unwrap_or(u8::MAX);
                }
                out += 3;
            }
            raw.truncate(out);
            // The buffer holds exactly w × h × 3 bytes, so this cannot fail; a blank image
            // of the right size is returned rather than a panic if it ever did.
            match RgbImage::from_raw(w, h, raw) {
                Some(rgb) => rgb,
                None => RgbImage::new(w, h),
            }
        }
        other => other.into_rgb8(),
    }
}

/// The size within a `side` × `side` box, same aspect ratio, never larger than the original,
/// never zero.
fn fit(w: u32, h: u32, side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= side {
        return (w, h);
    }
    let scale = |v: u32| -> u32 {
        let scaled = (u64::from(v) * u64::from(side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(side).clamp(1, side)
    };
    (scale(w), scale(h))
}

/// Scales `img` down to exactly `tw` × `th` (which must not be larger): first by the largest
/// whole factor k that fits, averaging k × k blocks (exact, fast, and it frees the full-size
/// image early), then the rest of the way with the linear filter. Against the filter alone on
/// 4000 × 3000 → 1600 × 1200 this is about as sharp, faster, and needs a quarter of the
/// memory (the filter's intermediate holds 16 bytes per pixel).
fn downscale(img: DynamicImage, tw: u32, th: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if (w, h) == (tw, th) {
        return img;
    }
    let k = (w / tw.max(1)).min(h / th.max(1));
    let img = if k >= 2 {
        let smaller = img.thumbnail_exact(w / k, h / k);
        // Free the full-size pixels before the filter allocates its intermediate.
        drop(img);
        smaller
    } else {
        img
    };
    if (img.width(), img.height()) == (tw, th) {
        img
    } else {
        img.resize_exact(tw, th, FILTER)
    }
}

fn encode_jpeg(img: &DynamicImage, quality: u8, icc: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(img.width() as usize * img.height() as usize / 4);
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(icc) = icc {
        // Unsupported only for encoders without ICC support; the JPEG one has it.
        let _ = encoder.set_icc_profile(icc.to_vec());
    }
    let rgb = img.as_rgb8().map(|b| b.as_raw().as_slice());
    let converted;
    let bytes = match rgb {
        Some(b) => b,
        None => {
            converted = img.to_rgb8();
            converted.as_raw().as_slice()
        }
    };
    encoder
        .write_image(
            bytes,
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::invalid("photo", format!("the photo cannot be encoded: {e}")))?;
    Ok(out)
}

/// Encodes down the quality ladder until the bytes fit `target`; if even the lowest quality
/// does not, scales down (by the square root of the size ratio, at most [`MAX_SHRINKS`] times,
/// never below [`MIN_LONG_SIDE`]). Returns the bytes, the quality and the image encoded.
fn encode_to_target(
    mut img: DynamicImage,
    target: usize,
    icc: Option<&[u8]>,
) -> Result<(Vec<u8>, u8, DynamicImage)> {
    let lowest = QUALITY_LADDER[QUALITY_LADDER.len() - 1];
    let mut last = Vec::new();
    for &q in &QUALITY_LADDER {
        last = encode_jpeg(&img, q, icc)?;
        if last.len() <= target {
            return Ok((last, q, img));
        }
    }
    for _ in 0..MAX_SHRINKS {
        let long = img.width().max(img.height());
        if long <= MIN_LONG_SIDE {
            break;
        }
        // Bytes grow about linearly with pixels: aim a little under the target.
        let ratio = (target as f64 / last.len() as f64).sqrt() * 0.95;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "ratio is in (0, 1): the product is below `long`"
        )]
        let new_long = ((f64::from(long) * ratio) as u32).max(MIN_LONG_SIDE);
        let (w, h) = fit(img.width(), img.height(), new_long);
        img = downscale(img, w, h);
        last = encode_jpeg(&img, lowest, icc)?;
        if last.len() <= target {
            break;
        }
    }
    // Over the target only for pathological content: keep the photo rather than lose evidence.
    Ok((last, lowest, img))
}

fn make_thumbnail(img: &DynamicImage, side: u32, icc: Option<&[u8]>) -> Result<Vec<u8>> {
    let (w, h) = fit(img.width(), img.height(), side);
    if (w, h) == (img.width(), img.height()) {
        return encode_jpeg(img, THUMB_QUALITY, icc);
    }
    // The copy is of the processed photo (under 6 MB), and costs about a millisecond.
    encode_jpeg(&downscale(img.clone(), w, h), THUMB_QUALITY, icc)
}

/// Makes the thumbnail (long side ≤ `side`, JPEG) of a stored, processed photo: used by
/// [`BlobStore`] when a thumbnail file is missing or damaged, and by the server to serve the
/// thumbnail variant of a blob. The same pixel and memory limits as [`process`]; never panics.
pub fn thumbnail_of_stored(jpeg: &[u8], side: u32) -> Result<Vec<u8>> {
    let limits = PhotoLimits::default();
    catch_unwind(AssertUnwindSafe(|| {
        let mut reader = ImageReader::with_format(Cursor::new(jpeg), image::ImageFormat::Jpeg);
        let mut decoder_limits = image::Limits::default();
        decoder_limits.max_alloc = Some(limits.decoder_budget());
        reader.limits(decoder_limits);
        let mut decoder = reader.into_decoder().map_err(decode_error)?;
        let (w, h) = decoder.dimensions();
        check_pixels(w, h, &limits)?;
        let icc = match decoder.icc_profile() {
            Ok(Some(p)) if !p.is_empty() && p.len() <= MAX_ICC_BYTES => Some(p),
            _ => None,
        };
        let img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
        make_thumbnail(&img, side, icc.as_deref())
    }))
    .unwrap_or_else(|_| {
        Err(Error::invalid(
            "photo",
            "the stored photo cannot be decoded",
        ))
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    s
}

/// Checks `sha` is 64 lower-case hexadecimal digits (so it can name a file safely).
pub fn validate_sha256(field: &'static str, sha: &str) -> Result<()> {
    if sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be 64 lower-case hexadecimal digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 1600), (1600, 1200));
        assert_eq!(fit(3000, 4000, 1600), (1200, 1600));
        assert_eq!(fit(800, 600, 1600), (800, 600));
        assert_eq!(fit(100_000, 1, 1600), (1600, 1));
        assert_eq!(fit(1, 100_000, 256), (1, 256));
    }

    #[test]
    fn hashes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(validate_sha256("sha256", &sha256_hex(b"")).is_ok());
        for bad in [
            "",
            "../../etc/passwd",
            &"A".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(validate_sha256("sha256", bad).is_err(), "{bad}");
        }
    }
}
