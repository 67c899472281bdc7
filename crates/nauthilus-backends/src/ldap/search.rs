//! One `ldap.search[]` entry, checked: protocols, base DN and scope, parsed filter templates,
//! the attribute mapping and the attributes to ask for.

use ldap3::Scope;
use nauthilus_config::LdapSearch;

use super::ConfigProblem;
use super::filter::FilterTemplate;

/// The attribute-name mapping of a search (`mapping.*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMapping {
    pub account_field: String,
    pub totp_secret_field: String,
    pub totp_recovery_field: String,
    pub display_name_field: String,
    pub unique_user_id_field: String,
}

/// One `ldap.search[]` entry, checked.
#[derive(Debug)]
pub(crate) struct SearchPlan {
    pub(crate) protocols: Vec<String>,
    pub(crate) cache_name: String,
    pub(crate) base_dn: String,
    pub(crate) scope: Scope,
    pub(crate) user_filter: Option<FilterTemplate>,
    pub(crate) list_filter: Option<FilterTemplate>,
    pub(crate) mapping: FieldMapping,
    /// Attributes requested: `attribute[]` plus the mapped fields.
    pub(crate) attributes: Vec<String>,
}

impl SearchPlan {
    /// Checks `ldap.search[index]`, collecting every problem.
    pub(crate) fn from_config(index: usize, search: &LdapSearch) -> Result<Self, Vec<ConfigProblem>> {
        let path = |key: &str| format!("ldap.search[{index}].{key}");
        let mut problems = Vec::new();
        if search.protocol.is_empty() {
            problems.push(ConfigProblem {
                path: path("protocol"),
                message: "at least one protocol (or `default`) is required".into(),
            });
        }
        if search.base_dn.trim().is_empty() {
            problems.push(ConfigProblem {
                path: path("base_dn"),
                message: "required".into(),
            });
        }
        if search.mapping.account_field.trim().is_empty() {
            problems.push(ConfigProblem {
                path: path("mapping.account_field"),
                message: "required: the attribute that holds the account name".into(),
            });
        }
        let scope = match search.scope.to_ascii_lowercase().as_str() {
            "" | "sub" => Scope::Subtree,
            "one" => Scope::OneLevel,
            "base" => Scope::Base,
            other => {
                problems.push(ConfigProblem {
                    path: path("scope"),
                    message: format!("{other:?} is not base, one or sub"),
                });
                Scope::Subtree
            }
        };
        let mut template = |key: &str, text: &str| {
            if text.trim().is_empty() {
                return None;
            }
            match FilterTemplate::parse(text) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(ConfigProblem {
                        path: path(key),
                        message: e.to_string(),
                    });
                    None
                }
            }
        };
        let user_filter = template("filter.user", &search.filter.user);
        let list_filter = template("filter.list_accounts", &search.filter.list_accounts);
        if search.filter.user.trim().is_empty() {
            problems.push(ConfigProblem {
                path: path("filter.user"),
                message: "required".into(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let m = &search.mapping;
        let mapping = FieldMapping {
            account_field: m.account_field.trim().to_owned(),
            totp_secret_field: m.totp_secret_field.trim().to_owned(),
            totp_recovery_field: m.totp_recovery_field.trim().to_owned(),
            display_name_field: m.display_name_field.trim().to_owned(),
            unique_user_id_field: m.unique_user_id_field.trim().to_owned(),
        };
        let mut attributes: Vec<String> = Vec::new();
        let mapped = [
            &mapping.account_field,
            &mapping.totp_secret_field,
            &mapping.totp_recovery_field,
            &mapping.display_name_field,
            &mapping.unique_user_id_field,
        ];
        for name in search.attribute.iter().chain(mapped) {
            let name = name.trim();
            if !name.is_empty() && !attributes.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                attributes.push(name.to_owned());
            }
        }
        Ok(Self {
            protocols: search
                .protocol
                .iter()
                .map(|p| p.trim().to_ascii_lowercase())
                .collect(),
            cache_name: search.cache_name.clone(),
            base_dn: search.base_dn.trim().to_owned(),
            scope,
            user_filter,
            list_filter,
            mapping,
            attributes,
        })
    }
}
