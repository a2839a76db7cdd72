//! Telling what kind of file a photo is from its first bytes (never from a file name).
//!
//! Owns the decision "JPEG, PNG, a known image format we cannot decode, or not an image" and
//! the check that a JPEG is complete. It must not decode pixels.

use crate::{Error, Result};

/// The formats the pipeline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// JPEG (JFIF or Exif), baseline or progressive.
    Jpeg,
    /// PNG.
    Png,
}

impl Format {
    /// The `image` crate's name for the format.
    pub(crate) fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// HEIF brands of HEVC-coded images (HEIC) and image sequences.
const HEIC_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
];
/// AV1-coded HEIF (AVIF).
const AVIF_BRANDS: &[&[u8; 4]] = &[b"avif", b"avis"];
/// Generic HEIF brands: the codec is told by the compatible brands.
const HEIF_BRANDS: &[&[u8; 4]] = &[b"mif1", b"msf1", b"mif2", b"mif3"];

/// Sniffs the format of `input`.
///
/// JPEG and PNG are accepted; HEIC/HEIF, AVIF, WebP, GIF, TIFF and BMP give
/// [`Error::UnsupportedFormat`]; anything else is [`Error::Invalid`] ("not an image").
pub(crate) fn sniff(input: &[u8]) -> Result<Format> {
    if input.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if input.starts_with(PNG_SIGNATURE) {
        return Ok(Format::Png);
    }
    if let Some(format) = iso_media_image(input) {
        return Err(Error::UnsupportedFormat { format });
    }
    let other = if input.len() >= 12 && &input[0..4] == b"RIFF" && &input[8..12] == b"WEBP" {
        Some("WebP")
    } else if input.starts_with(b"GIF87a") || input.starts_with(b"GIF89a") {
        Some("GIF")
    } else if input.starts_with(b"II*\0") || input.starts_with(b"MM\0*") {
        Some("TIFF")
    } else if input.starts_with(b"BM")
        && input.len() >= 18
        // The DIB header's size: one of the known BMP header versions.
        && matches!(input[14..18], [12 | 40 | 52 | 56 | 64 | 108 | 124, 0, 0, 0])
    {
        Some("BMP")
    } else {
        None
    };
    match other {
        Some(format) => Err(Error::UnsupportedFormat { format }),
        None => Err(Error::invalid(
            "photo",
            "not an image: a JPEG or PNG file is expected",
        )),
    }
}

/// `Some("HEIC")` or `Some("AVIF")` when `input` is an ISO base media file (`ftyp` box first)
/// whose brands say it is a HEIF image; `None` otherwise (including videos).
fn iso_media_image(input: &[u8]) -> Option<&'static str> {
    if input.len() < 12 || &input[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
    let major: &[u8] = &input[8..12];
    // Compatible brands follow the major brand and the minor version, up to the box's end
    // (clamped to the input: a truncated or lying size must not read past it).
    let end = size.clamp(16, 16 + 4 * 64).min(input.len());
    let compatible: Vec<&[u8]> = if end > 16 {
        input[16..end].chunks_exact(4).collect()
    } else {
        Vec::new()
    };
    let is = |set: &[&[u8; 4]], brand: &[u8]| set.iter().any(|b| &b[..] == brand);
    if is(HEIC_BRANDS, major) {
        return Some("HEIC");
    }
    if is(AVIF_BRANDS, major) {
        return Some("AVIF");
    }
    let heif_anywhere = is(HEIF_BRANDS, major) || compatible.iter().any(|b| is(HEIF_BRANDS, b));
    if compatible.iter().any(|b| is(AVIF_BRANDS, b)) && heif_anywhere {
        return Some("AVIF");
    }
    if compatible.iter().any(|b| is(HEIC_BRANDS, b)) || heif_anywhere {
        return Some("HEIC");
    }
    None
}

/// Refuses a JPEG that stops before its end-of-image marker (a file cut short by a crash or a
/// failed copy): the decoder would fill the missing part with grey, and a half-grey photo must
/// not become evidence.
///
/// Walks the marker segments up to the first start-of-scan, then looks for EOI after it. The
/// entropy-coded data cannot contain `FF D9` (a coded `FF` is always followed by `00`), and an
/// embedded Exif thumbnail's EOI lies before the scan, so the first `FF D9` after the scan
/// header is the image's end. Bytes after EOI (a motion photo's video) are allowed.
pub(crate) fn check_jpeg_complete(input: &[u8]) -> Result<()> {
    let truncated = || Error::invalid("photo", "the JPEG file is truncated or corrupt");
    let mut pos = 2; // after SOI
    loop {
        // Markers may be preceded by any number of fill bytes 0xFF.
        while input.get(pos) == Some(&0xFF) && input.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (input.get(pos), input.get(pos + 1)) else {
            return Err(truncated());
        };
        pos += 2;
        match marker {
            // Standalone markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Err(truncated()), // EOI before any scan: no image data
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (input.get(pos), input.get(pos + 1)) else {
            return Err(truncated());
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return Err(truncated());
        }
        pos += len;
        if marker == 0xDA {
            break;
        }
        if pos > input.len() {
            return Err(truncated());
        }
    }
    let rest = input.get(pos..).unwrap_or_default();
    if rest.windows(2).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(truncated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut v = Vec::new();
        v.extend_from_slice(&u32::try_from(size).unwrap_or(0).to_be_bytes());
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0, 0, 0, 0]);
        for b in compatible {
            v.extend_from_slice(&b[..]);
        }
        v.extend_from_slice(&[0; 32]);
        v
    }

    fn unsupported(input: &[u8]) -> Option<&'static str> {
        match sniff(input) {
            Err(Error::UnsupportedFormat { format }) => Some(format),
            _ => None,
        }
    }

    #[test]
    fn heif_family_is_told_apart() {
        assert_eq!(
            unsupported(&ftyp(b"heic", &[b"mif1", b"heic"])),
            Some("HEIC")
        );
        assert_eq!(
            unsupported(&ftyp(b"mif1", &[b"mif1", b"heic"])),
            Some("HEIC")
        );
        assert_eq!(unsupported(&ftyp(b"mif1", &[b"mif1"])), Some("HEIC"));
        assert_eq!(unsupported(&ftyp(b"hevc", &[])), Some("HEIC"));
        assert_eq!(
            unsupported(&ftyp(b"avif", &[b"mif1", b"avif"])),
            Some("AVIF")
        );
        assert_eq!(unsupported(&ftyp(b"mif1", &[b"avif"])), Some("AVIF"));
        // An MP4 video is not an image.
        assert!(matches!(
            sniff(&ftyp(b"isom", &[b"isom", b"mp41"])),
            Err(Error::Invalid { .. })
        ));
        // A lying box size never reads past the input.
        let mut lying = ftyp(b"mif1", &[b"heic"]);
        lying[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(unsupported(&lying), Some("HEIC"));
        assert!(matches!(
            sniff(&lying[..13]),
            Err(Error::UnsupportedFormat { .. })
        ));
    }

    #[test]
    fn other_formats() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).ok(), Some(Format::Jpeg));
        assert_eq!(sniff(PNG_SIGNATURE).ok(), Some(Format::Png));
        assert_eq!(unsupported(b"RIFF\0\0\0\0WEBPVP8 "), Some("WebP"));
        assert_eq!(unsupported(b"GIF89a\x01\0\x01\0"), Some("GIF"));
        assert_eq!(unsupported(b"II*\0\x08\0\0\0"), Some("TIFF"));
        assert_eq!(
            unsupported(b"BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"),
            Some("BMP")
        );
        assert!(matches!(
            sniff(b"BMW and other cars"),
            Err(Error::Invalid { .. })
        ));
        for junk in [&b""[..], b"\xFF", b"\xFF\xD8", b"hello world", b"%PDF-1.7"] {
            assert!(
                matches!(sniff(junk), Err(Error::Invalid { .. })),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn jpeg_completeness() {
        // SOI, APP0 (len 4), SOS (len 3), data, EOI.
        let ok = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xDA, 0, 3, 9, 1, 2, 0xFF, 0, 3, 0xFF, 0xD9,
        ];
        assert!(check_jpeg_complete(&ok).is_ok());
        for cut in 0..ok.len() - 1 {
            assert!(check_jpeg_complete(&ok[..cut]).is_err(), "cut at {cut}");
        }
        // An EOI inside a segment before the scan (an Exif thumbnail) does not count.
        let thumb_eoi = [
            0xFF, 0xD8, 0xFF, 0xE1, 0, 4, 0xFF, 0xD9, 0xFF, 0xDA, 0, 2, 1, 2,
        ];
        assert!(check_jpeg_complete(&thumb_eoi).is_err());
    }
}
