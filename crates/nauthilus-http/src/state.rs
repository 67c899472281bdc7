//! What every handler shares: the pipeline and the HTTP-side settings, behind one `Arc`.

use std::collections::HashMap;
use std::sync::Arc;

use nauthilus_config::{Config, DisabledEndpoints, RequestHeaders};
use nauthilus_core::Pipeline;
use tokio::sync::Semaphore;

use crate::codec::respond::Upstream;

/// Shared services of the HTTP edge.
#[derive(Debug)]
pub struct AppState {
    pub pipeline: Pipeline,
    pub headers: RequestHeaders,
    pub disabled: DisabledEndpoints,
    upstreams: HashMap<String, Upstream>,
    pub(crate) in_flight: Arc<Semaphore>,
}

impl AppState {
    /// State for `pipeline`, with the HTTP settings of `config`.
    pub fn new(pipeline: Pipeline, config: &Config) -> Arc<Self> {
        let mut upstreams = HashMap::new();
        for protocol in ["imap", "pop3", "smtp"]
            .into_iter()
            .chain(config.server.nginx_backends.keys().map(String::as_str))
        {
            if let Some((server, port)) = config.nginx_backend(protocol) {
                upstreams.insert(
                    protocol.to_owned(),
                    Upstream {
                        server: server.to_owned(),
                        port,
                    },
                );
            }
        }
        let permits = config
            .server
            .max_concurrent_requests
            .get()
            .min(Semaphore::MAX_PERMITS);
        Arc::new(Self {
            pipeline,
            headers: config.server.default_http_request_header.clone(),
            disabled: config.server.disabled_endpoints,
            upstreams,
            in_flight: Arc::new(Semaphore::new(permits)),
        })
    }

    /// The `Auth-Server`/`Auth-Port` the nginx endpoint names for `protocol`.
    pub fn upstream(&self, protocol: &str) -> Option<&Upstream> {
        self.upstreams.get(protocol)
    }
}
