//! `server.default_http_request_header`: which request headers carry which login field.

use serde::{Deserialize, Serialize};

macro_rules! request_headers {
    ($($field:ident = $default:literal),* $(,)?) => {
        /// Header names read by the header and nginx endpoints.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct RequestHeaders {
            $(pub $field: String,)*
        }

        impl Default for RequestHeaders {
            fn default() -> Self {
                Self { $($field: $default.into(),)* }
            }
        }
    };
}

request_headers! {
    username = "Auth-User",
    password = "Auth-Pass",
    password_encoded = "X-Auth-Password-Encoded",
    protocol = "Auth-Protocol",
    login_attempt = "Auth-Login-Attempt",
    auth_method = "Auth-Method",
    local_ip = "X-Local-IP",
    local_port = "X-Auth-Port",
    client_ip = "Client-IP",
    client_port = "X-Client-Port",
    client_host = "X-Client-Host",
    client_id = "X-Client-ID",
    oidc_cid = "X-OIDC-CID",
    ssl = "X-SSL",
    ssl_session_id = "X-SSL-Session-ID",
    ssl_verify = "X-SSL-Client-Verify",
    ssl_subject = "X-SSL-Client-DN",
    ssl_client_cn = "X-SSL-Client-CN",
    ssl_issuer = "X-SSL-Issuer",
    ssl_client_not_before = "X-SSL-Client-NotBefore",
    ssl_client_not_after = "X-SSL-Client-NotAfter",
    ssl_subject_dn = "X-SSL-Subject-DN",
    ssl_issuer_dn = "X-SSL-Issuer-DN",
    ssl_client_subject_dn = "X-SSL-Client-Subject-DN",
    ssl_client_issuer_dn = "X-SSL-Client-Issuer-DN",
    ssl_cipher = "X-SSL-Cipher",
    ssl_protocol = "X-SSL-Protocol",
    ssl_serial = "Auth-SSL-Serial",
    ssl_fingerprint = "Auth-SSL-Fingerprint",
}
