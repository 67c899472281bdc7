//! Stage 0: `server.dns.resolve_client_ip` — the client's host name (its PTR record) for a
//! request that carries none, before any other stage, so the logs, Lua scripts and everything
//! else that reads `client_hostname` see it. The lookup is bounded by `server.dns.timeout` and
//! cached for the record's TTL by the resolver; a failure or no name leaves the field empty and
//! the login goes on (a missing name is never a reason to refuse).

use std::borrow::Cow;

use super::Pipeline;
use crate::brute_force::network::parse_client_ip;
use crate::request::AuthRequest;

impl Pipeline {
    /// `req` with `client.hostname` filled in when the resolver names the client; `req` itself
    /// when the option is off, the request already names the client, or no name is found.
    pub(super) async fn name_client<'r>(&self, req: &'r AuthRequest) -> Cow<'r, AuthRequest> {
        let Some(dns) = &self.parts.client_names else {
            return Cow::Borrowed(req);
        };
        if !req.client.hostname.trim().is_empty() {
            return Cow::Borrowed(req);
        }
        let Some(ip) = parse_client_ip(&req.client.ip) else {
            return Cow::Borrowed(req);
        };
        match dns.host_name(ip).await {
            Some(name) => {
                let mut named = req.clone();
                named.client.hostname = name;
                Cow::Owned(named)
            }
            None => {
                tracing::debug!(session = %req.session, client_ip = %ip, "client has no host name (PTR)");
                Cow::Borrowed(req)
            }
        }
    }
}
