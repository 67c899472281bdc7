//! The passwd-file backend as the pipeline sees it.

use std::sync::Arc;

use nauthilus_backends::passwd_file::PasswdFile;
use nauthilus_backends::password::PasswordVerifier;

use super::{BackendError, PassDbResult};
use crate::outcome::{BackendId, FieldNames, UserData};
use crate::request::{AuthMode, AuthRequest};

/// Field names a passwd-file user's attributes use.
fn field_names() -> FieldNames {
    FieldNames {
        account_field: "user".into(),
        display_name_field: "gecos".into(),
        ..FieldNames::default()
    }
}

/// Looks `req.username` up and, unless `no-auth`, verifies the password off the async workers.
pub async fn verify(
    file: &PasswdFile,
    req: &AuthRequest,
    verifier: &PasswordVerifier,
) -> Result<PassDbResult, BackendError> {
    let Some(record) = file.db().get(&req.username) else {
        return Ok(PassDbResult::UserNotFound);
    };
    let user = Arc::new(UserData {
        account: record.name,
        backend: BackendId::PasswdFile,
        fields: field_names(),
        attributes: record.attributes,
    });
    let password_ok = match (req.mode, &record.password) {
        (AuthMode::NoAuth, _) => true,
        (AuthMode::Authenticate, None) => false,
        (AuthMode::Authenticate, Some(_)) if req.password.is_empty() => false,
        (AuthMode::Authenticate, Some(hash)) => verifier
            .verify(hash.clone(), req.password.expose().to_vec())
            .await
            .map_err(BackendError::Verify)?,
    };
    Ok(PassDbResult::Found { user, password_ok })
}

/// Every user name in the file, in file order.
pub fn list_accounts(file: &PasswdFile) -> Vec<String> {
    file.db().names()
}
