//! `mode=list-accounts`: every account of the backends that can list them, as a JSON array or
//! one account per line (`\r\n`-terminated, as Nauthilus writes them), chosen by `Accept`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// How the list is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Json,
    Text,
    Form,
}

/// Chooses the format from `Accept` (highest q first; a missing header accepts anything).
pub fn negotiate(headers: &HeaderMap) -> Result<ListFormat, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(ListFormat::Text);
    };
    let accept = accept
        .to_str()
        .map_err(|_| ApiError::BadRequest("Accept header is not valid text".into()))?;
    let mut offers: Vec<(f32, usize, &str)> = Vec::new();
    for (i, item) in accept.split(',').enumerate() {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && !media.is_empty() {
            offers.push((q, i, media));
        }
    }
    offers.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, media) in offers {
        match media.to_ascii_lowercase().as_str() {
            "application/json" | "application/*" => return Ok(ListFormat::Json),
            "text/plain" | "text/*" | "*/*" => return Ok(ListFormat::Text),
            "application/x-www-form-urlencoded" => return Ok(ListFormat::Form),
            _ => {}
        }
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "cannot list accounts as {accept:?}; accept application/json or text/plain"
    )))
}

/// Writes the list.
pub fn render(accounts: &[String], format: ListFormat) -> Response {
    let mut response = render_plain(accounts, format);
    // A list can be long: the router gzips it for clients that accept that.
    response.extensions_mut().insert(crate::compression::Compressible);
    response
}

fn render_plain(accounts: &[String], format: ListFormat) -> Response {
    match format {
        ListFormat::Json => (StatusCode::OK, axum::Json(accounts)).into_response(),
        ListFormat::Text | ListFormat::Form => {
            let mut body = String::with_capacity(accounts.iter().map(|a| a.len() + 2).sum());
            for a in accounts {
                body.push_str(a);
                body.push_str("\r\n");
            }
            let ct = if format == ListFormat::Text {
                "text/plain; charset=utf-8"
            } else {
                "application/x-www-form-urlencoded"
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, HeaderValue::from_static(ct))],
                body,
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), ListFormat::Text);
        assert_eq!(negotiate(&accept("application/json")).unwrap(), ListFormat::Json);
        assert_eq!(negotiate(&accept("text/plain")).unwrap(), ListFormat::Text);
        assert_eq!(
            negotiate(&accept("text/html, application/json;q=0.5")).unwrap(),
            ListFormat::Json
        );
        assert_eq!(
            negotiate(&accept("text/plain;q=0.2, application/json")).unwrap(),
            ListFormat::Json
        );
        assert!(matches!(
            negotiate(&accept("text/html")),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(negotiate(&accept("application/json;q=0")).is_err());
    }
}
