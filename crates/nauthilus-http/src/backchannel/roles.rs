//! Which JWT roles allow what. One rule table, used by the guards of every router:
//!
//! | request                                   | roles that allow it          |
//! |-------------------------------------------|------------------------------|
//! | auth endpoints, normal login              | `authenticate`, `admin`      |
//! | auth endpoints, `mode=no-auth`            | `user_info`, `admin`         |
//! | auth endpoints, `mode=list-accounts`      | `list_accounts`, `admin`     |
//! | cache and brute-force admin endpoints     | `security`, `admin`          |
//! | a custom hook with `roles: [...]`         | any of those, `admin`        |
//! | a custom hook without roles               | `authenticate`, `admin`      |
//!
//! HTTP Basic credentials (`server.basic_auth`) carry no roles and allow everything, as in
//! Nauthilus.

use std::sync::Arc;

use nauthilus_core::AuthMode;

use crate::query::Mode;

/// Full access.
pub const ADMIN: &str = "admin";
/// The cache and brute-force admin endpoints.
pub const SECURITY: &str = "security";
/// Normal logins on the auth endpoints.
pub const AUTHENTICATE: &str = "authenticate";
/// `mode=no-auth` on the auth endpoints.
pub const USER_INFO: &str = "user_info";
/// `mode=list-accounts` on the auth endpoints.
pub const LIST_ACCOUNTS: &str = "list_accounts";

/// What a request needs to be allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    /// A normal login on an auth endpoint.
    Authenticate,
    /// `mode=no-auth`.
    UserInfo,
    /// `mode=list-accounts`.
    ListAccounts,
    /// The cache and brute-force admin endpoints.
    Security,
    /// A custom hook with the roles its configuration lists (the extension point for Lua
    /// hooks: build their router with `guard::require(Permission::Hook(roles))`). Empty means
    /// "any caller allowed to authenticate", as in Nauthilus.
    Hook(Arc<[String]>),
}

impl Permission {
    /// What an auth endpoint request in `mode` needs.
    pub fn for_mode(mode: Mode) -> Self {
        match mode {
            Mode::Auth(AuthMode::Authenticate) => Self::Authenticate,
            Mode::Auth(AuthMode::NoAuth) => Self::UserInfo,
            Mode::ListAccounts => Self::ListAccounts,
        }
    }

    /// True when a token with `roles` may do this.
    pub fn granted_by(&self, roles: &[String]) -> bool {
        let has = |role: &str| roles.iter().any(|r| r == role);
        if has(ADMIN) {
            return true;
        }
        match self {
            Self::Authenticate => has(AUTHENTICATE),
            Self::UserInfo => has(USER_INFO),
            Self::ListAccounts => has(LIST_ACCOUNTS),
            Self::Security => has(SECURITY),
            Self::Hook(required) if required.is_empty() => has(AUTHENTICATE),
            Self::Hook(required) => required.iter().any(|r| has(r)),
        }
    }

    /// The roles that would allow this, for the 403 message.
    pub fn wanted(&self) -> String {
        let roles: Vec<&str> = match self {
            Self::Authenticate => vec![AUTHENTICATE],
            Self::UserInfo => vec![USER_INFO],
            Self::ListAccounts => vec![LIST_ACCOUNTS],
            Self::Security => vec![SECURITY],
            Self::Hook(required) if required.is_empty() => vec![AUTHENTICATE],
            Self::Hook(required) => required.iter().map(String::as_str).collect(),
        };
        format!("missing required role: {} or {ADMIN}", roles.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| (*r).to_owned()).collect()
    }

    fn all_permissions() -> Vec<Permission> {
        vec![
            Permission::Authenticate,
            Permission::UserInfo,
            Permission::ListAccounts,
            Permission::Security,
            Permission::Hook(Arc::from(vec!["monitoring".to_owned()])),
            Permission::Hook(Arc::from(Vec::new())),
        ]
    }

    #[test]
    fn admin_allows_everything_and_no_roles_allow_nothing() {
        for p in all_permissions() {
            assert!(p.granted_by(&roles(&[ADMIN])), "{p:?}");
            assert!(!p.granted_by(&[]), "{p:?}");
        }
    }

    #[test]
    fn each_role_allows_only_its_own_requests() {
        let table = [
            (AUTHENTICATE, Permission::Authenticate),
            (USER_INFO, Permission::UserInfo),
            (LIST_ACCOUNTS, Permission::ListAccounts),
            (SECURITY, Permission::Security),
        ];
        for (role, own) in &table {
            for p in all_permissions() {
                let expected = &p == own
                    // A hook without roles is open to callers that may authenticate.
                    || (*role == AUTHENTICATE && p == Permission::Hook(Arc::from(Vec::new())));
                assert_eq!(p.granted_by(&roles(&[role])), expected, "{role} → {p:?}");
            }
        }
    }

    #[test]
    fn modes_map_to_their_permission() {
        assert_eq!(
            Permission::for_mode(Mode::Auth(AuthMode::Authenticate)),
            Permission::Authenticate
        );
        assert_eq!(
            Permission::for_mode(Mode::Auth(AuthMode::NoAuth)),
            Permission::UserInfo
        );
        assert_eq!(Permission::for_mode(Mode::ListAccounts), Permission::ListAccounts);
    }

    #[test]
    fn hooks_take_any_of_their_roles_and_custom_roles_grant_nothing_else() {
        let hook = Permission::Hook(Arc::from(vec!["monitoring".to_owned(), "ops".to_owned()]));
        assert!(hook.granted_by(&roles(&["ops"])));
        assert!(!hook.granted_by(&roles(&[AUTHENTICATE, SECURITY])));
        assert!(!Permission::Security.granted_by(&roles(&["monitoring", "Security"])));
        assert_eq!(hook.wanted(), "missing required role: monitoring, ops or admin");
    }
}
