//! The codecs: one decoder per wire format (turning HTTP into an `AuthRequest`) and one renderer
//! (turning an `AuthOutcome` back into HTTP). Codecs never decide a login.

pub mod basic;
pub mod common;
pub mod headers_in;
pub mod json;
pub mod list_accounts;
pub mod respond;
