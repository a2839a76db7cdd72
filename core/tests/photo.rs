//! The evidence-photo pipeline (`firegrid_core::photo`): orientation, size bounds, metadata
//! removal, capture time and place, refusal of bombs, junk, truncated files and HEIC, and the
//! content-addressed blob store.
//!
//! Every image is generated here with `image`; the Exif blocks are written by hand (a small
//! TIFF writer below) and spliced into the JPEGs after SOI. The files in `fixtures/photos/`
//! come from the same code: `cargo test -p firegrid-core --test photo -- --ignored
//! write_fixtures` rewrites them.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::path::{Path, PathBuf};

use firegrid_core::Error;
use firegrid_core::photo::{BlobStore, PhotoLimits, Processed, QUALITY_LADDER, process};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage, RgbaImage};

// ---------------------------------------------------------------------------------------------
// Building inputs

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().into_rgb8()
}

const RED: [u8; 3] = [230, 20, 20];
const GREEN: [u8; 3] = [20, 200, 20];
const BLUE: [u8; 3] = [20, 20, 230];
const WHITE: [u8; 3] = [250, 250, 250];

/// Four quadrants: red top left, green top right, blue bottom left, white bottom right.
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb(match (x < w / 2, y < h / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    })
}

/// A photo-like picture at full phone resolution: lit surfaces, a fine texture, and strong
/// sensor noise (much harder to compress than most real photos).
fn photo_like(w: u32, h: u32, seed: u64, noise_amp: i32) -> RgbImage {
    let mut state = seed | 1;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    RgbImage::from_fn(w, h, |x, y| {
        let r = rand();
        let light = 140 + (110 * (w - x) / w) as i32 - (40 * y / h) as i32;
        let mut c = [light, light - 10, light - 30];
        if (w / 10..w / 3).contains(&x) && (h / 5..h * 9 / 10).contains(&y) {
            c = [light / 2, light / 3, light / 4];
        }
        if x > w * 7 / 10 && y < h / 2 {
            let mortar = y % 48 < 5 || (x + (y / 48 % 2) * 60) % 120 < 5;
            c = if mortar {
                [200, 195, 185]
            } else {
                [150, 70, 50]
            };
        }
        let n = |k: u32| ((r >> k) & 0xFF) as i32 * noise_amp / 128 - noise_amp;
        Rgb([
            (c[0] + n(0)).clamp(0, 255) as u8,
            (c[1] + n(8)).clamp(0, 255) as u8,
            (c[2] + n(16)).clamp(0, 255) as u8,
        ])
    })
}

/// A TIFF field value.
enum V {
    Short(u16),
    Long(u32),
    Ascii(&'static str),
    Rationals(Vec<(u32, u32)>),
}

impl V {
    fn kind_count_bytes(&self) -> (u16, u32, Vec<u8>) {
        match self {
            V::Short(v) => (3, 1, v.to_le_bytes().to_vec()),
            V::Long(v) => (4, 1, v.to_le_bytes().to_vec()),
            V::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                (2, b.len() as u32, b)
            }
            V::Rationals(rs) => {
                let mut b = Vec::new();
                for (n, d) in rs {
                    b.extend_from_slice(&n.to_le_bytes());
                    b.extend_from_slice(&d.to_le_bytes());
                }
                (5, rs.len() as u32, b)
            }
        }
    }
}

fn ifd_size(entries: &[(u16, V)]) -> u32 {
    let data: usize = entries
        .iter()
        .map(|(_, v)| v.kind_count_bytes().2.len())
        .filter(|&n| n > 4)
        .map(|n| n + n % 2)
        .sum();
    (2 + 12 * entries.len() + 4 + data) as u32
}

fn write_ifd(out: &mut Vec<u8>, base: u32, entries: &mut [(u16, V)]) {
    entries.sort_by_key(|(t, _)| *t);
    let mut data_off = base + 2 + 12 * entries.len() as u32 + 4;
    let mut data = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, v) in entries.iter() {
        let (kind, count, mut bytes) = v.kind_count_bytes();
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        if bytes.len() <= 4 {
            bytes.resize(4, 0);
            out.extend_from_slice(&bytes);
        } else {
            out.extend_from_slice(&data_off.to_le_bytes());
            if bytes.len() % 2 == 1 {
                bytes.push(0);
            }
            data_off += bytes.len() as u32;
            data.extend_from_slice(&bytes);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&data);
}

/// A little-endian TIFF/Exif block: IFD0, the Exif IFD and the GPS IFD (each written only
/// when it has entries).
fn exif_tiff(mut ifd0: Vec<(u16, V)>, mut exif: Vec<(u16, V)>, mut gps: Vec<(u16, V)>) -> Vec<u8> {
    const EXIF_IFD: u16 = 0x8769;
    const GPS_IFD: u16 = 0x8825;
    let n0 = ifd0.len() + usize::from(!exif.is_empty()) + usize::from(!gps.is_empty());
    // The pointers are LONGs (inline), so IFD0's size does not depend on their values.
    let size0 = ifd_size(&ifd0) + 12 * (n0 - ifd0.len()) as u32;
    let exif_off = 8 + size0;
    let gps_off = exif_off + if exif.is_empty() { 0 } else { ifd_size(&exif) };
    if !exif.is_empty() {
        ifd0.push((EXIF_IFD, V::Long(exif_off)));
    }
    if !gps.is_empty() {
        ifd0.push((GPS_IFD, V::Long(gps_off)));
    }
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    write_ifd(&mut out, 8, &mut ifd0);
    assert_eq!(out.len() as u32, exif_off);
    if !exif.is_empty() {
        write_ifd(&mut out, exif_off, &mut exif);
    }
    assert_eq!(out.len() as u32, gps_off);
    if !gps.is_empty() {
        write_ifd(&mut out, gps_off, &mut gps);
    }
    out
}

/// Splices an APP1 Exif segment holding `tiff` right after the JPEG's SOI.
fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let len = u16::try_from(2 + 6 + tiff.len()).unwrap();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn orientation_only(o: u16) -> Vec<u8> {
    exif_tiff(vec![(0x0112, V::Short(o))], vec![], vec![])
}

const DATE_TIME_ORIGINAL: u16 = 0x9003;
const OFFSET_TIME_ORIGINAL: u16 = 0x9011;
const SUB_SEC_TIME_ORIGINAL: u16 = 0x9291;

/// 31°14′30″ N, 121°23′15.5″ E (Zhenru, Shanghai), ±5 m.
fn zhenru_gps(lat_ref: &'static str, lon_ref: &'static str) -> Vec<(u16, V)> {
    vec![
        (0x0001, V::Ascii(lat_ref)),
        (0x0002, V::Rationals(vec![(31, 1), (14, 1), (30, 1)])),
        (0x0003, V::Ascii(lon_ref)),
        (0x0004, V::Rationals(vec![(121, 1), (23, 1), (155, 10)])),
        (0x001F, V::Rationals(vec![(5, 1)])),
    ]
}

const ZHENRU_LAT: f64 = 31.0 + 14.0 / 60.0 + 30.0 / 3600.0;
const ZHENRU_LON: f64 = 121.0 + 23.0 / 60.0 + 15.5 / 3600.0;

/// A full Exif block as a phone writes it: orientation, make and model, capture time with
/// sub-seconds and zone, GPS.
fn full_exif(orientation: u16) -> Vec<u8> {
    exif_tiff(
        vec![
            (0x0112, V::Short(orientation)),
            (0x010F, V::Ascii("PhoneMaker")),
            (0x0110, V::Ascii("Model X SERIAL-1234")),
        ],
        vec![
            (DATE_TIME_ORIGINAL, V::Ascii("2024:05:06 15:08:09")),
            (OFFSET_TIME_ORIGINAL, V::Ascii("+08:00")),
            (SUB_SEC_TIME_ORIGINAL, V::Ascii("250")),
        ],
        zhenru_gps("N", "E"),
    )
}

/// 2024-05-06 07:08:09.250 UTC.
const CAPTURED_MS: i64 = 1_714_979_289_250;

/// The JPEG segments before the scan: (marker, payload).
fn segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut out = Vec::new();
    let mut pos = 2;
    while pos + 4 <= jpeg.len() {
        assert_eq!(jpeg[pos], 0xFF, "marker expected at {pos}");
        let marker = jpeg[pos + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        out.push((marker, jpeg[pos + 4..pos + 2 + len].to_vec()));
        if marker == 0xDA {
            break;
        }
        pos += 2 + len;
    }
    out
}

fn assert_no_exif(jpeg: &[u8]) {
    for (marker, payload) in segments(jpeg) {
        assert_ne!(
            marker, 0xE1,
            "an APP1 segment (Exif or XMP) is in the output"
        );
        assert!(
            !payload.starts_with(b"Exif"),
            "Exif payload in segment {marker:#x}"
        );
    }
    assert!(
        !jpeg.windows(6).any(|w| w == b"Exif\0\0"),
        "the Exif signature appears in the output"
    );
    for needle in [&b"SERIAL-1234"[..], b"PhoneMaker"] {
        assert!(!jpeg.windows(needle.len()).any(|w| w == needle));
    }
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 40)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/photos")
}

fn invalid_reason(r: Result<Processed, Error>) -> String {
    match r {
        Err(Error::Invalid { field, reason }) => {
            assert_eq!(field, "photo");
            reason
        }
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Orientation

/// Where the stored pixel shown at display position (x, y) comes from, for each Exif
/// orientation (stored size w × h). Written from the Exif definitions, independent of `image`.
fn stored_of_display(o: u16, x: u32, y: u32, w: u32, h: u32) -> (u32, u32) {
    match o {
        1 => (x, y),
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (y, h - 1 - x),
        7 => (w - 1 - y, h - 1 - x),
        8 => (w - 1 - y, x),
        _ => unreachable!(),
    }
}

#[test]
fn all_eight_orientations_come_out_upright() {
    let (w, h) = (320, 240);
    let source = quadrants(w, h);
    let plain = jpeg(&source, 95);
    for o in 1..=8u16 {
        let input = with_exif(&plain, &orientation_only(o));
        let p = process(&input, &PhotoLimits::default(), false).unwrap();
        let (dw, dh) = if o >= 5 { (h, w) } else { (w, h) };
        assert_eq!((p.width, p.height), (dw, dh), "orientation {o}");
        let out = decode(&p.image);
        assert_eq!(out.dimensions(), (dw, dh));
        // The centre of each display quadrant, and the corner pixels (one in from the edge).
        let points = [
            (dw / 4, dh / 4),
            (dw * 3 / 4, dh / 4),
            (dw / 4, dh * 3 / 4),
            (dw * 3 / 4, dh * 3 / 4),
            (1, 1),
            (dw - 2, 1),
            (1, dh - 2),
            (dw - 2, dh - 2),
        ];
        for (x, y) in points {
            let (sx, sy) = stored_of_display(o, x, y, w, h);
            let want = source.get_pixel(sx, sy).0;
            let got = out.get_pixel(x, y).0;
            assert!(
                close(got, want),
                "orientation {o}: display ({x},{y}) is {got:?}, stored ({sx},{sy}) is {want:?}"
            );
        }
        // The red quadrant ("marked corner") lands where the Exif definition says.
        let red_corner = match o {
            1 | 5 => (1, 1),
            2 | 6 => (dw - 2, 1),
            3 | 7 => (dw - 2, dh - 2),
            _ => (1, dh - 2),
        };
        assert!(
            close(out.get_pixel(red_corner.0, red_corner.1).0, RED),
            "orientation {o}"
        );
        assert_no_exif(&p.image);
    }
}

#[test]
fn invalid_orientation_values_are_upright() {
    let plain = jpeg(&quadrants(64, 48), 95);
    for o in [0u16, 9, 255, 65535] {
        let p = process(
            &with_exif(&plain, &orientation_only(o)),
            &PhotoLimits::default(),
            false,
        )
        .unwrap();
        assert_eq!((p.width, p.height), (64, 48));
        assert!(close(decode(&p.image).get_pixel(2, 2).0, RED));
    }
}

// ---------------------------------------------------------------------------------------------
// Size bounds, no metadata, capture time and place

#[test]
fn a_noisy_12_megapixel_photo_is_bounded() {
    let input = with_exif(&jpeg(&photo_like(4000, 3000, 7, 24), 92), &full_exif(6));
    assert!(
        input.len() > 2_000_000,
        "the input is photo-sized: {}",
        input.len()
    );
    let p = process(&input, &PhotoLimits::default(), true).unwrap();
    // Orientation 6: portrait.
    assert_eq!((p.width, p.height), (1200, 1600));
    assert!(p.image.len() < 400_000, "{} bytes", p.image.len());
    assert!(QUALITY_LADDER.contains(&p.quality));
    let out = decode(&p.image);
    assert_eq!(out.dimensions(), (1200, 1600));
    let thumb = decode(&p.thumbnail);
    assert_eq!(thumb.dimensions(), (192, 256));
    assert_eq!(p.sha256, firegrid_core::photo::sha256_hex(&p.image));
    assert_eq!(
        p.thumb_sha256,
        firegrid_core::photo::sha256_hex(&p.thumbnail)
    );
    assert_no_exif(&p.image);
    assert_no_exif(&p.thumbnail);
    assert_eq!(p.captured_at_ms, Some(CAPTURED_MS));
}

#[test]
fn small_photos_are_not_scaled_up_and_landscape_stays_landscape() {
    let p = process(
        &jpeg(&quadrants(200, 100), 90),
        &PhotoLimits::default(),
        true,
    )
    .unwrap();
    assert_eq!((p.width, p.height), (200, 100));
    assert_eq!(decode(&p.thumbnail).dimensions(), (200, 100));
    assert_eq!(p.quality, 82);
    assert_eq!(p.captured_at_ms, None);
    assert_eq!(p.location, None);

    let p = process(
        &jpeg(&quadrants(2000, 500), 90),
        &PhotoLimits::default(),
        true,
    )
    .unwrap();
    assert_eq!((p.width, p.height), (1600, 400));
    assert_eq!(decode(&p.thumbnail).dimensions(), (256, 64));
}

#[test]
fn a_tight_byte_target_lowers_quality_then_size() {
    let input = jpeg(&photo_like(1200, 900, 3, 40), 92);
    let roomy = PhotoLimits {
        target_bytes: usize::MAX,
        ..PhotoLimits::default()
    };
    let roomy = process(&input, &roomy, false).unwrap();
    assert_eq!(roomy.quality, 82);
    let tight = PhotoLimits {
        target_bytes: roomy.image.len() * 3 / 4,
        ..PhotoLimits::default()
    };
    let p = process(&input, &tight, false).unwrap();
    assert!(p.quality < 82 && p.image.len() <= tight.target_bytes);
    assert_eq!((p.width, p.height), (1200, 900));
    let tiny = PhotoLimits {
        target_bytes: 40_000,
        ..PhotoLimits::default()
    };
    let p = process(&input, &tiny, false).unwrap();
    assert_eq!(p.quality, 60);
    assert!(p.width < 1200 && p.width >= 480, "{}", p.width);
    assert_eq!(decode(&p.image).width(), p.width);
}

#[test]
fn capture_time_and_location_are_read_and_location_only_kept_when_allowed() {
    let input = with_exif(&jpeg(&quadrants(64, 48), 90), &full_exif(1));
    let kept = process(&input, &PhotoLimits::default(), true).unwrap();
    assert_eq!(kept.captured_at_ms, Some(CAPTURED_MS));
    let loc = kept.location.unwrap();
    assert!((loc.lat - ZHENRU_LAT).abs() < 1e-9, "{}", loc.lat);
    assert!((loc.lon - ZHENRU_LON).abs() < 1e-9, "{}", loc.lon);
    assert_eq!(loc.accuracy_m, Some(5.0));
    let r = kept.photo_ref();
    assert_eq!(r.sha256, kept.sha256);
    assert_eq!(r.captured_at_ms, Some(CAPTURED_MS));
    assert_eq!(r.location, Some(loc));
    r.validate().unwrap();
    assert_no_exif(&kept.image);

    let dropped = process(&input, &PhotoLimits::default(), false).unwrap();
    assert_eq!(dropped.location, None);
    assert_eq!(dropped.photo_ref().location, None);
    assert_eq!(dropped.captured_at_ms, Some(CAPTURED_MS));
    // The location never changes the photo's bytes.
    assert_eq!(dropped.sha256, kept.sha256);
}

#[test]
fn southern_and_western_positions_are_negative() {
    let tiff = exif_tiff(vec![], vec![], zhenru_gps("S", "W"));
    let p = process(
        &with_exif(&jpeg(&quadrants(64, 48), 90), &tiff),
        &PhotoLimits::default(),
        true,
    )
    .unwrap();
    let loc = p.location.unwrap();
    assert!((loc.lat + ZHENRU_LAT).abs() < 1e-9 && (loc.lon + ZHENRU_LON).abs() < 1e-9);
    assert_eq!(p.captured_at_ms, None);
}

#[test]
fn capture_time_zone_from_offset_gps_or_assumption() {
    let plain = jpeg(&quadrants(64, 48), 90);
    let utc0 = PhotoLimits {
        assumed_utc_offset_min: 0,
        ..PhotoLimits::default()
    };
    let at = |tiff: Vec<u8>, limits: &PhotoLimits| {
        process(&with_exif(&plain, &tiff), limits, false)
            .unwrap()
            .captured_at_ms
    };
    let local_only = || vec![(DATE_TIME_ORIGINAL, V::Ascii("2024:05:06 15:08:09"))];
    // No zone: the assumed one (UTC+8 by default).
    let t = exif_tiff(vec![], local_only(), vec![]);
    assert_eq!(
        at(t.clone(), &PhotoLimits::default()),
        Some(CAPTURED_MS - 250)
    );
    assert_eq!(at(t, &utc0), Some(CAPTURED_MS - 250 + 8 * 3_600_000));
    // An explicit zone wins over the assumption.
    let mut exif = local_only();
    exif.push((OFFSET_TIME_ORIGINAL, V::Ascii("+08:00")));
    assert_eq!(
        at(exif_tiff(vec![], exif, vec![]), &utc0),
        Some(CAPTURED_MS - 250)
    );
    let mut exif = local_only();
    exif.push((OFFSET_TIME_ORIGINAL, V::Ascii("-05:30")));
    // 15:08:09 at UTC−05:30 is 20:38:09 UTC: 13 h 30 min after 15:08:09 at UTC+8.
    assert_eq!(
        at(exif_tiff(vec![], exif, vec![]), &utc0),
        Some(CAPTURED_MS - 250 + (13 * 60 + 30) * 60_000)
    );
    // No zone but a GPS time (UTC) four seconds earlier: the zone is inferred (+8).
    let gps = vec![
        (0x001D, V::Ascii("2024:05:06")),
        (0x0007, V::Rationals(vec![(7, 1), (8, 1), (5, 1)])),
    ];
    assert_eq!(
        at(exif_tiff(vec![], local_only(), gps), &utc0),
        Some(CAPTURED_MS - 250)
    );
    // Nonsense dates are unknown, never an error.
    for bad in [
        "2024:13:06 15:08:09",
        "2023:02:29 00:00:00",
        "    :  :     :  :  ",
        "x",
    ] {
        let t = exif_tiff(vec![], vec![(DATE_TIME_ORIGINAL, V::Ascii(bad))], vec![]);
        assert_eq!(at(t, &utc0), None, "{bad}");
    }
}

#[test]
fn the_icc_colour_profile_is_carried_over() {
    let profile: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut input = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut input, 90);
    encoder.set_icc_profile(profile.clone()).unwrap();
    let img = quadrants(64, 48);
    encoder
        .write_image(img.as_raw(), 64, 48, image::ExtendedColorType::Rgb8)
        .unwrap();
    let input = with_exif(&input, &full_exif(1));
    let p = process(&input, &PhotoLimits::default(), false).unwrap();
    for out in [&p.image, &p.thumbnail] {
        let icc: Vec<u8> = segments(out)
            .into_iter()
            .filter(|(m, payload)| *m == 0xE2 && payload.starts_with(b"ICC_PROFILE\0"))
            .flat_map(|(_, payload)| payload[14..].to_vec())
            .collect();
        assert_eq!(icc, profile);
        assert_no_exif(out);
    }
}

#[test]
fn png_with_transparency_is_laid_on_white() {
    let img = RgbaImage::from_fn(100, 80, |x, _| {
        if x < 50 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([20, 20, 230, 255])
        }
    });
    let p = process(&png_rgba(&img), &PhotoLimits::default(), true).unwrap();
    assert_eq!((p.width, p.height), (100, 80));
    let out = decode(&p.image);
    assert!(
        close(out.get_pixel(10, 40).0, WHITE),
        "{:?}",
        out.get_pixel(10, 40)
    );
    assert!(close(out.get_pixel(90, 40).0, BLUE));
    assert_eq!(&p.image[..3], &[0xFF, 0xD8, 0xFF]);
}

#[test]
fn grayscale_input_works() {
    let gray = DynamicImage::ImageLuma8(image::GrayImage::from_fn(300, 200, |x, _| {
        image::Luma([(x % 256) as u8])
    }));
    let mut bytes = Vec::new();
    gray.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    let p = process(&bytes, &PhotoLimits::default(), false).unwrap();
    assert_eq!((p.width, p.height), (300, 200));
}

// ---------------------------------------------------------------------------------------------
// Refusals: bombs, junk, truncation, HEIC

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid small PNG whose IHDR claims `w` × `h` pixels (CRC fixed up).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = png_rgba(&RgbaImage::from_pixel(4, 4, image::Rgba([1, 2, 3, 255])));
    // Signature (8), IHDR length (4), "IHDR" (4), width, height, …, CRC at 29..33.
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A valid small JPEG whose frame header claims `w` × `h` pixels.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = jpeg(&quadrants(16, 16), 90);
    let sof = bytes.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    // FF C0, length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let started = std::time::Instant::now();
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 200);
    let reason = invalid_reason(process(&bomb, &PhotoLimits::default(), false));
    assert!(reason.contains("100000 × 100000"), "{reason}");
    assert!(reason.contains("at most 50 megapixels"), "{reason}");

    let reason = invalid_reason(process(
        &jpeg_claiming(65_535, 65_535),
        &PhotoLimits::default(),
        false,
    ));
    assert!(reason.contains("65535 × 65535"), "{reason}");
    // Just over the limit: 8000 × 6500 = 52 MP.
    invalid_reason(process(
        &png_claiming(8000, 6500),
        &PhotoLimits::default(),
        false,
    ));
    invalid_reason(process(
        &jpeg_claiming(8000, 6500),
        &PhotoLimits::default(),
        false,
    ));
    // Refused at once: nothing of the claimed size was allocated or decoded.
    assert!(started.elapsed().as_secs() < 5);

    // The limit is the caller's.
    let small = PhotoLimits {
        max_pixels: 10_000,
        ..PhotoLimits::default()
    };
    invalid_reason(process(&jpeg(&quadrants(200, 100), 90), &small, false));
    let small_file = PhotoLimits {
        max_input_bytes: 100,
        ..PhotoLimits::default()
    };
    let reason = invalid_reason(process(&jpeg(&quadrants(200, 100), 90), &small_file, false));
    assert!(reason.contains("at most 100 bytes"), "{reason}");
}

#[test]
fn nonsense_limits_are_refused() {
    let input = jpeg(&quadrants(20, 20), 90);
    for limits in [
        PhotoLimits {
            long_side: 0,
            ..PhotoLimits::default()
        },
        PhotoLimits {
            target_bytes: 0,
            ..PhotoLimits::default()
        },
        PhotoLimits {
            assumed_utc_offset_min: 15 * 60,
            ..PhotoLimits::default()
        },
    ] {
        assert!(matches!(
            process(&input, &limits, false),
            Err(Error::Invalid { .. })
        ));
    }
}

#[test]
fn heic_is_refused_with_a_clear_error() {
    let mut heic = Vec::new();
    heic.extend_from_slice(&24u32.to_be_bytes());
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0; 100]);
    let err = process(&heic, &PhotoLimits::default(), false).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedFormat { format: "HEIC" }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("unsupported format: HEIC"),
        "{err}"
    );
    // The fixture is the same kind of file.
    let fixture = std::fs::read(fixtures().join("heic-header.heic")).unwrap();
    assert!(matches!(
        process(&fixture, &PhotoLimits::default(), false),
        Err(Error::UnsupportedFormat { format: "HEIC" })
    ));
}

#[test]
fn junk_is_not_an_image() {
    for junk in [&b""[..], b"hello", b"%PDF-1.7\n", &[0u8; 1000]] {
        let reason = invalid_reason(process(junk, &PhotoLimits::default(), false));
        assert!(reason.contains("not an image"), "{reason}");
    }
    // Random bytes, some behind a JPEG or PNG signature: an error each time, never a panic.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let png_sig = b"\x89PNG\r\n\x1a\n";
    for i in 0..300 {
        let len = (next() % 4000) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        match i % 3 {
            0 => bytes.splice(0..0, [0xFF, 0xD8, 0xFF]).for_each(drop),
            1 => bytes.splice(0..0, png_sig.iter().copied()).for_each(drop),
            _ => {}
        }
        assert!(process(&bytes, &PhotoLimits::default(), false).is_err());
    }
}

#[test]
fn truncated_files_are_errors_never_panics() {
    let limits = PhotoLimits::default();
    let full = with_exif(&jpeg(&photo_like(120, 90, 5, 20), 90), &full_exif(6));
    assert!(process(&full, &limits, true).is_ok());
    for cut in (0..full.len()).step_by(7).chain(full.len() - 3..full.len()) {
        assert!(
            process(&full[..cut], &limits, true).is_err(),
            "a JPEG cut at {cut} of {} was accepted",
            full.len()
        );
    }
    let png = png_rgba(&RgbaImage::from_fn(120, 90, |x, y| {
        image::Rgba([(x * 2) as u8, (y * 2) as u8, (x ^ y) as u8, 255])
    }));
    assert!(process(&png, &limits, false).is_ok());
    // The last 12 bytes are the IEND chunk: with all pixel data present the decoder may
    // accept the file; any cut inside the pixel data must be an error.
    for cut in (0..png.len() - 12).step_by(3) {
        assert!(
            process(&png[..cut], &limits, false).is_err(),
            "a PNG cut at {cut} of {} was accepted",
            png.len()
        );
    }
    for cut in png.len() - 12..png.len() {
        let _ = process(&png[..cut], &limits, false);
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let limits = PhotoLimits::default();
    let full = with_exif(&jpeg(&photo_like(96, 64, 11, 20), 90), &full_exif(3));
    let png = png_rgba(&RgbaImage::from_fn(64, 48, |x, y| {
        image::Rgba([(x * 4) as u8, (y * 5) as u8, 7, 200])
    }));
    let mut state = 12345u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for original in [&full, &png] {
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
            // Any outcome but a panic; when it succeeds, the output is a clean JPEG.
            if let Ok(p) = process(&bytes, &limits, true) {
                assert_no_exif(&p.image);
            }
        }
    }
    // Inputs that must stay refused are kept as fixtures.
    for name in ["truncated.jpg", "bomb-100000x100000.png"] {
        let bytes = std::fs::read(fixtures().join(name)).unwrap();
        invalid_reason(process(&bytes, &limits, false));
    }
}

#[test]
fn fixture_photo_is_processed() {
    let bytes = std::fs::read(fixtures().join("exif-orientation-6-gps.jpg")).unwrap();
    let p = process(&bytes, &PhotoLimits::default(), true).unwrap();
    assert_eq!((p.width, p.height), (240, 320));
    assert!(close(decode(&p.image).get_pixel(237, 2).0, RED));
    assert_eq!(p.captured_at_ms, Some(CAPTURED_MS));
    assert!(p.location.is_some());
    let png = std::fs::read(fixtures().join("transparent.png")).unwrap();
    let p = process(&png, &PhotoLimits::default(), false).unwrap();
    assert_eq!((p.width, p.height), (100, 80));
}

/// Rewrites `fixtures/photos/` from the generators above.
#[test]
#[ignore = "writes files: run by hand after changing the generators"]
fn write_fixtures() {
    let dir = fixtures();
    std::fs::create_dir_all(&dir).unwrap();
    let plain = jpeg(&quadrants(320, 240), 90);
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "exif-orientation-6-gps.jpg",
            with_exif(&plain, &full_exif(6)),
        ),
        ("truncated.jpg", plain[..plain.len() / 2].to_vec()),
        ("bomb-100000x100000.png", png_claiming(100_000, 100_000)),
        ("heic-header.heic", {
            let mut heic = 24u32.to_be_bytes().to_vec();
            heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
            heic.extend_from_slice(&[0; 40]);
            heic
        }),
        (
            "transparent.png",
            png_rgba(&RgbaImage::from_fn(100, 80, |x, _| {
                if x < 50 {
                    image::Rgba([0, 0, 0, 0])
                } else {
                    image::Rgba([20, 20, 230, 255])
                }
            })),
        ),
    ];
    for (name, bytes) in files {
        assert!(bytes.len() < 200 * 1024);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// BlobStore

fn processed() -> Processed {
    process(
        &with_exif(&jpeg(&photo_like(800, 600, 1, 16), 90), &full_exif(1)),
        &PhotoLimits::default(),
        false,
    )
    .unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn blob_store_put_get_is_idempotent_and_content_addressed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(tmp.path().join("photos")).unwrap();
    let bytes = b"not even a photo: the store keeps any bytes".to_vec();
    let sha = store.put(&bytes).unwrap();
    assert_eq!(sha, firegrid_core::photo::sha256_hex(&bytes));
    assert!(store.has(&sha).unwrap());
    assert_eq!(store.get(&sha).unwrap(), bytes);
    let files = files_under(tmp.path());
    assert_eq!(
        files,
        vec![tmp.path().join("photos").join(&sha[..2]).join(&sha)]
    );
    // Again: same name, nothing new written, no temporary file left.
    assert_eq!(store.put(&bytes).unwrap(), sha);
    assert_eq!(files_under(tmp.path()), files);

    assert!(store.remove(&sha).unwrap());
    assert!(!store.has(&sha).unwrap());
    assert!(matches!(
        store.get(&sha),
        Err(Error::NotFound { kind: "photo", .. })
    ));
    assert!(!store.remove(&sha).unwrap());
}

#[test]
fn blob_store_keeps_processed_photos_and_their_thumbnails() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(tmp.path()).unwrap();
    let p = processed();
    let sha = store.put_processed(&p).unwrap();
    assert_eq!(sha, p.sha256);
    assert_eq!(store.get(&sha).unwrap(), p.image);
    assert_eq!(store.thumbnail(&sha).unwrap(), p.thumbnail);
    // The thumbnail file is a JPEG a platform viewer can open as it is.
    let thumb_file = tmp.path().join("thumbs").join(&sha[..2]).join(&sha);
    assert_eq!(decode(&std::fs::read(&thumb_file).unwrap()).width(), 256);

    // A damaged thumbnail is rebuilt from the photo, and stored again.
    let mut damaged = std::fs::read(&thumb_file).unwrap();
    damaged[300] ^= 0x55;
    std::fs::write(&thumb_file, &damaged).unwrap();
    let rebuilt = store.thumbnail(&sha).unwrap();
    assert_eq!(decode(&rebuilt).dimensions(), (256, 192));
    assert_eq!(store.thumbnail(&sha).unwrap(), rebuilt);
    // A missing one too.
    std::fs::remove_file(&thumb_file).unwrap();
    assert_eq!(store.thumbnail(&sha).unwrap(), rebuilt);

    // A Processed whose hash was tampered with is refused before anything is written.
    let mut forged = processed();
    forged.image.push(0);
    let tmp2 = tempfile::tempdir().unwrap();
    let store2 = BlobStore::open(tmp2.path()).unwrap();
    assert!(matches!(
        store2.put_processed(&forged),
        Err(Error::Invalid {
            field: "photo.sha256",
            ..
        })
    ));
    assert!(files_under(tmp2.path()).is_empty());

    // Removing drops both files.
    assert!(store.remove(&sha).unwrap());
    assert!(files_under(tmp.path()).is_empty());
    assert!(matches!(store.thumbnail(&sha), Err(Error::NotFound { .. })));
}

#[test]
fn blob_store_detects_corruption_and_put_repairs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(tmp.path()).unwrap();
    let p = processed();
    let sha = store.put(&p.image).unwrap();
    let path = tmp.path().join(&sha[..2]).join(&sha);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    match store.get(&sha) {
        Err(Error::CorruptRecord { id, .. }) => assert_eq!(id, sha),
        other => panic!("a corrupt photo was served: {:?}", other.map(|b| b.len())),
    }
    // A cut-short file too.
    std::fs::write(&path, &p.image[..100]).unwrap();
    assert!(matches!(store.get(&sha), Err(Error::CorruptRecord { .. })));
    // Storing the right bytes again repairs it.
    assert_eq!(store.put(&p.image).unwrap(), sha);
    assert_eq!(store.get(&sha).unwrap(), p.image);
}

#[test]
fn blob_store_refuses_to_fill_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(tmp.path()).unwrap();
    store.check_free_space(0).unwrap();
    let full = BlobStore::open(tmp.path())
        .unwrap()
        .with_reserve(u64::MAX / 2);
    assert!(matches!(full.check_free_space(1), Err(Error::StorageFull)));
    let p = processed();
    assert!(matches!(full.put(&p.image), Err(Error::StorageFull)));
    assert!(matches!(full.put_processed(&p), Err(Error::StorageFull)));
    assert!(!full.has(&p.sha256).unwrap());
    assert!(files_under(tmp.path()).is_empty());
    // Asking for more than the disk holds fails even with no reserve.
    let no_reserve = BlobStore::open(tmp.path()).unwrap().with_reserve(0);
    assert!(matches!(
        no_reserve.check_free_space(u64::MAX),
        Err(Error::StorageFull)
    ));
}

#[test]
fn blob_store_refuses_malformed_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = BlobStore::open(tmp.path().join("photos")).unwrap();
    std::fs::write(tmp.path().join("secret"), b"outside the store").unwrap();
    let upper = "A".repeat(64);
    let short = "a".repeat(63);
    let long = "a".repeat(65);
    let traversal = format!("../{}", "a".repeat(61));
    let slash = format!("ab/{}", "c".repeat(61));
    let non_ascii = format!("{}é", "a".repeat(62));
    for bad in [
        "",
        "../secret",
        upper.as_str(),
        short.as_str(),
        long.as_str(),
        traversal.as_str(),
        slash.as_str(),
        non_ascii.as_str(),
    ] {
        let is_invalid = |r: Result<(), Error>| matches!(r, Err(Error::Invalid { .. }));
        assert!(is_invalid(store.get(bad).map(drop)), "get {bad:?}");
        assert!(is_invalid(store.has(bad).map(drop)), "has {bad:?}");
        assert!(is_invalid(store.remove(bad).map(drop)), "remove {bad:?}");
        assert!(
            is_invalid(store.thumbnail(bad).map(drop)),
            "thumbnail {bad:?}"
        );
    }
    assert!(tmp.path().join("secret").exists());
}
