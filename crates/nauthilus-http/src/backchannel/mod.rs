//! Backchannel protection: who may call the auth and admin endpoints.
//!
//! - `server.basic_auth`: one user name and password (`Authorization: Basic`), full access.
//! - `server.jwt_auth`: bearer tokens from `POST /api/v1/jwt/token` whose roles decide what is
//!   allowed (see [`roles`]).
//!
//! When both are enabled, either scheme is accepted. When neither is, the endpoints are open
//! (and the server warns at startup, see [`unprotected_warning`]). The settings are part of the
//! swappable per-configuration state, so a reload changes them for the next request.
//!
//! The guards are axum middleware on the routers (`auth_router`, `admin_router`); `/ping` and
//! the token endpoints themselves stay outside. A missing or bad credential is a 401 with a
//! `WWW-Authenticate` challenge per enabled scheme, a valid one without the role a 403; both
//! carry the JSON error with the guid. Credentials are compared in constant time and never
//! logged.

pub mod basic;
pub mod jwt;
pub mod roles;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nauthilus_config::Config;
use nauthilus_core::{AuthMode, SessionId};

use self::basic::BasicCredentials;
use self::jwt::{Claims, JwtSettings};
use self::roles::Permission;
use crate::error::{ApiError, Challenge};
use crate::query::{AuthQuery, Mode};
use crate::state::AppState;

/// The backchannel settings of one configuration.
#[derive(Debug, Default)]
pub struct Backchannel {
    basic: Option<BasicCredentials>,
    jwt: Option<JwtSettings>,
}

/// Who made a request that passed the guard (a request extension for handlers).
#[derive(Clone, Debug)]
pub enum Principal {
    /// Protection is off.
    Open,
    /// `/api/v1/auth/basic` authenticating its own `Authorization: Basic` login, which leaves
    /// no room for backchannel credentials (exempt from `basic_auth`, as in Nauthilus).
    BasicEndpoint,
    /// The `server.basic_auth` credentials.
    Basic,
    /// A valid access token.
    Token(Arc<Claims>),
}

impl Backchannel {
    /// The settings `config` asks for.
    pub fn from_config(config: &Config) -> Self {
        let basic = &config.server.basic_auth;
        Self {
            basic: basic
                .enabled
                .then(|| BasicCredentials::new(&basic.username, &basic.password)),
            jwt: JwtSettings::from_config(&config.server.jwt_auth),
        }
    }

    /// True when callers must authenticate.
    pub fn is_protected(&self) -> bool {
        self.basic.is_some() || self.jwt.is_some()
    }

    /// The JWT settings, when JWT auth is on.
    pub fn jwt(&self) -> Option<&JwtSettings> {
        self.jwt.as_ref()
    }

    fn challenge(&self, invalid_token: bool) -> Challenge {
        Challenge {
            basic: self.basic.is_some(),
            bearer: self.jwt.is_some(),
            invalid_token: invalid_token && self.jwt.is_some(),
        }
    }

    /// Who sent `headers`, if they may do what `need` describes: `Unauthenticated` (401) for
    /// missing, unusable or wrong credentials, `Forbidden` (403) for a token without the role.
    pub fn authorize(&self, headers: &HeaderMap, need: &Permission) -> Result<Principal, ApiError> {
        if !self.is_protected() {
            return Ok(Principal::Open);
        }
        let credentials = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '));
        let Some((scheme, credential)) = credentials else {
            return Err(ApiError::Unauthenticated(
                "backchannel authentication required".into(),
                self.challenge(false),
            ));
        };
        if scheme.eq_ignore_ascii_case("basic")
            && let Some(basic) = &self.basic
        {
            return if basic.matches(credential) {
                Ok(Principal::Basic)
            } else {
                Err(ApiError::Unauthenticated(
                    "invalid backchannel credentials".into(),
                    self.challenge(false),
                ))
            };
        }
        if scheme.eq_ignore_ascii_case("bearer")
            && let Some(jwt) = &self.jwt
        {
            let claims = jwt.verify(credential.trim()).map_err(|_| {
                ApiError::Unauthenticated("invalid or expired token".into(), self.challenge(true))
            })?;
            return if need.granted_by(&claims.roles) {
                Ok(Principal::Token(Arc::new(claims)))
            } else {
                Err(ApiError::Forbidden(need.wanted()))
            };
        }
        Err(ApiError::Unauthenticated(
            "unsupported authorization scheme for this server".into(),
            self.challenge(false),
        ))
    }
}

/// The startup warning when `config` leaves the backchannel open, else `None`.
pub fn unprotected_warning(config: &Config) -> Option<&'static str> {
    let server = &config.server;
    (!server.basic_auth.enabled && !server.jwt_auth.enabled).then_some(
        "backchannel unprotected: neither server.basic_auth nor server.jwt_auth is enabled, so anyone who reaches this port may authenticate users, list accounts, flush caches and lift brute-force bans",
    )
}

/// What a guarded router requires.
#[derive(Clone, Debug)]
pub enum Need {
    /// Always this permission.
    Fixed(Permission),
    /// An auth endpoint: the permission follows `mode` in the query.
    ByMode,
    /// `/api/v1/auth/basic`: like `ByMode`, but a normal login is exempt when `basic_auth` is
    /// on (its `Authorization` header carries the login being checked).
    BasicEndpoint,
}

/// Middleware state of a guard.
pub type GuardState = (Arc<AppState>, Need);

/// Middleware: lets the request through if the configuration in force allows it (see
/// [`Backchannel::authorize`]), with its [`Principal`] as an extension.
pub async fn guard(State((st, need)): State<GuardState>, mut request: Request, next: Next) -> Response {
    let current = st.current();
    let backchannel = &current.backchannel;
    if !backchannel.is_protected() {
        request.extensions_mut().insert(Principal::Open);
        return next.run(request).await;
    }
    let permission = match &need {
        Need::Fixed(p) => p.clone(),
        Need::ByMode | Need::BasicEndpoint => {
            // An unparsable query is the handler's 400, after the credentials were checked.
            let mode = AuthQuery::parse(request.uri().query())
                .map_or(Mode::Auth(AuthMode::Authenticate), |q| q.mode);
            Permission::for_mode(mode)
        }
    };
    let principal = if matches!(need, Need::BasicEndpoint)
        && permission == Permission::Authenticate
        && backchannel.basic.is_some()
    {
        Ok(Principal::BasicEndpoint)
    } else {
        backchannel.authorize(request.headers(), &permission)
    };
    match principal {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => {
            let session = request.extensions().get::<SessionId>().copied();
            let session = session.map(|s| s.to_string()).unwrap_or_default();
            // The reason only; never the credential.
            tracing::info!(session = %session, path = %request.uri().path(), status = error.status().as_u16(), reason = %error, "backchannel request refused");
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use base64::Engine;

    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn config(basic: bool, jwt: bool) -> Config {
        let mut c = Config::default();
        c.server.basic_auth.enabled = basic;
        c.server.basic_auth.username = "ops".into();
        c.server.basic_auth.password = "0123456789abcdef".into();
        c.server.jwt_auth.enabled = jwt;
        c.server.jwt_auth.secret_key = KEY.into();
        c
    }

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn basic(user_pass: &str) -> HeaderMap {
        auth(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        ))
    }

    fn status(r: Result<Principal, ApiError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn open_when_neither_scheme_is_enabled() {
        let b = Backchannel::from_config(&config(false, false));
        assert!(!b.is_protected());
        assert!(unprotected_warning(&config(false, false)).is_some());
        assert!(unprotected_warning(&config(true, false)).is_none());
        assert_eq!(status(b.authorize(&HeaderMap::new(), &Permission::Security)), 200);
    }

    #[test]
    fn basic_credentials_allow_everything_and_wrong_ones_get_a_challenge() {
        let b = Backchannel::from_config(&config(true, false));
        for p in [
            Permission::Security,
            Permission::ListAccounts,
            Permission::Authenticate,
        ] {
            assert_eq!(status(b.authorize(&basic("ops:0123456789abcdef"), &p)), 200);
        }
        let err = b
            .authorize(&basic("ops:wrong"), &Permission::Security)
            .unwrap_err();
        assert!(matches!(err, ApiError::Unauthenticated(_, c) if c == Challenge::BASIC));
        assert_eq!(status(b.authorize(&HeaderMap::new(), &Permission::Security)), 401);
        // A bearer token means nothing when JWT is off.
        assert_eq!(
            status(b.authorize(&auth("Bearer x.y.z"), &Permission::Security)),
            401
        );
    }

    #[test]
    fn tokens_need_the_role() {
        let c = config(false, true);
        let b = Backchannel::from_config(&c);
        let jwt = b.jwt().unwrap();
        let (token, _) = jwt
            .issue("ops", &["security".to_owned()], std::time::SystemTime::now())
            .unwrap();
        let h = auth(&format!("Bearer {token}"));
        assert_eq!(status(b.authorize(&h, &Permission::Security)), 200);
        assert_eq!(status(b.authorize(&h, &Permission::ListAccounts)), 403);
        let err = b
            .authorize(&auth("Bearer nonsense"), &Permission::Security)
            .unwrap_err();
        assert!(matches!(err, ApiError::Unauthenticated(_, c) if c.bearer && c.invalid_token && !c.basic));
        // Basic credentials are not accepted when only JWT is on.
        assert_eq!(
            status(b.authorize(&basic("ops:0123456789abcdef"), &Permission::Security)),
            401
        );
    }

    #[test]
    fn with_both_schemes_either_works_and_the_challenge_names_both() {
        let b = Backchannel::from_config(&config(true, true));
        assert_eq!(
            status(b.authorize(&basic("ops:0123456789abcdef"), &Permission::Security)),
            200
        );
        let err = b.authorize(&HeaderMap::new(), &Permission::Security).unwrap_err();
        assert!(matches!(err, ApiError::Unauthenticated(_, c) if c.basic && c.bearer));
    }
}
