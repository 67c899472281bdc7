//! gzip where it pays: account lists (`mode=list-accounts`), which name every account a backend
//! knows. A reply is compressed only when its handler marked it [`Compressible`], it is larger
//! than [`MIN_SIZE`] and the client's `Accept-Encoding` allows gzip; login replies, a few dozen
//! bytes, never are.

use http::Response;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Replies at most this large are sent as they are.
pub const MIN_SIZE: u16 = 1024;

/// Response extension: the reply may be compressed.
#[derive(Clone, Copy, Debug)]
pub struct Compressible;

/// Compresses what a handler marked [`Compressible`].
#[derive(Clone, Copy, Debug)]
pub struct Marked;

impl Predicate for Marked {
    fn should_compress<B: axum::body::HttpBody>(&self, response: &Response<B>) -> bool {
        response.extensions().get::<Compressible>().is_some()
    }
}

/// The compression layer of the router: gzip only, for marked replies above [`MIN_SIZE`].
pub fn layer() -> CompressionLayer<tower_http::compression::predicate::And<Marked, SizeAbove>> {
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(Marked.and(SizeAbove::new(MIN_SIZE)))
}
