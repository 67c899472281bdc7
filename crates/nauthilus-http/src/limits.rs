//! Limits on a request's head, checked by the router (middleware `check_head_limits`) so that an
//! oversized request gets the usual JSON error with its session. The server configures hyper's
//! own limits above these; only a head beyond hyper's limits gets hyper's bare answer.

/// Longest request target (path and query) accepted; longer gets 414.
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// Largest header section accepted (sum of names and values, plus 4 bytes per field for `: `
/// and CRLF); larger gets 431. hyper's own buffer limit (about 400 KiB) is far above it.
pub const MAX_HEADER_BYTES: usize = MAX_HEADER_KIB as usize * 1024;

const MAX_HEADER_KIB: u32 = 64;

/// Most header fields accepted; more get 431.
pub const MAX_HEADERS: usize = 96;

/// The header field count hyper itself accepts before answering 431 on its own (set by the
/// server); above [`MAX_HEADERS`] so that the router answers first, and no more than hyper's
/// inline capacity (100): above it, hyper allocates and zeroes its header index arrays on the
/// heap for every request it parses.
pub const HYPER_MAX_HEADERS: usize = 100;

/// The header list size hyper's HTTP/2 side accepts before refusing on its own (hyper's default
/// is 16 KiB, below [`MAX_HEADER_BYTES`]; HTTP/2 counts 32 bytes more per field).
pub const HYPER_H2_MAX_HEADER_LIST_SIZE: u32 = 4 * MAX_HEADER_KIB * 1024;

/// The size of a header section as [`MAX_HEADER_BYTES`] counts it.
pub fn header_bytes(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}
