//! The OpenID Connect / OAuth 2.0 provider. Protocol code (`oauth/`, `flow.rs`, `login.rs`,
//! `session.rs`) works on plain structs with the time passed in; the HTTP handlers in `oauth/`
//! only extract, call one `Idp` method and render. Everything that must survive a request lives
//! in the `Store` (`state/`), so one instance or many behind Redis behave the same. The pages
//! (login, consent, logout, device) are in `web/`.
//!
//! `Idp` is built per configuration (clients, keys, the pipeline) and sits behind an `ArcSwap`
//! in `IdpService`, like the HTTP state's pipeline: a reload swaps it, a request keeps the
//! snapshot it loaded.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod claims;
pub mod clients;
pub mod continuation;
pub mod flow;
pub mod keys;
pub mod login;
pub mod oauth;
pub mod remembered;
pub mod second_factor;
pub mod session;
pub mod state;
pub mod web;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use nauthilus_config::{Config, IdpConfig};
use nauthilus_core::Pipeline;
use nauthilus_store::Store;

pub use clients::{AuthMethod, Client, Clients};
pub use continuation::Continuation;
pub use flow::{PendingAuthorization, Redirect};
pub use keys::{KeyError, KeyRing, KeySet, SigningAlg};
pub use login::{AuthenticatedUser, LoginResult};
pub use oauth::error::{OAuthCode, OAuthError, ShownError};
pub use session::{BrowserSession, SESSION_COOKIE};

/// Why the provider could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum IdpSetupError {
    #[error("idp.issuer: {0}")]
    Issuer(String),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Clients(String),
    #[error("{0}")]
    Pages(#[from] web::PagesError),
}

/// One configuration's provider: clients, keys, lifetimes, over the shared store and pipeline.
#[derive(Debug)]
pub struct Idp {
    /// The `idp:` section in force.
    pub config: IdpConfig,
    /// `idp.issuer` without a trailing slash.
    pub issuer: String,
    /// The registered clients.
    pub clients: Clients,
    /// Signing keys (active and retired, all published); rotated in place on a schedule.
    pub keys: KeyRing,
    /// Where sessions, codes, tokens and consents live.
    pub store: Store,
    /// The login pipeline (same backends and brute-force rules as the mail logins).
    pub pipeline: Pipeline,
    /// Sends back-channel logout tokens.
    pub http: reqwest::Client,
    /// The pages' templates, messages and branding.
    pub pages: web::Pages,
    /// Second factors and app passwords (`mfa.enabled`): the login's second step and the
    /// self-service pages.
    mfa: Option<Arc<nauthilus_mfa::Mfa>>,
}

impl Idp {
    /// The provider `config` describes, over `store` and `pipeline`; keys are read, or generated
    /// and persisted under `idp.key_dir`, at time `now`.
    pub fn new(
        config: &Config,
        store: Store,
        pipeline: Pipeline,
        now: SystemTime,
    ) -> Result<Self, IdpSetupError> {
        let idp = &config.idp;
        let issuer = idp.issuer.trim_end_matches('/').to_owned();
        let parsed =
            url::Url::parse(&issuer).map_err(|e| IdpSetupError::Issuer(format!("{issuer:?}: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(IdpSetupError::Issuer(format!(
                "{issuer:?}: must be an http(s) URL without query or fragment"
            )));
        }
        let keys = KeySet::load(idp, now)?;
        let clients = Clients::from_config(idp, &keys).map_err(IdpSetupError::Clients)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| IdpSetupError::Clients(format!("back-channel HTTP client: {e}")))?;
        let pages = web::Pages::new(&idp.pages, issuer.starts_with("https://"))?;
        Ok(Self {
            pages,
            config: idp.clone(),
            issuer,
            clients,
            keys: KeyRing::new(keys),
            store,
            pipeline,
            http,
            mfa: None,
        })
    }

    /// The same provider with the second-factor service (the server's, which outlives reloads).
    pub fn with_mfa(mut self, mfa: Option<Arc<nauthilus_mfa::Mfa>>) -> Self {
        self.mfa = mfa;
        self
    }

    /// `issuer + path`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The provider in force, swapped atomically on reload (the router's state).
#[derive(Debug)]
pub struct IdpService {
    current: ArcSwap<Idp>,
}

impl IdpService {
    /// A service starting with `idp`.
    pub fn new(idp: Idp) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwap::from_pointee(idp),
        })
    }

    /// The provider in force now; a request keeps the snapshot it loaded.
    pub fn current(&self) -> Arc<Idp> {
        self.current.load_full()
    }

    /// Puts `idp` in force for every request that starts from now on.
    pub fn swap(&self, idp: Idp) {
        self.current.store(Arc::new(idp));
    }
}

/// The protocol routes (`/oidc/*`, `/.well-known/openid-configuration`) merged with the pages
/// of `web::router`, over `service`; ready to merge into a router of any state `S` (the server
/// merges it into the HTTP router before its middleware, so the pages and endpoints get the
/// session id, access log and panic guard like every other route).
pub fn router<S: Clone + Send + Sync + 'static>(service: Arc<IdpService>) -> axum::Router<S> {
    oauth::router().merge(web::router()).with_state(service)
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A random token: 256 bits, base64url without padding.
pub fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `value`, hex: how tokens are named in the store (the token itself never is).
pub fn digest(value: &str) -> String {
    use sha2::Digest;
    hex_lower(&sha2::Sha256::digest(value.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
