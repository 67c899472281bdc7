//! Second factors and app passwords (issue 17, the parts the IdP pages will call): TOTP,
//! WebAuthn credentials, recovery codes and per-protocol app passwords, kept in a credential
//! store (SQL or the user's LDAP entry, never Redis alone), with ceremonies, replay marks and
//! brute-force buckets in the state store. `Mfa` is the service; it also implements the mail
//! pipeline's `AppPasswords` step.

pub mod app_password;
pub mod error;
pub mod guard;
pub mod passkey;
mod qr;
pub mod recovery;
pub mod secret;
pub mod secret_box;
pub mod service;
pub mod store;
pub mod totp;
pub mod webauthn;

pub use app_password::AppPasswordInfo;
pub use error::MfaError;
pub use passkey::PasskeyLogin;
pub use recovery::{CodeVerdict, RECOVERY_CODES};
pub use service::{ChangeFuture, ChangeHook, Mfa};
pub use store::ldap::LdapCredentials;
pub use store::lua::LuaCredentials;
pub use store::sql::SqlCredentials;
pub use store::{CredentialStore, Kind, Record};
pub use totp::{TotpEnrolment, TotpParams};
pub use webauthn::{WebauthnCeremonies, WebauthnCredentialInfo};
/// The WebAuthn wire types the pages exchange with browsers.
pub use webauthn_rs::prelude as webauthn_types;

#[cfg(test)]
mod tests;
