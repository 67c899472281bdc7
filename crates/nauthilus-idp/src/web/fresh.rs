//! What the self-service pages (`/2fa/v1/*`) stand on: a browser session whose login is at
//! most `mfa.fresh_login` old (else the browser signs in again and comes back), the MFA
//! service, and times shown as dates.

use std::sync::Arc;
use std::time::SystemTime;

use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderMap;
use nauthilus_mfa::Mfa;

use super::error::{PageError, page_error};
use super::visitor::Visitor;
use crate::{BrowserSession, Continuation, Idp};

/// The session and the service a self-service request acts with.
pub(crate) struct Fresh {
    pub session: BrowserSession,
    pub mfa: Arc<Mfa>,
}

/// The fresh session of the request, or the answer: the login (no session, or too old), 404
/// without `mfa`, 503 when the store fails.
pub(crate) async fn fresh_session(
    idp: &Idp,
    visitor: &Visitor,
    headers: &HeaderMap,
    now: SystemTime,
    guid: &str,
) -> Result<Fresh, Box<Response>> {
    let Some(mfa) = idp.mfa().cloned() else {
        return Err(Box::new(page_error(
            &idp.pages,
            visitor,
            PageError::NotFound,
            guid,
        )));
    };
    let session = match idp.session_from_headers(headers).await {
        Ok(session) => session,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: loading the session failed");
            return Err(Box::new(page_error(
                &idp.pages,
                visitor,
                PageError::TempFail,
                guid,
            )));
        }
    };
    let window = mfa.config().fresh_login.get().as_secs();
    match session {
        Some(session) if crate::unix(now) <= session.auth_time.saturating_add(window) => {
            Ok(Fresh { session, mfa })
        }
        _ => Err(Box::new(
            Redirect::to(&Continuation::SelfService.login_url()).into_response(),
        )),
    }
}

/// Unix seconds as a date for the pages (UTC).
pub(crate) fn date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(super::date(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::date(1_700_000_000), "2023-11-14 22:13 UTC");
    }
}
