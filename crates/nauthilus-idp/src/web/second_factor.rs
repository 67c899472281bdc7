//! The second-factor step of a login: after a right password, `after_password` decides (the
//! account's enrolments, the client's `require_mfa`, a remembered browser) and either starts
//! the session, sends the browser to `GET /login/mfa?pending=<id>`, or shows the page that
//! says to enrol first. `POST /login/mfa/post` takes a TOTP or recovery code (counted by the
//! code step's own brute-force rule); `POST /login/mfa/webauthn/{begin,finish}` (JSON, the
//! page's script) take a WebAuthn assertion. The pending login is taken once on success.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Json, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use nauthilus_mfa::CodeVerdict;
use nauthilus_mfa::webauthn_types::PublicKeyCredential;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, page_error};
use super::finish::{as_json, complete, json_error};
use super::pages::Page;
use super::submit::check_form;
use super::visitor::Visitor;
use crate::remembered;
use crate::second_factor::{AMR_PASSWORD, AMR_PASSWORD_KEY, AMR_PASSWORD_OTP, PendingLogin, Step, amr};
use crate::{AuthenticatedUser, Continuation, Idp, IdpService};

/// Where the step is shown.
const STEP_PATH: &str = "/login/mfa";

/// After a right password: the session, the second-factor step, or the enrol-first page.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn after_password(
    idp: &Idp,
    visitor: &Visitor,
    headers: &HeaderMap,
    next: &Continuation,
    user: AuthenticatedUser,
    client_id: &str,
    now: SystemTime,
    guid: &str,
) -> Response {
    let remembered = match idp.remembered_device(headers, &user.account, now).await {
        Ok(found) => found,
        Err(err) => {
            // Not knowing the device only costs the user a code.
            tracing::warn!(guid, error = %err, "idp: reading the remembered device failed");
            None
        }
    };
    match idp
        .second_factor_step(&user.account, client_id, remembered.is_some())
        .await
    {
        Ok(Step::Done) => {
            let amr = remembered.map_or_else(|| amr(AMR_PASSWORD), |d| d.amr);
            complete(idp, visitor, next, &user, amr, now, guid, &[]).await
        }
        Ok(Step::Ask(_)) => {
            let pending = PendingLogin {
                user,
                next: next.clone(),
                client_id: client_id.to_owned(),
                created: crate::unix(now),
            };
            match idp.start_pending_login(&pending).await {
                Ok(id) => {
                    let mut response = Redirect::to(&format!("{STEP_PATH}?pending={id}")).into_response();
                    super::visitor::append_cookies(&mut response, &visitor.set_cookies(&idp.pages));
                    response
                }
                Err(err) => {
                    tracing::error!(guid, error = %err, "idp: storing the pending login failed");
                    page_error(&idp.pages, visitor, PageError::TempFail, guid)
                }
            }
        }
        Ok(Step::EnrolFirst) => enrol_first(idp, visitor, &user, now, guid).await,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: deciding the second-factor step failed");
            page_error(&idp.pages, visitor, PageError::TempFail, guid)
        }
    }
}

/// The client requires a second factor the account lacks: a page that says so and links to
/// the enrolment. The browser gets a password-only session (enough to enrol, never enough
/// for this client, which `resume_authorization` refuses without a second factor).
async fn enrol_first(
    idp: &Idp,
    visitor: &Visitor,
    user: &AuthenticatedUser,
    now: SystemTime,
    guid: &str,
) -> Response {
    let can_enrol = idp.mfa().is_some();
    let mut cookies = visitor.set_cookies(&idp.pages);
    if can_enrol {
        match idp.create_session(user, amr(AMR_PASSWORD), now).await {
            Ok((_, cookie)) => cookies.push(cookie.to_str().unwrap_or_default().to_owned()),
            Err(err) => {
                tracing::error!(guid, error = %err, "idp: storing the session failed");
                return page_error(&idp.pages, visitor, PageError::TempFail, guid);
            }
        }
    }
    let data = json!({ "can_enrol": can_enrol, "account": user.display_name });
    idp.pages.respond_with_cookies(
        visitor,
        Page::EnrolRequired,
        &[],
        data,
        StatusCode::FORBIDDEN,
        &cookies,
        guid,
    )
}

/// `GET /login/mfa` query.
#[derive(Debug, Deserialize)]
pub struct StepQuery {
    #[serde(default)]
    pending: String,
    lang: Option<String>,
}

/// `POST /login/mfa/post` form.
#[derive(Debug, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    pending: String,
    csrf: Option<String>,
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
    remember: Option<String>,
}

/// Shows the second-factor step.
pub async fn show(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<StepQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    let pending = match load(&idp, &visitor, &query.pending, &guid).await {
        Ok(pending) => pending,
        Err(response) => return *response,
    };
    render(
        &idp,
        &visitor,
        &query.pending,
        &pending,
        None,
        StatusCode::OK,
        &guid,
    )
    .await
}

/// Checks a TOTP or recovery code and, when right, completes the login.
pub async fn submit(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    if let Some(refused) = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::SecondFactor,
        &form.pending,
        &guid,
    ) {
        return refused;
    }
    let pending = match load(&idp, &visitor, &form.pending, &guid).await {
        Ok(pending) => pending,
        Err(response) => return *response,
    };
    let (Some(mfa), Some(Extension(ConnectInfo(peer)))) = (idp.mfa(), peer) else {
        return page_error(&idp.pages, &visitor, PageError::Internal, &guid);
    };
    let now = nauthilus_clock::now();
    let ip = peer.ip().to_string();
    let account = &pending.user.account;
    let code = form.code.trim();
    if code.is_empty() || code.len() > 64 {
        let message = idp.pages.message(visitor.lang, "mfa_code_missing");
        return render(
            &idp,
            &visitor,
            &form.pending,
            &pending,
            Some(message),
            StatusCode::BAD_REQUEST,
            &guid,
        )
        .await;
    }
    let verdict = match form.method.as_str() {
        "totp" => mfa.verify_totp(account, code, &ip, now).await,
        "recovery" => mfa.redeem_recovery_code(account, code, &ip, now).await,
        _ => return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
    };
    match verdict {
        Ok(CodeVerdict::Accepted) => {
            tracing::info!(guid, account, method = %form.method, "idp: second factor accepted");
            finish(
                &idp,
                &visitor,
                &headers,
                &form.pending,
                amr(AMR_PASSWORD_OTP),
                form.remember.is_some(),
                now,
                &guid,
            )
            .await
        }
        Ok(CodeVerdict::Refused) => {
            tracing::warn!(guid, account, method = %form.method, "idp: second factor refused");
            let message = idp.pages.message(visitor.lang, "mfa_code_wrong");
            render(
                &idp,
                &visitor,
                &form.pending,
                &pending,
                Some(message),
                StatusCode::FORBIDDEN,
                &guid,
            )
            .await
        }
        Ok(CodeVerdict::Banned) => page_error(&idp.pages, &visitor, PageError::Banned, &guid),
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: checking the second factor failed");
            page_error(&idp.pages, &visitor, PageError::TempFail, &guid)
        }
    }
}

/// `POST /login/mfa/webauthn/begin` body.
#[derive(Debug, Deserialize)]
pub struct WebauthnBegin {
    #[serde(default)]
    pending: String,
    csrf: Option<String>,
}

/// `POST /login/mfa/webauthn/finish` body.
#[derive(Debug, Deserialize)]
pub struct WebauthnFinish {
    #[serde(default)]
    pending: String,
    csrf: Option<String>,
    credential: PublicKeyCredential,
    #[serde(default)]
    remember: bool,
}

/// The WebAuthn challenge for the pending login's account.
pub async fn webauthn_begin(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    Json(body): Json<WebauthnBegin>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let (pending, mfa) = match webauthn_step(
        &idp,
        &visitor,
        &headers,
        body.csrf.as_deref(),
        &body.pending,
        &guid,
    )
    .await
    {
        Ok(step) => step,
        Err(refused) => return *refused,
    };
    match mfa.begin_webauthn_login(&pending.user.account).await {
        Ok(challenge) => axum::Json(challenge).into_response(),
        Err(err) => {
            tracing::warn!(guid, error = %err, "idp: starting the WebAuthn step failed");
            json_error(StatusCode::BAD_REQUEST, "no security key can be used", &guid)
        }
    }
}

/// Checks the WebAuthn assertion and completes the login.
pub async fn webauthn_finish(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    Json(body): Json<WebauthnFinish>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let (pending, mfa) = match webauthn_step(
        &idp,
        &visitor,
        &headers,
        body.csrf.as_deref(),
        &body.pending,
        &guid,
    )
    .await
    {
        Ok(step) => step,
        Err(refused) => return *refused,
    };
    let now = nauthilus_clock::now();
    match mfa
        .finish_webauthn_login(&pending.user.account, &body.credential, now)
        .await
    {
        Ok(_) => as_json(
            finish(
                &idp,
                &visitor,
                &headers,
                &body.pending,
                amr(AMR_PASSWORD_KEY),
                body.remember,
                now,
                &guid,
            )
            .await,
        ),
        Err(err) => {
            tracing::warn!(guid, account = %pending.user.account, error = %err, "idp: WebAuthn step refused");
            json_error(StatusCode::FORBIDDEN, "the security key was not accepted", &guid)
        }
    }
}

/// The checks both WebAuthn calls of the step begin with (JSON answers for the page's script):
/// the CSRF token bound to the pending login, the pending login itself, and second factors
/// being on.
async fn webauthn_step<'i>(
    idp: &'i Idp,
    visitor: &Visitor,
    headers: &HeaderMap,
    csrf: Option<&str>,
    pending: &str,
    guid: &str,
) -> Result<(PendingLogin, &'i Arc<nauthilus_mfa::Mfa>), Box<Response>> {
    if check_form(idp, visitor, headers, csrf, Purpose::SecondFactor, pending, guid).is_some() {
        return Err(Box::new(json_error(
            StatusCode::FORBIDDEN,
            "the request could not be checked",
            guid,
        )));
    }
    let Ok(Some(pending)) = idp.pending_login(pending).await else {
        return Err(Box::new(json_error(
            StatusCode::BAD_REQUEST,
            "the sign-in expired",
            guid,
        )));
    };
    let Some(mfa) = idp.mfa() else {
        return Err(Box::new(json_error(
            StatusCode::NOT_FOUND,
            "no second factors here",
            guid,
        )));
    };
    Ok((pending, mfa))
}

/// The pending login `id`, or the expired-flow page.
async fn load(idp: &Idp, visitor: &Visitor, id: &str, guid: &str) -> Result<PendingLogin, Box<Response>> {
    match idp.pending_login(id).await {
        Ok(Some(pending)) => Ok(pending),
        Ok(None) => Err(Box::new(page_error(
            &idp.pages,
            visitor,
            PageError::FlowExpired,
            guid,
        ))),
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: loading the pending login failed");
            Err(Box::new(page_error(
                &idp.pages,
                visitor,
                PageError::TempFail,
                guid,
            )))
        }
    }
}

/// Takes the pending login (once) and completes it with `amr`, remembering the browser when
/// asked and allowed.
#[allow(clippy::too_many_arguments)]
async fn finish(
    idp: &Idp,
    visitor: &Visitor,
    headers: &HeaderMap,
    id: &str,
    amr: Vec<String>,
    remember: bool,
    now: SystemTime,
    guid: &str,
) -> Response {
    let pending = match idp.take_pending_login(id).await {
        Ok(Some(pending)) => pending,
        // Completed by a concurrent request already: this one gets nothing.
        Ok(None) => return page_error(&idp.pages, visitor, PageError::FlowExpired, guid),
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: taking the pending login failed");
            return page_error(&idp.pages, visitor, PageError::TempFail, guid);
        }
    };
    let mut extra = Vec::new();
    if remember {
        match idp
            .remember_device(&pending.user.account, &amr, remembered::label(headers), now)
            .await
        {
            Ok(Some((_, cookie))) => extra.push(cookie),
            Ok(None) => {}
            Err(err) => tracing::warn!(guid, error = %err, "idp: remembering the device failed"),
        }
    }
    complete(idp, visitor, &pending.next, &pending.user, amr, now, guid, &extra).await
}

async fn render(
    idp: &Idp,
    visitor: &Visitor,
    id: &str,
    pending: &PendingLogin,
    error: Option<&str>,
    status: StatusCode,
    guid: &str,
) -> Response {
    let factors = match idp.factors(&pending.user.account).await {
        Ok(factors) => factors,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: reading the enrolled factors failed");
            return page_error(&idp.pages, visitor, PageError::TempFail, guid);
        }
    };
    let data = json!({
        "pending": id,
        "csrf": visitor.csrf_token(Purpose::SecondFactor, id),
        "factors": factors,
        "account": pending.user.display_name,
        "remember_days": idp.remember_lifetime().map(|d| d.as_secs().div_ceil(86_400)),
        "error": error,
    });
    let switch = visitor.switch(STEP_PATH, &[("pending", id)]);
    idp.pages
        .respond(visitor, Page::SecondFactor, &switch, data, status, guid)
}
