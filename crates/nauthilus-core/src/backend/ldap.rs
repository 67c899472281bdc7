//! The LDAP backend as the pipeline sees it: an `AuthRequest` becomes an LDAP query (macro
//! values, the password unless `no-auth`), the found entry becomes `UserData`.

use std::sync::Arc;

use nauthilus_backends::ldap::{LdapBackend, LdapLookup, LdapQuery, LdapUser};

use super::{BackendError, PassDbResult, macro_values};
use crate::outcome::{BackendId, FieldNames, UserData};
use crate::request::{AuthMode, AuthRequest};

/// Looks `req.username` up with the search for its protocol and, unless `no-auth`, checks the
/// password by binding as the found entry.
pub async fn verify(backend: &LdapBackend, req: &AuthRequest) -> Result<PassDbResult, BackendError> {
    let password = match req.mode {
        AuthMode::NoAuth => None,
        AuthMode::Authenticate => Some(req.password.expose()),
    };
    let query = LdapQuery {
        protocol: req.protocol.as_str(),
        values: macro_values(req),
        password,
    };
    Ok(match backend.verify(&query).await? {
        LdapLookup::NotFound => PassDbResult::UserNotFound,
        LdapLookup::Found { user, password_ok } => PassDbResult::Found {
            user: Arc::new(user_data(*user)),
            password_ok,
        },
    })
}

fn user_data(user: LdapUser) -> UserData {
    let m = user.mapping;
    UserData {
        account: user.account,
        backend: BackendId::Ldap,
        fields: FieldNames {
            account_field: m.account_field,
            totp_secret_field: m.totp_secret_field,
            webauthn_userid_field: m.unique_user_id_field,
            display_name_field: m.display_name_field,
        },
        attributes: user.attributes,
    }
}
