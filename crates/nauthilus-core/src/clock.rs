//! The clocks, as the pipeline's callers read them (see `nauthilus-clock`).

pub use nauthilus_clock::{instant, monotonic, now};
