//! The SQL backend as the pipeline sees it: an `AuthRequest` becomes the values of the query's
//! macros, the row becomes `UserData`, and the stored password is verified with the scheme
//! library on the bounded hashing pool, as for a passwd-file.

use std::sync::Arc;

use nauthilus_backends::password::PasswordVerifier;
use nauthilus_backends::sql::{SqlBackend, SqlLookup, SqlQuery};

use super::{BackendError, PassDbResult, macro_values};
use crate::outcome::{BackendId, FieldNames, UserData};
use crate::request::{AuthMode, AuthRequest};

/// Looks `req.username` up with the query for its protocol and, unless `no-auth`, verifies the
/// stored password off the async workers.
pub async fn verify(
    backend: &SqlBackend,
    req: &AuthRequest,
    verifier: &PasswordVerifier,
) -> Result<PassDbResult, BackendError> {
    let query = SqlQuery {
        protocol: req.protocol.as_str(),
        values: macro_values(req),
        no_auth: req.mode == AuthMode::NoAuth,
    };
    let SqlLookup::Found(found) = backend.lookup(&query).await? else {
        return Ok(PassDbResult::UserNotFound);
    };
    let password_ok = match (req.mode, &found.password) {
        (AuthMode::NoAuth, _) => true,
        (AuthMode::Authenticate, None) => false,
        (AuthMode::Authenticate, Some(_)) if req.password.is_empty() => false,
        (AuthMode::Authenticate, Some(hash)) => verifier
            .verify(hash.clone(), req.password.expose().to_vec())
            .await
            .map_err(BackendError::Verify)?,
    };
    let found = *found;
    let m = found.mapping;
    let user = Arc::new(UserData {
        account: found.account,
        backend: BackendId::Sql,
        fields: FieldNames {
            account_field: m.account_field,
            totp_secret_field: m.totp_secret_field,
            webauthn_userid_field: m.unique_user_id_field,
            display_name_field: m.display_name_field,
        },
        attributes: found.attributes,
    });
    Ok(PassDbResult::Found { user, password_ok })
}
