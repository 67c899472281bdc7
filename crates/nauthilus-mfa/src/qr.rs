//! QR codes as SVG documents, drawn here (the `qrcode` crate), so no secret ever goes to an
//! external QR service.

use qrcode::QrCode;
use qrcode::render::svg;

use crate::error::MfaError;

/// `data` as a QR code in an SVG document.
pub fn svg(data: &str) -> Result<String, MfaError> {
    let code = QrCode::new(data.as_bytes()).map_err(|e| MfaError::Invalid(format!("QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}
