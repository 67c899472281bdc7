//! Where a login goes once the user is known: back to an authorization flow, to the device
//! page with its user code, or to the self-service pages. It rides in the login form (and in a
//! pending second-factor step), and it is what that form's CSRF token is bound to.

use serde::{Deserialize, Serialize};

/// What a login continues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Continuation {
    /// An authorization flow (its id).
    Flow(String),
    /// The device page (the user code entered there).
    Device(String),
    /// The self-service pages (`/2fa/v1/home`).
    SelfService,
}

impl Continuation {
    /// From the login form's fields (`flow`, `device`, `self_service`); none without any.
    pub fn from_fields(flow: Option<&str>, device: Option<&str>, self_service: bool) -> Option<Self> {
        match (flow.filter(|f| !f.is_empty()), device) {
            (Some(flow), _) => Some(Self::Flow(flow.to_owned())),
            (None, Some(code)) => Some(Self::Device(code.to_owned())),
            (None, None) if self_service => Some(Self::SelfService),
            (None, None) => None,
        }
    }

    /// What a form's CSRF token is bound to.
    pub fn binding(&self) -> String {
        match self {
            Self::Flow(flow) => format!("flow:{flow}"),
            Self::Device(code) => format!("device:{code}"),
            Self::SelfService => "self-service".into(),
        }
    }

    /// The query parameter that names it on the login page.
    pub fn query(&self) -> (&'static str, &str) {
        match self {
            Self::Flow(flow) => ("flow", flow),
            Self::Device(code) => ("device", code),
            Self::SelfService => ("self_service", "1"),
        }
    }

    /// The login page for it.
    pub fn login_url(&self) -> String {
        let (key, value) = self.query();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(key, value)
            .finish();
        format!("/login?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_binding_tells_flows_device_codes_and_self_service_apart() {
        let flow = Continuation::from_fields(Some("abc"), None, false).unwrap();
        let device = Continuation::from_fields(None, Some("abc"), false).unwrap();
        let home = Continuation::from_fields(None, None, true).unwrap();
        assert_ne!(flow.binding(), device.binding());
        assert_ne!(flow.binding(), home.binding());
        assert_eq!(Continuation::from_fields(Some(""), None, false), None);
        assert_eq!(Continuation::from_fields(None, None, false), None);
        assert_eq!(home.login_url(), "/login?self_service=1");
    }
}
