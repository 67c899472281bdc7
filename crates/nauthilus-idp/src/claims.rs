//! Which claims a scope releases, and their values from the backend's attributes. Standard
//! scopes (OIDC Core §5.4) plus `groups` and `idp.custom_scopes`; `idp.claim_mapping` names the
//! attribute a claim comes from (defaults below).

use std::collections::BTreeMap;

use nauthilus_config::IdpConfig;
use serde_json::Value;

use crate::session::BrowserSession;

/// Scopes every provider knows.
pub const STANDARD_SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];

/// (claim, default attribute) per standard scope.
fn standard(scope: &str) -> &'static [(&'static str, &'static str)] {
    match scope {
        "profile" => &[
            ("name", "cn"),
            ("given_name", "givenName"),
            ("family_name", "sn"),
            ("nickname", "displayName"),
            ("preferred_username", "uid"),
        ],
        "email" => &[("email", "mail")],
        "groups" => &[("groups", "memberOf")],
        _ => &[],
    }
}

/// Claims that are lists even with one value.
fn is_list(claim: &str) -> bool {
    claim == "groups"
}

/// A human description of `scope` for the consent page.
pub fn describe(config: &IdpConfig, scope: &str) -> String {
    match scope {
        "openid" => "Sign you in".into(),
        "profile" => "Your name and user name".into(),
        "email" => "Your e-mail address".into(),
        "groups" => "Your group memberships".into(),
        "offline_access" => "Stay signed in to the application".into(),
        other => config
            .custom_scopes
            .iter()
            .find(|s| s.name == other)
            .map(|s| {
                if s.description.is_empty() {
                    s.name.clone()
                } else {
                    s.description.clone()
                }
            })
            .unwrap_or_else(|| other.to_owned()),
    }
}

/// True when `scope` is standard or configured.
pub fn is_known(config: &IdpConfig, scope: &str) -> bool {
    STANDARD_SCOPES.contains(&scope) || config.custom_scopes.iter().any(|s| s.name == scope)
}

/// The claims `scopes` release for `session`'s user.
pub fn for_scopes(
    config: &IdpConfig,
    scopes: &[String],
    session: &BrowserSession,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let attrs = &session.attributes;
    let mut add = |claim: &str, default_attr: &str| {
        let attr = config
            .claim_mapping
            .get(claim)
            .map_or(default_attr, String::as_str);
        if let Some(values) = attrs.get(attr).filter(|v| !v.is_empty()) {
            let value = if is_list(claim) || values.len() > 1 {
                Value::from(values.clone())
            } else {
                Value::from(values[0].clone())
            };
            out.insert(claim.to_owned(), value);
        }
    };
    for scope in scopes {
        for (claim, attr) in standard(scope) {
            add(claim, attr);
        }
        if let Some(custom) = config.custom_scopes.iter().find(|s| &s.name == scope) {
            for claim in &custom.claims {
                add(claim, claim);
            }
        }
    }
    if scopes.iter().any(|s| s == "profile") {
        out.entry("name".into())
            .or_insert_with(|| Value::from(session.display_name.clone()));
        out.entry("preferred_username".into())
            .or_insert_with(|| Value::from(session.account.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> BrowserSession {
        BrowserSession {
            id: "x".into(),
            sid: "s".into(),
            account: "alice".into(),
            display_name: "Alice A.".into(),
            auth_time: 0,
            amr: vec!["pwd".into()],
            acr: String::new(),
            attributes: BTreeMap::from([
                ("mail".into(), vec!["alice@example.com".into()]),
                ("memberOf".into(), vec!["staff".into()]),
                ("department".into(), vec!["R&D".into()]),
            ]),
        }
    }

    #[test]
    fn scopes_release_only_their_claims() {
        let c = IdpConfig::default();
        let claims = for_scopes(&c, &["openid".into(), "email".into()], &session());
        assert_eq!(claims.len(), 1);
        assert_eq!(claims["email"], "alice@example.com");
        let claims = for_scopes(&c, &["profile".into(), "groups".into()], &session());
        assert_eq!(claims["name"], "Alice A.");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["groups"], serde_json::json!(["staff"]));
        assert!(!claims.contains_key("email"));
    }

    #[test]
    fn custom_scopes_and_the_mapping_pick_attributes() {
        let mut c = IdpConfig::default();
        c.custom_scopes.push(nauthilus_config::CustomScope {
            name: "org".into(),
            description: "Your department".into(),
            claims: vec!["dept".into()],
        });
        c.claim_mapping.insert("dept".into(), "department".into());
        c.claim_mapping.insert("email".into(), "nothere".into());
        let claims = for_scopes(&c, &["org".into(), "email".into()], &session());
        assert_eq!(claims["dept"], "R&D");
        assert!(!claims.contains_key("email"));
        assert_eq!(describe(&c, "org"), "Your department");
        assert!(is_known(&c, "org") && !is_known(&c, "other"));
    }
}
