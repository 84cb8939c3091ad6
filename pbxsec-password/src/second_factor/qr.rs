//! The enrollment QR code (feature `qr`), drawn with `qrcodegen` and written
//! with `png`; the SVG is a single path built here.
//!
//! We draw it ourselves rather than through `totp-rs`' `qr` feature because
//! that one encodes `totp-rs`' own URI (which leaves out the default
//! parameters) and pulls in the whole `image` crate (about 65 more crates)
//! to write one greyscale PNG.

use std::fmt::Write as _;

use qrcodegen::{QrCode, QrCodeEcc};
use zeroize::Zeroizing;

use super::{Error, Result};

/// Pixels per module in the PNG.
const SCALE: usize = 8;
/// Quiet zone in modules on every side (ISO/IEC 18004 asks for 4).
const BORDER: usize = 4;

fn encode(text: &str) -> Result<(QrCode, usize)> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| Error::QrTooLong { len: text.len() })?;
    let size = usize::try_from(qr.size()).unwrap_or(0);
    Ok((qr, size))
}

fn dark(qr: &QrCode, x: usize, y: usize) -> bool {
    match (i32::try_from(x), i32::try_from(y)) {
        (Ok(x), Ok(y)) => qr.get_module(x, y),
        _ => false,
    }
}

pub(crate) fn png(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let (qr, size) = encode(text)?;
    let side = (size + 2 * BORDER) * SCALE;
    let mut pixels = Zeroizing::new(vec![255u8; side * side]);
    for y in 0..size {
        for x in 0..size {
            if !dark(&qr, x, y) {
                continue;
            }
            for py in 0..SCALE {
                let row = (y + BORDER) * SCALE + py;
                let start = row * side + (x + BORDER) * SCALE;
                if let Some(run) = pixels.get_mut(start..start + SCALE) {
                    run.fill(0);
                }
            }
        }
    }
    let side32 = u32::try_from(side).map_err(|_| Error::QrTooLong { len: text.len() })?;
    let mut out = Zeroizing::new(Vec::new());
    {
        let mut encoder = png::Encoder::new(&mut *out, side32, side32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::Png(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::Png(e.to_string()))?;
        writer.finish().map_err(|e| Error::Png(e.to_string()))?;
    }
    Ok(out)
}

pub(crate) fn svg(text: &str) -> Result<Zeroizing<String>> {
    let (qr, size) = encode(text)?;
    let side = size + 2 * BORDER;
    let mut out = Zeroizing::new(String::with_capacity(size * size * 8 + 300));
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         version=\"1.1\" viewBox=\"0 0 {side} {side}\" stroke=\"none\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#FFFFFF\"/>\n<path d=\""
    );
    for y in 0..size {
        for x in 0..size {
            if dark(&qr, x, y) {
                let _ = write!(out, "M{},{}h1v1h-1z", x + BORDER, y + BORDER);
            }
        }
    }
    out.push_str("\" fill=\"#000000\"/>\n</svg>\n");
    Ok(out)
}
