//! `server.default_http_request_header`: which request headers carry which login field.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! request_headers {
    ($($(#[doc = $doc:literal])+ $field:ident = $default:literal,)*) => {
        /// Header names read by the header and nginx endpoints.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(default)]
        pub struct RequestHeaders {
            $($(#[doc = $doc])+
            #[schemars(schema_with = "crate::schema::header_name")]
            pub $field: String,)*
        }

        impl Default for RequestHeaders {
            fn default() -> Self {
                Self { $($field: $default.into(),)* }
            }
        }
    };
}

request_headers! {
    /// Header carrying the login name.
    username = "Auth-User",
    /// Header carrying the password (may be percent-encoded).
    password = "Auth-Pass",
    /// Header whose value `1` marks a base64 password; `Auth-Password-Encoded` is also read.
    password_encoded = "X-Auth-Password-Encoded",
    /// Header carrying the protocol (imap, smtp, ...).
    protocol = "Auth-Protocol",
    /// Header carrying the attempt count on this connection.
    login_attempt = "Auth-Login-Attempt",
    /// Header carrying the SASL method.
    auth_method = "Auth-Method",
    /// Header carrying the server-side IP.
    local_ip = "X-Local-IP",
    /// Header carrying the server-side port.
    local_port = "X-Auth-Port",
    /// Header carrying the client IP.
    client_ip = "Client-IP",
    /// Header carrying the client port.
    client_port = "X-Client-Port",
    /// Header carrying the client host name; `Client-Host` (nginx) is also read.
    client_host = "X-Client-Host",
    /// Header carrying the client id.
    client_id = "X-Client-ID",
    /// Header carrying the OIDC client id.
    oidc_cid = "X-OIDC-CID",
    /// Header whose non-empty value means TLS; `Auth-SSL` (nginx) is also read.
    ssl = "X-SSL",
    /// TLS session id.
    ssl_session_id = "X-SSL-Session-ID",
    /// Client certificate verification result; `Auth-SSL-Verify` is also read.
    ssl_verify = "X-SSL-Client-Verify",
    /// Client certificate subject; `Auth-SSL-Subject` is also read.
    ssl_subject = "X-SSL-Client-DN",
    /// Client certificate common name.
    ssl_client_cn = "X-SSL-Client-CN",
    /// Client certificate issuer; `Auth-SSL-Issuer` is also read.
    ssl_issuer = "X-SSL-Issuer",
    /// Client certificate start of validity.
    ssl_client_not_before = "X-SSL-Client-NotBefore",
    /// Client certificate end of validity.
    ssl_client_not_after = "X-SSL-Client-NotAfter",
    /// Subject DN.
    ssl_subject_dn = "X-SSL-Subject-DN",
    /// Issuer DN.
    ssl_issuer_dn = "X-SSL-Issuer-DN",
    /// Client subject DN.
    ssl_client_subject_dn = "X-SSL-Client-Subject-DN",
    /// Client issuer DN.
    ssl_client_issuer_dn = "X-SSL-Client-Issuer-DN",
    /// TLS cipher; `Auth-SSL-Cipher` is also read.
    ssl_cipher = "X-SSL-Cipher",
    /// TLS protocol version; `Auth-SSL-Protocol` is also read.
    ssl_protocol = "X-SSL-Protocol",
    /// Client certificate serial.
    ssl_serial = "Auth-SSL-Serial",
    /// Client certificate fingerprint.
    ssl_fingerprint = "Auth-SSL-Fingerprint",
}
