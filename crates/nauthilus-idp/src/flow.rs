//! An authorization request between `/oidc/authorize` and the code: validated once, stored under
//! a random flow id (10 minutes) that the login and consent pages carry as `flow=<id>`, resumed
//! after login or consent, and taken (single use) when the code is issued.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::Idp;
use crate::clients::{Client, ConsentMode};
use crate::oauth::error::{OAuthCode, OAuthError, ShownError};
use crate::session::BrowserSession;
use crate::state::{self, CodeGrant, Consent, StateKeys, Subject};

/// How long an authorization request waits for the user.
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// A validated authorization request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: String,
    /// Verified: one of the client's registered URIs.
    pub redirect_uri: String,
    pub scope: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// S256 challenge (the only method accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// `query` (the only mode served).
    pub response_mode: String,
    /// `prompt` values (`login`, `consent`, `none`, `select_account`).
    pub prompt: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    /// When the request arrived (Unix seconds): `prompt=login` needs a login after it.
    pub created_at: u64,
}

impl PendingAuthorization {
    fn wants(&self, prompt: &str) -> bool {
        self.prompt.iter().any(|p| p == prompt)
    }

    /// True when `session` is fresh enough for this request (`prompt=login`, `max_age`).
    pub fn session_is_fresh(&self, session: &BrowserSession, now: SystemTime) -> bool {
        if self.wants("login") && session.auth_time < self.created_at {
            return false;
        }
        match self.max_age {
            Some(max_age) => crate::unix(now) <= session.auth_time.saturating_add(max_age),
            None => true,
        }
    }

    /// An error sent back to the client's (verified) redirect URI.
    pub fn error(&self, issuer: &str, code: OAuthCode, description: &str) -> OAuthError {
        OAuthError::redirect(
            code,
            description,
            &self.redirect_uri,
            self.state.as_deref(),
            issuer,
        )
    }
}

/// A redirect the browser follows (303 See Other, never cached).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub location: String,
}

impl Redirect {
    /// A redirect to `location`.
    pub fn to(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
        }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let mut r = StatusCode::SEE_OTHER.into_response();
        match HeaderValue::from_str(&self.location) {
            Ok(v) => {
                r.headers_mut().insert(header::LOCATION, v);
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(_) => ShownError::internal("redirect target is not a valid header").into_response(),
        }
    }
}

/// What the consent page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentView {
    pub client_id: String,
    pub client_name: String,
    /// (scope, description) pairs.
    pub scopes: Vec<(String, String)>,
}

fn expired() -> ShownError {
    ShownError::bad_request(
        "Login request expired",
        "This sign-in request is no longer valid. Please return to the application and start again.",
    )
}

impl Idp {
    /// Stores `flow` and returns its id.
    pub async fn start_flow(&self, flow: &PendingAuthorization) -> Result<String, state::StateError> {
        let id = crate::random_token();
        state::put(
            &self.store,
            &StateKeys::new(&self.store).flow(&id),
            flow,
            FLOW_TTL,
        )
        .await?;
        Ok(id)
    }

    /// The pending request `flow_id`, if it is still valid.
    pub async fn flow(&self, flow_id: &str) -> Result<Option<PendingAuthorization>, state::StateError> {
        if flow_id.is_empty() || flow_id.len() > 64 {
            return Ok(None);
        }
        state::get(&self.store, &StateKeys::new(&self.store).flow(flow_id)).await
    }

    fn flow_client(&self, flow: &PendingAuthorization) -> Result<&std::sync::Arc<Client>, ShownError> {
        // A reload may have removed the client since the request arrived.
        self.clients.get(&flow.client_id).ok_or_else(|| {
            ShownError::bad_request("Unknown application", "The application is not registered.")
        })
    }

    /// After login (or on `/oidc/authorize` with a session): sends the browser to log in again,
    /// to the consent page, or back to the client with a code.
    pub async fn resume_authorization(
        &self,
        flow_id: &str,
        session: &BrowserSession,
        now: SystemTime,
    ) -> Result<Redirect, OAuthError> {
        let flow = self.flow(flow_id).await?.ok_or_else(expired)?;
        let client = self.flow_client(&flow)?.clone();
        if !flow.session_is_fresh(session, now) {
            if flow.wants("none") {
                return Err(self
                    .finish_with_error(flow_id, &flow, OAuthCode::LoginRequired, "login required")
                    .await);
            }
            return Ok(Redirect::to(format!("/login?flow={flow_id}")));
        }
        if client.require_mfa && !session.has_mfa() {
            if flow.wants("none") {
                return Err(self
                    .finish_with_error(
                        flow_id,
                        &flow,
                        OAuthCode::AccessDenied,
                        "the application requires a second factor",
                    )
                    .await);
            }
            // A password-only session steps up: the login asks for the second factor (or
            // says to enrol one); the client never gets a code without it.
            return Ok(Redirect::to(format!("/login?flow={flow_id}")));
        }
        if self.needs_consent(&client, &flow, session).await? {
            if flow.wants("none") {
                return Err(self
                    .finish_with_error(flow_id, &flow, OAuthCode::ConsentRequired, "consent required")
                    .await);
            }
            return Ok(Redirect::to(format!("/consent?flow={flow_id}")));
        }
        self.issue_code(flow_id, session, now).await
    }

    async fn needs_consent(
        &self,
        client: &Client,
        flow: &PendingAuthorization,
        session: &BrowserSession,
    ) -> Result<bool, OAuthError> {
        if flow.wants("consent") {
            return Ok(true);
        }
        match client.consent {
            ConsentMode::Skip => Ok(false),
            ConsentMode::Always => Ok(true),
            ConsentMode::Once => {
                let key = StateKeys::new(&self.store).consent(&client.id, &session.account);
                let given: Option<Consent> = state::get(&self.store, &key).await?;
                Ok(!given.is_some_and(|c| flow.scope.iter().all(|s| c.scope.contains(s))))
            }
        }
    }

    async fn finish_with_error(
        &self,
        flow_id: &str,
        flow: &PendingAuthorization,
        code: OAuthCode,
        description: &str,
    ) -> OAuthError {
        let key = StateKeys::new(&self.store).flow(flow_id);
        if let Err(e) = self.store.delete(&key).await {
            return OAuthError::server(e);
        }
        flow.error(&self.issuer, code, description)
    }

    /// What the consent page of `flow_id` shows.
    pub async fn consent_view(
        &self,
        flow_id: &str,
        _session: &BrowserSession,
    ) -> Result<ConsentView, ShownError> {
        let flow = self.flow(flow_id).await?.ok_or_else(expired)?;
        let client = self.flow_client(&flow)?;
        Ok(ConsentView {
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            scopes: flow
                .scope
                .iter()
                .map(|s| (s.clone(), crate::claims::describe(&self.config, s)))
                .collect(),
        })
    }

    /// The user's answer on the consent page: back to the client with a code, or with
    /// `access_denied`.
    pub async fn grant_consent(
        &self,
        flow_id: &str,
        session: &BrowserSession,
        approve: bool,
        now: SystemTime,
    ) -> Result<Redirect, OAuthError> {
        let flow = self.flow(flow_id).await?.ok_or_else(expired)?;
        let client = self.flow_client(&flow)?.clone();
        if !approve {
            return Err(self
                .finish_with_error(
                    flow_id,
                    &flow,
                    OAuthCode::AccessDenied,
                    "the user denied the request",
                )
                .await);
        }
        if !flow.session_is_fresh(session, now) {
            return Ok(Redirect::to(format!("/login?flow={flow_id}")));
        }
        if client.consent == ConsentMode::Once {
            let key = StateKeys::new(&self.store).consent(&client.id, &session.account);
            let consent = Consent {
                scope: flow.scope.clone(),
            };
            state::put(&self.store, &key, &consent, self.config.consent.ttl.get()).await?;
        }
        self.issue_code(flow_id, session, now).await
    }

    /// Takes the flow and sends the browser back to the client with a fresh code.
    async fn issue_code(
        &self,
        flow_id: &str,
        session: &BrowserSession,
        now: SystemTime,
    ) -> Result<Redirect, OAuthError> {
        let keys = StateKeys::new(&self.store);
        // Single use: a second resume of the same flow finds nothing.
        let flow: PendingAuthorization = state::take(&self.store, &keys.flow(flow_id))
            .await?
            .ok_or_else(expired)?;
        let code = crate::random_token();
        let lifetime = self.config.tokens.code_lifetime.get();
        let grant = CodeGrant {
            client_id: flow.client_id.clone(),
            redirect_uri: flow.redirect_uri.clone(),
            scope: flow.scope.clone(),
            nonce: flow.nonce.clone(),
            code_challenge: flow.code_challenge.clone(),
            subject: self.subject(session, &flow.client_id, &flow.scope),
            expires_at: crate::unix(now) + lifetime.as_secs(),
        };
        state::put(&self.store, &keys.code(&crate::digest(&code)), &grant, lifetime).await?;
        self.remember_client(&session.id, &flow.client_id).await?;
        let mut url = url::Url::parse(&flow.redirect_uri).map_err(OAuthError::server)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("code", &code);
            if let Some(state) = &flow.state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", &self.issuer);
        }
        Ok(Redirect::to(url.to_string()))
    }

    /// The grant's subject for `client_id`: who, how and when (`acr` as the client names the
    /// level reached, else the session's), and the claims `scope` releases.
    pub fn subject(&self, session: &BrowserSession, client_id: &str, scope: &[String]) -> Subject {
        let client = self.clients.get(client_id);
        let named = client.map(|c| {
            if session.has_mfa() {
                c.acr_multi_factor.as_str()
            } else {
                c.acr_single_factor.as_str()
            }
        });
        let acr = named
            .filter(|a| !a.is_empty())
            .map_or_else(|| session.acr.clone(), str::to_owned);
        Subject {
            account: session.account.clone(),
            sid: Some(session.sid.clone()),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            acr,
            claims: crate::claims::for_scopes(&self.config, scope, session),
        }
    }
}
